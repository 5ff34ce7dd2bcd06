"""Prometheus metrics of a running node, every name prefixed `tradecore_`.

Why it is built this way: a prometheus_client Histogram.observe() takes a lock and walks the
bucket bounds in Python (~1 us); a node frame costs a few us. So the hot path only pushes raw
nanosecond durations into a C buffer per stage, from compiled probes (_fast/probes.pxd: two
reads of the monotonic clock and a store, no Python int made), and the samples are folded into
cumulative bucket counts with numpy (`searchsorted` + `bincount`) by a periodic task on the
loop (`EngineMetrics.run`) and at scrape time. Everything else (counters of
messages, fills, fees, PnL, exposure, denials, trading state) is already kept by the node, the
portfolio and the risk gate, and is read at scrape time by a custom Collector: no per-event cost.

The probes `attach()` installs, and what each stage measures (ns, perf_counter):

  parse_book    frame bytes in -> the first book callback of that frame (parse + apply)
  frame         the whole frame (the node's own measurement, Stats.frame_ns: no extra probe)
  strategy      one strategy's on_book (detection; includes risk and send of its orders)
  risk          RiskGate.check of one order
  order_send    VenueClient.submit of one order
  ack           order sent -> accepted/rejected, in the node's clock (paper: the simulated
                latency; live: the venue round trip)

They are instance attributes shadowing the bound methods (normalizer.on_frame / on_book,
strategy.on_book, venue.submit), so nothing in the engine changes and a node without metrics
runs exactly as before. The risk check is not shadowed: the compiled submit calls the risk
kernel directly only while gate.check is the kernel's own, so the engine and its compiled
submit time the check themselves when given a buffer (`risk_samples`). Normalizers the node
creates later (live mode builds them in run_live) are probed when it calls start(), before the
first frame. benchmarks/bench_metrics.py measures the difference per frame.
"""
from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (CounterMetricFamily, GaugeMetricFamily,
                                    HistogramMetricFamily)
from prometheus_client.registry import Collector

from tradecore._fast.probes import NormalizerProbe, Samples, timed1, timed3
from tradecore.core.orders import DenyReason, OrderStatus, TradingState

__all__ = ["LatencyRecorder", "EngineMetrics", "attach", "BUCKETS_S", "STAGES"]

PREFIX = "tradecore_"
STAGES = ("parse_book", "frame", "strategy", "risk", "order_send", "ack")
# upper bounds in seconds: 1 us .. 5 s (ack round trips are ms, frames are us)
BUCKETS_S = (1e-6, 2e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2,
             2e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_BOUNDS_NS = np.array([round(b * 1e9) for b in BUCKETS_S], dtype=np.int64)
_WORKING = (OrderStatus.SUBMITTED, OrderStatus.ACCEPTED, OrderStatus.PARTIALLY_FILLED,
            OrderStatus.PENDING_CANCEL, OrderStatus.TRIGGERED)
_RECENT = 8192          # samples kept per stage for percentiles (dashboard, /api/latency)


class LatencyRecorder:
    """Raw ns samples pushed on the hot path (`samples`, which compiled probes push to);
    folded into histogram buckets off it. `append` adds one from Python (off the hot path)."""

    __slots__ = ("samples", "append", "counts", "sum_ns", "n", "recent", "_ri")

    def __init__(self) -> None:
        self.samples = Samples()
        self.append = self.samples.add
        self.counts = np.zeros(len(_BOUNDS_NS) + 1, dtype=np.int64)   # last: above every bound
        self.sum_ns = 0
        self.n = 0
        self.recent = np.zeros(_RECENT, dtype=np.int64)
        self._ri = 0                                                    # samples ever recent'd

    def fold(self) -> int:
        """Move the pending samples into the bucket counts; returns how many."""
        if not len(self.samples):
            return 0
        xs = np.frombuffer(self.samples.take(), dtype=np.int64)
        k = len(xs)
        idx = np.searchsorted(_BOUNDS_NS, xs, side="left")      # x <= bound -> that bucket
        self.counts += np.bincount(idx, minlength=len(self.counts))
        self.sum_ns += int(xs.sum())
        self.n += k
        tail = xs[-_RECENT:]
        pos = (self._ri + np.arange(len(tail))) % _RECENT
        self.recent[pos] = tail
        self._ri += len(tail)
        return k

    def extend(self, xs: Iterable[int]) -> None:
        self.samples.extend(xs)

    def percentiles(self, qs: Iterable[float] = (50, 90, 99)) -> dict[str, float | None]:
        """Percentiles in microseconds of the most recent samples (None before any)."""
        have = min(self._ri, _RECENT)
        if not have:
            return {f"p{q:g}": None for q in qs}
        xs = self.recent[:have]
        return {f"p{q:g}": float(np.percentile(xs, q)) / 1e3 for q in qs}

    def cumulative(self) -> list[tuple[str, float]]:
        """(le, cumulative count) pairs as Prometheus wants them, +Inf last."""
        c = np.cumsum(self.counts)
        out = [(repr(float(b)), float(c[i])) for i, b in enumerate(BUCKETS_S)]
        out.append(("+Inf", float(c[-1])))
        return out


class EngineMetrics:
    """The node's metrics: recorders the probes feed, counters the listeners keep, and the
    Collector that reads everything else at scrape time."""

    def __init__(self, node, *, registry: CollectorRegistry | None = None,
                 loop_lag_period_s: float = 0.1) -> None:
        self.node = node
        self.stages: dict[str, LatencyRecorder] = {s: LatencyRecorder() for s in STAGES}
        self.probes: dict[str, list[NormalizerProbe]] = {}  # venue -> its normalizers' probes
        self.order_events: dict[str, int] = defaultdict(int)   # status name -> count
        self.breaker_trips: dict[str, int] = defaultdict(int)
        self.predictions: dict[tuple[str, str], list[int]] = {}
        self.loop_lag = LatencyRecorder()
        self.loop_lag_last_s = 0.0
        self.loop_lag_period_s = loop_lag_period_s
        self._frame_seen = 0                               # node.stats.frame_ns already folded
        self._sent_at: dict[str, int] = {}
        self.registry = registry or CollectorRegistry(auto_describe=False)
        self.registry.register(_NodeCollector(self))
        self.attached = False
        self.is_stopped: Callable[[str], bool] = lambda sid: False    # the Control's answer

    # -- producers -------------------------------------------------------------------------
    def on_order_event(self, order, ev) -> None:
        """Node listener: events by status, and the ack round trip (off the frame path:
        called once per order event)."""
        st = ev.status
        self.order_events[OrderStatus(st).name] += 1
        if st == OrderStatus.SUBMITTED:
            self._sent_at[order.client_order_id] = self.node.clock.time_ns()
        elif st == OrderStatus.ACCEPTED or st == OrderStatus.REJECTED:
            t = self._sent_at.pop(order.client_order_id, None)
            if t is not None:
                self.stages["ack"].append(self.node.clock.time_ns() - t)
        elif order.is_terminal:
            self._sent_at.pop(order.client_order_id, None)

    def on_breaker_trip(self, name: str) -> None:
        self.breaker_trips[name] += 1

    def prediction_counter(self, model: str, version: str) -> Callable[[], None]:
        """A model's per-prediction hook: `count = metrics.prediction_counter("m", "v3")`, then
        `count()` after each prediction (one list-item increment)."""
        cell = self.predictions.setdefault((model, version), [0])

        def count(_c=cell) -> None:
            _c[0] += 1
        return count

    def message_counts(self) -> dict[str, int]:
        """Frames received per venue (every normalizer it had: live mode replaces them)."""
        return {v: sum(p.messages for p in ps) for v, ps in self.probes.items()}

    def book_update_counts(self) -> dict[tuple[str, str], int]:
        """Book changes per (venue, symbol)."""
        out: dict[tuple[str, str], int] = defaultdict(int)
        for v, ps in self.probes.items():
            for p in ps:
                for sym, n in p.book_updates().items():
                    out[(v, sym)] += n
        return dict(out)

    # -- folding ---------------------------------------------------------------------------
    def fold(self) -> None:
        """Move pending samples into the histograms (periodic task and every scrape)."""
        frames = self.node.stats.frame_ns
        n = len(frames)
        if n > self._frame_seen:
            self.stages["frame"].extend(frames[self._frame_seen:n])
            self._frame_seen = n
        for r in self.stages.values():
            r.fold()
        self.loop_lag.fold()

    async def run(self, period_s: float = 1.0) -> None:
        """Fold every `period_s` and measure event-loop lag (how late a sleep wakes up)."""
        loop = asyncio.get_running_loop()
        next_fold = loop.time() + period_s
        step = self.loop_lag_period_s
        while True:
            t0 = loop.time()
            await asyncio.sleep(step)
            lag = max(0.0, loop.time() - t0 - step)
            self.loop_lag_last_s = lag
            self.loop_lag.append(int(lag * 1e9))
            if loop.time() >= next_fold:
                self.fold()
                next_fold = loop.time() + period_s

    def exposition(self) -> bytes:
        """The Prometheus text format (what /metrics serves)."""
        return generate_latest(self.registry)

    def latency_percentiles(self) -> dict[str, dict[str, float | None]]:
        self.fold()
        out = {s: r.percentiles() for s, r in self.stages.items()}
        out["event_loop_lag"] = self.loop_lag.percentiles()
        return out


def attach(node, metrics: EngineMetrics | None = None) -> EngineMetrics:
    """Install the hot-path probes on a built node (before it runs). Idempotent per metrics."""
    m = metrics or EngineMetrics(node)
    if m.attached:
        return m
    parse = m.stages["parse_book"].samples
    probed: set[int] = set()

    def probe_normalizers() -> None:
        for venue, n in node.normalizers.items():
            if id(n) in probed:
                continue
            probed.add(id(n))
            p = NormalizerProbe(n.on_frame, n.on_rest, n.on_book, parse)
            n.on_frame, n.on_rest, n.on_book = p.frame, p.rest, p.book
            m.probes.setdefault(venue, []).append(p)
    probe_normalizers()
    # live mode (run_live) builds its normalizers when it runs, then calls start(): probe
    # those too, just before the first frame
    node_start = node.start

    def start() -> None:
        probe_normalizers()
        node_start()
    node.start = start
    strat = m.stages["strategy"].samples
    for s in node.strategies:
        s.on_book = timed3(s.on_book, strat)
    # the engine times its own gate check, and so does its compiled submit (OrderPath)
    risk = m.stages["risk"].samples
    node.exec.risk_samples = risk
    path = getattr(node.exec.submit, "__self__", None)
    if path is not None and hasattr(path, "risk_samples"):
        path.risk_samples = risk
    send = m.stages["order_send"].samples
    for v in node.exec.venues.values():
        v.submit = timed1(v.submit, send)
    node.listeners.append(m.on_order_event)
    m.attached = True
    return m


class _NodeCollector(Collector):
    """Reads the node at scrape time."""

    def __init__(self, m: EngineMetrics) -> None:
        self.m = m

    def collect(self) -> Iterable[Any]:
        m, node = self.m, self.m.node
        m.fold()
        h = HistogramMetricFamily(PREFIX + "stage_latency_seconds",
                                  "Hot-path stage latency (see tradecore.api.metrics)",
                                  labels=["stage"])
        for name, r in m.stages.items():
            h.add_metric([name], r.cumulative(), r.sum_ns / 1e9)
        yield h
        lag = HistogramMetricFamily(PREFIX + "event_loop_lag_seconds",
                                    "How late a periodic sleep on the event loop woke up")
        lag.add_metric([], m.loop_lag.cumulative(), m.loop_lag.sum_ns / 1e9)
        yield lag

        st = node.stats
        c = CounterMetricFamily(PREFIX + "messages", "Frames received", labels=["venue"])
        for venue, n in m.message_counts().items():
            c.add_metric([venue], n)
        yield c
        c = CounterMetricFamily(PREFIX + "book_updates", "Book changes",
                                labels=["venue", "symbol"])
        for (venue, sym), n in m.book_update_counts().items():
            c.add_metric([venue, sym], n)
        yield c
        c = CounterMetricFamily(PREFIX + "feed_problems", "Gaps, resyncs, checksum and "
                                "sequence problems, per venue and kind",
                                labels=["venue", "reason"])
        for key, n in st.problems.items():
            venue, _, reason = key.partition(":")
            c.add_metric([venue, reason], n)
        yield c
        g = GaugeMetricFamily(PREFIX + "book_staleness_seconds",
                              "Node clock minus the book's last update",
                              labels=["venue", "symbol"])
        now = node.clock.time_ns()
        for (venue, sym), b in list(node.books.items()):
            ts = getattr(b, "ts_ns", 0)
            if ts:
                g.add_metric([venue, sym], max(0, now - ts) / 1e9)
        yield g

        c = CounterMetricFamily(PREFIX + "order_events", "Order events by status",
                                labels=["status"])
        for name, n in m.order_events.items():
            c.add_metric([name], n)
        yield c
        g = GaugeMetricFamily(PREFIX + "orders_open", "Working orders")
        g.add_metric([], len(node.exec.oms.open))
        yield g
        g = GaugeMetricFamily(PREFIX + "orders", "Working orders by state (terminal states: "
                              "tradecore_order_events_total)", labels=["state"])
        by_state: dict[str, int] = {s.name: 0 for s in _WORKING}
        for o in list(node.exec.oms.open.values()):
            name = OrderStatus(o.status).name
            by_state[name] = by_state.get(name, 0) + 1
        for name, n in by_state.items():
            g.add_metric([name], n)
        yield g
        c = CounterMetricFamily(PREFIX + "orders_denied", "Risk-gate denials by reason (and "
                                "the engine's JOURNAL_UNWRITABLE)", labels=["reason"])
        unjournaled = node.exec.journal_denials
        for reason, n in node.gate.denials.items():
            c.add_metric([reason.name],
                         n + (unjournaled if reason is DenyReason.JOURNAL_UNWRITABLE else 0))
        yield c
        g = GaugeMetricFamily(PREFIX + "journal_backlog_records", "Journal records waiting "
                              "for room (no intent is written meanwhile: orders are denied)")
        g.add_metric([], getattr(node.journal, "backlog", 0))
        yield g
        c = CounterMetricFamily(PREFIX + "journal_write_errors", "Journal writes that found "
                                "no room")
        c.add_metric([], getattr(node.journal, "write_errors", 0))
        yield c
        c = CounterMetricFamily(PREFIX + "orders_sent", "Orders strategies submitted")
        c.add_metric([], st.orders)
        yield c
        c = CounterMetricFamily(PREFIX + "fills", "Fills")
        c.add_metric([], st.fills)
        yield c
        p = node.exec.portfolio
        c = CounterMetricFamily(PREFIX + "fees", "Fees paid, quote currency")
        c.add_metric([], p.fees())
        yield c
        g = GaugeMetricFamily(PREFIX + "pnl", "PnL in quote currency (realized is net of fees)",
                              labels=["kind"])
        g.add_metric(["realized"], p.realized_pnl())
        g.add_metric(["unrealized"], p.unrealized_pnl())
        yield g
        g = GaugeMetricFamily(PREFIX + "equity", "Equity in quote currency")
        g.add_metric([], node.equity())
        yield g
        pos = GaugeMetricFamily(PREFIX + "position_lots", "Signed position, lots",
                                labels=["venue", "symbol"])
        exp = GaugeMetricFamily(PREFIX + "exposure_notional", "|position| x mark, quote",
                                labels=["venue", "symbol"])
        gross = 0.0
        for (venue, sym), ps in list(p.positions.items()):
            pos.add_metric([venue, sym], ps.lots)
            x = abs(ps.qty) * ps.mark
            gross += x
            exp.add_metric([venue, sym], x)
        yield pos
        yield exp
        g = GaugeMetricFamily(PREFIX + "gross_exposure_notional", "Sum of |exposure|, quote")
        g.add_metric([], gross)
        yield g
        g = GaugeMetricFamily(PREFIX + "risk_limit", "Portfolio risk limits in force "
                              "(0 = no limit)", labels=["limit"])
        lim = node.gate.limits
        for name in ("max_gross_notional", "max_net_notional", "max_orders_per_sec"):
            g.add_metric([name], float(getattr(lim, name)))
        yield g
        g = GaugeMetricFamily(PREFIX + "trading_state",
                              "Risk gate state: 0 ACTIVE, 1 REDUCING, 2 HALTED")
        g.add_metric([], int(TradingState(node.gate.state)))
        yield g
        c = CounterMetricFamily(PREFIX + "breaker_trips", "Breaker and kill-switch trips",
                                labels=["breaker"])
        for name, n in m.breaker_trips.items():
            c.add_metric([name], n)
        yield c
        c = CounterMetricFamily(PREFIX + "model_predictions", "Model predictions",
                                labels=["model", "version"])
        for (model, version), cell in m.predictions.items():
            c.add_metric([model, version], cell[0])
        yield c
        g = GaugeMetricFamily(PREFIX + "strategy_running", "1 while a strategy receives data",
                              labels=["strategy"])
        for s in node.strategies:
            g.add_metric([s.strategy_id], 0 if m.is_stopped(s.strategy_id) else 1)
        yield g
