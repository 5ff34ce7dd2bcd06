"""PairsTrading: the pair model of incremental.py as a Strategy that trades both legs.

Data in. `on_bar(venue, symbol, ts_ns, open, high, low, close, volume)` for candles (the engine
calls it for every closed bar of either leg; ts_ns is the bar's open time). The two legs' bars
are paired on ts_ns like selection.align_closes pairs them in research: a bar whose partner never
comes is dropped and counted, so live and batch see the same aligned series. Without candles,
`on_book` samples each leg's mid: the last mid seen inside a bar interval (`bar_interval_s`) becomes
that bar's close when the first update of a later interval arrives (no timer: a bar is closed by
the next book change, at most one update late; an interval in which a leg's book did not change
gives that leg no bar, and the other leg's bar is dropped as unpaired).

Orders out. Entry: the gross `notional` is split by the hedge ratio like the batch backtest
(|y| = notional / (1 + |beta|), |x| = |beta| notional / (1 + |beta|)), converted to lots at the
bar's close and rounded *down* to each instrument's lot; a leg under one lot or the instrument's
minimum skips the entry. Both legs go as IOC limit orders at the opposite touch +/- `slippage_ticks`
(buy at ask + n ticks, sell at bid - n ticks), or as IOC market orders when the leg has no usable
book. Exit: reduce-only orders closing each leg's actual position (fills may have been partial).
While the strategy is flat, any residual position (a partial fill, a second leg the risk gate
refused) is flattened at the next bar, once no order of the strategy is still open.

Sizing and limits beyond that are the risk layer's: every order passes the risk gate in
`ctx.submit`, and a denial is counted with its reason.

Counters (Strategy.count): "bars", "seen: entry", "seen: exit <reason>", "taken: entry",
"taken: exit <reason>", "skipped: <reason>", "leg risk: <what>", "order <status>".
The signal itself (PairModel) does not depend on what was taken: it is exactly the batch signal,
so a backtest of the same bars shows the same entries and exits.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from tradecore.core.orders import (DenyReason, OrderEvent, OrderStatus, OrderType, Side,
                                   TimeInForce, TradingState)
from tradecore.strategies.base import BookKey, Strategy
from tradecore.strategies.stat.incremental import PairModel, PairState
from tradecore.strategies.stat.params import (R_ENTER, R_EXIT, R_SKIP_STOP, R_STOP, R_TIME,
                                              REASONS, PairParams)

_PARAM_KEYS = ("hedge", "window", "z_window", "entry_z", "exit_z", "stop_z", "max_bars", "delta",
               "ve", "recompute_every")


def _key(v: Any, what: str) -> BookKey:
    if (not isinstance(v, (tuple, list)) or len(v) != 2
            or not all(isinstance(s, str) and s for s in v)):
        raise ValueError(f"PairsTrading config {what}: {v!r}, expected [venue, symbol]")
    return (v[0], v[1])


class PairsTrading(Strategy):
    """Config: leg_y, leg_x ([venue, symbol]; long the spread = buy y, sell beta x), notional
    (quote currency, gross per trade), slippage_ticks (default 1), bar_interval_s (on_book
    sampling, default 3600) and the PairParams fields (hedge, window, z_window, entry_z, exit_z,
    stop_z, max_bars, delta, ve, recompute_every)."""

    def __init__(self, strategy_id: str, config: Mapping[str, Any] | None = None) -> None:
        super().__init__(strategy_id, config)
        cfg = self.config
        for k in ("leg_y", "leg_x", "notional"):
            if k not in cfg:
                raise ValueError(f"PairsTrading config: {k!r} is missing")
        self.leg_y = _key(cfg["leg_y"], "leg_y")
        self.leg_x = _key(cfg["leg_x"], "leg_x")
        if self.leg_y == self.leg_x:
            raise ValueError(f"PairsTrading config: leg_y and leg_x are both {self.leg_y}")
        unknown = set(cfg) - set(_PARAM_KEYS) - {"leg_y", "leg_x", "notional", "slippage_ticks",
                                                 "bar_interval_s"}
        if unknown:
            raise ValueError(f"PairsTrading config: unknown keys {sorted(unknown)}")
        self.params = PairParams(**{k: cfg[k] for k in _PARAM_KEYS if k in cfg})
        notional = cfg["notional"]
        if not isinstance(notional, (int, float)) or not (math.isfinite(notional)
                                                          and notional > 0):
            raise ValueError(f"PairsTrading config notional: {notional!r}, expected > 0")
        self.notional = float(notional)
        self.slippage_ticks = cfg.get("slippage_ticks", 1)
        if not isinstance(self.slippage_ticks, int) or self.slippage_ticks < 0:
            raise ValueError(f"PairsTrading config slippage_ticks: {self.slippage_ticks!r}, "
                             "expected an int >= 0")
        interval = cfg.get("bar_interval_s", 3600)
        if not isinstance(interval, (int, float)) or not interval > 0:
            raise ValueError(f"PairsTrading config bar_interval_s: {interval!r}, expected > 0")
        self.bar_interval_ns = int(interval * 1_000_000_000)
        self.books = (self.leg_y, self.leg_x)
        self.model = PairModel(self.params)
        self.side = 0                               # spread position the strategy holds: -1/0/+1
        self._pending: dict[BookKey, tuple[int, float]] = {}
        self._last_ts = -1
        self._book_bar: dict[BookKey, tuple[int, float]] = {}

    # -- data in -------------------------------------------------------------------------------
    def on_bar(self, venue: str, symbol: str, ts_ns: int, open: float, high: float, low: float,
               close: float, volume: float) -> None:
        """A closed candle of one leg (ts_ns = its open time)."""
        key = (venue, symbol)
        if key != self.leg_y and key != self.leg_x:
            raise ValueError(f"PairsTrading {self.strategy_id}: bar of {key}, which is not a leg "
                             f"({self.leg_y}, {self.leg_x})")
        if not (isinstance(close, (int, float)) and math.isfinite(close) and close > 0):
            raise ValueError(f"PairsTrading {self.strategy_id}: close {close!r} of {key} at "
                             f"{ts_ns} is not a finite positive price")
        if ts_ns <= self._last_ts:
            self.count("skipped: stale bar (at or before the last paired bar)")
            return
        other = self.leg_x if key == self.leg_y else self.leg_y
        mine = self._pending.get(key)
        if mine is not None and mine[0] > ts_ns:
            self.count("skipped: stale bar (older than this leg's pending bar)")
            return
        if mine is not None and mine[0] < ts_ns:
            self.count("skipped: bar without the other leg")      # my older bar never paired
        theirs = self._pending.get(other)
        if theirs is None or theirs[0] > ts_ns:
            if theirs is not None:
                self.count("skipped: bar without the other leg")  # this one is already late
                self._pending.pop(key, None)
                return
            self._pending[key] = (ts_ns, float(close))
            return
        if theirs[0] < ts_ns:
            self.count("skipped: bar without the other leg")
            del self._pending[other]
            self._pending[key] = (ts_ns, float(close))
            return
        del self._pending[other]
        self._pending.pop(key, None)
        self._last_ts = ts_ns
        cy, cx = (float(close), theirs[1]) if key == self.leg_y else (theirs[1], float(close))
        self._on_aligned(ts_ns, cy, cx)

    def on_book(self, venue: str, symbol: str, book: Any) -> None:
        """Sample the leg's mid into bars of bar_interval_s (see the module docstring)."""
        key = (venue, symbol)
        if key != self.leg_y and key != self.leg_x:
            return
        if not getattr(book, "valid", True):
            return
        mid = book.mid()
        if mid is None:
            return
        bar = self.ctx.clock.time_ns() // self.bar_interval_ns
        last = self._book_bar.get(key)
        self._book_bar[key] = (bar, mid)
        if last is not None and bar > last[0]:
            m = last[1]
            self.on_bar(venue, symbol, last[0] * self.bar_interval_ns, m, m, m, m, 0.0)

    # -- gated replay (strategies/base.py) --------------------------------------------------
    def replay_rule(self, venue: str, symbol: str) -> tuple | None:
        return ("top",)

    def replay_wake_ns(self, venue: str, symbol: str, book: Any) -> int | None:
        """on_book stores (bar, mid) and closes a bar when the bar changes: a call with the
        same top prices (same mid) in the same bar stores what is stored. From the next bar's
        start, the next call closes the bar, so it must be delivered."""
        key = (venue, symbol)
        if key != self.leg_y and key != self.leg_x:
            return 2**63 - 1                      # on_book returns at once for other books
        last = self._book_bar.get(key)
        if last is None:
            return None
        return (last[0] + 1) * self.bar_interval_ns

    def on_order_event(self, event: OrderEvent) -> None:
        if event.status in (OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.CANCELED):
            self.count(f"order {event.status.name.lower()}")

    # -- the model and its actions -----------------------------------------------------------
    def _on_aligned(self, ts_ns: int, cy: float, cx: float) -> None:
        st = self.model.update(cy, cx)
        self.count("bars")
        self.state.update(ts_ns=ts_ns, beta=st.beta, alpha=st.alpha, spread=st.spread, z=st.z,
                          signal=st.pos, held=self.side)
        residual = self.side == 0 and self._flatten_residual()
        r = st.reason
        if r == R_ENTER:
            self.count("seen: entry")
            if residual:
                self.count("skipped: a residual position is being flattened")
            else:
                self._enter(st, cy, cx)
        elif r == R_SKIP_STOP:
            self.count("seen: entry")
            self.count("skipped: |z| beyond stop_z")
        elif r in (R_EXIT, R_STOP, R_TIME):
            name = REASONS[r]
            self.count(f"seen: exit {name}")
            if self.side == 0:
                self.count("skipped: exit signal while flat (its entry was not taken)")
            else:
                self.side = 0
                if self._close_legs(f"pairs-{name}"):
                    self.count(f"taken: exit {name}")
        self.state["held"] = self.side

    def _enter(self, st: PairState, cy: float, cx: float) -> None:
        ctx = self.ctx
        ts = ctx.trading_state()
        if ts != TradingState.ACTIVE:
            self.count(f"skipped: trading state {TradingState(ts).name}")
            return
        if self.side != 0:
            self.count("skipped: already in a trade")
            return
        b = st.beta
        iy = ctx.instrument(*self.leg_y)
        ix = ctx.instrument(*self.leg_x)
        ny = self.notional / (1.0 + abs(b))
        lots_y = iy.round_lots(ny / cy)
        lots_x = ix.round_lots(abs(b) * ny / cx)
        if lots_y < max(1, iy.min_lots) or lots_x < max(1, ix.min_lots):
            self.count("skipped: size below one lot or the minimum quantity")
            return
        side_y = Side.BUY if st.pos > 0 else Side.SELL
        side_x = Side(-side_y) if b > 0 else side_y
        oy = self.submit(self._leg_order(self.leg_y, side_y, lots_y, False, "pairs-entry"))
        if oy.status == OrderStatus.DENIED:
            self.count(f"skipped: leg y denied ({DenyReason(oy.deny_reason).name})")
            return
        ox = self.submit(self._leg_order(self.leg_x, side_x, lots_x, False, "pairs-entry"))
        if ox.status == OrderStatus.DENIED:
            self.count(f"leg risk: leg x denied ({DenyReason(ox.deny_reason).name}); leg y is "
                       "flattened at the next bar")
            return
        self.side = st.pos
        self.count("taken: entry")

    def _close_legs(self, tag: str) -> bool:
        """Reduce-only orders closing each leg's position; False when nothing could be sent."""
        if self.ctx.trading_state() == TradingState.HALTED:
            self.count("skipped: close, trading halted (retried at the next bar)")
            return False
        sent = False
        for key in (self.leg_y, self.leg_x):
            lots = self.ctx.position_lots(*key)
            if lots == 0:
                continue
            o = self.submit(self._leg_order(key, Side.SELL if lots > 0 else Side.BUY, abs(lots),
                                            True, tag))
            if o.status == OrderStatus.DENIED:
                self.count(f"leg risk: close of {key[1]} denied "
                           f"({DenyReason(o.deny_reason).name})")
            else:
                sent = True
        return sent

    def _flatten_residual(self) -> bool:
        """Close positions left while flat; True when there was one."""
        if not any(self.ctx.position_lots(*k) for k in (self.leg_y, self.leg_x)):
            return False
        if self.ctx.open_orders(self.strategy_id):
            self.count("skipped: residual flatten, orders still open")
            return True
        if self._close_legs("pairs-flatten"):
            self.count("taken: flatten residual")
        return True

    def _leg_order(self, key: BookKey, side: Side, lots: int, reduce_only: bool, tag: str):
        inst = self.ctx.instrument(*key)
        book = self.ctx.book(*key)
        top = None
        if book is not None and getattr(book, "valid", True):
            top = book.best_ask() if side == Side.BUY else book.best_bid()
        if top is None:
            return self.order(key[0], key[1], side, lots, type=OrderType.MARKET,
                              tif=TimeInForce.IOC, reduce_only=reduce_only, tag=tag)
        ticks = inst.round_ticks(top[0], up=side == Side.BUY) + int(side) * self.slippage_ticks
        return self.order(key[0], key[1], side, lots, type=OrderType.LIMIT, price=max(1, ticks),
                          tif=TimeInForce.IOC, reduce_only=reduce_only, tag=tag)
