"""Books rebuilt from the bus: duplicates dropped by the book's sequence, a gap leaves the book
invalid (never shown half-built) until a snapshot at least as new arrives."""
from __future__ import annotations

import numpy as np
import pytest

from tradecore.bus.codec import BookMsg, StaleMsg
from tradecore.bus.mirror import APPLIED, DUPLICATE, GAP, WAITING, BookMirror
from tradecore.core.instrument import Instrument

KEY = ("binance", "BTCUSDT")
E = np.zeros((0, 2), dtype=np.int64)


def _lv(*pairs) -> np.ndarray:
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


def _msg(bseq, bids=E, asks=E, snapshot=False, tick="0.01", lot="0.001") -> BookMsg:
    return BookMsg(snapshot, *KEY, bseq, bseq, 1000 + bseq, 2000 + bseq, 50 + bseq, True, tick,
                   lot, bids, asks)


@pytest.fixture
def mirror():
    return BookMirror({KEY: Instrument(*KEY, "0.01", "0.001", "BTC", "USDT")})


def _levels(m: BookMirror):
    b = m.book(KEY)
    return b.depth_ticks(0, 100).tolist(), b.depth_ticks(1, 100).tolist()


def test_apply_builds_the_book_when_it_starts_from_a_full_book(mirror):
    assert mirror.book(KEY) is None
    assert mirror.apply(_msg(1, _lv((100, 5), (99, 2)), _lv((101, 1)), snapshot=True)) == APPLIED
    assert mirror.apply(_msg(2, _lv((99, 0), (98, 7)), _lv((101, 3)))) == APPLIED
    assert _levels(mirror) == ([[100, 5], [98, 7]], [[101, 3]])
    b = mirror.book(KEY)
    assert (b.valid, b.seq, b.ts_ns) == (True, 52, 1002)


def test_apply_drops_a_delta_when_it_was_applied_before(mirror):
    mirror.apply(_msg(1, _lv((100, 5)), snapshot=True))
    mirror.apply(_msg(2, _lv((100, 6))))
    assert mirror.apply(_msg(2, _lv((100, 9)))) == DUPLICATE
    assert mirror.apply(_msg(1, _lv((100, 9)), snapshot=True)) == DUPLICATE
    assert _levels(mirror) == ([[100, 6]], [])
    assert mirror.counts[DUPLICATE] == 2


def test_apply_invalidates_the_book_until_a_newer_snapshot_when_a_delta_is_missing(mirror):
    mirror.apply(_msg(1, _lv((100, 5)), snapshot=True))
    assert mirror.apply(_msg(3, _lv((100, 1)))) == GAP
    assert not mirror.book(KEY).valid
    assert _levels(mirror) == ([[100, 5]], [])          # nothing of the later delta applied
    assert mirror.apply(_msg(4, _lv((100, 2)))) == WAITING
    assert mirror.needs_snapshot() == [KEY]
    assert mirror.apply(_msg(4, _lv((100, 2), (99, 1)), snapshot=True)) == APPLIED
    assert mirror.book(KEY).valid and mirror.needs_snapshot() == []
    assert mirror.apply(_msg(4, _lv((100, 3)))) == DUPLICATE    # already in the snapshot
    assert mirror.apply(_msg(5, _lv((100, 3)))) == APPLIED
    assert _levels(mirror) == ([[100, 3], [99, 1]], [])


def test_apply_refuses_a_snapshot_when_it_is_older_than_a_dropped_delta(mirror):
    mirror.apply(_msg(1, _lv((100, 5)), snapshot=True))
    assert mirror.apply(_msg(5, _lv((100, 1)))) == GAP         # 2-4 lost, 5 dropped
    assert mirror.apply(_msg(4, _lv((100, 4)), snapshot=True)) == WAITING
    assert not mirror.book(KEY).valid
    assert _levels(mirror) == ([[100, 5]], [])
    assert mirror.apply(_msg(5, _lv((100, 7)), snapshot=True)) == APPLIED
    assert mirror.book(KEY).valid and _levels(mirror) == ([[100, 7]], [])


def test_apply_waits_for_a_full_book_when_it_joins_mid_stream(mirror):
    assert mirror.apply(_msg(7, _lv((100, 5)))) == WAITING
    assert mirror.book(KEY) is None


def test_apply_replaces_the_book_object_when_the_grid_changes(mirror):
    mirror.apply(_msg(1, _lv((100, 5)), snapshot=True))
    old = mirror.book(KEY)
    assert mirror.apply(_msg(2, _lv((1000, 50)), snapshot=True, tick="0.001")) == APPLIED
    assert mirror.book(KEY) is not old and mirror.book(KEY).tick_size == 0.001
    assert mirror.apply(_msg(3, _lv((1000, 5)), tick="0.01")) == GAP     # wrong grid: lost


def test_stale_marks_the_book_invalid_when_the_feed_lost_it(mirror):
    mirror.apply(_msg(1, _lv((100, 5)), snapshot=True))
    assert mirror.stale(StaleMsg(*KEY, 2, 1, 0, "sequence_gap"))
    assert not mirror.book(KEY).valid
    assert mirror.mark_all_stale() == []


def test_apply_raises_when_the_book_is_not_configured(mirror):
    m = BookMsg(True, "kraken", "XBT/USD", 1, 1, 0, 0, 0, True, "0.1", "0.1", E, E)
    with pytest.raises(KeyError, match="kraken:XBT/USD"):
        mirror.apply(m)
