"""Coinbase market data: Advanced Trade (`l2_data`) and the legacy Pro feed (`level2`).

One normalizer reads both wire formats; a frame with a `channel` key is Advanced Trade, any
other is Pro (`type`-keyed). Books are kept per (connection, product_id).

Advanced Trade
  * `sequence_num` counts every message of a connection, whatever its channel (heartbeats,
    ticker, candles, market_trades, subscriptions and l2_data), so it is tracked per connection:
    N == last + 1 is in order; N <= last is a duplicate (dropped whole, counted); N > last + 1
    is a gap: every book of that connection is invalid until its product's next `l2_data`
    snapshot. The first message of a connection sets the origin; a reconnect that reuses the
    connection label must call reset_connection() first, or its 0.. would read as duplicates.
    A message whose sequence_num cannot be read is dropped; the next one then shows a gap,
    which is the safe reading (we cannot know what the dropped message held).
  * `l2_data` snapshot replaces the book (full depth, ~46k levels for BTC-USD); updates carry
    the absolute `new_quantity` ("0" deletes). `side` is "bid" or "offer".
  * `market_trades` -> Trade with the exchange's exact price/size text. The `side` field is the
    MAKER's side, not the taker's: in the bundled recording every trade labelled SELL that
    prints at a touch prints at the best ask (48 of them) and every BUY at the best bid (23);
    none the other way round. A taker buy lifts the offer, so the aggressor is the opposite of
    `side` (Nautilus' Coinbase adapter reads it the same way; Pro `match` documents it). Trades
    of a `snapshot` event (the history sent on subscribe) are emitted as backfilled.
  * Soft check: each `ticker` carries best_bid/best_ask; the book's top is compared with it and
    counted in ticker_agree / ticker_disagree. The ticker and l2_data channels are not
    synchronised, so disagreement is expected now and then (132 of 154 agree in the bundled
    recording) and is no error; top_checks_* stay reserved for exact oracles.

Pro (legacy `ws-feed.pro.coinbase.com`)
  * `snapshot` {bids, asks: [[price, size]]}, `l2update` {changes: [[buy|sell, price, size]]},
    size absolute. The level2 channel has NO sequence numbers (ticker and match have
    per-product ones, but they do not count level2 messages), so a lost l2update cannot be
    detected: gaps stay 0 whatever happened. Only the crossed-book check can catch the damage.
  * `match` / `last_match` -> Trade; `side` is documented as the maker order's side, so the
    aggressor is the opposite. `last_match` (the trade before subscribing) is backfilled.
  * `ticker` gets the same soft check as Advanced Trade.

Books are never left crossed: a crossed book is invalidated ("crossed_book"). Coinbase has no
book checksum, so a book update that cannot be applied (bad level) leaves the book wrong in a
way nothing later would reveal: the book is marked invalid until a snapshot (the problem is
counted once, as "bad_level"). Updates for an invalid book are dropped, since the snapshot that
resyncs it replaces everything anyway. Other bad input (non-JSON, wrong types, bad trades or
tickers) is counted under its reason and dropped; nothing raises.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache

import orjson

from tradecore._fast.book import L2Book
from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.base import BookKey, BookNormalizer, grid_of

# channels / message types that carry nothing for the books or trades
_AT_QUIET = frozenset({"subscriptions", "heartbeats", "candles", "status", "ticker_batch"})
_PRO_QUIET = frozenset({"subscriptions", "heartbeat", "status"})
# `side` is the maker's side on both feeds; the aggressor is the other one
_AT_AGGRESSOR = {"BUY": SELL, "SELL": BUY}
_PRO_AGGRESSOR = {"buy": SELL, "sell": BUY}
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_EPOCH = datetime(1970, 1, 1)
_ONE_SECOND = timedelta(seconds=1)


def _positive_decimal(x: object) -> bool:
    """Plain decimal text above zero (what a trade price or size must be)."""
    return isinstance(x, str) and _DECIMAL.fullmatch(x) is not None and x.strip("0.") != ""


@lru_cache(maxsize=4096)
def _epoch_seconds(head: str) -> int:
    return (datetime.fromisoformat(head) - _EPOCH) // _ONE_SECOND


def iso_ns(text: object) -> int | None:
    """ns since the epoch of Coinbase's `2026-08-09T21:05:42.514318Z` (any 0..9 fraction
    digits, UTC), exactly (a float would lose the nanoseconds); None when unreadable."""
    if not isinstance(text, str) or len(text) < 20 or text[-1] != "Z" or text[10] != "T":
        return None
    frac = text[20:-1]
    if not (len(text) == 20 if text[19] == "Z" else
            text[19] == "." and 0 < len(frac) <= 9 and frac.isascii() and frac.isdigit()):
        return None
    try:
        secs = _epoch_seconds(text[:19])
    except ValueError:
        return None
    return secs * 1_000_000_000 + (int(frac.ljust(9, "0")) if frac else 0)


def _aggressor(table: dict[str, int], side: object) -> int | None:
    return table.get(side) if isinstance(side, str) else None


def _touch_first(levels: list) -> list:
    """Snapshot levels (best first, as Coinbase sends them) in the order the kernel loads
    fastest: the touch first, so the book's window centres on it, then worst to best. Levels
    deeper than the window go to a sorted overflow array; best-first they are each inserted at
    its front (a memmove each: 185 ms for BTC-USD's 46k levels), worst-first they are appended
    (6 ms). Any input order is still loaded correctly, only slower."""
    return levels[:1] + levels[:0:-1]


def _price_text_equals(book: L2Book, side: int, text: str) -> bool:
    top = book.best_ticks(side)
    return top is not None and Decimal(text) == Decimal(
        int(top[0]) * book.tick_units).scaleb(-book.price_decimals)


class CoinbaseNormalizer(BookNormalizer):
    """Coinbase Advanced Trade and Pro frames -> books and trades (rules in the module doc)."""

    venue = "coinbase"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self._last_seq: dict[str, int] = {}     # connection -> last Advanced Trade sequence_num
        self.ticker_agree = 0        # tickers whose best bid and ask equal the book's top
        self.ticker_disagree = 0
        self.ticker_unchecked = 0    # tickers with no valid book to compare with

    def reset_connection(self, conn: str) -> None:
        """Forget a connection's sequence and books (a reconnect that reuses its label)."""
        self._last_seq.pop(conn, None)
        for key in [k for k in self.books if k[0] == conn]:
            del self.books[key]
        self.needs_resync = {k for k in self.needs_resync if k[0] != conn}

    # -- input ---------------------------------------------------------------------------------
    def on_frame(self, data: bytes, conn: str = "ws", ts_ns: int = 0) -> None:
        self.stats.messages += 1
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            head = data[:80] if isinstance(data, (bytes, str)) else type(data).__name__
            self.problem("?", "bad_json", f"{e}: {head!r}")
            return
        if not isinstance(msg, dict):
            self.problem("?", "bad_message", f"not a JSON object: {type(msg).__name__}")
        elif "channel" in msg:
            self._advanced(msg, conn, ts_ns)
        else:
            self._pro(msg, conn, ts_ns)

    # -- Advanced Trade ------------------------------------------------------------------------
    def _advanced(self, msg: dict, conn: str, ts_ns: int) -> None:
        seq = msg.get("sequence_num")
        if type(seq) is not int:
            self.problem("?", "bad_sequence", f"{conn}: sequence_num {seq!r} is not an integer")
            return
        if not self._in_sequence(conn, seq):
            return
        channel, events = msg["channel"], msg.get("events")
        if not isinstance(channel, str):
            self._bad_message(conn, channel, "channel is not text")
            return
        if channel in _AT_QUIET:
            return
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            self._bad_message(conn, channel, "events is not a list of objects")
            return
        if channel == "l2_data":
            for ev in events:
                self._l2_event(ev, conn, seq, ts_ns)
        elif channel == "market_trades":
            for ev in events:
                trades = ev.get("trades")
                if not isinstance(trades, list):
                    self.problem("?", "bad_message", f"market_trades: trades is {trades!r:.80}")
                    continue
                for t in trades:
                    self._at_trade(t, ev.get("type") == "snapshot", ts_ns)
        elif channel == "ticker":
            for ev in events:
                tickers = ev.get("tickers")
                if not isinstance(tickers, list):
                    self.problem("?", "bad_message", f"ticker: tickers is {tickers!r:.80}")
                    continue
                for t in tickers:
                    if isinstance(t, dict):
                        self._check_ticker(conn, t)
                    else:
                        self.problem("?", "bad_ticker", f"ticker is {t!r:.80}")
        else:
            self.problem("?", "unknown_message", f"channel {channel!r:.80}")

    def _in_sequence(self, conn: str, seq: int) -> bool:
        """Check a connection-wide sequence_num; False for a duplicate (drop the message)."""
        last = self._last_seq.get(conn)
        if last is not None:
            if seq <= last:
                self.problem("?", "duplicate", f"{conn}: sequence_num {seq} after {last}")
                return False
            if seq != last + 1:
                self.stats.gaps += 1
                detail = f"{conn}: sequence_num {last} -> {seq} ({seq - last - 1} missing)"
                keys = [k for k in self.books if k[0] == conn]
                for key in keys:
                    self.invalidate(key, "sequence_gap", detail)
                if not keys:
                    self.problem("*", "sequence_gap", detail)
        self._last_seq[conn] = seq
        return True

    def _l2_event(self, ev: dict, conn: str, seq: int, ts_ns: int) -> None:
        kind, symbol, ups = ev.get("type"), ev.get("product_id"), ev.get("updates")
        if not isinstance(symbol, str):
            self._bad_message(conn, "l2_data", f"product_id {symbol!r:.40}")
            return
        key = (conn, symbol)
        if kind == "snapshot":
            self._load_records(key, ups, seq, ts_ns)
        elif kind != "update" or not isinstance(ups, list):
            self._lost(key, "bad_message", f"l2_data event type {kind!r:.40}, updates "
                                           f"{type(ups).__name__}")
        elif (book := self._live_book(key)) is not None:
            bids: list = []
            asks: list = []
            try:
                for u in ups:
                    side = u["side"]
                    lv = (u["price_level"], u["new_quantity"])
                    if side == "bid":
                        bids.append(lv)
                    elif side == "offer":
                        asks.append(lv)
                    else:
                        raise ValueError(f"side {side!r:.40} is not bid/offer")
            except (TypeError, KeyError, ValueError) as e:
                self._lost(key, "bad_level", f"l2_data update: {e!r:.200}")
                return
            self._apply(key, book, bids, asks, seq, ts_ns)

    def _load_records(self, key: BookKey, ups: object, seq: int, ts_ns: int) -> None:
        """An l2_data snapshot, straight from its records into a new book (apply_records: no
        per-level Python objects); the grid is inferred from the snapshot (grid_of)."""
        bids: list = []
        asks: list = []
        try:
            if not isinstance(ups, list):
                raise TypeError(f"updates is {type(ups).__name__}")
            for u in ups:
                side = u["side"]
                if side == "bid":
                    bids.append(u)
                elif side == "offer":
                    asks.append(u)
                else:
                    raise ValueError(f"side {side!r:.40} is not bid/offer")
            tick, lot = grid_of([u["price_level"] for u in ups], [u["new_quantity"] for u in ups])
            book = L2Book(tick, lot)
            book.apply_records(_touch_first(bids) + _touch_first(asks), "side", "price_level",
                               "new_quantity", "bid")
        except (TypeError, KeyError, ValueError, AttributeError) as e:
            # AttributeError: grid_of reads prices as str (a number there has no .find)
            self.invalidate(key, "bad_snapshot", f"l2_data snapshot: {e!r:.200}")
            return
        book.prefault()         # its window's pages now, not on the ticks to come (book.pyx)
        self._install(key, book, seq, ts_ns, len(ups))
        if self.on_levels is not None:
            self.on_levels(key, ts_ns, seq, [(0 if u["side"] == "bid" else 1, u["price_level"],
                                              u["new_quantity"]) for u in ups], True)

    # -- Pro -------------------------------------------------------------------------------------
    def _pro(self, msg: dict, conn: str, ts_ns: int) -> None:
        kind = msg.get("type")
        if not isinstance(kind, str):
            self.problem("?", "bad_message", f"type {kind!r:.80}")
        elif kind == "l2update":
            self._pro_update(msg, conn, ts_ns)
        elif kind == "snapshot":
            self._pro_snapshot(msg, conn, ts_ns)
        elif kind == "match" or kind == "last_match":
            self._pro_trade(msg, kind == "last_match", ts_ns)
        elif kind == "ticker":
            self._check_ticker(conn, msg)
        elif kind == "error":
            self.problem("?", "venue_error", f"{msg.get('message')!r:.100} "
                                             f"{msg.get('reason')!r:.100}")
        elif kind not in _PRO_QUIET:
            self.problem("?", "unknown_message", f"type {kind!r:.80}")

    def _pro_update(self, msg: dict, conn: str, ts_ns: int) -> None:
        symbol, changes = msg.get("product_id"), msg.get("changes")
        if not isinstance(symbol, str):
            self._bad_message(conn, "l2update", f"product_id {symbol!r:.40}")
            return
        key = (conn, symbol)
        if not isinstance(changes, list):
            self._lost(key, "bad_message", f"l2update changes is {type(changes).__name__}")
            return
        book = self._live_book(key)
        if book is None:
            return
        bids: list = []
        asks: list = []
        try:
            for side, price, size in changes:
                if side == "buy":
                    bids.append((price, size))
                elif side == "sell":
                    asks.append((price, size))
                else:
                    raise ValueError(f"side {side!r:.40} is not buy/sell")
        except (TypeError, ValueError) as e:
            self._lost(key, "bad_level", f"l2update: {e!r:.200}")
            return
        self._apply(key, book, bids, asks, 0, ts_ns)

    def _pro_snapshot(self, msg: dict, conn: str, ts_ns: int) -> None:
        symbol, bids, asks = msg.get("product_id"), msg.get("bids"), msg.get("asks")
        if not isinstance(symbol, str):
            self._bad_message(conn, "snapshot", f"product_id {symbol!r:.40}")
            return
        key = (conn, symbol)
        if not isinstance(bids, list) or not isinstance(asks, list):
            self.invalidate(key, "bad_snapshot", "bids/asks are not lists")
            return
        try:
            ok = self.load_snapshot(key, _touch_first(bids), _touch_first(asks), 0, ts_ns)
        except (AttributeError, KeyError) as e:   # levels that load_snapshot does not expect
            self.invalidate(key, "bad_snapshot", f"levels are not decimal text: {e}")
            return
        if ok:
            self._after_change(key, self.books[key])

    # -- books -------------------------------------------------------------------------------------
    def _live_book(self, key: BookKey) -> L2Book | None:
        """The book an update applies to, or None: invalid books wait for their snapshot
        (silently: the problem that invalidated them was counted), unknown ones are a
        problem."""
        if key in self.needs_resync:
            return None
        book = self.books.get(key)
        if book is None:
            self.problem(key[1], "update_before_snapshot", f"{key[0]}: no snapshot yet")
        return book

    def _apply(self, key: BookKey, book: L2Book, bids: list, asks: list, seq: int,
               ts_ns: int) -> None:
        """One update, all or nothing (apply_update re-grids an inferred grid when a level
        does not fit it); a rejected update invalidates the book, as no checksum would."""
        try:
            new = self.apply_update(key, book, bids, asks)
        except AttributeError as e:       # its re-grid reads every price as str
            self.problem(key[1], "bad_level", f"levels are not decimal text: {e}")
            new = None
        if new is None:                   # counted as bad_level
            book.valid = False
            self.needs_resync.add(key)
            return
        if self.on_levels is not None:
            self.on_levels(key, ts_ns, seq, [(0, lv[0], lv[1]) for lv in bids]
                           + [(1, lv[0], lv[1]) for lv in asks], False)
        new.seq, new.ts_ns = seq, ts_ns
        self._after_change(key, new)

    def _install(self, key: BookKey, book: L2Book, seq: int, ts_ns: int, n: int) -> None:
        """What load_snapshot does once its book is built (it takes [price, size] lists)."""
        book.seq, book.ts_ns, book.valid = seq, ts_ns, True
        self.books[key] = book
        self.resynced(key)
        self.stats.levels += n
        self._after_change(key, book)

    def _after_change(self, key: BookKey, book: L2Book) -> None:
        if book.is_crossed():
            self.invalidate(key, "crossed_book", f"{key[0]}: bid {book.best_bid()} >= ask "
                                                 f"{book.best_ask()}")
        elif self.on_book is not None:
            self.on_book(key, book)

    def _lost(self, key: BookKey, reason: str, detail: str) -> None:
        """Book data of a known product could not be read: count once, book invalid."""
        self.problem(key[1], reason, detail)
        if key in self.books:
            self.books[key].valid = False
        self.needs_resync.add(key)

    def _bad_message(self, conn: str, channel: object, detail: str) -> None:
        """A message that cannot be read. On a book channel we cannot tell which product lost
        data, so every book of the connection waits for a snapshot."""
        self.problem("?", "bad_message", f"{channel!r:.40}: {detail}")
        if channel in ("l2_data", "l2update", "snapshot"):
            for key in [k for k in self.books if k[0] == conn]:
                self.books[key].valid = False
                self.needs_resync.add(key)

    # -- trades and tickers ------------------------------------------------------------------------
    def _at_trade(self, t: object, backfilled: bool, ts_ns: int) -> None:
        if not isinstance(t, dict):
            self.problem("?", "bad_trade", f"trade is {t!r:.80}")
            return
        self._trade(t.get("product_id"), t.get("price"), t.get("size"),
                    _aggressor(_AT_AGGRESSOR, t.get("side")), t.get("trade_id"), t.get("time"),
                    backfilled, ts_ns)

    def _pro_trade(self, m: dict, backfilled: bool, ts_ns: int) -> None:
        self._trade(m.get("product_id"), m.get("price"), m.get("size"),
                    _aggressor(_PRO_AGGRESSOR, m.get("side")), m.get("trade_id"), m.get("time"),
                    backfilled, ts_ns)

    def _trade(self, symbol: object, price: object, size: object, aggressor: object,
               trade_id: object, time: object, backfilled: bool, ts_ns: int) -> None:
        ts_ex = iso_ns(time)
        if type(trade_id) is int:
            trade_id = str(trade_id)
        if not (isinstance(symbol, str) and _positive_decimal(price) and _positive_decimal(size)
                and aggressor is not None and isinstance(trade_id, str) and ts_ex is not None):
            self.problem(symbol if isinstance(symbol, str) else "?", "bad_trade",
                         f"price {price!r:.30} size {size!r:.30} aggressor {aggressor} "
                         f"trade_id {trade_id!r:.30} time {time!r:.40}")
            return
        self.emit_trade(Trade(self.venue, symbol, price, size, aggressor, trade_id, ts_ex,
                              ts_ns, backfilled))

    def _check_ticker(self, conn: str, t: dict) -> None:
        """Soft check of the book's top against a ticker's best_bid/best_ask (exact decimal
        values; the channels are not synchronised, so this is counted, never an error)."""
        symbol, bb, ba = t.get("product_id"), t.get("best_bid"), t.get("best_ask")
        if not (isinstance(symbol, str) and _positive_decimal(bb) and _positive_decimal(ba)):
            self.problem(symbol if isinstance(symbol, str) else "?", "bad_ticker",
                         f"best_bid {bb!r:.30} best_ask {ba!r:.30}")
            return
        key = (conn, symbol)
        book = self.books.get(key)
        if book is None or not book.valid or key in self.needs_resync:
            self.ticker_unchecked += 1
        elif _price_text_equals(book, 0, bb) and _price_text_equals(book, 1, ba):
            self.ticker_agree += 1
        else:
            self.ticker_disagree += 1
