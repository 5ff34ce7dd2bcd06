"""The execution journal: an append-only file of order intents, transitions, fills and risk state.

Why an append-only file and not SQLite in WAL mode (the full argument is in docs/execution.md):
the journal has one writer, only ever appends, and is read once, front to back, at restart. An
SQLite insert from Python costs several microseconds and brings a lock and a B-tree we never
query; the order path's whole budget is 5 us.

How a record is written: the file is memory-mapped (MAP_SHARED) in chunks of `chunk_bytes`
(16 MiB), and a record is one JSON line copied into the mapping at the end of the data: no
system call, ~0.3 us. The pages of a shared file mapping *are* the kernel's page cache of the
file, exactly where a `write()` would have put the bytes, so:
- a `kill -9` of this process, an exception or an abort loses nothing that was copied (the kernel
  owns the dirty pages and writes them to the file whatever happens to the process);
- `fdatasync`, which protects against power loss or a kernel crash, runs at most every
  `fsync_interval_s` (default 50 ms) when something was written, on a thread of C code that
  never takes the GIL (_fast/syncer.pxd): the power-loss durability window is
  `fsync_interval_s`; `close()` syncs. (Not `mmap.flush()` on a Python thread: CPython's msync
  holds the GIL for the whole disk write, which stalled the order path for milliseconds, and a
  Python thread makes the order path's thread hand the GIL over twice a cycle; the file's dirty
  pages are the mapping's, so fdatasync writes the same bytes.)

Page faults, kept off the order path: the first write to a page of a shared file mapping faults
(the page is allocated, or, after each sync wrote it back, write-protected again so the kernel
sees the next change), 2-10 us here, once per 4 KiB page (~20 intents) and once after each
sync. `prepare()`, which the execution engine calls after each send, touches the next pages
(writing the zero they already hold) and grows the mapping ahead; the sync thread touches the
end's pages again right after each sync (an atomic add of 0 to one byte a page); so the next
intents find their pages writable (docs/execution.md "journal page faults").

TLB shootdowns, kept off the order path: a sync write-protects every written page still mapped,
and for each one the kernel interrupts every CPU that may hold its translation: the order
path's thread, ~20 times a sync at the bench's rate, each a stall of up to tens of
microseconds on this VM. So `prepare()` also unmaps the pages the data has moved past
(madvise MADV_DONTNEED, one system call every page or two, after the send). For a shared
file mapping that only drops this process's page-table entries: the bytes stay in the page
cache, dirty until written back, and read back through the mapping as they were.
The file therefore ends in zeros (the unused part of the last chunk) while open or after a
kill; `close()` truncates them. A reader stops at the first NUL byte (JSON text never contains
one: orjson escapes control characters).

A record is written before the caller acts on it (the intent before `venue.submit`). A kill in
the middle of a copy can leave a torn last line (no newline); the reader drops it and reports
it, and reopening the journal cuts it off before appending, so it never becomes a corrupt line in
the middle. A bad line anywhere else is corruption and an error naming the line.

Record kinds (JSON arrays, first element the kind):
  I intent:     ["I", cid, venue, symbol, side, type, qty, price, trigger_price, tif, post_only,
                 reduce_only, expire_ns, trail_ticks, strategy_id, parent_id, tag, ts_created_ns]
  T transition: ["T", cid, status, ts_ns, venue_order_id, reason]
  F fill:       ["F", cid, venue, symbol, side, qty, price, fee, liquidity, trade_id, ts_ns]
  R risk state: ["R", trading_state, reason, ts_ns]
  B balance:    ["B", venue, asset, amount, ts_ns]
  P protection: ["P", venue, symbol, direction, stop_ticks, tp_ticks, trail_ticks, native, ts_ns]
  X protection removed: ["X", venue, symbol, ts_ns]
Integers are the core enums' values (stable by contract, core/orders.py).
Not thread-safe for writers: one thread (the event loop's) writes.
"""
from __future__ import annotations

import fcntl
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import orjson

from tradecore.core.orders import Fill, Order, OrderStatus, TradingState
from tradecore._fast.syncer import FileSyncer
from tradecore.execution.order_layout import intent_line

__all__ = ["Journal", "NullJournal", "JournalCorrupt", "JournalLocked", "read_journal",
           "ReadResult"]

CHUNK_BYTES = 16 << 20
PAGE = mmap.PAGESIZE
_ARMED_PAGES = 3          # the page of the end of the data and the two after it
_CAN_RELEASE = hasattr(mmap.mmap, "madvise") and hasattr(mmap, "MADV_DONTNEED")  # not on Windows
_NL = orjson.OPT_APPEND_NEWLINE


class JournalCorrupt(Exception):
    """A journal line that is not a valid record, other than a torn final line."""


class JournalLocked(Exception):
    """The journal file is already open for writing (the lock dies with its process)."""


class Journal:
    """Append-only, memory-mapped journal file; see the module docstring for durability."""

    def __init__(self, path: str | Path, fsync_interval_s: float = 0.05,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        if fsync_interval_s <= 0:
            raise ValueError(f"fsync_interval_s {fsync_interval_s} must be > 0")
        if chunk_bytes < mmap.PAGESIZE or chunk_bytes % mmap.PAGESIZE:
            raise ValueError(f"chunk_bytes {chunk_bytes} must be a positive multiple of the "
                             f"page size {mmap.PAGESIZE}")
        self.path = Path(path)
        self._chunk = chunk_bytes
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:    # one writer per journal: two engines appending to one mapping would corrupt it
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise JournalLocked(f"journal {self.path} is open for writing elsewhere (another "
                                f"engine or process holds its lock)") from None
        size = os.fstat(self._fd).st_size
        end, self.dropped_tail = 0, b""
        if size:
            with mmap.mmap(self._fd, size) as old:
                nul = old.find(b"\0")
                data_end = size if nul < 0 else nul
                end = old.rfind(b"\n", 0, data_end) + 1
                if end < data_end:            # a torn last record: cut it off before appending
                    self.dropped_tail = old[end:data_end]
                    old[end:data_end] = bytes(data_end - end)
        self._cap = -(-(end + 1) // chunk_bytes) * chunk_bytes
        os.ftruncate(self._fd, max(self._cap, size))
        self._mm = mmap.mmap(self._fd, self._cap)
        self._closed = False
        self._armed_to = 0                     # pages below this are writable without a fault
        self._armed_gen = -1                   # ... as of this many syncs
        self._released_to = 0                  # pages below this are unmapped (prepare)
        # the periodic fdatasync, on a C thread that never takes the GIL (_fast/syncer.pxd);
        # the writer tells it where the data ends after each append
        # where the data ends lives in the syncer (`pos`): the one place every writer reads
        # and moves, this class and the compiled submit (intent_parts)
        self._sync = FileSyncer(self._fd, fsync_interval_s, end)
        self._sync.set_map(self._mm)             # it re-arms the end's pages after each sync
        self._line = intent_line()               # this journal's compiled intent writer
        self._records = 0                        # records written by the Python paths

    @property
    def records_written(self) -> int:
        return self._records + self._line.written

    @property
    def _pos(self) -> int:
        return self._sync.pos

    def intent_parts(self) -> tuple:
        """(intent line, mapping, syncer): what a compiled writer appends an intent with
        (_fast/orderpath.pxd: IntentLine.write at the syncer's pos, then the pos moved), the
        same bytes as intent(); when it refuses (-1), intent() writes the record."""
        return self._line, self._mm, self._sync

    # -- the writer (hot path: a copy into the page cache, no system call) ----------------
    def _write(self, rec: list) -> None:
        b = orjson.dumps(rec, option=_NL)
        p = self._pos
        e = p + len(b)
        if e > self._cap:
            self._grow(e)
        self._mm[p:e] = b
        self._sync.pos = e
        self._records += 1

    def _grow(self, need: int) -> None:
        if self._closed:
            raise ValueError(f"journal {self.path} is closed")
        cap = -(-need // self._chunk) * self._chunk
        self._sync.set_map(None)                 # the mapping may move: the thread lets go
        self._mm.resize(cap)                     # grows the file too (mremap + ftruncate)
        self._sync.set_map(self._mm)
        self._cap = cap
    # orjson writes IntEnum members as their integer values (no int() calls: ~0.3 us saved)
    def intent(self, o: Order) -> None:
        # on the order path: the compiled line (orderrec.pxd) straight into the mapping; what
        # it does not take (escapes, odd types, no room) goes the orjson way, _write inlined
        e = self._line.write(self._mm, self._sync.pos, o)
        if e >= 0:
            self._sync.pos = e
            return
        b = orjson.dumps(["I", o.client_order_id, o.venue, o.symbol, o.side, o.type, o.qty,
                          o.price, o.trigger_price, o.tif, o.post_only, o.reduce_only,
                          o.expire_ns, o.trail_ticks, o.strategy_id, o.parent_id, o.tag,
                          o.ts_created_ns], option=_NL)
        p = self._pos
        e = p + len(b)
        if e > self._cap:
            self._grow(e)
        self._mm[p:e] = b
        self._sync.pos = e
        self._records += 1

    def transition(self, cid: str, status: OrderStatus, ts_ns: int, venue_order_id: str = "",
                   reason: str = "") -> None:
        self._write(["T", cid, status, ts_ns, venue_order_id, reason])

    def fill(self, f: Fill) -> None:
        self._write(["F", f.client_order_id, f.venue, f.symbol, f.side, f.qty, f.price,
                     f.fee, f.liquidity, f.trade_id, f.ts_ns])

    def risk_state(self, state: TradingState, reason: str, ts_ns: int) -> None:
        self._write(["R", state, reason, ts_ns])

    def balance(self, venue: str, asset: str, amount: float, ts_ns: int) -> None:
        self._write(["B", venue, asset, float(amount), ts_ns])

    def protection(self, venue: str, symbol: str, direction: int, stop_ticks: int,
                   tp_ticks: int, trail_ticks: int, native: bool, ts_ns: int) -> None:
        self._write(["P", venue, symbol, direction, stop_ticks, tp_ticks, trail_ticks, native,
                     ts_ns])

    def protection_removed(self, venue: str, symbol: str, ts_ns: int) -> None:
        self._write(["X", venue, symbol, ts_ns])

    # -- durability off the path ---------------------------------------------------------
    def sync(self) -> None:
        """fdatasync now if anything was written since the last sync (the GIL is released
        while the disk works); OSError if it fails (the sync thread retries)."""
        if not self._closed:
            self._sync.sync_now()

    @property
    def synced_bytes(self) -> int:
        """How much of the file the last successful sync covered (-1: none yet)."""
        return self._sync.synced

    def prepare(self) -> None:
        """Make the next records' copies fault-free (see the module docstring): a no-op unless
        the data's end is within a page of the armed pages' end or a sync happened since. Call
        it where a microsecond does not matter: after the send."""
        gen = self._sync.generation
        if self._pos + PAGE <= self._armed_to and gen == self._armed_gen:
            return
        if self._closed:
            return
        p = self._pos
        end = (p // PAGE + _ARMED_PAGES) * PAGE
        if end > self._cap:
            self._grow(end)
        off = p if gen != self._armed_gen else max(p, self._armed_to)
        mm = self._mm
        # let go of the pages the writer has left behind: only pages still mapped here must
        # be write-protected again, one TLB shootdown (an interrupt of this thread) each, when
        # a sync writes them back; see the module docstring
        done = p // PAGE * PAGE
        if done > self._released_to and _CAN_RELEASE:
            mm.madvise(mmap.MADV_DONTNEED, self._released_to, done - self._released_to)
            self._released_to = done
        while off < end:
            mm[off] = 0            # at or past the end of the data: the byte is already 0
            off = (off // PAGE + 1) * PAGE
        self._armed_to = end
        self._armed_gen = gen

    @property
    def size(self) -> int:
        """Bytes of records in the file."""
        return self._pos

    def close(self) -> None:
        """Sync, cut the unused zeros off the file, close."""
        if self._closed:
            return
        self._sync.stop()
        self._mm.close()
        self._closed = True
        os.ftruncate(self._fd, self._pos)
        os.fsync(self._fd)
        os.close(self._fd)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class NullJournal:
    """The journal of a backtest: same methods, nothing kept (a replay is its own record)."""

    records_written = 0

    def intent(self, o: Order) -> None:
        return None

    def prepare(self) -> None:
        return None

    def transition(self, cid: str, status: OrderStatus, ts_ns: int, venue_order_id: str = "",
                   reason: str = "") -> None:
        return None

    def fill(self, f: Fill) -> None:
        return None

    def risk_state(self, state: TradingState, reason: str, ts_ns: int) -> None:
        return None

    def balance(self, venue: str, asset: str, amount: float, ts_ns: int) -> None:
        return None

    def protection(self, venue: str, symbol: str, direction: int, stop_ticks: int,
                   tp_ticks: int, trail_ticks: int, native: bool, ts_ns: int) -> None:
        return None

    def protection_removed(self, venue: str, symbol: str, ts_ns: int) -> None:
        return None

    def sync(self) -> None:
        return None

    def close(self) -> None:
        return None


_ARITY = {"I": 18, "T": 6, "F": 11, "R": 4, "B": 5, "P": 9, "X": 4}


class ReadResult:
    """The records of a journal file, and whether a torn final line was dropped."""

    __slots__ = ("records", "torn_tail")

    def __init__(self, records: list[list], torn_tail: bytes) -> None:
        self.records = records
        self.torn_tail = torn_tail


def _lines(data: bytes) -> Iterator[tuple[int, bytes, bool]]:
    start, n = 0, 0
    while start < len(data):
        n += 1
        end = data.find(b"\n", start)
        if end < 0:
            yield n, data[start:], False
            return
        yield n, data[start:end], True
        start = end + 1


def read_journal(path: str | Path) -> ReadResult:
    """Every record of the journal, in order. A missing file is an empty journal."""
    p = Path(path)
    if not p.exists():
        return ReadResult([], b"")
    data = p.read_bytes()
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]        # the unused, zeroed end of a journal that was not closed
    out: list[list] = []
    torn = b""
    for n, line, terminated in _lines(data):
        try:
            rec = orjson.loads(line)
            ok = isinstance(rec, list) and rec and _ARITY.get(rec[0]) == len(rec)
        except orjson.JSONDecodeError:
            ok = False
        if ok:
            out.append(rec)
        elif not terminated:
            torn = line          # an unterminated last line: a write the OS never finished
        else:
            raise JournalCorrupt(f"{p}: line {n} is not a journal record "
                                 f"(expected a JSON array of a known kind): {line[:120]!r}")
    return ReadResult(out, torn)
