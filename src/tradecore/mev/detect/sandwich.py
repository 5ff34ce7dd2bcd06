"""Sandwiches: a searcher's swap on a pool, victims trading the same direction on that pool,
then the searcher's swap back, all in one block.

Definition (flashbots/mev-inspect-py sandwiches.py at main, and its PR #307 for unequal legs):
swaps ordered by (transaction_position, trace_address); a front swap whose recipient is not a
Uniswap router; later swaps on the same pool in the same direction from another address (and
another transaction) are victims; the first later swap on that pool in the opposite direction
sent from the front swap's recipient closes the sandwich when there is at least one victim.

Profit, in the front swap's input token:
- equal legs (back.in == front.out): back.out - front.in, exact;
- back sells more than the front bought: front.out * back.out / back.in - front.in
  (only the part of the back run paid for by the front run counts);
- back sells less (front-heavy, "lopsided"): back.out - back.in * front.in / front.out
  (only the part of the front run that was sold back counts).
PR #307 evaluates the two ratios in float64; we use exact integer floor division, which agrees
with it to ~1e-16 relative (the one labelled case, block 14659109, is checked at 1e-12).
Profits may be negative.
"""
from __future__ import annotations

from tradecore.mev.abi import UNISWAP_ROUTERS
from tradecore.mev.model import Sandwich, Swap


def sandwich_profit(front: Swap, back: Swap) -> int:
    if back.token_in_amount == front.token_out_amount:
        return back.token_out_amount - front.token_in_amount
    if back.token_in_amount > front.token_out_amount:
        return front.token_out_amount * back.token_out_amount // back.token_in_amount - front.token_in_amount
    return back.token_out_amount - back.token_in_amount * front.token_in_amount // front.token_out_amount


def _starting_with(front: Swap, rest: list[Swap]) -> Sandwich | None:
    sandwicher = front.to_address
    if sandwicher in UNISWAP_ROUTERS:
        return None
    victims: list[Swap] = []
    for other in rest:
        if other.transaction_hash == front.transaction_hash or other.contract_address != front.contract_address:
            continue
        if (other.token_in_address == front.token_in_address and other.token_out_address == front.token_out_address
                and other.from_address != sandwicher):
            victims.append(other)
        elif (other.token_out_address == front.token_in_address and other.token_in_address == front.token_out_address
              and other.from_address == sandwicher):
            if victims:
                return Sandwich(front.block_number, sandwicher, front, other, victims, front.token_in_address,
                                sandwich_profit(front, other))
    return None


def get_sandwiches(swaps: list[Swap]) -> list[Sandwich]:
    # a reverted swap never traded: it can be neither a leg nor a victim
    ordered = sorted((s for s in swaps if s.error is None), key=lambda s: (s.transaction_position, s.trace_address))
    out: list[Sandwich] = []
    for i, s in enumerate(ordered):
        sw = _starting_with(s, ordered[i + 1:])
        if sw is not None:
            out.append(sw)
    return out
