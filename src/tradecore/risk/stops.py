"""Protective stops that act by themselves: stop-loss, take-profit and trailing stop on a position.

A `Protection` is attached to the net position of one (venue, symbol). The execution engine
feeds every book and trade event (`on_market`, `on_trade`), every position change after a fill
(`on_position`) and the protection's own order events (`on_order_event`); no strategy code runs
between a price crossing a level and the exit order leaving.

Rules (each one is an anchor's known failure, avoided on purpose):
- The exit is a reduce-only MARKET order for the *current* position at the moment it fires,
  never the size the position had when the stop was attached: after a partial take-profit or a
  partial fill the stop closes what is left, not more.
- When the position goes to zero (or flips to the other side) the protection removes itself
  and cancels its native orders: a stop never outlives its position to open a new one.
- Only one exit order works at a time; if it ends without closing the position (rejected,
  expired, denied), the protection re-arms and fires again on the first event at least
  `retry_interval_ns` (1 s) later: a gate that is HALTED, or a venue that rejects, is not asked
  again on every book update (nor is an order and a problem made for each); the problem is
  reported once per streak of failures. The exception: an exit refused because a native stop
  still counted as working is sent again the moment that native's cancel is confirmed.
- Native stop (optional, per protection): one reduce-only order is also placed at the venue so
  that the position stays protected while this process is down: the STOP_MARKET of the
  stop-loss (else the TRAILING_STOP, else the TAKE_PROFIT). Only one, because two reduce-only
  exits for the full size add up to twice the position, which the risk gate's reduce rule
  refuses (and a venue would flip the position if both filled); both levels at the venue would
  need an OCO order, which the VenueClient contract does not have. The other levels are watched
  locally. The native order is resized whenever the position's size changes: cancelled, and
  replaced once the venue confirms the cancel (never two working at once); it is cancelled when
  the position closes or when the local watcher fires first (the local exit is retried as soon
  as the native's cancel is confirmed if the gate refused it while the native still counted).

Trigger prices: a long position exits by selling, so its levels are compared with the best bid
(and with trade prices); a short with the best ask. Stop-loss fires at or through its level
(long: bid <= stop), take-profit at or through its level (long: bid >= tp), a trailing stop when
the price falls `trail_ticks` below the best price seen since it was attached (long; mirrored
for short).

This module must not import execution (layers: execution -> risk): the engine is reached
through the small `OrderPort` protocol.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol

from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderEvent, OrderStatus, OrderType, Side, TimeInForce

__all__ = ["OrderPort", "StopKind", "Protection", "ProtectionManager", "PROTECTION_STRATEGY"]

PROTECTION_STRATEGY = "risk.protection"
# statuses that end an order, indexed by value (enum member lookups and hashing are slow)
_ENDS = tuple(st in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                     OrderStatus.EXPIRED, OrderStatus.DENIED) for st in OrderStatus)


class OrderPort(Protocol):
    """What protection needs of the execution engine."""

    def submit(self, order: Order) -> Order: ...
    def cancel(self, client_order_id: str) -> object: ...
    def position_lots(self, venue: str, symbol: str) -> int: ...
    def avg_entry_price(self, venue: str, symbol: str) -> float: ...
    def time_ns(self) -> int: ...


class StopKind(IntEnum):
    STOP_LOSS = 0
    TAKE_PROFIT = 1
    TRAILING_STOP = 2


_NATIVE_TYPE = {StopKind.STOP_LOSS: OrderType.STOP_MARKET,
                StopKind.TAKE_PROFIT: OrderType.TAKE_PROFIT,
                StopKind.TRAILING_STOP: OrderType.TRAILING_STOP}
_TAG = {StopKind.STOP_LOSS: "stop-loss", StopKind.TAKE_PROFIT: "take-profit",
        StopKind.TRAILING_STOP: "trailing-stop"}


@dataclass(slots=True)
class Protection:
    venue: str
    symbol: str
    direction: int                 # +1 protects a long, -1 a short
    stop_ticks: int = 0            # 0 = none
    tp_ticks: int = 0
    trail_ticks: int = 0
    trail_ref: int = 0             # best price (ticks) seen in the position's favour
    native: bool = False
    native_ids: dict[StopKind, str] = field(default_factory=dict)   # working native orders
    native_qty: int = 0
    canceling: set[str] = field(default_factory=set)   # natives asked to cancel, not yet done
    exit_cid: str = ""             # the working exit order, "" when none
    retry_kind: StopKind | None = None   # an exit refused while a native was still working
    failures: int = 0              # exits in a row that ended without filling
    retry_at: int = 0              # after a failed exit, no new one before this time (ns)
    fired: list[tuple[StopKind, int]] = field(default_factory=list)   # (kind, price seen)
    active: bool = True

    def trail_trigger(self) -> int:
        if not self.trail_ticks or not self.trail_ref:
            return 0
        return self.trail_ref - self.direction * self.trail_ticks


class ProtectionManager:
    """Every protection of the process, watched on every market event."""

    def __init__(self, port: OrderPort, instruments: dict[tuple[str, str], Instrument],
                 id_prefix: str = "prot", on_problem: Callable[[str], None] | None = None,
                 on_change: Callable[[tuple[str, str], Protection | None], None] | None = None,
                 retry_interval_ns: int = 1_000_000_000):
        """on_change(key, protection or None) after every attach and removal: the engine
        journals it so that a restart restores the protections (`restore`)."""
        if retry_interval_ns < 0:
            raise ValueError(f"retry_interval_ns {retry_interval_ns} must be >= 0")
        self.on_change = on_change
        self.retry_interval_ns = retry_interval_ns
        self.port = port
        self.instruments = instruments
        self._ids = itertools.count(1)
        self._prefix = id_prefix
        self.by_key: dict[tuple[str, str], Protection] = {}
        self._by_order: dict[str, tuple[str, str]] = {}
        self.on_problem = on_problem
        self.problems: list[str] = []

    # -- attaching ------------------------------------------------------------------------
    def attach(self, venue: str, symbol: str, *, stop_loss: int = 0, take_profit: int = 0,
               trail_ticks: int = 0, stop_offset: int = 0, tp_offset: int = 0,
               native: bool = False) -> Protection:
        """Protect the current position of (venue, symbol). Levels are absolute ticks
        (stop_loss, take_profit) or offsets in ticks from the average entry price
        (stop_offset, tp_offset); trail_ticks is the trailing distance. Replaces an existing
        protection of that position (its native orders are cancelled)."""
        key = (venue, symbol)
        inst = self.instruments.get(key)
        if inst is None:
            raise ValueError(f"protection {venue}:{symbol}: unknown instrument")
        lots = self.port.position_lots(venue, symbol)
        if lots == 0:
            raise ValueError(f"protection {venue}:{symbol}: no position to protect")
        d = 1 if lots > 0 else -1
        if (stop_loss and stop_offset) or (take_profit and tp_offset):
            raise ValueError(f"protection {venue}:{symbol}: give a level or an offset, not both")
        for name, v in (("stop_loss", stop_loss), ("take_profit", take_profit),
                        ("trail_ticks", trail_ticks), ("stop_offset", stop_offset),
                        ("tp_offset", tp_offset)):
            if v < 0:
                raise ValueError(f"protection {venue}:{symbol}: {name} {v} must be >= 0")
        if stop_offset or tp_offset:
            entry = inst.round_ticks(self.port.avg_entry_price(venue, symbol))
            if stop_offset:
                stop_loss = entry - d * stop_offset
            if tp_offset:
                take_profit = entry + d * tp_offset
        if not (stop_loss or take_profit or trail_ticks):
            raise ValueError(f"protection {venue}:{symbol}: no stop, take-profit or trail given")
        if stop_loss and take_profit and (take_profit - stop_loss) * d <= 0:
            side = "above" if d > 0 else "below"
            raise ValueError(f"protection {venue}:{symbol}: take-profit {take_profit} must be "
                             f"{side} the stop-loss {stop_loss} for a "
                             f"{'long' if d > 0 else 'short'} position")
        if stop_loss <= 0 and stop_offset:
            raise ValueError(f"protection {venue}:{symbol}: stop offset {stop_offset} puts the "
                             f"stop at {stop_loss} ticks")
        old = self.by_key.pop(key, None)
        if old is not None:
            self._retire(old)
        p = Protection(venue, symbol, d, stop_loss, take_profit, trail_ticks, native=native)
        self.by_key[key] = p
        if self.on_change is not None:
            self.on_change(key, p)
        if native:
            self._place_native(p, abs(lots))
        return p

    def detach(self, venue: str, symbol: str) -> None:
        p = self.by_key.pop((venue, symbol), None)
        if p is not None:
            self._retire(p)
            if self.on_change is not None:
                self.on_change((venue, symbol), None)

    def restore(self, p: Protection, working: list[Order]) -> None:
        """Recovery: put back a journaled protection with its orders still working at the
        venue (natives by their tag, an exit in flight). The trailing reference restarts at the
        first price seen (the high-water mark is not journaled: it changes on every tick).
        Call `on_position` once positions are reconciled: it drops or resizes as usual."""
        key = (p.venue, p.symbol)
        for o in working:
            self._by_order[o.client_order_id] = key
            if o.tag.startswith("native-"):
                for kind, tag in _TAG.items():
                    if o.tag == "native-" + tag:
                        p.native_ids[kind] = o.client_order_id
                        p.native_qty = o.qty - o.filled_qty
            elif o.type is OrderType.MARKET:
                p.exit_cid = o.client_order_id
        self.by_key[key] = p

    # -- market events --------------------------------------------------------------------
    def on_market(self, venue: str, symbol: str, bid_ticks: int, ask_ticks: int) -> None:
        p = self.by_key.get((venue, symbol))
        if p is None:
            return
        self._check(p, bid_ticks if p.direction > 0 else ask_ticks)

    def on_trade(self, venue: str, symbol: str, price_ticks: int) -> None:
        p = self.by_key.get((venue, symbol))
        if p is None:
            return
        self._check(p, price_ticks)

    def _check(self, p: Protection, px: int) -> None:
        if px <= 0:
            return
        d = p.direction
        if p.trail_ticks and (not p.trail_ref or (px - p.trail_ref) * d > 0):
            p.trail_ref = px
        if p.exit_cid or (p.retry_at and self.port.time_ns() < p.retry_at):
            return
        if p.stop_ticks and (px - p.stop_ticks) * d <= 0:
            self._fire(p, StopKind.STOP_LOSS, px)
        elif p.tp_ticks and (px - p.tp_ticks) * d >= 0:
            self._fire(p, StopKind.TAKE_PROFIT, px)
        elif p.trail_ticks and (px - p.trail_trigger()) * d <= 0:
            self._fire(p, StopKind.TRAILING_STOP, px)

    def _fire(self, p: Protection, kind: StopKind, px: int) -> None:
        lots = self.port.position_lots(p.venue, p.symbol)
        if lots == 0 or (lots > 0) != (p.direction > 0):
            self._drop(p)
            return
        self._cancel_natives(p)
        cid = self._next_id()
        o = Order(cid, p.venue, p.symbol, Side(-p.direction), OrderType.MARKET, abs(lots),
                  tif=TimeInForce.IOC, reduce_only=True, strategy_id=PROTECTION_STRATEGY,
                  tag=_TAG[kind])
        p.exit_cid = cid
        p.fired.append((kind, px))
        self._by_order[cid] = (p.venue, p.symbol)
        p.retry_kind = None
        out = self.port.submit(o)
        if out.is_terminal:
            # denied at once: stay armed; retried after the retry interval, or as soon as the
            # native order being cancelled is gone (it still counted against the reduce rule)
            p.retry_kind = kind
            if p.exit_cid == cid:      # (else its event already reached on_order_event)
                self._by_order.pop(cid, None)
                self._exit_failed(p, cid, out.status, out.reason_text)

    def _exit_failed(self, p: Protection, cid: str, status: OrderStatus, reason: str) -> None:
        p.exit_cid = ""
        p.failures += 1
        p.retry_at = self.port.time_ns() + self.retry_interval_ns
        if p.failures == 1:
            self._problem(f"exit {cid} for {p.venue}:{p.symbol} ended {status.name} {reason}"
                          f"; retried every {self.retry_interval_ns / 1e9:g} s until it fills")

    # -- position and order events ----------------------------------------------------------
    def on_position(self, venue: str, symbol: str, lots: int) -> None:
        """After every fill on (venue, symbol): remove the protection when the position is
        closed or flipped, resize native orders when its size changed."""
        p = self.by_key.get((venue, symbol))
        if p is None:
            return
        if lots == 0 or (lots > 0) != (p.direction > 0):
            self._drop(p)
            return
        if p.native and not p.exit_cid and p.native_qty != abs(lots):
            if p.native_ids:
                self._cancel_natives(p)       # replaced when the venue confirms the cancel
            elif not p.canceling:
                self._place_native(p, abs(lots))

    def on_order_event(self, ev: OrderEvent) -> None:
        key = self._by_order.get(ev.client_order_id)
        if key is None:
            return
        if not _ENDS[ev.status]:
            return
        del self._by_order[ev.client_order_id]
        p = self.by_key.get(key)
        if p is None:
            return
        if ev.client_order_id == p.exit_cid:
            if ev.status is OrderStatus.FILLED:
                p.exit_cid = ""
                p.failures = p.retry_at = 0
                lots = self.port.position_lots(p.venue, p.symbol)
                if (p.native and lots and (lots > 0) == (p.direction > 0) and not p.native_ids
                        and not p.canceling):
                    self._place_native(p, abs(lots))     # still open: protect it at the venue
            else:
                self._exit_failed(p, ev.client_order_id, ev.status, ev.reason)
            return
        cid = ev.client_order_id
        p.canceling.discard(cid)
        for kind, ncid in list(p.native_ids.items()):
            if ncid == cid:
                del p.native_ids[kind]
                p.native_qty = 0
                if ev.status in (OrderStatus.REJECTED, OrderStatus.DENIED):
                    self._problem(f"native {_TAG[kind]} {cid} for {key[0]}:{key[1]} "
                                  f"{ev.status.name}: {ev.reason}; the local watcher stays")
                    return
        if p.canceling or p.native_ids or p.exit_cid:
            return
        lots = self.port.position_lots(p.venue, p.symbol)
        if lots == 0 or (lots > 0) != (p.direction > 0):
            return
        if p.retry_kind is not None:
            self._fire(p, p.retry_kind, 0)
        elif p.native and ev.status is OrderStatus.CANCELED:
            self._place_native(p, abs(lots))      # the replacement of a resized native

    # -- internals ------------------------------------------------------------------------
    def _place_native(self, p: Protection, qty: int) -> None:
        side = Side(-p.direction)
        for kind, level in ((StopKind.STOP_LOSS, p.stop_ticks),
                            (StopKind.TRAILING_STOP, p.trail_ticks),
                            (StopKind.TAKE_PROFIT, p.tp_ticks)):
            if not level:
                continue
            cid = self._next_id()
            typ = _NATIVE_TYPE[kind]
            o = Order(cid, p.venue, p.symbol, side, typ, qty, reduce_only=True,
                      strategy_id=PROTECTION_STRATEGY, tag="native-" + _TAG[kind],
                      trigger_price=level if kind is not StopKind.TRAILING_STOP else 0,
                      trail_ticks=level if kind is StopKind.TRAILING_STOP else 0)
            self._by_order[cid] = (p.venue, p.symbol)
            p.native_ids[kind] = cid
            out = self.port.submit(o)
            if out.is_terminal:
                self._by_order.pop(cid, None)
                if p.native_ids.pop(kind, None) is not None:   # (else reported by its event)
                    self._problem(f"native {_TAG[kind]} for {p.venue}:{p.symbol} "
                                  f"{out.status.name}: {out.reason_text}")
            else:
                p.native_qty = qty
            return                      # one native order (module docstring)

    def _cancel_natives(self, p: Protection) -> None:
        for cid in list(p.native_ids.values()):
            p.canceling.add(cid)
            self.port.cancel(cid)
        p.native_ids.clear()
        p.native_qty = 0

    def _retire(self, p: Protection) -> None:
        p.active = False
        self._cancel_natives(p)

    def _drop(self, p: Protection) -> None:
        self.by_key.pop((p.venue, p.symbol), None)
        self._retire(p)
        if self.on_change is not None:
            self.on_change((p.venue, p.symbol), None)
        if p.exit_cid:
            self.port.cancel(p.exit_cid)   # reduce-only already, but nothing left to reduce

    def _next_id(self) -> str:
        return f"{self._prefix}-{next(self._ids)}"

    def _problem(self, text: str) -> None:
        self.problems.append(text)
        if self.on_problem is not None:
            self.on_problem(text)
