"""The journal: every record kind round-trips, a torn final line is dropped and reported, a bad
line elsewhere is an error naming it, records survive a kill -9 without fsync."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tradecore.core.orders import (Fill, Order, OrderStatus, OrderType, Side, TimeInForce,
                                   TradingState)
from tradecore.execution.journal import (_ARMED_PAGES, PAGE, Journal, JournalCorrupt, JournalLocked,
                                         NullJournal, read_journal)

SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_records_round_trip_in_order(tmp_path):
    p = tmp_path / "j.log"
    o = Order("c1", "v", "BTCUSDT", Side.SELL, OrderType.STOP_LIMIT, 7, 100, 101,
              TimeInForce.GTD, False, True, 99, 0, "s", "p", "tag", ts_created_ns=5)
    with Journal(p) as j:
        j.intent(o)
        j.transition("c1", OrderStatus.ACCEPTED, 6, "V1", "")
        j.fill(Fill("c1", "v", "BTCUSDT", Side.SELL, 3, 100, -0.01, "maker", "t1", 7))
        j.risk_state(TradingState.HALTED, "kill", 8)
        j.balance("v", "USDT", 12.5, 9)
    recs = read_journal(p).records
    assert [r[0] for r in recs] == ["I", "T", "F", "R", "B"]
    assert recs[0] == ["I", "c1", "v", "BTCUSDT", -1, 3, 7, 100, 101, 3, False, True, 99, 0, "s",
                       "p", "tag", 5]
    assert recs[1] == ["T", "c1", 3, 6, "V1", ""]
    assert recs[2] == ["F", "c1", "v", "BTCUSDT", -1, 3, 100, -0.01, "maker", "t1", 7]
    assert recs[3] == ["R", 2, "kill", 8] and recs[4] == ["B", "v", "USDT", 12.5, 9]


def test_reopen_appends_after_existing_records(tmp_path):
    p = tmp_path / "j.log"
    with Journal(p) as j:
        j.risk_state(TradingState.ACTIVE, "a", 1)
    with Journal(p) as j:
        j.risk_state(TradingState.HALTED, "b", 2)
    assert [r[2] for r in read_journal(p).records] == ["a", "b"]


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


def test_reopen_cuts_torn_tail_then_appends_cleanly(tmp_path):
    p = tmp_path / "j.log"
    p.write_bytes(b'["R",0,"a",1]\n["T","c1",3,' + bytes(100))   # killed mid-copy, zero tail
    with Journal(p) as j:
        assert j.dropped_tail == b'["T","c1",3,'
        j.risk_state(TradingState.HALTED, "b", 2)
    assert read_journal(p).records == [["R", 0, "a", 1], ["R", 2, "b", 2]]


def test_file_grows_past_chunks_and_close_cuts_zero_tail(tmp_path):
    p = tmp_path / "j.log"
    with Journal(p, chunk_bytes=4096) as j:
        for i in range(2000):                    # ~40 kB: several chunks
            j.risk_state(TradingState.ACTIVE, str(i), i)
        assert p.stat().st_size % 4096 == 0      # mapped in whole chunks while open
    data = p.read_bytes()
    assert data.endswith(b"\n") and b"\0" not in data
    assert [r[2] for r in read_journal(p).records] == [str(i) for i in range(2000)]


def test_journal_rejects_chunk_not_multiple_of_page(tmp_path):
    with pytest.raises(ValueError, match="page size"):
        Journal(tmp_path / "j", chunk_bytes=1000)


def test_missing_file_reads_as_empty(tmp_path):
    assert read_journal(tmp_path / "none").records == []


def test_journal_rejects_non_positive_fsync_interval(tmp_path):
    with pytest.raises(ValueError, match="fsync_interval_s"):
        Journal(tmp_path / "j", fsync_interval_s=0)


def test_background_fsync_runs_off_the_writer(tmp_path):
    j = Journal(tmp_path / "j.log", fsync_interval_s=0.01)
    j.risk_state(TradingState.ACTIVE, "", 1)
    import time
    deadline = time.time() + 2
    while j.synced_bytes != j.size and time.time() < deadline:
        time.sleep(0.005)
    assert j.synced_bytes == j.size > 0      # the sync thread fdatasynced it
    j.close()


def test_sync_when_data_was_written_covers_it_and_counts_a_generation(tmp_path):
    j = Journal(tmp_path / "j.log", fsync_interval_s=3600)
    j.sync()                                     # the data that was there: none
    gen = j._sync.generation
    j.sync()
    assert j._sync.generation == gen             # nothing new: no disk write
    j.risk_state(TradingState.ACTIVE, "x", 1)
    assert j.synced_bytes < j.size
    j.sync()
    assert j.synced_bytes == j.size and j._sync.generation == gen + 1
    j.close()
    assert read_journal(tmp_path / "j.log").records == [["R", 0, "x", 1]]


def test_sync_thread_when_the_order_path_runs_never_takes_the_gil(tmp_path):
    """The sync thread is C (_fast/syncer.pxd): a Python loop in this thread keeps the GIL
    the whole time and the syncs still happen meanwhile."""
    import time
    j = Journal(tmp_path / "j.log", fsync_interval_s=0.005)
    j.risk_state(TradingState.ACTIVE, "x", 1)
    gen = j._sync.generation
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:            # no sleep, no I/O: never releases the GIL
        pass                                     # ... except at the switch interval
    assert j._sync.generation > gen and j.synced_bytes == j.size
    j.close()


def test_prepare_when_the_data_nears_the_armed_end_grows_and_touches_ahead(tmp_path):
    """prepare keeps >= one page of writable, mapped room after the data, without changing a
    byte of it: the records read back the same, the file still ends in zeros until close."""
    p = tmp_path / "j.log"
    j = Journal(p, fsync_interval_s=3600, chunk_bytes=4096)
    written = []
    for i in range(200):                         # ~5 pages of records
        j.risk_state(TradingState.ACTIVE, f"r{i}", i)
        written.append(["R", int(TradingState.ACTIVE), f"r{i}", i])
        j.prepare()
        assert j._armed_to >= j._pos + PAGE and j._cap >= j._armed_to
        assert j._armed_gen == j._sync.generation
    gen = j._sync.generation
    j.sync()                                     # write-protects the pages again ...
    armed = j._armed_to
    j.prepare()                                  # ... so prepare touches them again
    assert j._armed_gen == j._sync.generation == gen + 1 and j._armed_to >= armed
    assert p.read_bytes()[j._pos:j._cap] == bytes(j._cap - j._pos)
    j.close()
    assert read_journal(p).records == written
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
def test_prepare_when_the_data_moved_past_pages_unmaps_them_and_keeps_their_bytes(tmp_path):
    """The pages the writer has left behind are unmapped (a sync then has no mapped page of
    ours to write-protect, and sends this thread no TLB shootdown for it); their bytes stay in
    the file and read back through the mapping as written."""
    p = tmp_path / "j.log"
    j = Journal(p, fsync_interval_s=3600, chunk_bytes=1 << 20)
    written = []
    for i in range(10_000):                      # ~50 pages of records
        j.risk_state(TradingState.ACTIVE, f"r{i}", i)
        written.append(["R", int(TradingState.ACTIVE), f"r{i}", i])
        j.prepare()
    assert j._pos > 40 * PAGE
    assert j._released_to == j._pos // PAGE * PAGE
    # mapped: at most the page of the end and the armed pages after it, not the 40 behind
    assert _mapped_kib(p) * 1024 <= (_ARMED_PAGES + 2) * PAGE
    assert bytes(j._mm[:j._pos]).decode().splitlines()[0] == '["R",0,"r0",0]'
    j.sync()
    j.close()
    assert read_journal(p).records == written


def test_prepare_when_closed_or_null_does_nothing(tmp_path):
    j = Journal(tmp_path / "j.log")
    j.close()
    j.prepare()
    NullJournal().prepare()


def test_records_survive_sigkill_without_fsync(tmp_path):
    """The mapped pages are the OS page cache of the file: a killed process loses none of the
    records it copied there, even with the sync far in the future."""
    p = tmp_path / "j.log"
    code = textwrap.dedent(f"""
        import os, sys
        from tradecore.execution.journal import Journal
        from tradecore.core.orders import TradingState
        j = Journal({str(p)!r}, fsync_interval_s=3600)
        for i in range(100000):
            j.risk_state(TradingState.ACTIVE, str(i), i)
        print("written", flush=True)
        os.kill(os.getpid(), 9)
    """)
    env = dict(os.environ, PYTHONPATH=SRC)
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert r.returncode == -signal.SIGKILL and b"written" in r.stdout
    recs = read_journal(p).records
    assert [rec[2] for rec in recs] == [str(i) for i in range(100000)]


def test_second_writer_refused_while_journal_open(tmp_path):
    p = tmp_path / "j.log"
    with Journal(p) as j:
        j.risk_state(TradingState.ACTIVE, "a", 1)
        with pytest.raises(JournalLocked, match="open for writing elsewhere"):
            Journal(p)
        j.risk_state(TradingState.ACTIVE, "b", 2)
    with Journal(p) as j2:                      # free again once closed
        j2.risk_state(TradingState.ACTIVE, "c", 3)
    assert [r[2] for r in read_journal(p).records] == ["a", "b", "c"]


def test_sync_when_done_leaves_the_end_page_writable_without_a_fault(tmp_path):
    """A sync write-protects the pages it wrote back; the sync thread touches the end's pages
    again right after, so the next append there takes no page fault (on the order path)."""
    import resource
    faults = []
    with Journal(tmp_path / "j.log", fsync_interval_s=3600) as j:
        for i in range(6):
            j.risk_state(TradingState.ACTIVE, f"r{i}", i)
            j.sync()
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            j._mm[j._pos] = 0                    # a write where the next record goes
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    assert sum(faults) <= 1, faults              # without the re-arm: one a sync


def test_records_when_synced_and_rearmed_every_millisecond_all_read_back(tmp_path):
    """The sync thread touches the pages the writer is copying into (an atomic add of 0): no
    byte may change, whatever the timing."""
    written = []
    with Journal(tmp_path / "j.log", fsync_interval_s=0.001, chunk_bytes=8192) as j:
        for i in range(20_000):
            j.risk_state(TradingState.ACTIVE, f"r{i}", i)
            written.append(["R", 0, f"r{i}", i])
            if i % 97 == 0:
                j.prepare()
        assert j._sync.generation > 0
    assert read_journal(tmp_path / "j.log").records == written
