"""Coinbase Advanced Trade market data feed: level2 (+ market_trades, heartbeats) on one socket.

The connection machinery (generations, reconnects, failover, rollover, stale detection) is
`venues.wsfeed.WsFeed`'s. What is Coinbase's:

* Subscriptions are messages: `{"type": "subscribe", "product_ids": [...], "channel": ...}`,
  one per channel, sent as soon as the socket is open (Coinbase closes a connection that has
  not subscribed within a few seconds). The public channels need no credentials. When a JWT is
  configured (only ever through the environment: `CoinbaseFeedConfig.jwt_env` names the
  variable, or a `jwt` callable is injected) it is added to each subscribe message; it is
  never logged, never kept on the config and never part of a repr.
* `heartbeats` are subscribed by default: Coinbase closes quiet subscriptions after 60-90 s,
  and a heartbeat every second keeps both the liveness watchdog (`stale_after_s`) and the
  connection-wide `sequence_num` flowing, so a lost message shows as a gap within a second
  even when the books are quiet.
* A book is in sync when its connection's `l2_data` snapshot has been applied and nothing has
  invalidated it since (`CoinbaseNormalizer`: a `sequence_num` gap invalidates *every* book of
  the connection, a crossed book or an unreadable update invalidates one).
* A full-depth snapshot is large (BTC-USD: ~46k levels, ~5 MB of JSON in one frame), so
  `max_frame_size` defaults to 64 MiB here, not the base 4 MiB.

Repairing books after a gap (`check_books`): first *resubscribe on the same connection*
(`unsubscribe` + `subscribe` of level2 for the invalid products). Coinbase answers every level2
subscribe with a fresh `l2_data` snapshot (the simulator does too), the per-connection
`sequence_num` simply keeps counting (the subscribe acknowledgements are numbered messages of the
same stream), the normalizer drops updates for the invalid book until that snapshot replaces it,
and market_trades, heartbeats and any other product's subscription are untouched: no trades are
missed and nothing else goes dark, which a reconnect cannot promise. If the books are still not
in sync after `resync_attempts` resubscribes spaced `resync_retry_s` apart (the venue did not
re-send a snapshot, or gaps keep coming), the connection is closed and the base class
reconnects: a new generation has a new sequence origin and gets fresh snapshots, which is always
correct. The spacing is the rate limit: at most one resubscribe per connection per
`resync_retry_s`, and at most one forced reconnect per `resync_attempts * resync_retry_s` (a
connection is never dropped for being out of sync sooner than that). `resync_attempts = 0`
reconnects at once. A book that never got its first snapshot is treated the same way once
`snapshot_timeout_s` has passed since the connection opened.

Trades missed while disconnected are fetched over REST (`rest.get_trades_since(symbol,
from_ts=...)`, Coinbase's `products/{id}/ticker`, which pages by time only) from the time of the
last trade seen before the drop up to the first live trade after it, and are emitted as
`Trade(..., backfilled=True)`, oldest first. Every trade (live, the `market_trades` snapshot sent
on subscribe, backfilled) is de-duplicated by trade_id per product, so each trade reaches
`on_trade` once whichever path delivered it first. `rest` may be None: no backfill.
"""
from __future__ import annotations

import logging
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.coinbase.normalize import CoinbaseNormalizer, iso_ns
from tradecore.venues.wsfeed import FeedConfig, FeedListener, WsFeed

log = logging.getLogger("tradecore.feed.coinbase")

WS_URLS = ["wss://advanced-trade-ws.coinbase.com"]
CHANNELS = ("level2", "market_trades", "heartbeats", "ticker", "ticker_batch", "candles",
            "status")
# `side` of a Coinbase trade is the maker's; the aggressor is the other side (normalize.py)
_AGGRESSOR = {"BUY": SELL, "SELL": BUY}


class CoinbaseRest(Protocol):
    """The REST call the feed needs (venues.rest.RestClient has it); raw bytes, so prices keep
    their exact text. Coinbase pages trades by time only (from_ts, ns since the epoch)."""
    async def get_trades_since(self, symbol: str, from_id: int | str | None = None,
                               from_ts: int | None = None, limit: int | None = None,
                               kind: str = "agg") -> bytes: ...


@dataclass
class CoinbaseFeedConfig(FeedConfig):
    channels: list[str] = field(
        default_factory=lambda: ["level2", "market_trades", "heartbeats"])
    max_frame_size: int = 64 * 1024 * 1024     # a full-depth l2_data snapshot is ~5 MB
    snapshot_timeout_s: float = 10.0           # first snapshot of a connection: wait this long
    resync_retry_s: float = 3.0                # min time between resubscribes of a connection
    resync_attempts: int = 2                   # resubscribes before reconnecting (0: reconnect)
    backfill_limit: int = 1000                 # trades per REST page (Coinbase's maximum)
    trade_id_memory: int = 10_000              # trade ids remembered per product for de-dup
    jwt_env: str = ""                          # name of an env variable holding a JWT, if any
    name: str = "coinbase"

    def __post_init__(self) -> None:
        if not self.ws_urls:
            self.ws_urls = list(WS_URLS)
        self.symbols = [s.upper() for s in self.symbols]
        self.channels = list(dict.fromkeys(self.channels))
        bad = [c for c in self.channels if c not in CHANNELS]
        if bad:
            raise ValueError(f"CoinbaseFeedConfig.channels {bad!r}: expected some of "
                             f"{', '.join(CHANNELS)}")
        if "level2" not in self.channels:
            raise ValueError("CoinbaseFeedConfig.channels: 'level2' is required (the books)")
        for name in ("snapshot_timeout_s", "resync_retry_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"CoinbaseFeedConfig.{name} {getattr(self, name)!r}: "
                                 "expected > 0")
        for name, lo in (("resync_attempts", 0), ("backfill_limit", 1), ("trade_id_memory", 1)):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise ValueError(f"CoinbaseFeedConfig.{name} {v!r}: expected an integer "
                                 f">= {lo}")
        super().__post_init__()


@dataclass
class _Resync:
    """Book repair state of one connection."""
    last_resub: float = -1e18       # monotonic time of the last resubscribe
    attempts: int = 0               # resubscribes since its books were last all in sync


class CoinbaseFeed(WsFeed):
    """level2 (+ market_trades, heartbeats) of several products on one Coinbase connection."""

    def __init__(self, config: CoinbaseFeedConfig, rest: CoinbaseRest | None = None, *,
                 normalizer: CoinbaseNormalizer | None = None,
                 on_trade: Callable[[Trade], None] | None = None,
                 on_status: Callable[[str, str, str], None] | None = None,
                 jwt: Callable[[], str | None] | None = None) -> None:
        """jwt: returns a fresh JWT for each subscribe message (Coinbase JWTs expire within
        minutes); without it, config.jwt_env is read from the environment when set."""
        super().__init__(config, normalizer or CoinbaseNormalizer(), on_status=on_status)
        self.config: CoinbaseFeedConfig = config
        self.rest = rest
        self._jwt = jwt
        self._user_on_trade = on_trade
        self.normalizer.on_trade = self._on_trade
        self._resync: dict[str, _Resync] = {}
        self.gap_reconnects = 0                     # connections closed to repair books
        self._seen: dict[str, OrderedDict[str, None]] = {}   # symbol -> recent trade ids
        self._last_trade_ns: dict[str, int] = {}    # symbol -> exchange time of the newest
        self._gap_from: dict[str, int] = {}         # symbol -> last trade time before a drop

    # -- what a venue says ---------------------------------------------------------------------
    def url(self, base: str) -> str:
        return base

    def _message(self, kind: str, channel: str, products: list[str] | None) -> bytes:
        msg: dict = {"type": kind}
        if products is not None:
            msg["product_ids"] = products
        msg["channel"] = channel
        token = self._token()
        if token:
            msg["jwt"] = token
        return orjson.dumps(msg)

    def _token(self) -> str | None:
        if self._jwt is not None:
            return self._jwt()
        if self.config.jwt_env:
            return os.environ.get(self.config.jwt_env) or None
        return None

    def on_connected(self, lst: FeedListener) -> None:
        # heartbeats first: liveness and the sequence flow from the first second
        for ch in sorted(self.config.channels, key=lambda c: c != "heartbeats"):
            lst.send(self._message("subscribe", ch, None if ch == "heartbeats"
                                   else list(self.config.symbols)))
        log.info("%s: subscribed %s for %s", lst.label, ", ".join(self.config.channels),
                 ", ".join(self.config.symbols))

    def in_sync(self, label: str, symbol: str) -> bool:
        key = (label, symbol)
        book = self.normalizer.books.get(key)
        return book is not None and bool(book.valid) and key not in self.normalizer.needs_resync

    def forget(self, label: str) -> None:
        self.normalizer.reset_connection(label)
        self._resync.pop(label, None)

    def check_books(self, lst: FeedListener, now: float) -> None:
        """Resubscribe the products whose books are out of sync, rate-limited; reconnect when
        that has not helped (module doc)."""
        label = lst.label
        st = self._resync.get(label)
        if st is None:
            st = self._resync[label] = _Resync()
        due = []
        first_wait = now - lst.opened < self.config.snapshot_timeout_s
        for s in self.config.symbols:
            if self.in_sync(label, s):
                continue
            if (label, s) not in self.normalizer.books and first_wait:
                continue                        # its first snapshot may still be on its way
            due.append(s)
        if not due:
            if st.attempts and all(self.in_sync(label, s) for s in self.config.symbols):
                log.info("%s: books back in sync after %d resubscribe(s)", label, st.attempts)
                st.attempts = 0
            return
        if now - st.last_resub < self.config.resync_retry_s:
            return                              # a snapshot asked for may still be coming
        if st.attempts >= self.config.resync_attempts:
            if lst is not self.live:
                return      # a rollover connection: the old one serves until it gives up
            if lst.transport is not None and not lst.closed.done():
                self.gap_reconnects += 1
                log.warning("%s: %s not in sync after %d resubscribe(s): reconnecting",
                            label, ", ".join(due), st.attempts)
                st.last_resub = now             # once per connection, even if the close lags
                lst.transport.disconnect()
            return
        st.attempts += 1
        st.last_resub = now
        self.health.resubscribes += 1
        log.warning("%s: %s not in sync: resubscribing level2 (attempt %d of %d)", label,
                    ", ".join(due), st.attempts, self.config.resync_attempts)
        self._resubscribe(lst, due)

    def resubscribe(self, lst: FeedListener, symbol: str) -> None:
        """A book that went quiet: ask for its level2 again (a new snapshot follows)."""
        self._resubscribe(lst, [symbol])

    def _resubscribe(self, lst: FeedListener, symbols: list[str]) -> None:
        lst.send(self._message("unsubscribe", "level2", symbols))
        lst.send(self._message("subscribe", "level2", symbols))

    # -- trades and backfill -------------------------------------------------------------------
    def on_dropped(self) -> None:
        for s, last in self._last_trade_ns.items():
            self._gap_from.setdefault(s, last)

    def _remember(self, symbol: str, trade_id: str) -> bool:
        """Record a trade id; False when it was seen already."""
        seen = self._seen.get(symbol)
        if seen is None:
            seen = self._seen[symbol] = OrderedDict()
        if trade_id in seen:
            return False
        seen[trade_id] = None
        if len(seen) > self.config.trade_id_memory:
            seen.popitem(last=False)
        return True

    def _on_trade(self, trade: Trade) -> None:
        s = trade.symbol
        if not self._remember(s, trade.trade_id):
            return                              # seen already (previous connection, backfill)
        if trade.ts_exchange_ns > self._last_trade_ns.get(s, 0):
            self._last_trade_ns[s] = trade.ts_exchange_ns
        if not trade.backfilled:
            gap_from = self._gap_from.pop(s, None)
            if gap_from is not None and self.rest is not None:
                self.spawn(self._backfill(s, gap_from, trade.ts_exchange_ns))
        if self._user_on_trade is not None:
            self._user_on_trade(trade)

    async def _backfill(self, symbol: str, from_ns: int, to_ns: int) -> None:
        """Emit the trades of [from_ns, to_ns] not seen yet, oldest first, as backfilled."""
        limit = self.config.backfill_limit
        try:
            body = await self.rest.get_trades_since(symbol, from_ts=from_ns, limit=limit)
            rows = orjson.loads(body).get("trades")
        except Exception as e:     # noqa: BLE001 - a lost backfill is logged, never fatal
            log.warning("%s: trade backfill from %d failed: %s", symbol, from_ns, e)
            return
        if not isinstance(rows, list):
            log.warning("%s: trade backfill: no trades list in the answer", symbol)
            return
        picked = []
        for r in rows:
            if not isinstance(r, dict):
                continue
            t_ns = iso_ns(r.get("time"))
            tid = r.get("trade_id")
            if type(tid) is int:
                tid = str(tid)
            aggr = _AGGRESSOR.get(r.get("side")) if isinstance(r.get("side"), str) else None
            if t_ns is None or not isinstance(tid, str) or aggr is None or \
                    not isinstance(r.get("price"), str) or not isinstance(r.get("size"), str) \
                    or r.get("product_id", symbol) != symbol:
                log.warning("%s: trade backfill: unreadable trade %.120r", symbol, r)
                continue
            if from_ns <= t_ns <= to_ns:
                picked.append((t_ns, int(tid) if tid.isdigit() else 0, tid, r, aggr))
        if len(rows) >= limit and picked:
            log.warning("%s: trade backfill got a full page (%d): trades older than %s may "
                        "be missing", symbol, limit, min(p[0] for p in picked))
        now = time.time_ns()
        for t_ns, _, tid, r, aggr in sorted(picked, key=lambda p: p[:2]):
            if self._stop.is_set():
                return
            if tid in self._seen.get(symbol, ()):
                continue
            self.health.backfilled_trades += 1
            self.normalizer.emit_trade(Trade("coinbase", symbol, r["price"], r["size"], aggr,
                                             tid, t_ns, now, True))
