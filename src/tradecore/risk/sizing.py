"""Position sizing: the Kelly fraction, made fractional and capped, turned into lots.

Kelly maximises the expected log growth of capital. For a continuous return with mean `mu` and
variance `sigma2` per period the optimal fraction of equity is f* = mu / sigma2; for a bet won
with probability p paying b per unit staked (lost stake otherwise) it is f* = p - (1 - p) / b.
Both assume the edge is known exactly; it is an estimate, and betting full Kelly on an
overestimated edge is ruinous while half Kelly keeps ~75 % of the growth at half the volatility,
so practice bets a fraction of it (`fraction`, default 0.5) and caps it (`cap`). A negative edge
gives 0: the sizer never turns a long signal into a short one (the caller's signal picks the
side).

Lots are rounded down to the instrument's lot grid (never more risk than computed) and an amount
below the venue minimum (min_qty or min_notional) is 0, not rounded up.
"""
from __future__ import annotations

import math
from decimal import Decimal

from tradecore.core.instrument import Instrument

__all__ = ["kelly_continuous", "kelly_discrete", "fractional_kelly", "kelly_lots",
           "notional_to_lots"]


def _finite(name: str, x: float) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ValueError(f"{name} = {x!r}: expected a finite number")
    return float(x)


def kelly_continuous(mu: float, sigma2: float) -> float:
    """Full-Kelly fraction of equity for per-period mean return mu and variance sigma2."""
    mu, sigma2 = _finite("mu", mu), _finite("sigma2", sigma2)
    if sigma2 <= 0:
        raise ValueError(f"sigma2 = {sigma2!r}: expected a variance > 0")
    return mu / sigma2


def kelly_discrete(p: float, b: float) -> float:
    """Full-Kelly fraction for win probability p and net payoff b per unit staked."""
    p, b = _finite("p", p), _finite("b", b)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p = {p!r}: expected a probability in [0, 1]")
    if b <= 0:
        raise ValueError(f"b = {b!r}: expected a payoff > 0")
    return p - (1.0 - p) / b


def fractional_kelly(f_full: float, fraction: float = 0.5, cap: float = 1.0) -> float:
    """fraction x full Kelly, floored at 0 and capped at `cap` (1.0 = no leverage)."""
    f_full = _finite("f_full", f_full)
    if not 0.0 < _finite("fraction", fraction) <= 1.0:
        raise ValueError(f"fraction = {fraction!r}: expected a number in (0, 1]")
    if not _finite("cap", cap) > 0.0:
        raise ValueError(f"cap = {cap!r}: expected a number > 0")
    return min(max(f_full * fraction, 0.0), cap)


def notional_to_lots(inst: Instrument, notional: float, price: float) -> int:
    """Lots worth at most `notional` at `price`, on the lot grid; 0 when below the minimum."""
    notional, price = _finite("notional", notional), _finite("price", price)
    if price <= 0:
        raise ValueError(f"price = {price!r}: expected a price > 0")
    if notional <= 0:
        return 0
    lots = inst.round_lots(Decimal(repr(notional)) / Decimal(repr(price)))
    if lots <= 0 or lots < inst.min_lots:
        return 0
    if float(inst.min_notional) > 0 and inst.qty(lots) * price < float(inst.min_notional):
        return 0
    return lots


def kelly_lots(inst: Instrument, equity: float, price: float, *, mu: float | None = None,
               sigma2: float | None = None, p: float | None = None, b: float | None = None,
               fraction: float = 0.5, cap: float = 1.0) -> int:
    """Lots to hold for an edge given either as (mu, sigma2) or as (p, b)."""
    if (mu is None) == (p is None) or (mu is None) != (sigma2 is None) or (
            p is None) != (b is None):
        raise ValueError("kelly_lots: give either mu and sigma2, or p and b")
    equity = _finite("equity", equity)
    if equity <= 0:
        return 0
    full = kelly_continuous(mu, sigma2) if mu is not None else kelly_discrete(p, b)
    return notional_to_lots(inst, equity * fractional_kelly(full, fraction, cap), price)
