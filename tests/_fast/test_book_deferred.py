"""The book's deferred far levels (book.pxd, "Deferred far levels"): a large batch applied with
apply_many_near keeps its levels below each side's fence pending, and no read can tell: every
read equals the plain-Python reference book that got the whole batch at once, whether it needed
the pending levels (and applied them) or not.

The property tests run each example in a forked child (as test_book_properties.py), so that a
kernel bug that corrupts memory fails one example instead of the run.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _forked import run_isolated

from tradecore._fast.book import DEFER_MIN, NEAR, L2Book
from tradecore.book.reference import ReferenceBook

W = 4096                      # the minimum window: batches spread over it and the overflow
CENTER = 1_000_000


def _arrays(levels):
    return (np.array([s for s, _, _ in levels], dtype=np.int64),
            np.array([float(t) for _, t, _ in levels]),
            np.array([float(q) for _, _, q in levels]))


def _ladder(book: L2Book, ref: ReferenceBook, n: int, step: int = 3, lots: int = 5) -> None:
    """n bids below CENTER and n asks above it, `step` ticks apart."""
    levels = [(0, CENTER - 1 - step * i, lots) for i in range(n)]
    levels += [(1, CENTER + 1 + step * i, lots) for i in range(n)]
    book.apply_many(*_arrays(levels))
    for s, t, q in levels:
        ref.apply_ticks(s, t, q)


def _near_batch(book: L2Book, ref: ReferenceBook, levels, near: int = 8) -> None:
    book.apply_many_near(*_arrays(levels), near_levels=near, min_batch=0)
    for s, t, q in levels:
        ref.apply_ticks(s, t, q)


def _same(book: L2Book, ref: ReferenceBook, side: int, n: int) -> None:
    assert book.depth_ticks(side, n).tolist() == [list(x) for x in ref.levels(side)[:n]]


# -------------------------------------------------------------------------------------------------
# the rules, one at a time

def test_large_batch_when_applied_near_defers_its_far_levels_and_top_reads_do_not_apply_them():
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    _ladder(book, ref, 200)
    # a diff of the whole ladder: every level's size changes, two new bests, deep deletions
    batch = [(0, CENTER - 1 - 3 * i, 7) for i in range(150)] + [(0, CENTER, 2)]
    batch += [(1, CENTER + 1 + 3 * i, 0 if i > 180 else 9) for i in range(200)] + [(1, CENTER + 1 - 0, 4)]
    _near_batch(book, ref, batch)
    assert book.pending > 0
    assert book.best_ticks(0) == ref.best(0) and book.best_ticks(1) == ref.best(1)
    for side in (0, 1):
        _same(book, ref, side, 5)
    assert book.pending > 0               # the top is above the fence: nothing was needed
    assert book.bid_count == len(ref.levels(0))   # a count needs them all
    assert book.pending == 0
    for side in (0, 1):
        _same(book, ref, side, 10**6)


def test_walk_when_it_goes_below_the_fence_applies_the_deferred_levels_first():
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    _ladder(book, ref, 100)
    batch = [(0, CENTER - 1 - 3 * i, 0) for i in range(50, 100)]      # delete the deep half
    batch += [(0, CENTER - 1 - 3 * i, 8) for i in range(50)]
    _near_batch(book, ref, batch)
    assert book.pending > 0
    _same(book, ref, 0, 60)                # past the near levels, into the deleted ones
    assert book.pending == 0


def test_write_when_levels_are_deferred_lands_after_them():
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    _ladder(book, ref, 100)
    deep = CENTER - 1 - 3 * 90
    _near_batch(book, ref, [(0, deep, 11)] + [(0, CENTER - 1 - 3 * i, 6) for i in range(8)])
    assert book.pending == 1
    book.apply_ticks(0, deep, 12)         # a later update of the deferred level wins
    ref.apply_ticks(0, deep, 12)
    assert book.pending == 0
    _same(book, ref, 0, 10**6)


def test_clear_when_levels_are_deferred_drops_them():
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    _ladder(book, ref, 100)
    _near_batch(book, ref, [(0, CENTER - 1 - 3 * 90, 11), (0, CENTER - 2, 3)])
    assert book.pending == 1
    book.clear()
    assert book.pending == 0 and book.bid_count == 0 and book.ask_count == 0
    book.apply_ticks(0, 10, 1)
    assert book.depth_ticks(0, 10).tolist() == [[10, 1]]


def test_batch_when_it_removes_every_near_level_is_applied_whole_at_once():
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    _ladder(book, ref, 100)
    # the 8 best bids removed: the side's best would be a deferred level
    batch = [(0, CENTER - 1 - 3 * i, 0) for i in range(8)] + [(0, CENTER - 1 - 3 * 95, 4)]
    _near_batch(book, ref, batch)
    assert book.pending == 0
    assert book.best_ticks(0) == ref.best(0)
    _same(book, ref, 0, 10**6)


def test_batch_when_smaller_than_min_batch_or_side_is_thin_defers_nothing():
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    _ladder(book, ref, 5)                  # fewer levels than the fence's count
    book.apply_many_near(*_arrays([(0, CENTER - 10, 1), (1, CENTER + 10, 1)]), near_levels=8,
                         min_batch=0)
    assert book.pending == 0
    _ladder(book, ref, 300)
    small = [(0, CENTER - 1 - 3 * i, 2) for i in range(DEFER_MIN - 1)]
    book.apply_many_near(*_arrays(small))  # the defaults: below DEFER_MIN levels
    assert book.pending == 0
    assert NEAR >= 20                      # the detectors' default depth


def test_apply_many_near_when_arguments_are_bad_raises_and_changes_nothing():
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    _ladder(book, ref, 50)
    with pytest.raises(ValueError, match="near_levels"):
        book.apply_many_near(*_arrays([(0, CENTER - 1, 3)]), near_levels=0)
    with pytest.raises(ValueError, match="level 1"):
        book.apply_many_near(np.array([0, 0]), np.array([float(CENTER - 1), 0.5]),
                             np.array([3.0, 1.0]), near_levels=4, min_batch=0)
    assert book.pending == 0
    _same(book, ref, 0, 10**6)


# -------------------------------------------------------------------------------------------------
# random books, random batches, random reads

READS = st.one_of(
    st.tuples(st.just("top"), st.integers(0, 1), st.integers(0, 120)),
    st.tuples(st.just("best"), st.integers(0, 1)),
    st.tuples(st.just("count"), st.integers(0, 1)),
    st.tuples(st.just("fill"), st.integers(0, 1), st.integers(1, 400)),
    st.tuples(st.just("imbalance"), st.integers(1, 50)),
    st.tuples(st.just("set"), st.integers(0, 1), st.integers(-3 * W, 3 * W), st.integers(0, 9)),
    st.tuples(st.just("settle")),
)


def _tick(side: int, offset: int) -> int:
    return max(1, CENTER - offset if side == 0 else CENTER + offset)


def _deferred_vs_reference(base, batch, near, reads):
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    lv = [(s, _tick(s, o), q) for s, o, q in base]
    book.apply_many(*_arrays(lv))
    for s, t, q in lv:
        ref.apply_ticks(s, t, q)
    _near_batch(book, ref, [(s, _tick(s, o), q) for s, o, q in batch], near)
    assert book.best_ticks(0) == ref.best(0) and book.best_ticks(1) == ref.best(1)
    for op in reads:
        if op[0] == "top":
            _same(book, ref, op[1], op[2])
        elif op[0] == "best":
            assert book.best_ticks(op[1]) == ref.best(op[1])
        elif op[0] == "count":
            assert (book.bid_count, book.ask_count)[op[1]] == len(ref.levels(op[1]))
        elif op[0] == "fill":
            got, want = book.fill_price(op[1], float(op[2])), ref.fill_ticks(op[1], op[2])
            assert (got is None) == (want is None)
            if want is not None:
                assert got == pytest.approx(want, rel=1e-12)
        elif op[0] == "imbalance":
            b = sum(q for _, q in ref.levels(0)[:op[1]])
            a = sum(q for _, q in ref.levels(1)[:op[1]])
            got = book.imbalance(op[1])
            assert (got is None) == (a + b == 0)
            if a + b:
                assert got == pytest.approx((b - a) / (b + a), rel=1e-12)
        elif op[0] == "set":
            book.apply_ticks(op[1], _tick(op[1], op[2]), op[3])
            ref.apply_ticks(op[1], _tick(op[1], op[2]), op[3])
        else:
            book.settle()
            assert book.pending == 0
        assert book.best_ticks(0) == ref.best(0) and book.best_ticks(1) == ref.best(1)
    for side in (0, 1):
        _same(book, ref, side, 10**6)
    assert book.pending == 0


LEVEL = st.tuples(st.integers(0, 1),
                  st.one_of(st.integers(1, 300), st.integers(-20, 3 * W)),
                  st.integers(0, 9))


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(base=st.lists(LEVEL, min_size=30, max_size=300),
       batch=st.lists(LEVEL, min_size=1, max_size=200),
       near=st.integers(1, 12),
       reads=st.lists(READS, max_size=12))
def test_every_read_when_far_levels_are_deferred_equals_the_reference(base, batch, near, reads):
    run_isolated(_deferred_vs_reference, base, batch, near, reads)


def test_stage_reserve_when_levels_are_deferred_keeps_them_and_grows_the_room():
    """A feed reserves the stage off the path (DepthSync.start); pending far levels live in the
    stage, and reserving (which zeroes its free part) must not touch them."""
    book, ref = L2Book(tick_size=1, lot_size=1, window=W), ReferenceBook()
    _ladder(book, ref, 100)
    batch = [(0, CENTER - 1 - 3 * i, 0) for i in range(50, 100)]
    batch += [(0, CENTER - 1 - 3 * i, 8) for i in range(50)]
    _near_batch(book, ref, batch)
    pending = book.pending
    assert pending > 0
    room = book.stage_reserve(10_000)
    assert room >= 10_000 and book.stage_reserve(0) == room   # no shrinking, no regrowth
    assert book.pending == pending
    _same(book, ref, 0, 10**6)                # settles the kept levels: the reference's book
    with pytest.raises(ValueError, match="levels -1 must be >= 0"):
        book.stage_reserve(-1)
