"""Collects what a run did into a `Results` for the report: fills, round trips, denials, the
equity curve, prices and latencies. It listens to the node's order events (no polling) and
samples equity and mids on the replay clock.

Round trips are per (strategy, venue, symbol): one opens when the strategy's position there
leaves zero and closes when it returns to zero (a fill that crosses zero closes the trip and
opens the next with the rest). Its exit reason is the tag of the order whose fill closed it
(e.g. "stop-loss", "arb-sell", "signal"); a position still open at the end of the run is closed
at the last mid with reason "end of run", fees of that notional exit not charged (it did not
trade), as results.py asks.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from tradecore.backtest.results import (END_OF_RUN, Denial, EquityCurve, FillRecord,
                                        PriceSeries, Results, RoundTrip, RunMeta, redact)
from tradecore.core.orders import Order, OrderEvent, OrderStatus


@dataclass
class _Trip:
    side: int
    lots: int = 0                  # open lots (unsigned)
    entry_ts: int = 0
    entry_notional: float = 0.0    # quote, over every entry fill
    entry_qty: float = 0.0         # base units entered
    exit_notional: float = 0.0
    exit_qty: float = 0.0
    fees: float = 0.0


@dataclass
class RunRecorder:
    node: object
    sample_every_ns: int = 1_000_000_000
    fills: list[FillRecord] = field(default_factory=list)
    trips: list[RoundTrip] = field(default_factory=list)
    denials: list[Denial] = field(default_factory=list)
    _open: dict[tuple[str, str, str], _Trip] = field(default_factory=dict)
    _eq_t: list[int] = field(default_factory=list)
    _eq_v: list[float] = field(default_factory=list)
    _px: dict[tuple[str, str], tuple[list[int], list[float]]] = field(default_factory=dict)
    _next_sample: int = 0
    started_wall: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        self.node.listeners.append(self.on_order_event)

    # -- events ---------------------------------------------------------------------------
    def on_order_event(self, order: Order, ev: OrderEvent) -> None:
        if ev.status == OrderStatus.DENIED:
            self.denials.append(Denial(ev.ts_ns, order.strategy_id, order.venue, order.symbol,
                                       order.deny_reason.name, order.reason_text))
            return
        f = ev.fill
        if f is None:
            return
        inst = self.node.instruments[(f.venue, f.symbol)]
        rec = FillRecord.from_core(f, inst, order.strategy_id)
        self.fills.append(rec)
        self._trip(order, rec, f.qty)

    def _trip(self, order: Order, rec: FillRecord, lots: int) -> None:
        key = (order.strategy_id, rec.venue, rec.symbol)
        t = self._open.get(key)
        per_lot_fee = rec.fee / lots
        if t is None:
            self._open[key] = _Trip(rec.side, lots, rec.ts_ns, rec.price * rec.qty, rec.qty,
                                    fees=rec.fee)
            return
        if rec.side == t.side:                   # adding
            t.lots += lots
            t.entry_notional += rec.price * rec.qty
            t.entry_qty += rec.qty
            t.fees += rec.fee
            return
        closing = min(lots, t.lots)
        q = rec.qty * closing / lots
        t.exit_notional += rec.price * q
        t.exit_qty += q
        t.fees += per_lot_fee * closing
        t.lots -= closing
        if t.lots == 0:
            self._close(key, t, rec.ts_ns, order.tag or "signal")
            rest = lots - closing
            if rest:
                q2 = rec.qty - q
                self._open[key] = _Trip(rec.side, rest, rec.ts_ns, rec.price * q2, q2,
                                        fees=per_lot_fee * rest)

    def _close(self, key, t: _Trip, ts: int, reason: str, exit_price: float | None = None
               ) -> None:
        del self._open[key]
        entry = t.entry_notional / t.entry_qty
        qty = t.entry_qty
        if exit_price is None:
            exit_px = t.exit_notional / t.exit_qty
        else:                                  # end of run: the rest at the mark
            exit_px = ((t.exit_notional + exit_price * (qty - t.exit_qty)) / qty)
        gross = (exit_px - entry) * qty * t.side
        self.trips.append(RoundTrip(key[0], key[1], key[2], t.side, qty, t.entry_ts, entry,
                                    max(ts, t.entry_ts), exit_px, gross - t.fees, t.fees,
                                    reason))

    # -- sampling (called per replayed record) ---------------------------------------------
    def on_record(self, ts_ns: int) -> None:
        if ts_ns < self._next_sample:
            return
        self._next_sample = ts_ns + self.sample_every_ns
        self._eq_t.append(ts_ns)
        self._eq_v.append(self.node.equity())
        for key, book in self.node.books.items():
            mid = book.mid() if book.valid else None
            if mid:
                ts, px = self._px.setdefault(key, ([], []))
                ts.append(ts_ns)
                px.append(mid)

    # -- the result -----------------------------------------------------------------------
    def results(self, run_id: str, mode: str, config: dict, sources: tuple[str, ...]) -> Results:
        now = self._eq_t[-1] if self._eq_t else 0
        for key, t in list(self._open.items()):
            book = self.node.books.get((key[1], key[2]))
            mark = book.mid() if book is not None and book.valid else None
            if mark:
                self._close(key, t, now, END_OF_RUN, exit_price=mark)
        if self._eq_t:
            self._eq_t.append(now + 1)
            self._eq_v.append(self.node.equity())
        st = self.node.stats
        lat = {"frame (bytes to every callback done)": np.asarray(st.frame_ns, np.int64)}
        if st.order_frame_ns:
            lat["tick to order (frames that sent orders)"] = np.asarray(st.order_frame_ns,
                                                                        np.int64)
        candle = bool(getattr(self.node, "candle_based", False))
        # returns per day over candles (years of bars), per minute over a book replay (minutes)
        period = 86_400_000_000_000 if candle else 60_000_000_000
        meta = RunMeta(run_id=run_id, mode=mode, config=redact(config), candle_based=candle,
                       data_sources=sources, base_currency=self.node.cfg.quote,
                       returns_period_ns=period,
                       periods_per_year=365 if candle else 365 * 24 * 60)
        return Results(meta=meta, equity=EquityCurve(np.asarray(self._eq_t, np.int64),
                                                     np.asarray(self._eq_v)),
                       trades=list(self.trips), fills=list(self.fills),
                       denials=list(self.denials), latency_ns=lat,
                       prices=[PriceSeries(k[0], k[1], np.asarray(v[0], np.int64),
                                           np.asarray(v[1])) for k, v in self._px.items()])
