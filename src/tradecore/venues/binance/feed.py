"""Binance market data feed: picows WebSocket, REST snapshots, and the failure handling that
keeps the books right.

One `BinanceFeed` serves a list of symbols on one connection (combined streams). Frames go from
picows' callback straight into the normalizer and the compiled book: no queue, no task hop. A
watchdog task (every `check_interval_s`) does everything that may wait: snapshot requests,
stale detection, reconnects, the planned rollover before Binance's 24 h connection limit, and
the REST backfill of trades missed while disconnected.

Connections have generations: each new connection gets a new label (`<name>#<n>`), so its books
are synced from scratch and never mixed with a dead connection's sequence. `book(symbol)` always
answers from the newest connection whose book is synced; on a planned rollover the new
connection is opened and synced *before* the old one is dropped, so the books never go dark.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from tradecore._fast.book import L2Book
from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.binance.normalize import BinanceNormalizer

log = logging.getLogger("tradecore.feed.binance")

WS_URLS = {
    "spot": ["wss://stream.binance.com:9443", "wss://stream.binance.com:443",
             "wss://data-stream.binance.vision"],
    "usdm": ["wss://fstream.binance.com"],
    "coinm": ["wss://dstream.binance.com"],
}


class BinanceRest(Protocol):
    """The REST calls the feed needs; raw bytes, so prices keep their exact text."""
    async def depth(self, symbol: str, limit: int) -> bytes: ...
    async def agg_trades(self, symbol: str, from_id: int, limit: int) -> bytes: ...


@dataclass
class FeedConfig:
    """Every setting has a default that suits Binance spot in production."""
    symbols: list[str]
    market: str = "spot"                       # spot | usdm | coinm
    ws_urls: list[str] | None = None           # primary first, then failover endpoints
    depth_stream: str = "depth@100ms"
    trades: bool = True                        # aggTrade stream (backfillable by id)
    snapshot_limit: int = 1000
    stale_after_s: float = 10.0                # no frame at all for this long: reconnect
    book_stale_after_s: float = 60.0           # a book without updates: resubscribe it
    max_connection_age_s: float = 23.5 * 3600  # Binance drops connections at 24 h
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 30.0
    failover_after_s: float = 60.0             # down this long: try the next endpoint
    snapshot_retry_s: float = 1.0              # min time between snapshot requests per book
    check_interval_s: float = 0.1
    max_frame_size: int = 4 * 1024 * 1024
    name: str = "binance"

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError("FeedConfig.symbols: at least one symbol is required")
        if self.market not in WS_URLS:
            raise ValueError(f"FeedConfig.market {self.market!r}: expected one of "
                             f"{', '.join(WS_URLS)}")
        for name in ("stale_after_s", "book_stale_after_s", "max_connection_age_s",
                     "backoff_initial_s", "backoff_max_s", "failover_after_s",
                     "check_interval_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FeedConfig.{name} {getattr(self, name)!r}: expected > 0")
        self.symbols = [s.upper() for s in self.symbols]
        if self.ws_urls is None:
            self.ws_urls = list(WS_URLS[self.market])


@dataclass
class FeedHealth:
    """Counters for the metrics layer."""
    connects: int = 0
    disconnects: int = 0
    reconnects: int = 0
    rollovers: int = 0
    failovers: int = 0
    stale_connections: int = 0
    stale_books: int = 0
    snapshots: int = 0
    snapshot_errors: int = 0
    backfilled_trades: int = 0
    callback_errors: int = 0
    endpoint: str = ""
    status: dict = field(default_factory=dict)   # symbol -> "syncing" | "live" | "stale"


class _Listener(WSListener):
    """picows callbacks: frames go straight to the normalizer."""

    def __init__(self, feed: BinanceFeed, label: str) -> None:
        self.feed = feed
        self.label = label
        self.norm = feed.normalizer
        self.last_rx = time.monotonic()
        self.transport: WSTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        t = frame.msg_type
        if t == WSMsgType.TEXT or t == WSMsgType.BINARY:
            self.last_rx = time.monotonic()
            try:
                self.norm.on_frame(frame.get_payload_as_bytes(), self.label, time.time_ns())
            except Exception:     # a strategy callback raised: never lose the connection
                self.feed.health.callback_errors += 1
                log.exception("%s: exception in a book/trade callback", self.label)
        elif t == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif t == WSMsgType.CLOSE:
            log.warning("%s: server closed the connection (code %s)", self.label,
                        frame.get_close_code())
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class BinanceFeed:
    """Depth (+ aggTrade) streams of several symbols on one connection, kept in sync."""

    def __init__(self, config: FeedConfig, rest: BinanceRest, *,
                 normalizer: BinanceNormalizer | None = None,
                 on_trade: Callable[[Trade], None] | None = None,
                 on_status: Callable[[str, str, str], None] | None = None) -> None:
        """on_status(symbol, status, reason) is told when a book goes live, stale or back to
        syncing: strategies must not trade on a book that is not live."""
        self.config = config
        self.rest = rest
        self.normalizer = normalizer or BinanceNormalizer(symbols=config.symbols)
        self._user_on_trade = on_trade
        self.normalizer.on_trade = self._on_trade
        self.on_status = on_status
        self.health = FeedHealth()
        self._gen = 0
        self._live: _Listener | None = None        # the connection books are read from
        self._next: _Listener | None = None        # a rollover connection being synced
        self._endpoint = 0
        self._stop = asyncio.Event()
        self._snap_inflight: set[tuple[str, str]] = set()
        self._snap_last: dict[tuple[str, str], float] = {}
        self._last_trade_id: dict[str, int] = {}
        self._gap_from: dict[str, int] = {}         # symbol -> last trade id before a drop
        self._tasks: list[asyncio.Task] = []

    # -- public ----------------------------------------------------------------------------------
    def book(self, symbol: str) -> L2Book | None:
        """The live book of a symbol, or None while it is syncing or stale."""
        lst = self._live
        if lst is None:
            return None
        b = self.normalizer.books.get((lst.label, symbol))
        return b if b is not None and b.valid and self.normalizer.synced(lst.label, symbol) \
            else None

    async def run(self) -> None:
        """Connect and keep the books in sync until stop()."""
        self._tasks.append(asyncio.create_task(self._watchdog()))
        try:
            await self._supervise()
        finally:
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for lst in (self._live, self._next):
                if lst is not None and lst.transport is not None:
                    lst.transport.disconnect()

    def stop(self) -> None:
        self._stop.set()

    # -- connections -------------------------------------------------------------------------
    def _url(self) -> str:
        base = self.config.ws_urls[self._endpoint % len(self.config.ws_urls)]
        streams = []
        for s in self.config.symbols:
            streams.append(f"{s.lower()}@{self.config.depth_stream}")
            if self.config.trades:
                streams.append(f"{s.lower()}@aggTrade")
        return f"{base.rstrip('/')}/stream?streams={'/'.join(streams)}"

    async def _connect(self) -> _Listener:
        self._gen += 1
        label = f"{self.config.name}#{self._gen}"
        url = self._url()
        _, listener = await ws_connect(lambda: _Listener(self, label), url,
                                       max_frame_size=self.config.max_frame_size,
                                       enable_auto_pong=True)
        self.health.connects += 1
        self.health.endpoint = url.split("/stream")[0]
        log.info("%s: connected to %s", label, self.health.endpoint)
        return listener

    async def _supervise(self) -> None:
        backoff = self.config.backoff_initial_s
        down_since: float | None = None
        while not self._stop.is_set():
            try:
                lst = await self._connect()
            except (OSError, asyncio.TimeoutError, Exception) as e:   # noqa: BLE001
                now = time.monotonic()
                down_since = down_since or now
                if now - down_since >= self.config.failover_after_s \
                        and len(self.config.ws_urls) > 1:
                    self._endpoint += 1
                    self.health.failovers += 1
                    down_since = now
                    log.error("%s: down for %.0f s, failing over to %s", self.config.name,
                              self.config.failover_after_s,
                              self.config.ws_urls[self._endpoint % len(self.config.ws_urls)])
                delay = backoff * (0.5 + random.random())       # jitter: no thundering herd
                log.warning("%s: connect failed (%s); retry in %.2f s", self.config.name, e,
                            delay)
                backoff = min(backoff * 2, self.config.backoff_max_s)
                await self._sleep(delay)
                continue
            backoff = self.config.backoff_initial_s
            down_since = None
            old, self._live = self._live, lst
            if old is not None:
                self._retire(old)
            for s in self.config.symbols:
                self._set_status(s, "syncing", "connected")
            await self._hold(lst)
            if self._stop.is_set():
                return
            if self._live is lst:            # dropped, not rolled over
                self.health.disconnects += 1
                self.health.reconnects += 1
                for s in self.config.symbols:
                    if s in self._last_trade_id:
                        self._gap_from.setdefault(s, self._last_trade_id[s])
                    self._set_status(s, "syncing", "disconnected")

    async def _hold(self, lst: _Listener) -> None:
        """Wait until this connection dies, or hand over to a newer one at the age limit."""
        opened = time.monotonic()
        while not self._stop.is_set():
            if lst.closed.done():
                return
            if time.monotonic() - opened >= self.config.max_connection_age_s and \
                    self._next is None:
                await self._rollover(lst)
                return
            await self._sleep(self.config.check_interval_s, lst.closed)

    async def _rollover(self, old: _Listener) -> None:
        """Open the next connection and sync every book on it before dropping the old one."""
        try:
            new = await self._connect()
        except Exception as e:        # noqa: BLE001 - keep the old connection; retry later
            log.warning("%s: rollover connection failed (%s); keeping %s", self.config.name,
                        e, old.label)
            return
        self._next = new
        deadline = time.monotonic() + max(30.0, self.config.stale_after_s)
        while time.monotonic() < deadline and not new.closed.done():
            if all(self.normalizer.synced(new.label, s) for s in self.config.symbols):
                break
            await self._sleep(self.config.check_interval_s)
        self._next = None
        self._live = new
        self.health.rollovers += 1
        self._retire(old)
        log.info("%s: rolled over to %s", old.label, new.label)
        await self._hold(new)

    def _retire(self, lst: _Listener) -> None:
        if lst.transport is not None and not lst.closed.done():
            lst.transport.disconnect()
        self.normalizer.drop_connection(lst.label)

    # -- the watchdog ----------------------------------------------------------------------------
    async def _watchdog(self) -> None:
        while not self._stop.is_set():
            await self._sleep(self.config.check_interval_s)
            now = time.monotonic()
            for lst in (self._live, self._next):
                if lst is None or lst.closed.done():
                    continue
                if now - lst.last_rx > self.config.stale_after_s:
                    self.health.stale_connections += 1
                    log.warning("%s: no frame for %.1f s: reconnecting", lst.label,
                                now - lst.last_rx)
                    for s in self.config.symbols:
                        self._set_status(s, "stale", "connection silent")
                    lst.transport.disconnect()
                    continue
                self._check_books(lst, now)

    def _check_books(self, lst: _Listener, now: float) -> None:
        norm = self.normalizer
        for s in norm.waiting_for_snapshot(lst.label):
            key = (lst.label, s)
            if key not in self._snap_inflight and \
                    now - self._snap_last.get(key, -1e9) >= self.config.snapshot_retry_s:
                self._snap_inflight.add(key)
                self._snap_last[key] = now
                self._tasks.append(asyncio.create_task(self._snapshot(lst, s)))
        now_ns = time.time_ns()
        for s in self.config.symbols:
            book = norm.books.get((lst.label, s))
            synced = norm.synced(lst.label, s)
            if lst is self._live:
                if synced and book is not None and book.valid:
                    if now_ns - book.ts_ns > self.config.book_stale_after_s * 1e9:
                        if self.health.status.get(s) != "stale":
                            self.health.stale_books += 1
                            self._set_status(s, "stale", "no book update")
                            self._resubscribe(lst, s)
                    else:
                        self._set_status(s, "live", "in sync")
                else:
                    self._set_status(s, "syncing", "waiting for snapshot")
        self._tasks = [t for t in self._tasks if not t.done()]

    def _resubscribe(self, lst: _Listener, symbol: str) -> None:
        """Ask the server again for a quiet stream; the book resyncs from a fresh snapshot."""
        stream = f"{symbol.lower()}@{self.config.depth_stream}"
        if lst.transport is None:
            return
        for method in ("UNSUBSCRIBE", "SUBSCRIBE"):
            self._req_id = getattr(self, "_req_id", 0) + 1
            lst.transport.send(WSMsgType.TEXT, orjson.dumps(
                {"method": method, "params": [stream], "id": self._req_id}))

    async def _snapshot(self, lst: _Listener, symbol: str) -> None:
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
    def _on_trade(self, trade: Trade) -> None:
        s = trade.symbol
        tid = int(trade.trade_id)
        last = self._last_trade_id.get(s)
        if last is not None and tid <= last and not trade.backfilled:
            return                                  # seen on the previous connection
        gap_from = self._gap_from.pop(s, None)
        if gap_from is not None and tid > gap_from + 1:
            self._tasks.append(asyncio.create_task(self._backfill(s, gap_from + 1, tid - 1)))
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
            for r in rows:
                tid = int(r["a"])
                if tid > last:
                    return
                if tid < nxt:
                    continue
                self.health.backfilled_trades += 1
                trade = Trade("binance", symbol, r["p"], r["q"], SELL if r["m"] else BUY,
                              str(tid), int(r["T"]) * 1_000_000, time.time_ns(), True)
                self.normalizer.emit_trade(trade)
                nxt = tid + 1

    # -- helpers -------------------------------------------------------------------------------
    def _set_status(self, symbol: str, status: str, reason: str) -> None:
        if self.health.status.get(symbol) == status:
            return
        self.health.status[symbol] = status
        if self.on_status is not None:
            try:
                self.on_status(symbol, status, reason)
            except Exception:         # noqa: BLE001
                self.health.callback_errors += 1
                log.exception("on_status callback raised")

    async def _sleep(self, seconds: float, wake: Awaitable | None = None) -> None:
        waits = [asyncio.ensure_future(self._stop.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(asyncio.shield(wake)))
        sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
        done, pending = await asyncio.wait([sleeper, *waits], return_when=asyncio.FIRST_COMPLETED)
        for p in pending:
            p.cancel()
