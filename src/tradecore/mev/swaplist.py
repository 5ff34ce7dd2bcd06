"""Detectors over already-decoded swap lists (the mev-inspect-js input shape), for when the
swaps come from event logs rather than traces.

Input objects are the js ones (`contract.address`, `transaction.{from,hash,index}`,
`event.logIndex`, `from`, `to`, `assetIn.address`, `amountIn` as a decimal string, ...); outputs
reference the input objects themselves (as the js library does) so callers can compare identity.
Definitions follow Destiner/mev-inspect-js (src/mev/{sandwiches,arbitrage,jitSandwiches,
liquidations}.ts) as described in ../shared/data/mev/README.md §4:

- sandwich: front swap, then (same pool) victims trading the same direction from other
  transactions -- or single-sided liquidity deposits of the front's input asset / withdrawals
  of its output asset -- then a back swap in the opposite direction sent from the front swap's
  recipient, in a later transaction. Profit in the front's input asset: the smaller in magnitude
  of front.out*(back.out/back.in) - front.in and back.out - back.in*(front.in/front.out), each
  ratio truncated at 1e36 fixed point exactly as the library does with BigInt;
- arbitrage: within one transaction, swaps (by log index) whose assets chain into a cycle; the
  cycle is rotated to start from WETH when it passes through WETH; profit = last out - first in;
- JIT sandwich: a V3 deposit, swaps on the pool, then a withdrawal of the same range by the same
  account, in three increasing transactions; deltas = withdrawn - deposited per asset;
- liquidation: a repayment and a seizure in the same transaction for the same borrower.
"""
from __future__ import annotations

from tradecore.mev.abi import WETH

_ONE = 10 ** 36


def _key(x: dict) -> tuple[int, int, int]:
    return (x["block"]["number"], x["transaction"]["index"], x["event"]["logIndex"])


def _pool(x: dict) -> str:
    return x["contract"]["address"].lower()


def _a_in(s: dict) -> str:
    return s["assetIn"]["address"].lower()


def _a_out(s: dict) -> str:
    return s["assetOut"]["address"].lower()


def _tdiv(a: int, b: int) -> int:
    """BigInt division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def js_sandwich_profit(front: dict, back: dict) -> int:
    f_in, f_out = int(front["amountIn"]), int(front["amountOut"])
    b_in, b_out = int(back["amountIn"]), int(back["amountOut"])
    p1 = _tdiv(f_out * _tdiv(b_out * _ONE, b_in), _ONE) - f_in
    p2 = b_out - _tdiv(b_in * _tdiv(f_in * _ONE, f_out), _ONE)
    return p1 if abs(p1) <= abs(p2) else p2


def _single_sided(x: dict, asset: str) -> bool:
    amounts = [(a["address"].lower(), int(v)) for a, v in zip(x["assets"], x["amounts"])]
    nonzero = [a for a, v in amounts if v != 0]
    return nonzero == [asset]


def get_sandwiches(swaps: list[dict], deposits: list[dict] = (), withdrawals: list[dict] = ()) -> list[dict]:
    ordered = sorted(swaps, key=_key)
    out: list[dict] = []
    for i, front in enumerate(ordered):
        pool, beneficiary = _pool(front), front["to"].lower()
        for back in ordered[i + 1:]:
            if (_pool(back) != pool or back["transaction"]["hash"] == front["transaction"]["hash"]
                    or _a_in(back) != _a_out(front) or _a_out(back) != _a_in(front)
                    or back["from"].lower() != beneficiary):
                continue
            lo, hi = _key(front), _key(back)
            fronttx, backtx = front["transaction"]["hash"], back["transaction"]["hash"]

            def between(x: dict) -> bool:
                return (lo < _key(x) < hi and _pool(x) == pool
                        and x["transaction"]["hash"] not in (fronttx, backtx))
            victims = [s for s in ordered if between(s) and _a_in(s) == _a_in(front) and _a_out(s) == _a_out(front)]
            victims += [d for d in deposits if between(d) and _single_sided(d, _a_in(front))]
            victims += [w for w in withdrawals if between(w) and _single_sided(w, _a_out(front))]
            if victims:
                victims.sort(key=_key)
                out.append({"sandwicher": {"sender": back["transaction"]["from"].lower(), "beneficiary": beneficiary},
                            "frontSwap": front, "backSwap": back, "sandwiched": victims,
                            "profit": {"asset": front["assetIn"], "amount": js_sandwich_profit(front, back)}})
            break
    return out


def _cycle_from(start: dict, pool_swaps: list[dict], used: set[int]) -> list[dict] | None:
    """Shortest chain start -> ... whose last output is start's input (breadth first)."""
    frontier = [[start]]
    while frontier:
        nxt = []
        for path in frontier:
            last = path[-1]
            for s in pool_swaps:
                if id(s) in used or any(s is p for p in path) or _a_in(s) != _a_out(last):
                    continue
                route = path + [s]
                if _a_out(s) == _a_in(start):
                    return route
                nxt.append(route)
        frontier = nxt
    return None


def get_arbitrages(swaps: list[dict]) -> list[dict]:
    by_tx: dict[str, list[dict]] = {}
    for s in sorted(swaps, key=_key):
        by_tx.setdefault(s["transaction"]["hash"], []).append(s)
    out: list[dict] = []
    for tx_swaps in by_tx.values():
        used: set[int] = set()
        for s in tx_swaps:
            if id(s) in used:
                continue
            cyc = _cycle_from(s, tx_swaps, used)
            if cyc is None or len(cyc) < 2:
                continue
            used.update(id(x) for x in cyc)
            k = next((i for i, x in enumerate(cyc) if _a_in(x) == WETH), 0)
            cyc = cyc[k:] + cyc[:k]
            profit = int(cyc[-1]["amountOut"]) - int(cyc[0]["amountIn"])
            out.append({"swaps": cyc, "profit": {"amount": profit, "asset": cyc[0]["assetIn"]},
                        "arbitrager": {"sender": cyc[0]["transaction"]["from"].lower(),
                                       "beneficiary": cyc[-1]["to"].lower()}})
    return out


def get_jit_sandwiches(swaps: list[dict], deposits: list[dict], withdrawals: list[dict]) -> list[dict]:
    out: list[dict] = []
    for d in sorted(deposits, key=_key):
        for w in sorted(withdrawals, key=_key):
            if (_pool(w) != _pool(d) or w["withdrawer"].lower() != d["depositor"].lower()
                    or w.get("metadata") != d.get("metadata")
                    or not d["transaction"]["index"] < w["transaction"]["index"]
                    or d["block"]["number"] != w["block"]["number"]):
                continue
            filled = [s for s in sorted(swaps, key=_key) if _pool(s) == _pool(d)
                      and s["block"]["number"] == d["block"]["number"]
                      and d["transaction"]["index"] < s["transaction"]["index"] < w["transaction"]["index"]]
            if not filled:
                continue
            deltas = []
            for a, dep_amt in zip(d["assets"], d["amounts"]):
                wi = next(int(v) for aa, v in zip(w["assets"], w["amounts"]) if aa["address"].lower() == a["address"].lower())
                deltas.append({"asset": a, "amount": wi - int(dep_amt)})
            out.append({"sandwicher": {"sender": d["transaction"]["from"].lower(), "beneficiary": d["depositor"].lower()},
                        "deposit": d, "withdrawal": w, "sandwiched": filled, "deltas": deltas})
            break
    return out


def get_liquidations(repayments: list[dict], seizures: list[dict]) -> list[dict]:
    out: list[dict] = []
    for r in repayments:
        s = next((s for s in seizures if s["transaction"]["hash"] == r["transaction"]["hash"]
                  and s["borrower"].lower() == r["borrower"].lower()), None)
        if s is None:
            continue
        out.append({"repayment": r, "seizure": s,
                    "liquidator": {"sender": r["transaction"]["from"].lower(), "beneficiary": r["payer"].lower()},
                    "borrower": r["borrower"].lower(),
                    "collateral": {"asset": s["asset"], "amount": int(s["amount"])},
                    "debt": {"asset": r["asset"], "amount": int(r["amount"])}})
    return out


# --- event-log decoding into the swap-list shape (mev-inspect-js classifiers) ---------------

def _common(abi: str, pool: dict, event: dict) -> dict:
    return {"contract": {"address": pool["address"].lower(), "protocol": {"abi": abi, "factory": pool["factory"]}},
            "block": {"hash": event["blockHash"], "number": event["blockNumber"]},
            "transaction": {"from": event["transactionFrom"].lower(), "hash": event["transactionHash"],
                            "index": event["transactionIndex"], "gasUsed": event["gasUsed"]},
            "event": {"address": event["address"].lower(), "logIndex": event["logIndex"]}}


def _payer(pool: str, asset: str, log_index: int, transfers: list[dict]) -> str | None:
    """Who paid the pool: the last transfer of the input asset into the pool before the event."""
    paid = [t for t in transfers if t["to"].lower() == pool and t["asset"].lower() == asset
            and t["event"]["logIndex"] < log_index]
    return max(paid, key=lambda t: t["event"]["logIndex"])["from"].lower() if paid else None


def _swap_record(abi: str, pool: dict, event: dict, transfers: list[dict], to: str,
                 amounts: tuple[int, int], metadata: dict) -> dict | None:
    """`amounts` = the pool's net token0/token1 change (positive = paid into the pool)."""
    assets = [a.lower() for a in pool["assets"]]
    if (amounts[0] > 0) == (amounts[1] > 0):
        return None
    i_in = 0 if amounts[0] > 0 else 1
    a_in, a_out = assets[i_in], assets[1 - i_in]
    frm = _payer(pool["address"].lower(), a_in, event["logIndex"], transfers)
    if frm is None:
        return None
    rec = _common(abi, pool, event)
    rec.update({"from": frm, "to": to.lower(), "assetIn": {"type": "erc20", "address": a_in},
                "amountIn": amounts[i_in], "assetOut": {"type": "erc20", "address": a_out},
                "amountOut": -amounts[1 - i_in], "metadata": metadata})
    return rec


def parse_univ2_swap(pool: dict, event: dict, transfers: list[dict]) -> dict | None:
    v = event["values"]
    net0 = int(v["amount0In"]) - int(v["amount0Out"])
    net1 = int(v["amount1In"]) - int(v["amount1Out"])
    return _swap_record("UniswapV2", pool, event, transfers, v["to"], (net0, net1), {})


def parse_univ3_swap(pool: dict, event: dict, transfers: list[dict]) -> dict | None:
    v = event["values"]
    return _swap_record("UniswapV3", pool, event, transfers, v["recipient"],
                        (int(v["amount0"]), int(v["amount1"])), {"tick": v["tick"]})


def parse_univ3_deposit(pool: dict, event: dict, transfers: list[dict]) -> dict | None:
    v = event["values"]
    p = pool["address"].lower()
    payers = [t for t in transfers if t["to"].lower() == p and t["event"]["logIndex"] < event["logIndex"]]
    if not payers:
        return None
    rec = _common("UniswapV3", pool, event)
    rec.update({"depositor": payers[-1]["from"].lower(),
                "assets": [{"type": "erc20", "address": a.lower()} for a in pool["assets"]],
                "amounts": [int(v["amount0"]), int(v["amount1"])],
                "metadata": {"tickLower": v["tickLower"], "tickUpper": v["tickUpper"]}})
    return rec


def parse_univ3_withdrawal(pool: dict, event: dict, transfers: list[dict]) -> dict | None:
    v = event["values"]
    rec = _common("UniswapV3", pool, event)
    rec.update({"withdrawer": v["recipient"].lower(),
                "assets": [{"type": "erc20", "address": a.lower()} for a in pool["assets"]],
                "amounts": [int(v["amount0"]), int(v["amount1"])],
                "metadata": {"tickLower": v["tickLower"], "tickUpper": v["tickUpper"]}})
    return rec
