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


def test_syncer_when_copying_moves_the_new_bytes_into_the_file_then_syncs(tmp_path):
    src = os.open(tmp_path / "twin", os.O_RDWR | os.O_CREAT)
    dst = os.open(tmp_path / "file", os.O_RDWR | os.O_CREAT)
    os.write(dst, b"old:")                       # what the file held at start (pos 4)
    os.pwrite(src, b"\0\0\0\0new bytes", 0)
    s = FileSyncer(dst, 3600, pos=4, src_fd=src)
    s.pos = 13
    s.sync_now()
    assert s.copied == s.synced == 13 and s.generation == 1
    assert (tmp_path / "file").read_bytes() == b"old:new bytes"
    os.pwrite(src, b"!", 13)
    s.pos = 14
    s.sync_now()
    assert (tmp_path / "file").read_bytes() == b"old:new bytes!" and s.errors == 0
    s.stop()
    os.close(src)
    os.close(dst)


def test_syncer_when_the_copy_fails_keeps_its_place_and_retries(tmp_path):
    src = os.open(tmp_path / "twin", os.O_RDWR | os.O_CREAT)
    os.pwrite(src, b"abcdef", 0)
    ro = os.open(tmp_path / "file", os.O_RDONLY | os.O_CREAT)    # pwrite fails: EBADF
    s = FileSyncer(ro, 0.005, pos=0, src_fd=src)
    s.pos = 6
    wait_for(lambda: s.errors >= 2)
    assert s.copied == 0 and s.synced == -1
    with pytest.raises(OSError, match="copying the journal's new bytes"):
        s.sync_now()
    s.stop()
    os.close(ro)
    rw = os.open(tmp_path / "file", os.O_RDWR)                  # the same bytes, copied once
    s = FileSyncer(rw, 3600, pos=0, src_fd=src)
    s.pos = 6
    s.sync_now()
    assert (tmp_path / "file").read_bytes() == b"abcdef"
    s.stop()
    os.close(rw)
    os.close(src)


def test_syncer_when_punching_gives_back_the_source_a_step_behind_synced(tmp_path):
    mib = 1 << 20
    src = os.open(tmp_path / "twin", os.O_RDWR | os.O_CREAT)
    dst = os.open(tmp_path / "file", os.O_RDWR | os.O_CREAT)
    os.pwrite(src, b"x" * (3 * mib + 100), 0)
    s = FileSyncer(dst, 3600, pos=0, src_fd=src, punch=True)
    s.pos = 3 * mib + 100
    s.sync_now()
    assert s.punched == 2 * mib                  # synced 3 MiB + 100, less a MiB, in MiBs
    assert os.pread(src, 16, 2 * mib - 16) == bytes(16)     # a hole: zeros
    assert os.pread(src, 4, 2 * mib) == b"xxxx"
    assert (tmp_path / "file").read_bytes() == b"x" * (3 * mib + 100)
    s.stop()
    os.close(src)
    os.close(dst)
