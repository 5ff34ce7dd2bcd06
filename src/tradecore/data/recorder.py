"""The recorder: book levels and trades from the normalizers' hooks into the Parquet store.

    rec = Recorder("data/store", venue="binance")
    norm = BinanceNormalizer(on_levels=rec.on_levels, on_trade=rec.on_trade)
    ...
    rec.close()

or `record_to(root, normalizer)`, which wires an existing normalizer (the live `tradecore
record` command wires it to the venue's WebSocket feed handler).

The caller's path
    `on_levels` and `on_trade` append one tuple (or the Trade) to a deque: about 0.1 us more
    than a call of an empty Python function, no I/O, no per-level work, no lock. The level
    list is kept as passed, not copied: the normalizers build a fresh list per message, and a
    caller must not change it afterwards.

The writer
    A background thread drains the deques every few tens of milliseconds, expands each message
    into column buffers (staged per venue/symbol/date/rotation window) and writes them out when
    `flush_rows` rows are staged, when the oldest staged row is `flush_seconds` old, when a
    rotation window closes, and on `flush()` / `close()`. The thread is Python, so its column
    building competes for the GIL with the hot path: it works in chunks and yields the GIL
    between them; Parquet encoding and the file I/O run in Arrow's C++ without the GIL. A
    process whose latency cannot afford even that runs the recorder in a process of its own
    (the live `record` command is one).

Durability: the trade-off
    Every flush writes complete, closed Parquet files (one per venue/symbol/date/window that has
    rows): each is written to `*.tmp`, fsynced and `os.replace`d into place, so a kill at any
    instant leaves only whole, readable files visible. What is lost on a kill (or power loss)
    is what had not been flushed yet: at most the last `flush_seconds` (plus one poll) of data,
    or `flush_rows` rows. Smaller `flush_seconds` lose less and write more, smaller files (one
    file per partition per flush; the store reads many small files fine, slower). Appending
    row groups to an open file would make fewer files, but an open Parquet file has no footer:
    a kill would lose the whole file, not the last seconds.

Rotation
    Files never span a rotation window (`rotate_seconds`, aligned to UTC midnight on the
    `ts_local_ns` clock; windows never cross a date) and a window's rows are flushed as soon as
    data of a later window arrives, so files map onto fixed time slices, which is what lets
    readers skip files by the start time in their names.

Batches
    Each on_levels call is one `batch` of the store; batch ids count up from `batch_base`
    (default: the recorder's start time in ns), so batch order is apply order within a
    recording and follows time across recordings (see store.py).
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from tradecore.core.events import Trade
from tradecore.data.store import (BOOK, BOOK_SCHEMA, EMPTY_SNAPSHOT, NS_PER_DAY, TRADE_SCHEMA,
                                  TRADES, part_path, write_atomic)

log = logging.getLogger("tradecore.data")

_CHUNK = 512            # messages expanded between GIL yields
_OPEN: weakref.WeakSet = weakref.WeakSet()     # recorders to close at interpreter exit


@atexit.register
def _close_open_recorders() -> None:
    for rec in list(_OPEN):
        try:
            rec.close()
        except Exception:  # noqa: BLE001 - exiting anyway; the error is logged by the writer
            pass


@dataclass
class RecorderStats:
    batches: int = 0            # on_levels calls taken into column buffers
    trades: int = 0
    rows_written: int = 0       # book rows + trade rows in visible files
    files_written: int = 0
    bytes_written: int = 0
    flushes: int = 0
    bad_batches: int = 0        # dropped: not [(side, price text, size text)], or no venue
    bad_trades: int = 0
    write_errors: int = 0       # failed flushes (kept and retried at the next flush)
    last_error: str = ""
    errors: dict = field(default_factory=dict)


class _BookStage:
    """Column buffers of one (venue, symbol, day, window): per batch values + per level lists."""
    __slots__ = ("venue", "symbol", "ts", "tsx", "seq", "snap", "batch", "count", "conn",
                 "sides", "prices", "sizes", "rows", "since")

    def __init__(self, venue: str, symbol: str) -> None:
        self.venue, self.symbol = venue, symbol
        self.ts: list[int] = []
        self.tsx: list[int] = []
        self.seq: list[int] = []
        self.snap: list[bool] = []
        self.batch: list[int] = []
        self.count: list[int] = []
        self.conn: list[str] = []
        self.sides: list = []
        self.prices: list = []
        self.sizes: list = []
        self.rows = 0
        self.since = time.monotonic()

    def table(self) -> pa.Table:
        counts = np.asarray(self.count, dtype=np.int64)

        def rep(values, dtype):
            return np.repeat(np.asarray(values, dtype=dtype), counts)
        conns = sorted(set(self.conn))
        index = {c: i for i, c in enumerate(conns)}
        n = self.rows
        sides = np.asarray(self.sides, dtype=np.int8)
        if sides.size and (sides.min() < -1 or sides.max() > 1):
            raise ValueError("a side is not 0 (bid) or 1 (ask)")
        return pa.Table.from_arrays([
            pa.array(rep(self.ts, np.int64)),
            pa.array(rep(self.tsx, np.int64)),
            pa.DictionaryArray.from_arrays(np.zeros(n, np.int32), pa.array([self.venue])),
            pa.DictionaryArray.from_arrays(np.zeros(n, np.int32), pa.array([self.symbol])),
            pa.DictionaryArray.from_arrays(rep([index[c] for c in self.conn], np.int32),
                                           pa.array(conns, pa.string())),
            pa.array(rep(self.seq, np.int64)),
            pa.array(sides),
            pa.array(self.prices, pa.string()),
            pa.array(self.sizes, pa.string()),
            pa.array(rep(self.snap, np.bool_)),
            pa.array(rep(self.batch, np.int64)),
        ], schema=BOOK_SCHEMA)


class _TradeStage:
    __slots__ = ("venue", "symbol", "ts", "tsx", "price", "size", "aggressor", "tid", "back",
                 "rows", "since")

    def __init__(self, venue: str, symbol: str) -> None:
        self.venue, self.symbol = venue, symbol
        self.ts: list[int] = []
        self.tsx: list[int] = []
        self.price: list[str] = []
        self.size: list[str] = []
        self.aggressor: list[int] = []
        self.tid: list[str] = []
        self.back: list[bool] = []
        self.rows = 0
        self.since = time.monotonic()

    def table(self) -> pa.Table:
        n = self.rows
        return pa.Table.from_arrays([
            pa.array(self.ts, pa.int64()),
            pa.array(self.tsx, pa.int64()),
            pa.DictionaryArray.from_arrays(np.zeros(n, np.int32), pa.array([self.venue])),
            pa.DictionaryArray.from_arrays(np.zeros(n, np.int32), pa.array([self.symbol])),
            pa.array(self.price, pa.string()),
            pa.array(self.size, pa.string()),
            pa.array(self.aggressor, pa.int8()),
            pa.array(self.tid, pa.string()),
            pa.array(self.back, pa.bool_()),
        ], schema=TRADE_SCHEMA)


def _bad_level_batch(levels: list) -> str | None:
    for lv in levels:
        if not (type(lv) in (tuple, list) and len(lv) == 3 and lv[0] in (0, 1, -1)
                and type(lv[1]) is str and type(lv[2]) is str):
            return f"level {lv!r:.80} is not (side 0|1, price text, size text)"
    return None


class Recorder:
    """Hooks for the normalizers that record into the Parquet store at `root` (module doc).

    venue: the default venue of on_levels calls (the levels hook carries no venue; trades do).
    flush_rows / flush_seconds: flush when this many rows are staged / the oldest staged row
      is this old (None: never by time, as imports do, so their files are deterministic).
    rotate_seconds: files never span a window of this length (aligned to UTC midnight).
    threaded: False runs no thread; the owner calls pump() (drain, flush if due) and close().
    batch_base: the first batch id (default: time.time_ns() at construction).
    """

    def __init__(self, root: str | Path, *, venue: str | None = None,
                 flush_rows: int = 250_000, flush_seconds: float | None = 5.0,
                 rotate_seconds: float = 3600.0, compression: str = "zstd", fsync: bool = True,
                 threaded: bool = True, batch_base: int | None = None) -> None:
        if flush_rows < 1:
            raise ValueError(f"flush_rows {flush_rows} must be >= 1")
        if flush_seconds is not None and not flush_seconds > 0:
            raise ValueError(f"flush_seconds {flush_seconds} must be > 0 (or None)")
        if not 0 < rotate_seconds <= 86_400:
            raise ValueError(f"rotate_seconds {rotate_seconds} must be in (0, 86400]")
        self.root = Path(root)
        self.venue = venue
        self.flush_rows = int(flush_rows)
        self.flush_seconds = flush_seconds
        self.rotate_ns = int(rotate_seconds * 1e9)
        self.compression = compression
        self.fsync = fsync
        self.stats = RecorderStats()
        self._levels: deque = deque()
        self._trades: deque = deque()
        self._batch = time.time_ns() if batch_base is None else int(batch_base)
        self._file_seq = 0
        self._stages: dict[tuple, _BookStage | _TradeStage] = {}
        self._latest_window: dict[tuple, tuple[int, int]] = {}
        self._staged_rows = 0
        self._lock = threading.Lock()          # one drain/flush at a time
        self._stop = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        self._poll = min(0.05, flush_seconds) if flush_seconds else 0.05
        _OPEN.add(self)
        if threaded:
            self._thread = threading.Thread(target=self._run, name="tradecore-recorder",
                                            daemon=True)
            self._thread.start()

    # -- the caller's path ------------------------------------------------------------------
    def on_levels(self, key: tuple[str, str], ts_ns: int, seq: int, levels: list,
                  is_snapshot: bool, venue: str | None = None, ts_exchange_ns: int = 0) -> None:
        """The normalizers' LevelsHook (plus optional venue and exchange time)."""
        self._levels.append((venue or self.venue, key, ts_ns, ts_exchange_ns, seq, levels,
                             is_snapshot))

    def on_trade(self, trade: Trade) -> None:
        self._trades.append(trade)

    def levels_hook(self, venue: str) -> Callable[[tuple, int, int, list, bool], None]:
        """An on_levels bound to a venue (for a recorder shared by several venues)."""
        append = self._levels.append

        def hook(key, ts_ns, seq, levels, is_snapshot):
            append((venue, key, ts_ns, 0, seq, levels, is_snapshot))
        return hook

    # -- control -----------------------------------------------------------------------------
    def pump(self) -> None:
        """Drain the hooks' queues into column buffers and flush what is due."""
        with self._lock:
            self._drain()
            self._flush(force=False)

    def flush(self) -> None:
        """Write everything received so far, now (returns when the files are in place)."""
        with self._lock:
            self._drain()
            self._flush(force=True)

    def close(self) -> None:
        """Stop the writer and flush everything; idempotent. Calls after close are lost.
        A recorder still open at a normal interpreter exit is closed then (not on a kill)."""
        if self._closed:
            return
        self._closed = True
        _OPEN.discard(self)
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def pending_rows(self) -> int:
        """Rows in column buffers, not yet in files (the hooks' queues not counted)."""
        return self._staged_rows

    # -- the writer --------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.pump()
            except Exception as e:  # noqa: BLE001 - the writer must outlive one bad flush
                self._error("writer", e)

    def _error(self, what: str, e: BaseException) -> None:
        self.stats.last_error = f"{what}: {type(e).__name__}: {e}"
        self.stats.errors[what] = self.stats.errors.get(what, 0) + 1
        if self.stats.errors[what] == 1:
            log.error("recorder %s (further ones are counted, not logged)", self.stats.last_error)

    def _window(self, ts: int) -> tuple[int, int]:
        day = ts // NS_PER_DAY
        return day, (ts - day * NS_PER_DAY) // self.rotate_ns

    def _stage(self, kind: str, venue: str, symbol: str, ts: int):
        win = self._window(ts)
        k = (kind, venue, symbol, win)
        st = self._stages.get(k)
        if st is None:
            st = self._stages[k] = (_BookStage if kind == BOOK else _TradeStage)(venue, symbol)
            latest = self._latest_window.get(k[:3])
            if latest is None or win > latest:
                self._latest_window[k[:3]] = win
        return st

    def _drain(self) -> None:
        q = self._levels
        n = len(q)
        done = 0
        while done < n:
            for _ in range(min(_CHUNK, n - done)):
                self._take_levels(*q.popleft())
            done += min(_CHUNK, n - done)
            if done < n:
                time.sleep(0)            # let the hot path have the GIL
        q = self._trades
        n = len(q)
        for i in range(n):
            self._take_trade(q.popleft())
            if i % _CHUNK == _CHUNK - 1:
                time.sleep(0)

    def _take_levels(self, venue, key, ts, tsx, seq, levels, snap) -> None:
        try:
            n = len(levels)
            conn, symbol = key
            if not n:
                if not snap:
                    return
                levels, n = EMPTY_SNAPSHOT, 1      # an empty book is still a snapshot
            if venue is None:
                raise ValueError("no venue: give Recorder(venue=...) or use levels_hook(venue)")
            sides, prices, sizes = zip(*levels)
            if not (type(symbol) is str and type(conn) is str):
                raise ValueError(f"key {key!r:.80} is not (connection, symbol) text")
            ts, tsx, seq = int(ts), int(tsx), int(seq)
        except (TypeError, ValueError) as e:
            self.stats.bad_batches += 1
            self._error("bad_batch", e)
            return
        st = self._stage(BOOK, venue, symbol, ts)
        st.ts.append(ts)
        st.tsx.append(tsx)
        st.seq.append(seq)
        st.snap.append(bool(snap))
        st.batch.append(self._batch)
        st.count.append(n)
        st.conn.append(conn)
        st.sides.extend(sides)
        st.prices.extend(prices)
        st.sizes.extend(sizes)
        st.rows += n
        self._batch += 1
        self._staged_rows += n
        self.stats.batches += 1

    def _take_trade(self, t: Trade) -> None:
        try:
            if not (type(t.venue) is str and type(t.symbol) is str and type(t.price) is str
                    and type(t.size) is str and type(t.trade_id) is str):
                raise ValueError(f"trade {t!r:.120} has non-text fields")
            ts = int(t.ts_local_ns)
            row = (int(t.ts_exchange_ns), t.price, t.size, int(t.aggressor), t.trade_id,
                   bool(t.backfilled))
        except (AttributeError, TypeError, ValueError) as e:
            self.stats.bad_trades += 1
            self._error("bad_trade", e)
            return
        st = self._stage(TRADES, t.venue, t.symbol, ts)
        st.ts.append(ts)
        st.tsx.append(row[0])
        st.price.append(row[1])
        st.size.append(row[2])
        st.aggressor.append(row[3])
        st.tid.append(row[4])
        st.back.append(row[5])
        st.rows += 1
        self._staged_rows += 1
        self.stats.trades += 1

    def _due(self, k: tuple, st, force: bool, by_size: bool) -> bool:
        if force or by_size:
            return True
        if self._latest_window[k[:3]] > k[3]:
            return True                  # rotation: a later window has started
        return self.flush_seconds is not None and \
            time.monotonic() - st.since >= self.flush_seconds

    def _flush(self, force: bool) -> None:
        by_size = self._staged_rows >= self.flush_rows
        due = [(k, st) for k, st in self._stages.items()
               if st.rows and self._due(k, st, force, by_size)]
        if not due:
            return
        self.stats.flushes += 1
        for k, st in due:
            try:
                table = self._table(k[0], st)
                if table is not None and table.num_rows:
                    start = int(np.min(table.column("ts_local_ns").to_numpy()))
                    self._file_seq += 1
                    path = part_path(self.root, k[0], st.venue, st.symbol, start,
                                     self._file_seq)
                    size = write_atomic(path, table, compression=self.compression,
                                        fsync=self.fsync)
                    self.stats.files_written += 1
                    self.stats.bytes_written += size
                    self.stats.rows_written += table.num_rows
            except (OSError, pa.ArrowException) as e:
                # kept staged: retried at the next flush (disk full, permissions, ...)
                self.stats.write_errors += 1
                self._error("write", e)
                continue
            del self._stages[k]
            self._staged_rows -= st.rows
            time.sleep(0)

    def _table(self, kind: str, st) -> pa.Table | None:
        try:
            return st.table()
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as e:
            self._error("bad_rows", e)
        # some batch holds values Arrow refuses (a side of 7, a float price...): keep the rest
        return self._table_filtered(kind, st)

    def _table_filtered(self, kind: str, st) -> pa.Table | None:
        if kind == TRADES:
            keep = [i for i in range(st.rows) if type(st.price[i]) is str
                    and type(st.size[i]) is str and -128 <= st.aggressor[i] <= 127]
            self.stats.bad_trades += st.rows - len(keep)
            new = _TradeStage(st.venue, st.symbol)
            for name in ("ts", "tsx", "price", "size", "aggressor", "tid", "back"):
                src = getattr(st, name)
                setattr(new, name, [src[i] for i in keep])
            new.rows = len(keep)
            return new.table() if keep else None
        new = _BookStage(st.venue, st.symbol)
        pos = 0
        for i, n in enumerate(st.count):
            levels = list(zip(st.sides[pos:pos + n], st.prices[pos:pos + n],
                              st.sizes[pos:pos + n]))
            pos += n
            if _bad_level_batch(levels) is not None:
                self.stats.bad_batches += 1
                continue
            for name in ("ts", "tsx", "seq", "snap", "batch", "count", "conn"):
                getattr(new, name).append(getattr(st, name)[i])
            new.sides.extend(lv[0] for lv in levels)
            new.prices.extend(lv[1] for lv in levels)
            new.sizes.extend(lv[2] for lv in levels)
            new.rows += n
        return new.table() if new.rows else None


def record_to(root: str | Path, normalizer, **recorder_options) -> Recorder:
    """A Recorder wired to a normalizer's on_levels/on_trade hooks (keeping any callbacks
    already there: they are called first). The core of `tradecore record`, whose CLI wires the
    normalizer to the venue's live WebSocket feed; the caller closes the recorder."""
    rec = Recorder(root, venue=normalizer.venue, **recorder_options)
    prev_levels, prev_trade = normalizer.on_levels, normalizer.on_trade
    hook = rec.levels_hook(normalizer.venue)
    if prev_levels is None:
        normalizer.on_levels = hook
    else:
        def both_levels(key, ts_ns, seq, levels, is_snapshot):
            prev_levels(key, ts_ns, seq, levels, is_snapshot)
            hook(key, ts_ns, seq, levels, is_snapshot)
        normalizer.on_levels = both_levels
    if prev_trade is None:
        normalizer.on_trade = rec.on_trade
    else:
        def both_trades(trade):
            prev_trade(trade)
            rec.on_trade(trade)
        normalizer.on_trade = both_trades
    return rec
