"""NATS JetStream underneath the nodes: connecting and reconnecting, the streams, publishing
with retries, and reading a stream from a sequence number.

Delivery is at-least-once at both ends and made exactly-once-in-effect by numbers, not by
server state:

* publishing: every message carries a `Nats-Msg-Id` (the sender's own sequence), and a publish
  whose acknowledgement does not come (server down, connection lost) is sent again with the
  same id until it is acknowledged; the stream's duplicate window drops the second copy, and the
  readers' sequence checks drop any copy that gets past it.
* reading: a `StreamReader` remembers the last stream sequence it handed over and reads through
  an ephemeral push consumer that starts right after it (ack policy none: nothing the node must
  remember to acknowledge). After a reconnect, a gap in stream sequences (messages the client
  dropped as a slow consumer) or a consumer that vanished with a restarted server, it simply
  opens a new consumer from last + 1. Nothing is lost, nothing is handed over twice.

The feed node never waits for a reader: JetStream stores what it publishes, and each reader
pulls at its own pace from the server's copy (a slow strategy node cannot slow the feed).
"""
from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

import nats
from nats.errors import Error as NatsError
from nats.js import api
from nats.js.errors import Error as JsError, NotFoundError

from tradecore.bus.subjects import STREAMS

log = logging.getLogger("tradecore.bus")
_RETRY = (NatsError, JsError, asyncio.TimeoutError, ConnectionError, OSError)


class BusUnavailable(RuntimeError):
    """The NATS server could not be reached within the start-up deadline."""


class Bus:
    """One NATS connection that reconnects forever. `epoch` goes up on every reconnect
    (readers re-open their consumers); `on_down` / `on_up` let a node mark its books stale and
    pause trading while the server is away."""

    def __init__(self, url: str, name: str, reconnect_wait_s: float = 0.2) -> None:
        self.url = url
        self.name = name
        self.reconnect_wait_s = reconnect_wait_s
        self.nc = None
        self.js = None
        self.up = False
        self.epoch = 0
        self.disconnects = 0
        self.closing = False
        self.publish_retries = 0
        self.on_down: list[Callable[[], None]] = []
        self.on_up: list[Callable[[], None]] = []

    async def connect(self, deadline_s: float = 20.0) -> None:
        async def disconnected() -> None:
            if self.up and not self.closing:
                self.up = False
                self.disconnects += 1
                log.warning("%s: lost the NATS connection to %s; reconnecting", self.name,
                            self.url)
                for fn in self.on_down:
                    fn()

        async def reconnected() -> None:
            self.up = True
            self.epoch += 1
            log.warning("%s: reconnected to %s", self.name, self.url)
            for fn in self.on_up:
                fn()

        async def error(e: Exception) -> None:
            log.debug("%s: NATS client error: %r", self.name, e)

        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        while True:
            try:
                self.nc = await nats.connect(
                    self.url, name=self.name, allow_reconnect=True, max_reconnect_attempts=-1,
                    reconnect_time_wait=self.reconnect_wait_s, connect_timeout=1.0,
                    ping_interval=1, max_outstanding_pings=2,
                    disconnected_cb=disconnected, reconnected_cb=reconnected, error_cb=error)
                break
            except Exception as e:     # no server yet: retry until the deadline
                if loop.time() > end:
                    raise BusUnavailable(f"{self.name}: no NATS server at {self.url} after "
                                         f"{deadline_s:.0f} s ({e!r})") from None
                await asyncio.sleep(self.reconnect_wait_s)
        self.js = self.nc.jetstream(timeout=2.0)
        self.up = True

    async def close(self) -> None:
        self.closing = True
        if self.nc is not None and not self.nc.is_closed:
            try:
                await asyncio.wait_for(self.nc.drain(), 3.0)
            except Exception:
                await self.nc.close()

    async def ensure_streams(self, fresh: bool = False) -> None:
        """The four streams (subjects.STREAMS), file-backed; `fresh` deletes them first (a new
        replay run: no message of an earlier run may be read as this run's)."""
        for name, spec in STREAMS.items():
            if fresh:
                try:
                    await self.retry(lambda n=name: self.js.delete_stream(n))
                except NotFoundError:
                    pass
            cfg = api.StreamConfig(name=name, subjects=spec["subjects"],
                                   storage=api.StorageType.FILE,
                                   max_msgs_per_subject=spec.get("max_msgs_per_subject", -1),
                                   duplicate_window=120.0)
            await self.retry(lambda c=cfg: self.js.add_stream(c))

    async def retry(self, make, what: str = "request"):
        """Await make() until it succeeds (NotFoundError passes through: an answer, not a
        failure)."""
        while True:
            try:
                return await make()
            except NotFoundError:
                raise
            except _RETRY as e:
                self.publish_retries += 1
                log.debug("%s: %s failed (%r); retrying", self.name, what, e)
                await asyncio.sleep(self.reconnect_wait_s)

    async def publish(self, subject: str, data: bytes, msg_id: str) -> int:
        """Store one message; returns its stream sequence. Retries until acknowledged."""
        hdr = {"Nats-Msg-Id": msg_id}
        ack = await self.retry(lambda: self.js.publish(subject, data, timeout=1.0, headers=hdr),
                               f"publish {subject}")
        return ack.seq

    async def publish_many(self, items: list[tuple[str, bytes, str]]) -> list[int]:
        """Store a batch with the acknowledgements in flight together (the feed's throughput);
        if any is not acknowledged the whole batch goes again (the ids drop the copies: the
        acknowledgement of a dropped copy names the stored message's sequence). Returns the
        stream sequence of each message."""
        while True:
            try:
                futs = [await self.js.publish_async(s, d, headers={"Nats-Msg-Id": i})
                        for s, d, i in items]
                acks = await asyncio.wait_for(asyncio.gather(*futs), 2.0)
                return [a.seq for a in acks]
            except _RETRY as e:
                self.publish_retries += 1
                log.debug("%s: batch publish failed (%r); sending it again", self.name, e)
                await asyncio.sleep(self.reconnect_wait_s)

    async def send(self, items: list[tuple[str, bytes, str]]) -> None:
        """Hand messages to the server without waiting for the store's acknowledgement (the
        lockstep markers: one round trip per step is the cost of a replay step). What the
        server did not store is sent again by the caller when the step does not complete
        (the ids make the repeat harmless); while disconnected the client buffers them."""
        for subject, data, msg_id in items:
            try:
                await self.nc.publish(subject, data, headers={"Nats-Msg-Id": msg_id})
            except _RETRY as e:
                log.debug("%s: send %s failed (%r); the step's resend covers it", self.name,
                          subject, e)

    async def last_msg(self, stream: str, subject: str) -> bytes | None:
        """The newest message on a subject (the snapshot stream), None when there is none."""
        try:
            m = await self.retry(lambda: self.js.get_last_msg(stream, subject), "get_last_msg")
        except NotFoundError:
            return None
        return m.data


def _stream_seq(msg) -> int:
    """The stream sequence from a JetStream delivery's reply subject:
    $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending> (and
    the longer form with domain and account hash), without building the metadata object."""
    t = msg.reply.split(".")
    if len(t) == 9:
        return int(t[5])
    if len(t) >= 12:
        return int(t[7])
    return msg.metadata.sequence.stream


class StreamReader:
    """A stream in order, from `start_seq`, each message once (module docstring)."""

    def __init__(self, bus: Bus, stream: str, start_seq: int = 1,
                 pending_msgs: int = 1_000_000) -> None:
        self.bus = bus
        self.stream = stream
        self.last = start_seq - 1          # last stream sequence handed over
        self.pending_msgs = pending_msgs
        self.sub = None
        self._epoch = -1
        self.reopened = 0
        self.duplicates = 0
        self.gaps = 0
        self.headers: dict | None = None      # of the message `next` returned last
        self._q: collections.deque = collections.deque()
        self._ready = asyncio.Event()

    async def _open(self) -> None:
        await self._drop()
        nc, js = self.bus.nc, self.bus.js
        inbox = nc.new_inbox()
        self._q.clear()
        q, ready = self._q, self._ready

        async def on_msg(msg) -> None:      # no task and no timer per message (next_msg has both)
            q.append(msg)
            ready.set()
        self.sub = await nc.subscribe(inbox, cb=on_msg, pending_msgs_limit=self.pending_msgs,
                                      pending_bytes_limit=1 << 30)
        start = self.last + 1
        cfg = api.ConsumerConfig(
            deliver_subject=inbox, ack_policy=api.AckPolicy.NONE, inactive_threshold=10.0,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
        await js.add_consumer(self.stream, config=cfg, timeout=2.0)
        self._epoch = self.bus.epoch
        self.reopened += 1

    async def _drop(self) -> None:
        if self.sub is not None:
            sub, self.sub = self.sub, None
            try:
                await asyncio.wait_for(sub.unsubscribe(), 0.5)
            except Exception:
                pass      # the server forgets an ephemeral consumer with no interest anyway

    async def next(self, timeout: float) -> tuple[int, str, bytes] | None:
        """(stream seq, subject, data) of the next message, or None after `timeout` s."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        idle = 0
        while True:
            left = end - loop.time()
            if left <= 0:
                return None
            if not self.bus.up:
                await asyncio.sleep(min(left, self.bus.reconnect_wait_s))
                continue
            if self.sub is None or self._epoch != self.bus.epoch:
                try:
                    await self._open()
                except _RETRY as e:
                    log.debug("%s: opening a reader of %s failed (%r)", self.bus.name,
                              self.stream, e)
                    self.sub = None
                    await asyncio.sleep(self.bus.reconnect_wait_s)
                    continue
            if not self._q:
                self._ready.clear()
                try:
                    await asyncio.wait_for(self._ready.wait(), min(left, 0.5))
                except asyncio.TimeoutError:
                    idle += 1
                    if idle % 4 == 0:          # quiet for 2 s: is the consumer still there?
                        self.sub = None if not await self._alive() else self.sub
                    continue
                if not self._q:
                    continue
            idle = 0
            msg = self._q.popleft()
            seq = _stream_seq(msg)
            if seq <= self.last:
                self.duplicates += 1
                continue
            if seq != self.last + 1:
                self.gaps += 1             # the client dropped some: read them again
                self.sub = None
                continue
            self.last = seq
            self.headers = msg.headers
            return seq, msg.subject, msg.data

    async def _alive(self) -> bool:
        try:
            info = await self.bus.js.stream_info(self.stream)
        except Exception:
            return False
        return info.state.last_seq <= self.last or bool(self._q)

    async def close(self) -> None:
        await self._drop()
