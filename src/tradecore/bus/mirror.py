"""Books rebuilt from the bus: a strategy node's (and the execution node's) copy of the feed
node's L2Books.

Each book is applied strictly in its own sequence (`bseq`): a delta with bseq <= the last
applied is a duplicate (at-least-once delivery) and is dropped; a delta that skips a number
means something was lost, so the book is marked invalid and stays so until a snapshot (from
the snapshot stream, or the next one in the md stream) at least as new as that delta arrives.
A book is only handed to strategies while `valid` (never a partial book): the caller checks
the return value of `apply`.
"""
from __future__ import annotations

from dataclasses import dataclass

from tradecore._fast.book import L2Book
from tradecore.bus.codec import BookMsg, StaleMsg
from tradecore.core.instrument import Instrument

APPLIED, DUPLICATE, GAP, WAITING = "applied", "duplicate", "gap", "waiting"


@dataclass
class _State:
    book: L2Book | None = None    # None until the first full book
    grid: tuple[str, str] = ("", "")
    bseq: int = 0                 # last applied
    synced: bool = False          # has a base (a snapshot or full book, then every delta)
    need: int = 0                 # newest delta dropped while not synced: a snapshot must hold it


class BookMirror:
    """The books of the configured instruments. Each book has the publisher's grid (the tick
    and lot texts in every message): the feed's normalizer picks the grid from the exchange's
    own decimals, which may be finer than the instrument's, and the paper venue converts."""

    def __init__(self, instruments: dict[tuple[str, str], Instrument]) -> None:
        self.books: dict[tuple[str, str], _State] = {key: _State() for key in instruments}
        self.counts = {APPLIED: 0, DUPLICATE: 0, GAP: 0, WAITING: 0}

    def book(self, key: tuple[str, str]) -> L2Book | None:
        st = self.books.get(key)
        return st.book if st is not None else None

    def apply(self, m: BookMsg) -> str:
        """APPLIED (the book changed and is whole), DUPLICATE (dropped), GAP (just lost: the
        book is now invalid and needs a snapshot) or WAITING (still waiting for one)."""
        st = self.books.get((m.venue, m.symbol))
        if st is None:
            raise KeyError(f"book {m.venue}:{m.symbol} is not a configured instrument")
        if m.snapshot:
            if st.synced and m.bseq <= st.bseq:
                self.counts[DUPLICATE] += 1
                return DUPLICATE
            if m.bseq < st.need:
                # older than a delta already dropped: applying it would show a book that is
                # whole but old; wait for a newer one
                self.counts[WAITING] += 1
                return WAITING
            if st.book is None or st.grid != (m.tick, m.lot):
                st.book = L2Book(m.tick, m.lot)        # a new object: holders re-attach
                st.grid = (m.tick, m.lot)
            else:
                st.book.clear()
            self._levels(st.book, m)
        else:
            if m.bseq <= st.bseq:
                self.counts[DUPLICATE] += 1
                return DUPLICATE
            if not st.synced or m.bseq != st.bseq + 1 or st.grid != (m.tick, m.lot):
                out = GAP if st.synced else WAITING
                st.synced = False
                st.need = max(st.need, m.bseq)
                if st.book is not None:
                    st.book.valid = False
                self.counts[out] += 1
                return out
            self._levels(st.book, m)
        st.bseq = m.bseq
        st.synced = True
        b = st.book
        b.valid = m.valid
        b.seq = m.xseq
        b.ts_ns = m.ts_ns
        self.counts[APPLIED] += 1
        return APPLIED

    @staticmethod
    def _levels(b: L2Book, m: BookMsg) -> None:
        put = b.apply_ticks
        for side, lv in ((0, m.bids), (1, m.asks)):
            for t, q in lv.tolist():
                put(side, t, q)

    def stale(self, m: StaleMsg) -> bool:
        """The feed says this book is lost; True if it was one of ours."""
        st = self.books.get((m.venue, m.symbol))
        if st is None or st.book is None:
            return False
        st.book.valid = False
        return True

    def mark_all_stale(self) -> list[tuple[str, str]]:
        """The bus is down: no book can be trusted to be current."""
        out = []
        for key, st in self.books.items():
            if st.book is not None and st.book.valid:
                st.book.valid = False
                out.append(key)
        return out

    def needs_snapshot(self) -> list[tuple[str, str]]:
        return [k for k, st in self.books.items() if not st.synced]
