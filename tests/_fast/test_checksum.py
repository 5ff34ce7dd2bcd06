"""The compiled checksum kernel against zlib and the plain-Python references, on the real
recorded books and on random ones."""
from __future__ import annotations

import zlib
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tradecore.data
from tradecore._fast.book import L2Book
from tradecore._fast.checksum import (crc32, kraken_checksum, kraken_checksum_text,
                                      okx_checksum, okx_checksum_text)
from tradecore.data.capture import WS, read_capture
from tradecore.venues.kraken import KrakenNormalizer
from tradecore.venues.kraken.checksum_ref import kraken_checksum_of_book
from tradecore.venues.okx import OkxNormalizer
from tradecore.venues.okx.checksum_ref import okx_checksum_of_book

SAMPLES = Path(tradecore.data.__file__).parent / "samples"


def _frames(name: str):
    return [r for r in read_capture(SAMPLES / name) if r.kind == WS]


@given(st.binary(max_size=5000), st.integers(0, 2**32 - 1))
def test_crc32_equals_zlib_when_given_any_bytes(data: bytes, start: int) -> None:
    assert crc32(data) == zlib.crc32(data)
    assert crc32(data, start) == zlib.crc32(data, start)


# -- real books ---------------------------------------------------------------------------------

def test_kraken_compiled_equals_reference_when_books_are_recorded() -> None:
    seen = []

    def check(key, book):
        pd, sd = n.wire_decimals(key)
        seen.append(kraken_checksum(book, pd, sd) == kraken_checksum_of_book(book, pd, sd))

    n = KrakenNormalizer(on_book=check)
    for r in _frames("cf_kraken_spot_20210417_5pairs.jsonl"):
        n.on_frame(r.payload, r.conn, r.ts_ns)
    assert len(seen) == 2617 + 5 and all(seen)


@pytest.mark.parametrize("name,messages", [("cf_okx_20220227_books-l2-tbt_5inst.jsonl", 2013),
                                           ("cf_okx_20220513_books_3inst.jsonl", 290)])
def test_okx_compiled_equals_reference_when_books_are_recorded(name: str, messages: int) -> None:
    seen = []
    n = OkxNormalizer(on_book=lambda key, book: seen.append(
        okx_checksum(book) == okx_checksum_of_book(book)))
    for r in _frames(name):
        n.on_frame(r.payload, r.conn, r.ts_ns)
    assert len(seen) == messages and all(seen)


# -- random books -------------------------------------------------------------------------------

def _grid_text(units: int, decimals: int) -> str:
    return format(Decimal(units).scaleb(-decimals), "f")


@st.composite
def books(draw) -> L2Book:
    """A random book on a random grid: sparse or dense, shallow or deep, either side empty."""
    book = L2Book(_grid_text(draw(st.sampled_from([1, 2, 5, 10, 25, 50])), draw(st.integers(0, 8))),
                  _grid_text(draw(st.sampled_from([1, 3, 10, 1000])), draw(st.integers(0, 10))),
                  4096)
    top = draw(st.integers(1, 2_000_000))
    for side in (0, 1):
        n = draw(st.integers(0, 40))
        gaps = draw(st.lists(st.integers(1, 3000), min_size=n, max_size=n))
        lots = draw(st.lists(st.integers(1, 10**12), min_size=n, max_size=n))
        t = top + (1 if side else 0)
        for g, q in zip(gaps, lots):
            t = t - g if side == 0 else t + g
            if t > 0:
                book.apply_ticks(side, t, q)
    return book


@settings(max_examples=150, deadline=None)
@given(books(), st.integers(0, 3), st.integers(0, 3))
def test_kraken_compiled_equals_reference_when_books_are_random(book: L2Book, extra_p: int,
                                                                extra_s: int) -> None:
    pd, sd = book.price_decimals + extra_p, book.size_decimals + extra_s
    assert kraken_checksum(book, pd, sd) == kraken_checksum_of_book(book, pd, sd)


@settings(max_examples=150, deadline=None)
@given(books())
def test_okx_compiled_equals_reference_when_books_are_random(book: L2Book) -> None:
    assert okx_checksum(book) == okx_checksum_of_book(book)


# -- edges --------------------------------------------------------------------------------------

def test_checksums_hash_empty_text_when_book_is_empty() -> None:
    book = L2Book("0.01", "0.00000001")
    assert kraken_checksum_text(book, 2, 8) == b"" and kraken_checksum(book, 2, 8) == 0
    assert okx_checksum_text(book) == b"" and okx_checksum(book) == 0


def test_okx_text_continues_one_side_when_other_side_is_shorter() -> None:
    book = L2Book("0.5", "1")
    book.apply_levels(0, [["100", "1"], ["99.5", "2"], ["99", "3"]])
    book.apply_levels(1, [["101", "4"]])
    assert okx_checksum_text(book) == b"100:1:101:4:99.5:2:99:3"


def test_kraken_text_strips_point_and_leading_zeros_when_price_below_one() -> None:
    book = L2Book("0.00000001", "0.00000001")
    book.apply_levels(1, [["0.00002290", "13355.87450757"]])
    book.apply_levels(0, [["0.00002288", "0.5"]])
    assert kraken_checksum_text(book, 9, 8) == b"22900" b"1335587450757" b"22880" b"50000000"


def test_kraken_checksum_raises_when_wire_has_fewer_decimals_than_book() -> None:
    book = L2Book("0.001", "0.00000001")
    book.apply_levels(0, [["1.001", "1"]])
    with pytest.raises(ValueError, match="more than"):
        kraken_checksum(book, 2, 8)


def test_checksum_raises_instead_of_overflowing_when_values_exceed_int64() -> None:
    book = L2Book("1", "1")
    book.apply_ticks(0, 10**17, 1)
    with pytest.raises(ValueError, match="overflows"):
        kraken_checksum(book, 3, 0)
