"""The bus's wire format: fixed little-endian struct layouts, one per message kind.

Every message is `HEAD` (magic b"TC", version, kind) followed by the kind's fixed part and
then its variable part: strings are u16 length + UTF-8, book levels are arrays of
(ticks i64, lots i64). The whole layout is tabulated in docs/distributed.md. Prices and sizes
travel as the instrument's integer ticks and lots (what L2Book stores), so a book rebuilt from
the bus is the publisher's book level for level, with no float or decimal-text round trip;
public trades keep the exchange's decimal text, as core.events.Trade does.

Why struct and not msgspec: the book delta, the only high-rate message, is two int64 arrays that
numpy writes and reads without a per-level Python object; the other messages are rare. No
dependency, and the layout is readable from any language.

`decode` never returns a half-read message: anything short, unknown or inconsistent raises
`BusDecodeError` saying which kind, which field and what was expected; the nodes count it under
`bus:bad_message` and drop it (nothing is applied).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from tradecore.core.events import Trade
from tradecore.core.orders import (DenyReason, Fill, Order, OrderEvent, OrderStatus, OrderType,
                                   Side, TimeInForce)

MAGIC = b"TC"
VERSION = 1
HEAD = struct.Struct("<2sBB")                 # magic, version, kind

# kinds
BOOK_DELTA = 1
BOOK_SNAPSHOT = 2
TRADE = 3
BOOK_STALE = 4
FEED_END = 5
SUBMIT = 10
CANCEL = 11
DONE = 12
EVENT = 20
READY = 21
RISK = 22
EXEC_END = 23

_BOOK = struct.Struct("<QQqqqQBII")  # gseq, bseq, ts_ns, rec_ns, exchange seq, md_seq, valid,
#                                      n_bids, n_asks
_TRADE = struct.Struct("<QqqqbB")    # gseq, rec_ns, ts_exchange_ns, ts_local_ns, aggressor,
#                                      backfilled
_STALE = struct.Struct("<QQq")       # gseq, bseq, ts_ns
_END = struct.Struct("<Qq")          # gseq (last md), ts_ns
_SUBMIT = struct.Struct("<QBBqqqBBBqqq")
# cmd_seq, side(+1/-1 as i8 via B+1), type, qty, price, trigger, tif, post_only, reduce_only,
# expire_ns, trail_ticks, ts_created_ns
_CANCEL = struct.Struct("<Q")        # cmd_seq
_DONE = struct.Struct("<QIQ")        # step, phase, last cmd_seq of the node
_EVENT = struct.Struct("<QqBqB")     # event_seq, clock_ns, status, ts_ns, has_fill
_FILL = struct.Struct("<bqqdq")      # side, qty, price, fee, ts_ns
_OSTATE = struct.Struct("<BqddBq")   # order status, filled_qty, avg_fill_price, fees,
#                                      deny_reason, ts_last_ns (then venue_order_id, reason_text)
_READY = struct.Struct("<QIqQB")     # step, phase, clock_ns, last event_seq, md (0/1)
_RISK = struct.Struct("<QqB")        # event_seq, clock_ns, state
_XEND = struct.Struct("<qQ")         # clock_ns, last event_seq
_U16 = struct.Struct("<H")
_LEVEL = np.dtype("<i8")

KIND_NAMES = {BOOK_DELTA: "book_delta", BOOK_SNAPSHOT: "book_snapshot", TRADE: "trade",
              BOOK_STALE: "book_stale", FEED_END: "feed_end", SUBMIT: "submit",
              CANCEL: "cancel", DONE: "done", EVENT: "event", READY: "ready", RISK: "risk",
              EXEC_END: "exec_end"}


class BusDecodeError(ValueError):
    """A message that is not a valid tradecore bus message (what, where, what was expected)."""


# -- message types -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class BookMsg:
    """A book delta (levels to set; lots 0 removes) or a full snapshot of one book.
    gseq: the feed's message number over all books (the replay step); bseq: this book's own
    sequence, +1 per delta, which is what gap detection and de-duplication use; a snapshot
    carries the bseq of the last delta it includes."""
    snapshot: bool
    venue: str
    symbol: str
    gseq: int
    bseq: int
    ts_ns: int                     # the book's own receive time (L2Book.ts_ns)
    rec_ns: int                    # receive time of the message that changed it: the clock
    xseq: int                      # the exchange's update id (L2Book.seq)
    valid: bool
    tick: str                      # the book's grid (L2Book tick_size / lot_size as text):
    lot: str                       #   ticks and lots below are in these units
    bids: np.ndarray               # (n, 2) int64 ticks, lots
    asks: np.ndarray
    md_seq: int = 0                # snapshot stream: the md stream sequence of the delta
    #                                with this bseq (a late joiner reads the md stream from
    #                                md_seq + 1); 0 in the md stream


@dataclass(frozen=True, slots=True)
class TradeMsg:
    gseq: int
    rec_ns: int                    # receive time of the message that carried it: the clock
    trade: Trade


@dataclass(frozen=True, slots=True)
class StaleMsg:
    """The feed lost a book (gap, checksum, disconnect): consumers mark it stale until the next
    snapshot or delta that the feed publishes once it has resynced."""
    venue: str
    symbol: str
    gseq: int
    bseq: int
    ts_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class FeedEnd:
    gseq: int
    ts_ns: int


@dataclass(frozen=True, slots=True)
class SubmitCmd:
    node: str
    cmd_seq: int
    order: Order


@dataclass(frozen=True, slots=True)
class CancelCmd:
    node: str
    cmd_seq: int
    strategy_id: str
    client_order_id: str


@dataclass(frozen=True, slots=True)
class Done:
    """A strategy node finished a sync step: every command it issued in it is before this."""
    node: str
    step: int
    phase: int
    last_cmd_seq: int


@dataclass(frozen=True, slots=True)
class OrderState:
    """The order's fields as the execution node's OMS holds them right after an event: a
    strategy node copies them onto its own Order object, so the strategy reads what it would
    read in one process."""
    status: int
    filled_qty: int
    avg_fill_price: float
    fees: float
    deny_reason: int
    ts_last_ns: int
    venue_order_id: str
    reason_text: str

    @classmethod
    def of(cls, o: Order) -> "OrderState":
        return cls(int(o.status), o.filled_qty, o.avg_fill_price, o.fees, int(o.deny_reason),
                   o.ts_last_ns, o.venue_order_id, o.reason_text)

    def copy_to(self, o: Order) -> None:
        o.status = OrderStatus(self.status)
        o.filled_qty = self.filled_qty
        o.avg_fill_price = self.avg_fill_price
        o.fees = self.fees
        o.deny_reason = DenyReason(self.deny_reason)
        o.ts_last_ns = self.ts_last_ns
        o.venue_order_id = self.venue_order_id
        o.reason_text = self.reason_text


@dataclass(frozen=True, slots=True)
class EventMsg:
    event_seq: int
    clock_ns: int                  # the execution node's clock when the event was emitted
    strategy_id: str
    event: OrderEvent
    order: OrderState


@dataclass(frozen=True, slots=True)
class Ready:
    """The execution node reached a sync point: every event before this is out; `nodes` must
    answer with Done(step, phase) before it goes on. md: the strategy nodes apply the feed's
    message `step` (a book or trade they read) in this sync."""
    step: int
    phase: int
    clock_ns: int
    last_event_seq: int
    md: bool
    nodes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class RiskMsg:
    event_seq: int
    clock_ns: int
    state: int
    reason: str


@dataclass(frozen=True, slots=True)
class ExecEnd:
    clock_ns: int
    last_event_seq: int


# -- writing -------------------------------------------------------------------------------
def _s(text: str) -> bytes:
    b = text.encode()
    if len(b) > 0xFFFF:
        raise ValueError(f"string of {len(b)} bytes does not fit the u16 length prefix")
    return _U16.pack(len(b)) + b


def _head(kind: int) -> bytes:
    return HEAD.pack(MAGIC, VERSION, kind)


def _levels(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, dtype=_LEVEL).tobytes()


def encode_book(m: BookMsg) -> bytes:
    return b"".join((_head(BOOK_SNAPSHOT if m.snapshot else BOOK_DELTA),
                     _BOOK.pack(m.gseq, m.bseq, m.ts_ns, m.rec_ns, m.xseq, m.md_seq,
                                1 if m.valid else 0,
                                len(m.bids), len(m.asks)),
                     _s(m.venue), _s(m.symbol), _s(m.tick), _s(m.lot), _levels(m.bids),
                     _levels(m.asks)))


def encode_trade(m: TradeMsg) -> bytes:
    t = m.trade
    return b"".join((_head(TRADE), _TRADE.pack(m.gseq, m.rec_ns, t.ts_exchange_ns, t.ts_local_ns,
                                               t.aggressor, 1 if t.backfilled else 0),
                     _s(t.venue), _s(t.symbol), _s(t.price), _s(t.size), _s(t.trade_id)))


def encode_stale(m: StaleMsg) -> bytes:
    return b"".join((_head(BOOK_STALE), _STALE.pack(m.gseq, m.bseq, m.ts_ns), _s(m.venue),
                     _s(m.symbol), _s(m.reason)))


def encode_feed_end(m: FeedEnd) -> bytes:
    return _head(FEED_END) + _END.pack(m.gseq, m.ts_ns)


def encode_submit(m: SubmitCmd) -> bytes:
    o = m.order
    return b"".join((_head(SUBMIT), _SUBMIT.pack(
        m.cmd_seq, int(o.side) + 1, int(o.type), o.qty, o.price, o.trigger_price, int(o.tif),
        1 if o.post_only else 0, 1 if o.reduce_only else 0, o.expire_ns, o.trail_ticks,
        o.ts_created_ns), _s(m.node), _s(o.client_order_id), _s(o.venue), _s(o.symbol),
        _s(o.strategy_id), _s(o.parent_id), _s(o.tag)))


def encode_cancel(m: CancelCmd) -> bytes:
    return b"".join((_head(CANCEL), _CANCEL.pack(m.cmd_seq), _s(m.node), _s(m.strategy_id),
                     _s(m.client_order_id)))


def encode_done(m: Done) -> bytes:
    return _head(DONE) + _DONE.pack(m.step, m.phase, m.last_cmd_seq) + _s(m.node)


def encode_event(m: EventMsg) -> bytes:
    ev = m.event
    f = ev.fill
    parts = [_head(EVENT), _EVENT.pack(m.event_seq, m.clock_ns, int(ev.status), ev.ts_ns,
                                       1 if f is not None else 0),
             _s(m.strategy_id), _s(ev.client_order_id), _s(ev.reason)]
    st = m.order
    parts += [_OSTATE.pack(st.status, st.filled_qty, st.avg_fill_price, st.fees, st.deny_reason,
                           st.ts_last_ns), _s(st.venue_order_id), _s(st.reason_text)]
    if f is not None:
        parts += [_FILL.pack(int(f.side), f.qty, f.price, f.fee, f.ts_ns), _s(f.client_order_id),
                  _s(f.venue), _s(f.symbol), _s(f.liquidity), _s(f.trade_id)]
    return b"".join(parts)


def encode_ready(m: Ready) -> bytes:
    if len(m.nodes) > 255:
        raise ValueError(f"{len(m.nodes)} nodes in one sync step: at most 255")
    return b"".join([_head(READY), _READY.pack(m.step, m.phase, m.clock_ns, m.last_event_seq,
                                               1 if m.md else 0), bytes([len(m.nodes)])]
                    + [_s(n) for n in m.nodes])


def encode_risk(m: RiskMsg) -> bytes:
    return _head(RISK) + _RISK.pack(m.event_seq, m.clock_ns, m.state) + _s(m.reason)


def encode_exec_end(m: ExecEnd) -> bytes:
    return _head(EXEC_END) + _XEND.pack(m.clock_ns, m.last_event_seq)


_ENCODERS = {BookMsg: encode_book, TradeMsg: encode_trade, StaleMsg: encode_stale,
             FeedEnd: encode_feed_end, SubmitCmd: encode_submit, CancelCmd: encode_cancel,
             Done: encode_done, EventMsg: encode_event, Ready: encode_ready, RiskMsg: encode_risk,
             ExecEnd: encode_exec_end}


def encode(m) -> bytes:
    try:
        return _ENCODERS[type(m)](m)
    except KeyError:
        raise TypeError(f"no bus encoding for {type(m).__name__}") from None


# -- reading -------------------------------------------------------------------------------
class _Reader:
    __slots__ = ("buf", "pos", "kind")

    def __init__(self, buf: bytes, kind: str) -> None:
        self.buf = buf
        self.pos = HEAD.size
        self.kind = kind

    def fail(self, what: str, expected: str) -> BusDecodeError:
        return BusDecodeError(f"bus message {self.kind} ({len(self.buf)} bytes): {what} at byte "
                              f"{self.pos}: expected {expected}")

    def fixed(self, st: struct.Struct, name: str) -> tuple:
        if self.pos + st.size > len(self.buf):
            raise self.fail(f"{name} cut short", f"{st.size} bytes")
        out = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return out

    def string(self, name: str) -> str:
        (n,) = self.fixed(_U16, f"{name} length")
        if self.pos + n > len(self.buf):
            raise self.fail(f"{name} cut short", f"{n} bytes of UTF-8")
        try:
            s = self.buf[self.pos:self.pos + n].decode()
        except UnicodeDecodeError:
            raise self.fail(f"{name} is not UTF-8", "UTF-8 text") from None
        self.pos += n
        return s

    def levels(self, n: int, name: str) -> np.ndarray:
        size = n * 16
        if self.pos + size > len(self.buf):
            raise self.fail(f"{name} cut short", f"{n} levels of 16 bytes")
        a = np.frombuffer(self.buf, dtype=_LEVEL, count=n * 2, offset=self.pos).reshape(n, 2)
        self.pos += size
        return a

    def enum(self, cls, v: int, name: str):
        try:
            return cls(v)
        except ValueError:
            raise self.fail(f"{name} {v}", f"one of {[int(x) for x in cls]}") from None

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise self.fail(f"{len(self.buf) - self.pos} bytes left over", "the end of message")


def _book(r: _Reader, snapshot: bool) -> BookMsg:
    gseq, bseq, ts, rec, xseq, md_seq, valid, nb, na = r.fixed(_BOOK, "book header")
    venue, symbol = r.string("venue"), r.string("symbol")
    tick, lot = r.string("tick"), r.string("lot")
    bids, asks = r.levels(nb, "bids"), r.levels(na, "asks")
    if (bids[:, 0] <= 0).any() or (asks[:, 0] <= 0).any() or (bids[:, 1] < 0).any() or \
            (asks[:, 1] < 0).any():
        raise r.fail("a level with ticks <= 0 or lots < 0", "ticks > 0 and lots >= 0")
    if snapshot and ((bids[:, 1] == 0).any() or (asks[:, 1] == 0).any()):
        raise r.fail("a snapshot level with 0 lots", "lots > 0 in a snapshot")
    return BookMsg(snapshot, venue, symbol, gseq, bseq, ts, rec, xseq, bool(valid), tick, lot,
                   bids, asks, md_seq)


def _trade(r: _Reader) -> TradeMsg:
    gseq, rec, tx, tl, aggr, back = r.fixed(_TRADE, "trade header")
    if aggr not in (1, -1):
        raise r.fail(f"aggressor {aggr}", "1 (buy) or -1 (sell)")
    venue, symbol = r.string("venue"), r.string("symbol")
    price, size, tid = r.string("price"), r.string("size"), r.string("trade_id")
    return TradeMsg(gseq, rec, Trade(venue, symbol, price, size, aggr, tid, tx, tl, bool(back)))


def _submit(r: _Reader) -> SubmitCmd:
    (seq, side, typ, qty, price, trig, tif, post, red, exp, trail,
     created) = r.fixed(_SUBMIT, "submit header")
    node, cid, venue, symbol = (r.string("node"), r.string("client_order_id"),
                                r.string("venue"), r.string("symbol"))
    sid, parent, tag = r.string("strategy_id"), r.string("parent_id"), r.string("tag")
    o = Order(cid, venue, symbol, r.enum(Side, side - 1, "side"),
              r.enum(OrderType, typ, "type"), qty, price, trig,
              r.enum(TimeInForce, tif, "tif"), bool(post), bool(red), exp, trail, sid,
              parent, tag)
    o.ts_created_ns = created
    return SubmitCmd(node, seq, o)


def _event(r: _Reader) -> EventMsg:
    seq, clock, status, ts, has_fill = r.fixed(_EVENT, "event header")
    st = r.enum(OrderStatus, status, "status")
    sid, cid, reason = r.string("strategy_id"), r.string("client_order_id"), r.string("reason")
    ost, filled, avg, fees, deny, ts_last = r.fixed(_OSTATE, "order state")
    r.enum(OrderStatus, ost, "order status")
    r.enum(DenyReason, deny, "deny_reason")
    state = OrderState(ost, filled, avg, fees, deny, ts_last, r.string("venue_order_id"),
                       r.string("reason_text"))
    fill = None
    if has_fill:
        side, qty, price, fee, fts = r.fixed(_FILL, "fill")
        fcid, venue, symbol, liq, tid = (r.string("fill client_order_id"), r.string("venue"),
                                         r.string("symbol"), r.string("liquidity"),
                                         r.string("trade_id"))
        fill = Fill(fcid, venue, symbol, r.enum(Side, side, "fill side"), qty, price, fee, liq,
                    tid, fts)
    return EventMsg(seq, clock, sid, OrderEvent(cid, st, ts, fill, reason), state)


def _ready(r: _Reader) -> Ready:
    step, phase, clock, last, md = r.fixed(_READY, "ready header")
    if r.pos >= len(r.buf):
        raise r.fail("node count missing", "1 byte")
    n = r.buf[r.pos]
    r.pos += 1
    return Ready(step, phase, clock, last, bool(md), tuple(r.string("node") for _ in range(n)))


def decode(buf: bytes):
    """One bus message from its bytes (BusDecodeError, naming the field, for anything else)."""
    if not isinstance(buf, (bytes, bytearray, memoryview)):
        raise BusDecodeError(f"bus message: expected bytes, got {type(buf).__name__}")
    buf = bytes(buf)
    if len(buf) < HEAD.size:
        raise BusDecodeError(f"bus message of {len(buf)} bytes: expected at least {HEAD.size} "
                             f"(magic, version, kind)")
    magic, version, kind = HEAD.unpack_from(buf)
    if magic != MAGIC:
        raise BusDecodeError(f"bus message: magic {magic!r} at byte 0: expected {MAGIC!r}")
    if version != VERSION:
        raise BusDecodeError(f"bus message: version {version} at byte 2: expected {VERSION}")
    if kind not in KIND_NAMES:
        raise BusDecodeError(f"bus message: kind {kind} at byte 3: expected one of "
                             f"{sorted(KIND_NAMES)}")
    r = _Reader(buf, KIND_NAMES[kind])
    if kind == BOOK_DELTA or kind == BOOK_SNAPSHOT:
        m = _book(r, kind == BOOK_SNAPSHOT)
    elif kind == TRADE:
        m = _trade(r)
    elif kind == BOOK_STALE:
        gseq, bseq, ts = r.fixed(_STALE, "stale header")
        m = StaleMsg(r.string("venue"), r.string("symbol"), gseq, bseq, ts, r.string("reason"))
    elif kind == FEED_END:
        m = FeedEnd(*r.fixed(_END, "feed end"))
    elif kind == SUBMIT:
        m = _submit(r)
    elif kind == CANCEL:
        (seq,) = r.fixed(_CANCEL, "cancel header")
        m = CancelCmd(r.string("node"), seq, r.string("strategy_id"),
                      r.string("client_order_id"))
    elif kind == DONE:
        step, phase, last = r.fixed(_DONE, "done header")
        m = Done(r.string("node"), step, phase, last)
    elif kind == EVENT:
        m = _event(r)
    elif kind == READY:
        m = _ready(r)
    elif kind == RISK:
        seq, clock, state = r.fixed(_RISK, "risk header")
        m = RiskMsg(seq, clock, state, r.string("reason"))
    else:
        m = ExecEnd(*r.fixed(_XEND, "exec end"))
    r.end()
    return m


__all__ = ["BusDecodeError", "BookMsg", "TradeMsg", "StaleMsg", "FeedEnd", "SubmitCmd",
           "CancelCmd", "Done", "EventMsg", "OrderState", "Ready", "RiskMsg", "ExecEnd", "encode",
           "decode"]
