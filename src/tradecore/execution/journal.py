"""The execution journal: an append-only file of order intents, transitions, fills and risk state.

Why an append-only file and not SQLite in WAL mode (the full argument is in docs/execution.md):
the journal has one writer, only ever appends, and is read once, front to back, at restart. An
SQLite insert from Python costs several microseconds and brings a lock and a B-tree we never
query; the order path's whole budget is 5 us.

How a record is written: a record is one JSON line copied into a shared memory mapping at the
end of the data: no system call, ~0.3 us. The mapping is of the journal's **twin**, a file of
the same bytes on a tmpfs (/dev/shm; `twin_directory()`), in chunks of `chunk_bytes` (16 MiB).
A C thread that never takes the GIL (_fast/syncer.pxd) copies the bytes appended since its last
copy from the twin into the journal file (pwrite) and fdatasyncs the file, at most every
`fsync_interval_s` (default 50 ms) when something was written; `close()` copies the rest and
syncs. So:
- a `kill -9` of this process, an exception or an abort loses nothing that was copied: the
  twin's pages belong to the kernel and outlive the process, and the next `Journal` (or
  `read_journal`) on the file takes the records the twin holds past the file's end, after
  checking that the two continue each other;
- power loss or a kernel crash loses at most the last `fsync_interval_s` (the twin is in
  memory; the file holds what the last sync covered);
- the twin's pages are given back (holes punched) a step behind what is durable, so it holds
  a few MiB, not the journal's history; each chunk is reserved (fallocate) before it is
  mapped, so a full tmpfs is an OSError when the journal grows, never a SIGBUS on a copy.
Why a twin and not a mapping of the file itself (what this module did until session 11, and
still does with `twin_dir=None`, where there is no tmpfs, or where the file system keeps no
extended attributes): every writeback of a file's page write-protects it, so the next copy into
that page faulted on the order path (~1 a sync, after the sync thread's re-arming), and for each
written page still mapped the kernel interrupted the order path's CPU (a TLB shootdown). A
tmpfs page is never written back, so neither happens (docs/execution.md, "journal page
faults"). The twin is named by an id kept in the file's extended attributes and by its inode,
so a new file never takes an old twin, nor a copy its original's; the twin directory must be
the same at every start, as the journal's path is.

Page faults, kept off the order path: the first write to a page of a mapping faults (2-10 us
here), once per 4 KiB page (~20 intents), and, mapped directly, once after each sync.
`prepare()`, which the execution engine calls after each send, touches the next pages (writing
the zero they already hold) and grows the mapping ahead; mapped directly, the sync thread also
touches the end's pages again right after each sync (an atomic add of 0 to one byte a page).

TLB shootdowns, kept off the order path: `prepare()` unmaps the pages the data has moved past
(madvise MADV_DONTNEED, one system call every page or two, after the send): this only drops
this process's page-table entries; the bytes stay in the page cache. Mapped directly, a sync
then has no page of ours to write-protect; with a twin, punching its pages finds none mapped.
The mapping therefore ends in zeros (the unused part of the last chunk) while open; mapped
directly, so does the file after a kill, and `close()` truncates them. A reader stops at the
first NUL byte (JSON text never contains one: orjson escapes control characters).

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

import errno
import fcntl
import logging
import mmap
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import orjson

from tradecore.core.orders import Fill, Order, OrderStatus, TradingState
from tradecore._fast.syncer import FileSyncer
from tradecore.execution.order_layout import intent_line

__all__ = ["Journal", "NullJournal", "JournalCorrupt", "JournalLocked", "read_journal",
           "ReadResult", "twin_directory", "TWIN_DIR_ENV"]

log = logging.getLogger(__name__)

CHUNK_BYTES = 16 << 20
PAGE = mmap.PAGESIZE
_ARMED_PAGES = 3          # the page of the end of the data and the two after it
_CAN_RELEASE = hasattr(mmap.mmap, "madvise") and hasattr(mmap, "MADV_DONTNEED")  # not on Windows
_NL = orjson.OPT_APPEND_NEWLINE
TWIN_DIR_ENV = "TRADECORE_JOURNAL_TWIN_DIR"
DEFAULT_TWIN_DIR = object()                  # Journal(twin_dir=...): twin_directory()
_ID_XATTR = "user.tradecore.journal"         # the file's id, which names its twin
_NOT_NUL = re.compile(rb"[^\0]")


def twin_directory() -> Path | None:
    """Where a journal keeps its twin: $TRADECORE_JOURNAL_TWIN_DIR ('' for none), else
    /dev/shm where there is one (a tmpfs on Linux), else none: the file is mapped directly.
    It must be the same directory at every start of a journal, as the journal's path is."""
    env = os.environ.get(TWIN_DIR_ENV)
    if env is not None:
        return Path(env) if env else None
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None


def _writable_dir(d: Path) -> bool:
    """d exists (made if need be) and this process may create files in it."""
    try:
        d.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(d, os.W_OK | os.X_OK)


def _twin_path(file: int | Path, twin_dir: Path, create: bool) -> Path | None:
    """The twin of a journal file: named by an id kept in the file's extended attributes (a
    new file, even one that reuses a deleted file's inode, gets a new id, so never an old
    twin) and by its inode (a copy is not its original). None where the file system keeps no
    user attributes, or, when not `create`, where the file has none yet."""
    if not hasattr(os, "getxattr"):
        return None
    try:
        jid = os.getxattr(file, _ID_XATTR).decode("ascii")
    except OSError as e:
        if e.errno != errno.ENODATA or not create:
            return None
        jid = secrets.token_hex(8)
        try:
            os.setxattr(file, _ID_XATTR, jid.encode("ascii"))
        except OSError:
            return None
    st = os.stat(file)
    return twin_dir / f"tradecore-journal-{jid}-{st.st_dev:x}-{st.st_ino:x}"


def _twin_records(twin: Path) -> tuple[int, bytes]:
    """(where the twin's bytes start, the bytes): a twin holds the journal's bytes from where
    its pages were last given back (zeros before) to its first zero after (none: empty)."""
    try:
        tfd = os.open(twin, os.O_RDONLY)
    except FileNotFoundError:
        return 0, b""
    with os.fdopen(tfd, "rb"):
        size = os.fstat(tfd).st_size
        if not size:
            return 0, b""
        try:                                    # skip the holes where pages were given back
            first = os.lseek(tfd, 0, getattr(os, "SEEK_DATA", os.SEEK_SET))
        except OSError as e:
            if e.errno == errno.ENXIO:          # no data at all
                return 0, b""
            first = 0
        with mmap.mmap(tfd, size, access=mmap.ACCESS_READ) as tw:
            m = _NOT_NUL.search(tw, first)
            if m is None:
                return 0, b""
            nul = tw.find(b"\0", m.start())
            return m.start(), tw[m.start():size if nul < 0 else nul]


def _twin_tail(path: Path, data, data_end: int, twin: Path,
               held: tuple[int, bytes] | None = None) -> bytes:
    """The bytes a twin holds past the file's `data_end`, after checking that the twin
    continues the file: every byte the two share must be the file's. `held`: the twin's
    bytes, read before the file was (a writer may be syncing and giving pages back)."""
    start, tb = held if held is not None else _twin_records(twin)
    if not tb:
        return b""
    if start > data_end:
        raise JournalCorrupt(
            f"{path}: its twin {twin} holds the journal from byte {start}, but the file ends "
            f"at byte {data_end}: the bytes between are in neither; move the twin away to "
            f"open the file as it is")
    shared = min(start + len(tb), data_end)
    if tb[:shared - start] != data[start:shared]:
        raise JournalCorrupt(
            f"{path}: its twin {twin} differs from the file in bytes {start}-{shared} "
            f"(expected the twin to continue the file); move the twin away to open the file "
            f"as it is")
    return tb[data_end - start:]


class JournalCorrupt(Exception):
    """A journal line that is not a valid record, other than a torn final line."""


class JournalLocked(Exception):
    """The journal file is already open for writing (the lock dies with its process)."""


class Journal:
    """Append-only, memory-mapped journal file; see the module docstring for durability."""

    def __init__(self, path: str | Path, fsync_interval_s: float = 0.05,
                 chunk_bytes: int = CHUNK_BYTES,
                 twin_dir: str | Path | None | object = DEFAULT_TWIN_DIR) -> None:
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
        self._twin_fd = -1
        try:
            tdir = twin_directory() if twin_dir is DEFAULT_TWIN_DIR else twin_dir
            if tdir is not None and not _writable_dir(Path(tdir)):
                log.warning("journal %s: the twin directory %s cannot be written: the file "
                            "is mapped directly (as durable; a page fault on the order "
                            "path after each sync)", self.path, tdir)
                tdir = None
            self.twin: Path | None = (_twin_path(self._fd, Path(tdir), create=True)
                                      if tdir is not None else None)
            end = self._recover_end()
            if self.twin is None:
                self._cap = -(-(end + 1) // chunk_bytes) * chunk_bytes
                os.ftruncate(self._fd, max(self._cap, os.fstat(self._fd).st_size))
                self._mm = mmap.mmap(self._fd, self._cap)
            else:
                self._twin_fd = os.open(self.twin, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
                self._cap = 0
                self._mm = None
                self._map_twin(-(-(end + 1) // chunk_bytes) * chunk_bytes, end)
        except BaseException:
            if self._twin_fd >= 0:
                os.close(self._twin_fd)
            os.close(self._fd)
            raise
        self._closed = False
        log.info("journal %s: %d bytes of records%s; written through %s", self.path, end,
                 f", {len(self.dropped_tail)} torn bytes cut off" if self.dropped_tail else "",
                 self.twin or "its own mapping")
        self._armed_to = 0                     # pages below this are writable without a fault
        self._armed_gen = -1                   # ... as of this many syncs
        self._released_to = 0                  # pages below this are unmapped (prepare)
        # the periodic fdatasync, on a C thread that never takes the GIL (_fast/syncer.pxd);
        # where the data ends lives in the syncer (`pos`): the one place every writer reads
        # and moves, this class and the compiled submit (intent_parts). With a twin, the
        # thread copies the new bytes from it into the file before each fdatasync, and gives
        # back the twin's pages a step behind what is durable.
        self._sync = FileSyncer(self._fd, fsync_interval_s, end, src_fd=self._twin_fd,
                                punch=self.twin is not None)
        if self.twin is None:
            self._sync.set_map(self._mm)         # it re-arms the end's pages after each sync
        self._line = intent_line()               # this journal's compiled intent writer
        self._records = 0                        # records written by the Python paths
        # records that found no room (the twin or the file system full): kept, in order, and
        # written as soon as there is room (_drain); see `backlog`
        self._backlog: list[bytes] = []
        self.write_errors = 0

    def _recover_end(self) -> int:
        """Bring the file up to date with what a killed writer left (its twin's bytes past the
        file's, appended; a torn last line, cut off: `dropped_tail`) and return where the
        records end. Direct mode zeroes the torn line in place, as the mapping covers it."""
        fd = self._fd
        size = os.fstat(fd).st_size
        self.dropped_tail = b""
        data_end, end, appended = 0, 0, b""
        if size:
            with mmap.mmap(fd, size, access=mmap.ACCESS_READ) as old:
                nul = old.find(b"\0")
                data_end = size if nul < 0 else nul
                if self.twin is not None:
                    appended = _twin_tail(self.path, old, data_end, self.twin)
                end = old.rfind(b"\n", 0, data_end) + 1
        elif self.twin is not None:
            appended = _twin_tail(self.path, b"", 0, self.twin)
        if appended:
            os.pwrite(fd, appended, data_end)
            nl = appended.rfind(b"\n")
            if nl >= 0:
                end = data_end + nl + 1
            data_end += len(appended)
        if end < data_end:                       # a torn last record: cut it off
            self.dropped_tail = os.pread(fd, data_end - end, end)
            if self.twin is None:
                os.pwrite(fd, bytes(data_end - end), end)
        if self.twin is not None and (appended or size != end):
            os.ftruncate(fd, end)                # the file holds records only, and all of them
            os.fsync(fd)                         # ... before the twin that held them is reset
        return end

    def _map_twin(self, cap: int, keep_from: int) -> None:
        """(Re)map the twin at `cap` bytes, its pages from `keep_from` reserved first (an
        ENOSPC here is an OSError now, not a SIGBUS on a later copy into the mapping)."""
        old = self._cap
        os.ftruncate(self._twin_fd, cap)
        try:
            lo = max(old, keep_from // PAGE * PAGE)
            if cap > lo:
                os.posix_fallocate(self._twin_fd, lo, cap - lo)
        except OSError as e:
            os.ftruncate(self._twin_fd, max(old, PAGE))
            raise OSError(e.errno, f"journal {self.path}: no room for its next {cap - old} "
                                   f"bytes in the twin {self.twin} ({e.strerror})") from None
        if self._mm is None:
            self._mm = mmap.mmap(self._twin_fd, cap)
        else:
            self._mm.resize(cap)
        self._cap = cap

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
        """A venue answer's or a state's record (not an intent). It never raises for want of
        room: the caller has already changed its state (a fill booked, an order moved on), and
        a record the journal cannot take yet waits in the backlog, in order, for the next
        write or prepare() to find room. (A process that dies meanwhile loses those records;
        recovery's reconciliation with the venues finds the fills and orders they were.)"""
        b = orjson.dumps(rec, option=_NL)
        if self._backlog:
            self._backlog.append(b)
            self._drain()
            return
        try:
            self._place(b)
        except OSError:
            self._backlog.append(b)
            self.write_errors += 1

    def _place(self, b: bytes) -> None:
        p = self._pos
        e = p + len(b)
        if e > self._cap:
            self._grow(e)
        self._mm[p:e] = b
        self._sync.pos = e
        self._records += 1

    def _drain(self) -> bool:
        """Write the backlog's records while there is room; True when none is left."""
        while self._backlog:
            try:
                self._place(self._backlog[0])
            except OSError:
                self.write_errors += 1
                return False
            del self._backlog[0]
        return True

    @property
    def backlog(self) -> int:
        """Records waiting for room (0 normally). While any wait, intent() refuses (OSError):
        its order is denied (JOURNAL_UNWRITABLE) rather than sent unrecorded. The compiled
        writer may still fit an intent into the room left: it is recorded, so its order may
        go; it then precedes other orders' waiting records in the file, which replay does not
        mind (an order's own records always follow its intent; state records keep their
        order among themselves)."""
        return len(self._backlog)

    def _grow(self, need: int) -> None:
        if self._closed:
            raise ValueError(f"journal {self.path} is closed")
        cap = -(-need // self._chunk) * self._chunk
        if self.twin is not None:                # the syncer reads the twin by its descriptor
            self._map_twin(cap, self._cap)
            return
        self._sync.set_map(None)                 # the mapping may move: the thread lets go
        self._mm.resize(cap)                     # grows the file too (mremap + ftruncate)
        self._sync.set_map(self._mm)
        self._cap = cap
    # orjson writes IntEnum members as their integer values (no int() calls: ~0.3 us saved)
    def intent(self, o: Order) -> None:
        # on the order path: the compiled line (orderrec.pxd) straight into the mapping; what
        # it does not take (escapes, odd types, no room) goes the orjson way, _write inlined.
        # With a backlog (no room earlier), it must be written first, or the intent refused.
        if self._backlog and not self._drain():
            raise OSError(errno.ENOSPC, f"journal {self.path}: {len(self._backlog)} records "
                                        f"are still waiting for room")
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
        if self._backlog and not self._closed:
            self._drain()
        # a sync write-protects the file's pages, never the twin's
        gen = self._sync.generation if self.twin is None else 0
        if self._pos + PAGE <= self._armed_to and gen == self._armed_gen:
            return
        if self._closed:
            return
        p = self._pos
        end = (p // PAGE + _ARMED_PAGES) * PAGE
        if end > self._cap:
            try:
                self._grow(end)
            except OSError:      # no room for the next chunk: prepare runs after a send and
                return           # must not fail it; the next record's write raises, before
                                 # its order leaves
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
        """Sync (with a twin: copy what is left into the file first), cut the unused zeros off
        the file, close; the twin is removed once the file holds all of it."""
        if self._closed:
            return
        err = None
        if self._backlog and not self._drain():
            err = OSError(errno.ENOSPC, f"journal {self.path}: {len(self._backlog)} records "
                                        f"found no room and are not in it")
        self._sync.stop()
        try:
            self._sync.sync_now()
        except OSError as e:                     # the twin stays: the next open recovers it
            err = err or e
        self._mm.close()
        self._closed = True
        try:
            if self.twin is None:
                os.ftruncate(self._fd, self._pos)
            os.fsync(self._fd)
        except OSError as e:
            err = err or e
        os.close(self._fd)
        if self._twin_fd >= 0:
            if err is None:
                os.unlink(self.twin)
            os.close(self._twin_fd)
        if err is not None:
            raise err

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


def read_journal(path: str | Path,
                 twin_dir: str | Path | None | object = DEFAULT_TWIN_DIR) -> ReadResult:
    """Every record of the journal, in order, with what its twin holds past the file (a
    writer that was killed, or is still writing). A missing file is an empty journal."""
    p = Path(path)
    if not p.exists():
        return ReadResult([], b"")
    tdir = twin_directory() if twin_dir is DEFAULT_TWIN_DIR else twin_dir
    twin = _twin_path(p, Path(tdir), create=False) if tdir is not None else None
    held = _twin_records(twin) if twin is not None else None   # the twin first: see above
    data = p.read_bytes()
    nul = data.find(b"\0")
    if nul >= 0:
        data = data[:nul]        # the unused, zeroed end of a journal mapped directly
    if twin is not None:
        data += _twin_tail(p, data, len(data), twin, held)
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
