"""Kraken spot WebSocket v1 frames -> L2Books and Trades, every book update proven by Kraken's
own CRC32 checksum.

Kraken publishes no sequence numbers on the v1 book channel; the checksum in each update is
the only proof that our book is the exchange's, so it is verified after every update and a
mismatch invalidates the book until the next snapshot (which Kraken sends on resubscribe).

Wire format (book-N, N = subscribed depth):
  snapshot  [chanId, {"as": [[price, volume, time], ...], "bs": [...]}, "book-N", pair]
  update    [chanId, {"a": [...]}, "book-N", pair] or with {"b": [...]}, or both sides as two
            dicts in one message; "c" (checksum, decimal text) is in the last dict; a level
            may carry a 4th element "r" (republish: a level coming back into the depth).
  trade     [chanId, [[price, volume, time, side "b"|"s", ordertype, misc], ...], "trade", pair]
Kraken prints every price of a pair with the same number of decimals (and volumes with 8): the
checksum is computed on that text, so these "wire decimals" are learned per book from the
snapshot (or given from AssetPairs) and a level with more decimals is corrupt, not finer.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson

from tradecore._fast.book import L2Book
from tradecore._fast.checksum import kraken_checksum, kraken_checksum_text
from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.base import BookKey, BookNormalizer, grid_of, levels_problem, decimals_of

# Channels that carry nothing for books or trades; known, so not reported as unknown.
IGNORED_CHANNELS = frozenset({"ticker", "spread"})
QUIET_EVENTS = frozenset({"heartbeat", "systemStatus", "pong"})
DEFAULT_SIZE_DECIMALS = 8      # Kraken prints every volume with 8 decimals
DROPPED_INVALID = "dropped_book_invalid"


@dataclass(slots=True)
class _Wire:
    """What the checksum needs to know about one book besides its levels."""
    depth: int                  # subscribed depth: the book is truncated to it after updates
    price_decimals: int | None  # decimals Kraken prints prices with (None until seen)
    size_decimals: int




def _max_decimals(levels: list, i: int) -> int:
    return max((decimals_of(lv[i]) for lv in levels), default=-1)


def _seconds_to_ns(text: object) -> int:
    """Kraken's "1618678142.557535" (seconds, decimal text) -> int ns, without a float."""
    if type(text) is not str:
        raise ValueError(f"time {text!r} is not text")
    whole, _, frac = text.partition(".")
    if not (whole.isascii() and whole.isdigit()) or (frac and not (frac.isascii()
                                                                   and frac.isdigit())):
        raise ValueError(f"time {text!r} is not decimal seconds")
    return int(whole) * 1_000_000_000 + int(frac[:9].ljust(9, "0") or "0")


def _units_text(units: int, decimals: int) -> str:
    """Decimal text of units * 10**-decimals (exact)."""
    if decimals == 0:
        return str(units)
    s = str(units).rjust(decimals + 1, "0")
    return s[:-decimals] + "." + s[-decimals:]


def _truncate_levels(book: L2Book, depth: int) -> list:
    """Truncate a book to `depth` levels a side (Kraken's rule: levels pushed out of the
    subscribed depth get no delete message) and return the dropped levels as deletes
    [(side, price text, "0"), ...], so that a recording replays without knowing the rule."""
    dropped: list = []
    for side in (0, 1):
        n = book.bid_count if side == 0 else book.ask_count
        if n > depth:
            for t in book.depth_ticks(side, n)[depth:, 0]:
                dropped.append((side, _units_text(int(t) * book.tick_units,
                                                  book.price_decimals), "0"))
    if dropped:
        book.truncate(depth)
    return dropped


class KrakenNormalizer(BookNormalizer):
    """Kraken spot v1: one book per (connection, pair), checksum-verified after each update.

    precisions: optional pair -> (pair_decimals, lot_decimals) from AssetPairs; without it the
    wire decimals are learned from each snapshot's text.
    """

    venue = "kraken"

    def __init__(self, *, precisions: Mapping[str, tuple[int, int]] | None = None,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.precisions = dict(precisions or {})
        self._wire: dict[BookKey, _Wire] = {}
        # event messages (systemStatus, subscriptionStatus, pong) for the feed, before they
        # are judged here; rare, so off the book path
        self.on_event: Callable[[dict], None] | None = None

    def drop_connection(self, conn: str) -> None:
        """Forget every book of a connection that is gone (its books die with it)."""
        for key in [k for k in self.books if k[0] == conn]:
            del self.books[key]
        for key in [k for k in self._wire if k[0] == conn]:
            del self._wire[key]
        self.needs_resync = {k for k in self.needs_resync if k[0] != conn}

    def wire_decimals(self, key: BookKey) -> tuple[int, int] | None:
        """(price, volume) decimals Kraken prints for a book's pair, as its checksum uses them;
        None before the book's snapshot (or while an empty snapshot has taught nothing)."""
        wire = self._wire.get(key)
        if wire is None or wire.price_decimals is None:
            return None
        return wire.price_decimals, wire.size_decimals

    # -- frames -------------------------------------------------------------------------------
    def on_frame(self, data: bytes, conn: str = "ws", ts_ns: int = 0) -> None:
        self.stats.messages += 1
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            self.problem("?", "bad_json", f"{e}: {bytes(data[:80])!r}")
            # it may have been a book update, and the checksum covers only the top levels: a
            # lost update deeper than that would never be noticed, so resync this connection
            for key in [k for k in self.books if k[0] == conn]:
                self.invalidate(key, "unreadable_frame", "a frame that may have updated it "
                                                         "was unreadable")
            return
        try:
            if type(msg) is list:
                self._on_channel(msg, conn, ts_ns)
            elif type(msg) is dict:
                self._on_event(msg)
            else:
                self.problem("?", "bad_message", f"not an array or object: {msg!r:.80}")
        except Exception as e:  # noqa: BLE001 - one bad frame must never stop the feed
            self.problem("?", "internal_error", f"{type(e).__name__}: {e}")

    def _on_event(self, msg: dict) -> None:
        if self.on_event is not None:
            self.on_event(msg)
        event = msg.get("event")
        if event in QUIET_EVENTS:
            return
        if event == "subscriptionStatus":
            if msg.get("status") == "error":
                self.problem(str(msg.get("pair", "?")), "subscription_error",
                             str(msg.get("errorMessage", msg)))
            return
        if event == "error":
            self.problem("?", "exchange_error", str(msg.get("errorMessage", msg)))
            return
        self.problem("?", "unknown_event", f"{msg!r:.120}")

    def _on_channel(self, msg: list, conn: str, ts_ns: int) -> None:
        if len(msg) < 4 or type(msg[-2]) is not str or type(msg[-1]) is not str:
            self.problem("?", "bad_message", f"not [chanId, payload.., channel, pair]: {msg!r:.80}")
            return
        channel, pair, payloads = msg[-2], msg[-1], msg[1:-2]
        if channel.startswith("book-"):
            self._on_book(conn, pair, channel, payloads, ts_ns)
        elif channel == "trade":
            self._on_trades(pair, payloads, ts_ns)
        elif channel not in IGNORED_CHANNELS and not channel.startswith("ohlc-"):
            self.problem(pair, "unknown_channel", channel)

    # -- books --------------------------------------------------------------------------------
    def _on_book(self, conn: str, pair: str, channel: str, payloads: list, ts_ns: int) -> None:
        depth_text = channel[5:]
        if not (depth_text.isascii() and depth_text.isdigit()) or int(depth_text) < 1 \
                or not payloads or any(type(p) is not dict for p in payloads):
            self.problem(pair, "bad_message", f"{channel} payload is not book objects")
            return
        key = (conn, pair)
        if "as" in payloads[0] or "bs" in payloads[0]:
            self._snapshot(key, int(depth_text), payloads, ts_ns)
        else:
            self._update(key, payloads, ts_ns)

    def _snapshot(self, key: BookKey, depth: int, payloads: list, ts_ns: int) -> None:
        snap = payloads[0]
        asks, bids = snap.get("as", []), snap.get("bs", [])
        why = levels_problem(asks) or levels_problem(bids)
        if len(payloads) != 1:
            why = "a snapshot comes as one object"
        if why:
            self.invalidate(key, "bad_snapshot", why)
            return
        levels = asks + bids
        known = self.precisions.get(key[1])
        pd = _max_decimals(levels, 0)
        sd = _max_decimals(levels, 1)
        if known is not None:
            if pd > known[0] or sd > known[1]:
                self.invalidate(key, "off_grid", f"snapshot has more decimals than {known}")
                return
            pd, sd = known
        wire = _Wire(depth, pd if pd >= 0 else None, sd if sd >= 0 else DEFAULT_SIZE_DECIMALS)
        try:
            tick, _ = grid_of([lv[0] for lv in levels], [lv[1] for lv in levels])
        except ValueError as e:
            self.invalidate(key, "bad_snapshot", f"levels are not decimal text: {e}")
            return
        # the lot is the wire's volume unit, so the checksum text never needs more decimals
        lot = "1" if wire.size_decimals == 0 else f"0.{'1'.rjust(wire.size_decimals, '0')}"
        if not self.load_snapshot(key, bids, asks, ts_ns=ts_ns, tick=tick, lot=lot):
            return
        self._wire[key] = wire
        book = self.books[key]
        if self.on_levels is None:
            book.truncate(depth)
        elif dropped := _truncate_levels(book, depth):   # a snapshot deeper than subscribed
            self.on_levels(key, ts_ns, 0, dropped, False)
        if self.on_book is not None:
            self.on_book(key, book)

    def _update(self, key: BookKey, payloads: list, ts_ns: int) -> None:
        if key in self.needs_resync:
            self.stats.errors[DROPPED_INVALID] += 1
            return
        book = self.books.get(key)
        wire = self._wire.get(key)
        if book is None or wire is None:
            self.problem(key[1], "update_before_snapshot", "book update with no snapshot")
            return
        asks: list = []
        bids: list = []
        checksum: object = None
        for p in payloads:
            for k, v in p.items():
                if k == "a" or k == "b":
                    why = levels_problem(v)
                    if why:
                        self.invalidate(key, "bad_level", why)
                        return
                    (asks if k == "a" else bids).extend(v)
                elif k == "c":
                    checksum = v
        if checksum is not None and not (type(checksum) is str and checksum.isascii()
                                         and checksum.isdigit()):
            self.invalidate(key, "bad_message", f"checksum {checksum!r:.40} is not decimal text")
            return
        levels = asks + bids
        if wire.price_decimals is None and levels:      # an empty snapshot taught nothing
            wire.price_decimals = _max_decimals(levels, 0)
        pd = wire.price_decimals if wire.price_decimals is not None else 0
        if _max_decimals(levels, 0) > pd or _max_decimals(levels, 1) > wire.size_decimals:
            self.invalidate(key, "off_grid", f"a level has more decimals than the pair's "
                                             f"{pd}/{wire.size_decimals}: {levels!r:.120}")
            return
        new = self.apply_update(key, book, bids, asks) if levels else book
        if new is None:
            # not applied (counted as bad_level): the exchange's book moved on without ours, and
            # a checksum over the top levels cannot vouch for the rest, so resync
            self.invalidate(key, "dropped_update", "an update could not be applied")
            return
        if self.on_levels is None:
            new.truncate(wire.depth)
        else:
            applied = [(0, lv[0], lv[1]) for lv in bids] + [(1, lv[0], lv[1]) for lv in asks]
            applied += _truncate_levels(new, wire.depth)
            if applied:
                self.on_levels(key, ts_ns, 0, applied, False)
        new.ts_ns = ts_ns
        if checksum is not None and not self._verify(key, new, wire, int(checksum)):
            return
        if self.on_book is not None:
            self.on_book(key, new)

    def _verify(self, key: BookKey, book: L2Book, wire: _Wire, expected: int) -> bool:
        pd = wire.price_decimals if wire.price_decimals is not None else 0
        try:
            got = kraken_checksum(book, pd, wire.size_decimals)
        except ValueError as e:
            self.invalidate(key, "checksum_unverifiable", str(e))
            return False
        if got == expected:
            self.stats.checksums_ok += 1
            return True
        self.stats.checksums_bad += 1
        text = kraken_checksum_text(book, pd, wire.size_decimals)
        self.invalidate(key, "checksum_mismatch",
                        f"kraken says {expected}, book gives {got} over {text[:120]!r}")
        return False

    # -- trades -------------------------------------------------------------------------------
    def _on_trades(self, pair: str, payloads: list, ts_ns: int) -> None:
        if len(payloads) != 1 or type(payloads[0]) is not list:
            self.problem(pair, "bad_trade", f"trade payload is not one list: {payloads!r:.80}")
            return
        trades: list[Trade] = []
        for t in payloads[0]:
            try:
                if type(t) is not list or len(t) < 4:
                    raise ValueError(f"{t!r:.80} is not [price, volume, time, side, ...]")
                price, size, when, side = t[0], t[1], t[2], t[3]
                if type(price) is not str or type(size) is not str:
                    raise ValueError(f"price {price!r} / volume {size!r} are not text")
                if side not in ("b", "s"):
                    raise ValueError(f"side {side!r} is not 'b' or 's'")
                trades.append(Trade(self.venue, pair, price, size, BUY if side == "b" else SELL,
                                    "", _seconds_to_ns(when), ts_ns))
            except ValueError as e:
                self.problem(pair, "bad_trade", str(e))
                return
        for trade in trades:
            self.emit_trade(trade)
