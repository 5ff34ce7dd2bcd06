"""The journal: every record kind round-trips, a torn final line is dropped and reported, a bad
line elsewhere is an error naming it, records survive a kill -9 without fsync; with its tmpfs
twin (the default) and with the file mapped directly (`twin_dir=None`)."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import orjson
import pytest

from tradecore.core.orders import (Fill, Order, OrderStatus, OrderType, Side, TimeInForce,
                                   TradingState)
from tradecore.execution.journal import (_ARMED_PAGES, PAGE, Journal, JournalCorrupt, JournalLocked,
                                         NullJournal, read_journal)

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _twin(tmp_path: Path) -> dict:
    """Journal keyword arguments for a twin in a directory of the test's own, on the same
    tmpfs as the session's twins where there is one."""
    d = Path(os.environ.get("TRADECORE_JOURNAL_TWIN_DIR") or tmp_path) / tmp_path.name
    d.mkdir(exist_ok=True)
    return {"twin_dir": d}


@pytest.fixture(params=["twin", "direct"])
def mode(request, tmp_path) -> dict:
    """Journal keyword arguments: a twin of the test's own, or the file mapped directly."""
    return _twin(tmp_path) if request.param == "twin" else {"twin_dir": None}


def _nearly_full(path: Path, tmp_path: Path) -> tuple[Journal, int]:
    """A journal with a twin of one 4 KiB chunk, filled to within 200 bytes of its end with
    n records ("0", "1", ...); returns (journal, n)."""
    j = Journal(path, chunk_bytes=4096, **_twin(tmp_path))
    n = 0
    while j.size + 200 < 4096:
        j.risk_state(TradingState.ACTIVE, str(n), n)
        n += 1
    return j, n


def _no_room(monkeypatch) -> None:
    """The twin's file system has no room for another chunk (monkeypatch.undo() gives it)."""
    def full(*a):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "posix_fallocate", full)


def test_records_round_trip_in_order(tmp_path, mode):
    p = tmp_path / "j.log"
    o = Order("c1", "v", "BTCUSDT", Side.SELL, OrderType.STOP_LIMIT, 7, 100, 101,
              TimeInForce.GTD, False, True, 99, 0, "s", "p", "tag", ts_created_ns=5)
    with Journal(p, **mode) as j:
        j.intent(o)
        j.transition("c1", OrderStatus.ACCEPTED, 6, "V1", "")
        j.fill(Fill("c1", "v", "BTCUSDT", Side.SELL, 3, 100, -0.01, "maker", "t1", 7))
        j.risk_state(TradingState.HALTED, "kill", 8)
        j.balance("v", "USDT", 12.5, 9)
    recs = read_journal(p, **mode).records
    assert [r[0] for r in recs] == ["I", "T", "F", "R", "B"]
    assert recs[0] == ["I", "c1", "v", "BTCUSDT", -1, 3, 7, 100, 101, 3, False, True, 99, 0, "s",
                       "p", "tag", 5]
    assert recs[1] == ["T", "c1", 3, 6, "V1", ""]
    assert recs[2] == ["F", "c1", "v", "BTCUSDT", -1, 3, 100, -0.01, "maker", "t1", 7]
    assert recs[3] == ["R", 2, "kill", 8] and recs[4] == ["B", "v", "USDT", 12.5, 9]


def test_reopen_appends_after_existing_records(tmp_path, mode):
    p = tmp_path / "j.log"
    with Journal(p, **mode) as j:
        j.risk_state(TradingState.ACTIVE, "a", 1)
    with Journal(p, **mode) as j:
        j.risk_state(TradingState.HALTED, "b", 2)
    assert [r[2] for r in read_journal(p, **mode).records] == ["a", "b"]


def test_read_drops_torn_final_line_and_reports_it(tmp_path):
    p = tmp_path / "j.log"
    p.write_bytes(b'["R",0,"a",1]\n["T","c1",3,')
    res = read_journal(p)
    assert res.records == [["R", 0, "a", 1]] and res.torn_tail == b'["T","c1",3,'


def test_read_raises_naming_line_when_middle_line_corrupt(tmp_path):
    p = tmp_path / "j.log"
    p.write_bytes(b'["R",0,"a",1]\nnot json\n["R",0,"b",2]\n')
    with pytest.raises(JournalCorrupt, match="line 2"):
        read_journal(p)


def test_read_raises_when_record_has_wrong_arity(tmp_path):
    p = tmp_path / "j.log"
    p.write_bytes(b'["T","c1",3]\n')
    with pytest.raises(JournalCorrupt, match="line 1"):
        read_journal(p)


def test_reopen_cuts_torn_tail_then_appends_cleanly(tmp_path, mode):
    p = tmp_path / "j.log"
    p.write_bytes(b'["R",0,"a",1]\n["T","c1",3,' + bytes(100))   # killed mid-copy, zero tail
    with Journal(p, **mode) as j:
        assert j.dropped_tail == b'["T","c1",3,'
        j.risk_state(TradingState.HALTED, "b", 2)
    assert read_journal(p, **mode).records == [["R", 0, "a", 1], ["R", 2, "b", 2]]


def test_file_grows_past_chunks_and_close_cuts_zero_tail(tmp_path):
    p = tmp_path / "j.log"
    with Journal(p, chunk_bytes=4096, twin_dir=None) as j:
        for i in range(2000):                    # ~40 kB: several chunks
            j.risk_state(TradingState.ACTIVE, str(i), i)
        assert p.stat().st_size % 4096 == 0      # mapped in whole chunks while open
    data = p.read_bytes()
    assert data.endswith(b"\n") and b"\0" not in data
    assert [r[2] for r in read_journal(p).records] == [str(i) for i in range(2000)]


def test_twin_grows_past_chunks_and_the_file_never_holds_a_zero(tmp_path):
    mode = _twin(tmp_path)
    p = tmp_path / "j.log"
    with Journal(p, chunk_bytes=4096, **mode) as j:
        for i in range(2000):
            j.risk_state(TradingState.ACTIVE, str(i), i)
            if i % 500 == 0:
                j.sync()
                assert p.stat().st_size == j.synced_bytes == j.size    # the bytes, no more
        assert j.twin.stat().st_size % 4096 == 0 and j.twin.stat().st_size >= j.size
    data = p.read_bytes()
    assert data.endswith(b"\n") and b"\0" not in data
    assert [r[2] for r in read_journal(p, **mode).records] == [str(i) for i in range(2000)]
    assert not j.twin.exists()                   # closed: the file holds everything


def test_journal_rejects_chunk_not_multiple_of_page(tmp_path):
    with pytest.raises(ValueError, match="page size"):
        Journal(tmp_path / "j", chunk_bytes=1000)


def test_missing_file_reads_as_empty(tmp_path):
    assert read_journal(tmp_path / "none").records == []


def test_journal_rejects_non_positive_fsync_interval(tmp_path):
    with pytest.raises(ValueError, match="fsync_interval_s"):
        Journal(tmp_path / "j", fsync_interval_s=0)


def test_background_fsync_runs_off_the_writer(tmp_path, mode):
    j = Journal(tmp_path / "j.log", fsync_interval_s=0.01, **mode)
    j.risk_state(TradingState.ACTIVE, "", 1)
    import time
    deadline = time.time() + 2
    while j.synced_bytes != j.size and time.time() < deadline:
        time.sleep(0.005)
    assert j.synced_bytes == j.size > 0      # the sync thread fdatasynced it
    j.close()


def test_sync_when_data_was_written_covers_it_and_counts_a_generation(tmp_path, mode):
    j = Journal(tmp_path / "j.log", fsync_interval_s=3600, **mode)
    j.sync()                                     # the data that was there: none
    gen = j._sync.generation
    j.sync()
    assert j._sync.generation == gen             # nothing new: no disk write
    j.risk_state(TradingState.ACTIVE, "x", 1)
    assert j.synced_bytes < j.size
    j.sync()
    assert j.synced_bytes == j.size and j._sync.generation == gen + 1
    j.close()
    assert read_journal(tmp_path / "j.log", **mode).records == [["R", 0, "x", 1]]


def test_sync_thread_when_the_order_path_runs_never_takes_the_gil(tmp_path, mode):
    """The sync thread is C (_fast/syncer.pxd): a Python loop in this thread keeps the GIL
    the whole time and the syncs still happen meanwhile."""
    import time
    j = Journal(tmp_path / "j.log", fsync_interval_s=0.005, **mode)
    j.risk_state(TradingState.ACTIVE, "x", 1)
    gen = j._sync.generation
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:            # no sleep, no I/O: never releases the GIL
        pass                                     # ... except at the switch interval
    assert j._sync.generation > gen and j.synced_bytes == j.size
    j.close()


def test_prepare_when_the_data_nears_the_armed_end_grows_and_touches_ahead(tmp_path, mode):
    """prepare keeps >= one page of writable, mapped room after the data, without changing a
    byte of it: the records read back the same, the mapping still ends in zeros until close.
    Mapped directly, a sync write-protects the pages again and prepare touches them again."""
    p = tmp_path / "j.log"
    j = Journal(p, fsync_interval_s=3600, chunk_bytes=4096, **mode)
    direct = j.twin is None
    written = []
    for i in range(200):                         # ~5 pages of records
        j.risk_state(TradingState.ACTIVE, f"r{i}", i)
        written.append(["R", int(TradingState.ACTIVE), f"r{i}", i])
        j.prepare()
        assert j._armed_to >= j._pos + PAGE and j._cap >= j._armed_to
        assert j._armed_gen == (j._sync.generation if direct else 0)
    gen = j._sync.generation
    j.sync()
    armed = j._armed_to
    j.prepare()
    assert j._sync.generation == gen + 1 and j._armed_to >= armed
    assert j._armed_gen == (gen + 1 if direct else 0)
    assert bytes(j._mm[j._pos:j._cap]) == bytes(j._cap - j._pos)
    j.close()
    assert read_journal(p, **mode).records == written
    assert b"\0" not in p.read_bytes()


def _mapped_kib(path: Path) -> int:
    """Rss of this process's mappings of `path` (/proc/self/smaps), in KiB."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        if line[:1].isalnum() and "-" in line.split(" ", 1)[0]:
            inside = line.rstrip().endswith(str(path))
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="needs /proc/self/smaps")
def test_prepare_when_the_data_moved_past_pages_unmaps_them_and_keeps_their_bytes(tmp_path,
                                                                                  mode):
    """The pages the writer has left behind are unmapped (a sync then has no mapped page of
    ours to write-protect, and sends this thread no TLB shootdown for it; the twin's pages
    are given back with none either); their bytes stay in the file, and mapped directly,
    read back through the mapping as written."""
    p = tmp_path / "j.log"
    j = Journal(p, fsync_interval_s=3600, chunk_bytes=1 << 20, **mode)
    written = []
    for i in range(10_000):                      # ~50 pages of records
        j.risk_state(TradingState.ACTIVE, f"r{i}", i)
        written.append(["R", int(TradingState.ACTIVE), f"r{i}", i])
        j.prepare()
    assert j._pos > 40 * PAGE
    assert j._released_to == j._pos // PAGE * PAGE
    # mapped: at most the page of the end and the armed pages after it, not the 40 behind
    assert _mapped_kib(j.twin or p) * 1024 <= (_ARMED_PAGES + 2) * PAGE
    assert bytes(j._mm[:j._pos]).decode().splitlines()[0] == '["R",0,"r0",0]'
    j.sync()
    j.close()
    assert read_journal(p, **mode).records == written


def test_prepare_when_closed_or_null_does_nothing(tmp_path):
    j = Journal(tmp_path / "j.log")
    j.close()
    j.prepare()
    NullJournal().prepare()


def _kill_writer(p: Path, records: int, fsync_interval_s: float, extra: str = "") -> None:
    """A writer process that appends `records` records, prepares like the engine, runs
    `extra`, and is killed (-9) before close."""
    code = textwrap.dedent(f"""
        import os, sys, time
        from tradecore.execution.journal import Journal
        from tradecore.core.orders import TradingState
        j = Journal({str(p)!r}, fsync_interval_s={fsync_interval_s!r})
        for i in range({records}):
            j.risk_state(TradingState.ACTIVE, str(i), i)
            j.prepare()
        """) + textwrap.dedent(extra) + textwrap.dedent("""
        print("written", j.synced_bytes, j.size, flush=True)
        os.kill(os.getpid(), 9)
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert r.returncode == -signal.SIGKILL and b"written" in r.stdout, r.stderr[-2000:]


def test_records_survive_sigkill_without_fsync(tmp_path):
    """The mapped pages (the twin's, or the file's) are the OS page cache: a killed process
    loses none of the records it copied there, even with the sync far in the future; the next
    Journal moves the twin's into the file."""
    p = tmp_path / "j.log"
    _kill_writer(p, 100_000, 3600)
    recs = read_journal(p).records
    assert [rec[2] for rec in recs] == [str(i) for i in range(100000)]
    with Journal(p) as j:
        assert j.dropped_tail == b"" and j.size == len(p.read_bytes().rstrip(b"\0"))
        j.risk_state(TradingState.HALTED, "after", 1)
    recs = read_journal(p, twin_dir=None).records      # the file alone holds them all now
    assert [rec[2] for rec in recs] == [str(i) for i in range(100000)] + ["after"]


def test_records_survive_sigkill_when_the_twin_gave_back_pages(tmp_path):
    """Killed after syncs that copied most records into the file and punched the twin's
    pages behind them: the file's bytes and the twin's continue each other exactly."""
    p = tmp_path / "j.log"
    _kill_writer(p, 150_000, 0.002, extra="""
        end = time.monotonic() + 10
        while j._sync.punched == 0 and time.monotonic() < end:
            time.sleep(0.01)
        assert j._sync.punched > 0, "no page given back"
        for i in range(150_000, 151_000):        # past the last sync, in the twin only
            j.risk_state(TradingState.ACTIVE, str(i), i)
    """)
    on_file = len(p.read_bytes())
    recs = read_journal(p).records
    assert [rec[2] for rec in recs] == [str(i) for i in range(151_000)]
    assert on_file < len(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    with Journal(p) as j:
        assert j.size == len(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    assert [rec[2] for rec in read_journal(p).records] == [str(i) for i in range(151_000)]


def test_second_writer_refused_while_journal_open(tmp_path, mode):
    p = tmp_path / "j.log"
    with Journal(p, **mode) as j:
        j.risk_state(TradingState.ACTIVE, "a", 1)
        with pytest.raises(JournalLocked, match="open for writing elsewhere"):
            Journal(p, **mode)
        j.risk_state(TradingState.ACTIVE, "b", 2)
    with Journal(p, **mode) as j2:                      # free again once closed
        j2.risk_state(TradingState.ACTIVE, "c", 3)
    assert [r[2] for r in read_journal(p, **mode).records] == ["a", "b", "c"]


def test_sync_when_done_leaves_the_end_page_writable_without_a_fault(tmp_path, mode):
    """A sync write-protects the pages it wrote back; the sync thread touches the end's pages
    again right after, so the next append there takes no page fault (on the order path)."""
    import resource
    faults = []
    with Journal(tmp_path / "j.log", fsync_interval_s=3600, **mode) as j:
        for i in range(6):
            j.risk_state(TradingState.ACTIVE, f"r{i}", i)
            j.sync()
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            j._mm[j._pos] = 0                    # a write where the next record goes
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    assert sum(faults) <= 1, faults              # without the re-arm: one a sync


def test_records_when_synced_and_rearmed_every_millisecond_all_read_back(tmp_path, mode):
    """The sync thread touches the pages the writer is copying into (an atomic add of 0): no
    byte may change, whatever the timing."""
    written = []
    with Journal(tmp_path / "j.log", fsync_interval_s=0.001, chunk_bytes=8192, **mode) as j:
        for i in range(20_000):
            j.risk_state(TradingState.ACTIVE, f"r{i}", i)
            written.append(["R", 0, f"r{i}", i])
            if i % 97 == 0:
                j.prepare()
        assert j._sync.generation > 0
    assert read_journal(tmp_path / "j.log", **mode).records == written


def _killed_writer_files(tmp_path: Path, file_bytes: bytes, twin_bytes: bytes,
                         twin_at: int = 0) -> tuple[Path, Path, dict]:
    """A journal file and its twin as a killed writer could have left them: the twin holds
    `twin_bytes` from offset `twin_at` (zeros before, where its pages were given back)."""
    from tradecore.execution.journal import _twin_path
    kw = _twin(tmp_path)
    p = tmp_path / "j.log"
    p.write_bytes(file_bytes)
    twin = _twin_path(p, kw["twin_dir"], create=True)
    twin.write_bytes(bytes(twin_at) + twin_bytes + bytes(4096))
    return p, twin, kw


def test_open_when_the_twin_holds_records_past_the_file_appends_them(tmp_path):
    a, b, c = b'["R",0,"a",1]\n', b'["R",0,"b",2]\n', b'["R",0,"c",3]\n'
    p, twin, kw = _killed_writer_files(tmp_path, a + b, b + c + b'["T","c1",', twin_at=len(a))
    assert [r[2] for r in read_journal(p, **kw).records] == ["a", "b", "c"]
    with Journal(p, **kw) as j:
        assert j.dropped_tail == b'["T","c1",'   # torn in the twin: cut off, reported
        assert p.read_bytes() == a + b + c       # in the file before anything is appended
        j.risk_state(TradingState.HALTED, "d", 4)
    assert [r[2] for r in read_journal(p, twin_dir=None).records] == ["a", "b", "c", "d"]


def test_open_when_the_twin_differs_from_the_file_raises_and_changes_nothing(tmp_path):
    a, b = b'["R",0,"a",1]\n', b'["R",0,"b",2]\n'
    p, twin, kw = _killed_writer_files(tmp_path, a + b, a + b'["R",0,"X",2]\n')
    before = twin.read_bytes()
    with pytest.raises(JournalCorrupt, match="differs from the file in bytes 0-"):
        Journal(p, **kw)
    with pytest.raises(JournalCorrupt, match="differs"):
        read_journal(p, **kw)
    assert p.read_bytes() == a + b and twin.read_bytes() == before
    twin.rename(twin.with_name("set-aside"))    # the way out the error names
    with Journal(p, **kw) as j:                  # ... and the lock was let go
        j.risk_state(TradingState.ACTIVE, "c", 3)
    assert [r[2] for r in read_journal(p, **kw).records] == ["a", "b", "c"]


def test_open_when_the_twin_starts_past_the_file_end_raises(tmp_path):
    a, b = b'["R",0,"a",1]\n', b'["R",0,"b",2]\n'
    p, twin, kw = _killed_writer_files(tmp_path, a, b, twin_at=len(a) + 100)
    with pytest.raises(JournalCorrupt, match=f"from byte {len(a) + 100}.*ends at byte {len(a)}"):
        Journal(p, **kw)
    assert p.read_bytes() == a


def test_a_new_file_at_a_deleted_journals_path_gets_a_twin_of_its_own(tmp_path):
    from tradecore.execution.journal import _twin_path
    kw = _twin(tmp_path)
    p = tmp_path / "j.log"
    with Journal(p, **kw) as j:
        first = j.twin
    p.unlink()
    with Journal(p, **kw) as j:
        assert j.twin != first and j.twin == _twin_path(p, kw["twin_dir"], create=False)


def test_journal_when_the_file_system_keeps_no_attributes_maps_the_file(tmp_path,
                                                                       monkeypatch):
    def refuse(*a):
        raise OSError(errno.ENOTSUP, "not supported")
    monkeypatch.setattr(os, "setxattr", refuse)
    p = tmp_path / "j.log"
    with Journal(p, **_twin(tmp_path)) as j:
        assert j.twin is None
        j.risk_state(TradingState.ACTIVE, "a", 1)
    assert read_journal(p).records == [["R", 0, "a", 1]]


def test_grow_when_the_twin_has_no_room_refuses_the_intent_and_writes_nothing(tmp_path,
                                                                             monkeypatch):
    p = tmp_path / "j.log"
    j, n = _nearly_full(p, tmp_path)
    size, cap = j.size, j._cap
    _no_room(monkeypatch)
    big = Order("c" * 40, "v", "BTCUSDT", Side.BUY, OrderType.LIMIT, 1, 100, tag="t" * 300)
    with pytest.raises(OSError, match="no room for its next 4096 bytes in the twin"):
        j.intent(big)
    assert j.size == size and j._cap == cap and j.twin.stat().st_size == cap
    monkeypatch.undo()
    j.risk_state(TradingState.ACTIVE, "y" * 300, n)       # room again: it goes on
    j.close()
    assert [r[2] for r in read_journal(p).records] == [str(i) for i in range(n)] + ["y" * 300]


def test_read_when_a_writer_has_not_synced_sees_the_twins_records(tmp_path):
    p = tmp_path / "j.log"
    kw = _twin(tmp_path)
    with Journal(p, fsync_interval_s=3600, **kw) as j:
        j.risk_state(TradingState.ACTIVE, "a", 1)
        assert p.read_bytes() == b""                   # not copied yet
        assert read_journal(p, **kw).records == [["R", 0, "a", 1]]


def test_twin_directory_when_the_environment_names_one_or_none(monkeypatch, tmp_path):
    from tradecore.execution.journal import TWIN_DIR_ENV, twin_directory
    monkeypatch.setenv(TWIN_DIR_ENV, str(tmp_path / "made"))
    assert twin_directory() == tmp_path / "made"
    with Journal(tmp_path / "j0.log") as j:          # a directory not there yet is made
        assert j.twin.parent == tmp_path / "made"
    monkeypatch.setenv(TWIN_DIR_ENV, "")
    assert twin_directory() is None
    with Journal(tmp_path / "j.log") as j:
        assert j.twin is None


def test_twin_when_pages_are_durable_gives_them_back(tmp_path):
    """The twin holds what is not yet durable, plus at most a step of 1 MiB and a lag of
    1 MiB: a long-running journal does not keep its whole history in memory."""
    p = tmp_path / "j.log"
    with Journal(p, fsync_interval_s=3600, chunk_bytes=8 << 20, **_twin(tmp_path)) as j:
        for i in range(200_000):                        # ~4.4 MB
            j.risk_state(TradingState.ACTIVE, str(i), i)
            j.prepare()
        j.sync()
        assert j._sync.punched == (j.size - (1 << 20)) // (1 << 20) * (1 << 20) > 0
        held = j.twin.stat().st_blocks * 512
        assert held <= j._cap - j._sync.punched
        assert os.lseek(j._twin_fd, 0, os.SEEK_DATA) >= j._sync.punched
    assert [r[2] for r in read_journal(p).records] == [str(i) for i in range(200_000)]


def test_read_while_a_writer_syncs_and_gives_back_pages_sees_a_prefix(tmp_path):
    """Whatever the sync thread copies and punches meanwhile (every millisecond here), a read
    is the records written so far, in order (it takes the twin's bytes before the file's, so
    the file holds all that the twin has given back by then)."""
    import threading
    import time
    p = tmp_path / "j.log"
    kw = _twin(tmp_path)
    reads, errors = [], []
    done = threading.Event()

    def reader():
        while not done.is_set():
            try:
                recs = read_journal(p, **kw).records
            except Exception as e:               # noqa: BLE001 - reported below
                errors.append(e)
                return
            reads.append(len(recs))
            if [r[3] for r in recs] != list(range(len(recs))):
                errors.append(AssertionError(f"not a prefix at {len(recs)}"))
                return

    with Journal(p, fsync_interval_s=0.001, chunk_bytes=4 << 20, **kw) as j:
        t = threading.Thread(target=reader)
        t.start()
        for i in range(250_000):
            j.risk_state(TradingState.ACTIVE, "", i)
            j.prepare()
            if i % 25_000 == 0:
                time.sleep(0.005)                # the reader gets the GIL now and then
        end = time.monotonic() + 10
        while len(reads) < 2 and not errors and time.monotonic() < end:
            time.sleep(0.01)
        done.set()
        t.join()
        assert j._sync.punched > 0
    assert errors == [] and len(reads) >= 2 and reads == sorted(reads)


def test_prepare_when_the_twin_has_no_room_does_not_raise_and_the_next_intent_does(
        tmp_path, monkeypatch):
    """prepare runs after a send: it must not fail that order. The next intent's write
    (before its own send) raises instead."""
    j, n = _nearly_full(tmp_path / "j.log", tmp_path)

    _no_room(monkeypatch)
    j.prepare()                                 # would grow: cannot, and says nothing
    assert j._cap == 4096
    big = Order("c" * 40, "v", "BTCUSDT", Side.BUY, OrderType.LIMIT, 1, 100, tag="t" * 300)
    with pytest.raises(OSError, match="no room"):
        j.intent(big)
    monkeypatch.undo()
    j.close()
    assert [r[2] for r in read_journal(tmp_path / "j.log").records] == [str(i) for i in range(n)]


def test_records_when_there_is_no_room_wait_in_order_and_intents_are_refused(tmp_path,
                                                                              monkeypatch):
    """A venue answer's record never raises for want of room (its caller has already changed
    its state): it waits, in order, and is written when there is room; meanwhile an intent is
    refused (its order is then denied, not sent)."""
    p = tmp_path / "j.log"
    j, n = _nearly_full(p, tmp_path)

    _no_room(monkeypatch)
    j.transition("c1", OrderStatus.ACCEPTED, 1, "V1", "x" * 300)     # no room: waits
    j.risk_state(TradingState.HALTED, "small", 2)                     # fits, but waits behind
    assert j.backlog == 2 and j.write_errors >= 1
    o = Order("c2", "v", "BTCUSDT", Side.BUY, OrderType.LIMIT, 1, 100)
    with pytest.raises(OSError, match="2 records are still waiting for room"):
        j.intent(o)
    j.prepare()                                 # still no room: nothing raised, nothing lost
    assert j.backlog == 2
    monkeypatch.undo()
    j.prepare()                                 # room again: written, in order
    assert j.backlog == 0
    j.intent(o)
    j.close()
    recs = read_journal(p).records
    assert [r[0] for r in recs[n:]] == ["T", "R", "I"]
    assert recs[n][5] == "x" * 300 and recs[n + 1][2] == "small" and recs[n + 2][1] == "c2"


def test_close_when_records_still_find_no_room_raises_and_keeps_the_twin(tmp_path,
                                                                         monkeypatch):
    j, _ = _nearly_full(tmp_path / "j.log", tmp_path)
    _no_room(monkeypatch)
    j.transition("c1", OrderStatus.ACCEPTED, 1, "V1", "x" * 300)
    with pytest.raises(OSError, match="1 records found no room"):
        j.close()
    assert j.twin.exists()                      # what it does hold, the next open recovers


def _warnings(monkeypatch) -> list[str]:
    """What the journal module logs as warnings, whatever logging's configuration (other
    tests configure the package's loggers)."""
    import tradecore.execution.journal as jm
    said: list[str] = []
    monkeypatch.setattr(jm.log, "warning", lambda msg, *a: said.append(msg % a))
    return said


def test_journal_when_the_twin_directory_cannot_be_written_maps_the_file_and_says_so(
        tmp_path, monkeypatch):
    said = _warnings(monkeypatch)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    real_access = os.access         # root may write anywhere: ask as a user would be answered
    monkeypatch.setattr(os, "access",
                        lambda p, m: False if Path(p) == locked else real_access(p, m))
    with Journal(tmp_path / "j.log", twin_dir=locked) as j:
        assert j.twin is None
        j.risk_state(TradingState.ACTIVE, "a", 1)
    assert any("cannot be written: the file is mapped directly" in w for w in said)
    assert read_journal(tmp_path / "j.log").records == [["R", 0, "a", 1]]


def test_journal_when_the_twin_directory_cannot_be_made_maps_the_file_and_says_so(
        tmp_path, monkeypatch):
    said = _warnings(monkeypatch)
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with Journal(tmp_path / "j.log", twin_dir=blocker / "twins") as j:
        assert j.twin is None
        j.risk_state(TradingState.ACTIVE, "a", 1)
    assert any("cannot be written" in w for w in said)
    assert read_journal(tmp_path / "j.log").records == [["R", 0, "a", 1]]
