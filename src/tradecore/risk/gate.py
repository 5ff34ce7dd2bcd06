"""The pre-trade risk gate: the one place every order passes before it leaves the process.

`RiskGate` is a thin facade over the compiled kernel (`tradecore._fast.riskgate.RiskKernel`):
it maps (venue, symbol) to the kernel's symbol index, reads the Order's fields and makes one
typed call. Everything that is not the check itself (open-order and balance bookkeeping, fills,
state changes, clusters) is plain Python here, off the per-order path. A denial is a return
value, never an exception: the caller (the execution engine) turns it into an OrderDenied event.

The checks, in order (the first that fails is the reason; docs/risk.md has the details):
  RECONCILING, UNKNOWN_INSTRUMENT, HALTED, BAD_QUANTITY, BAD_PRICE, REDUCING_ONLY,
  REDUCE_ONLY_VIOLATION, NO_MARKET_DATA, STALE_MARKET_DATA, PRICE_BAND, MAX_ORDER_QTY,
  MAX_ORDER_NOTIONAL, MIN_NOTIONAL, then for orders that do not reduce: MAX_POSITION,
  MAX_SYMBOL_EXPOSURE, MAX_GROSS_EXPOSURE, MAX_NET_EXPOSURE, CLUSTER_EXPOSURE,
  INSUFFICIENT_BALANCE; last ORDER_RATE (only an order that passed everything else takes a
  token, so a burst of bad orders does not lock out good ones).

The reduce rule (REDUCING state, reduce-only orders, and which checks an order skips):
  an order reduces exposure iff the symbol has a position, the order's side is opposite to it,
  and the order's quantity plus the lots of every other working order on that side is at most
  |position|. Working orders on the reducing side are all counted, so several exits can never
  add up to a flip. A reducing order skips the exposure and balance checks (it can only lower
  them), and a reducing MARKET order also skips the market-data checks: an exit never waits for
  a feed.

Trading states: ACTIVE (everything is checked), REDUCING (only orders that reduce pass),
HALTED (nothing but cancels). A per-strategy state (set by per-strategy breakers) raises the
state of that strategy's orders only. While the kill switch's latch is held the gate stays
HALTED: leaving HALTED needs KillSwitch.rearm().

Not thread-safe: call from the event loop's thread.
"""
from __future__ import annotations

import functools

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields

from tradecore._fast.riskgate import RiskKernel
from tradecore._fast.slots import SlotLayout
from tradecore.core.clock import Clock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import DenyReason, Fill, Order, OrderType, TradingState
from tradecore.risk.limits import ClusterLimit, RiskLimits, SymbolLimits

_ORDER_LAYOUT = SlotLayout(Order, [f.name for f in fields(Order)])

__all__ = ["RiskGate"]

log = logging.getLogger("tradecore.risk")

_REASONS: tuple[DenyReason, ...] = tuple(DenyReason)
assert all(r.value == i for i, r in enumerate(_REASONS)), "DenyReason values must be 0..n-1"
_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})
_TRIGGERED = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT,
                        OrderType.TAKE_PROFIT_LIMIT})


@dataclass(slots=True)
class _Open:
    """A working order as the gate counts it: lots still open and what they hold back."""
    idx: int
    side: int
    remaining: int
    asset: int            # balance slot reserved from (-1: none)
    per_lot: float        # reserved per open lot, in that asset


@dataclass(slots=True)
class _SymInfo:
    inst: Instrument
    limits: SymbolLimits
    base: int
    quote: int


class RiskGate:
    """Pre-trade checks over a compiled kernel (see the module docstring for the rules)."""

    def __init__(self, limits: RiskLimits, clock: Clock, *,
                 kernel_factory: Callable[[int], object] = RiskKernel) -> None:
        if not isinstance(limits, RiskLimits):
            raise TypeError(f"limits must be a RiskLimits, got {type(limits).__name__}")
        self.limits = limits
        self.clock = clock
        self._k = kernel_factory(limits.capacity)
        self._k.set_portfolio_limits(limits.max_gross_notional, limits.max_net_notional)
        self._k.set_order_rate(RiskLimits.period_ns(limits.max_orders_per_sec),
                               limits.order_burst)
        self._k.set_cancel_rate(RiskLimits.period_ns(limits.max_cancels_per_sec),
                                limits.cancel_burst)
        self._k.require_balance = limits.require_balance
        self._k.clock_ns = clock.time_ns
        self._k.reasons = _REASONS
        # check_order reads an Order by its slots' offsets (_fast/slots.pxd): ~9 attribute
        # lookups fewer a check
        if hasattr(self._k, "set_order_layout"):
            self._k.set_order_layout(_ORDER_LAYOUT)
        self._kcheck = self._k.check
        self._kcancel = self._k.check_cancel
        self._now = clock.time_ns
        self._index: dict[tuple[str, str], int] = {}
        self._syms: list[_SymInfo] = []
        self._assets: dict[tuple[str, str], int] = {}
        self._open: dict[str, _Open] = {}
        # Mids noted by the execution engine on every book change but not yet given to the
        # kernel (see `pending_mids` under "market data"): (venue, symbol) -> (mid, ts_ns).
        self.pending_mids: dict[tuple[str, str], tuple[float, int]] = {}
        self._strategy_state: dict[str, int] = self._k.strategy_states
        # The per-order path: the instance's `check` is the kernel's bound check_order, so
        # gate.check(order) runs no Python frame (the method below documents it and is what a
        # subclass or a reader sees; both give the same answer).
        self.check = self._k.check_order
        # likewise flush_mids: the kernel's loop over these two dicts (never rebound), the
        # method below being its Python reference (tests compare the two)
        self.flush_mids = functools.partial(self._k.flush_mids, self.pending_mids, self._index)
        self._latched = False
        self.state_reason = ""
        self.unknown_fills = 0
        self._state_listeners: list[Callable[[TradingState, str], None]] = []

    # -- instruments -----------------------------------------------------------------------
    def add_instrument(self, inst: Instrument, limits: SymbolLimits | None = None) -> None:
        """Register a tradable instrument (its grid, minimums, fee) with its limits (the
        RiskLimits default when None). Adding the same (venue, symbol) again replaces its
        limits; the grid must not change."""
        lim = self.limits.default_symbol if limits is None else limits
        if not isinstance(lim, SymbolLimits):
            raise TypeError(f"limits must be a SymbolLimits, got {type(lim).__name__}")
        key = inst.key
        idx = self._index.get(key)
        if idx is not None:
            old = self._syms[idx].inst
            if (old.tick, old.lot) != (inst.tick, inst.lot):
                raise ValueError(f"{key}: grid changed from tick {old.tick} lot {old.lot} to "
                                 f"tick {inst.tick} lot {inst.lot}; a live symbol's grid is "
                                 f"fixed")
            self._k.set_symbol_limits(idx, **self._kernel_limits(lim))
            self._syms[idx].limits = lim
            return
        base = self._asset(inst.venue, inst.base) if inst.base else -1
        quote = self._asset(inst.venue, inst.quote) if inst.quote else -1
        idx = self._k.add_symbol(
            inst.tick_size, inst.lot_size, min_lots=inst.min_lots,
            min_notional=float(inst.min_notional), taker_fee=inst.taker_fee, base_asset=base,
            quote_asset=quote, spot=lim.spot, leverage=lim.leverage, **self._kernel_limits(lim))
        self._index[key] = idx
        self._k.symbols.setdefault(inst.venue, {})[inst.symbol] = idx
        self._syms.append(_SymInfo(inst, lim, base, quote))

    @staticmethod
    def _kernel_limits(lim: SymbolLimits) -> dict:
        return {"max_order_lots": lim.max_order_lots,
                "max_order_notional": lim.max_order_notional,
                "max_position_lots": lim.max_position_lots,
                "max_symbol_notional": lim.max_notional, "price_band": lim.price_band,
                "max_mid_age_ns": lim.max_mid_age_ns}

    def _asset(self, venue: str, asset: str) -> int:
        key = (venue, asset)
        a = self._assets.get(key)
        if a is None:
            a = self._assets[key] = self._k.add_asset()
        return a

    def index(self, venue: str, symbol: str) -> int:
        """The kernel's index of a symbol (KeyError naming it when unknown)."""
        try:
            return self._index[(venue, symbol)]
        except KeyError:
            raise KeyError(f"{venue}:{symbol} is not a risk-gate instrument") from None

    def mid_target(self) -> tuple | None:
        """(kernel, {(venue, symbol): index}): for a book hook that gives the kernel each mid
        as the book changes (the node's compiled hook, _fast/fanout.pxd) instead of noting it
        in pending_mids. The kernel then holds at check time what a flush would have given it,
        with no tuple and dict store per change and no flush per order. None when the kernel
        is not the compiled one (a reference kernel from kernel_factory): note mids then."""
        return (self._k, self._index) if isinstance(self._k, RiskKernel) else None

    @property
    def kernel(self):
        """The compiled kernel (benchmarks, tests), with the pending mids given to it."""
        if self.pending_mids:
            self.flush_mids()
        return self._k

    # -- the checks (hot path) ----------------------------------------------------------------
    def check(self, order: Order) -> DenyReason:  # replaced per instance by the kernel's
        """DenyReason.NONE when the order may be sent; else why not (counted). The instance's
        `check` (the kernel's) does not flush `pending_mids`: callers that note mids there
        flush first (the engine does)."""
        if self.pending_mids:
            self.flush_mids()
        return _REASONS[self._kcheck(
            self._index.get((order.venue, order.symbol), -1), order.side, order.type,
            order.qty, order.price, order.trigger_price, order.reduce_only, self._now(), 0,
            self._strategy_state.get(order.strategy_id, 0) if self._strategy_state else 0)]

    def check_modify(self, order: Order, qty: int, price: int) -> DenyReason:
        """Would replacing a working order's quantity (new total, lots) and price (ticks) be
        allowed? Its own working lots and reserved balance are taken out for the check."""
        if self.pending_mids:
            self.flush_mids()
        idx = self._index.get((order.venue, order.symbol), -1)
        rec = self._open.get(order.client_order_id)
        repl = rec.remaining if rec is not None else 0
        freed = rec.remaining * rec.per_lot if rec is not None and rec.asset >= 0 else 0.0
        if freed:
            self._k.add_balance(rec.asset, freed)
        try:
            code = self._kcheck(
                idx, order.side, order.type, qty - order.filled_qty, price,
                order.trigger_price, order.reduce_only, self._now(), repl,
                self._strategy_state.get(order.strategy_id, 0))
        finally:
            if freed:
                self._k.add_balance(rec.asset, -freed)
        return _REASONS[code]

    def check_cancel(self, order: Order | None = None) -> DenyReason:
        """Cancels pass in every state (HALTED too); only the cancel-rate throttle refuses."""
        return _REASONS[self._kcancel(self._now())]

    def reduces(self, order: Order) -> bool:
        """Whether the order reduces exposure by the reduce rule (module docstring)."""
        idx = self._index.get((order.venue, order.symbol), -1)
        return self._k.reduces(idx, order.side, order.qty)

    # -- market data -------------------------------------------------------------------------
    # Pull, not push: the mid is read only when an order is checked or reserved, but books
    # change far more often than orders are sent (even the tick-to-order benchmark, run with
    # zero fees so that almost every crossing is taken, sends orders on ~1 frame in 6). So the engine does not call update_mid per book change: it writes
    # (mid, ts) into `pending_mids` (one dict store, the latest per symbol wins) and the gate
    # hands them to the kernel on the next read: `flush_mids()`, which the engine calls right
    # before `check` (the kernel's bound method: no Python frame to flush in) and which every
    # Python method here that reads the mid calls itself. The values are those the engine saw
    # at the book change, so every check sees exactly what the per-change push gave it (same
    # mid, same timestamp for the max_mid_age rule).
    def flush_mids(self) -> None:
        """Give the kernel the mids noted in `pending_mids` since the last flush."""
        pend = self.pending_mids
        index = self._index
        set_mid = self._k.set_mid
        for key, (mid, ts) in pend.items():
            idx = index.get(key)
            if idx is not None:
                set_mid(idx, mid, ts)
        pend.clear()

    def update_mid(self, venue: str, symbol: str, mid: float, ts_ns: int) -> None:
        """The symbol's mid (float price) at ts_ns, given to the kernel now (after any pending
        ones, so the latest wins); symbols the gate does not know are ignored."""
        if self.pending_mids:
            self.flush_mids()
        idx = self._index.get((venue, symbol))
        if idx is not None:
            self._k.set_mid(idx, mid, ts_ns)

    def mid(self, venue: str, symbol: str) -> tuple[float, int]:
        """(mid, ts_ns) as the checks see it (0.0, 0 before the first)."""
        if self.pending_mids:
            self.flush_mids()
        s = self._k.symbol(self.index(venue, symbol))
        return s["mid"], s["mid_ts"]

    # -- open orders, fills, positions, balances --------------------------------------------------
    def on_order_open(self, order: Order) -> None:
        """A sent order starts counting as working (its leaves) and holds back its cost from
        the free balance. Seen twice: counted once."""
        if order.client_order_id in self._open:
            return
        idx = self._index.get((order.venue, order.symbol))
        leaves = order.qty - order.filled_qty
        if idx is None or leaves <= 0:
            return
        side = int(order.side)
        asset, per_lot = self._reserve(idx, order, side)
        self._open[order.client_order_id] = _Open(idx, side, leaves, asset, per_lot)
        self._k.add_open(idx, side, leaves)
        if asset >= 0:
            self._k.add_balance(asset, -leaves * per_lot)

    def _reserve(self, idx: int, order: Order, side: int) -> tuple[int, float]:
        """(asset, money per lot) that a working order holds back; (-1, 0) when the asset's
        balance is not tracked. The same price rule as the check: limit price, else trigger,
        else mid."""
        info = self._syms[idx]
        inst, lim = info.inst, info.limits
        if order.type in _PRICED:
            px = order.price * inst.tick_size
        elif order.type in _TRIGGERED:
            px = order.trigger_price * inst.tick_size
        else:
            if self.pending_mids:
                self.flush_mids()
            px = self._k.symbol(idx)["mid"]
        if lim.spot:
            if side > 0:
                asset, per_lot = info.quote, px * inst.lot_size * (1.0 + inst.taker_fee)
            else:
                asset, per_lot = info.base, inst.lot_size
        else:
            asset, per_lot = info.quote, px * inst.lot_size / lim.leverage
        if asset < 0 or self._k.balance(asset) is None:
            return -1, 0.0
        return asset, per_lot

    def on_order_done(self, order: Order) -> None:
        """A working order ended (filled, cancelled, rejected, expired): release what is left."""
        rec = self._open.pop(order.client_order_id, None)
        if rec is None or rec.remaining <= 0:
            return
        self._k.add_open(rec.idx, rec.side, -rec.remaining)
        if rec.asset >= 0:
            self._k.add_balance(rec.asset, rec.remaining * rec.per_lot)

    def on_fill(self, fill: Fill) -> None:
        """Position, working lots and balances after one fill (each fill once: the engine
        de-duplicates by trade_id before calling)."""
        idx = self._index.get((fill.venue, fill.symbol))
        if idx is None:
            self.unknown_fills += 1
            log.warning("risk gate: fill %s for %s:%s, which is not a gate instrument",
                        fill.trade_id, fill.venue, fill.symbol)
            return
        side = int(fill.side)
        rec = self._open.get(fill.client_order_id)
        if rec is not None:
            n = min(fill.qty, rec.remaining)
            rec.remaining -= n
            self._k.add_open(idx, side, -n)
            if rec.asset >= 0:
                self._k.add_balance(rec.asset, n * rec.per_lot)
        self._k.apply_fill(idx, side, fill.qty)
        info = self._syms[idx]
        inst = info.inst
        money = fill.price * inst.tick_size * fill.qty * inst.lot_size
        if info.limits.spot:
            self._spend(info.quote, -side * money - fill.fee)
            self._spend(info.base, side * fill.qty * inst.lot_size)
        else:
            self._spend(info.quote, -fill.fee)

    def _spend(self, asset: int, delta: float) -> None:
        if asset >= 0 and self._k.balance(asset) is not None:
            self._k.add_balance(asset, delta)

    def set_position(self, venue: str, symbol: str, lots: int) -> None:
        """Recovery: the position as the journal/venue says it is."""
        self._k.set_position(self.index(venue, symbol), lots)

    def position(self, venue: str, symbol: str) -> int:
        return self._k.symbol(self.index(venue, symbol))["pos"]

    def open_lots(self, venue: str, symbol: str) -> tuple[int, int]:
        """(working buy lots, working sell lots) as the gate counts them."""
        s = self._k.symbol(self.index(venue, symbol))
        return s["open_buy"], s["open_sell"]

    def set_balance(self, venue: str, asset: str, free: float) -> None:
        """The venue's free balance of an asset (it already excludes what the venue holds for
        working orders, so the gate's own reservations restart from here)."""
        if isinstance(free, bool) or not isinstance(free, (int, float)) or not math.isfinite(free):
            raise ValueError(f"balance {venue}:{asset} = {free!r}: expected a finite number")
        self._k.set_balance(self._asset(venue, asset), float(free))

    def balance(self, venue: str, asset: str) -> float | None:
        a = self._assets.get((venue, asset))
        return None if a is None else self._k.balance(a)

    # -- trading state -------------------------------------------------------------------------
    @property
    def state(self) -> TradingState:
        return TradingState(self._k.state)

    def set_state(self, state: TradingState, reason: str) -> None:
        """Switch the trading state (logged, listeners told). Leaving HALTED while the kill
        switch's latch is held is refused: rearm the kill switch first."""
        state = TradingState(state)
        if self._latched and state is not TradingState.HALTED:
            raise RuntimeError(f"risk gate: the kill switch holds the gate HALTED; cannot go "
                               f"{state.name} ({reason}) before KillSwitch.rearm()")
        old = self.state
        self._k.set_state(int(state))
        self.state_reason = reason
        if state is not old:
            log.warning("risk gate: trading state %s -> %s: %s", old.name, state.name, reason)
            for fn in self._state_listeners:
                fn(state, reason)

    def on_state_change(self, fn: Callable[[TradingState, str], None]) -> None:
        """fn(new_state, reason) after every change of the global trading state."""
        self._state_listeners.append(fn)

    def latch_halt(self, reason: str) -> None:
        """HALTED, and held there until release_latch() (the kill switch's trip)."""
        self._latched = False
        self.set_state(TradingState.HALTED, reason)
        self._latched = True

    def release_latch(self) -> None:
        self._latched = False

    @property
    def latched(self) -> bool:
        return self._latched

    def strategy_state(self, strategy_id: str) -> TradingState:
        return TradingState(self._strategy_state.get(strategy_id, 0))

    def set_strategy_state(self, strategy_id: str, state: TradingState, reason: str) -> None:
        """Raise (or restore) the state of one strategy's orders; the global state still
        applies (an order sees the stricter of the two)."""
        state = TradingState(state)
        old = self.strategy_state(strategy_id)
        if state is TradingState.ACTIVE:
            self._strategy_state.pop(strategy_id, None)
        else:
            self._strategy_state[strategy_id] = int(state)
        if state is not old:
            log.warning("risk gate: strategy %s state %s -> %s: %s", strategy_id, old.name,
                        state.name, reason)

    @property
    def reconciling(self) -> bool:
        return self._k.reconciling

    @reconciling.setter
    def reconciling(self, value: bool) -> None:
        if bool(value) != self._k.reconciling:
            log.warning("risk gate: reconciling %s", "on: new orders denied" if value
                        else "off")
        self._k.reconciling = bool(value)

    # -- clusters ----------------------------------------------------------------------------------
    def set_cluster_limits(self, clusters: Iterable[ClusterLimit]) -> None:
        """Replace every cluster: correlated symbols whose signed exposures count together
        against the cluster's limit (risk/correlation.py computes them). All are validated
        before any is applied."""
        clusters = list(clusters)
        seen: set[tuple[str, str]] = set()
        for c in clusters:
            if not isinstance(c, ClusterLimit):
                raise TypeError(f"cluster must be a ClusterLimit, got {type(c).__name__}")
            for m in c.members:
                self.index(*m)
                if m in seen:
                    raise ValueError(f"{m[0]}:{m[1]} is in two clusters")
                seen.add(m)
        self._k.clear_clusters()
        for cid, c in enumerate(clusters):
            for m, s in zip(c.members, c.signs):
                self._k.set_cluster(self._index[m], cid, s, c.limit)
        log.info("risk gate: %d correlation clusters set", len(clusters))

    # -- counters ------------------------------------------------------------------------------
    @property
    def denials(self) -> dict[DenyReason, int]:
        """Denials per reason since start (every reason, zeros included)."""
        c = self._k.counters()
        return {r: c[r.value] for r in _REASONS[1:]}

    @property
    def passed(self) -> int:
        """Checks that passed (orders and cancels)."""
        return self._k.counters()[0]
