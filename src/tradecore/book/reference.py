"""A plain-Python L2 book: the slow, obviously right reference the compiled book is tested
against. Levels are dicts keyed by integer ticks; everything else is sorting on read."""
from __future__ import annotations


class ReferenceBook:
    """Same semantics as tradecore._fast.book.L2Book, on integer ticks and lots."""

    def __init__(self) -> None:
        self.sides: tuple[dict[int, int], dict[int, int]] = ({}, {})

    def apply_ticks(self, side: int, ticks: int, lots: int) -> None:
        if lots == 0:
            self.sides[side].pop(ticks, None)
        else:
            self.sides[side][ticks] = lots

    def clear(self) -> None:
        self.sides[0].clear()
        self.sides[1].clear()

    def levels(self, side: int) -> list[tuple[int, int]]:
        """All levels of a side, best first."""
        return sorted(self.sides[side].items(), reverse=(side == 0))

    def best(self, side: int) -> tuple[int, int] | None:
        lv = self.levels(side)
        return lv[0] if lv else None

    def truncate(self, max_levels: int) -> None:
        for side in (0, 1):
            keep = dict(self.levels(side)[:max_levels])
            self.sides[side].clear()
            self.sides[side].update(keep)

    def fill_ticks(self, side: int, lots: float) -> float | None:
        """Average price in ticks to take `lots` from a side."""
        rem, notional = lots, 0.0
        for t, q in self.levels(side):
            take = min(q, rem)
            notional += take * t
            rem -= take
            if rem <= 0:
                return notional / lots
        return None

    def is_crossed(self) -> bool:
        b, a = self.best(0), self.best(1)
        return b is not None and a is not None and b[0] >= a[0]
