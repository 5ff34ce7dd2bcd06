"""OKX v5 book checksum in plain Python: the slow, obviously right version that the compiled
`tradecore._fast.checksum.okx_checksum` is tested against.

It works on the exchange's own level strings, so it can also check a book kept as received text.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from decimal import Decimal

from tradecore._fast.book import L2Book

LEVELS = 25

Level = Sequence[str]      # (price, size, ...) as OKX sends them


def okx_checksum_ref(bids: Sequence[Level], asks: Sequence[Level]) -> int:
    """Signed 32-bit CRC32 of bid0:ask0:bid1:ask1:... over the top 25 levels per side, each as
    "price:size"; when one side runs out the other side's levels continue alone. Levels are
    given best first, as OKX's text."""
    bids, asks = bids[:LEVELS], asks[:LEVELS]
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts.append(f"{bids[i][0]}:{bids[i][1]}")
        if i < len(asks):
            parts.append(f"{asks[i][0]}:{asks[i][1]}")
    crc = zlib.crc32(":".join(parts).encode("ascii"))
    return crc - (1 << 32) if crc >= 1 << 31 else crc


def trimmed_text(units: int, decimals: int) -> str:
    """An int count of 10**-decimals as OKX prints numbers: no trailing zeros, no bare point."""
    d = Decimal(units).scaleb(-decimals).normalize()
    return format(d, "f")


def book_levels(book: L2Book, side: int, n: int) -> list[tuple[str, str]]:
    """The best n levels of a book side as OKX would print them, using only Python ints."""
    return [(trimmed_text(int(t) * book.tick_units, book.price_decimals),
             trimmed_text(int(q) * book.lot_units, book.size_decimals))
            for t, q in book.depth_ticks(side, n)]


def okx_checksum_of_book(book: L2Book) -> int:
    """okx_checksum_ref of an L2Book's top levels."""
    return okx_checksum_ref(book_levels(book, 0, LEVELS), book_levels(book, 1, LEVELS))
