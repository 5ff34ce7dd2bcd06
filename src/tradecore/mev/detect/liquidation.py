"""Liquidations are decoded in classify.py (one per Aave `liquidationCall` / Compound-CREAM
`liquidateBorrow` frame). This module prices them when the transaction shows the cost.

A liquidator who bought the debt token with the collateral token in the same transaction (the
flash-swap pattern: sell collateral-asset for debt-asset, repay, receive collateral) made
received_amount - (collateral token spent on those swaps), in the collateral token. ETH and WETH
count as one token. When the debt was not bought inside the transaction, or the collateral is a
cToken (Compound/CREAM pay cToken units), the profit is not determined from the block alone and
is reported as None rather than guessed.
"""
from __future__ import annotations

from tradecore.mev.abi import ETH, WETH
from tradecore.mev.model import Liquidation, Swap


def _norm(token: str) -> str:
    return WETH if token == ETH else token


def liquidation_profits(liquidations: list[Liquidation], swaps: list[Swap]) -> dict[str, int]:
    out: dict[str, int] = {}
    for liq in liquidations:
        if liq.protocol != "aave":
            continue
        recv, debt = _norm(liq.received_token_address), _norm(liq.debt_token_address)
        if recv == debt:
            continue
        cost = [s for s in swaps if s.transaction_hash == liq.transaction_hash and s.error is None
                and _norm(s.token_in_address) == recv and _norm(s.token_out_address) == debt]
        if cost:
            out[liq.transaction_hash] = liq.received_amount - sum(s.token_in_amount for s in cost)
    return out
