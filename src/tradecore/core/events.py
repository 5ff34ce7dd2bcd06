"""Events that cross layer boundaries. Times are int64 nanoseconds since the epoch."""
from __future__ import annotations

from dataclasses import dataclass

BUY = 1
SELL = -1


@dataclass(frozen=True, slots=True)
class Trade:
    """One public trade, the same shape for every venue.

    price and size are the exchange's exact decimal text (floats lose digits that fees, PnL and
    reconciliation need); `aggressor` is BUY when the taker bought, SELL when the taker sold.
    """
    venue: str
    symbol: str
    price: str
    size: str
    aggressor: int
    trade_id: str
    ts_exchange_ns: int
    ts_local_ns: int
    backfilled: bool = False

    @property
    def price_f(self) -> float:
        return float(self.price)

    @property
    def size_f(self) -> float:
        return float(self.size)


@dataclass(frozen=True, slots=True)
class Problem:
    """Bad input or a broken invariant, reported with where it happened and why."""
    venue: str
    symbol: str
    reason: str
    detail: str = ""
