"""The order book of record: every order of the process and its validated state.

The OrderManager owns `Order` objects. It checks an order's shape when it is created, turns
venue answers into state-machine transitions (execution/state.py), applies fills exactly once per
(venue, trade_id), and writes every transition and fill to the journal before returning, so
that what callers act on is already on record. It knows nothing of venues, the risk gate or
strategies: the ExecutionEngine wires those.

Rules that are easy to get wrong, decided here:
- Client order ids are idempotent: creating an order whose id exists returns the existing order
  when the content (venue, symbol, side, type, quantities, prices, flags) is the same, and is a
  `DuplicateOrderId` error when it differs.
- A fill seen again (same venue and trade id) is ignored (`apply_fill` returns None).
- A fill that would take `filled_qty` over `qty` is an `Overfill` error and is not applied.
- A fill for an order already terminal (canceled/expired before its last fill reached us) is a
  `LateFill` error: the order does not change state (terminal states are final), the caller
  decides what to do with the money (the engine books it in the portfolio: it happened).
- A partial fill while a cancel is pending keeps PENDING_CANCEL; if the cancel is then rejected
  the order returns to the status it had before the cancel was asked (updated for fills).
- IOC and FOK orders (and market orders) never rest: a venue "canceled" for them is recorded
  as EXPIRED, the status of an unfilled remainder. A FOK that fills partially is reported
  (`problems`) and still applied: the venue did it.
- GTD: when the order is accepted a timer is set on the Clock at `expire_ns`; if the order is
  still open then, the `on_gtd_due` callback (the engine: it cancels at the venue) is called and
  the cancel's acknowledgement is recorded as EXPIRED.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable

from tradecore.core.clock import Clock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import (OPEN, Fill, Order, OrderEvent, OrderStatus, OrderType,
                                   Side, TimeInForce)
from tradecore.execution.state import FastStatus, InvalidTransition, transition
from tradecore.execution.order_layout import spec_plain_ok
from tradecore._fast.orderpath import presized_dict

__all__ = ["OrderManager", "ExecutionError", "DuplicateOrderId", "OrderSpecError",
           "UnknownOrder", "Overfill", "LateFill", "InvalidTransition"]

S = FastStatus        # OrderStatus members, fast to look up (state.py)
# the fewest new orders `orders` has room for after a compact (and at start)
COMPACT_MIN_HEADROOM = 4096
# Per-type and per-status facts as tuples indexed by the enums' int values: on the order path,
# `member in frozenset` would call Enum.__hash__ (Python code) every time.
_PRICED = tuple(t in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
                for t in OrderType)
_TRIGGERED_TYPES = tuple(t in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT,
                               OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT)
                         for t in OrderType)
_NO_REST = tuple(t in (TimeInForce.IOC, TimeInForce.FOK) for t in TimeInForce)
_IS_OPEN = tuple(s in OPEN for s in OrderStatus)
# Enum members as module constants: `OrderType.LIMIT` is a metaclass attribute lookup that costs
# ~150 ns on Python 3.11; a global costs ~20.
_LIMIT, _TRAILING, _GTD = OrderType.LIMIT, OrderType.TRAILING_STOP, TimeInForce.GTD
_INITIALIZED, _SUBMITTED = S.INITIALIZED, S.SUBMITTED
# fields that define an order's content (idempotency compares these)
_CONTENT = ("venue", "symbol", "side", "type", "qty", "price", "trigger_price", "tif",
            "post_only", "reduce_only", "expire_ns", "trail_ticks", "strategy_id")


class ExecutionError(Exception):
    """Base of the OMS's errors: each says which order and why, and the OMS changed nothing."""


class DuplicateOrderId(ExecutionError):
    pass


class OrderSpecError(ExecutionError, ValueError):
    pass


class UnknownOrder(ExecutionError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


class Overfill(ExecutionError):
    pass


class LateFill(ExecutionError):
    pass


def check_spec(o: Order, now_ns: int) -> None:
    """Raise OrderSpecError when the order's fields contradict each other or its type.

    One boolean expression answers for a well-formed order (the order path); only a bad one
    goes through `_explain`, which finds the first rule broken and names it."""
    t = o.type
    tif = o.tif
    if (type(t) is OrderType and type(tif) is TimeInForce and o.qty > 0 and o.client_order_id
            and type(o.side) is Side
            and o.price >= 0 and (o.price > 0) is _PRICED[t]
            and o.trigger_price >= 0 and (o.trigger_price > 0) is _TRIGGERED_TYPES[t]
            and o.trail_ticks >= 0 and (o.trail_ticks > 0) is (t is _TRAILING)
            and (not o.post_only or (t is _LIMIT and not _NO_REST[tif]))
            and ((o.expire_ns > now_ns) if tif is _GTD else o.expire_ns == 0)):
        return
    _explain(o, now_ns)
    raise OrderSpecError(f"order {o.client_order_id!r}: malformed ({o!r})")


def _explain(o: Order, now_ns: int) -> None:
    def bad(why: str) -> OrderSpecError:
        return OrderSpecError(f"order {o.client_order_id!r} ({o.type.name} {o.side.name} "
                              f"{o.venue}:{o.symbol}): {why}")
    if not o.client_order_id:
        raise bad("client_order_id is empty")
    if type(o.side) is not Side or type(o.type) is not OrderType or (
            type(o.tif) is not TimeInForce):
        raise OrderSpecError(f"order {o.client_order_id!r}: side {o.side!r}, type {o.type!r} "
                             f"and tif {o.tif!r} must be Side, OrderType and TimeInForce")
    if o.qty <= 0:
        raise bad(f"qty {o.qty} lots must be > 0")
    t = o.type
    if o.price < 0 or o.trigger_price < 0 or o.trail_ticks < 0:
        raise bad(f"negative price {o.price}, trigger_price {o.trigger_price} or trail_ticks "
                  f"{o.trail_ticks}")
    if _PRICED[t]:
        if o.price <= 0:
            raise bad(f"a {t.name} order needs a limit price > 0 ticks, got {o.price}")
    elif o.price != 0:
        raise bad(f"a {t.name} order has no limit price, got {o.price} ticks")
    if _TRIGGERED_TYPES[t]:
        if o.trigger_price <= 0:
            raise bad(f"a {t.name} order needs a trigger_price > 0 ticks, got {o.trigger_price}")
    elif t is OrderType.TRAILING_STOP:
        if o.trail_ticks <= 0:
            raise bad(f"a TRAILING_STOP needs trail_ticks > 0, got {o.trail_ticks}")
    elif o.trigger_price != 0:
        raise bad(f"a {t.name} order has no trigger, got trigger_price {o.trigger_price}")
    if o.trail_ticks and t is not OrderType.TRAILING_STOP:
        raise bad(f"trail_ticks {o.trail_ticks} is only for TRAILING_STOP")
    if o.post_only:
        if t is not OrderType.LIMIT:
            raise bad("post_only is only for LIMIT orders")
        if _NO_REST[o.tif]:
            raise bad(f"post_only cannot be {o.tif.name}: a post-only order must rest")
    if o.tif is TimeInForce.GTD:
        if o.expire_ns <= now_ns:
            raise bad(f"GTD expire_ns {o.expire_ns} is not after now {now_ns}")
    elif o.expire_ns:
        raise bad(f"expire_ns is only for GTD, tif is {o.tif.name}")


class OrderManager:
    """Orders by client id, the open ones, and the fills applied."""

    def __init__(self, clock: Clock, journal, instruments: dict[tuple[str, str], Instrument],
                 on_gtd_due: Callable[[Order], None] | None = None):
        self.clock = clock
        self.instruments = instruments
        self.journal = journal
        self.on_gtd_due = on_gtd_due
        # presized, and rebuilt with room to spare by compact() (off the path): an insert that
        # fills a dict's table copies the table whole, on the submit that made it
        self.orders: dict[str, Order] = presized_dict(COMPACT_MIN_HEADROOM)
        self._headroom = COMPACT_MIN_HEADROOM          # room orders had at the last compact
        self._compacted_at = 0                          # _added() then
        self.open: dict[str, Order] = {}
        self.fills: dict[str, list[Fill]] = {}          # by client order id
        self._seen_trades: set[tuple[str, str]] = set()
        self._seen_at: deque[tuple[int, tuple[str, str]]] = deque()   # (clock ns, key), in order
        self.retired = 0                                # orders retired so far (retire())
        self._pre_cancel: dict[str, OrderStatus] = {}
        self._expiring: set[str] = set()
        self._gtd_timers: dict[str, object] = {}
        self.problems: list[str] = []
        self.last_fill_ts_ns = 0

    # -- creation ---------------------------------------------------------------------
    def get(self, cid: str) -> Order | None:
        return self.orders.get(cid)

    def __getitem__(self, cid: str) -> Order:
        o = self.orders.get(cid)
        if o is None:
            raise UnknownOrder(f"no order with client_order_id {cid!r}")
        return o

    def add(self, order: Order) -> tuple[Order, bool]:
        """Register a new order (status INITIALIZED). Returns (order, True) when new, or
        (existing, False) for an idempotent resubmission of the same id and content."""
        cid = order.client_order_id
        old = self.orders.get(cid)
        if old is not None:
            if old is order:
                return old, False
            diff = [f for f in _CONTENT if getattr(old, f) != getattr(order, f)]
            if diff:
                raise DuplicateOrderId(
                    f"client_order_id {cid!r} is already used by a different order "
                    f"(differs in {', '.join(diff)})")
            return old, False
        if order.status is not _INITIALIZED:
            raise OrderSpecError(f"order {cid!r}: a new order must be INITIALIZED, "
                                 f"is {order.status.name}")
        now = self.clock.time_ns()
        if not spec_plain_ok(order, now):      # compiled; anything else: the reference
            check_spec(order, now)
        if not order.ts_created_ns:
            order.ts_created_ns = now
        order.ts_last_ns = order.ts_created_ns
        self.orders[cid] = order
        return order, True

    def adopt(self, order: Order, status: OrderStatus, ts_ns: int) -> None:
        """Take over an order the venue has and we did not know (recovery): journaled as an
        intent plus its venue status, so the next restart knows it."""
        if order.client_order_id in self.orders:
            raise DuplicateOrderId(f"cannot adopt {order.client_order_id!r}: already known")
        order.status = S.INITIALIZED
        transition(order, S.SUBMITTED, ts_ns)
        self.orders[order.client_order_id] = order
        self.open[order.client_order_id] = order
        self.journal.intent(order)          # an intent record stands for SUBMITTED
        if status is not S.SUBMITTED:
            self._to(order, status, ts_ns, venue_order_id=order.venue_order_id,
                     reason="adopted from venue")

    # -- our own steps ----------------------------------------------------------------
    def deny(self, order: Order, reason_text: str) -> OrderEvent:
        transition(order, S.DENIED, self.clock.time_ns())
        order.reason_text = reason_text
        return OrderEvent(order.client_order_id, S.DENIED, order.ts_last_ns, reason=reason_text)

    def submitted(self, order: Order) -> None:
        """The order is about to go to the venue: write the intent (which is also the record of
        SUBMITTED) and mark it open. No event: the caller of submit has the order back in hand
        with status SUBMITTED (an event object per order would cost the path ~1 us)."""
        # the intent first: when the journal cannot take it (OSError), nothing has changed
        self.journal.intent(order)
        if order.status is _INITIALIZED:      # the order path: always a legal step
            order.status = _SUBMITTED
            order.ts_last_ns = order.ts_created_ns or order.ts_last_ns
        else:
            transition(order, _SUBMITTED, order.ts_created_ns)
        self.open[order.client_order_id] = order

    def cancel_requested(self, order: Order) -> OrderEvent | None:
        """PENDING_CANCEL, remembering where to go back to if the cancel is rejected. None when
        a cancel is already pending."""
        if order.status is S.PENDING_CANCEL:
            return None
        prev = order.status
        self._to(order, S.PENDING_CANCEL, self.clock.time_ns())
        self._pre_cancel[order.client_order_id] = prev
        return OrderEvent(order.client_order_id, S.PENDING_CANCEL, order.ts_last_ns)

    # -- venue answers ----------------------------------------------------------------
    def accepted(self, cid: str, venue_order_id: str, ts_ns: int) -> OrderEvent | None:
        o = self[cid]
        if o.status in (S.ACCEPTED, S.PARTIALLY_FILLED, S.TRIGGERED, S.PENDING_CANCEL,
                        S.FILLED):
            # an ack that lost the race with the order's fills (or with our cancel request)
            # adds nothing but the venue id: not a transition
            if venue_order_id:
                o.venue_order_id = venue_order_id
            return None
        self._to(o, S.ACCEPTED, ts_ns, venue_order_id=venue_order_id)
        if venue_order_id:
            o.venue_order_id = venue_order_id
        if o.tif is TimeInForce.GTD:
            self.arm_gtd(o)
        return OrderEvent(cid, S.ACCEPTED, ts_ns)

    def rejected(self, cid: str, reason: str, ts_ns: int) -> OrderEvent:
        o = self[cid]
        self._to(o, S.REJECTED, ts_ns, reason=reason)
        o.reason_text = reason
        return OrderEvent(cid, S.REJECTED, ts_ns, reason=reason)

    def canceled(self, cid: str, reason: str, ts_ns: int) -> OrderEvent:
        o = self[cid]
        status = S.CANCELED
        if cid in self._expiring or _NO_REST[o.tif] or o.type is OrderType.MARKET:
            status = S.EXPIRED
        self._to(o, status, ts_ns, reason=reason)
        return OrderEvent(cid, status, ts_ns, reason=reason)

    def expired(self, cid: str, ts_ns: int) -> OrderEvent:
        o = self[cid]
        self._to(o, S.EXPIRED, ts_ns)
        return OrderEvent(cid, S.EXPIRED, ts_ns)

    def triggered(self, cid: str, ts_ns: int) -> OrderEvent | None:
        o = self[cid]
        if o.status is S.PENDING_CANCEL:
            self._pre_cancel[cid] = S.TRIGGERED
            return None
        self._to(o, S.TRIGGERED, ts_ns)
        return OrderEvent(cid, S.TRIGGERED, ts_ns)

    def cancel_rejected(self, cid: str, reason: str, ts_ns: int) -> OrderEvent | None:
        o = self[cid]
        if o.status is not S.PENDING_CANCEL:
            return None          # the order reached a terminal state first; nothing to undo
        back = self._pre_cancel.pop(cid, S.ACCEPTED)
        if back in (S.SUBMITTED, S.ACCEPTED) and o.filled_qty:
            back = S.PARTIALLY_FILLED
        self._expiring.discard(cid)
        self._to(o, back, ts_ns, reason=f"cancel rejected: {reason}")
        return OrderEvent(cid, back, ts_ns, reason=f"cancel rejected: {reason}")

    def apply_fill(self, fill: Fill) -> OrderEvent | None:
        """Apply a venue fill to its order. None for a fill already applied. Raises
        UnknownOrder / LateFill (the trade is marked seen: it must not be applied twice
        either) or Overfill (not marked: nothing of it was applied)."""
        key = (fill.venue, fill.trade_id)
        if key in self._seen_trades:
            return None
        o = self.orders.get(fill.client_order_id)
        if o is None:
            self._see(key)
            self._note_fill(fill)
            if self.journal is not None:
                self.journal.fill(fill)
            raise UnknownOrder(f"fill {fill.trade_id!r} on {fill.venue} for unknown order "
                               f"{fill.client_order_id!r}")
        if o.is_terminal:
            self._see(key)
            self._note_fill(fill)
            if self.journal is not None:
                self.journal.fill(fill)
            raise LateFill(f"fill {fill.trade_id!r} ({fill.qty} lots) for order "
                           f"{o.client_order_id!r} already {o.status.name}")
        if fill.qty <= 0:
            raise Overfill(f"fill {fill.trade_id!r} for {o.client_order_id!r}: quantity "
                           f"{fill.qty} lots must be > 0")
        if o.filled_qty + fill.qty > o.qty:
            raise Overfill(f"fill {fill.trade_id!r} of {fill.qty} lots for order "
                           f"{o.client_order_id!r} would fill {o.filled_qty + fill.qty} of "
                           f"{o.qty} lots")
        if fill.side != o.side or fill.symbol != o.symbol or fill.venue != o.venue:
            raise Overfill(f"fill {fill.trade_id!r} ({fill.venue}:{fill.symbol} "
                           f"{Side(fill.side).name}) does not match order "
                           f"{o.client_order_id!r} ({o.venue}:{o.symbol} {o.side.name})")
        filled = o.filled_qty + fill.qty
        if filled == o.qty:
            new = S.FILLED
        elif o.status is S.PENDING_CANCEL:
            new = S.PENDING_CANCEL
        else:
            new = S.PARTIALLY_FILLED
        if new is not o.status or new is S.PARTIALLY_FILLED:
            transition(o, new, fill.ts_ns)     # raises (and changes nothing) when not allowed
        self._see(key)
        inst = self.instruments.get((fill.venue, fill.symbol))
        px = inst.price(fill.price) if inst is not None else float(fill.price)
        o.avg_fill_price = (o.avg_fill_price * o.filled_qty + px * fill.qty) / filled
        o.filled_qty = filled
        o.fees += fill.fee
        o.ts_last_ns = fill.ts_ns
        if o.tif is TimeInForce.FOK and new is not S.FILLED:
            self.problems.append(f"FOK order {o.client_order_id!r} partially filled "
                                 f"({filled}/{o.qty} lots) by {fill.venue}")
        self._note_fill(fill)
        if self.journal is not None:
            self.journal.fill(fill)
        if new is S.FILLED:
            self._closed(o)
        return OrderEvent(o.client_order_id, new, fill.ts_ns, fill=fill)

    def _see(self, key: tuple[str, str]) -> None:
        self._seen_trades.add(key)
        self._seen_at.append((self.clock.time_ns(), key))

    def _note_fill(self, fill: Fill) -> None:
        self.fills.setdefault(fill.client_order_id, []).append(fill)
        if fill.ts_ns > self.last_fill_ts_ns:
            self.last_fill_ts_ns = fill.ts_ns

    def trade_seen(self, venue: str, trade_id: str) -> bool:
        return (venue, trade_id) in self._seen_trades

    # -- retention ----------------------------------------------------------------------
    def retire(self, before_ns: int, limit: int = 1000) -> int:
        """Forget the terminal orders whose last event is older than `before_ns` (at most
        `limit` of them, oldest first) with their fills, and the trade ids seen before then.

        Why: `orders` would otherwise hold every order the process ever made, and a dict
        that only grows is copied whole each time it fills up, on the submit that fills it:
        0.3 ms at 11k orders, 0.8 ms at 22k (measured, docs/arbitrage.md "Session 8"), tens of
        ms for the millions of a long live run, with the memory. The node retires what is
        older than `run.retain_orders_s` (config.py) in paper and live mode, off the tick
        path. The journal keeps every record and recovery replays them all.

        What a retired order changes: a late fill for it (or one of its trades seen again
        after its id was forgotten) is an `UnknownOrder` fill, which the execution engine
        books (the money moved) and reports as a problem; an event for it is an
        `UnknownOrder` problem; a new order may reuse its client id. Open orders are never
        retired, however old. Orders go in creation order, so the scan stops at the first
        order created at or after `before_ns`: it reads the orders it retires, the open ones
        older than that, and nothing else. Returns the number retired."""
        if limit <= 0:
            raise ValueError(f"retire: limit {limit} must be > 0")
        done = []
        for cid, o in self.orders.items():
            if o.ts_created_ns >= before_ns or len(done) >= limit:
                break
            if o.is_terminal and o.ts_last_ns < before_ns:
                done.append(cid)
        for cid in done:
            self._closed(self.orders.pop(cid))     # what a terminal order still holds, if any
            self.fills.pop(cid, None)
        seen, at = self._seen_trades, self._seen_at
        while at and at[0][0] < before_ns:
            seen.discard(at.popleft()[1])
        self.retired += len(done)
        return len(done)

    def _added(self) -> int:
        """Orders ever added (the compiled submit adds to `orders` itself: counted from it)."""
        return len(self.orders) + self.retired

    def compact_due(self) -> bool:
        """Half the room the last compact() left is used: time to make more."""
        return self._added() - self._compacted_at >= self._headroom // 2

    def compact(self) -> None:
        """Rebuild `orders` (the same items in the same order) into a new dict with room for
        twice as many new orders as came since the last compact (COMPACT_MIN_HEADROOM at
        least), so that no submit resizes it before the next one.

        Why: retire() leaves holes, and a dict that keeps getting inserts resizes whenever its
        table fills, holes or not, copying every entry on the submit that fills it (189 us at
        11k orders here, docs/arbitrage.md "Session 9"). The node calls it after retiring,
        off the tick path. The caller must hand the new dict to whatever holds the old one
        (ExecutionEngine.compact_orders: the compiled submit)."""
        headroom = max(COMPACT_MIN_HEADROOM, 2 * (self._added() - self._compacted_at))
        new = presized_dict(len(self.orders) + headroom)
        for cid, o in self.orders.items():      # not update(): it may clone the old table
            new[cid] = o
        self.orders = new
        self._headroom = headroom
        self._compacted_at = self._added()

    # -- replay (recovery) -------------------------------------------------------------
    def replay_intent(self, order: Order) -> None:
        """An intent record: the order was (about to be) sent, so it is SUBMITTED and open."""
        if order.client_order_id in self.orders:
            raise DuplicateOrderId(f"journal: intent for {order.client_order_id!r} twice")
        order.status = S.SUBMITTED
        order.ts_last_ns = order.ts_created_ns
        self.orders[order.client_order_id] = order
        self.open[order.client_order_id] = order

    def replay_transition(self, cid: str, status: OrderStatus, ts_ns: int, venue_order_id: str,
                          reason: str) -> None:
        """A transition record, validated like a live one (a journal that asks for an
        impossible transition raises InvalidTransition)."""
        o = self[cid]
        prev = o.status
        if venue_order_id:
            o.venue_order_id = venue_order_id
        self._to(o, status, ts_ns, reason=reason)
        if status is S.PENDING_CANCEL:
            self._pre_cancel[cid] = prev
        if status is S.REJECTED:
            o.reason_text = reason

    # -- internals --------------------------------------------------------------------
    def _to(self, o: Order, status: OrderStatus, ts_ns: int, venue_order_id: str = "",
            reason: str = "") -> None:
        transition(o, status, ts_ns)
        if self.journal is not None:
            self.journal.transition(o.client_order_id, status, ts_ns, venue_order_id, reason)
        if _IS_OPEN[status]:
            self.open[o.client_order_id] = o
        else:
            self._closed(o)

    def _closed(self, o: Order) -> None:
        cid = o.client_order_id
        self.open.pop(cid, None)
        self._pre_cancel.pop(cid, None)
        self._expiring.discard(cid)
        h = self._gtd_timers.pop(cid, None)
        if h is not None:
            self.clock.cancel(h)

    def arm_gtd(self, o: Order) -> None:
        """Set the expiry timer of a working GTD order (on acceptance; recovery re-arms)."""
        cid = o.client_order_id
        if cid in self._gtd_timers or self.on_gtd_due is None:
            return

        def due() -> None:
            self._gtd_timers.pop(cid, None)
            if o.is_open and o.status is not S.PENDING_CANCEL:
                self._expiring.add(cid)
                self.on_gtd_due(o)  # type: ignore[misc]
        self._gtd_timers[cid] = self.clock.call_at(o.expire_ns, due)

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return [o for o in self.open.values()
                if (venue is None or o.venue == venue) and (symbol is None or o.symbol == symbol)]
