"""Each venue's wire format for the simulator: loading a recording, keeping the exchange's book,
answering subscriptions, REST snapshots and trade backfill, in the venue's own bytes.

A VenueSim turns a capture (tradecore.data.capture) into a list of Events, each recorded message
framed once. The exchange replays them in order: `apply` keeps the simulator's own book (the
venue's normalizer, so the book is exactly the exchange's and book.seq the exchange's update id),
and every connection subscribed to an event's topic gets it. Topics are the recording's own
(Binance stream names, "book-1000|XMR/USD", "l2_data|BTC-USD", "books|BTC-USDT"); a recorded
snapshot has the topic "snap|" + its update topic and goes only to connections still waiting for
one. A connection that subscribes once the simulator has a book gets a snapshot built from that
book instead, in the venue's format and exact decimal text, so the recorded updates that follow
apply to it (and, for Kraken and OKX, their recorded checksums still hold: the book is the
exchange's).
"""
from __future__ import annotations

import asyncio
import bisect
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
from aiohttp import web

from tradecore._fast.checksum import okx_checksum
from tradecore._fast.fixed import format_units, parse_units
from tradecore.data import SAMPLES
from tradecore.data.capture import REST, WS, CaptureRecord, read_capture
from tradecore.verify import normalizer_for

STREAM, DEPTH, SNAP, BOOK = 0, 1, 2, 3   # Event.kind: data, depth update, snapshot, apply-only


def ws_frame(payload: bytes, opcode: int = 1) -> bytes:
    """One unmasked, final WebSocket frame (server to client) around a payload."""
    n = len(payload)
    b0 = 0x80 | opcode
    if n < 126:
        return bytes((b0, n)) + payload
    if n < 65536:
        return bytes((b0, 126)) + n.to_bytes(2, "big") + payload
    return bytes((b0, 127)) + n.to_bytes(8, "big") + payload


class Event:
    """One recorded message, ready to send."""
    __slots__ = ("ts", "topic", "frame", "payload", "kind", "apply", "symbol", "x", "data",
                 "conn", "src")

    def __init__(self, ts: int, topic: str | None, payload: bytes, kind: int = STREAM,
                 apply: bool = False, symbol: str = "", x=None, conn: str = "ws",
                 src: str = "") -> None:
        self.ts = ts
        self.topic = topic
        self.payload = payload
        self.frame = ws_frame(payload) if topic is not None else b""
        self.kind = kind
        self.apply = apply
        self.symbol = symbol
        self.x = x              # venue-specific: update ids, parsed levels, sequence splice
        self.data = b""         # Binance: the unwrapped payload of a combined-stream message
        self.conn = conn
        self.src = src


class Sub:
    """One subscription of one connection to one recorded topic."""
    __slots__ = ("session", "key", "topic", "name", "name_b", "fastable", "awaiting", "depth",
                 "chan_id", "append", "channel")

    def __init__(self, session, key: str, topic: str | None, *, name: str = "",
                 fastable: bool = False, awaiting: bool = False, depth: int = 0,
                 chan_id: int = 0, channel: str = "") -> None:
        self.session = session
        self.key = key
        self.topic = topic
        self.name = name or key
        self.name_b = self.name.encode()
        self.fastable = fastable
        self.awaiting = awaiting
        self.depth = depth
        self.chan_id = chan_id
        self.channel = channel
        self.append = session.out.append


# -- exact text from the book ---------------------------------------------------------------------
def _rescale(units: int, frm: int, to: int) -> int:
    if to >= frm:
        return units * 10 ** (to - frm)
    q, r = divmod(units, 10 ** (frm - to))
    if r:
        raise ValueError(f"{units}e-{frm} has more than {to} decimals")
    return q


def book_levels(book, side: int, n: int, price_dec: int | None = None,
                size_dec: int | None = None, trim: bool = False) -> list[tuple[str, str]]:
    """The best n levels of a side as exchange text: prices with price_dec decimals and sizes
    with size_dec (the book's own when None), trailing zeros cut when trim."""
    arr = book.depth_ticks(side, n)
    if not len(arr):
        return []
    pd, sd = book.price_decimals, book.size_decimals
    wpd = pd if price_dec is None else price_dec
    wsd = sd if size_dec is None else size_dec
    tu, lu = book.tick_units, book.lot_units
    out = []
    for t, q in arr.tolist():
        out.append((format_units(_rescale(t * tu, pd, wpd), wpd, trim),
                    format_units(_rescale(q * lu, sd, wsd), wsd, trim)))
    return out


def _decimals(text: str) -> int:
    dot = text.find(".")
    return 0 if dot < 0 else len(text) - dot - 1


def _is_zero(text: str) -> bool:
    return text.strip("0.") == ""


def iso_ns(ns: int, digits: int = 9) -> str:
    """2026-08-09T21:05:48.505350477Z (Coinbase's timestamps), `digits` fraction digits."""
    s, frac = divmod(ns, 1_000_000_000)
    head = datetime.fromtimestamp(s, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{head}.{str(frac).rjust(9, '0')[:digits]}Z"


def iso_to_ns(text: str) -> int | None:
    """ns since the epoch of Coinbase's `2026-08-09T21:05:42.514318Z`; None if unreadable."""
    try:
        head, _, frac = text.rstrip("Z").partition(".")
        s = int(datetime.fromisoformat(head).replace(tzinfo=timezone.utc).timestamp())
        return s * 1_000_000_000 + int(frac.ljust(9, "0")[:9] or 0)
    except (ValueError, AttributeError):
        return None


def _query_symbol(url: str) -> str:
    q = parse_qs(urlsplit(url).query)
    return q["symbol"][0].upper() if "symbol" in q else ""


def _json(body, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body) if not isinstance(body, bytes)
                        else body, content_type="application/json")


_LOADED: dict[tuple, tuple[list, dict]] = {}     # (class, file, mtime) -> (events, attributes)


def _received_json(path: Path) -> Iterator[tuple[CaptureRecord, object]]:
    """(record, parsed message) for each received WebSocket frame of a capture that is JSON;
    the venues' loaders skip everything else the same way."""
    for rec in read_capture(path):
        if rec.kind != WS:
            continue
        try:
            m = orjson.loads(rec.payload)
        except orjson.JSONDecodeError:
            continue
        yield rec, m


class VenueSim(ABC):
    """What every venue shares: the event list, the replay position and clock, the book, the
    topic -> subscriber registry. Subclasses implement the wire format."""

    name = "?"
    norm_venue = "?"
    default_file = ""
    # True: the book follows the stream only when it is read (book(), status(), a connection
    # that takes the slow path), by applying the events sent since the last read. The replay
    # then costs a list append per message and subscriber, not a book update per message. Only
    # for venues whose book state is read through book() alone.
    lazy_book = False
    rest_prefixes: tuple[str, ...] = ()
    rest_hint = ""                 # appended to the REST base URL in urls()

    def __init__(self, sim, path: str | Path | None = None) -> None:
        self.sim = sim
        self.path = Path(path) if path else SAMPLES / self.default_file
        if not self.path.is_file():
            raise ValueError(f"{self.name}: recording {self.path} does not exist")
        key = (type(self), str(self.path.resolve()), self.path.stat().st_mtime_ns)
        cached = _LOADED.get(key)
        if cached is None:
            before = set(vars(self))
            events = self.load(self.path)
            cached = _LOADED[key] = (events, {k: v for k, v in vars(self).items()
                                              if k not in before})
        self.events: list[Event] = cached[0]       # read-only once loaded: shared by instances
        self.__dict__.update(cached[1])
        if not self.events:
            raise ValueError(f"{self.name}: no {self.name} messages in {self.path}")
        self.sessions: dict[int, object] = {}
        self.fast: dict[str, tuple] = {}        # topic -> session.out.append of fast subs
        self.slow: dict[str, tuple] = {}        # topic -> Subs that take the slow path
        self.finished = asyncio.Event()
        self.passes = 0
        self.base_wall = 0.0
        self.base_rec = 0
        self.restart()

    # -- replay state --------------------------------------------------------------------------
    def restart(self) -> None:
        """Back to the start of the recording with an empty book."""
        self.pos = 0
        self.applied = 0               # events [0, applied) are in the book
        self.passes += 1
        self.now_ns = self.events[0].ts
        self.norm = normalizer_for(self.norm_venue)
        self._book_keys: dict[str, tuple] = {}
        self.reset_state()

    def reset_state(self) -> None:
        """Venue-specific state that follows the book (subclasses)."""

    def start_clock(self) -> None:
        self.rebase()

    def rebase(self) -> None:
        """The next event is due now (start, resume, a change of speed)."""
        try:
            self.base_wall = asyncio.get_running_loop().time()
        except RuntimeError:
            self.base_wall = 0.0
        self.base_rec = self.events[self.pos].ts if self.pos < len(self.events) else self.now_ns

    def virtual_now(self, wall: float, speed: float) -> float:
        return self.base_rec + (wall - self.base_wall) * speed * 1e9

    @abstractmethod
    def load(self, path: Path) -> list[Event]:
        """The recording's messages as replay events (each venue reads its own format)."""

    def apply(self, ev: Event) -> None:
        self.norm.on_frame(ev.payload, ev.conn, ev.ts)

    def catch_up(self, upto: int | None = None) -> None:
        """Apply the events replayed so far (up to index `upto`) that the book has not seen."""
        upto = self.pos if upto is None else upto
        if self.applied >= upto:
            return
        evs, apply = self.events, self.apply
        for k in range(self.applied, upto):
            ev = evs[k]
            if ev.apply:
                apply(ev)
        self.applied = upto

    def book(self, symbol: str):
        """The simulator's book of a symbol when it is in sync with the stream, else None."""
        self.catch_up()
        bad = set(self.norm.unrecovered())
        for key, b in self.norm.books.items():
            if key[1] == symbol and key not in bad and b.valid:
                return b
        return None

    async def wait_book(self, symbol: str):
        """The book, waiting (up to sim.rest_wait) for the recording's first snapshot."""
        deadline = time.monotonic() + self.sim.rest_wait
        while True:
            b = self.book(symbol)
            if b is not None or time.monotonic() > deadline:
                return b
            await asyncio.sleep(0.005)

    # -- subscriptions -------------------------------------------------------------------------
    def register(self, sub: Sub) -> None:
        old = sub.session.subs.get(sub.key)
        if old is not None:
            self._remove(old)
        sub.session.subs[sub.key] = sub
        self._add(sub)

    def unregister(self, sub: Sub) -> None:
        self._remove(sub)
        if sub.session.subs.get(sub.key) is sub:
            del sub.session.subs[sub.key]

    def reregister(self, sub: Sub) -> None:
        self._remove(sub)
        self._add(sub)

    def _add(self, sub: Sub) -> None:
        if sub.awaiting:
            t = "snap|" + sub.topic
            self.slow[t] = self.slow.get(t, ()) + (sub,)
        if sub.topic is None:
            return
        if sub.fastable and sub.session.fast:
            self.fast[sub.topic] = self.fast.get(sub.topic, ()) + (sub.append,)
        else:
            self.slow[sub.topic] = self.slow.get(sub.topic, ()) + (sub,)

    def _remove(self, sub: Sub) -> None:
        for reg, item in ((self.fast, sub.append), (self.slow, sub)):
            for t in (sub.topic, "snap|%s" % sub.topic):
                subs = reg.get(t)
                if subs and any(x is item for x in subs):
                    rest = tuple(x for x in subs if x is not item)
                    if rest:
                        reg[t] = rest
                    else:
                        del reg[t]

    def snapshot_done(self, ev: Event) -> None:
        """A recorded snapshot went to the connections waiting for it: they wait no more."""
        for sub in self.slow.pop(ev.topic, ()):
            sub.awaiting = False

    # -- per-connection hooks (subclasses) -------------------------------------------------------
    def on_connect(self, session) -> None:
        pass

    def on_text(self, session, data: bytes) -> None:
        pass

    def render(self, session, sub: Sub, ev: Event) -> bytes | None:
        """This connection's bytes for an event (None: nothing to send)."""
        return ev.payload

    def update_id(self, ev: Event):
        """What identifies a depth update in the fault log."""
        return ev.x if isinstance(ev.x, (int, str, tuple)) else None

    def heartbeat(self, session, now: float, interval: float) -> None:
        pass

    def is_app_ping(self, data: bytes) -> bool:
        return False

    def shutdown_warning(self, session) -> bytes | None:
        return None

    def break_schema(self, payload: bytes) -> bytes:
        """Valid JSON, wrong types: the first list in the message becomes a string."""
        try:
            msg = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return b'{"unexpected":true}'

        def corrupt(x):
            if isinstance(x, dict):
                for k, v in x.items():
                    if isinstance(v, list):
                        x[k] = "corrupt"
                        return True
                    if corrupt(v):
                        return True
            elif isinstance(x, list):
                for i, v in enumerate(x):
                    if isinstance(v, (dict, list)) and corrupt(v):
                        return True
            return False

        corrupt(msg)
        return orjson.dumps(msg)

    def sample_payload(self, session) -> bytes | None:
        """A recent depth update in this connection's bytes, for a malformed copy."""
        topics = {sub.topic for sub in session.subs.values()}
        for i in range(self.pos - 1, max(-1, self.pos - 20000), -1):
            ev = self.events[i]
            if ev.kind == DEPTH and ev.topic in topics:
                sub = next(s for s in session.subs.values() if s.topic == ev.topic)
                return self.render(session, sub, ev)
        return None

    def subscribed(self, session) -> None:
        self.sim._on_subscribed(session)

    # -- trades for REST backfill --------------------------------------------------------------
    @staticmethod
    def _log_trade(table: dict, sym: str, index: int, trade) -> None:
        idx, lst = table.setdefault(sym, ([], []))
        idx.append(index)
        lst.append(trade)

    def _published(self, table: dict, sym: str) -> list:
        """The trades of a symbol the replay has sent so far (REST never shows the future)."""
        idx, lst = table.get(sym, ([], []))
        return lst[:bisect.bisect_left(idx, self.pos)]

    # -- REST ------------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        pass

    def rest_error_body(self, status: int, retry_after: int) -> bytes:
        return orjson.dumps({"error": f"HTTP {status}", "retry_after": retry_after})

    def status(self) -> dict:
        self.catch_up()
        books = {}
        for (conn, sym), b in sorted(self.norm.books.items()):
            bb, ba = b.best_bid(), b.best_ask()
            books[sym] = {"valid": bool(b.valid), "seq": int(b.seq),
                          "best_bid": list(bb) if bb else None,
                          "best_ask": list(ba) if ba else None}
        return {"file": str(self.path), "events": len(self.events), "pos": self.pos,
                "pass": self.passes, "finished": self.finished.is_set(),
                "clients": len(self.sessions), "books": books}


# =================================================================================================
# Binance (spot and USD-M futures)
# =================================================================================================
_STREAM_HEAD = b'{"stream":"'


class BinanceSim(VenueSim):
    """Binance spot: combined streams (/stream?streams=a/b), raw streams (/ws/<name>, or /ws and
    SUBSCRIBE), SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY,
    REST depth (lastUpdateId = the last diff's u the simulator applied), trades, historicalTrades,
    aggTrades (backfill by fromId / startTime / endTime over what has been published so far).

    A stream name the recording does not hold by that exact name is served from the one it does
    hold: `<sym>@depth` and `<sym>@depth@1000ms` from the recorded diff depth stream (its cadence,
    renamed), `<sym>@depth5/10/20[@100ms]` (partial book depth) from the simulator's book after
    each recorded diff, `<sym>@aggTrade` from the recorded trades (one aggregate per trade,
    a = f = l = the trade id) when no aggTrade was recorded. Other well-formed names are accepted
    and stay silent, as on Binance."""

    name = "binance"
    norm_venue = "binance"
    default_file = "hbt_spot_btcusdt_20240808.gz"
    rest_prefixes = ("/api/v3",)
    rest_hint = "/api/v3"
    lazy_book = True
    futures = False
    depth_limits = (1, 5000, 100)            # min, max, default

    # -- load ----------------------------------------------------------------------------------
    def load(self, path: Path) -> list[Event]:
        raw: list[Event] = []
        self.symbols: set[str] = set()
        self.wire_dec: dict[str, list[int]] = {}      # symbol -> [price decimals, size decimals]
        samples: dict[str, int] = {}
        recorded_kinds: dict[str, set[str]] = {}
        for rec in read_capture(path):
            if rec.kind == REST:
                if b'"lastUpdateId"' not in rec.payload[:40]:
                    continue
                sym = _query_symbol(rec.src)
                ev = Event(rec.ts_ns, None, rec.payload, BOOK, True, sym, conn="rest",
                           src=rec.src)
                raw.append(ev)
                snap = orjson.loads(rec.payload)
                if sym:
                    self._learn(sym, snap.get("bids", []) + snap.get("asks", []))
                else:
                    ev.x = snap.get("bids", []) + snap.get("asks", [])
                continue
            if rec.kind != WS or not rec.payload.startswith(_STREAM_HEAD):
                continue
            p = rec.payload
            q = p.find(b'"', len(_STREAM_HEAD))
            if q < 0 or p[q:q + 9] != b'","data":' or not p.endswith(b"}"):
                continue
            stream = p[len(_STREAM_HEAD):q].decode()
            sym_l, _, kind = stream.partition("@")
            sym = sym_l.upper()
            self.symbols.add(sym)
            recorded_kinds.setdefault(sym, set()).add(kind.split("@")[0])
            ev = Event(rec.ts_ns, stream, p, STREAM, False, sym, conn=rec.conn)
            ev.data = p[q + 9:-1]
            if kind == "depth" or kind.startswith("depth@"):
                ev.kind, ev.apply = DEPTH, True
                d = orjson.loads(ev.data)
                ev.x = (d.get("U"), d.get("u"))
                if samples.get(sym, 0) < 20:
                    samples[sym] = samples.get(sym, 0) + 1
                    self._learn(sym, d.get("b", []) + d.get("a", []))
            elif kind in ("trade", "aggTrade"):
                ev.x = orjson.loads(ev.data)
            raw.append(ev)
        if len(self.symbols) == 1:                   # hftbacktest files: snapshot without URL
            only = next(iter(self.symbols))
            for ev in raw:
                if ev.kind == BOOK and not ev.symbol:
                    ev.symbol = only
                    self._learn(only, ev.x or [])
                    ev.x = None
        # trades for REST backfill, synthesized aggTrades where none were recorded
        events: list[Event] = []
        self.trades: dict[str, tuple[list[int], list[dict]]] = {}
        self.aggs: dict[str, tuple[list[int], list[dict]]] = {}
        self.synth_agg = {s for s, k in recorded_kinds.items() if "trade" in k
                          and "aggTrade" not in k}
        for ev in raw:
            events.append(ev)
            if ev.topic is None or not isinstance(ev.x, dict):
                continue
            d = ev.x
            if d.get("e") == "trade":
                idx, lst = self.trades.setdefault(ev.symbol, ([], []))
                idx.append(len(events) - 1)
                lst.append(d)
                if ev.symbol in self.synth_agg:
                    agg = {"e": "aggTrade", "E": d["E"], "s": d["s"], "a": d["t"], "p": d["p"],
                           "q": d["q"], "f": d["t"], "l": d["t"], "T": d["T"], "m": d["m"],
                           "M": d.get("M", True)}
                    name = ev.symbol.lower() + "@aggTrade"
                    data = orjson.dumps(agg)
                    a = Event(ev.ts, name, b'{"stream":"' + name.encode() + b'","data":'
                              + data + b"}", STREAM, False, ev.symbol, conn=ev.conn)
                    a.data = data
                    events.append(a)
                    idx, lst = self.aggs.setdefault(ev.symbol, ([], []))
                    idx.append(len(events) - 1)
                    lst.append(agg)
            elif d.get("e") == "aggTrade":
                idx, lst = self.aggs.setdefault(ev.symbol, ([], []))
                idx.append(len(events) - 1)
                lst.append(d)
            ev.x = None
        self.topics = {ev.topic for ev in events if ev.topic is not None}
        self.depth_topic = {ev.symbol: ev.topic for ev in events if ev.kind == DEPTH}
        return events

    def _learn(self, sym: str, levels: list) -> None:
        d = self.wire_dec.setdefault(sym, [0, 0])
        for lv in levels:
            if isinstance(lv, list) and len(lv) >= 2 and isinstance(lv[0], str) \
                    and isinstance(lv[1], str):
                d[0] = max(d[0], _decimals(lv[0]))
                d[1] = max(d[1], _decimals(lv[1]))

    def apply(self, ev: Event) -> None:
        if ev.kind == DEPTH:
            self.norm.on_frame(ev.payload, ev.conn, ev.ts)
        else:
            self.norm.on_rest(ev.payload, "rest", ev.ts, ev.src)

    def update_id(self, ev: Event):
        return {"U": ev.x[0], "u": ev.x[1]} if ev.kind == DEPTH else None

    # -- streams -------------------------------------------------------------------------------
    def resolve(self, name: str) -> str | None:
        """The recorded topic a requested stream name is served from (None: silent)."""
        if name in self.topics:
            return name
        sym, _, kind = name.partition("@")
        if kind == "depth" or kind.startswith("depth@") or self.partial_levels(name):
            return self.depth_topic.get(sym.upper())
        return None

    @staticmethod
    def partial_levels(name: str) -> int:
        """5, 10 or 20 for a partial book depth stream (`<sym>@depth20@100ms`), else 0."""
        kind = name.partition("@")[2]
        head, _, speed = kind.partition("@")
        if head in ("depth5", "depth10", "depth20") and speed in ("", "100ms", "250ms",
                                                                  "500ms", "1000ms"):
            return int(head[5:])
        return 0

    def partial_payload(self, ev: Event, n: int) -> bytes | None:
        """The top n levels of the simulator's book right after a diff, in Binance's partial
        book depth format (spot: lastUpdateId/bids/asks; futures: a depthUpdate with U/u/pu)."""
        cached = self._partial
        if cached[0] is ev and cached[1] == n:
            return cached[2]
        book = self.book(ev.symbol)
        if book is None:
            return None
        pd, sd = self.wire_dec.get(ev.symbol, (book.price_decimals, book.size_decimals))
        bids = ",".join(f'["{p}","{q}"]' for p, q in book_levels(book, 0, n, pd, sd))
        asks = ",".join(f'["{p}","{q}"]' for p, q in book_levels(book, 1, n, pd, sd))
        if self.futures:
            d = orjson.loads(ev.data)
            body = (f'{{"e":"depthUpdate","E":{d.get("E")},"T":{d.get("T")},"s":"{ev.symbol}",'
                    f'"U":{d.get("U")},"u":{d.get("u")},"pu":{d.get("pu")},'
                    f'"b":[{bids}],"a":[{asks}]}}').encode()
        else:
            body = f'{{"lastUpdateId":{int(book.seq)},"bids":[{bids}],"asks":[{asks}]}}'.encode()
        self._partial = (ev, n, body)
        return body

    def reset_state(self) -> None:
        self._partial = (None, 0, b"")

    @staticmethod
    def normalize_name(name: str) -> str:
        sym, sep, kind = name.strip().partition("@")
        return sym.lower() + sep + kind

    def on_connect(self, session) -> None:
        segs = [p for p in session.path.split("/") if p]
        combined = segs[:1] == ["stream"]
        session.state["combined"] = combined
        names: list[str] = []
        if combined:
            for v in session.query.get("streams", []):
                names += [n for n in v.split("/") if n]
        elif segs[:1] == ["ws"] and len(segs) > 1:
            names = segs[1:]
        if names:
            self.subscribe(session, names)

    def subscribe(self, session, names: list[str]) -> None:
        for raw_name in names:
            name = self.normalize_name(raw_name)
            topic = self.resolve(name)
            self.register(Sub(session, name, topic, name=name, depth=self.partial_levels(name),
                              fastable=session.state["combined"] and topic == name))
        self.subscribed(session)

    def on_text(self, session, data: bytes) -> None:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            session.send_payload(orjson.dumps({"error": {"code": 3, "msg": f"Invalid JSON: {e}"},
                                               "id": None}))
            return
        if not isinstance(msg, dict):
            session.send_payload(orjson.dumps({"error": {"code": 2, "msg": "Invalid request"},
                                               "id": None}))
            return
        mid, method, params = msg.get("id"), msg.get("method"), msg.get("params", [])
        if not (mid is None or isinstance(mid, (int, str))):
            session.send_payload(orjson.dumps({"error": {"code": 2, "msg": "Invalid request: "
                                               "request ID must be an unsigned integer"},
                                               "id": None}))
            return
        if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
            if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
                session.send_payload(orjson.dumps({"error": {"code": 2, "msg": "Invalid "
                                                   "request: params must be stream names"},
                                                   "id": mid}))
                return
            if method == "SUBSCRIBE":
                self.subscribe(session, params)
            else:
                for p in params:
                    sub = session.subs.get(self.normalize_name(p))
                    if sub is not None:
                        self.unregister(sub)
            session.send_payload(orjson.dumps({"result": None, "id": mid}))
        elif method == "LIST_SUBSCRIPTIONS":
            session.send_payload(orjson.dumps({"result": sorted(session.subs), "id": mid}))
        elif method == "SET_PROPERTY":
            if isinstance(params, list) and len(params) == 2 and params[0] == "combined" \
                    and isinstance(params[1], bool):
                session.state["combined"] = params[1]
                for sub in session.subs.values():
                    sub.fastable = params[1] and sub.topic == sub.name
                    self.reregister(sub)
                session.send_payload(orjson.dumps({"result": None, "id": mid}))
            else:
                session.send_payload(orjson.dumps({"error": {"code": 2, "msg": "Invalid "
                                                   "request: unknown property"}, "id": mid}))
        elif method == "GET_PROPERTY":
            session.send_payload(orjson.dumps({"result": session.state["combined"], "id": mid}))
        else:
            session.send_payload(orjson.dumps({"error": {"code": 2, "msg": "Invalid request: "
                                               f"unknown method {method!r}"}, "id": mid}))

    def render(self, session, sub: Sub, ev: Event) -> bytes | None:
        data = ev.data
        if sub.depth:
            data = self.partial_payload(ev, sub.depth)
            if data is None:
                return None
        if session.state.get("combined"):
            if sub.name == ev.topic:
                return ev.payload
            return b'{"stream":"' + sub.name_b + b'","data":' + data + b"}"
        return data

    def shutdown_warning(self, session) -> bytes | None:
        return orjson.dumps({"event": {"e": "serverShutdown", "E": self.now_ns // 1_000_000}})

    def break_schema(self, payload: bytes) -> bytes:
        try:
            msg = orjson.loads(payload)
            d = msg.get("data", msg)
            d["b"] = "corrupt"
            d["u"] = str(d.get("u"))
            return orjson.dumps(msg)
        except (orjson.JSONDecodeError, AttributeError, TypeError):
            return super().break_schema(payload)

    # -- REST ----------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        pre = self.rest_prefixes[0]
        app.router.add_get(f"{pre}/depth", self.rest_depth)
        app.router.add_get(f"{pre}/trades", self.rest_trades)
        app.router.add_get(f"{pre}/historicalTrades", self.rest_historical)
        app.router.add_get(f"{pre}/aggTrades", self.rest_agg)
        app.router.add_get(f"{pre}/ping", self.rest_ping)
        app.router.add_get(f"{pre}/time", self.rest_time)

    async def rest_ping(self, request: web.Request) -> web.Response:
        return _json({})

    async def rest_time(self, request: web.Request) -> web.Response:
        """The replay clock: the exchange time of the last message sent."""
        return _json({"serverTime": self.now_ns // 1_000_000})

    def rest_error_body(self, status: int, retry_after: int) -> bytes:
        until = self.now_ns // 1_000_000 + retry_after * 1000
        if status == 418:
            return orjson.dumps({"code": -1003, "msg": f"Way too many requests; IP(127.0.0.1) "
                                 f"banned until {until}. Please use the websocket for live "
                                 f"updates to avoid bans."})
        return orjson.dumps({"code": -1003, "msg": "Too many requests; current limit of "
                             "IP(127.0.0.1) is 6000 requests per minute. Please use the "
                             "websocket for live updates to avoid polling the API."})

    @staticmethod
    def _bad(code: int, msg: str) -> web.Response:
        return _json({"code": code, "msg": msg}, 400)

    def _symbol(self, request: web.Request) -> str | web.Response:
        sym = request.query.get("symbol", "")
        if not sym:
            return self._bad(-1102, "Mandatory parameter 'symbol' was not sent, was empty/null, "
                                    "or malformed.")
        sym = sym.upper()
        if sym not in self.symbols:
            return self._bad(-1121, "Invalid symbol.")
        return sym

    def _int(self, request: web.Request, key: str, default: int | None) -> int | None:
        v = request.query.get(key)
        if v is None or v == "":
            return default
        if not v.isdigit():
            raise ValueError(key)
        return int(v)

    async def rest_depth(self, request: web.Request) -> web.Response:
        sym = self._symbol(request)
        if isinstance(sym, web.Response):
            return sym
        lo, hi, default = self.depth_limits
        try:
            limit = min(hi, max(lo, self._int(request, "limit", default)))
        except ValueError:
            return self._bad(-1100, "Illegal characters found in parameter 'limit'; legal "
                                    "range is '^[0-9]{1,20}$'.")
        book = await self.wait_book(sym)
        if book is None:
            return _json({"code": -1001, "msg": "Internal error; unable to process your "
                                                "request. Please try again."}, 503)
        pd, sd = self.wire_dec.get(sym, (book.price_decimals, book.size_decimals))
        parts = []
        for side in (0, 1):
            lv = book_levels(book, side, limit, pd, sd)
            parts.append(",".join(f'["{p}","{q}"]' for p, q in lv))
        head = f'{{"lastUpdateId":{int(book.seq)}'
        if self.futures:
            ms = self.now_ns // 1_000_000
            head += f',"E":{ms},"T":{ms}'
        body = f'{head},"bids":[{parts[0]}],"asks":[{parts[1]}]}}'
        return web.Response(body=body.encode(), content_type="application/json")

    @staticmethod
    def _trade_rest(d: dict) -> dict:
        quote = Decimal(d["p"]) * Decimal(d["q"])
        quote_text = format(quote.quantize(Decimal("1e-8")).normalize(), "f")
        return {"id": d["t"], "price": d["p"], "qty": d["q"], "quoteQty": quote_text,
                "time": d["T"], "isBuyerMaker": d["m"], "isBestMatch": d.get("M", True)}

    async def rest_trades(self, request: web.Request) -> web.Response:
        return await self._trades(request, historical=False)

    async def rest_historical(self, request: web.Request) -> web.Response:
        return await self._trades(request, historical=True)

    async def _trades(self, request: web.Request, historical: bool) -> web.Response:
        sym = self._symbol(request)
        if isinstance(sym, web.Response):
            return sym
        try:
            limit = min(1000, max(1, self._int(request, "limit", 500)))
            from_id = self._int(request, "fromId", None) if historical else None
        except ValueError as e:
            return self._bad(-1100, f"Illegal characters found in parameter '{e}'.")
        trades = self._published(self.trades, sym)
        if from_id is not None:
            ids = [t["t"] for t in trades]
            i = bisect.bisect_left(ids, from_id)
            out = trades[i:i + limit]
        else:
            out = trades[-limit:]
        return _json([self._trade_rest(t) for t in out])

    async def rest_agg(self, request: web.Request) -> web.Response:
        sym = self._symbol(request)
        if isinstance(sym, web.Response):
            return sym
        try:
            limit = min(1000, max(1, self._int(request, "limit", 500)))
            from_id = self._int(request, "fromId", None)
            start = self._int(request, "startTime", None)
            end = self._int(request, "endTime", None)
        except ValueError as e:
            return self._bad(-1100, f"Illegal characters found in parameter '{e}'.")
        if start is not None and end is not None and end - start > 3_600_000:
            return self._bad(-1127, "More than 1 hours between startTime and endTime.")
        aggs = self._published(self.aggs, sym)
        if from_id is not None:
            i = bisect.bisect_left([a["a"] for a in aggs], from_id)
            out = aggs[i:i + limit]
        elif start is not None or end is not None:
            out = [a for a in aggs if (start is None or a["T"] >= start)
                   and (end is None or a["T"] <= end)][:limit]
        else:
            out = aggs[-limit:]
        return _json([{k: a[k] for k in ("a", "p", "q", "f", "l", "T", "m", "M") if k in a}
                      for a in out])


class BinanceUsdmSim(BinanceSim):
    """Binance USD-M futures: the same protocol under /fapi/v1; diffs carry `pu`, the REST
    depth adds E and T."""

    name = "binance-usdm"
    default_file = "cf_usdm_20210722_4sym.jsonl"
    rest_prefixes = ("/fapi/v1",)
    rest_hint = "/fapi/v1"
    futures = True
    depth_limits = (5, 1000, 500)


# =================================================================================================
# Kraken spot, WebSocket v1
# =================================================================================================
KRAKEN_DEPTHS = (10, 25, 100, 500, 1000)


class KrakenSim(VenueSim):
    """Kraken spot WebSocket v1: systemStatus on connect, subscribe / unsubscribe with
    subscriptionStatus, book-N snapshots and updates (recorded CRC32 checksums), trade, ticker,
    spread; heartbeat after a second without traffic; ping -> pong.

    The recording's own depth (book-1000 here) is streamed byte for byte. A smaller depth is
    derived from the simulator's book the way Kraken does it: after each recorded update the
    top-N view is compared with the one sent before; changed levels are sent, a level that left
    the book is deleted, a level that comes into view from below is republished ("r"), a level
    merely pushed out is left to the client's truncation. The recorded checksum still applies
    (it covers the top 10, the same in every view)."""

    name = "kraken"
    norm_venue = "kraken"
    default_file = "cf_kraken_spot_20210417_5pairs.jsonl"
    rest_prefixes = ("/0/public",)
    rest_hint = "/0/public"

    def load(self, path: Path) -> list[Event]:
        events: list[Event] = []
        self.chan_ids: dict[tuple[str, str], int] = {}
        self.rec_depth: dict[str, int] = {}
        self.pairs: set[str] = set()
        self.channels: dict[str, set[str]] = {}       # pair -> recorded channel names
        self.version = "1.8.3"
        self.price_dec: dict[str, int] = {}
        self.size_dec: dict[str, int] = {}
        self.trade_log: dict[str, tuple[list[int], list]] = {}
        for rec, m in _received_json(path):
            p = rec.payload
            if isinstance(m, dict):
                if m.get("event") == "subscriptionStatus" and m.get("status") == "subscribed":
                    self.chan_ids[(m.get("channelName"), m.get("pair"))] = m.get("channelID")
                elif m.get("event") == "systemStatus":
                    self.version = m.get("version", self.version)
                continue
            if not isinstance(m, list) or len(m) < 4 or not isinstance(m[-2], str):
                continue
            chan, pair = m[-2], m[-1]
            self.pairs.add(pair)
            self.channels.setdefault(pair, set()).add(chan)
            if chan.startswith("book-"):
                self.rec_depth[pair] = int(chan[5:])
                payloads = m[1:-2]
                if "as" in payloads[0] or "bs" in payloads[0]:
                    x = self._levels(pair, payloads[0].get("bs", []), payloads[0].get("as", []))
                    events.append(Event(rec.ts_ns, f"snap|{chan}|{pair}", p, SNAP, True, pair,
                                        x))
                else:
                    bids, asks, c = [], [], None
                    for d in payloads:
                        bids += d.get("b", [])
                        asks += d.get("a", [])
                        c = d.get("c", c)
                    ev = Event(rec.ts_ns, f"{chan}|{pair}", p, DEPTH, True, pair,
                               self._levels(pair, bids, asks))
                    ev.data = c.encode() if isinstance(c, str) else b""
                    events.append(ev)
            else:
                if chan == "trade" and isinstance(m[1], list):
                    for t in m[1]:
                        self._log_trade(self.trade_log, pair, len(events), t)
                events.append(Event(rec.ts_ns, f"{chan}|{pair}", p, STREAM, False, pair))
        # wire decimals known now: prices as integer units at them, for the derived depths
        for ev in events:
            if ev.x is not None:
                pd = self.price_dec.get(ev.symbol, 0)
                ev.x = [(side, parse_units(lv[0], pd), lv[0], lv[1], lv[2] if len(lv) > 2
                         else "", len(lv) > 3 and lv[3] == "r") for side, lv in ev.x]
        return events

    def _levels(self, pair: str, bids: list, asks: list) -> list:
        out = [(0, lv) for lv in bids] + [(1, lv) for lv in asks]
        for _, lv in out:
            self.price_dec[pair] = max(self.price_dec.get(pair, 0), _decimals(lv[0]))
            self.size_dec[pair] = max(self.size_dec.get(pair, 0), _decimals(lv[1]))
        return out

    def reset_state(self) -> None:
        self.level_ts: dict[str, tuple[dict, dict]] = {}     # pair -> side -> price text -> ts
        self.views: dict[str, dict[int, list]] = {}          # pair -> depth -> [bids, asks]
        self.view_refs: dict[tuple[str, int], int] = {}
        self.derived: dict[tuple[str, int], tuple] = {}      # (pair, depth) -> (ev, payload)
        self.derived_ids: dict[tuple[str, int], int] = getattr(self, "derived_ids", {})

    # -- book ------------------------------------------------------------------------------------
    def apply(self, ev: Event) -> None:
        self.norm.on_frame(ev.payload, "ws", ev.ts)
        pair = ev.symbol
        tsm = self.level_ts.get(pair)
        if ev.kind == SNAP or tsm is None:
            tsm = self.level_ts[pair] = ({}, {})
        for side, _, price, vol, ts, _ in ev.x:
            if _is_zero(vol):
                tsm[side].pop(price, None)
            else:
                tsm[side][price] = ts
        views = self.views.get(pair)
        if views:
            book = self.book(pair)
            for d in views:
                if ev.kind == SNAP or book is None:
                    views[d] = self._view(pair, d)
                else:
                    self.derived[(pair, d)] = (ev, self._derive(ev, pair, d, views))

    def _wire(self, pair: str) -> tuple[int, int]:
        return self.price_dec.get(pair, 0), max(8, self.size_dec.get(pair, 8))

    def _view(self, pair: str, d: int) -> list:
        """[bids, asks]: dicts price units -> volume units (wire decimals) of the top d."""
        book = self.book(pair)
        out = [{}, {}]
        if book is None:
            return out
        pd, sd = self._wire(pair)
        for side in (0, 1):
            arr = book.depth_ticks(side, d)
            for t, q in arr.tolist():
                out[side][_rescale(t * book.tick_units, book.price_decimals, pd)] = \
                    _rescale(q * book.lot_units, book.size_decimals, sd)
        return out

    def _derive(self, ev: Event, pair: str, d: int, views: dict) -> bytes | None:
        old = views[d]
        new = self._view(pair, d)
        views[d] = new
        pd, sd = self._wire(pair)
        tsm = self.level_ts.get(pair, ({}, {}))
        in_update = [{}, {}]
        last_ts = ""
        for side, pu, _, _, ts, _ in ev.x:
            in_update[side][pu] = ts
            last_ts = ts or last_ts
        sides = []
        for side in (0, 1):
            o, n = old[side], new[side]
            entries = []
            worst = None
            if len(n) == d and n:
                worst = min(n) if side == 0 else max(n)
            for pu in o:
                if pu in n:
                    continue
                if worst is not None and (pu < worst if side == 0 else pu > worst):
                    continue                            # pushed out: the client truncates
                entries.append([format_units(pu, pd), format_units(0, sd),
                                in_update[side].get(pu, last_ts)])
            for pu, vu in n.items():
                if o.get(pu) != vu:
                    text = format_units(pu, pd)
                    lv = [text, format_units(vu, sd), tsm[side].get(text, last_ts)]
                    if pu not in o and pu not in in_update[side]:
                        lv.append("r")
                    entries.append(lv)
            sides.append(entries)
        bids, asks = sides
        if not bids and not asks:
            return None
        chan = self.derived_ids[(pair, d)]
        dicts = []
        if asks:
            dicts.append({"a": asks})
        if bids:
            dicts.append({"b": bids})
        if ev.data:
            dicts[-1]["c"] = ev.data.decode()
        return orjson.dumps([chan, *dicts, f"book-{d}", pair])

    def snapshot_payload(self, pair: str, d: int, chan_id: int) -> bytes | None:
        book = self.book(pair)
        if book is None:
            return None
        pd, sd = self._wire(pair)
        tsm = self.level_ts.get(pair, ({}, {}))
        fallback = f"{self.now_ns // 1_000_000_000}.{self.now_ns % 1_000_000_000 // 1000:06d}"
        out = {}
        for side, key in ((1, "as"), (0, "bs")):
            out[key] = [[p, q, tsm[side].get(p, fallback)]
                        for p, q in book_levels(book, side, d, pd, sd)]
        return orjson.dumps([chan_id, out, f"book-{d}", pair])

    # -- connections -------------------------------------------------------------------------
    def on_connect(self, session) -> None:
        session.send_payload(orjson.dumps({"connectionID": int.from_bytes(os.urandom(8), "big"),
                                           "event": "systemStatus", "status": "online",
                                           "version": self.version}))

    def is_app_ping(self, data: bytes) -> bool:
        return b'"ping"' in data

    def heartbeat(self, session, now: float, interval: float) -> None:
        if now - session.last_tx >= interval:
            session.send_payload(b'{"event":"heartbeat"}')

    def shutdown_warning(self, session) -> bytes | None:
        return orjson.dumps({"connectionID": 0, "event": "systemStatus",
                             "status": "maintenance", "version": self.version})

    def on_text(self, session, data: bytes) -> None:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            session.send_payload(b'{"errorMessage":"Malformed request","event":"error"}')
            return
        if not isinstance(msg, dict):
            session.send_payload(b'{"errorMessage":"Malformed request","event":"error"}')
            return
        event = msg.get("event")
        reqid = msg.get("reqid")
        if event == "ping":
            session.send_control(orjson.dumps({"event": "pong", "reqid": reqid}
                                              if reqid is not None else {"event": "pong"}))
        elif event in ("subscribe", "unsubscribe"):
            self._subscribe(session, msg, event == "subscribe")
        else:
            err = {"errorMessage": "Unsupported event", "event": "error"}
            if reqid is not None:
                err["reqid"] = reqid
            session.send_payload(orjson.dumps(err))

    def _status(self, pair: str, sub: dict, reqid, status: str, chan: str | None = None,
                chan_id: int | None = None, error: str | None = None) -> bytes:
        m: dict = {}
        if error is not None:
            m["errorMessage"] = error
        else:
            m["channelID"] = chan_id
            m["channelName"] = chan
        m["event"] = "subscriptionStatus"
        m["pair"] = pair
        if reqid is not None:
            m["reqid"] = reqid
        m["status"] = status
        m["subscription"] = dict(sorted(sub.items()))
        return orjson.dumps(m)

    def _subscribe(self, session, msg: dict, on: bool) -> None:
        reqid = msg.get("reqid")
        sub = msg.get("subscription")
        pairs = msg.get("pair")
        if not isinstance(sub, dict) or not isinstance(sub.get("name"), str):
            session.send_payload(orjson.dumps({"errorMessage": "Subscription name invalid",
                                               "event": "subscriptionStatus", "status": "error",
                                               **({"reqid": reqid} if reqid is not None
                                                  else {})}))
            return
        if not isinstance(pairs, list) or not pairs:
            session.send_payload(orjson.dumps({"errorMessage": "Pair(s) not found",
                                               "event": "subscriptionStatus", "status": "error",
                                               **({"reqid": reqid} if reqid is not None
                                                  else {})}))
            return
        name = sub["name"]
        for pair in pairs:
            if not isinstance(pair, str) or pair not in self.pairs:
                session.send_payload(self._status(str(pair), sub, reqid, "error",
                                                  error=f"Currency pair not supported {pair}"))
                continue
            if name == "book":
                depth = sub.get("depth", 10)
                if pair not in self.rec_depth:
                    session.send_payload(self._status(pair, sub, reqid, "error",
                                                      error="Subscription book not available "
                                                            "for this pair in the recording"))
                    continue
                if depth not in KRAKEN_DEPTHS:
                    session.send_payload(self._status(pair, sub, reqid, "error",
                                                      error="Subscription depth not supported"))
                    continue
                self._book_sub(session, pair, min(depth, self.rec_depth.get(pair, 1000)), sub,
                               reqid, on)
                continue
            chan = f"ohlc-{sub.get('interval', 1)}" if name == "ohlc" else name
            if name not in ("trade", "ticker", "spread", "ohlc"):
                session.send_payload(self._status(pair, sub, reqid, "error",
                                                  error="Subscription name invalid"))
                continue
            key = f"{chan}|{pair}"
            chan_id = self.chan_ids.get((chan, pair)) or self._alloc_id(pair, chan)
            if on:
                self.register(Sub(session, key, key, fastable=True, chan_id=chan_id))
            elif key in session.subs:
                self.unregister(session.subs[key])
            session.send_payload(self._status(pair, sub, reqid,
                                              "subscribed" if on else "unsubscribed",
                                              chan, chan_id))
        if on:
            self.subscribed(session)

    def _alloc_id(self, pair: str, what: int | str) -> int:
        """A channel id for a (pair, depth or channel) the recording has none for."""
        key = (pair, what)
        if key not in self.derived_ids:
            self.derived_ids[key] = 20000 + len(self.derived_ids)
        return self.derived_ids[key]

    def _book_sub(self, session, pair: str, d: int, sub: dict, reqid, on: bool) -> None:
        rec_d = self.rec_depth[pair]
        rec_chan = f"book-{rec_d}"
        topic = f"{rec_chan}|{pair}"
        key = f"book|{pair}"
        identity = d == rec_d
        chan_id = (self.chan_ids.get((rec_chan, pair)) or self._alloc_id(pair, rec_d)) \
            if identity else self._alloc_id(pair, d)
        old = session.subs.get(key)
        if old is not None:
            self._drop_view(old)
            self.unregister(old)
        if not on:
            session.send_payload(self._status(pair, sub, reqid, "unsubscribed", f"book-{d}",
                                              chan_id))
            return
        session.send_payload(self._status(pair, sub, reqid, "subscribed", f"book-{d}",
                                          chan_id))
        ready = self.book(pair) is not None
        s = Sub(session, key, topic, fastable=identity, awaiting=not ready, depth=d,
                chan_id=chan_id)
        if not identity:
            self.view_refs[(pair, d)] = self.view_refs.get((pair, d), 0) + 1
            views = self.views.setdefault(pair, {})
            if d not in views:
                views[d] = self._view(pair, d)
        if ready:
            session.send_payload(self.snapshot_payload(pair, d, chan_id))
        self.register(s)

    def _drop_view(self, sub: Sub) -> None:
        pair = sub.key.split("|", 1)[1]
        if sub.depth and sub.depth != self.rec_depth.get(pair):
            k = (pair, sub.depth)
            self.view_refs[k] = self.view_refs.get(k, 1) - 1
            if self.view_refs[k] <= 0:
                self.view_refs.pop(k, None)
                self.views.get(pair, {}).pop(sub.depth, None)
                self.derived.pop(k, None)

    def unregister(self, sub: Sub) -> None:
        if sub.key.startswith("book|") and sub.session.closed:
            self._drop_view(sub)
        super().unregister(sub)

    def render(self, session, sub: Sub, ev: Event) -> bytes | None:
        pair = ev.symbol
        identity = sub.depth == 0 or sub.depth == self.rec_depth.get(pair)
        if ev.kind == SNAP:
            if identity:
                return ev.payload
            return self.snapshot_payload(pair, sub.depth, sub.chan_id)
        if identity:
            return ev.payload
        got = self.derived.get((pair, sub.depth))
        return got[1] if got is not None and got[0] is ev else None

    def update_id(self, ev: Event):
        return {"checksum": ev.data.decode()} if ev.kind == DEPTH else None

    def break_schema(self, payload: bytes) -> bytes:
        try:
            m = orjson.loads(payload)
            for d in m[1:-2]:
                for k in ("a", "b", "as", "bs"):
                    if k in d:
                        d[k] = "corrupt"
                        return orjson.dumps(m)
        except (orjson.JSONDecodeError, TypeError, AttributeError):
            pass
        return super().break_schema(payload)

    # -- REST ----------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/0/public/Depth", self.rest_depth)
        app.router.add_get("/0/public/Trades", self.rest_trades)
        app.router.add_get("/0/public/Time", self.rest_time)

    async def rest_time(self, request: web.Request) -> web.Response:
        return _json({"error": [], "result": {"unixtime": self.now_ns // 1_000_000_000}})

    def rest_error_body(self, status: int, retry_after: int) -> bytes:
        return orjson.dumps({"error": ["EAPI:Rate limit exceeded"]})

    async def rest_trades(self, request: web.Request) -> web.Response:
        """Trades after `since` (ns, Kraken's `last` cursor), oldest first, up to `count`
        (default 1000). Trade ids are the position in the recording (WS v1 carries none)."""
        asked = request.query.get("pair", "")
        pair = next((p for p in self.pairs if asked in (p, p.replace("/", ""))), None)
        if pair is None:
            return _json({"error": ["EQuery:Unknown asset pair"]})
        try:
            since = int(request.query.get("since", "0") or 0)
            count = min(1000, max(1, int(request.query.get("count", "1000"))))
        except ValueError:
            return _json({"error": ["EGeneral:Invalid arguments"]})
        if since and since < 10**12:            # seconds, the older form of the cursor
            since *= 1_000_000_000
        out, last = [], since
        for i, t in enumerate(self._published(self.trade_log, pair)):
            ns = int(Decimal(t[2]) * 1_000_000_000)
            if ns <= since:
                continue
            out.append([t[0], t[1], float(t[2]), t[3], t[4], t[5], i + 1])
            last = ns
            if len(out) == count:
                break
        return _json({"error": [], "result": {asked: out, "last": str(last)}})

    async def rest_depth(self, request: web.Request) -> web.Response:
        asked = request.query.get("pair", "")
        pair = next((p for p in self.pairs if asked in (p, p.replace("/", ""))), None)
        if pair is None:
            return _json({"error": ["EQuery:Unknown asset pair"]})
        try:
            count = min(500, max(1, int(request.query.get("count", "100"))))
        except ValueError:
            return _json({"error": ["EGeneral:Invalid arguments"]})
        book = await self.wait_book(pair)
        if book is None:
            return _json({"error": ["EService:Unavailable"]})
        pd, sd = self._wire(pair)
        tsm = self.level_ts.get(pair, ({}, {}))
        res = {}
        for side, key in ((1, "asks"), (0, "bids")):
            res[key] = [[p, q, int(float(tsm[side].get(p, "0") or 0))]
                        for p, q in book_levels(book, side, count, pd, sd)]
        return _json({"error": [], "result": {asked: res}})


# =================================================================================================
# Coinbase Advanced Trade
# =================================================================================================
_CB_CHANNELS = {"level2": "l2_data", "l2_data": "l2_data", "market_trades": "market_trades",
                "ticker": "ticker", "ticker_batch": "ticker_batch", "candles": "candles",
                "heartbeats": "heartbeats", "status": "status"}
_SEQ = b'"sequence_num":'


class CoinbaseSim(VenueSim):
    """Coinbase Advanced Trade: subscribe / unsubscribe by channel (level2 -> l2_data snapshot
    and updates, market_trades, ticker, candles, heartbeats every second), `subscriptions`
    acknowledgements, and a sequence_num counted per connection over every message it is sent,
    as Coinbase does. Recorded messages keep their bytes except that number."""

    name = "coinbase"
    norm_venue = "coinbase"
    default_file = "cf_coinbase_advanced_20260809_btc_eth.jsonl.gz"
    rest_prefixes = ("/api/v3/brokerage",)
    rest_hint = "/api/v3/brokerage"

    def load(self, path: Path) -> list[Event]:
        events: list[Event] = []
        self.products: set[str] = set()
        self.trade_log: dict[str, tuple[list[int], list]] = {}
        seen: set = set()
        for rec, m in _received_json(path):
            p = rec.payload
            if not isinstance(m, dict) or "channel" not in m:
                continue
            i = p.find(_SEQ)
            if i < 0:
                continue
            j = i + len(_SEQ)
            k = j
            while k < len(p) and p[k:k + 1].isdigit():
                k += 1
            splice = (p[:j], p[k:])
            ch = m["channel"]
            evs = m.get("events") or [{}]
            ev0 = evs[0] if isinstance(evs[0], dict) else {}
            product = ev0.get("product_id")
            for key in ("trades", "tickers", "candles"):
                if product is None and ev0.get(key):
                    product = ev0[key][0].get("product_id")
            if product:
                self.products.add(product)
            snap = ev0.get("type") == "snapshot"
            if ch in ("heartbeats", "subscriptions") or not product:
                topic, kind = None, STREAM
            elif snap:
                topic, kind = f"snap|{ch}|{product}", SNAP
            else:
                topic, kind = f"{ch}|{product}", DEPTH if ch == "l2_data" else STREAM
            if ch == "market_trades":
                for e in evs:
                    for t in e.get("trades", []) if isinstance(e, dict) else []:
                        if isinstance(t, dict) and t.get("trade_id") not in seen:
                            seen.add(t.get("trade_id"))
                            self._log_trade(self.trade_log, t.get("product_id", ""),
                                            len(events), t)
            ev = Event(rec.ts_ns, topic, p, kind, True, product or "", splice)
            if topic is None:
                ev.frame = b""
            events.append(ev)
        return events

    def apply(self, ev: Event) -> None:
        self.norm.on_frame(ev.payload, "ws", ev.ts)

    def update_id(self, ev: Event):
        head = ev.x[0]
        return {"recorded_sequence_num": int(ev.payload[len(head):len(ev.payload)
                                                      - len(ev.x[1])])}

    def _next(self, session) -> int:
        n = session.state.get("seq", 0)
        session.state["seq"] = n + 1
        return n

    def render(self, session, sub: Sub, ev: Event) -> bytes | None:
        head, tail = ev.x
        return head + str(self._next(session)).encode() + tail

    def _msg(self, session, channel: str, events: list) -> bytes:
        return orjson.dumps({"channel": channel, "timestamp": iso_ns(self.now_ns),
                             "sequence_num": self._next(session), "events": events})

    def on_connect(self, session) -> None:
        session.state["seq"] = 0
        session.state["channels"] = {}

    def heartbeat(self, session, now: float, interval: float) -> None:
        if session.state.get("heartbeats"):
            n = session.state["hb_counter"] = session.state.get("hb_counter", 0) + 1
            t = iso_ns(self.now_ns)
            current = f"{t[:10]} {t[11:-1]} +0000 UTC m=+{n}.000000000"
            session.send_payload(self._msg(session, "heartbeats",
                                           [{"current_time": current, "heartbeat_counter": n}]))

    def on_text(self, session, data: bytes) -> None:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            session.send_payload(b'{"type":"error","message":"failure to parse message"}')
            return
        if not isinstance(msg, dict) or msg.get("type") not in ("subscribe", "unsubscribe"):
            session.send_payload(b'{"type":"error","message":"unknown message type"}')
            return
        on = msg["type"] == "subscribe"
        ch = msg.get("channel")
        products = msg.get("product_ids", [])
        if ch not in _CB_CHANNELS:
            session.send_payload(orjson.dumps({"type": "error", "message":
                                               f"Failed to subscribe: unknown channel {ch!r}"}))
            return
        if not isinstance(products, list) or any(p not in self.products for p in products):
            session.send_payload(orjson.dumps({"type": "error", "message":
                                               "Failed to subscribe: unknown product id"}))
            return
        chans: dict = session.state["channels"]
        if ch == "heartbeats":
            session.state["heartbeats"] = on
            if on:
                chans["heartbeats"] = ["heartbeats"]
            else:
                chans.pop("heartbeats", None)
        else:
            wire = _CB_CHANNELS[ch]
            listed = chans.setdefault("level2" if wire == "l2_data" else ch, [])
            for p in products:
                key = f"{wire}|{p}"
                if not on:
                    if key in session.subs:
                        self.unregister(session.subs[key])
                    if p in listed:
                        listed.remove(p)
                    continue
                if key in session.subs:
                    continue
                ready = wire == "l2_data" and self.book(p) is not None
                if ready:
                    session.send_payload(self.snapshot_payload(session, p))
                self.register(Sub(session, key, key, awaiting=not ready, channel=wire))
                listed.append(p)
            if not listed:
                chans.pop("level2" if wire == "l2_data" else ch, None)
        session.send_payload(self._msg(session, "subscriptions",
                                       [{"subscriptions": {k: list(v) for k, v in
                                                           sorted(chans.items())}}]))
        if on:
            self.subscribed(session)

    def snapshot_payload(self, session, product: str) -> bytes:
        book = self.book(product)
        t = iso_ns(self.now_ns, 6)
        ups = []
        for side, word in ((0, "bid"), (1, "offer")):
            for p, q in book_levels(book, side, 1 << 62, trim=True):
                ups.append({"side": word, "event_time": t, "price_level": p, "new_quantity": q})
        return self._msg(session, "l2_data", [{"type": "snapshot", "product_id": product,
                                               "updates": ups}])

    # -- REST ----------------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v3/brokerage/market/product_book", self.rest_book)
        app.router.add_get("/api/v3/brokerage/product_book", self.rest_book)
        app.router.add_get("/api/v3/brokerage/market/products/{product_id}/ticker",
                           self.rest_ticker)

    async def rest_ticker(self, request: web.Request) -> web.Response:
        """Market trades (newest first, up to `limit`), after `start` (unix seconds) if given,
        with the book's best bid and ask."""
        product = request.match_info["product_id"]
        if product not in self.products:
            return _json({"error": "NOT_FOUND", "message": "ProductID is invalid"}, 404)
        try:
            limit = min(1000, max(1, int(request.query.get("limit", "100"))))
            start = int(request.query.get("start", "0") or 0)
        except ValueError:
            return _json({"error": "INVALID_ARGUMENT", "message": "limit/start"}, 400)
        trades = self._published(self.trade_log, product)
        if start:
            trades = [t for t in trades if (iso_to_ns(t.get("time", "")) or 0)
                      >= start * 1_000_000_000]
        trades = sorted(trades, key=lambda t: iso_to_ns(t.get("time", "")) or 0,
                        reverse=True)[:limit]
        book = self.book(product)
        bb = book_levels(book, 0, 1, trim=True) if book is not None else []
        ba = book_levels(book, 1, 1, trim=True) if book is not None else []
        return _json({"trades": trades, "best_bid": bb[0][0] if bb else "",
                      "best_ask": ba[0][0] if ba else ""})

    def rest_error_body(self, status: int, retry_after: int) -> bytes:
        return orjson.dumps({"error": "RATE_LIMIT_EXCEEDED", "message": "Too many requests",
                             "error_details": "", "preview_failure_reason": ""})

    async def rest_book(self, request: web.Request) -> web.Response:
        product = request.query.get("product_id", "")
        if product not in self.products:
            return _json({"error": "NOT_FOUND", "message": "ProductID is invalid"}, 404)
        try:
            limit = int(request.query.get("limit", "0")) or (1 << 62)
        except ValueError:
            return _json({"error": "INVALID_ARGUMENT", "message": "limit"}, 400)
        book = await self.wait_book(product)
        if book is None:
            return _json({"error": "UNAVAILABLE", "message": "book not ready"}, 503)
        bids = [{"price": p, "size": q} for p, q in book_levels(book, 0, limit, trim=True)]
        asks = [{"price": p, "size": q} for p, q in book_levels(book, 1, limit, trim=True)]
        return _json({"pricebook": {"product_id": product, "bids": bids, "asks": asks,
                                    "time": iso_ns(self.now_ns, 6)}})


# =================================================================================================
# OKX v5 public
# =================================================================================================
_OKX_BOOKS = {"books": 400, "books-l2-tbt": 400, "books50-l2-tbt": 50}


class OkxSim(VenueSim):
    """OKX v5 public WebSocket: op subscribe / unsubscribe with event acknowledgements, books /
    books-l2-tbt / books50-l2-tbt (snapshot + updates with the recorded signed CRC32 checksums;
    a new subscription gets a snapshot of the simulator's book with its checksum), trades,
    tickers; text "ping" -> "pong"; the service-upgrade notice before a shutdown."""

    name = "okx"
    norm_venue = "okx"
    default_file = "cf_okx_20220513_books_3inst.jsonl"
    rest_prefixes = ("/api/v5",)
    rest_hint = "/api/v5"

    def load(self, path: Path) -> list[Event]:
        events: list[Event] = []
        self.insts: dict[str, set[str]] = {}           # instId -> recorded channels
        self.book_channel: dict[str, str] = {}         # instId -> recorded book channel
        self.trade_log: dict[str, tuple[list[int], list]] = {}
        for rec, m in _received_json(path):
            p = rec.payload
            if not isinstance(m, dict) or "event" in m or not isinstance(m.get("arg"), dict):
                continue
            ch, inst = m["arg"].get("channel"), m["arg"].get("instId", "")
            self.insts.setdefault(inst, set()).add(ch)
            if ch in _OKX_BOOKS:
                self.book_channel[inst] = ch
                lv = []
                for d in m.get("data", []):
                    lv += [(0, x) for x in d.get("bids", [])] + [(1, x) for x in d.get("asks", [])]
                cks = [d.get("checksum") for d in m.get("data", [])]
                if m.get("action") == "snapshot":
                    events.append(Event(rec.ts_ns, f"snap|{ch}|{inst}", p, SNAP, True, inst, lv))
                else:
                    ev = Event(rec.ts_ns, f"{ch}|{inst}", p, DEPTH, True, inst, lv)
                    ev.data = str(cks[-1] if cks else "").encode()
                    events.append(ev)
            else:
                if ch in ("trades", "trades-all"):
                    for t in m.get("data", []):
                        self._log_trade(self.trade_log, inst, len(events), t)
                events.append(Event(rec.ts_ns, f"{ch}|{inst}", p, STREAM, False, inst))
        return events

    def reset_state(self) -> None:
        self.levels: dict[str, tuple[dict, dict]] = {}

    def apply(self, ev: Event) -> None:
        self.norm.on_frame(ev.payload, "ws", ev.ts)
        lm = self.levels.get(ev.symbol)
        if ev.kind == SNAP or lm is None:
            lm = self.levels[ev.symbol] = ({}, {})
        for side, lv in ev.x:
            if _is_zero(lv[1]):
                lm[side].pop(lv[0], None)
            else:
                lm[side][lv[0]] = lv

    def update_id(self, ev: Event):
        return {"checksum": ev.data.decode()} if ev.kind == DEPTH else None

    def is_app_ping(self, data: bytes) -> bool:
        return data == b"ping"

    def shutdown_warning(self, session) -> bytes | None:
        return orjson.dumps({"event": "notice", "code": "64008",
                             "msg": "The connection will soon be closed for a service upgrade. "
                                    "Please reconnect.", "connId": session.state.get("conn_id")})

    def on_connect(self, session) -> None:
        session.state["conn_id"] = os.urandom(4).hex()

    def on_text(self, session, data: bytes) -> None:
        if data == b"ping":
            session.send_control(b"pong")
            return
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            text = data[:100].decode(errors="replace")
            session.send_payload(orjson.dumps({"event": "error", "code": "60012",
                                               "msg": f"Invalid request: {text}",
                                               "connId": session.state["conn_id"]}))
            return
        op = msg.get("op") if isinstance(msg, dict) else None
        args = msg.get("args") if isinstance(msg, dict) else None
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            session.send_payload(orjson.dumps({"event": "error", "code": "60012", "msg":
                                               "Invalid request", "connId":
                                               session.state["conn_id"]}))
            return
        for arg in args:
            ch = arg.get("channel") if isinstance(arg, dict) else None
            inst = arg.get("instId") if isinstance(arg, dict) else None
            rec_ch = self.book_channel.get(inst) if ch in _OKX_BOOKS else ch
            if inst not in self.insts or rec_ch not in self.insts.get(inst, ()):
                session.send_payload(orjson.dumps({
                    "event": "error", "code": "60018",
                    "msg": f"Wrong URL or channel:{ch},instId:{inst} doesn't exist",
                    "connId": session.state["conn_id"]}))
                continue
            key = f"{ch}|{inst}"
            topic = f"{rec_ch}|{inst}"
            if op == "unsubscribe":
                if key in session.subs:
                    self.unregister(session.subs[key])
                session.send_payload(orjson.dumps({"event": "unsubscribe", "arg": arg,
                                                   "connId": session.state["conn_id"]}))
                continue
            session.send_payload(orjson.dumps({"event": "subscribe", "arg": arg,
                                               "connId": session.state["conn_id"]}))
            is_book = ch in _OKX_BOOKS
            ready = is_book and self.book(inst) is not None
            if ready:
                session.send_payload(self.snapshot_payload(inst, ch))
            self.register(Sub(session, key, topic, name=ch, fastable=ch == rec_ch,
                              awaiting=is_book and not ready, depth=_OKX_BOOKS.get(ch, 0),
                              channel=rec_ch))
        if op == "subscribe":
            self.subscribed(session)

    def render(self, session, sub: Sub, ev: Event) -> bytes | None:
        if sub.name == sub.channel or not sub.channel:
            return ev.payload
        return ev.payload.replace(b'"channel":"%s"' % sub.channel.encode(),
                                  b'"channel":"%s"' % sub.name_b, 1)

    def snapshot_payload(self, inst: str, ch: str) -> bytes:
        book = self.book(inst)
        lm = self.levels.get(inst, ({}, {}))
        n = _OKX_BOOKS.get(ch, 400)
        data = {}
        for side, key in ((1, "asks"), (0, "bids")):
            data[key] = [lm[side].get(p) or [p, q, "0", "1"]
                         for p, q in book_levels(book, side, n, trim=True)]
        data["ts"] = str(self.now_ns // 1_000_000)
        data["checksum"] = okx_checksum(book)
        return orjson.dumps({"arg": {"channel": ch, "instId": inst}, "action": "snapshot",
                             "data": [data]})

    def break_schema(self, payload: bytes) -> bytes:
        try:
            m = orjson.loads(payload)
            m["data"][0]["asks"] = "corrupt"
            return orjson.dumps(m)
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            return super().break_schema(payload)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v5/market/books", self.rest_books)
        app.router.add_get("/api/v5/market/trades", self.rest_trades)
        app.router.add_get("/api/v5/market/history-trades", self.rest_trades)

    async def rest_trades(self, request: web.Request) -> web.Response:
        """Published trades, newest first, up to `limit` (max 100); `before` / `after` page
        by tradeId (type 1, the default) or ts in ms (type 2), as OKX does."""
        inst = request.query.get("instId", "")
        if inst not in self.insts:
            return _json({"code": "51001", "msg": "Instrument ID does not exist", "data": []})
        q = request.query
        try:
            limit = min(100, max(1, int(q.get("limit", "100"))))
            by_ts = q.get("type", "1") == "2"
            before = int(q["before"]) if q.get("before") else None
            after = int(q["after"]) if q.get("after") else None
        except ValueError:
            return _json({"code": "50014", "msg": "Parameter error", "data": []})
        key = (lambda t: int(t["ts"])) if by_ts else (lambda t: int(t["tradeId"]))
        out = [{k: t[k] for k in ("instId", "side", "sz", "px", "tradeId", "ts") if k in t}
               for t in reversed(self._published(self.trade_log, inst))
               if (before is None or key(t) > before) and (after is None or key(t) < after)]
        return _json({"code": "0", "msg": "", "data": out[:limit]})

    def rest_error_body(self, status: int, retry_after: int) -> bytes:
        return orjson.dumps({"code": "50011", "msg": "Too Many Requests", "data": []})

    async def rest_books(self, request: web.Request) -> web.Response:
        inst = request.query.get("instId", "")
        if inst not in self.book_channel:
            return _json({"code": "51001", "msg": "Instrument ID does not exist", "data": []})
        try:
            sz = min(400, max(1, int(request.query.get("sz", "1"))))
        except ValueError:
            return _json({"code": "50014", "msg": "Parameter sz error", "data": []})
        book = await self.wait_book(inst)
        if book is None:
            return _json({"code": "50001", "msg": "Service temporarily unavailable",
                          "data": []}, 503)
        lm = self.levels.get(inst, ({}, {}))
        data = {k: [lm[s].get(p) or [p, q, "0", "1"] for p, q in
                    book_levels(book, s, sz, trim=True)] for s, k in ((1, "asks"), (0, "bids"))}
        data["ts"] = str(self.now_ns // 1_000_000)
        return _json({"code": "0", "msg": "", "data": [data]})


VENUES: dict[str, type[VenueSim]] = {
    "binance": BinanceSim,
    "binance-usdm": BinanceUsdmSim,
    "kraken": KrakenSim,
    "coinbase": CoinbaseSim,
    "okx": OkxSim,
}
