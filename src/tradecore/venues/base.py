"""What every venue's book normalizer shares: counters, problem reporting, and the book store.

A normalizer turns one venue's raw frames (WebSocket) and REST responses into book updates on
compiled L2Books and into Trade events. It keeps one book per (connection, symbol), because
sequence numbers are per connection. It never raises on bad input: every problem is counted
under its reason, logged once per (venue, reason), and reported to `on_problem`; the message is
dropped and the book is either unchanged or marked invalid until a snapshot resyncs it.
"""
from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections import Counter
from math import gcd
from collections.abc import Callable
from dataclasses import dataclass, field

from tradecore._fast.book import L2Book
from tradecore.core.events import Problem, Trade

log = logging.getLogger("tradecore.venues")

BookKey = tuple[str, str]     # (connection, symbol)
# (key, local ns, sequence, [(side, price text, size text), ...], is_snapshot): what was applied
LevelsHook = Callable[[BookKey, int, int, list, bool], None]


@dataclass(slots=True)
class FeedStats:
    """Counters a normalizer keeps; the metrics layer exports them, `book verify` prints them.
    Slotted: the compiled Binance steady state (jsonscan.FramePath) updates two of them per
    frame, and a slot is cheaper to reach than an instance dict."""
    messages: int = 0          # frames and REST responses handled
    levels: int = 0            # price levels applied to books
    trades: int = 0
    gaps: int = 0              # sequence breaks detected
    resyncs: int = 0           # books brought back by a snapshot after being invalid
    checksums_ok: int = 0
    checksums_bad: int = 0
    top_checks_ok: int = 0     # Binance: book top equals a bookTicker of the same update id
    top_checks_bad: int = 0
    errors: Counter = field(default_factory=Counter)   # reason -> count

    def as_dict(self) -> dict:
        return {"messages": self.messages, "levels": self.levels, "trades": self.trades,
                "gaps": self.gaps, "resyncs": self.resyncs,
                "checksums_ok": self.checksums_ok, "checksums_bad": self.checksums_bad,
                "top_checks_ok": self.top_checks_ok, "top_checks_bad": self.top_checks_bad,
                "errors": dict(self.errors)}


def _decimals(text: str) -> int:
    if not isinstance(text, str):
        raise TypeError(f"expected decimal text, got {text!r}")
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


def levels_problem(levels: object) -> str | None:
    """Why a list of exchange levels cannot be applied (shape and types only; the values are
    the book's to judge), or None."""
    if type(levels) is not list:
        return f"levels are {type(levels).__name__}, not a list"
    for lv in levels:
        if type(lv) is not list or len(lv) < 2 or type(lv[0]) is not str \
                or type(lv[1]) is not str:
            return f"level {lv!r:.80} is not [price text, size text, ...]"
    return None


def decimals_of(text: str) -> int:
    """Digits after the point in an exchange's decimal text."""
    return _decimals(text)


def grid_of(prices: list[str], sizes: list[str]) -> tuple[str, str]:
    """(tick, lot) as decimal text inferred from an exchange snapshot's level strings.

    The tick is the greatest common divisor of the prices at their finest decimal scale (a
    1000-level snapshot contains adjacent ticks near the touch); the lot is one unit of the
    finest size decimals seen, at least 1e-8. When instrument metadata is at hand it should be
    used instead; when a later message does not fit the inferred grid the book is re-gridded
    (`BookNormalizer.apply_update`) rather than rejected, because the grid was our guess, not
    the exchange's word.
    """
    pd = max((_decimals(p) for p in prices), default=0)
    sd = max(8, max((_decimals(q) for q in sizes), default=0))
    g = 0
    for p in prices:
        whole, _, frac = p.partition(".")
        g = gcd(g, int(whole + frac.ljust(pd, "0")))
        if g == 1:
            break
    tick = _text(g or 1, pd)
    return tick, _text(1, sd)


def _text(units: int, decimals: int) -> str:
    if decimals == 0:
        return str(units)
    s = str(units).rjust(decimals + 1, "0")
    return s[:-decimals] + "." + s[-decimals:]


def regrid(book: L2Book, prices: list[str], sizes: list[str]) -> L2Book | None:
    """A copy of `book` on a grid fine enough for its levels and the given texts, or None
    when no grid fits (a value too large or too precise for int64 at 1e-15)."""
    old_tick = book._tick_text()
    old_lot = book._lot_text()
    levels_p = [old_tick] + list(prices)
    for side in (0, 1):
        levels_p += [_text(int(t) * book.tick_units, book.price_decimals)
                     for t in book.depth_ticks(side, 1 << 62)[:, 0]]
    tick, lot = grid_of(levels_p, [old_lot] + list(sizes))
    try:
        new = L2Book(tick, lot, book.window)
        for side in (0, 1):
            d = book.depth_ticks(side, 1 << 62)
            new.apply_levels(side, [(_text(int(t) * book.tick_units, book.price_decimals),
                                     _text(int(q) * book.lot_units, book.size_decimals))
                                    for t, q in d])
    except (ValueError, OverflowError):
        return None
    new.valid, new.seq, new.ts_ns = book.valid, book.seq, book.ts_ns
    return new


class BookNormalizer(ABC):
    """Base of the venue normalizers; subclasses implement on_frame (and on_rest if the venue
    snapshots over REST)."""

    venue = "?"

    def __init__(self, *, on_trade: Callable[[Trade], None] | None = None,
                 on_book: Callable[[BookKey, L2Book], None] | None = None,
                 on_problem: Callable[[Problem], None] | None = None,
                 on_levels: LevelsHook | None = None,
                 stats: FeedStats | None = None) -> None:
        """on_levels, when set, receives every batch of levels applied to a book (snapshots
        and diffs, exact text): the recorder's input. It costs a list per message, so it is
        None on a trading process that does not record."""
        self.books: dict[BookKey, L2Book] = {}
        self.stats = stats if stats is not None else FeedStats()
        self.on_trade = on_trade
        self.on_book = on_book
        self.on_problem = on_problem
        self.on_levels = on_levels
        self.needs_resync: set[BookKey] = set()   # books invalid until a snapshot arrives
        self._logged: set[str] = set()

    # -- input ---------------------------------------------------------------------------------
    @abstractmethod
    def on_frame(self, data: bytes, conn: str = "ws", ts_ns: int = 0) -> None:
        """One WebSocket frame as received."""

    def on_rest(self, data: bytes, conn: str = "rest", ts_ns: int = 0, url: str = "") -> None:
        """One REST response body (a depth snapshot). Venues that snapshot over WebSocket get
        REST responses only as problems."""
        self.problem("?", "unexpected_rest", f"{self.venue} takes no REST snapshots: {url}")

    # -- shared helpers ----------------------------------------------------------------------------
    def problem(self, symbol: str, reason: str, detail: str = "") -> None:
        """Count, log once per reason, and report a problem."""
        self.stats.errors[reason] += 1
        if reason not in self._logged:
            self._logged.add(reason)
            log.warning("%s %s: %s %s (further '%s' problems are counted, not logged)",
                        self.venue, symbol, reason, detail[:200], reason)
        if self.on_problem is not None:
            self.on_problem(Problem(self.venue, symbol, reason, detail))

    def invalidate(self, key: BookKey, reason: str, detail: str = "") -> None:
        """Mark a book invalid: it is not to be traded on until a snapshot resyncs it."""
        book = self.books.get(key)
        if book is not None:
            book.valid = False
        self.needs_resync.add(key)
        self.problem(key[1], reason, detail)

    def resynced(self, key: BookKey) -> None:
        """A snapshot has been applied to a book that was invalid."""
        if key in self.needs_resync:
            self.needs_resync.discard(key)
            self.stats.resyncs += 1

    def load_snapshot(self, key: BookKey, bids: list, asks: list, seq: int = 0,
                      ts_ns: int = 0, tick: str | None = None, lot: str | None = None) -> bool:
        """Replace a book with a snapshot of decimal-text levels `[[price, size, ...], ...]`.

        The grid is the instrument's when given, else inferred from the snapshot (grid_of).
        Returns False (book left invalid) when the snapshot itself is malformed."""
        if tick is None or lot is None:
            try:
                tick, lot = grid_of([lv[0] for lv in bids] + [lv[0] for lv in asks],
                                    [lv[1] for lv in bids] + [lv[1] for lv in asks])
            except (TypeError, IndexError, ValueError, AttributeError, KeyError) as e:
                self.invalidate(key, "bad_snapshot", f"levels are not decimal text: {e!r}")
                return False
        try:
            book = L2Book(tick, lot)
            book.apply_sides(bids, asks)
        except (TypeError, IndexError, ValueError, AttributeError, KeyError) as e:
            self.invalidate(key, "bad_snapshot", repr(e))
            return False
        book.prefault()         # its window's pages now, not on the ticks to come (book.pyx)
        book.seq, book.ts_ns, book.valid = seq, ts_ns, True
        self.books[key] = book
        self.resynced(key)
        if self.on_levels is not None:
            self.on_levels(key, ts_ns, seq, [(0, lv[0], lv[1]) for lv in bids]
                           + [(1, lv[0], lv[1]) for lv in asks], True)
        self.stats.levels += len(bids) + len(asks)
        return True

    def apply_update(self, key: BookKey, book: L2Book, bids: list, asks: list) -> L2Book | None:
        """Apply one message's decimal-text levels to a book, all or nothing.

        A level that does not fit an inferred grid re-grids the book and applies again; any
        other bad level drops the message, counts it and leaves the book as it was (the
        exchange's later messages may still be consistent with it, and a sequence or checksum
        check will catch it if not). Returns the book now in use, or None if nothing applied."""
        try:
            book.apply_sides(bids, asks)
        except (TypeError, IndexError, KeyError) as e:
            self.problem(key[1], "bad_level", f"levels are not [price, size] text: {e!r}")
            return None
        except ValueError as e:
            msg = str(e)
            if "decimals than" in msg or "off the" in msg:
                try:
                    new = regrid(book, [lv[0] for lv in bids] + [lv[0] for lv in asks],
                                 [lv[1] for lv in bids] + [lv[1] for lv in asks])
                except (TypeError, IndexError, ValueError, AttributeError, KeyError):
                    new = None
                if new is not None:
                    try:
                        new.apply_sides(bids, asks)
                    except ValueError as e2:
                        self.problem(key[1], "bad_level", str(e2))
                        return None
                    self.books[key] = new
                    self.stats.levels += len(bids) + len(asks)
                    return new
            self.problem(key[1], "bad_level", msg)
            return None
        self.stats.levels += len(bids) + len(asks)
        return book

    def emit_trade(self, trade: Trade) -> None:
        self.stats.trades += 1
        if self.on_trade is not None:
            self.on_trade(trade)

    def unrecovered(self) -> list[BookKey]:
        """Books that are still invalid (a gap or checksum failure no snapshot repaired)."""
        return sorted(self.needs_resync)

    def top_of_books(self) -> dict[str, dict]:
        """Final best bid/ask per symbol (the last connection wins where one symbol has two)."""
        out: dict[str, dict] = {}
        for (conn, symbol), book in sorted(self.books.items()):
            bb, ba = book.best_bid(), book.best_ask()
            out[symbol] = {"best_bid": list(bb) if bb else None,
                           "best_ask": list(ba) if ba else None,
                           "valid": bool(book.valid)}
        return out
