"""Binance market data feed: combined depth (+ aggTrade) streams synced to REST snapshots.

The connection machinery (generations, reconnects, failover, the 24 h rollover, stale
detection) is `venues.wsfeed.WsFeed`'s. What is Binance's: streams are chosen in the URL, a book
is synced by a REST depth snapshot taken after the diffs started (the normalizer applies
Binance's documented rule), a quiet stream is re-requested with UNSUBSCRIBE/SUBSCRIBE, and
trades missed while disconnected are fetched by aggTrade id and marked backfilled.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import orjson

from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.binance.normalize import BinanceNormalizer
from tradecore.venues.wsfeed import FeedConfig, FeedListener, WsFeed

log = logging.getLogger("tradecore.feed.binance")

WS_URLS = {
    "spot": ["wss://stream.binance.com:9443", "wss://stream.binance.com:443",
             "wss://data-stream.binance.vision"],
    "usdm": ["wss://fstream.binance.com"],
    "coinm": ["wss://dstream.binance.com"],
}


class BinanceRest(Protocol):
    """The REST calls the feed needs (venues.rest.RestClient has them); raw bytes, so prices
    keep their exact text."""
    async def depth(self, symbol: str, limit: int) -> bytes: ...
    async def agg_trades(self, symbol: str, from_id: int, limit: int) -> bytes: ...


@dataclass
class BinanceFeedConfig(FeedConfig):
    market: str = "spot"                       # spot | usdm | coinm
    depth_stream: str = "depth@100ms"
    trades: bool = True                        # aggTrade stream (backfillable by id)
    snapshot_limit: int = 1000
    snapshot_retry_s: float = 1.0              # min time between snapshot requests per book
    name: str = "binance"

    def __post_init__(self) -> None:
        if self.market not in WS_URLS:
            raise ValueError(f"BinanceFeedConfig.market {self.market!r}: expected one of "
                             f"{', '.join(WS_URLS)}")
        if not self.ws_urls:
            self.ws_urls = list(WS_URLS[self.market])
        self.symbols = [s.upper() for s in self.symbols]
        super().__post_init__()


class BinanceFeed(WsFeed):
    """Depth (+ aggTrade) streams of several symbols on one Binance connection."""

    def __init__(self, config: BinanceFeedConfig, rest: BinanceRest, *,
                 normalizer: BinanceNormalizer | None = None,
                 on_trade: Callable[[Trade], None] | None = None,
                 on_status: Callable[[str, str, str], None] | None = None) -> None:
        super().__init__(config, normalizer or BinanceNormalizer(symbols=config.symbols),
                         on_status=on_status)
        self.config: BinanceFeedConfig = config
        self.rest = rest
        self._user_on_trade = on_trade
        self.normalizer.on_trade = self._on_trade
        self._snap_inflight: set[tuple[str, str]] = set()
        self._snap_last: dict[tuple[str, str], float] = {}
        self._last_trade_id: dict[str, int] = {}
        self._gap_from: dict[str, int] = {}         # symbol -> last trade id before a drop
        self._req_id = 0

    def url(self, base: str) -> str:
        streams = []
        for s in self.config.symbols:
            streams.append(f"{s.lower()}@{self.config.depth_stream}")
            if self.config.trades:
                streams.append(f"{s.lower()}@aggTrade")
        return f"{base.rstrip('/')}/stream?streams={'/'.join(streams)}"

    def in_sync(self, label: str, symbol: str) -> bool:
        return self.normalizer.synced(label, symbol)

    def forget(self, label: str) -> None:
        self.normalizer.drop_connection(label)

    def check_books(self, lst: FeedListener, now: float) -> None:
        """Request a snapshot for every book of this connection that waits for one."""
        for s in self.normalizer.waiting_for_snapshot(lst.label):
            key = (lst.label, s)
            if key not in self._snap_inflight and \
                    now - self._snap_last.get(key, -1e9) >= self.config.snapshot_retry_s:
                self._snap_inflight.add(key)
                self._snap_last[key] = now
                self.spawn(self._snapshot(lst, s))

    def resubscribe(self, lst: FeedListener, symbol: str) -> None:
        stream = f"{symbol.lower()}@{self.config.depth_stream}"
        for method in ("UNSUBSCRIBE", "SUBSCRIBE"):
            self._req_id += 1
            lst.send(orjson.dumps({"method": method, "params": [stream], "id": self._req_id}))

    async def _snapshot(self, lst: FeedListener, symbol: str) -> None:
        key = (lst.label, symbol)
        try:
            body = await self.rest.depth(symbol, self.config.snapshot_limit)
        except Exception as e:       # noqa: BLE001 - retried by the watchdog
            self.health.snapshot_errors += 1
            log.warning("%s %s: snapshot failed: %s", lst.label, symbol, e)
            return
        finally:
            self._snap_inflight.discard(key)
        if lst.closed.done():
            return
        self.health.snapshots += 1
        self.normalizer.on_snapshot(lst.label, symbol, body, time.time_ns())

    # -- trades and backfill -----------------------------------------------------------------
    def on_dropped(self) -> None:
        for s, last in self._last_trade_id.items():
            self._gap_from.setdefault(s, last)

    def _on_trade(self, trade: Trade) -> None:
        s = trade.symbol
        tid = int(trade.trade_id)
        last = self._last_trade_id.get(s)
        if last is not None and tid <= last and not trade.backfilled:
            return                                  # seen on the previous connection
        gap_from = self._gap_from.pop(s, None)
        if gap_from is not None and tid > gap_from + 1:
            self.spawn(self._backfill(s, gap_from + 1, tid - 1))
        if not trade.backfilled:
            self._last_trade_id[s] = tid
        if self._user_on_trade is not None:
            self._user_on_trade(trade)

    async def _backfill(self, symbol: str, first: int, last: int) -> None:
        """Fetch the aggTrades [first, last] missed while disconnected, marked backfilled."""
        nxt = first
        while nxt <= last and not self._stop.is_set():
            try:
                rows = orjson.loads(await self.rest.agg_trades(symbol, nxt, 1000))
            except Exception as e:     # noqa: BLE001
                log.warning("%s: trade backfill from %d failed: %s", symbol, nxt, e)
                return
            if not rows:
                return
            before = nxt
            for r in rows:
                tid = int(r["a"])
                if tid > last:
                    return
                if tid < nxt:
                    continue
                self.health.backfilled_trades += 1
                self.normalizer.emit_trade(Trade(
                    "binance", symbol, r["p"], r["q"], SELL if r["m"] else BUY, str(tid),
                    int(r["T"]) * 1_000_000, time.time_ns(), True))
                nxt = tid + 1
            if nxt == before:          # the page held nothing new: do not ask again forever
                return
