"""The risk gate kernel in plain Python: the obvious version the compiled one is held against.

`ReferenceKernel` has the methods of `tradecore._fast.riskgate.RiskKernel` and the same rules,
written for reading rather than speed; `RiskGate(limits, clock, kernel_factory=ReferenceKernel)`
is a complete gate on it (tests compare the two gates answer for answer; the benchmark times it
as the same-run reference). Float expressions are evaluated in the same order as in the kernel
so that results at a limit's edge agree exactly.
"""
from __future__ import annotations

from dataclasses import dataclass

from tradecore.core.orders import DenyReason as D
from tradecore.core.orders import OrderType, TradingState

__all__ = ["ReferenceKernel"]

PRICED = {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
OTYPES = frozenset(int(t) for t in OrderType)
TRIGGERED = {OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT,
             OrderType.TAKE_PROFIT_LIMIT}


@dataclass
class RefSym:
    tick_size: float
    lot_size: float
    min_lots: int
    min_notional: float
    taker_fee: float
    base_asset: int
    quote_asset: int
    spot: bool
    leverage: float
    max_order_lots: int = 0
    max_order_notional: float = 0.0
    max_position_lots: int = 0
    max_symbol_notional: float = 0.0
    price_band: float = 0.0
    max_mid_age_ns: int = 0
    mid: float = 0.0
    mid_ts: int = 0
    pos: int = 0
    open_buy: int = 0
    open_sell: int = 0
    cluster: int = -1
    cluster_sign: int = 1


@dataclass
class RefThrottle:
    """GCRA: an event at `now` conforms iff now >= tat - (burst - 1) * period."""
    period_ns: int = 0
    burst: int = 1
    tat: int = 0

    def take(self, now: int) -> bool:
        if self.period_ns <= 0:
            return True
        if now < self.tat - (self.burst - 1) * self.period_ns:
            return False
        self.tat = max(self.tat, now) + self.period_ns
        return True


class ReferenceKernel:
    def __init__(self, capacity: int = 16) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.syms: list[RefSym] = []
        self.avail: list[float] = []
        self.known: list[bool] = []
        self.cluster_limit: dict[int, float] = {}
        self.order_rate = RefThrottle()
        self.cancel_rate = RefThrottle()
        self.counts = [0] * len(D)
        self.state = int(TradingState.ACTIVE)
        self.reconciling = False
        self.require_balance = False
        self.max_gross = 0.0
        self.max_net = 0.0
        self.symbols: dict[str, dict[str, int]] = {}
        self.strategy_states: dict[str, int] = {}
        self.clock_ns = None
        self.reasons = tuple(range(len(D)))

    # -- set-up --------------------------------------------------------------------------------
    def add_symbol(self, tick_size, lot_size, *, min_lots=0, min_notional=0.0, taker_fee=0.0,
                   base_asset=-1, quote_asset=-1, spot=True, leverage=1.0, **limits) -> int:
        if not (tick_size > 0 and lot_size > 0):
            raise ValueError(f"tick_size and lot_size must be positive, got {tick_size}, "
                             f"{lot_size}")
        self.syms.append(RefSym(tick_size, lot_size, min_lots, min_notional, taker_fee,
                                base_asset, quote_asset, spot, leverage))
        self.set_symbol_limits(len(self.syms) - 1, **limits)
        return len(self.syms) - 1

    def set_symbol_limits(self, idx, *, max_order_lots=0, max_order_notional=0.0,
                          max_position_lots=0, max_symbol_notional=0.0, price_band=0.0,
                          max_mid_age_ns=0) -> None:
        s = self.syms[idx]
        s.max_order_lots, s.max_order_notional = max_order_lots, max_order_notional
        s.max_position_lots, s.max_symbol_notional = max_position_lots, max_symbol_notional
        s.price_band, s.max_mid_age_ns = price_band, max_mid_age_ns

    @property
    def n_symbols(self) -> int:
        return len(self.syms)

    def add_asset(self) -> int:
        self.avail.append(0.0)
        self.known.append(False)
        return len(self.avail) - 1

    def set_portfolio_limits(self, max_gross, max_net) -> None:
        self.max_gross, self.max_net = max_gross, max_net

    def set_order_rate(self, period_ns, burst) -> None:
        self.order_rate = RefThrottle(period_ns, burst)

    def set_cancel_rate(self, period_ns, burst) -> None:
        self.cancel_rate = RefThrottle(period_ns, burst)

    def set_state(self, state) -> None:
        self.state = int(TradingState(state))

    def clear_clusters(self) -> None:
        for s in self.syms:
            s.cluster, s.cluster_sign = -1, 1
        self.cluster_limit.clear()

    def set_cluster(self, idx, cluster, sign, limit) -> None:
        s = self.syms[idx]
        s.cluster, s.cluster_sign = cluster, sign
        self.cluster_limit[cluster] = limit

    # -- state ----------------------------------------------------------------------------------
    def set_mid(self, idx, mid, ts_ns) -> None:
        s = self.syms[idx]
        s.mid, s.mid_ts = mid, ts_ns

    def flush_mids(self, pending: dict, index: dict) -> int:
        for key, (mid, ts) in pending.items():
            idx = index.get(key)
            if idx is not None:
                self.set_mid(idx, mid, ts)
        pending.clear()
        return 0

    def set_position(self, idx, lots) -> None:
        self.syms[idx].pos = lots

    def add_open(self, idx, side, lots) -> None:
        s = self.syms[idx]
        if side > 0:
            s.open_buy = max(0, s.open_buy + lots)
        else:
            s.open_sell = max(0, s.open_sell + lots)

    def apply_fill(self, idx, side, lots) -> None:
        self.syms[idx].pos += side * lots

    def set_balance(self, asset, free) -> None:
        self.avail[asset] = float(free)
        self.known[asset] = True

    def add_balance(self, asset, delta) -> None:
        self.avail[asset] += delta

    def balance(self, asset):
        return self.avail[asset] if self.known[asset] else None

    def symbol(self, idx) -> dict:
        s = self.syms[idx]
        return {"pos": s.pos, "open_buy": s.open_buy, "open_sell": s.open_sell, "mid": s.mid,
                "mid_ts": s.mid_ts, "cluster": s.cluster, "cluster_sign": s.cluster_sign}

    def counters(self) -> list:
        return list(self.counts)

    # -- the checks -------------------------------------------------------------------------------
    def reduces(self, idx, side, qty, replace_lots=0) -> bool:
        """Opposite side to a non-zero position, and qty + the other working lots on that side
        <= |position|."""
        if not 0 <= idx < len(self.syms):
            return False
        s = self.syms[idx]
        if s.pos == 0 or (side > 0) == (s.pos > 0):
            return False
        same = (s.open_buy if side > 0 else s.open_sell) - replace_lots
        return qty + same <= abs(s.pos)

    def check(self, idx, side, otype, qty, price, trigger, reduce_only, now_ns,
              replace_lots=0, strategy_state=0) -> int:
        r = int(self._check(idx, side, otype, qty, price, trigger, reduce_only, now_ns,
                            replace_lots, strategy_state))
        self.counts[r] += 1
        return r

    def set_order_layout(self, layout) -> None:
        """The compiled kernel reads Orders by this layout's slot offsets; attributes here."""
        self.order_layout = layout

    def check_order(self, order):
        idx = self.symbols.get(order.venue, {}).get(order.symbol, -1)
        sst = self.strategy_states.get(order.strategy_id, 0)
        return self.reasons[self.check(idx, order.side, order.type, order.qty, order.price,
                                       order.trigger_price, order.reduce_only, self.clock_ns(),
                                       0, sst)]

    def check_cancel(self, now_ns) -> int:
        r = int(D.NONE if self.cancel_rate.take(now_ns) else D.CANCEL_RATE)
        self.counts[r] += 1
        return r

    def _check(self, idx, side, otype, qty, price, trigger, reduce_only, now, repl, sstate):
        if self.reconciling:
            return D.RECONCILING
        if not 0 <= idx < len(self.syms):
            return D.UNKNOWN_INSTRUMENT
        if max(self.state, sstate) >= TradingState.HALTED:
            return D.HALTED
        state = max(self.state, sstate)
        s = self.syms[idx]
        if side not in (1, -1) or qty <= 0 or qty < s.min_lots:
            return D.BAD_QUANTITY
        if otype not in OTYPES:
            return D.BAD_PRICE
        priced, triggered = otype in PRICED, otype in TRIGGERED
        if (priced and price <= 0) or (triggered and trigger <= 0):
            return D.BAD_PRICE
        red = self.reduces(idx, side, qty, repl)
        if state == TradingState.REDUCING and not red:
            return D.REDUCING_ONLY
        if reduce_only and not red:
            return D.REDUCE_ONLY_VIOLATION
        mid = s.mid
        if not (red and otype == OrderType.MARKET):
            if mid <= 0.0:
                return D.NO_MARKET_DATA
            if s.max_mid_age_ns > 0 and now - s.mid_ts > s.max_mid_age_ns:
                return D.STALE_MARKET_DATA
            if s.price_band > 0.0:
                band = s.price_band * mid
                if priced and abs(price * s.tick_size - mid) > band:
                    return D.PRICE_BAND
                if triggered and abs(trigger * s.tick_size - mid) > band:
                    return D.PRICE_BAND
        if s.max_order_lots > 0 and qty > s.max_order_lots:
            return D.MAX_ORDER_QTY
        px = price * s.tick_size if priced else trigger * s.tick_size if triggered else mid
        notional = px * float(qty) * s.lot_size
        if s.max_order_notional > 0.0 and notional > s.max_order_notional:
            return D.MAX_ORDER_NOTIONAL
        if s.min_notional > 0.0 and px > 0.0 and notional < s.min_notional:
            return D.MIN_NOTIONAL
        if not red:
            if side > 0:
                worst = s.pos + (s.open_buy - repl) + qty
            else:
                worst = s.pos - (s.open_sell - repl) - qty
            if s.max_position_lots > 0 and abs(worst) > s.max_position_lots:
                return D.MAX_POSITION
            if s.max_symbol_notional > 0.0 and \
                    float(abs(worst)) * s.lot_size * mid > s.max_symbol_notional:
                return D.MAX_SYMBOL_EXPOSURE
            if self.max_gross > 0.0 and self._gross_after(idx, side, qty, repl) > self.max_gross:
                return D.MAX_GROSS_EXPOSURE
            if self.max_net > 0.0 and self._over(idx, side, qty, repl, -1, self.max_net):
                return D.MAX_NET_EXPOSURE
            lim = self.cluster_limit.get(s.cluster, 0.0) if s.cluster >= 0 else 0.0
            if lim > 0.0 and self._over(idx, side, qty, repl, s.cluster, lim):
                return D.CLUSTER_EXPOSURE
            if s.spot:
                asset, need = ((s.quote_asset, notional * (1.0 + s.taker_fee)) if side > 0
                               else (s.base_asset, float(qty) * s.lot_size))
            else:
                asset, need = s.quote_asset, notional / s.leverage
            if asset < 0 or not self.known[asset]:
                if self.require_balance:
                    return D.INSUFFICIENT_BALANCE
            elif self.avail[asset] < need:
                return D.INSUFFICIENT_BALANCE
        if not self.order_rate.take(now):
            return D.ORDER_RATE
        return D.NONE

    def _working(self, i, idx, side, qty, repl) -> tuple[int, int]:
        t = self.syms[i]
        ob, os_ = t.open_buy, t.open_sell
        if i == idx:
            if side > 0:
                ob = ob - repl + qty
            else:
                os_ = os_ - repl + qty
        return ob, os_

    def _gross_after(self, idx, side, qty, repl) -> float:
        total = 0.0
        for i, t in enumerate(self.syms):
            ob, os_ = self._working(i, idx, side, qty, repl)
            total += float(max(abs(t.pos + ob), abs(t.pos - os_))) * t.lot_size * t.mid
        return total

    def _over(self, idx, side, qty, repl, cluster, limit) -> bool:
        d = side if cluster < 0 else side * self.syms[idx].cluster_sign
        total = 0.0
        for i, t in enumerate(self.syms):
            if cluster >= 0 and t.cluster != cluster:
                continue
            sg = t.cluster_sign if cluster >= 0 else 1
            ob, os_ = self._working(i, idx, side, qty, repl)
            if d > 0:
                lots = sg * t.pos + (ob if sg > 0 else os_)
            else:
                lots = sg * t.pos - (os_ if sg > 0 else ob)
            total += float(lots) * t.lot_size * t.mid
        return total * d > limit
