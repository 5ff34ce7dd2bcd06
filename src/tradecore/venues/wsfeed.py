"""What every venue's WebSocket market-data feed shares: connections and their failures.

A feed keeps one WebSocket connection (picows) for a list of symbols. Frames go from picows'
callback straight into the venue normalizer and the compiled books: no queue, no task hop. A
watchdog task (every `check_interval_s`) does everything that may wait: stale detection,
reconnects with exponential backoff and jitter, failover to the next endpoint, the planned
rollover before a venue's connection age limit, and the venue's own book checks (snapshot
requests, resubscriptions).

Connections have generations: each new connection gets a new label (`<name>#<n>`), so its books
are synced from scratch and never mixed with a dead connection's sequence. `book(symbol)` always
answers from the newest connection whose book is in sync; on a planned rollover the new
connection is opened and synced *before* the old one is dropped, so the books never go dark.

Subclasses say how to reach the venue (`url`), what to send once connected (`on_connected`),
how to tell that a symbol's book is in sync (`in_sync`), what to do about books that are not
(`check_books`), and how to forget a dead connection (`forget`).
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from tradecore._fast.book import L2Book
from tradecore.venues.base import BookNormalizer

log = logging.getLogger("tradecore.feed")
_TEXT, _BINARY = WSMsgType.TEXT, WSMsgType.BINARY
_monotonic, _time_ns = time.monotonic, time.time_ns


@dataclass
class FeedConfig:
    """Settings every feed has; venue feeds add theirs. Defaults suit production."""
    symbols: list[str]
    ws_urls: list[str] = field(default_factory=list)   # primary first, then failover endpoints
    stale_after_s: float = 10.0                # no frame at all for this long: reconnect
    book_stale_after_s: float = 60.0           # a book without updates: resubscribe it
    max_connection_age_s: float = 23.5 * 3600  # venues drop old connections (Binance: 24 h)
    backoff_initial_s: float = 0.25
    backoff_max_s: float = 30.0
    failover_after_s: float = 60.0             # down this long: try the next endpoint
    check_interval_s: float = 0.1
    max_frame_size: int = 4 * 1024 * 1024
    name: str = "feed"

    def __post_init__(self) -> None:
        if not self.symbols:
            raise ValueError(f"{type(self).__name__}.symbols: at least one symbol is required")
        for name in ("stale_after_s", "book_stale_after_s", "max_connection_age_s",
                     "backoff_initial_s", "backoff_max_s", "failover_after_s",
                     "check_interval_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{type(self).__name__}.{name} {getattr(self, name)!r}: "
                                 "expected > 0")


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
    resubscribes: int = 0
    snapshots: int = 0
    snapshot_errors: int = 0
    backfilled_trades: int = 0
    callback_errors: int = 0
    endpoint: str = ""
    status: dict = field(default_factory=dict)   # symbol -> "syncing" | "live" | "stale"


class FeedListener(WSListener):
    """picows callbacks: frames go straight to the normalizer."""

    def __init__(self, feed: WsFeed, label: str) -> None:
        self.feed = feed
        self.label = label
        self.norm = feed.normalizer
        self.on_frame = self.norm.on_frame
        self.last_rx = time.monotonic()
        self.opened = self.last_rx
        self.transport: WSTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        # the per-frame path: module-level names only, one bound call into the normalizer
        t = frame.msg_type
        if t == _TEXT or t == _BINARY:
            self.last_rx = _monotonic()
            try:
                self.on_frame(frame.get_payload_as_bytes(), self.label, _time_ns())
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

    def send(self, payload: bytes) -> None:
        if self.transport is not None and not self.closed.done():
            self.transport.send(WSMsgType.TEXT, payload)


class WsFeed(ABC):
    """One venue connection for several symbols, kept connected and in sync."""

    def __init__(self, config: FeedConfig, normalizer: BookNormalizer, *,
                 on_status: Callable[[str, str, str], None] | None = None) -> None:
        """on_status(symbol, status, reason) is told when a book goes live, stale or back to
        syncing: strategies must not trade on a book that is not live."""
        if not config.ws_urls:
            raise ValueError(f"{type(config).__name__}.ws_urls: at least one endpoint needed")
        self.config = config
        self.normalizer = normalizer
        self.on_status = on_status
        self.health = FeedHealth()
        self._gen = 0
        self.live: FeedListener | None = None      # the connection books are read from
        self.next: FeedListener | None = None      # a rollover connection being synced
        self._endpoint = 0
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    # -- what a venue says ---------------------------------------------------------------------
    @abstractmethod
    def url(self, base: str) -> str:
        """The full WebSocket URL on an endpoint."""

    def on_connected(self, lst: FeedListener) -> None:
        """Send the subscriptions (venues that subscribe by URL send nothing)."""

    @abstractmethod
    def in_sync(self, label: str, symbol: str) -> bool:
        """Whether a connection's book of a symbol is synced and may be read."""

    def check_books(self, lst: FeedListener, now: float) -> None:
        """Venue-specific repairs of books not in sync (snapshots, resubscriptions)."""

    def resubscribe(self, lst: FeedListener, symbol: str) -> None:
        """Ask again for a stream that went quiet; the default reconnects."""
        if lst.transport is not None:
            lst.transport.disconnect()

    def forget(self, label: str) -> None:
        """A connection is gone: drop its books."""
        for key in [k for k in self.normalizer.books if k[0] == label]:
            del self.normalizer.books[key]
            self.normalizer.needs_resync.discard(key)

    def on_dropped(self) -> None:
        """The live connection died unplanned (backfill bookkeeping hooks in here)."""

    # -- public ----------------------------------------------------------------------------------
    def book(self, symbol: str) -> L2Book | None:
        """The live book of a symbol, or None while it is syncing or stale."""
        lst = self.live
        if lst is None:
            return None
        b = self.normalizer.books.get((lst.label, symbol))
        return b if b is not None and b.valid and self.in_sync(lst.label, symbol) else None

    async def run(self) -> None:
        """Connect and keep the books in sync until stop()."""
        self._tasks.append(asyncio.create_task(self._watchdog()))
        try:
            await self._supervise()
        finally:
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for lst in (self.live, self.next):
                if lst is not None and lst.transport is not None:
                    lst.transport.disconnect()

    def stop(self) -> None:
        self._stop.set()

    def spawn(self, coro: Awaitable) -> None:
        """Run a side job (snapshot, backfill) that stop() cancels."""
        self._tasks.append(asyncio.ensure_future(coro))

    # -- connections -------------------------------------------------------------------------
    async def _connect(self) -> FeedListener:
        self._gen += 1
        label = f"{self.config.name}#{self._gen}"
        base = self.config.ws_urls[self._endpoint % len(self.config.ws_urls)]
        _, listener = await ws_connect(lambda: FeedListener(self, label), self.url(base),
                                       max_frame_size=self.config.max_frame_size,
                                       enable_auto_pong=True)
        self.health.connects += 1
        self.health.endpoint = base
        log.info("%s: connected to %s", label, base)
        self.on_connected(listener)
        return listener

    async def _supervise(self) -> None:
        backoff = self.config.backoff_initial_s
        down_since: float | None = None
        while not self._stop.is_set():
            try:
                lst = await self._connect()
            except Exception as e:      # noqa: BLE001 - any failure to connect is retried
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
                await self.sleep(delay)
                continue
            backoff = self.config.backoff_initial_s
            down_since = None
            old, self.live = self.live, lst
            if old is not None:
                self._retire(old)
            for s in self.config.symbols:
                self.set_status(s, "syncing", "connected")
            await self._hold(lst)
            if self._stop.is_set():
                return
            if self.live is lst:             # dropped, not rolled over
                self.health.disconnects += 1
                self.health.reconnects += 1
                self.on_dropped()
                for s in self.config.symbols:
                    self.set_status(s, "syncing", "disconnected")

    async def _hold(self, lst: FeedListener) -> None:
        """Wait until this connection dies, or hand over to a newer one at the age limit."""
        while not self._stop.is_set():
            if lst.closed.done():
                return
            if time.monotonic() - lst.opened >= self.config.max_connection_age_s and \
                    self.next is None:
                await self._rollover(lst)
                return
            await self.sleep(self.config.check_interval_s, lst.closed)

    async def _rollover(self, old: FeedListener) -> None:
        """Open the next connection and sync every book on it before dropping the old one."""
        try:
            new = await self._connect()
        except Exception as e:        # noqa: BLE001 - keep the old connection; retry later
            log.warning("%s: rollover connection failed (%s); keeping %s", self.config.name,
                        e, old.label)
            old.opened = time.monotonic() - self.config.max_connection_age_s \
                + self.config.backoff_max_s
            return await self._hold(old)
        self.next = new
        deadline = time.monotonic() + max(30.0, self.config.stale_after_s)
        synced = False
        while time.monotonic() < deadline and not new.closed.done() and not old.closed.done():
            if all(self.in_sync(new.label, s) for s in self.config.symbols):
                synced = True
                break
            await self.sleep(self.config.check_interval_s)
        self.next = None
        if not synced and not old.closed.done():
            # the new connection died or never synced: keep serving from the old one
            log.warning("%s: rollover to %s failed; keeping %s", self.config.name, new.label,
                        old.label)
            self._retire(new)
            old.opened = time.monotonic() - self.config.max_connection_age_s \
                + self.config.backoff_max_s
            return await self._hold(old)
        self.live = new
        self.health.rollovers += 1
        self._retire(old)
        log.info("%s: rolled over to %s", old.label, new.label)
        await self._hold(new)

    def _retire(self, lst: FeedListener) -> None:
        if lst.transport is not None and not lst.closed.done():
            lst.transport.disconnect()
        self.forget(lst.label)

    # -- the watchdog ----------------------------------------------------------------------------
    async def _watchdog(self) -> None:
        while not self._stop.is_set():
            await self.sleep(self.config.check_interval_s)
            now = time.monotonic()
            for lst in (self.live, self.next):
                if lst is None or lst.closed.done():
                    continue
                if now - lst.last_rx > self.config.stale_after_s:
                    self.health.stale_connections += 1
                    log.warning("%s: no frame for %.1f s: reconnecting", lst.label,
                                now - lst.last_rx)
                    for s in self.config.symbols:
                        self.set_status(s, "stale", "connection silent")
                    lst.transport.disconnect()
                    continue
                self.check_books(lst, now)
                if lst is self.live and not lst.closed.done() and \
                        lst.transport is not None and not lst.transport.is_disconnected:
                    self._book_status(lst)
            self._tasks = [t for t in self._tasks if not t.done()]

    def _book_status(self, lst: FeedListener) -> None:
        now_ns = time.time_ns()
        for s in self.config.symbols:
            book = self.normalizer.books.get((lst.label, s))
            if book is not None and book.valid and self.in_sync(lst.label, s):
                if now_ns - book.ts_ns > self.config.book_stale_after_s * 1e9:
                    if self.health.status.get(s) != "stale":
                        self.health.stale_books += 1
                        self.health.resubscribes += 1
                        self.set_status(s, "stale", "no book update")
                        self.resubscribe(lst, s)
                else:
                    self.set_status(s, "live", "in sync")
            else:
                self.set_status(s, "syncing", "waiting for snapshot")

    # -- helpers -------------------------------------------------------------------------------
    def set_status(self, symbol: str, status: str, reason: str) -> None:
        if self.health.status.get(symbol) == status:
            return
        self.health.status[symbol] = status
        if self.on_status is not None:
            try:
                self.on_status(symbol, status, reason)
            except Exception:         # noqa: BLE001
                self.health.callback_errors += 1
                log.exception("on_status callback raised")

    async def sleep(self, seconds: float, wake: Awaitable | None = None) -> None:
        """Sleep, waking early on stop() or when `wake` completes."""
        waits = [asyncio.ensure_future(self._stop.wait())]
        if wake is not None:
            waits.append(asyncio.ensure_future(asyncio.shield(wake)))
        sleeper = asyncio.ensure_future(asyncio.sleep(seconds))
        _, pending = await asyncio.wait([sleeper, *waits], return_when=asyncio.FIRST_COMPLETED)
        for p in pending:
            p.cancel()
