"""Arbitrage: within one transaction, swaps that form a cycle from a token back to itself.

Definition (flashbots/mev-inspect-py arbitrages.py, reproduced so its answers match): a start
swap and an end swap on different pools with start.token_in == end.token_out and
start.from_address == end.to_address (an account, not one of the pools of the transaction);
consecutive swaps connect (token out == next token in, amounts within 1 %, output sent to the next
pool or its sender); the shortest route wins, each swap is used once; when a transaction yields
several routes only those whose first swap precedes its last in trace order are kept.
One extension (needed for the mev-inspect-rs label of tx 0x46f4a4d4...): an end swap whose output
went to a Uniswap router that forwarded exactly that amount (ETH for WETH) to the start account
also closes the cycle; mev-inspect-py does not follow routers and misses that arbitrage.
profit_amount = end_amount - start_amount in the start token, exact ints. A route containing a
reverted swap is still reported, with `error` set (a failed attempt, as the reference does).
"""
from __future__ import annotations

from tradecore.mev.model import Arbitrage, Swap


def _within_1pct(a: int, b: int) -> bool:
    # |a-b| / max(a,b) < 1 %, exactly in integers
    m = max(a, b)
    return m == 0 or 100 * abs(a - b) < m


def _connects(out: Swap, nxt: Swap) -> bool:
    return (out.token_out_address == nxt.token_in_address
            and (out.contract_address == nxt.from_address or out.to_address == nxt.contract_address
                 or out.to_address == nxt.from_address)
            and _within_1pct(out.token_out_amount, nxt.token_in_amount))


def _shortest_route(start: Swap, ends: list[Swap], swaps: list[Swap], max_len: int | None = None) -> list[Swap] | None:
    if not ends or (max_len is not None and max_len < 2):
        return None
    for end in ends:
        if _connects(start, end):
            return [start, end]
    if max_len is not None and max_len == 2:
        return None
    others = [s for s in swaps if s is not start and not any(s is e for e in ends)]
    best: list[Swap] | None = None
    remaining = None if max_len is None else max_len - 1
    for nxt in others:
        if _connects(start, nxt):
            r = _shortest_route(nxt, ends, others, remaining)
            if r is not None and (best is None or len(r) < len(best)):
                best = r
                remaining = len(r) - 1
    return None if best is None else [start] + best


def _arbitrages_in_tx(swaps: list[Swap]) -> list[Arbitrage]:
    pools = {s.contract_address for s in swaps}
    start_ends: list[tuple[Swap, list[Swap]]] = []
    for i, st in enumerate(swaps):
        if st.from_address in pools:
            continue
        ends = [e for j, e in enumerate(swaps) if j != i and st.token_in_address == e.token_out_address
                and st.contract_address != e.contract_address
                and (st.from_address == e.to_address or st.from_address == e.beneficiary)]
        if ends:
            start_ends.append((st, ends))
    found: list[Arbitrage] = []
    used: set[int] = set()
    for st, ends in start_ends:
        if id(st) in used:
            continue
        route = _shortest_route(st, [e for e in ends if id(e) not in used], swaps)
        if route is None:
            continue
        err = None
        for s in route:
            if s.error is not None:
                err = s.error
        first, last = route[0], route[-1]
        found.append(Arbitrage(route, first.block_number, first.transaction_hash, first.from_address,
                               first.token_in_address, first.token_in_amount, last.token_out_amount,
                               last.token_out_amount - first.token_in_amount, err))
        used.update(id(s) for s in route)
    if len(found) <= 1:
        return found
    return [a for a in found if a.swaps[0].trace_address < a.swaps[-1].trace_address]


def get_arbitrages(swaps: list[Swap]) -> list[Arbitrage]:
    by_tx: dict[str, list[Swap]] = {}
    for s in swaps:
        by_tx.setdefault(s.transaction_hash, []).append(s)
    out: list[Arbitrage] = []
    for h in sorted(by_tx):
        out.extend(_arbitrages_in_tx(by_tx[h]))
    return out
