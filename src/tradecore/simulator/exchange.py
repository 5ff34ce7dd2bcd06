"""A local exchange: replays recorded real market data over each venue's own wire protocol.

    sim = ExchangeSimulator(["binance", "kraken"], speed=10.0)
    await sim.start()
    sim.ws_url("binance")     # ws://127.0.0.1:PORT/binance   (+ /stream?streams=... or /ws)
    sim.rest_url              # http://127.0.0.1:PORT        (/api/v3/depth, /0/public/Depth, ...)
    sim.inject(Fault("skip", venue="binance", count=3))
    ...
    await sim.close()

One picows WebSocket server carries every venue; the first path segment names the venue
(`/binance/stream?streams=...`, `/kraken`, `/coinbase`, `/okx`, `/binance-usdm/ws`), and the
venues' own paths work unprefixed where they cannot be confused (`/stream`, `/ws/...` are
Binance spot, `/ws/v5/public` is OKX, `/` is the only venue when there is one). One aiohttp server
carries every venue's REST routes (their paths do not collide) and the control endpoints:

    POST /_sim/fault    {"kind": "skip", "venue": "binance", "count": 3} -> {"id", "targets"}
    GET  /_sim/faults   the fault log        GET /_sim/status   positions, clients, passes
    POST /_sim/pause, /_sim/resume           POST /_sim/speed {"speed": 0}  (0: flat out)
    POST /_sim/blast {"venue": "binance", "repeat": 100}  build a depth blast (paused only)
    POST /_sim/blast {"go": true}            send it        GET /_sim/blast  its progress

Blast (Binance venues, for throughput benchmarks; see blast.py): while paused, the recorded
depth diffs not yet replayed plus `repeat` id-shifted copies of the whole recorded depth stream
are pre-encoded into one buffer of frames; `go` writes it to every connection subscribed to that
depth stream (by its recorded name, on a combined stream, no fault in progress) in 256 KB chunks,
waiting whenever the transport is above its high-water mark (pause_writing/resume_writing), so
the only Python while sending is one write per chunk. The replay position then moves to the end
of the recording (the simulator's own book and REST snapshot stay at the recording's end: they do
not follow the copies' shifted ids).

Replay: each venue replays its recording on its own timeline, at `speed` times real time (0 or
inf: as fast as possible, throttled only by the clients' TCP buffers), once or looping. Every book
message is also applied to the simulator's own book (the venue's normalizer), so a REST snapshot or
a new subscription at any moment is consistent with the stream position. At the end of a pass a
looping replay closes every connection of the venue with 1001 ("replay restarted"), as a server
restart would, and starts again from a fresh book: sequence numbers of a recording cannot be made to
continue past its end without rewriting every message.

Send path: a recorded message is framed once, at load (server frames are unmasked, so the frame
bytes are the same for every client). Each replay step appends the frames due to each connection's
list and ends with one transport write per connection: no per-message Python work beyond a list
append for a client that takes the recorded bytes as they are, and one syscall per step instead of
one per message. Binance's book is kept lazily (VenueSim.lazy_book): the events sent are applied
to it when something reads it (a REST snapshot, a partial-depth stream, /_sim/status), so a replay
that nobody snapshots in between sends without updating a book per message. Connections that need their own bytes (Coinbase's per-connection sequence_num,
renamed Binance streams, Kraken depths other than the recorded one, a fault in progress) take a slow
path through Session.deliver.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
from aiohttp import web
from picows import WSCloseCode, WSListener, WSMsgType, WSTransport, ws_create_server

from tradecore.simulator import blast as _blast
from tradecore.simulator.faults import (DEPTH_KINDS, REST_KINDS, DepthFault, Fault, FaultError,
                                        FaultRecord, binary_bytes, garbage_bytes, oversized,
                                        truncated)
from tradecore.simulator.venues import DEPTH, SNAP, VENUES, Sub, VenueSim, ws_frame

log = logging.getLogger("tradecore.simulator")

LOOPBACK = ("127.0.0.1", "localhost", "::1")
BATCH = 256                     # events per replay step before yielding to the loop
HIGH_WATER = 1 << 20            # AFAP: wait for clients above this many unsent bytes
MAX_BUFFER = 64 << 20           # a client this far behind is dropped, as exchanges do
SLOW_CLIENT_SECONDS = 30.0      # AFAP: a client that does not drain for this long is dropped


class Session(WSListener):
    """One client connection: its subscriptions, its pending output, its faults."""

    def __init__(self, sim: "ExchangeSimulator", venue: VenueSim, path: str,
                 query: dict[str, list[str]]) -> None:
        super().__init__()
        self.sim = sim
        self.venue = venue
        self.path = path
        self.query = query
        self.id = next(sim._ids)
        self.tr: WSTransport | None = None
        self.raw = None                     # the asyncio transport under picows
        self.out: list[bytes] = []          # frames due in this replay step
        self.subs: dict[str, Sub] = {}      # subscription key -> Sub
        self.fast = True                    # no fault in progress
        self.depth_faults: list[DepthFault] = []
        self.stalled = False
        self.stall_record: FaultRecord | None = None
        self.stall_then = "resume"
        self.stall_answer_pings = True
        self.held: list[bytes] = []
        self.ping_sent_at: float | None = None
        self.last_tx = time.monotonic()
        self.paused = False                 # transport above its high-water mark
        self.closed = False
        self.state: dict = {}               # venue-specific (sequence numbers, modes)
        self.frames_sent = 0

    # -- picows callbacks ----------------------------------------------------------------------
    def on_ws_connected(self, transport: WSTransport) -> None:
        self.tr = transport
        self.raw = transport.underlying_transport
        self.sim._sessions[self.id] = self
        self.venue.sessions[self.id] = self
        try:
            self.venue.on_connect(self)
        except Exception:  # noqa: BLE001 - a bad request must not take the server down
            log.exception("%s: on_connect failed for %s", self.venue.name, self.path)
        self.flush()

    def on_ws_frame(self, transport: WSTransport, frame) -> None:
        mt = frame.msg_type
        if mt == WSMsgType.TEXT or mt == WSMsgType.BINARY:
            data = frame.get_payload_as_bytes()          # frames are borrowed: copy
            if self.stalled and not self.stall_answer_pings and self.venue.is_app_ping(data):
                return
            try:
                self.venue.on_text(self, data)
            except Exception:  # noqa: BLE001
                log.exception("%s: failed to handle %r", self.venue.name, data[:120])
            self.flush()
        elif mt == WSMsgType.PING:
            if not (self.stalled and not self.stall_answer_pings):
                transport.send_pong(frame.get_payload_as_bytes())
        elif mt == WSMsgType.PONG:
            self.ping_sent_at = None
        elif mt == WSMsgType.CLOSE:
            if not transport.is_close_frame_sent:
                transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.closed = True
        self.sim._sessions.pop(self.id, None)
        self.venue.sessions.pop(self.id, None)
        for sub in list(self.subs.values()):
            self.venue.unregister(sub)
        self.subs.clear()

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self.sim._drained.set()

    # -- output --------------------------------------------------------------------------------
    def send_payload(self, payload: bytes, *, binary: bool = False) -> None:
        """Queue one message of our own (responses, snapshots, heartbeats); flushed by the
        caller's step, or by flush()."""
        self.push(ws_frame(payload, 2 if binary else 1))

    def push(self, frame: bytes) -> None:
        if self.stalled:
            if self.stall_then == "resume":
                self.held.append(frame)
            return
        self.out.append(frame)

    def deliver(self, ev, sub: Sub) -> None:
        """The slow path: this connection's own bytes for a recorded event, through its
        faults."""
        payload = self.venue.render(self, sub, ev)
        if payload is None:
            return
        frame = ev.frame if payload is ev.payload else ws_frame(payload)
        if ev.kind == DEPTH and self.depth_faults:
            df = None
            for f in self.depth_faults:
                if f.symbol is None or f.symbol == ev.symbol:
                    df = f
                    break
            if df is not None:
                self._depth_fault(df, ev, payload, frame)
                return
        if self.stalled and self.stall_then == "discard" and ev.kind == DEPTH:
            self.stall_record.effect(conn=self.id, action="discarded", symbol=ev.symbol,
                                     update=self.venue.update_id(ev))
        self.push(frame)

    def _depth_fault(self, df: DepthFault, ev, payload: bytes, frame: bytes) -> None:
        rec, ident = df.record, self.venue.update_id(ev)
        if df.kind == "skip":
            rec.effect(conn=self.id, action="skipped", symbol=ev.symbol, update=ident)
        elif df.kind == "duplicate":
            self.push(frame)
            self.push(frame)
            rec.effect(conn=self.id, action="duplicated", symbol=ev.symbol, update=ident)
        elif df.kind == "replace":
            bad = truncated(payload) if df.variant == "truncated" else \
                self.venue.break_schema(payload)
            self.push(ws_frame(bad))
            rec.effect(conn=self.id, action=f"replaced_{df.variant}", symbol=ev.symbol,
                       update=ident)
        elif df.kind == "reorder":
            if df.held is None:
                df.held = (frame, ident)
                return                      # wait for the next update
            self.push(frame)
            self.push(df.held[0])
            rec.effect(conn=self.id, action="reordered", symbol=ev.symbol,
                       update=ident, after=df.held[1])
            df.held = None
        df.remaining -= 1
        if df.remaining <= 0:
            self.depth_faults.remove(df)
            if not any(f.record is rec for s in self.sim._sessions.values()
                       for f in s.depth_faults):
                rec.done = True
            self.refresh_path()

    def send_control(self, payload: bytes) -> None:
        """An answer to an application-level ping: sent at once, even during a stall that
        answers pings (and dropped during one that does not)."""
        if self.stalled:
            if self.stall_answer_pings and not self.gone:
                self.raw.write(ws_frame(payload))
            return
        self.push(ws_frame(payload))

    @property
    def gone(self) -> bool:
        """Closed, or closing: nothing more can be written."""
        return self.closed or self.raw is None or self.raw.is_closing()

    def flush(self) -> None:
        out = self.out
        if not out:
            return
        if self.gone:
            out.clear()
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        self.frames_sent += len(out)
        out.clear()
        self.raw.write(data)
        self.last_tx = time.monotonic()

    def close(self, code: WSCloseCode = WSCloseCode.GOING_AWAY, reason: str = "") -> None:
        """A clean close: close frame, then the disconnect."""
        if self.closed or self.tr is None:
            return
        self.flush()
        if not self.tr.is_close_frame_sent:
            self.tr.send_close(code, reason.encode())
        self.tr.disconnect()

    def abort(self) -> None:
        """Close the TCP connection without a close frame (RST)."""
        if self.closed or self.tr is None:
            return
        self.out.clear()
        self.tr.disconnect(graceful=False)

    # -- fault state ---------------------------------------------------------------------------
    def refresh_path(self) -> None:
        """Move the subscriptions between the fast and slow path as faults start and end."""
        fast = not (self.depth_faults or self.stalled)
        if fast != self.fast:
            self.fast = fast
            for sub in self.subs.values():
                self.venue.reregister(sub)

    def start_stall(self, fault: Fault, rec: FaultRecord) -> None:
        self.stalled = True
        self.stall_record = rec
        self.stall_then = fault.then
        self.stall_answer_pings = fault.answer_pings
        self.flush()
        self.refresh_path()
        rec.effect(conn=self.id, action="stall_start", seconds=fault.seconds)
        asyncio.get_running_loop().call_later(fault.seconds, self._end_stall, rec)

    def _end_stall(self, rec: FaultRecord) -> None:
        if self.stall_record is not rec:
            return
        self.stalled = False
        self.stall_record = None
        held, self.held = self.held, []
        rec.effect(conn=self.id, action="stall_end", then=self.stall_then, held=len(held))
        if self.stall_then == "drop":
            self.abort()
        elif held and not self.closed:
            self.out.extend(held)
            self.flush()
        self.refresh_path()
        self.stall_answer_pings = True
        if not any(s.stall_record is rec for s in self.sim._sessions.values()):
            rec.done = True

    def describe(self) -> dict:
        return {"id": self.id, "venue": self.venue.name, "path": self.path,
                "subscriptions": sorted(self.subs), "frames_sent": self.frames_sent,
                "stalled": self.stalled, "depth_faults": len(self.depth_faults)}


class ExchangeSimulator:
    """Local exchange replaying recorded data over each venue's own WebSocket/REST protocol."""

    def __init__(self, venues: Iterable[str] = ("binance",), *, host: str = "127.0.0.1",
                 ws_port: int = 0, rest_port: int = 0, speed: float = 1.0, loop: bool = False,
                 files: dict[str, str | Path] | None = None, paused: bool = False,
                 ping_interval: float | None = 20.0, ping_timeout: float | None = 60.0,
                 heartbeat_interval: float = 1.0, rest_wait: float = 10.0) -> None:
        """venues: names from simulator.venues.VENUES; files: venue -> recording overriding
        the bundled default; speed: x real time (0 or inf: as fast as possible); paused: load
        and listen but do not replay until resume() (lets clients subscribe first);
        ping_interval: WebSocket ping to every client every N s (None: never); ping_timeout:
        drop a client that has not answered a ping within N s (None: never drop);
        rest_wait: how long a REST depth request waits for the recording's first snapshot."""
        if host not in LOOPBACK:
            raise ValueError(f"host {host!r}: the simulator listens on loopback only "
                             f"({', '.join(LOOPBACK)})")
        names = list(dict.fromkeys(venues))
        unknown = [v for v in names if v not in VENUES]
        if not names or unknown:
            raise ValueError(f"venue(s) {unknown or names!r}: expected one or more of "
                             f"{', '.join(VENUES)}")
        files = dict(files or {})
        stray = sorted(set(files) - set(names))
        if stray:
            raise ValueError(f"files given for venue(s) {stray} that are not simulated")
        self.host = host
        self._ws_port_req = ws_port
        self._rest_port_req = rest_port
        self.loop_replay = loop
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.heartbeat_interval = heartbeat_interval
        self.rest_wait = rest_wait
        self._ids = itertools.count(1)
        self._fault_ids = itertools.count(1)
        self._sessions: dict[int, Session] = {}
        self._pending_faults: list[tuple[Fault, FaultRecord]] = []
        self.rest_faults: list[list] = []      # [status, retry_after, left, record, venue]
        self.fault_log: list[FaultRecord] = []
        self.log: list[dict] = []                      # replay passes, slow-client drops
        self.venues: dict[str, VenueSim] = {}
        for name in names:
            self.venues[name] = VENUES[name](self, files.get(name))
        from tradecore.simulator.orders import SimOrders   # order entry; imports Session
        self.orders = SimOrders(self)
        self._speed = self._check_speed(speed)
        self._running: asyncio.Event | None = None        # created in start(), on the loop
        self._start_paused = paused
        self._drained: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._ws_server: asyncio.AbstractServer | None = None
        self._runner: web.AppRunner | None = None
        self.ws_port = 0
        self.rest_port = 0
        self.started = False
        self._blast: tuple[VenueSim, _blast.Blast, list[Session]] | None = None
        self.blasts: list[dict] = []                  # progress of each blast sent, per conn

    # -- life cycle ----------------------------------------------------------------------------
    async def start(self) -> "ExchangeSimulator":
        self._running = asyncio.Event()
        self._drained = asyncio.Event()
        if not self._start_paused:
            self._running.set()
        try:
            self._ws_server = await ws_create_server(
                self._route, self.host, self._ws_port_req, enable_auto_pong=False,
                max_frame_size=1 << 20, logger_name="simulator",
                websocket_handshake_timeout=5)
            self.ws_port = self._ws_server.sockets[0].getsockname()[1]
            app = web.Application(middlewares=[self._rest_middleware])
            self._add_routes(app)
            self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await self._runner.setup()
            site = web.TCPSite(self._runner, self.host, self._rest_port_req)
            await site.start()
            self.rest_port = self._runner.addresses[0][1]
        except BaseException:
            await self.close()
            raise
        for v in self.venues.values():
            v.start_clock()
            self._tasks.append(asyncio.create_task(self._replay(v), name=f"sim-{v.name}"))
        if self.ping_interval:
            self._tasks.append(asyncio.create_task(self._ping_loop(), name="sim-ping"))
        if self.heartbeat_interval:
            self._tasks.append(asyncio.create_task(self._heartbeat_loop(), name="sim-hb"))
        self.started = True
        return self

    async def close(self) -> None:
        """Stop replaying, close every connection and both servers. Safe to call twice."""
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        self._tasks.clear()
        for s in list(self._sessions.values()):
            s.close(WSCloseCode.GOING_AWAY, "simulator closing")
        deadline = time.monotonic() + 1.0           # let the close frames go out
        while self._sessions and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self._ws_server is not None:
            self._ws_server.close()
            for s in list(self._sessions.values()):
                s.abort()
            try:
                await asyncio.wait_for(self._ws_server.wait_closed(), 2.0)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                pass
            self._ws_server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.started = False

    async def __aenter__(self) -> "ExchangeSimulator":
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # -- addresses -----------------------------------------------------------------------------
    def ws_url(self, venue: str) -> str:
        """Base WebSocket URL of a venue (Binance: append /stream?streams=.. or /ws)."""
        self._venue(venue)
        return f"ws://{self._host_for_url()}:{self.ws_port}/{venue}"

    @property
    def rest_url(self) -> str:
        return f"http://{self._host_for_url()}:{self.rest_port}"

    def urls(self) -> dict[str, dict[str, str]]:
        return {name: {"ws": self.ws_url(name), "rest": self.rest_url + v.rest_hint}
                for name, v in self.venues.items()}

    def _host_for_url(self) -> str:
        return "[::1]" if self.host == "::1" else self.host

    def _venue(self, name: str) -> VenueSim:
        try:
            return self.venues[name]
        except KeyError:
            raise ValueError(f"venue {name!r} is not simulated here; "
                             f"simulated: {', '.join(self.venues)}") from None

    # -- control -------------------------------------------------------------------------------
    @staticmethod
    def _check_speed(speed: float) -> float:
        if not isinstance(speed, (int, float)) or math.isnan(speed) or speed < 0:
            raise ValueError(f"speed {speed!r}: expected a number >= 0 (0 or inf: as fast "
                             f"as possible)")
        return math.inf if speed == 0 else float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def set_speed(self, speed: float) -> None:
        self._speed = self._check_speed(speed)
        for v in self.venues.values():
            v.rebase()

    def pause(self) -> None:
        if self._running is not None and self._running.is_set():
            self._running.clear()
            for v in self.venues.values():
                v.rebase()

    def resume(self) -> None:
        if self._running is not None and not self._running.is_set():
            for v in self.venues.values():
                v.rebase()
            self._running.set()

    def step(self, venue: str, n: int = 1) -> int:
        """Replay the next n events of a venue now, whatever the clock (for tests, usually
        while paused); returns how many were replayed."""
        v = self._venue(venue)
        i = v.pos
        j = min(len(v.events), i + max(0, n))
        if j > i:
            self._emit(v, v.events, i, j)
        return j - i

    async def wait_finished(self, venue: str | None = None, timeout: float | None = None) -> None:
        """Until the replay of a venue (every venue) has reached the end of its recording."""
        vs = [self._venue(venue)] if venue else list(self.venues.values())
        await asyncio.wait_for(asyncio.gather(*(v.finished.wait() for v in vs)), timeout)

    def connections(self, venue: str | None = None) -> list[dict]:
        return [s.describe() for s in self._sessions.values()
                if venue is None or s.venue.name == venue]

    # -- blast -------------------------------------------------------------------------------------
    def prepare_blast(self, venue: str, repeat: int, symbol: str | None = None) -> _blast.Blast:
        """Build (not send) a depth blast for the connections subscribed to a symbol's recorded
        depth stream; the replay must be paused (its position is where the blast starts)."""
        v = self._venue(venue)
        depth_topic = getattr(v, "depth_topic", None)
        if depth_topic is None:
            raise _blast.BlastError(f"venue {venue!r}: blast is for Binance depth streams")
        if self._running is not None and self._running.is_set():
            raise _blast.BlastError("pause the replay before preparing a blast")
        if symbol is None:
            if len(depth_topic) != 1:
                raise _blast.BlastError(f"symbol: expected one of {sorted(depth_topic)}")
            symbol = next(iter(depth_topic))
        topic = depth_topic.get(symbol)
        if topic is None:
            raise _blast.BlastError(f"symbol {symbol!r}: no depth stream recorded; recorded: "
                                    f"{sorted(depth_topic)}")
        idx = [k for k, ev in enumerate(v.events) if ev.kind == DEPTH and ev.topic == topic]
        start = sum(1 for k in idx if k < v.pos)
        targets = [s for s in v.sessions.values()
                   if not s.gone and s.fast and any(sub.topic == topic and sub.fastable
                                                    for sub in s.subs.values())]
        if not targets:
            raise _blast.BlastError(f"no connection takes {topic!r} as recorded (combined "
                                    f"stream, that exact name, no fault in progress)")
        b = _blast.build([v.events[k].payload for k in idx], start, repeat)
        self._blast = (v, b, targets)
        return b

    def start_blast(self) -> list[int]:
        """Send the prepared blast to its connections; returns their ids."""
        if self._blast is None:
            raise _blast.BlastError("no blast prepared")
        v, b, targets = self._blast
        self._blast = None
        v.pos = len(v.events)                 # the blast replaces the rest of the replay
        v.now_ns = v.events[-1].ts
        for s in targets:
            prog = {"conn": s.id, "frames": b.frames, "bytes": len(b.data), "sent": 0,
                    "done": False, "aborted": False, "pauses": 0, "seconds": None}
            self.blasts.append(prog)
            self._tasks.append(asyncio.create_task(self._blast_to(s, b, prog),
                                                   name=f"sim-blast-{s.id}"))
        return [s.id for s in targets]

    async def _blast_to(self, s: Session, b: _blast.Blast, prog: dict) -> None:
        s.flush()
        mv = memoryview(b.data)
        n = len(mv)
        t0 = time.monotonic()
        i = 0
        while i < n:
            while s.paused and not s.gone:       # above the transport's high-water mark
                prog["pauses"] += 1
                self._drained.clear()
                try:
                    await asyncio.wait_for(self._drained.wait(), 0.05)
                except asyncio.TimeoutError:
                    pass
            if s.gone:
                prog["aborted"] = True
                return
            s.raw.write(mv[i:i + _blast.CHUNK])
            i = min(n, i + _blast.CHUNK)
            prog["sent"] = i
            await asyncio.sleep(0)
        s.frames_sent += b.frames
        s.last_tx = time.monotonic()
        prog["done"] = True
        prog["seconds"] = round(s.last_tx - t0, 6)

    def status(self) -> dict:
        return {"speed": None if math.isinf(self._speed) else self._speed,
                "paused": not (self._running and self._running.is_set()),
                "ws_port": self.ws_port, "rest_port": self.rest_port,
                "venues": {n: v.status() for n, v in self.venues.items()},
                "connections": self.connections(), "blasts": self.blasts}

    # -- faults --------------------------------------------------------------------------------
    def inject(self, fault: Fault | dict) -> FaultRecord:
        """Carry out a fault (see faults.py); returns its record, also kept in fault_log."""
        if isinstance(fault, dict):
            fault = Fault.from_dict(fault)
        if fault.venue is not None and fault.venue not in self.venues:
            raise FaultError(f"fault venue {fault.venue!r}: simulated venues are "
                             f"{', '.join(self.venues)}")
        if fault.conn is not None and fault.conn not in self._sessions:
            raise FaultError(f"fault conn {fault.conn}: open connections are "
                             f"{sorted(self._sessions)}")
        rec = FaultRecord(next(self._fault_ids), fault)
        self.fault_log.append(rec)
        if fault.kind in REST_KINDS:
            status = 429 if fault.kind == "rest_429" else 418
            self.rest_faults.append([status, fault.retry_after, fault.count, rec,
                                     fault.venue])
            return rec
        targets = [s for s in self._sessions.values() if self._matches(fault, s)]
        if not targets:
            self._pending_faults.append((fault, rec))
            rec.effect(action="pending", reason="no matching connection yet")
            return rec
        for s in targets:
            self._apply(fault, rec, s)
        if fault.kind in ("drop", "malformed") and not (fault.kind == "malformed"
                                                         and fault.replace):
            rec.done = True
        return rec

    def _matches(self, fault: Fault, s: Session) -> bool:
        return (not s.closed and (fault.venue is None or s.venue.name == fault.venue)
                and (fault.conn is None or s.id == fault.conn))

    def _apply(self, fault: Fault, rec: FaultRecord, s: Session) -> None:
        rec.targets.append(s.id)
        k = fault.kind
        if k == "drop":
            rec.effect(conn=s.id, action="dropped")
            s.abort()
        elif k == "stall":
            s.start_stall(fault, rec)
        elif k in DEPTH_KINDS:
            s.depth_faults.append(DepthFault(k, fault.count, fault.symbol, rec))
            s.refresh_path()
        elif k == "malformed":
            if fault.replace:
                s.depth_faults.append(DepthFault("replace", fault.count, fault.symbol, rec,
                                                 fault.variant))
                s.refresh_path()
                return
            for _ in range(fault.count):
                self._send_malformed(fault, rec, s)
            s.flush()
        elif k == "shutdown":
            warning = s.venue.shutdown_warning(s)
            if warning is not None:
                s.send_payload(warning)
                s.flush()
            rec.effect(conn=s.id, action="shutdown_warning", close_in=fault.seconds)

            def _close(s=s, rec=rec):
                rec.effect(conn=s.id, action="closed", code=1001)
                s.close(WSCloseCode.GOING_AWAY, "server shutdown")
                rec.done = sum(e["action"] == "closed" for e in rec.effects) >= len(rec.targets)
            asyncio.get_running_loop().call_later(fault.seconds, _close)

    def _send_malformed(self, fault: Fault, rec: FaultRecord, s: Session) -> None:
        v = fault.variant
        if v == "garbage":
            s.push(ws_frame(garbage_bytes()))
        elif v == "binary":
            s.push(ws_frame(binary_bytes(), 2))
        elif v == "oversized":
            s.push(ws_frame(oversized(fault.size)))
        else:
            sample = s.venue.sample_payload(s)
            if sample is None:
                s.push(ws_frame(garbage_bytes()))
                v = "garbage (no message to corrupt yet)"
            else:
                s.push(ws_frame(truncated(sample) if v == "truncated"
                                else s.venue.break_schema(sample)))
        rec.effect(conn=s.id, action="malformed", variant=v)

    def _on_subscribed(self, s: Session) -> None:
        """A connection subscribed: pending faults of its venue apply now."""
        if not self._pending_faults:
            return
        keep = []
        for fault, rec in self._pending_faults:
            if self._matches(fault, s):
                self._apply(fault, rec, s)
                if fault.kind in ("drop", "malformed") and not fault.replace:
                    rec.done = True
            else:
                keep.append((fault, rec))
        self._pending_faults = keep

    # -- WebSocket routing ---------------------------------------------------------------------
    def _route(self, request) -> WSListener | None:
        target = request.path.decode("latin-1")
        parts = urlsplit(target)
        path = parts.path or "/"
        query = parse_qs(parts.query)
        segs = [p for p in path.split("/") if p]
        if (orders := self.orders.route(segs, query)) is not None:     # Binance WebSocket API
            return orders
        if segs and segs[0] in self.venues:
            return Session(self, self.venues[segs[0]], "/" + "/".join(segs[1:]), query)
        binance = next((v for n, v in self.venues.items() if n.startswith("binance")), None)
        if binance is not None and segs and segs[0] in ("stream", "ws") and \
                not (segs[:3] == ["ws", "v5", "public"] and "okx" in self.venues):
            return Session(self, binance, path, query)
        if segs[:2] == ["ws", "v5"] and "okx" in self.venues:
            return Session(self, self.venues["okx"], path, query)
        if len(self.venues) == 1 and not segs:
            return Session(self, next(iter(self.venues.values())), "/", query)
        # no venue at this path: returning no listener makes picows answer 404
        return None

    # -- replay --------------------------------------------------------------------------------
    async def _replay(self, v: VenueSim) -> None:
        loop = asyncio.get_running_loop()
        try:
            while True:
                evs = v.events
                n = len(evs)
                while v.pos < n:
                    if not self._running.is_set():
                        await self._running.wait()
                    i = v.pos
                    if math.isinf(self._speed):
                        j = min(n, i + BATCH)
                    else:
                        horizon = v.virtual_now(loop.time(), self._speed)
                        if evs[i].ts > horizon:
                            await asyncio.sleep(min(1.0, (evs[i].ts - horizon)
                                                    / self._speed / 1e9))
                            continue
                        j = i + 1
                        lim = min(n, i + BATCH)
                        while j < lim and evs[j].ts <= horizon:
                            j += 1
                    self._emit(v, evs, i, j)
                    if math.isinf(self._speed):
                        await self._backpressure(v)
                    await asyncio.sleep(0)
                self.log.append({"t": time.time(), "venue": v.name, "event": "end_of_pass",
                                 "pass": v.passes})
                if not self.loop_replay:
                    v.finished.set()
                    return
                for s in list(v.sessions.values()):
                    s.close(WSCloseCode.GOING_AWAY, "replay restarted")
                v.restart()
                v.start_clock()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - logged; the servers keep answering
            log.exception("%s: replay failed at event %d", v.name, v.pos)
            v.finished.set()

    def _emit(self, v: VenueSim, evs: list, i: int, j: int) -> None:
        fast_get = v.fast.get
        slow_get = v.slow.get
        apply = v.apply
        lazy = v.lazy_book
        for k in range(i, j):
            ev = evs[k]
            if ev.apply and not lazy:
                apply(ev)
            t = ev.topic
            if t is None:
                continue
            subs = fast_get(t)
            if subs:
                f = ev.frame
                for append in subs:
                    append(f)
            subs = slow_get(t)
            if subs:
                if lazy:
                    v.catch_up(k + 1)      # a rendering may read the book right after ev
                for sub in subs:
                    try:
                        sub.session.deliver(ev, sub)
                    except Exception:  # noqa: BLE001 - one connection must not stop the rest
                        log.exception("%s: cannot send event %d to connection %d", v.name, k,
                                      sub.session.id)
            if ev.kind == SNAP:
                v.snapshot_done(ev)
        v.pos = j
        if not lazy:
            v.applied = j
        v.now_ns = evs[j - 1].ts
        for s in v.sessions.values():
            if s.out:
                s.flush()
                if not s.gone and s.raw.get_write_buffer_size() > MAX_BUFFER:
                    self.log.append({"t": time.time(), "venue": v.name, "conn": s.id,
                                     "event": "slow_client_dropped"})
                    s.abort()

    async def _backpressure(self, v: VenueSim) -> None:
        """As fast as possible, but no faster than the slowest client reads."""
        t0 = time.monotonic()
        while True:
            slow = [s for s in v.sessions.values()
                    if not s.gone and s.raw.get_write_buffer_size() > HIGH_WATER]
            if not slow:
                return
            if time.monotonic() - t0 > SLOW_CLIENT_SECONDS:
                for s in slow:
                    self.log.append({"t": time.time(), "venue": v.name, "conn": s.id,
                                     "event": "slow_client_dropped"})
                    s.abort()
                return
            self._drained.clear()
            try:
                await asyncio.wait_for(self._drained.wait(), 0.05)
            except asyncio.TimeoutError:
                pass

    # -- pings and heartbeats ------------------------------------------------------------------
    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            now = time.monotonic()
            for s in list(self._sessions.values()):
                if s.gone or s.stalled or s.tr is None:
                    continue
                if self.ping_timeout is not None and s.ping_sent_at is not None \
                        and now - s.ping_sent_at >= self.ping_timeout:
                    self.log.append({"t": time.time(), "venue": s.venue.name, "conn": s.id,
                                     "event": "no_pong_dropped"})
                    s.close(WSCloseCode.POLICY_VIOLATION, "pong timeout")
                    continue
                if s.ping_sent_at is None:
                    s.ping_sent_at = now
                s.flush()
                s.tr.send_ping(b"tradecore-sim")
            if self.ping_timeout is not None and self.ping_timeout < self.ping_interval:
                await asyncio.sleep(self.ping_timeout)
                now = time.monotonic()
                for s in list(self._sessions.values()):
                    if s.ping_sent_at is not None and now - s.ping_sent_at >= self.ping_timeout \
                            and not s.closed and not s.stalled:
                        self.log.append({"t": time.time(), "venue": s.venue.name,
                                         "conn": s.id, "event": "no_pong_dropped"})
                        s.close(WSCloseCode.POLICY_VIOLATION, "pong timeout")

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            now = time.monotonic()
            for s in list(self._sessions.values()):
                if s.gone or s.stalled:
                    continue
                try:
                    s.venue.heartbeat(s, now, self.heartbeat_interval)
                except Exception:  # noqa: BLE001
                    log.exception("%s: heartbeat failed", s.venue.name)
                s.flush()

    # -- REST ----------------------------------------------------------------------------------
    @web.middleware
    async def _rest_middleware(self, request: web.Request, handler):
        if not request.path.startswith("/_sim") and self.rest_faults:
            v = self._venue_for_path(request.path)
            for f in self.rest_faults:
                status, retry_after, _, rec, venue = f
                if venue is not None and (v is None or v.name != venue):
                    continue
                f[2] -= 1
                if f[2] <= 0:
                    self.rest_faults.remove(f)
                    rec.done = True
                rec.effect(action=f"rest_{status}", path=request.path_qs)
                body = v.rest_error_body(status, retry_after) if v else \
                    orjson.dumps({"code": status, "msg": "simulated"})
                return web.Response(status=status, body=body, content_type="application/json",
                                    headers={"Retry-After": str(retry_after)})
        return await handler(request)

    def _venue_for_path(self, path: str) -> VenueSim | None:
        for v in self.venues.values():
            if any(path.startswith(p) for p in v.rest_prefixes):
                return v
        return None

    def _add_routes(self, app: web.Application) -> None:
        for v in self.venues.values():
            v.add_routes(app)
        self.orders.add_routes(app)
        app.router.add_post("/_sim/fault", self._http_fault)
        app.router.add_get("/_sim/faults", self._http_faults)
        app.router.add_get("/_sim/status", self._http_status)
        app.router.add_post("/_sim/pause", self._http_pause)
        app.router.add_post("/_sim/resume", self._http_resume)
        app.router.add_post("/_sim/speed", self._http_speed)
        app.router.add_post("/_sim/blast", self._http_blast)
        app.router.add_get("/_sim/blast", self._http_blasts)

    async def _http_fault(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
            rec = self.inject(Fault.from_dict(body))
        except (orjson.JSONDecodeError, FaultError, TypeError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"id": rec.id, "targets": rec.targets,
                                  "pending": not rec.targets and rec.fault.kind not in REST_KINDS})

    async def _http_faults(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps([r.as_dict() for r in self.fault_log]),
                            content_type="application/json")

    async def _http_status(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.status()), content_type="application/json")

    async def _http_pause(self, request: web.Request) -> web.Response:
        self.pause()
        return web.json_response({"paused": True})

    async def _http_resume(self, request: web.Request) -> web.Response:
        self.resume()
        return web.json_response({"paused": False})

    async def _http_blast(self, request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
            if not isinstance(body, dict):
                raise TypeError("expected a JSON object")
            if body.get("go"):
                return web.json_response({"targets": self.start_blast()})
            b = self.prepare_blast(body["venue"], body.get("repeat", 0), body.get("symbol"))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            return web.json_response({"error": f"expected {{\"venue\": name, \"repeat\": n "
                                      f"[, \"symbol\"]}} or {{\"go\": true}}: {e}"},
                                     status=400)
        return web.json_response(b.describe())

    async def _http_blasts(self, request: web.Request) -> web.Response:
        return web.json_response(self.blasts)

    async def _http_speed(self, request: web.Request) -> web.Response:
        try:
            self.set_speed(orjson.loads(await request.read())["speed"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            return web.json_response({"error": f"expected {{\"speed\": number >= 0}}: {e}"},
                                     status=400)
        return web.json_response({"speed": None if math.isinf(self._speed) else self._speed})
