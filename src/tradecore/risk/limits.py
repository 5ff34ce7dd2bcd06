"""Risk limits: what the gate enforces, as frozen dataclasses checked when they are built.

A wrong value fails at construction with a ValueError naming the field, the value and what was
expected (a bad config must fail at start, never half-apply). Zero disables a limit, so a config
states only the limits it means; quantities are int lots of the symbol's Instrument and money is
float quote currency (every symbol's quote is taken as the account currency: the gate adds
notionals of different symbols as they are).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["SymbolLimits", "RiskLimits", "ClusterLimit"]


def _fail(owner: str, name: str, value: object, expected: str) -> None:
    raise ValueError(f"{owner}.{name} = {value!r}: expected {expected}")


def _int(owner: str, name: str, value: object, lo: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        _fail(owner, name, value, f"an int >= {lo}")


def _money(owner: str, name: str, value: object, lo: float = 0.0, hi: float = math.inf,
           lo_open: bool = False) -> None:
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and math.isfinite(value) and (value > lo if lo_open else value >= lo) and value <= hi)
    if not ok:
        rng = f"{'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if hi < math.inf else "")
        _fail(owner, name, value, f"a finite number {rng}")


def _rate(owner: str, name: str, value: float) -> None:
    # a throttle period must fit int64 ns: slower than one event in ~30 years is no throttle
    # anyone means (and 1e9 / a subnormal rate is infinite)
    if value != 0 and value < 1e-9:
        _fail(owner, name, value, "0 (no throttle) or a rate >= 1e-9 per second")


@dataclass(frozen=True, slots=True)
class SymbolLimits:
    """Limits of one symbol (0 = no limit).

    price_band is a fraction of the mid: a priced order (limit price, stop trigger) further than
    band x mid from the mid is a fat finger. max_mid_age_ns: a mid older than this denies new
    orders (STALE_MARKET_DATA), except exits at market. spot: buys spend the quote balance and
    sells the base balance; otherwise (derivatives) either side spends quote margin =
    notional / leverage.
    """
    max_order_lots: int = 0
    max_order_notional: float = 0.0
    max_position_lots: int = 0
    max_notional: float = 0.0               # |worst-case position| x mid
    price_band: float = 0.05
    max_mid_age_ns: int = 5_000_000_000
    spot: bool = True
    leverage: float = 1.0

    def __post_init__(self) -> None:
        o = "SymbolLimits"
        _int(o, "max_order_lots", self.max_order_lots)
        _money(o, "max_order_notional", self.max_order_notional)
        _int(o, "max_position_lots", self.max_position_lots)
        _money(o, "max_notional", self.max_notional)
        _money(o, "price_band", self.price_band, 0.0, 10.0)
        _int(o, "max_mid_age_ns", self.max_mid_age_ns)
        if not isinstance(self.spot, bool):
            _fail(o, "spot", self.spot, "True or False")
        _money(o, "leverage", self.leverage, 0.0, 1000.0, lo_open=True)
        if self.spot and self.leverage != 1.0:
            _fail(o, "leverage", self.leverage, "1.0 for a spot symbol (spot=True)")


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Portfolio limits, throttles and the default limits of symbols added without their own.

    Rates are events per second with a burst (GCRA: `burst` back to back, then one per
    1/rate s); 0 = no throttle. require_balance: an order whose paying asset has no balance set
    (set_balance never called) is denied INSUFFICIENT_BALANCE instead of being let through
    unchecked (paper and backtest set-ups that do not model balances leave it False).
    """
    max_gross_notional: float = 0.0
    max_net_notional: float = 0.0
    max_orders_per_sec: float = 0.0
    order_burst: int = 1
    max_cancels_per_sec: float = 0.0
    cancel_burst: int = 1
    require_balance: bool = False
    default_symbol: SymbolLimits = field(default_factory=SymbolLimits)
    capacity: int = 16                      # symbols pre-allocated (grows when exceeded)

    def __post_init__(self) -> None:
        o = "RiskLimits"
        _money(o, "max_gross_notional", self.max_gross_notional)
        _money(o, "max_net_notional", self.max_net_notional)
        _money(o, "max_orders_per_sec", self.max_orders_per_sec, 0.0, 1e9)
        _rate(o, "max_orders_per_sec", self.max_orders_per_sec)
        _int(o, "order_burst", self.order_burst, 1)
        _money(o, "max_cancels_per_sec", self.max_cancels_per_sec, 0.0, 1e9)
        _rate(o, "max_cancels_per_sec", self.max_cancels_per_sec)
        _int(o, "cancel_burst", self.cancel_burst, 1)
        if not isinstance(self.require_balance, bool):
            _fail(o, "require_balance", self.require_balance, "True or False")
        if not isinstance(self.default_symbol, SymbolLimits):
            _fail(o, "default_symbol", self.default_symbol, "a SymbolLimits")
        _int(o, "capacity", self.capacity, 1)

    @staticmethod
    def period_ns(rate: float) -> int:
        """Nanoseconds per event at `rate` per second (0 -> 0: no throttle)."""
        return 0 if rate == 0 else max(1, round(1e9 / rate))


@dataclass(frozen=True, slots=True)
class ClusterLimit:
    """Symbols whose positions count together: the signed sum of their exposures (sign = the
    sign of each member's correlation with the first member) must stay within `limit`."""
    members: tuple[tuple[str, str], ...]    # (venue, symbol)
    signs: tuple[int, ...]
    limit: float

    def __post_init__(self) -> None:
        o = "ClusterLimit"
        if not self.members or not all(isinstance(m, tuple) and len(m) == 2
                                       and all(isinstance(x, str) for x in m)
                                       for m in self.members):
            _fail(o, "members", self.members, "a non-empty tuple of (venue, symbol) pairs")
        if len(set(self.members)) != len(self.members):
            _fail(o, "members", self.members, "no symbol twice")
        if len(self.signs) != len(self.members) or any(s not in (1, -1) for s in self.signs):
            _fail(o, "signs", self.signs, f"{len(self.members)} values, each +1 or -1")
        _money(o, "limit", self.limit, 0.0, lo_open=True)
