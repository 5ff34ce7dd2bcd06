"""The execution engine: the one path from a strategy's order to a venue, and back.

`submit` is synchronous and allocation-light: OMS registration (shape and idempotency checks),
the compiled risk gate, one journal `write()` of the intent, then `venue.submit`. Venue answers
arrive through the VenueListener methods below (this class is the venues' only listener), become
validated transitions in the OrderManager, update the Portfolio and the gate's bookkeeping, and
are delivered to the order's strategy by a direct call to the handler it subscribed (no queue,
no asyncio hop). Listeners registered with `add_listener` (breakers, metrics) see every event.
Events are DENIED (from the gate) and every venue answer. SUBMITTED goes to listeners only
(after the send, and only when there are listeners); a strategy has `submit`'s return (the
order, status SUBMITTED) instead: one event object less on the order path.

A venue callback never raises into the venue: an answer that cannot be applied (unknown order,
impossible transition, overfill) is recorded as a `Problem` (engine.problems, and the optional
`on_problem` callback) and changes nothing.

Kill switch: `kill(flatten)` cancels every open order; orders still in flight (SUBMITTED, not yet
acknowledged) are cancelled the moment their acknowledgement arrives; with `flatten` every
position is closed with reduce-only market orders, and any fill that still reaches a position
afterwards (an order that filled before its cancel landed) is flattened again, until `rearm()`.
Flatten orders do not go through the gate's trading-state check (the gate is HALTED by then and
they are what HALTED asks for); they are reduce-only and sized to the position.
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from tradecore.core.clock import Clock
from tradecore.core.events import Problem, Trade
from tradecore.core.instrument import Instrument
from tradecore.core.orders import (OPEN, DenyReason, Fill, Order, OrderEvent, OrderStatus,
                                   OrderType, Side, TimeInForce, TradingState)
from tradecore._fast.orderpath import OrderPath
from tradecore.execution.oms import ExecutionError, LateFill, OrderManager, UnknownOrder
from tradecore.execution.order_layout import ORDER_LAYOUT, ORDER_SPEC
from tradecore.execution.portfolio import Portfolio
from tradecore.execution.state import FastStatus, InvalidTransition
from tradecore.execution.venue import VenueClient
from tradecore.risk.stops import PROTECTION_STRATEGY, ProtectionManager

__all__ = ["ExecutionEngine", "KILL_STRATEGY"]

KILL_STRATEGY = "risk.kill-switch"
S = FastStatus        # OrderStatus members, fast to look up (state.py)
_ERRORS = (ExecutionError, InvalidTransition)   # a venue answer we cannot apply
_SUBMITTED = OrderStatus.SUBMITTED
_SAME_GRID = (1, 1)          # book ticks are instrument ticks (checked by identity)
# submit is the compiled OrderPath (_fast/orderpath.pxd); False: the method, its reference
# (tests run both)
COMPILED_SUBMIT = True


class ExecutionEngine:
    def __init__(self, gate, venues: dict[str, VenueClient], journal, clock: Clock,
                 instruments: dict[tuple[str, str], Instrument],
                 on_problem: Callable[[Problem], None] | None = None) -> None:
        self.gate = gate
        self.venues = venues
        self.journal = journal
        # after each send: the journal's next pages made writable (execution/journal.py)
        self._journal_prepare = getattr(journal, "prepare", None) or (lambda: None)
        self.clock = clock
        self.instruments = instruments
        self.oms = OrderManager(clock, journal, instruments, on_gtd_due=self._gtd_due)
        self.portfolio = Portfolio(instruments)
        self._positions = self.portfolio.positions      # the live dict (on_book marks)
        # ids unique across restarts (a recovered journal holds the previous process's ids)
        self.protection = ProtectionManager(
            self, instruments, id_prefix=f"prot{clock.time_ns():x}",
            on_problem=lambda t: self._problem("", "", "protection", t),
            on_change=self._on_protection)
        self._handlers: dict[str, Callable[[OrderEvent], None]] = {
            PROTECTION_STRATEGY: self.protection.on_order_event}
        self._listeners: list[Callable[[Order, OrderEvent], None]] = []
        self._cancel_on_ack: set[str] = set()
        self._tick_conv: dict[tuple[str, str], tuple[int, int]] = {}
        self._is_open = tuple(st in OPEN for st in OrderStatus)
        # a metrics buffer (_fast/probes.Samples, api/metrics.py attach) that the duration of
        # each gate check is pushed to; the compiled submit has its own (OrderPath.risk_samples)
        self.risk_samples = None
        self._flattening = False
        self._flatten_ids = itertools.count(1)
        self.on_problem = on_problem
        self.problems: list[Problem] = []
        self.journal_denials = 0                 # orders denied JOURNAL_UNWRITABLE (_unjournaled)
        self._risk_state = gate.state
        # on_book notes mids in the gate's pending dict (one store per change) and submit
        # flushes them before the check; a gate without one (test doubles) gets update_mid
        pend = getattr(gate, "pending_mids", None)
        self._mids: dict[tuple[str, str], tuple[float, int]] = pend if pend is not None else {}
        self._flush_mids = gate.flush_mids if pend is not None else self._push_mids
        self._protected = self.protection.by_key
        if hasattr(gate, "on_state_change"):        # the RiskGate tells us: journal at once
            gate.on_state_change(self._on_gate_state)
        for v in venues.values():
            v.set_listener(self)
        if COMPILED_SUBMIT and type(self).submit is ExecutionEngine.submit:
            # the compiled submit (_fast/orderpath.pxd) shadows the method on the instance;
            # the method stays its reference, and where it hands an order over
            oms = self.oms
            self.submit = OrderPath(
                ORDER_LAYOUT, ORDER_SPEC, gate, oms.orders, oms.open, venues, self._mids,
                self._flush_mids, clock.time_ns, self._journal_intent, self._journal_prepare,
                gate.on_order_open, self._listeners, self._notify_submitted,
                ExecutionEngine.submit.__get__(self), self._deny, self._send,
                S.INITIALIZED, S.SUBMITTED, self._is_open,
                getattr(oms.journal, "intent_parts", lambda: None)()).submit

    # -- wiring -------------------------------------------------------------------------
    def subscribe(self, strategy_id: str, handler: Callable[[OrderEvent], None]) -> None:
        """Order events of orders with this strategy_id go to `handler`, by direct call."""
        if strategy_id in self._handlers:
            raise ValueError(f"strategy {strategy_id!r} already has an order-event handler")
        self._handlers[strategy_id] = handler

    def add_listener(self, fn: Callable[[Order, OrderEvent], None]) -> None:
        """fn(order, event) for every event of every order (breakers, metrics, reports)."""
        self._listeners.append(fn)

    def attach_kill_switch(self, kill_switch) -> None:
        """Make this engine the kill switch's action (risk.breakers.KillSwitch: on_kill /
        on_rearm callbacks)."""
        kill_switch.on_kill(self.kill)
        kill_switch.on_rearm(self.rearm)

    # -- OrderPort (for risk.stops) -------------------------------------------------------
    def position_lots(self, venue: str, symbol: str) -> int:
        return self.portfolio.lots(venue, symbol)

    def avg_entry_price(self, venue: str, symbol: str) -> float:
        p = self.portfolio.positions.get((venue, symbol))
        return p.avg_price if p is not None else 0.0

    def time_ns(self) -> int:
        return self.clock.time_ns()

    def compact_orders(self) -> bool:
        """Give the OMS's orders dict room again when it is due (OrderManager.compact), and
        hand the new dict to the compiled submit, which holds it. Off the tick path: the node
        calls it after retiring orders. True when it compacted."""
        if not self.oms.compact_due():
            return False
        self.oms.compact()
        path = getattr(self.submit, "__self__", None)
        if isinstance(path, OrderPath):
            path.set_orders(self.oms.orders)
        return True

    # -- the order path -------------------------------------------------------------------
    def submit(self, order: Order) -> Order:
        """Risk-check and send. Returns the order (DENIED with its reason when the gate said
        no). Raises OrderSpecError / DuplicateOrderId for an order that is malformed or reuses
        an id with different content (a programming error, not a market condition)."""
        o, new = self.oms.add(order)
        if not new:
            return o
        if self._mids:
            self._flush_mids()              # the gate reads mids at check time (on_book)
        rs = self.risk_samples
        if rs is None:
            reason = self.gate.check(o)
        else:
            t = time.perf_counter_ns()
            reason = self.gate.check(o)
            rs.add(time.perf_counter_ns() - t)
        if reason:
            return self._deny(o, reason)
        return self._send(o)

    def _deny(self, o: Order, reason) -> Order:
        o.deny_reason = DenyReason(reason)
        self._emit(o, self.oms.deny(o, o.deny_reason.name))
        return o

    def _send(self, o: Order) -> Order:
        venue = self.venues.get(o.venue)
        if venue is None:
            o.deny_reason = DenyReason.UNKNOWN_INSTRUMENT
            self._emit(o, self.oms.deny(o, f"no venue client for {o.venue!r}"))
            return o
        try:
            self.oms.submitted(o)             # journals the intent before anything leaves
        except OSError as e:
            return self._unjournaled(o, e)
        venue.submit(o)
        # the gate's open-order bookkeeping after the send (it is not needed to send, and the
        # next check comes after this returns); skipped if the venue already answered
        # synchronously with a terminal state (a test double or an instant local reject)
        if self._is_open[o.status]:
            self.gate.on_order_open(o)
        if self._listeners:
            self._notify_submitted(o)
        self._journal_prepare()
        return o

    def _journal_intent(self, o: Order) -> bool:
        """The journal's own intent writer (the compiled submit's, when its line refuses the
        record). False when the journal could not take it: the order is denied, never sent."""
        try:
            self.oms.journal.intent(o)
        except OSError as e:
            self._unjournaled(o, e)
            return False
        return True

    def _unjournaled(self, o: Order, e: OSError) -> Order:
        """An order whose intent the journal could not record (its twin or file system full,
        an I/O error) is not sent: an order the journal does not know would be lost at the
        next restart. Denied (JOURNAL_UNWRITABLE) with a Problem naming the error; every
        order after it meets the same until the journal has room again."""
        self.journal_denials += 1
        self._problem(o.venue, o.symbol, "journal could not record the intent",
                      f"{o.client_order_id}: {e}")
        return self._deny(o, DenyReason.JOURNAL_UNWRITABLE)

    def _notify_submitted(self, o: Order) -> None:
        """SUBMITTED for listeners (e.g. the reject-rate breaker counts sends), made after the
        bytes left and only when someone listens."""
        ev = OrderEvent(o.client_order_id, _SUBMITTED, o.ts_created_ns)
        for fn in self._listeners:
            fn(o, ev)

    def cancel(self, client_order_id: str) -> DenyReason:
        """Ask the venue to cancel. A terminal order or one already being cancelled is left
        alone; an order not yet acknowledged is cancelled as soon as its ack arrives (a cancel
        sent before the venue knows the order would be rejected as unknown). Returns the
        gate's cancel verdict (DenyReason.NONE when sent or nothing to do)."""
        o = self.oms[client_order_id]
        if o.is_terminal or o.status is S.PENDING_CANCEL:
            return DenyReason.NONE
        r = self.gate.check_cancel(o)
        if r:
            r = DenyReason(r)
            self._problem(o.venue, o.symbol, "cancel denied",
                          f"{client_order_id}: {r.name}")
            return r
        if o.status is S.SUBMITTED or o.status is S.INITIALIZED:
            self._cancel_on_ack.add(client_order_id)
            return DenyReason.NONE
        ev = self.oms.cancel_requested(o)
        if ev is not None:
            self._emit(o, ev)
            self.venues[o.venue].cancel(o)
        return DenyReason.NONE

    def cancel_all(self, venue: str | None = None, symbol: str | None = None) -> int:
        """Cancel every open order (of a venue / symbol); returns how many were asked."""
        n = 0
        for o in self.oms.open_orders(venue, symbol):
            if o.status is not S.PENDING_CANCEL:
                self.cancel(o.client_order_id)
                n += 1
        return n

    def flatten(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        """Close positions with reduce-only market orders (not gated: see module docstring)."""
        out = []
        for (v, s), p in list(self.portfolio.positions.items()):
            if p.lots == 0 or (venue is not None and v != venue) or (
                    symbol is not None and s != symbol):
                continue
            if any(o.strategy_id == KILL_STRATEGY for o in self.oms.open_orders(v, s)):
                continue          # a flatten order is already working there
            o = Order(f"flat-{self.clock.time_ns()}-{next(self._flatten_ids)}", v, s,
                      Side.SELL if p.lots > 0 else Side.BUY, OrderType.MARKET, abs(p.lots),
                      tif=TimeInForce.IOC, reduce_only=True, strategy_id=KILL_STRATEGY,
                      tag="flatten")
            self.oms.add(o)
            out.append(self._send(o))
        return out

    def kill(self, flatten: bool = False) -> None:
        """The kill switch's action (the KillSwitch has already set the gate HALTED)."""
        self.record_risk_state()
        self.cancel_all()
        if flatten:
            self._flattening = True
            self.flatten()

    def rearm(self) -> None:
        """The kill switch was re-armed: stop re-flattening."""
        self._flattening = False
        self.record_risk_state()

    def set_balance(self, venue: str, asset: str, amount: float) -> None:
        """An account balance from the venue (start, restart, periodic sync): portfolio, gate
        and journal."""
        self.portfolio.set_balance(venue, asset, amount)
        self.gate.set_balance(venue, asset, amount)
        self.journal.balance(venue, asset, amount, self.clock.time_ns())

    def record_risk_state(self, reason: str = "") -> None:
        """Journal the gate's trading state if it changed since the last record (breakers and
        the kill switch change it on the gate; this keeps the journal in step)."""
        st = self.gate.state
        if st != self._risk_state:
            self._risk_state = st
            self.journal.risk_state(TradingState(st), reason, self.clock.time_ns())

    def _on_protection(self, key: tuple[str, str], p) -> None:
        now = self.clock.time_ns()
        if p is None:
            self.journal.protection_removed(key[0], key[1], now)
        else:
            self.journal.protection(p.venue, p.symbol, p.direction, p.stop_ticks, p.tp_ticks,
                                    p.trail_ticks, p.native, now)

    def _on_gate_state(self, state: TradingState, reason: str) -> None:
        if state == self._risk_state:
            return            # already on record (e.g. recovery restoring the journal's state)
        self._risk_state = state
        self.journal.risk_state(TradingState(state), reason, self.clock.time_ns())

    def _gtd_due(self, o: Order) -> None:
        ev = self.oms.cancel_requested(o)
        if ev is not None:
            self._emit(o, ev)
            self.venues[o.venue].cancel(o)

    # -- market data ----------------------------------------------------------------------
    def on_book(self, venue: str, symbol: str, book) -> None:
        """After every change of a book: the gate's mid (noted, given to the kernel at the next
        order: risk/gate.py "market data"), the position's mark, protective stops (only for a
        symbol that has one)."""
        self.on_book_key((venue, symbol), book)

    def on_book_key(self, key: tuple[str, str], book) -> None:
        """on_book for a caller that holds the (venue, symbol) key already (the node's book
        hook makes one per symbol, once): no key built per change, and the dicts it fills find
        the same key object again (identity, no tuple compare)."""
        mid = book.mid()                         # None when a side is empty
        if mid is None:
            return
        self._mids[key] = (mid, book.ts_ns or self.clock.time_ns())
        pos = self._positions.get(key)          # Portfolio.mark without its call and key
        if pos is not None:
            pos.mark = mid
        else:
            self.portfolio.mark(key[0], key[1], mid)
        if key in self._protected:
            self._on_book_protected(key, book)

    def book_parts(self) -> tuple:
        """What the node's compiled book hook (_fast/fanout.pxd) does on_book_key's work with:
        (mids, positions, portfolio mark, protected keys, the stops' part, clock, the gate's
        mid target or None) - the live objects, on_book_key being the reference."""
        target = None
        if hasattr(self.gate, "mid_target") and self._mids is self.gate.pending_mids:
            target = self.gate.mid_target()      # mids straight into the gate's kernel
        return (self._mids, self._positions, self.portfolio.mark, self._protected,
                self._on_book_protected, self.clock.time_ns, target)

    def _on_book_protected(self, key: tuple[str, str], book) -> None:
        """The protective stops' part of on_book, for a symbol that has some."""
        venue, symbol = key
        bt, _, at, _ = book.top_ticks()
        conv = self._tick_conv.get(key)
        if conv is None:
            conv = self._tick_conv[key] = self._book_to_inst(key, book)
        if conv is not _SAME_GRID:
            num, den = conv                      # exact: bid rounded down, ask up
            bt = bt * num // den
            at = -(-at * num // den)
        self.protection.on_market(venue, symbol, bt, at)

    def _push_mids(self) -> None:
        """Pending mids to a gate that has no pending dict of its own (update_mid each)."""
        for (venue, symbol), (mid, ts) in self._mids.items():
            self.gate.update_mid(venue, symbol, mid, ts)
        self._mids.clear()

    def _book_to_inst(self, key: tuple[str, str], book) -> tuple[int, int]:
        """Book ticks -> instrument ticks as an exact ratio (the book's grid comes from the
        exchange's text and may be finer or coarser than the instrument's)."""
        inst = self.instruments.get(key)
        if inst is None or book.tick_size == inst.tick_size:
            return _SAME_GRID
        r = Fraction(Decimal(repr(book.tick_size))) / Fraction(Decimal(inst.tick))
        return r.numerator, r.denominator

    def on_trade(self, venue: str, symbol: str, trade: Trade) -> None:
        inst = self.instruments.get((venue, symbol))
        if inst is None or (venue, symbol) not in self.protection.by_key:
            return                 # only protective stops read public trades here
        try:
            px = inst.ticks(trade.price)
        except ValueError as e:
            self._problem(venue, symbol, "trade price off grid", str(e))
            return
        self.protection.on_trade(venue, symbol, px)

    # -- VenueListener --------------------------------------------------------------------
    def on_order_accepted(self, client_order_id: str, venue_order_id: str, ts_ns: int) -> None:
        try:
            ev = self.oms.accepted(client_order_id, venue_order_id, ts_ns)
        except _ERRORS as e:
            self._venue_problem(client_order_id, "accept", e)
            return
        o = self.oms.orders[client_order_id]
        if ev is not None:
            self._emit(o, ev)
        if client_order_id in self._cancel_on_ack:
            self._cancel_on_ack.discard(client_order_id)
            if o.is_open:
                self.cancel(client_order_id)

    def on_order_rejected(self, client_order_id: str, reason: str, ts_ns: int) -> None:
        self._done(client_order_id, "reject", lambda: self.oms.rejected(client_order_id,
                                                                        reason, ts_ns))

    def on_order_canceled(self, client_order_id: str, reason: str, ts_ns: int) -> None:
        self._done(client_order_id, "cancel", lambda: self.oms.canceled(client_order_id,
                                                                        reason, ts_ns))

    def on_order_expired(self, client_order_id: str, ts_ns: int) -> None:
        self._done(client_order_id, "expire", lambda: self.oms.expired(client_order_id, ts_ns))

    def on_order_triggered(self, client_order_id: str, ts_ns: int) -> None:
        try:
            ev = self.oms.triggered(client_order_id, ts_ns)
        except _ERRORS as e:
            self._venue_problem(client_order_id, "trigger", e)
            return
        if ev is not None:
            self._emit(self.oms.orders[client_order_id], ev)

    def on_cancel_rejected(self, client_order_id: str, reason: str, ts_ns: int) -> None:
        try:
            ev = self.oms.cancel_rejected(client_order_id, reason, ts_ns)
        except _ERRORS as e:
            self._venue_problem(client_order_id, "cancel-reject", e)
            return
        if ev is not None:
            self._emit(self.oms.orders[client_order_id], ev)

    def on_fill(self, fill: Fill) -> None:
        try:
            ev = self.oms.apply_fill(fill)
        except (UnknownOrder, LateFill) as e:
            # the venue traded: the money moved whatever our order record says
            self._problem(fill.venue, fill.symbol, type(e).__name__, str(e))
            self._book_fill(fill)
            self._after_fill(fill)
            return
        except _ERRORS as e:
            self._venue_problem(fill.client_order_id, "fill", e)
            return
        if ev is None:
            return            # seen before (reconnect replay, recovery): applied once already
        self._book_fill(fill)
        o = self.oms.orders[fill.client_order_id]
        if ev.status is S.FILLED:
            self.gate.on_order_done(o)
            self._cancel_on_ack.discard(fill.client_order_id)
        self._emit(o, ev)
        self._after_fill(fill)

    # -- internals ------------------------------------------------------------------------
    def _book_fill(self, fill: Fill) -> None:
        self.portfolio.apply_fill(fill)
        self.gate.on_fill(fill)

    def _after_fill(self, fill: Fill) -> None:
        lots = self.portfolio.lots(fill.venue, fill.symbol)
        self.protection.on_position(fill.venue, fill.symbol, lots)
        if self._flattening and lots != 0:
            self.flatten(fill.venue, fill.symbol)

    def _done(self, cid: str, what: str, step: Callable[[], OrderEvent]) -> None:
        try:
            ev = step()
        except _ERRORS as e:
            self._venue_problem(cid, what, e)
            return
        self._cancel_on_ack.discard(cid)
        o = self.oms.orders[cid]
        self.gate.on_order_done(o)
        self._emit(o, ev)

    def _emit(self, o: Order, ev: OrderEvent) -> None:
        h = self._handlers.get(o.strategy_id)
        if h is not None:
            try:
                h(ev)
            except Exception as e:  # a strategy's bug must not stop order processing
                self._problem(o.venue, o.symbol, "handler raised",
                              f"{o.strategy_id} on {ev.status.name} of "
                              f"{o.client_order_id}: {e!r}")
        for fn in self._listeners:
            fn(o, ev)

    def _venue_problem(self, cid: str, what: str, e: Exception) -> None:
        o = self.oms.orders.get(cid)
        self._problem(o.venue if o else "", o.symbol if o else "", f"venue {what} not applied",
                      str(e))

    def _problem(self, venue: str, symbol: str, reason: str, detail: str) -> None:
        p = Problem(venue, symbol, reason, detail)
        self.problems.append(p)
        if self.on_problem is not None:
            self.on_problem(p)
