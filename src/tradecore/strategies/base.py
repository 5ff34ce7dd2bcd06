"""The Strategy API: what a strategy declares, receives and may do, identical in every mode.

A strategy is plain Python. It declares the books and trades it needs (`books`, `trades`), is
called directly from the market-data path when one of them changes (no queue, no task hop), and
acts only through its `StrategyContext`: submit and cancel orders (which pass the risk gate
synchronously), read positions, the trading state, books and instruments, and the time. It never
imports the execution, risk or venue packages and never reads the wall clock, so the same class
runs live, in paper mode and in a backtest: the engine decides what stands behind the context.

Hot-path rule: `on_book` runs after every change of a subscribed book. Call compiled detectors
and read the book's compiled accessors there; never loop over levels in Python.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from typing import Any, Protocol

from tradecore.core.clock import Clock
from tradecore.core.events import Trade
from tradecore.core.instrument import Instrument
from tradecore.core.orders import (Order, OrderEvent, OrderType, Side, TimeInForce,
                                   TradingState)

BookKey = tuple[str, str]      # (venue, symbol)
_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


class PositionView(Protocol):
    """Read-only view of one position (the portfolio's Position satisfies it)."""
    qty: int                   # lots, signed: > 0 long, < 0 short
    avg_price: float
    realized_pnl: float
    fees: float

    def unrealized_pnl(self, mark: float) -> float: ...


class StrategyContext(Protocol):
    """What the engine gives a strategy."""
    clock: Clock

    def instrument(self, venue: str, symbol: str) -> Instrument: ...
    def book(self, venue: str, symbol: str) -> Any: ...          # L2Book or None
    def submit(self, order: Order) -> Order: ...
    def cancel(self, client_order_id: str) -> None: ...
    # Optional, for speed (a context without them gets the plain Python equivalents, bind):
    # new_order(<Order's first sixteen fields>) -> Order, the same as Order(...) positionally;
    # order_ids(prefix) -> a callable giving prefix + "1", prefix + "2", ...
    def position_lots(self, venue: str, symbol: str) -> int: ...
    def position(self, venue: str, symbol: str) -> PositionView | None: ...
    def open_orders(self, strategy_id: str) -> list[Order]: ...
    def trading_state(self) -> TradingState: ...
    def free_balance(self, venue: str, asset: str) -> float: ...
    def bar(self, venue: str, symbol: str, ts_ns: int) -> tuple: ...   # closed bars only


def _python_ids(prefix: str):
    """prefix + "1", prefix + "2", ...: the order ids of a strategy whose context has no
    compiled sequence (order_ids)."""
    ids = itertools.count(1)
    return lambda: f"{prefix}{next(ids)}"


class Strategy:
    """Subclass and override the `on_*` callbacks you need.

    `config` is the strategy's own settings (a mapping from the config file); `state` is a dict
    the strategy may use freely and that the engine includes in snapshots and reports.
    """

    #: books this strategy reads, as (venue, symbol); set in __init__ or as a class attribute
    books: tuple[BookKey, ...] = ()
    #: trade streams this strategy reads, as (venue, symbol)
    trades: tuple[BookKey, ...] = ()

    def __init__(self, strategy_id: str, config: Mapping[str, Any] | None = None) -> None:
        if not isinstance(strategy_id, str) or not _ID.fullmatch(strategy_id):
            raise ValueError(f"strategy_id must be 1-32 characters of A-Z a-z 0-9 _ . - (it "
                             f"prefixes order ids, which venues restrict), got {strategy_id!r}")
        self.strategy_id = strategy_id
        self.config: dict[str, Any] = dict(config or {})
        self.state: dict[str, Any] = {}
        self.counters: dict[str, int] = {}
        self._ctx: StrategyContext | None = None
        self._time_ns: Any = None            # the bound ctx.clock.time_ns (bind)
        self._new_order: Any = Order           # the context's faster maker once bound
        self._id_prefix = f"{strategy_id[:12]}-0-"
        self._next_id = _python_ids(self._id_prefix)

    # -- wiring (the engine calls these) -----------------------------------------------------
    def bind(self, ctx: StrategyContext) -> None:
        self._ctx = ctx
        # read on every order(): a bound method saves two attribute lookups per order
        self._time_ns = ctx.clock.time_ns
        self._id_prefix = f"{self.strategy_id[:12]}-{ctx.clock.time_ns():x}-"
        # the context's compiled order maker and id sequence when it has them (engine.py
        # _Context: ~2.6k + ~0.6k instructions an order fewer); the same values either way
        self._new_order = getattr(ctx, "new_order", Order)
        ids = getattr(ctx, "order_ids", None)
        self._next_id = ids(self._id_prefix) if ids is not None else \
            _python_ids(self._id_prefix)
        if type(self).submit is Strategy.submit:
            # self.submit(o) is then the context's submit itself: no Strategy.submit frame and
            # no `ctx` property call on the tick-to-order path (a subclass that overrides
            # submit keeps its own)
            self.submit = ctx.submit                  # type: ignore[method-assign]

    @property
    def ctx(self) -> StrategyContext:
        if self._ctx is None:
            raise RuntimeError(f"strategy {self.strategy_id!r} is not bound to an engine")
        return self._ctx

    # -- callbacks ---------------------------------------------------------------------------
    def on_start(self) -> None:
        """Once, before the first event."""

    def on_book(self, venue: str, symbol: str, book: Any) -> None:
        """After every change of a subscribed book (the book is valid when this is called)."""

    def on_trade(self, trade: Trade) -> None:
        """After every public trade of a subscribed stream."""

    # -- gated backtest replay (backtest/gated_replay.py) -------------------------------------
    # A backtest may skip on_book calls that could not change anything, if the strategy says
    # which those are. Two methods, because the rule is fixed and its validity is not:
    #   replay_rule(venue, symbol) -> None        every change is delivered (the default)
    #                               | ("top",)     a skipped call is a no-op while the best bid
    #                                              and ask prices (ticks) are those of the last
    #                                              delivered call and the clock < wake-up time
    #                               | ("cross", detector, index)  a skipped call is a no-op
    #                                              while the tops of the CrossVenueDetector's
    #                                              books do not cross after taker fees for any
    #                                              pair with `index` (its check() is then False)
    #   replay_wake_ns(venue, symbol, book) -> None (the rule does not hold now: deliver every
    #                                              change until asked again) | the clock time
    #                                              from which the next change must be delivered
    #                                              (a time-driven decision; 2**63 - 1: none)
    # The replay asks replay_wake_ns after every call into Python. The claim is checked by the
    # gated-replay tests (every order and fill equal to the per-message replay); a strategy
    # that cannot make it keeps the default.
    def replay_rule(self, venue: str, symbol: str) -> tuple | None:
        return None

    def replay_wake_ns(self, venue: str, symbol: str, book: Any) -> int | None:
        return None

    def on_order_event(self, event: OrderEvent) -> None:
        """Every state change of this strategy's orders, fills included."""

    def on_bar(self, venue: str, symbol: str, ts_ns: int, open: float, high: float,
               low: float, close: float, volume: float) -> None:
        """A closed candle of a subscribed instrument (candle-driven backtests). ts_ns is the
        bar's open time (its identity, as every candle source stamps it); the call comes when
        the bar has closed, with the clock at its close time."""

    def on_book_stale(self, venue: str, symbol: str, reason: str) -> None:
        """A subscribed book became invalid or stale: do not act on it until on_book again."""

    def on_stop(self) -> None:
        """Once, after the last event."""

    # -- acting --------------------------------------------------------------------------------
    def count(self, what: str, n: int = 1) -> None:
        """Count an outcome (opportunity seen, taken, skipped: edge too small, ...)."""
        self.counters[what] = self.counters.get(what, 0) + n

    def next_order_id(self) -> str:
        """Unique within this strategy (and, with the strategy id as prefix, the process); the
        engine's journal makes ids unique across restarts by refusing a reused one. At most
        36 characters of [A-Za-z0-9-]: what Binance (the strictest venue) accepts."""
        return self._next_id()

    def order(self, venue: str, symbol: str, side: Side | int, qty: int, *,
              type: OrderType = OrderType.LIMIT, price: int = 0, trigger_price: int = 0,
              tif: TimeInForce = TimeInForce.GTC, post_only: bool = False,
              reduce_only: bool = False, expire_ns: int = 0, trail_ticks: int = 0,
              tag: str = "", client_order_id: str | None = None) -> Order:
        """Build an order in the instrument's ticks and lots (see Instrument.ticks/lots)."""
        now = self._time_ns
        if now is None:
            raise RuntimeError(f"strategy {self.strategy_id!r} is not bound to an engine")
        # Positional, in Order's field order: keyword matching of 20 arguments costs ~2 us.
        # Nothing is validated here: the engine's OMS checks every order's shape at submit
        # (execution/oms.py check_spec), whoever built it. _new_order is the context's
        # compiled maker (Order(...) itself when unbound): the class call costs ~3.3k
        # instructions, the maker ~0.7k (callgrind, Python 3.11, 2026-11-26).
        o = self._new_order(client_order_id or self._next_id(), venue, symbol,
                            side if side.__class__ is Side else Side(side), type, qty, price,
                            trigger_price, tif, post_only, reduce_only, expire_ns, trail_ticks,
                            self.strategy_id, "", tag)
        o.ts_created_ns = now()
        return o

    def submit(self, order: Order) -> Order:
        """Through the risk gate to the venue; the returned order is DENIED or SUBMITTED."""
        return self.ctx.submit(order)

    def cancel(self, client_order_id: str) -> None:
        self.ctx.cancel(client_order_id)
