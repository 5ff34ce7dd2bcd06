"""Fixtures for the venue normalizer tests: the bundled real recordings, read once."""
from __future__ import annotations

import heapq
from decimal import Decimal
from pathlib import Path

import pytest

import tradecore.data
from tradecore.data.capture import WS, CaptureRecord, read_capture

SAMPLES = Path(tradecore.data.__file__).parent / "samples"

KRAKEN_SPOT = "cf_kraken_spot_20210417_5pairs.jsonl"
OKX_TBT = "cf_okx_20220227_books-l2-tbt_5inst.jsonl"
OKX_BOOKS = "cf_okx_20220513_books_3inst.jsonl"

_cache: dict[str, list[CaptureRecord]] = {}


def ws_records(name: str) -> list[CaptureRecord]:
    """The received WebSocket frames of a bundled capture, in order (cached per session)."""
    if name not in _cache:
        path = SAMPLES / name
        if not path.exists():
            pytest.fail(f"bundled sample {path} is missing")
        _cache[name] = [r for r in read_capture(path) if r.kind == WS]
    return _cache[name]


@pytest.fixture
def kraken_records() -> list[CaptureRecord]:
    return ws_records(KRAKEN_SPOT)


@pytest.fixture
def okx_tbt_records() -> list[CaptureRecord]:
    return ws_records(OKX_TBT)


@pytest.fixture
def okx_books_records() -> list[CaptureRecord]:
    return ws_records(OKX_BOOKS)


class TextBook:
    """A book kept as the exchange's own level text, keyed by exact Decimal price: the
    independent oracle the compiled book and the reference checksums are held against."""

    def __init__(self) -> None:
        self.sides: tuple[dict, dict] = ({}, {})      # 0 bids, 1 asks: Decimal -> (price, size)

    def set(self, side: int, price: str, size: str) -> None:
        key = Decimal(price)
        if Decimal(size) == 0:
            self.sides[side].pop(key, None)
        else:
            self.sides[side][key] = (price, size)

    def _best_keys(self, side: int, n: int) -> list:
        return (heapq.nlargest if side == 0 else heapq.nsmallest)(n, self.sides[side])

    def top(self, side: int, n: int) -> list[tuple[str, str]]:
        """The best n levels of a side, best first, as received text."""
        return [self.sides[side][k] for k in self._best_keys(side, n)]

    def truncate(self, depth: int) -> None:
        for side in (0, 1):
            if len(self.sides[side]) > depth:
                keep = set(self._best_keys(side, depth))
                for k in [k for k in self.sides[side] if k not in keep]:
                    del self.sides[side][k]


@pytest.fixture
def text_book() -> type[TextBook]:
    """The TextBook class (a fixture, because test modules must not import conftest)."""
    return TextBook
