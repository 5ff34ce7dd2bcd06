"""The feed node: recordings (run_replay) or the venues' live feeds (run_live) -> the same
normalizers and L2Books as the in-process TradingNode -> the bus.

After each book change the normalizer reports, the node publishes what changed on
`tradecore.md.<venue>.<symbol>`: the levels whose lots differ from the last published state
(lots 0 = removed), numbered per book (`bseq`) and over all md messages (`gseq`, the replay
step). Every `snapshot_every` deltas of a book (and on its first update) the full book also
goes to `tradecore.snap.<venue>.<symbol>`, a stream that keeps only the newest message per
subject, once the delta it is current at is stored: it names that delta's md stream sequence,
so a node starting late takes the snapshot and reads the md stream from the next sequence. Trades and the normalizer's
problems (a stale book) go to the md stream in the same order as the book changes.

The diff walks both sides of the book after each change (`L2Book.depth_ticks`): measured, not
free (benchmarks/bench_bus.py prints the feed node's cost per message); a change log kept by
the book kernel itself would remove it, at the price of touching _fast/book.pyx.

The feed node never waits for a consumer: it only waits for JetStream to store (ack) each batch.
"""
from __future__ import annotations

import dataclasses
import logging
import time

import numba
import numpy as np

from tradecore.bus import subjects
from tradecore.bus.codec import BookMsg, FeedEnd, StaleMsg, TradeMsg, encode
from tradecore.bus.settings import BusSettings
from tradecore.bus.transport import Bus
from tradecore.config import NodeConfig
from tradecore.core.events import Problem, Trade
from tradecore.data.capture import REST, WS, CaptureError, merge_captures
from tradecore.verify import normalizer_for

log = logging.getLogger("tradecore.bus.feed")
_EMPTY = np.zeros((0, 2), dtype=np.int64)


@numba.njit(cache=True, nogil=True)
def _merge_diff(pt, pl, ct, cl, desc):   # compiled; side_diff_ref is its reference
    n, m = len(pt), len(ct)
    out = np.empty((n + m, 2), dtype=np.int64)
    i = j = k = 0
    while i < n or j < m:
        if i < n and j < m:
            a, b = pt[i], ct[j]
            if a == b:
                if pl[i] != cl[j]:
                    out[k, 0] = b
                    out[k, 1] = cl[j]
                    k += 1
                i += 1
                j += 1
                continue
            prev_first = a > b if desc else a < b
        else:
            prev_first = i < n
        if prev_first:                 # a level only in prev: removed
            out[k, 0] = pt[i]
            out[k, 1] = 0
            i += 1
        else:                          # a level only in cur: new
            out[k, 0] = ct[j]
            out[k, 1] = cl[j]
            j += 1
        k += 1
    return out[:k]


def side_diff(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Levels (ticks, lots) that turn `prev` into `cur`: new or changed levels with their lots,
    vanished ones with lots 0. Both are (n, 2) int64 arrays of distinct ticks in the order
    L2Book.depth_ticks gives a side (bids descending, asks ascending). One merge pass over
    both (compiled: a side holds up to ~5000 levels in the bundled recordings)."""
    if len(prev) == 0:
        return cur
    desc = bool((len(cur) > 1 and cur[0, 0] > cur[1, 0]) or
                (len(prev) > 1 and prev[0, 0] > prev[1, 0]))
    return _merge_diff(np.ascontiguousarray(prev[:, 0]), np.ascontiguousarray(prev[:, 1]),
                       np.ascontiguousarray(cur[:, 0]), np.ascontiguousarray(cur[:, 1]), desc)


def side_diff_ref(prev: np.ndarray, cur: np.ndarray) -> dict[int, int]:
    """Plain-Python reference of side_diff, as {ticks: lots} (tests compare the two)."""
    p = {int(t): int(q) for t, q in prev}
    c = {int(t): int(q) for t, q in cur}
    out = {t: q for t, q in c.items() if p.get(t) != q}
    out.update({t: 0 for t in p if t not in c})
    return out


class BookPublisher:
    """Turns book changes, trades and problems into bus messages (no I/O: `out` collects
    (subject, bytes, msg id) for the caller to publish)."""

    def __init__(self, snapshot_every: int) -> None:
        self.snapshot_every = snapshot_every
        self.gseq = 0
        self.bseq: dict[tuple[str, str], int] = {}
        self.prev: dict[tuple[str, str], tuple] = {}      # bids, asks, grid last published
        self.out: list[tuple[str, bytes, str]] = []         # md stream
        self.snaps: list[tuple[int, BookMsg]] = []           # (index in out, full book)
        self.last_ts = 0
        self.rec_ns = 0                # receive time of the record being normalized
        self.snapshots = 0

    def on_book(self, venue: str, symbol: str, book) -> None:
        key = (venue, symbol)
        bids = book.depth_ticks(0, book.bid_count)
        asks = book.depth_ticks(1, book.ask_count)
        grid = (book._tick_text(), book._lot_text())
        pb, pa, pgrid = self.prev.get(key, (_EMPTY, _EMPTY, None))
        self.prev[key] = (bids, asks, grid)
        self.gseq += 1
        n = self.bseq[key] = self.bseq.get(key, 0) + 1
        self.last_ts = max(self.last_ts, self.rec_ns)
        if grid != pgrid:
            # a first update, or the normalizer moved the book to a finer grid (regrid): the
            # old ticks/lots mean nothing on the new one, so this one is a full book
            m = BookMsg(True, venue, symbol, self.gseq, n, book.ts_ns, self.rec_ns, book.seq,
                        bool(book.valid), grid[0], grid[1], bids, asks)
        else:
            m = BookMsg(False, venue, symbol, self.gseq, n, book.ts_ns, self.rec_ns, book.seq,
                        bool(book.valid), grid[0], grid[1], side_diff(pb, bids),
                        side_diff(pa, asks))
        self.out.append((subjects.md(venue, symbol), encode(m), f"md-{self.gseq}"))
        if grid != pgrid or n % self.snapshot_every == 0:
            # for the snapshot stream, once this delta is stored and its stream sequence known
            self.snaps.append((len(self.out) - 1, BookMsg(
                True, venue, symbol, self.gseq, n, book.ts_ns, self.rec_ns, book.seq,
                bool(book.valid), grid[0], grid[1], bids, asks)))

    def snapshot_items(self, md_seqs: list[int]) -> list[tuple[str, bytes, str]]:
        """The pending snapshots, now that `md_seqs` (the stream sequences of `out`, in order)
        are known; clears both."""
        items = []
        for i, m in self.snaps:
            m = dataclasses.replace(m, md_seq=md_seqs[i])
            items.append((subjects.snap(m.venue, m.symbol), encode(m),
                          f"snap-{m.venue}-{m.symbol}-{m.bseq}"))
            self.snapshots += 1
        self.snaps.clear()
        return items

    def on_trade(self, venue: str, trade: Trade) -> None:
        self.gseq += 1
        self.last_ts = max(self.last_ts, self.rec_ns)
        m = TradeMsg(self.gseq, self.rec_ns, trade)
        self.out.append((subjects.md(venue, trade.symbol), encode(m), f"md-{self.gseq}"))

    def on_problem(self, venue: str, p: Problem, ts_ns: int) -> None:
        if not p.symbol or (venue, p.symbol) not in self.bseq:
            return            # nothing published for that book yet: nobody holds it
        self.gseq += 1
        m = StaleMsg(venue, p.symbol, self.gseq, self.bseq[(venue, p.symbol)], ts_ns, p.reason)
        self.out.append((subjects.md(venue, p.symbol), encode(m), f"md-{self.gseq}"))

    def end(self) -> None:
        self.out.append((subjects.FEED_END, encode(FeedEnd(self.gseq, self.last_ts)),
                         f"end-{self.gseq}"))


class FeedNode:
    def __init__(self, cfg: NodeConfig, bus_cfg: BusSettings, bus: Bus | None = None) -> None:
        self.cfg = cfg
        self.bus_cfg = bus_cfg
        self.bus = bus or Bus(bus_cfg.url, "feed", bus_cfg.reconnect_wait_s)
        self.pub = BookPublisher(bus_cfg.snapshot_every)
        self.problems: dict[str, int] = {}
        self.records = 0
        self.publish_s = 0.0
        self.normalize_s = 0.0
        self.normalizers = {}
        self._ts = 0
        for f in cfg.feeds:
            n = normalizer_for(f.exchange)
            n.on_book = self._book_hook(f.venue)
            n.on_trade = lambda t, v=f.venue: self.pub.on_trade(v, t)
            n.on_problem = self._problem_hook(f.venue)
            self.normalizers[f.venue] = n

    def _book_hook(self, venue: str):
        pub = self.pub

        def on_book(key, book) -> None:
            pub.on_book(venue, key[1], book)
        return on_book

    def _problem_hook(self, venue: str):
        def on_problem(p: Problem) -> None:
            k = f"{venue}:{p.reason}"
            self.problems[k] = self.problems.get(k, 0) + 1
            self.pub.on_problem(venue, p, self._ts)
        return on_problem

    async def run_replay(self, batch: int = 512, limit: int | None = None) -> dict:
        """Publish the whole recording (as fast as JetStream stores it), then the end mark."""
        await self.bus.connect()
        await self.bus.ensure_streams(fresh=self.bus_cfg.fresh)
        files = {f.venue: f.capture for f in self.cfg.feeds}

        def bad(e: CaptureError) -> None:
            self.problems["capture:unreadable_line"] = \
                self.problems.get("capture:unreadable_line", 0) + 1
        out = self.pub.out
        t_start = time.perf_counter()
        for venue, rec in merge_captures(files, on_error=bad):
            if limit is not None and self.records >= limit:
                break
            self.records += 1
            self._ts = self.pub.rec_ns = rec.ts_ns
            n = self.normalizers[venue]
            t0 = time.perf_counter()
            if rec.kind == WS:
                n.on_frame(rec.payload, rec.conn, rec.ts_ns)
            elif rec.kind == REST:
                n.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
            self.normalize_s += time.perf_counter() - t0
            if len(out) >= batch:
                await self._flush()
        self.pub.end()
        await self._flush()
        wall = time.perf_counter() - t_start
        await self.bus.close()
        return {"records": self.records, "md_messages": self.pub.gseq,
                "snapshots": self.pub.snapshots, "problems": self.problems,
                "publish_s": round(self.publish_s, 3), "normalize_s": round(self.normalize_s, 3),
                "wall_s": round(wall, 3), "publish_retries": self.bus.publish_retries,
                "disconnects": self.bus.disconnects}

    async def run_live(self, seconds: float | None = None) -> dict:
        """The venues' live public feeds (or the endpoints the config overrides, e.g. the local
        simulator) into the same hooks, published as they come: a flusher task wakes on every
        change and sends what accumulated (one batch per wake-up, so a burst is one round
        trip). Until `seconds` have passed (None: until cancelled)."""
        import asyncio

        from tradecore.live_record import _feed
        await self.bus.connect()
        await self.bus.ensure_streams(fresh=self.bus_cfg.fresh)
        wake = asyncio.Event()
        pub = self.pub

        def stamp(fn):
            def hooked(*a) -> None:
                pub.rec_ns = self._ts = time.time_ns()      # live: the clock is the wall
                fn(*a)
                wake.set()
            return hooked
        feeds, rests, recorders = [], [], []
        for f in self.cfg.feeds:
            on_trade = stamp(lambda t, v=f.venue: pub.on_trade(v, t))
            rec = None
            if self.bus_cfg.record_dir:
                # the feed node is also the recorder (one process owns the connection): the
                # store gets what `tradecore record` writes, levels as applied and trades after
                # the feed's de-duplication
                from tradecore.data.recorder import Recorder
                rec = Recorder(self.bus_cfg.record_dir, venue=f.exchange)
                recorders.append(rec)
                on_trade = (lambda t, fw=on_trade, r=rec: (r.on_trade(t), fw(t)))
            feed, rest = _feed(f.exchange, list(f.symbols), f.market, f.ws_url or None,
                               f.rest_url or None, on_trade)
            n = feed.normalizer
            if rec is not None:
                n.on_levels = rec.levels_hook(f.exchange)
            n.on_book = stamp(self._book_hook(f.venue))
            n.on_problem = stamp(self._problem_hook(f.venue))
            self.normalizers[f.venue] = n
            feeds.append(feed)
            rests.append(rest)
        stop = asyncio.Event()

        async def flusher() -> None:
            while not stop.is_set():
                try:
                    await asyncio.wait_for(wake.wait(), 0.5)
                except asyncio.TimeoutError:
                    continue
                wake.clear()
                await self._flush()
        t_start = time.perf_counter()
        tasks = [asyncio.create_task(f.run()) for f in feeds]
        ft = asyncio.create_task(flusher())
        try:
            if seconds is None:
                await asyncio.gather(*tasks)
            else:
                await asyncio.sleep(seconds)
        finally:
            for f in feeds:
                f.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
            for r in rests:
                if r is not None and hasattr(r, "close"):
                    await r.close()
            for rec in recorders:
                rec.close()
            stop.set()
            await ft
            pub.end()
            await self._flush()
            await self.bus.close()
        return {"md_messages": pub.gseq, "snapshots": pub.snapshots, "problems": self.problems,
                "publish_s": round(self.publish_s, 3),
                "wall_s": round(time.perf_counter() - t_start, 3),
                "publish_retries": self.bus.publish_retries, "disconnects": self.bus.disconnects}

    async def _flush(self) -> None:
        """The md messages, then the snapshots of the books they changed (a snapshot names the
        md stream sequence it is current at, so it is published once that is known)."""
        out = self.pub.out
        if not out:
            return
        t0 = time.perf_counter()
        items = out[:]
        out.clear()
        seqs = await self.bus.publish_many(items)
        snaps = self.pub.snapshot_items(seqs)
        if snaps:
            await self.bus.publish_many(snaps)
        self.publish_s += time.perf_counter() - t0
