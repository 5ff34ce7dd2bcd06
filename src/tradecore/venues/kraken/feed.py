"""Kraken spot market data feed (WebSocket v1): book-N and trade channels, every book proven by
Kraken's checksum and repaired by resubscription.

The connection machinery (generations, reconnects, failover, the rollover, stale detection) is
`venues.wsfeed.WsFeed`'s. What is Kraken's:

- subscriptions are sent once connected, each with a `reqid` that names the connection it was
  sent on, so a `subscriptionStatus` answer is attributed to its connection;
- a book is synced by the snapshot Kraken sends on subscribing; v1 has no sequence numbers, so
  a book is in sync while it has had its snapshot and every checksum since then agreed
  (KrakenNormalizer). A book invalidated by a checksum mismatch is repaired by unsubscribing and
  subscribing its book channel again on the same connection (Kraken answers with a fresh
  snapshot), at most once per `resync_interval_s` per book; a subscription that got no snapshot
  within `snapshot_timeout_s` is sent again;
- an idle connection gets an application ping (`{"event":"ping","reqid":n}`). Kraken answers a
  ping even when it sends nothing else, so a connection that brings nothing but pongs for
  `stale_after_s` (no data, not even the heartbeats Kraken sends every second to a subscribed
  connection) is treated as stale and reconnected, as the base watchdog does for silence;
- `systemStatus` other than "online" (maintenance, cancel_only, ...) is reported as a problem
  through the normalizer (`system_status`), as the normalizer does for subscription errors;
- trades missed while disconnected are fetched from REST `/0/public/Trades?since=<ns>` and
  emitted marked `backfilled=True`. Kraken trades have no id on the WebSocket, so duplicates
  (a trade both received live and backfilled, or received on both connections of a rollover)
  are recognised by (time, price, volume); two equal trades inside one message or one backfill
  are both kept.
"""
from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.kraken.normalize import KrakenNormalizer
from tradecore.venues.wsfeed import FeedConfig, FeedListener, WsFeed

log = logging.getLogger("tradecore.feed.kraken")

WS_URLS = ["wss://ws.kraken.com"]
DEPTHS = (10, 25, 100, 500, 1000)
PAGE = 1000                    # Kraken's Trades page size (count's maximum)


class KrakenRest(Protocol):
    """The REST call the feed needs (venues.rest.RestClient("kraken") has it); raw bytes, so
    prices keep their exact text. from_id is Kraken's `since` cursor (ns)."""
    async def get_trades_since(self, symbol: str, from_id: int | str | None = None,
                               from_ts: int | None = None, limit: int | None = None,
                               kind: str = "agg") -> bytes: ...


@dataclass
class KrakenFeedConfig(FeedConfig):
    depth: int = 1000                          # book-N: 10, 25, 100, 500 or 1000
    trades: bool = True                        # trade channel (backfilled after a drop)
    resync_interval_s: float = 2.0             # min time between subscriptions of one book
    snapshot_timeout_s: float = 10.0           # subscribed, no snapshot this long: again
    ping_idle_s: float = 5.0                   # nothing received this long: send a ping
    backfill_wait_s: float = 5.0               # backfill even unconfirmed after this long
    backfill_max_pages: int = 20               # of 1000 trades, per pair and gap
    name: str = "kraken"

    def __post_init__(self) -> None:
        if not self.ws_urls:
            self.ws_urls = list(WS_URLS)
        self.symbols = [s.upper() for s in self.symbols]
        bad = [s for s in self.symbols if "/" not in s]
        if bad:
            raise ValueError(f"KrakenFeedConfig.symbols {bad}: WebSocket v1 pairs are written "
                             "BASE/QUOTE, e.g. 'XBT/USD'")
        if self.depth not in DEPTHS:
            raise ValueError(f"KrakenFeedConfig.depth {self.depth!r}: expected one of "
                             f"{', '.join(map(str, DEPTHS))}")
        for name in ("resync_interval_s", "snapshot_timeout_s", "ping_idle_s",
                     "backfill_wait_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"KrakenFeedConfig.{name} {getattr(self, name)!r}: "
                                 "expected > 0")
        if not (isinstance(self.backfill_max_pages, int) and self.backfill_max_pages >= 1):
            raise ValueError(f"KrakenFeedConfig.backfill_max_pages "
                             f"{self.backfill_max_pages!r}: expected an integer >= 1")
        super().__post_init__()


@dataclass
class _Conn:
    """What the feed keeps about one connection (one generation)."""
    label: str
    opened: float
    sub_at: dict[str, float] = field(default_factory=dict)   # pair -> last book subscribe
    trade_subscribed: set[str] = field(default_factory=set)  # pairs Kraken confirmed
    last_ping: float = -1e18
    pong_rx: float = -1e18                                   # monotonic time of the last pong
    data_rx: float = 0.0                                     # last frame that was not a pong
    pings: int = 0
    pongs: int = 0


def _num_key(text: str) -> str:
    """Decimal text without trailing zeros (REST and WebSocket may print them differently)."""
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


class _TradeDedup:
    """Recognises a trade already emitted, by (pair, time in us, price, volume).

    `admit(key, batch)`: a batch is one message (or one backfill). Equal keys inside one batch
    are distinct trades; a later batch repeating a key is a duplicate for as many times as the
    key was already emitted."""

    def __init__(self, keep: int = 50_000) -> None:
        self.entries: dict[tuple, list] = {}      # key -> [emitted, batch, seen in batch]
        self.order: deque = deque()
        self.keep = keep

    def admit(self, key: tuple, batch: object) -> bool:
        e = self.entries.get(key)
        if e is None:
            self.entries[key] = [1, batch, 1]
            self.order.append(key)
            if len(self.order) > self.keep:
                self.entries.pop(self.order.popleft(), None)
            return True
        if e[1] == batch:
            e[2] += 1
        else:
            e[1] = batch
            e[2] = 1
        if e[2] > e[0]:
            e[0] = e[2]
            return True
        return False


class KrakenFeed(WsFeed):
    """Book (+ trade) channels of several pairs on one Kraken WebSocket v1 connection."""

    def __init__(self, config: KrakenFeedConfig, rest: KrakenRest | None = None, *,
                 normalizer: KrakenNormalizer | None = None,
                 on_trade: Callable[[Trade], None] | None = None,
                 on_status: Callable[[str, str, str], None] | None = None) -> None:
        """rest: for trade backfill after a disconnect (None: no backfill)."""
        super().__init__(config, normalizer or KrakenNormalizer(), on_status=on_status)
        self.config: KrakenFeedConfig = config
        self.rest = rest
        self._user_on_trade = on_trade
        self.normalizer.on_trade = self._on_trade
        # events (systemStatus, subscriptionStatus, pong): the normalizer's hook
        self.normalizer.on_event = self._on_event
        self._conns: dict[str, _Conn] = {}
        self._dead: set[str] = set()                     # labels declared stale, closing
        self._reqs: dict[int, tuple[str, str]] = {}      # reqid -> (label, what)
        self._req_ids = itertools.count(1)
        self._dedup = _TradeDedup()
        self._last_trade_ns: dict[str, int] = {}         # pair -> exchange time of last trade
        self._covered_since: dict[str, int] = {}         # pair -> local ns trades were on
        self._gap_from: dict[str, int] = {}              # pair -> backfill since (ns)
        self._backfills = itertools.count(1)
        self.system_status = ""                          # last systemStatus seen
        self.pings = 0                                   # application pings sent
        self.pongs = 0                                   # and their answers

    # -- what a venue says ---------------------------------------------------------------------
    def url(self, base: str) -> str:
        return base

    def on_connected(self, lst: FeedListener) -> None:
        now = time.monotonic()
        c = self._conns[lst.label] = _Conn(lst.label, now, data_rx=now)
        pairs = list(self.config.symbols)
        lst.send(self._request(lst.label, "subscribe", "book", pairs,
                               {"name": "book", "depth": self.config.depth}))
        for p in pairs:
            c.sub_at[p] = now
        if self.config.trades:
            lst.send(self._request(lst.label, "subscribe", "trade", pairs, {"name": "trade"}))

    def in_sync(self, label: str, symbol: str) -> bool:
        key = (label, symbol)
        book = self.normalizer.books.get(key)
        return book is not None and book.valid and key not in self.normalizer.needs_resync \
            and label not in self._dead

    def forget(self, label: str) -> None:
        self.normalizer.drop_connection(label)
        self._conns.pop(label, None)
        self._dead.discard(label)
        for r in [r for r, (lbl, _) in self._reqs.items() if lbl == label]:
            del self._reqs[r]

    def check_books(self, lst: FeedListener, now: float) -> None:
        c = self._conns.get(lst.label)
        if c is None:
            return
        # liveness: pongs prove the TCP connection, not the data
        if lst.last_rx > c.data_rx and not (0 <= c.pong_rx - lst.last_rx < 0.01):
            c.data_rx = lst.last_rx
        if now - c.data_rx > self.config.stale_after_s:
            self.health.stale_connections += 1
            log.warning("%s: nothing but pongs for %.1f s: reconnecting", lst.label,
                        now - c.data_rx)
            self._dead.add(lst.label)       # its books are not to be read any more
            for s in self.config.symbols:
                self.set_status(s, "stale", "connection sends no data")
            if lst.transport is not None:
                lst.transport.disconnect()
            return
        if now - lst.last_rx >= self.config.ping_idle_s and \
                now - c.last_ping >= self.config.ping_idle_s:
            c.last_ping = now
            c.pings += 1
            self.pings += 1
            reqid = next(self._req_ids)
            self._reqs[reqid] = (lst.label, "ping")
            lst.send(orjson.dumps({"event": "ping", "reqid": reqid}))
        # books: resubscribe the invalid ones, and the ones whose snapshot never came
        books, bad = self.normalizer.books, self.normalizer.needs_resync
        for pair in self.config.symbols:
            key = (lst.label, pair)
            if key in bad:
                wait = self.config.resync_interval_s
            elif key not in books:
                wait = self.config.snapshot_timeout_s
            else:
                continue
            if now - c.sub_at.get(pair, c.opened) >= wait:
                self.health.resubscribes += 1
                log.info("%s %s: %s: subscribing the book again", lst.label, pair,
                         "invalid" if key in bad else "no snapshot")
                self._resubscribe_book(lst, pair, now)
        # trades missed while disconnected
        if self._gap_from and lst is self.live:
            for pair in list(self._gap_from):
                if pair in c.trade_subscribed or now - c.opened >= self.config.backfill_wait_s:
                    self.spawn(self._backfill(pair, self._gap_from.pop(pair)))

    def resubscribe(self, lst: FeedListener, symbol: str) -> None:
        self._resubscribe_book(lst, symbol, time.monotonic())

    def on_dropped(self) -> None:
        if self.rest is None or not self.config.trades:
            return
        for pair in self.config.symbols:
            last = self._last_trade_ns.get(pair)
            since = last - 1 if last is not None else self._covered_since.get(pair)
            if since is not None:
                self._gap_from.setdefault(pair, since)

    # -- requests ------------------------------------------------------------------------------
    def _request(self, label: str, event: str, what: str, pairs: list[str],
                 subscription: dict) -> bytes:
        reqid = next(self._req_ids)
        self._reqs[reqid] = (label, what)
        return orjson.dumps({"event": event, "reqid": reqid, "pair": pairs,
                             "subscription": subscription})

    def _resubscribe_book(self, lst: FeedListener, pair: str, now: float) -> None:
        """Unsubscribe and subscribe a pair's book: Kraken answers with a fresh snapshot."""
        sub = {"name": "book", "depth": self.config.depth}
        lst.send(self._request(lst.label, "unsubscribe", "book", [pair], sub))
        lst.send(self._request(lst.label, "subscribe", "book", [pair], sub))
        c = self._conns.get(lst.label)
        if c is not None:
            c.sub_at[pair] = now

    # -- events --------------------------------------------------------------------------------
    def _on_event(self, msg: dict) -> None:
        event = msg.get("event")
        if event == "pong" or event == "subscriptionStatus":
            reqid = msg.get("reqid")
            req = self._reqs.get(reqid) if type(reqid) is int else None
            c = self._conns.get(req[0]) if req is not None else None
            if c is not None:
                if event == "pong":
                    del self._reqs[reqid]
                    c.pong_rx = time.monotonic()
                    c.pongs += 1
                    self.pongs += 1
                elif msg.get("status") == "subscribed" and req[1] == "trade":
                    pair = msg.get("pair")
                    c.trade_subscribed.add(pair)
                    if pair not in self._gap_from and self.live is not None \
                            and self.live.label == c.label:
                        # trades are seen from now on (local clock: a second of margin)
                        self._covered_since[pair] = time.time_ns() - 1_000_000_000
        elif event == "systemStatus":
            status = str(msg.get("status", ""))
            self.system_status = status
            if status != "online":
                self.normalizer.problem("?", "system_status",
                                        f"Kraken system status {status!r}: {msg!r:.120}")

    # -- trades and backfill -----------------------------------------------------------------
    def _on_trade(self, trade: Trade) -> None:
        if not trade.backfilled:
            key = (trade.symbol, trade.ts_exchange_ns // 1000, _num_key(trade.price),
                   _num_key(trade.size))
            if not self._dedup.admit(key, trade.ts_local_ns):
                return                      # seen live on another connection, or backfilled
            last = self._last_trade_ns.get(trade.symbol)
            if last is None or trade.ts_exchange_ns > last:
                self._last_trade_ns[trade.symbol] = trade.ts_exchange_ns
        if self._user_on_trade is not None:
            self._user_on_trade(trade)

    async def _backfill(self, pair: str, since_ns: int) -> None:
        """Fetch the trades after `since_ns` (Kraken's ns cursor) and emit those not seen live,
        marked backfilled."""
        batch = ("backfill", next(self._backfills))
        started = time.time_ns() - 1_000_000_000
        rest_pair = pair.replace("/", "")
        cursor = since_ns
        for _ in range(self.config.backfill_max_pages):
            if self._stop.is_set():
                return
            try:
                doc = orjson.loads(await self.rest.get_trades_since(rest_pair, from_id=cursor,
                                                                    limit=PAGE))
                if doc.get("error"):
                    raise ValueError(f"Kraken error {doc['error']}")
                result = doc["result"]
                rows = next((v for k, v in result.items() if k != "last"), [])
                last = int(result.get("last") or 0)
            except Exception as e:      # noqa: BLE001 - the gap stays a gap; logged
                log.warning("%s: trade backfill since %d failed: %s", pair, cursor, e)
                self.normalizer.problem(pair, "backfill_failed", str(e))
                return
            for r in rows:
                try:
                    price, volume, when, side = r[0], r[1], r[2], r[3]
                    if type(price) is not str or type(volume) is not str or \
                            side not in ("b", "s"):
                        raise ValueError(f"row {r!r:.80} is not [price, volume, time, side..]")
                    ts_ns = round(float(when) * 1e6) * 1000
                except (TypeError, ValueError, IndexError) as e:
                    self.normalizer.problem(pair, "bad_trade", f"backfill: {e}")
                    continue
                if ts_ns <= since_ns:
                    continue
                key = (pair, ts_ns // 1000, _num_key(price), _num_key(volume))
                if not self._dedup.admit(key, batch):
                    continue
                self.health.backfilled_trades += 1
                if ts_ns > self._last_trade_ns.get(pair, 0):
                    self._last_trade_ns[pair] = ts_ns
                self.normalizer.emit_trade(Trade(
                    "kraken", pair, price, volume, BUY if side == "b" else SELL,
                    str(r[6]) if len(r) > 6 else "", ts_ns, time.time_ns(), True))
            if len(rows) < PAGE or last <= cursor:
                self._covered_since[pair] = started      # no gap left before this
                return
            cursor = last
        log.warning("%s: trade backfill stopped after %d pages", pair,
                    self.config.backfill_max_pages)
