"""The compiled latency probes (_fast/probes.pxd) against what the Python probes they replace
did: the same calls through, the same counts, each duration recorded once."""
from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from hypothesis import given, strategies as st

from tradecore._fast.probes import NormalizerProbe, Samples, monotonic_ns, timed1, timed3


def _take(s: Samples) -> list[int]:
    return np.frombuffer(s.take(), dtype=np.int64).tolist()


@given(st.lists(st.lists(st.integers(-2**63, 2**63 - 1), max_size=3000), max_size=4))
def test_samples_when_added_in_batches_are_taken_whole_and_in_order(batches):
    s = Samples()
    for b in batches:
        s.extend(b)
        assert len(s) == len(b)
        assert _take(s) == b
        assert len(s) == 0 and _take(s) == []


def test_samples_when_given_no_int_raise_and_keep_what_they_had():
    s = Samples()
    s.add(5)
    with pytest.raises(TypeError):
        s.add("6")
    with pytest.raises(OverflowError):
        s.add(2**63)
    with pytest.raises(TypeError):
        s.extend([6, 7, "8", 9])                # all or nothing
    assert _take(s) == [5]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="perf_counter_ns is "
                    "CLOCK_MONOTONIC on Linux")
def test_monotonic_ns_when_read_between_two_perf_counter_reads_lies_between_them():
    for _ in range(100):
        a = time.perf_counter_ns()
        b = monotonic_ns()
        c = time.perf_counter_ns()
        assert a <= b <= c


def _busy(ns: int) -> None:
    end = time.perf_counter_ns() + ns
    while time.perf_counter_ns() < end:
        pass


def test_timed_when_called_returns_what_fn_returns_and_records_its_duration():
    s = Samples()
    f1 = timed1(lambda a: (_busy(200_000), a * 2)[1], s)
    f3 = timed3(lambda a, b, c: a + b + c, s)
    assert f1(21) == 42 and f3(1, 2, 3) == 6
    got = _take(s)
    assert len(got) == 2 and got[0] >= 200_000 and 0 <= got[1] < got[0]


def test_timed_when_fn_raises_passes_the_error_and_records_nothing():
    s = Samples()

    def boom(a):
        raise ValueError(f"bad {a}")
    with pytest.raises(ValueError, match="bad 7"):
        timed1(boom, s)(7)
    assert len(s) == 0


def test_timed_when_given_no_samples_raises():
    with pytest.raises(TypeError):
        timed1(len, None)


class _Normalizer:
    """Records its calls; on_frame calls on_book once per book the frame changes."""

    def __init__(self):
        self.calls = []
        self.on_book = self._book

    def on_frame(self, data, conn="ws", ts_ns=0):
        self.calls.append(("frame", data, conn, ts_ns))
        for key in data:
            _busy(50_000) if key == ("binance", "SLOW") else None
            self.on_book(key, "book")
        return len(data)

    def on_rest(self, data, conn="rest", ts_ns=0, src=""):
        self.calls.append(("rest", data, conn, ts_ns, src))
        for key in data:
            self.on_book(key, "book")

    def _book(self, key, b):
        self.calls.append(("book", key, b))


def test_normalizer_probe_when_frames_arrive_counts_them_and_times_parse_once_per_frame():
    n, parse = _Normalizer(), Samples()
    p = NormalizerProbe(n.on_frame, n.on_rest, n._book, parse)
    n.on_frame, n.on_rest, n.on_book = p.frame, p.rest, p.book
    a, s = ("binance", "BTCUSDT"), ("binance", "SLOW")
    assert n.on_frame([s, a, a], "c1", 5) == 3        # defaults and results pass through
    n.on_frame([])                                      # no book changed: no parse sample
    n.on_rest([a], "snap", 7, "depth")
    n.on_frame([a])
    assert p.messages == 4
    assert p.book_updates() == {"SLOW": 1, "BTCUSDT": 4}
    got = _take(parse)
    # one sample per frame that reached a book: the first book callback's, never a later one
    assert len(got) == 3 and got[0] >= 50_000
    assert n.calls[0] == ("frame", [s, a, a], "c1", 5)
    assert ("frame", [], "ws", 0) in n.calls and ("rest", [a], "snap", 7, "depth") in n.calls
    assert sum(1 for c in n.calls if c[0] == "book") == 5


def test_normalizer_probe_when_a_later_frame_reaches_no_book_records_nothing_stale():
    n, parse = _Normalizer(), Samples()
    p = NormalizerProbe(n.on_frame, n.on_rest, n._book, parse)
    n.on_frame, n.on_book = p.frame, p.book
    n.on_frame([])
    _busy(100_000)
    n.on_frame([("binance", "BTCUSDT")])
    got = _take(parse)
    # the sample runs from the second frame's start, not the first's
    assert len(got) == 1 and got[0] < 100_000
