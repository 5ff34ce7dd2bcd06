"""The journal's sync thread (_fast/syncer.pyx): syncs only when the data moved, retries what
failed, syncs on demand, stops once."""
from __future__ import annotations

import os
import time

import pytest

from tradecore._fast.syncer import FileSyncer


def wait_for(cond, timeout=2.0):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.002)


def test_syncer_when_pos_moves_syncs_once_per_move(tmp_path):
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    s = FileSyncer(fd, 0.005)
    wait_for(lambda: s.synced == 0)              # what was there at start: synced once
    gen = s.generation
    time.sleep(0.05)
    assert s.generation == gen                   # nothing written: no more syncs
    os.write(fd, b"abc")
    s.pos = 3
    wait_for(lambda: s.synced == 3)
    assert s.generation == gen + 1 and s.errors == 0
    s.stop()
    s.stop()                                     # idempotent
    os.close(fd)


def test_syncer_when_the_file_cannot_be_synced_counts_errors_and_raises_on_demand():
    s = FileSyncer(-1, 0.005, pos=10)            # no such descriptor: fdatasync fails (EBADF)
    wait_for(lambda: s.errors >= 2)
    assert s.synced == -1
    with pytest.raises(OSError):
        s.sync_now()
    s.stop()


def test_syncer_refuses_a_non_positive_interval():
    with pytest.raises(ValueError, match="interval_s"):
        FileSyncer(0, 0.0)


def test_syncer_when_forked_the_child_leaves_the_parents_thread_alone(tmp_path):
    fd = os.open(tmp_path / "f", os.O_RDWR | os.O_CREAT)
    s = FileSyncer(fd, 0.005)
    pid = os.fork()
    if pid == 0:                                 # the child: stop and dealloc must not join
        try:
            s.stop()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    os.write(fd, b"x")
    s.pos = 1
    wait_for(lambda: s.synced == 1)              # the parent's thread still runs
    s.stop()
    os.close(fd)
