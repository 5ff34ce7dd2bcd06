"""Kraken spot v1 book checksum in plain Python: the slow, obviously right version that the
compiled `tradecore._fast.checksum.kraken_checksum` is tested against.

It works on the exchange's own level strings, so it can also check a book kept as received text.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence

from tradecore._fast.book import L2Book

LEVELS = 10

Level = Sequence[str]      # (price, volume, ...) as Kraken sends them


def _digits(text: str) -> str:
    return text.replace(".", "").lstrip("0")


def kraken_checksum_ref(asks: Sequence[Level], bids: Sequence[Level]) -> int:
    """Unsigned CRC32 of the top 10 asks (ascending) then the top 10 bids (descending), each
    level as price then volume with '.' removed and leading zeros stripped. Levels are given
    best first, as text at the pair's wire decimals."""
    text = "".join(_digits(lv[0]) + _digits(lv[1]) for lv in [*asks[:LEVELS], *bids[:LEVELS]])
    return zlib.crc32(text.encode("ascii"))


def units_text(units: int, decimals: int) -> str:
    """An int count of 10**-decimals as fixed decimal text ("354.15000000")."""
    if decimals == 0:
        return str(units)
    s = str(units).rjust(decimals + 1, "0")
    return f"{s[:-decimals]}.{s[-decimals:]}"


def book_levels(book: L2Book, side: int, n: int, price_wire_decimals: int,
                size_wire_decimals: int) -> list[tuple[str, str]]:
    """The best n levels of a book side as Kraken would print them, using only Python ints."""
    if price_wire_decimals < book.price_decimals or size_wire_decimals < book.size_decimals:
        raise ValueError("the book holds more decimals than the wire")
    ps = book.tick_units * 10 ** (price_wire_decimals - book.price_decimals)
    ss = book.lot_units * 10 ** (size_wire_decimals - book.size_decimals)
    return [(units_text(int(t) * ps, price_wire_decimals),
             units_text(int(q) * ss, size_wire_decimals))
            for t, q in book.depth_ticks(side, n)]


def kraken_checksum_of_book(book: L2Book, price_wire_decimals: int,
                            size_wire_decimals: int) -> int:
    """kraken_checksum_ref of an L2Book's top levels."""
    return kraken_checksum_ref(
        book_levels(book, 1, LEVELS, price_wire_decimals, size_wire_decimals),
        book_levels(book, 0, LEVELS, price_wire_decimals, size_wire_decimals))
