"""Bad input to the compiled L2 book: every bad price, size, side, array or text raises a
ValueError whose message names the problem (and, in a batch, the level), and leaves the book
exactly as it was: both sides level by level (window and deep overflow), the cached touch,
the counts and the `valid` flag.

Tests that feed input which is known to make the kernel read or write out of bounds run in a
forked child (_forked.run_isolated) so that a crash fails the test, not the run.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from _forked import run_isolated

from tradecore._fast.book import L2Book
from tradecore.book.reference import ReferenceBook

NAN, INF = math.nan, math.inf
ALL = 10**9


# -------------------------------------------------------------------------------------------------
# helpers

def make_book(tick="0.01", lot="0.00000001") -> L2Book:
    """A book at the minimum window with levels at the touch, deeper in the window and in the
    deep overflow of both sides (more than a window away from the touch)."""
    b = L2Book(tick_size=tick, lot_size=lot, window=4096)
    # in ticks and lots, so that any grid works; at tick 0.01: bids 100.00, 99.99, 99.50, 50.00
    # and asks 100.01, 100.02, 150.00, 200.00
    for t, q in ((10_000, 150), (9_999, 200), (9_950, 25), (5_000, 700)):
        b.apply_ticks(0, t, q)
    for t, q in ((10_001, 100), (10_002, 300), (15_000, 50), (20_000, 900)):
        b.apply_ticks(1, t, q)
    b.valid = False
    return b


def state(b: L2Book):
    """Everything a rejected update must leave as it was."""
    return (b.depth_ticks(0, ALL).tolist(), b.depth_ticks(1, ALL).tolist(), b.best_bid(),
            b.best_ask(), b.bid_count, b.ask_count, b.mid(), b.valid)


def assert_rejected(b: L2Book, call, *words: str) -> str:
    """call() raises ValueError naming every one of `words`, and the book is unchanged."""
    before = state(b)
    with pytest.raises(ValueError) as info:
        call()
    msg = str(info.value)
    for w in words:
        assert w in msg, f"the message {msg!r} does not name {w!r}"
    assert state(b) == before, "a rejected update changed the book"
    return msg


def untouched_copy(b: L2Book) -> ReferenceBook:
    ref = ReferenceBook()
    for side in (0, 1):
        for t, q in b.depth_ticks(side, ALL).tolist():
            ref.apply_ticks(side, t, q)
    return ref


# -------------------------------------------------------------------------------------------------
# apply (float price and size)

@pytest.mark.parametrize("size", [NAN, INF, -INF, -1.0, -1e-8, -0.5])
def test_apply_when_size_is_nan_inf_or_negative_raises_and_leaves_book_unchanged(size):
    b = make_book()
    assert_rejected(b, lambda: b.apply(0, 100.0, size), "size")
    assert_rejected(b, lambda: b.apply(1, 100.01, size), "size")


@pytest.mark.parametrize("price", [0.0, -0.0, -1.0, -100.0, NAN, INF, -INF])
def test_apply_when_price_is_zero_negative_nan_or_inf_raises_and_leaves_book_unchanged(price):
    b = make_book()
    assert_rejected(b, lambda: b.apply(0, price, 1.0), "price")
    assert_rejected(b, lambda: b.apply(1, price, 0.0), "price")


@pytest.mark.parametrize("price", [1e-9, 5e-324])
def test_apply_when_price_is_positive_but_rounds_to_zero_ticks_raises(price):
    # 1e-9 is 1e-7 of a 0.01 tick: within the grid tolerance of tick 0, which is not a price
    b = make_book()
    assert_rejected(b, lambda: b.apply(0, price, 1.0), "price")
    assert_rejected(b, lambda: b.apply(1, price, 1.0), "price")


@pytest.mark.parametrize("price", [1e-9])
def test_price_to_ticks_when_price_rounds_to_zero_ticks_raises(price):
    b = make_book()
    with pytest.raises(ValueError, match="price"):
        b.price_to_ticks(price)


@pytest.mark.parametrize("tick,price", [("0.01", 100.005), ("0.01", 100.001), ("0.01", 99.999),
                                        ("0.01", 0.004), ("0.5", 100.25), ("5", 102.0),
                                        (1e-8, 1.000000001e-3)])
def test_apply_when_price_is_off_the_tick_grid_raises_and_leaves_book_unchanged(tick, price):
    b = make_book(tick=tick)
    assert_rejected(b, lambda: b.apply(0, price, 1.0), "price", "tick grid")


@pytest.mark.parametrize("lot,size", [("0.00000001", 1.000000001), ("0.001", 1.0005),
                                      ("1", 2.5), (0.5, 0.75)])
def test_apply_when_size_is_off_the_lot_grid_raises_and_leaves_book_unchanged(lot, size):
    b = make_book(lot=lot)
    assert_rejected(b, lambda: b.apply(1, 100.01, size), "size", "lot grid")


@pytest.mark.parametrize("side", [-1, 2, 3, 255, -(2**31)])
def test_apply_when_side_is_not_0_or_1_raises_and_leaves_book_unchanged(side):
    b = make_book()
    assert_rejected(b, lambda: b.apply(side, 100.0, 1.0), "side")
    assert_rejected(b, lambda: b.apply_ticks(side, 10000, 1), "side")


def test_apply_when_price_is_too_large_for_the_tick_raises_and_leaves_book_unchanged():
    b = make_book()
    assert_rejected(b, lambda: b.apply(0, 1e17, 1.0), "price", "too large")
    assert_rejected(b, lambda: b.apply(0, 1e300, 1.0), "price", "too large")


def test_apply_when_size_is_too_large_for_the_lot_raises_and_leaves_book_unchanged():
    b = make_book()
    assert_rejected(b, lambda: b.apply(0, 100.0, 1e11), "size", "too large")
    assert_rejected(b, lambda: b.apply(1, 100.01, 1e300), "size", "too large")


def test_apply_when_ticks_times_tick_units_overflow_int64_rejects_or_keeps_exact_price():
    # tick 0.5 = 5 units of 0.1: 4e18 is 8e18 ticks (under the 9e18-tick limit) but 4e19 units,
    # which do not fit the int64 that converts ticks back to a price
    b = L2Book(tick_size="0.5", lot_size="1", window=4096)
    try:
        b.apply(0, 4e18, 1.0)
    except ValueError as e:
        assert "price" in str(e) and b.bid_count == 0
    else:
        assert b.best_bid() == (4e18, 1.0), f"best_bid() = {b.best_bid()!r}, want (4e+18, 1.0)"


def test_apply_when_lots_times_lot_units_overflow_int64_rejects_or_keeps_exact_size():
    b = L2Book(tick_size="0.01", lot_size="0.5", window=4096)
    try:
        b.apply(0, 100.0, 4e18)
    except ValueError as e:
        assert "size" in str(e) and b.bid_count == 0
    else:
        assert b.best_bid() == (100.0, 4e18), f"best_bid() = {b.best_bid()!r}, want (100.0, 4e+18)"


@pytest.mark.parametrize("ticks,lots,word", [(0, 1, "ticks"), (-5, 1, "ticks"),
                                             (-(2**63), 0, "ticks"), (10000, -1, "lots")])
def test_apply_ticks_when_ticks_not_positive_or_lots_negative_raises_and_leaves_book_unchanged(
        ticks, lots, word):
    b = make_book()
    assert_rejected(b, lambda: b.apply_ticks(0, ticks, lots), word)
    assert_rejected(b, lambda: b.apply_ticks(1, ticks, lots), word)


# -------------------------------------------------------------------------------------------------
# prices near the int64 limit (key arithmetic: base = key - 3/4 window)

def test_apply_levels_when_ask_price_is_near_int64_max_rejects_or_keeps_asks_in_order():
    # ticks 2**63 - 1 at tick 1: the ask side's window base, -ticks - 3072, is below INT64_MIN
    b = L2Book(tick_size="1", lot_size="1", window=4096)
    try:
        b.apply_levels(1, [["9223372036854775807", "1"]])
    except ValueError as e:
        assert "price" in str(e) and b.ask_count == 0
        return
    b.apply_levels(1, [["1", "2"]])
    assert b.depth_ticks(1, ALL).tolist() == [[1, 2], [2**63 - 1, 1]]
    assert b.best_ticks(1) == (1, 2)


def test_apply_ticks_when_ask_ticks_are_near_int64_max_rejects_or_keeps_asks_in_order():
    b = L2Book(tick_size="1", lot_size="1", window=4096)
    try:
        b.apply_ticks(1, 2**63 - 3071, 1)
    except ValueError as e:
        assert "ticks" in str(e) and b.ask_count == 0
        return
    b.apply_ticks(1, 1, 2)
    assert b.best_ticks(1) == (1, 2), f"best ask {b.best_ticks(1)}, want (1, 2)"


# -------------------------------------------------------------------------------------------------
# apply_many (arrays)

GOOD = [  # real changes, so that "unchanged" means something
    (0, 100.05, 1.0),      # a new best bid
    (0, 99.99, 0.0),       # a delete of a window level
    (1, 10.00, 1.0),       # an ask far below the asks: the window re-centres
]
GOOD_AFTER = [
    (0, 20.00, 1.0),       # a deep bid: overflow insert
    (1, 200.00, 0.0),      # a delete in the ask overflow
    (0, 100.00, 5.0),      # an update of the old touch
]


@pytest.mark.parametrize("bad,words", [
    ((0, 100.0, NAN), ["size"]),
    ((0, 100.0, INF), ["size"]),
    ((1, 100.01, -1.0), ["size"]),
    ((0, 0.0, 1.0), ["price"]),
    ((1, -100.0, 1.0), ["price"]),
    ((0, NAN, 1.0), ["price"]),
    ((1, INF, 1.0), ["price"]),
    ((0, 100.005, 1.0), ["price", "tick grid"]),
    ((1, 100.01, 1.000000001), ["size", "lot grid"]),
    ((2, 100.0, 1.0), ["side"]),
    ((-1, 100.0, 1.0), ["side"]),
    ((0, 1e17, 1.0), ["price", "too large"]),
    ((0, 100.0, 1e11), ["size", "too large"]),
    ((0, 1e-9, 1.0), ["price"]),
], ids=lambda x: repr(x))
def test_apply_many_when_one_level_in_the_middle_is_bad_raises_naming_its_index_and_leaves_book_unchanged(
        bad, words):
    b = make_book()
    levels = GOOD + [bad] + GOOD_AFTER
    sides, prices, sizes = (np.array(c) for c in zip(*levels))
    assert_rejected(b, lambda: b.apply_many(sides.astype(np.int64), prices, sizes),
                    "level 3", *words)


def test_apply_many_when_a_batch_was_rejected_the_next_batch_applies_alone():
    b = make_book()
    ref = untouched_copy(b)
    with pytest.raises(ValueError):
        b.apply_many(np.array([0, 0, 0]), np.array([100.05, 100.06, NAN]), np.array([1.0] * 3))
    b.apply_many(np.array([1]), np.array([100.03]), np.array([2.0]))
    ref.apply_ticks(1, 10003, 200_000_000)
    for side in (0, 1):
        assert [tuple(x) for x in b.depth_ticks(side, ALL).tolist()] == ref.levels(side)


@pytest.mark.parametrize("n_sides,n_prices,n_sizes", [(3, 2, 3), (3, 3, 2), (2, 3, 3), (0, 1, 1),
                                                      (1, 0, 0)])
def test_apply_many_when_array_lengths_differ_raises_and_leaves_book_unchanged(
        n_sides, n_prices, n_sizes):
    b = make_book()
    msg = assert_rejected(b, lambda: b.apply_many(np.zeros(n_sides, np.int64),
                                                  np.full(n_prices, 100.05),
                                                  np.full(n_sizes, 1.0)),
                          "differ in length")
    assert f"({n_sides}, {n_prices}, {n_sizes})" in msg


@pytest.mark.parametrize("sides", [np.array([0.0, 1.0]), np.array([True, False]),
                                   np.array(["0", "1"]), np.array([0, None], dtype=object),
                                   np.array([0j, 1j]), [0.0, 1.0]],
                         ids=["float64", "bool", "str", "object", "complex", "float list"])
def test_apply_many_when_sides_are_not_integers_raises_and_leaves_book_unchanged(sides):
    b = make_book()
    assert_rejected(b, lambda: b.apply_many(sides, [100.05, 100.06], [1.0, 1.0]),
                    "sides must be integers")


def test_apply_many_when_prices_are_not_numbers_raises_and_leaves_book_unchanged():
    b = make_book()
    assert_rejected(b, lambda: b.apply_many([0, 0], ["abc", "100.05"], [1.0, 1.0]), "float")


def test_apply_many_when_arrays_are_not_one_dimensional_raises_and_leaves_book_unchanged():
    b = make_book()
    assert_rejected(b, lambda: b.apply_many(np.zeros((2, 2), np.int64), np.full(4, 100.05),
                                            np.ones(4)), "dimensions")
    assert_rejected(b, lambda: b.apply_many(np.zeros(2, np.int64), np.full((2, 1), 100.05),
                                            np.ones(2)), "dimensions")


# -------------------------------------------------------------------------------------------------
# load_snapshot

def test_load_snapshot_when_one_level_is_bad_raises_naming_it_and_leaves_book_and_valid_unchanged():
    b = make_book()                                       # valid is False
    assert_rejected(b, lambda: b.load_snapshot([101.0, 100.5], [1.0, 2.0],
                                               [101.01, 101.015], [1.0, 1.0]),
                    "level 3", "price", "tick grid")
    assert b.valid is False


def test_load_snapshot_when_bid_prices_and_sizes_differ_in_length_raises():
    # 3 bid prices with 2 bid sizes and 2 ask prices with 3 ask sizes: the concatenations have
    # the same length, so without a per-side check every size after the first bids shifts by one
    b = make_book()
    assert_rejected(b, lambda: b.load_snapshot([101.0, 100.99, 100.98], [1.0, 2.0],
                                               [101.01, 101.02], [3.0, 4.0, 5.0]),
                    "length")


def test_load_snapshot_when_ask_prices_and_sizes_differ_in_length_raises():
    b = make_book()
    assert_rejected(b, lambda: b.load_snapshot([101.0], [1.0], [101.01, 101.02], [3.0]), "length")


# -------------------------------------------------------------------------------------------------
# apply_levels / apply_sides / apply_records (decimal text)

@pytest.mark.parametrize("level", [[100.05, 1.0], ["100.05", 1.0], [100.05, "1"],
                                   [b"100.05", "1"], ["100.05", b"1"], [None, None],
                                   [bytearray(b"100.05"), bytearray(b"1")]],
                         ids=repr)
def test_apply_levels_when_a_level_is_not_text_raises_naming_it_and_leaves_book_unchanged(level):
    b = make_book()
    levels = [["100.05", "1"], ["99.99", "0"], level, ["100.06", "1"]]
    assert_rejected(b, lambda: b.apply_levels(0, levels), "level 2", "decimal text")


@pytest.mark.parametrize("level", [["100.05"], ()], ids=repr)
def test_apply_levels_when_a_level_has_fewer_than_two_items_raises_and_leaves_book_unchanged(
        level):
    # a release build compiles without bounds checks: lvl[1] of a 1-item list must not read
    # past the list (it may crash, or take whatever object lies there as the size)
    def body():
        b = make_book()
        assert_rejected(b, lambda: b.apply_levels(0, [["100.05", "1"], level]), "level 1")
        assert_rejected(b, lambda: b.apply_sides([], [["100.05", "1"], level]), "level 1")
    run_isolated(body)


def test_apply_sides_when_an_ask_after_good_bids_is_bad_raises_naming_it_and_leaves_book_unchanged():
    b = make_book()
    msg = assert_rejected(b, lambda: b.apply_sides([["100.05", "1"], ["99.99", "0"]],
                                                   [["100.03", "1"], ["100.035", "1"]]),
                          "level 3", "ask", "price")
    assert "100.035" in msg


def test_apply_records_when_a_record_is_bad_raises_naming_it_and_leaves_book_unchanged():
    b = make_book()
    recs = [{"side": "bid", "price_level": "100.05", "new_quantity": "1"},
            {"side": "offer", "price_level": "100.03", "new_quantity": "-2"}]
    assert_rejected(b, lambda: b.apply_records(recs, "side", "price_level", "new_quantity", "bid"),
                    "level 1", "size is negative")


MALFORMED = ["1.2.3", "", "abc", "1e5", "1E5", "5e-3", " 100.05", "100.05 ", "1,5", ".", "+",
             "-", "nan", "inf", "0x10", "100.05\x00", "１００", "1_000", "1-"]


@pytest.mark.parametrize("text", MALFORMED, ids=repr)
def test_apply_levels_when_price_text_is_malformed_raises_and_leaves_book_unchanged(text):
    b = make_book()
    assert_rejected(b, lambda: b.apply_levels(0, [["100.05", "1"], [text, "1"]]),
                    "level 1", "price is not a plain decimal number")
    assert_rejected(b, lambda: b.apply_levels(1, [["100.05", "1"], [text.encode(), b"1"]]),
                    "level 1", "price is not a plain decimal number")


@pytest.mark.parametrize("text", MALFORMED, ids=repr)
def test_apply_levels_when_size_text_is_malformed_raises_and_leaves_book_unchanged(text):
    b = make_book()
    assert_rejected(b, lambda: b.apply_levels(1, [["100.05", "1"], ["100.06", text]]),
                    "level 1", "size is not a plain decimal number")


@pytest.mark.parametrize("text", ["-1", "-0.01", "-100.05", "-0"])
def test_apply_levels_when_text_is_negative_raises_and_leaves_book_unchanged(text):
    b = make_book()
    assert_rejected(b, lambda: b.apply_levels(0, [[text, "1"]]), "level 0", "price is negative")
    assert_rejected(b, lambda: b.apply_levels(0, [["100.05", text]]), "level 0",
                    "size is negative")


@pytest.mark.parametrize("text", ["0", "0.00", "0.000000", "+0", "000"])
def test_apply_levels_when_price_text_is_zero_raises_and_leaves_book_unchanged(text):
    b = make_book()
    assert_rejected(b, lambda: b.apply_levels(1, [["100.05", "1"], [text, "1"]]),
                    "level 1", "price is not positive")


@pytest.mark.parametrize("price,size,words", [
    ("100.001", "1", ["price has more decimals"]),
    ("100.0500001", "1", ["price has more decimals"]),
    ("100.05", "1.000000001", ["size has more decimals"]),
    ("100.05", "0.0000000050", ["size has more decimals"]),
])
def test_apply_levels_when_text_has_too_many_decimals_raises_and_leaves_book_unchanged(
        price, size, words):
    b = make_book()
    assert_rejected(b, lambda: b.apply_levels(0, [["100.05", "1"], [price, size]]), "level 1",
                    *words)


def test_apply_levels_when_text_has_extra_trailing_zeros_accepts_it():
    b = make_book()
    b.apply_levels(0, [["100.0500000000", "1.00000000000000"]])
    assert b.best_ticks(0) == (10005, 100_000_000)


@pytest.mark.parametrize("price,size,words", [
    ("99999999999999999999", "1", ["price is too large"]),
    ("92233720368547758.08", "1", ["price is too large"]),        # INT64_MAX + 1 hundredths
    ("100.05", "99999999999999999999", ["size is too large"]),
    ("100.05", "92233720368.54775808", ["size is too large"]),   # INT64_MAX + 1 lots of 1e-8
])
def test_apply_levels_when_text_overflows_int64_raises_and_leaves_book_unchanged(
        price, size, words):
    b = make_book()
    assert_rejected(b, lambda: b.apply_levels(1, [["100.05", "1"], [price, size]]), "level 1",
                    *words)


def test_apply_levels_when_price_text_is_off_the_tick_grid_raises_and_leaves_book_unchanged():
    b = make_book(tick="0.5")
    assert_rejected(b, lambda: b.apply_levels(0, [["100.5", "1"], ["100.3", "1"]]), "level 1",
                    "price is off the tick grid")


def test_apply_levels_when_size_text_is_off_the_lot_grid_raises_and_leaves_book_unchanged():
    b = make_book(lot="0.005")
    assert_rejected(b, lambda: b.apply_levels(0, [["100.05", "1.005"], ["100.06", "1.002"]]),
                    "level 1", "size is off the lot grid")


@pytest.mark.parametrize("side", [-1, 2, 7])
def test_apply_levels_when_side_is_not_0_or_1_raises_and_leaves_book_unchanged(side):
    b = make_book()
    assert_rejected(b, lambda: b.apply_levels(side, [["100.05", "1"]]), f"side {side}",
                    "must be 0 (bid) or 1 (ask)")
    assert_rejected(b, lambda: b.apply_levels(side, []), f"side {side}")


# -------------------------------------------------------------------------------------------------
# construction

@pytest.mark.parametrize("step", [0, 0.0, -0.01, -1, NAN, INF, -INF, "0", "0.000", "-0.01",
                                  "nan", "inf", "-inf", 1e-16, "0.0000000000000001"], ids=repr)
def test_construct_when_tick_size_is_not_a_positive_finite_decimal_of_15_places_raises(step):
    with pytest.raises(ValueError, match="tick_size"):
        L2Book(tick_size=step)


@pytest.mark.parametrize("step", [0, -0.01, NAN, INF, "0", "-1", "nan", 1e-16], ids=repr)
def test_construct_when_lot_size_is_not_a_positive_finite_decimal_of_15_places_raises(step):
    with pytest.raises(ValueError, match="lot_size"):
        L2Book(lot_size=step)


@pytest.mark.parametrize("step", ["abc", "0.0.1"], ids=repr)
def test_construct_when_tick_size_text_is_malformed_raises_value_error(step):
    # decimal.InvalidOperation is an ArithmeticError, not a ValueError
    with pytest.raises(ValueError, match="tick_size"):
        L2Book(tick_size=step)


@pytest.mark.parametrize("step", ["1e20", 1e30], ids=repr)
def test_construct_when_tick_size_does_not_fit_int64_raises_value_error(step):
    with pytest.raises(ValueError, match="tick_size"):
        L2Book(tick_size=step)


@pytest.mark.parametrize("window", [0, 1, 2048, 4095, 4097, 5000, 6144, 3 * 4096, -4096])
def test_construct_when_window_is_not_a_power_of_two_of_at_least_4096_raises(window):
    with pytest.raises(ValueError, match="power of two"):
        L2Book(window=window)


@pytest.mark.parametrize("window", [4096, 8192, 65536])
def test_construct_when_window_is_a_power_of_two_of_at_least_4096_accepts_it(window):
    assert L2Book(window=window).window == window


# -------------------------------------------------------------------------------------------------
# reads with bad arguments

@pytest.mark.parametrize("call,words", [
    (lambda b: b.fill_price(2, 1.0), ["side"]),
    (lambda b: b.fill_price(-1, 1.0), ["side"]),
    (lambda b: b.fill_price(0, 0.0), ["size"]),
    (lambda b: b.fill_price(1, -1.0), ["size"]),
    (lambda b: b.fill_price(1, NAN), ["size"]),
    (lambda b: b.fill_price(1, INF), ["size"]),
    (lambda b: b.depth(-1), ["n"]),
    (lambda b: b.depth_ticks(2, 5), ["side"]),
    (lambda b: b.best_ticks(-1), ["side"]),
    (lambda b: b.imbalance(0), ["n"]),
    (lambda b: b.truncate(-1), ["max_levels"]),
], ids=["fill side 2", "fill side -1", "fill size 0", "fill size -1", "fill size nan",
        "fill size inf", "depth -1", "depth_ticks side 2", "best_ticks side -1", "imbalance 0",
        "truncate -1"])
def test_read_when_argument_is_invalid_raises_and_leaves_book_unchanged(call, words):
    b = make_book()
    assert_rejected(b, lambda: call(b), *words)
