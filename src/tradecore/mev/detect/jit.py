"""Just-in-time liquidity on Uniswap V3: a `mint` on a pool, the swaps that trade against it, and
the `burn` of the same liquidity by the same bot later in the block.

Definition (flashbots/mev-inspect-py PR #292, whose labelled answers we match): a non-reverted
mint on a pool, then in a later transaction of the block a non-reverted burn on the same pool by
the same bot (the contract the two transactions call) removing the same liquidity; the swaps on
that pool strictly between the two transactions are the JIT-filled swaps (at least one).
Mint amounts are the tokens paid into the pool by the mint; burn amounts are the tokens the pool
paid out after the burn in its transaction (burn + collect: principal and fees together);
swap volumes are the input amounts of the filled swaps, per token. The net position
(burn - mint per token) is what the round trip earned in fees plus the inventory it swapped.
"""
from __future__ import annotations

from tradecore.mev.model import JitLiquidity, LiquidityChange, Swap


def get_jit_liquidity(changes: list[LiquidityChange], swaps: list[Swap], tx_to: dict[str, str],
                      block_number: int) -> list[JitLiquidity]:
    """`tx_to` maps each transaction hash to the address its root call targets (the bot)."""
    mints = [c for c in changes if c.kind == "mint"]
    burns = [c for c in changes if c.kind == "burn" and c.liquidity > 0]
    out: list[JitLiquidity] = []
    used_burns: set[int] = set()
    for m in sorted(mints, key=lambda c: (c.transaction_position, c.trace_address)):
        bot = tx_to.get(m.transaction_hash, m.caller)
        burn = next((b for b in sorted(burns, key=lambda c: (c.transaction_position, c.trace_address))
                     if id(b) not in used_burns and b.pool_address == m.pool_address
                     and b.transaction_position > m.transaction_position
                     and tx_to.get(b.transaction_hash, b.caller) == bot and b.liquidity == m.liquidity), None)
        if burn is None:
            continue
        filled = [s for s in swaps if s.contract_address == m.pool_address and s.error is None
                  and m.transaction_position < s.transaction_position < burn.transaction_position]
        if not filled:
            continue
        used_burns.add(id(burn))
        tokens = sorted(set(m.amounts) | set(burn.amounts))
        if len(tokens) != 2:
            continue
        t0, t1 = tokens
        out.append(JitLiquidity(
            block_number, bot, m.pool_address, m.transaction_hash, m.trace_address, burn.transaction_hash,
            burn.trace_address, sorted(filled, key=lambda s: (s.transaction_position, s.trace_address)), t0, t1,
            m.amounts.get(t0, 0), m.amounts.get(t1, 0), burn.amounts.get(t0, 0), burn.amounts.get(t1, 0),
            sum(s.token_in_amount for s in filled if s.token_in_address == t0),
            sum(s.token_in_amount for s in filled if s.token_in_address == t1)))
    return out
