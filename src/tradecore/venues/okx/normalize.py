"""OKX v5 public WebSocket frames -> L2Books and Trades, each book message proven by OKX's
signed CRC32 checksum and, where OKX sends them, by seqId/prevSeqId continuity.

Wire format:
  {"arg": {"channel": "books"|"books-l2-tbt"|"books50-l2-tbt", "instId": ..},
   "action": "snapshot"|"update",
   "data": [{"asks": [[price, size, "0", orders], ..], "bids": [..], "ts": "ms",
             "checksum": int, "seqId": int, "prevSeqId": int}]}
  books5 / bbo-tbt carry no action: every message is the whole (shallow) book.
  {"arg": {"channel": "trades", ..}, "data": [{"instId", "tradeId", "px", "sz",
   "side": "buy"|"sell", "ts": "ms"}]}
  {"event": "subscribe"|"unsubscribe"|"error", ...}
The checksum covers the top 25 levels as OKX's own text, which is trimmed decimal text; the
compiled checksum rebuilds that text from ticks and lots (see _fast/checksum.pxd).
"""
from __future__ import annotations

import orjson

from tradecore._fast.book import L2Book
from tradecore._fast.checksum import okx_checksum, okx_checksum_text
from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.base import BookKey, BookNormalizer, levels_problem

# Channels whose messages are a snapshot followed by deltas.
DELTA_CHANNELS = frozenset({"books", "books-l2-tbt", "books50-l2-tbt"})
# Channels whose every message is the whole book (of a few levels). They are keyed apart
# ("BTC-USDT@books5") so that a deep book of the same instrument is never overwritten by them.
FULL_CHANNELS = frozenset({"books5", "bbo-tbt"})
TRADE_CHANNELS = frozenset({"trades", "trades-all"})
IGNORED_CHANNELS = frozenset({"tickers", "index-tickers", "mark-price", "funding-rate",
                              "open-interest", "price-limit", "opt-summary", "estimated-price",
                              "liquidation-orders", "status", "instruments"})
IGNORED_PREFIXES = ("candle", "mark-price-candle", "index-candle")
QUIET_EVENTS = frozenset({"subscribe", "unsubscribe", "login", "channel-conn-count"})
DROPPED_INVALID = "dropped_book_invalid"




def _opt_int(entry: dict, name: str) -> int | None:
    v = entry.get(name)
    if v is None:
        return None
    if type(v) is not int:
        raise ValueError(f"{name} {v!r:.40} is not an integer")
    return v


def _ms_to_ns(text: object) -> int:
    if type(text) is not str or not (text.isascii() and text.isdigit()):
        raise ValueError(f"ts {text!r:.40} is not integer milliseconds text")
    return int(text) * 1_000_000


class OkxNormalizer(BookNormalizer):
    """OKX v5: one book per (connection, instId), checksum-verified after every message."""

    venue = "okx"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._seq_known: set[BookKey] = set()    # books whose seq holds OKX's last seqId

    # -- frames -------------------------------------------------------------------------------
    def on_frame(self, data: bytes, conn: str = "ws", ts_ns: int = 0) -> None:
        self.stats.messages += 1
        if data == b"pong":                       # reply to our text "ping" keep-alive
            return
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
            if type(msg) is not dict:
                self.problem("?", "bad_message", f"not an object: {msg!r:.80}")
            elif "event" in msg:
                self._on_event(msg)
            else:
                self._on_push(msg, conn, ts_ns)
        except Exception as e:  # noqa: BLE001 - one bad frame must never stop the feed
            self.problem("?", "internal_error", f"{type(e).__name__}: {e}")

    def _on_event(self, msg: dict) -> None:
        event = msg.get("event")
        if event in QUIET_EVENTS:
            return
        if event == "error":
            self.problem("?", "exchange_error", f"code {msg.get('code')}: {msg.get('msg')}")
            return
        self.problem("?", "unknown_event", f"{msg!r:.120}")

    def _on_push(self, msg: dict, conn: str, ts_ns: int) -> None:
        arg, data = msg.get("arg"), msg.get("data")
        if type(arg) is not dict or type(arg.get("channel")) is not str \
                or type(arg.get("instId", "")) is not str or type(data) is not list \
                or any(type(d) is not dict for d in data):
            self.problem("?", "bad_message", f"not {{arg, data: [objects]}}: {msg!r:.80}")
            return
        channel, inst = arg["channel"], arg.get("instId", "?")
        if channel in DELTA_CHANNELS:
            action = msg.get("action")
            if action not in ("snapshot", "update"):
                self.problem(inst, "bad_message", f"{channel} action {action!r:.40}")
                return
            self._on_books((conn, inst), action, data, ts_ns)
        elif channel in FULL_CHANNELS:
            self._on_books((conn, f"{inst}@{channel}"), "snapshot", data, ts_ns)
        elif channel in TRADE_CHANNELS:
            self._on_trades(inst, data, ts_ns)
        elif channel not in IGNORED_CHANNELS and not channel.startswith(IGNORED_PREFIXES):
            self.problem(inst, "unknown_channel", channel)

    # -- books --------------------------------------------------------------------------------
    def _on_books(self, key: BookKey, action: str, data: list, ts_ns: int) -> None:
        for entry in data:
            bids, asks = entry.get("bids", []), entry.get("asks", [])
            why = levels_problem(bids) or levels_problem(asks)
            checksum = entry.get("checksum")
            if checksum is not None and type(checksum) is not int:
                why = f"checksum {checksum!r:.40} is not an integer"
            try:
                seq, prev = _opt_int(entry, "seqId"), _opt_int(entry, "prevSeqId")
            except ValueError as e:
                why = str(e)
            if why:
                if action == "snapshot":
                    self.invalidate(key, "bad_snapshot", why)
                else:
                    self.invalidate(key, "bad_level", why)
                return
            book = (self._snapshot(key, bids, asks, seq, ts_ns) if action == "snapshot"
                    else self._update(key, bids, asks, seq, prev, ts_ns))
            if book is None:
                return
            if checksum is not None and not self._verify(key, book, checksum):
                return
            if self.on_book is not None:
                self.on_book(key, book)

    def _snapshot(self, key: BookKey, bids: list, asks: list, seq: int | None,
                  ts_ns: int) -> L2Book | None:
        if not self.load_snapshot(key, bids, asks, seq=seq or 0, ts_ns=ts_ns):
            return None
        if seq is None:
            self._seq_known.discard(key)
        else:
            self._seq_known.add(key)
        return self.books[key]

    def _update(self, key: BookKey, bids: list, asks: list, seq: int | None,
                prev: int | None, ts_ns: int) -> L2Book | None:
        if key in self.needs_resync:
            self.stats.errors[DROPPED_INVALID] += 1
            return None
        book = self.books.get(key)
        if book is None:
            self.problem(key[1], "update_before_snapshot", "book update with no snapshot")
            return None
        if prev is not None and key in self._seq_known and prev != book.seq:
            self.stats.gaps += 1
            self.invalidate(key, "sequence_gap", f"prevSeqId {prev} after seqId {book.seq}")
            return None
        new = self.apply_update(key, book, bids, asks) if bids or asks else book
        if new is None:
            # not applied (counted as bad_level): the exchange's book moved on without ours, and
            # a checksum over the top levels cannot vouch for the rest, so resync
            self.invalidate(key, "dropped_update", "an update could not be applied")
            return None
        if self.on_levels is not None and (bids or asks):
            self.on_levels(key, ts_ns, seq if seq is not None else 0,
                           [(0, lv[0], lv[1]) for lv in bids]
                           + [(1, lv[0], lv[1]) for lv in asks], False)
        if seq is not None:
            new.seq = seq
            self._seq_known.add(key)
        new.ts_ns = ts_ns
        return new

    def _verify(self, key: BookKey, book: L2Book, expected: int) -> bool:
        got = okx_checksum(book)
        if got == expected:
            self.stats.checksums_ok += 1
            return True
        self.stats.checksums_bad += 1
        self.invalidate(key, "checksum_mismatch", f"okx says {expected}, book gives {got} "
                                                  f"over {okx_checksum_text(book)[:120]!r}")
        return False

    # -- trades -------------------------------------------------------------------------------
    def _on_trades(self, inst: str, data: list, ts_ns: int) -> None:
        trades: list[Trade] = []
        for t in data:
            try:
                px, sz, side, tid = t.get("px"), t.get("sz"), t.get("side"), t.get("tradeId")
                symbol = t.get("instId", inst)
                if type(px) is not str or type(sz) is not str or type(tid) is not str \
                        or type(symbol) is not str:
                    raise ValueError(f"px/sz/tradeId/instId are not text: {t!r:.80}")
                if side not in ("buy", "sell"):
                    raise ValueError(f"side {side!r:.20} is not 'buy' or 'sell'")
                trades.append(Trade(self.venue, symbol, px, sz, BUY if side == "buy" else SELL,
                                    tid, _ms_to_ns(t.get("ts")), ts_ns))
            except ValueError as e:
                self.problem(inst, "bad_trade", str(e))
                return
        for trade in trades:
            self.emit_trade(trade)
