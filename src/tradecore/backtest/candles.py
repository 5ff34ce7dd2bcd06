"""Candle-based backtests: bars in, the same strategies, risk gate and OMS, a conservative fill rule.

Where only candles exist (years of hourly or daily bars), there is no book to walk, so the venue
fills orders from the *next* bar's prices by this rule, which never gives a better price than the
bar allows and never uses a price the strategy could not have known:

* A strategy sees a bar only when it has closed (the clock is at its close time; `on_bar` gets
  the bar's open time as its identity, like every candle source). Orders it sends then are filled
  with the following bar.
* market orders (and IOC/FOK limits) fill at the next bar's open, moved against the order by
  `slippage_bps`; a limit that the adjusted open violates expires unfilled (IOC) or rests.
* resting limit orders fill at their limit price when the bar trades strictly through it (low <
  limit for a buy, high > limit for a sell: touching is not enough, the queue is unknown), as
  maker; at most `max_volume_share` of the bar's volume per bar (partial fills).
* stop-market / take-profit orders trigger when the bar's range reaches the trigger and fill at
  the trigger, or at the open when the bar gapped through it (the worse of the two).
* fees per the instrument (taker for market-style fills, maker for resting limits).

The report of such a run is marked candle-based (RunMeta.candle_based). A strategy that asks the
node for a bar that has not closed yet (`ctx.bar(...)` with a future time) gets LookAheadError:
the look-ahead test injects a peeking strategy and shows it is caught.
"""
from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tradecore.core.clock import Clock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from tradecore.execution.venue import VenueClient, VenueListener, VenueOrderState


class LookAheadError(RuntimeError):
    """A strategy asked for data stamped after the clock."""


@dataclass(frozen=True)
class Candles:
    """One instrument's bars; ts_ns is each bar's open time, ascending, on a fixed interval."""
    ts_ns: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    interval_ns: int
    source: str = ""

    def __len__(self) -> int:
        return int(self.ts_ns.size)


def load_candles(path: str | Path) -> Candles:
    """A candle CSV of ../shared/data/ohlcv (ts_ms, datetime_utc, open, high, low, close,
    volume[, ...]), plain or gzip. Unsorted or duplicate timestamps, missing columns and
    non-numbers are errors naming the file, the line and the field."""
    p = Path(path)
    opener = gzip.open if p.read_bytes()[:2] == b"\x1f\x8b" else open
    with opener(p, "rt", newline="") as f:
        rows = csv.reader(f)
        header = next(rows, None)
        need = ["ts_ms", "open", "high", "low", "close", "volume"]
        if header is None or any(c not in header for c in need):
            raise ValueError(f"{p}: header {header!r} lacks one of {need}")
        col = [header.index(c) for c in need]
        data = []
        for n, r in enumerate(rows, 2):
            try:
                data.append([float(r[i]) for i in col])
            except (ValueError, IndexError) as e:
                raise ValueError(f"{p}:{n}: {e} (expected numbers in {need})") from None
    a = np.asarray(data, dtype=np.float64).reshape(-1, 6)
    ts = (a[:, 0].astype(np.int64)) * 1_000_000
    if ts.size > 1:
        d = np.diff(ts)
        if np.any(d <= 0):
            i = int(np.flatnonzero(d <= 0)[0])
            raise ValueError(f"{p}: timestamps not strictly ascending at line {i + 3} "
                             f"({ts[i]} then {ts[i + 1]}); sort the file first")
        interval = int(np.min(d))
    else:
        interval = 60_000_000_000
    return Candles(ts, a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5], interval, str(p))


@dataclass
class _Resting:
    order: Order
    filled: int = 0
    voi: str = ""


class CandleVenue(VenueClient):
    """The paper venue for candles (module docstring)."""

    def __init__(self, name: str, clock: Clock, instruments: dict[str, Instrument], *,
                 slippage_bps: float = 1.0, max_volume_share: float = 0.1) -> None:
        if slippage_bps < 0 or not 0 < max_volume_share <= 1:
            raise ValueError(f"CandleVenue {name}: slippage_bps >= 0 and 0 < max_volume_share "
                             f"<= 1 expected, got {slippage_bps}, {max_volume_share}")
        self.name = name
        self.clock = clock
        self.instruments = instruments
        self.slip = slippage_bps / 1e4
        self.vol_share = max_volume_share
        self.listener: VenueListener | None = None
        self.working: dict[str, _Resting] = {}
        self.fills: list[Fill] = []
        self._n = 0

    def set_listener(self, listener: VenueListener) -> None:
        self.listener = listener

    def submit(self, order: Order) -> None:
        self._n += 1
        w = _Resting(order, 0, f"{self.name}-c{self._n}")
        self.working[order.client_order_id] = w
        self.listener.on_order_accepted(order.client_order_id, w.voi, self.clock.time_ns())

    def cancel(self, order: Order) -> None:
        w = self.working.pop(order.client_order_id, None)
        ts = self.clock.time_ns()
        if w is None:
            self.listener.on_cancel_rejected(order.client_order_id, "unknown order", ts)
        else:
            self.listener.on_order_canceled(order.client_order_id, "", ts)

    async def open_orders(self) -> list[VenueOrderState]:
        return [VenueOrderState(w.order.client_order_id, w.voi, w.order.symbol, w.order.side,
                                w.order.type, w.order.qty, w.order.price, w.filled,
                                OrderStatus.ACCEPTED) for w in self.working.values()]

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        return [f for f in self.fills if f.ts_ns >= ts_ns]

    # -- the fill rule ------------------------------------------------------------------------
    def on_bar(self, symbol: str, o: float, h: float, lo: float, c: float, v: float) -> None:
        """A new bar of `symbol` closed: fill what was working before it."""
        inst = self.instruments.get(symbol)
        if inst is None:
            return
        cap = max(0, inst.lots_near(v * self.vol_share)) if v > 0 else 0
        for cid, w in list(self.working.items()):
            od = w.order
            if od.symbol != symbol:
                continue
            buy = od.side == Side.BUY
            t = od.type
            px = None
            maker = False
            if t in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT, OrderType.TRAILING_STOP):
                trig = inst.price(od.trigger_price)
                hit = (h >= trig) if (buy == (t != OrderType.TAKE_PROFIT)) else (lo <= trig)
                if not hit:
                    continue
                gap = (o > trig) if (buy == (t != OrderType.TAKE_PROFIT)) else (o < trig)
                base = o if gap else trig
                px = base * (1 + self.slip) if buy else base * (1 - self.slip)
            elif t == OrderType.MARKET or od.tif in (TimeInForce.IOC, TimeInForce.FOK):
                px = o * (1 + self.slip) if buy else o * (1 - self.slip)
                if t != OrderType.MARKET:
                    lim = inst.price(od.price)
                    if (buy and px > lim) or (not buy and px < lim):
                        self._done(cid, expired=True)
                        continue
            elif t == OrderType.LIMIT:
                lim = inst.price(od.price)
                if (buy and lo < lim) or (not buy and h > lim):
                    px = lim
                    maker = True
                else:
                    continue
            else:                                     # STOP_LIMIT / TAKE_PROFIT_LIMIT
                self._done(cid, expired=True)
                continue
            want = od.qty - w.filled
            lots = want if not cap else min(want, cap)
            if lots <= 0:
                continue
            ticks = inst.ticks_near(px, up=buy) if not maker else od.price
            fee = inst.notional(ticks, lots) * (inst.maker_fee if maker else inst.taker_fee)
            self._n += 1
            f = Fill(cid, self.name, symbol, od.side, lots, ticks, fee,
                     "maker" if maker else "taker", f"{self.name}-f{self._n}",
                     self.clock.time_ns())
            self.fills.append(f)
            w.filled += lots
            self.listener.on_fill(f)
            if w.filled >= od.qty:
                self.working.pop(cid, None)
            elif od.tif in (TimeInForce.IOC, TimeInForce.FOK) or od.type == OrderType.MARKET:
                self._done(cid, expired=True)

    def end_of_data(self) -> None:
        """No next bar will come: market and IOC/FOK orders still waiting for one expire
        (resting limits stay working, as on a venue)."""
        for cid, w in list(self.working.items()):
            od = w.order
            if od.type == OrderType.MARKET or od.tif in (TimeInForce.IOC, TimeInForce.FOK):
                self._done(cid, expired=True)

    def _done(self, cid: str, expired: bool) -> None:
        self.working.pop(cid, None)
        if expired:
            self.listener.on_order_expired(cid, self.clock.time_ns())
