"""Binance spot order entry over the WebSocket API, fills from its user-data stream.

    ex = BinanceExecution(instruments, load_credentials("binance"))
    ex.set_listener(engine); await ex.start()       # connect, log on, subscribe, reconcile
    ex.submit(order)                                 # one frame written; nothing awaited

Why the WebSocket API: an order is one frame on a connection that is already open (no TLS or
HTTP per request), and the same connection carries the account's user-data events.

Two kinds of key (venues/binance/keys.py tells them apart by the secret's text):
  Ed25519 (the secret is the private key PEM; recommended): on every (re)connect the client
  sends `session.logon` signed once with the key (base64 Ed25519 signature of the sorted
  params), then `userDataStream.subscribe`. From then on order.place, order.cancel and the
  queries carry neither apiKey nor signature, only timestamp + recvWindow
  (`encode_order_session`): no per-order signing on the order path. A session the venue revokes
  (an `id: null` 401 answer) drops the connection; the reconnect logs on again, and orders
  submitted meanwhile are refused locally as "not connected".
  HMAC: no session logon (Binance accepts only Ed25519 keys for it); every request is signed
  (`encode_order`, HMAC-SHA256 hex, built by the compiled encoder; the keyed state is copied
  per request), and user data comes
  from `userDataStream.subscribe.signature`.
picows on the running (uvloop) loop: `submit` encodes and writes synchronously — the write is
the only I/O, there is no task hop — and answers come back through picows' callback straight
into VenueListener calls.

Encoding (`encode_order`, signed): the request params are built in alphabetical order, which is
both the JSON object and the signature payload Binance specifies for the WebSocket API (params
except `signature`, sorted by name, `k=v` joined by `&`; HMAC-SHA256 hex — checked against the
example in Binance's docs). `encode_order_session` sends the same params unsigned. Prices and quantities are the exact decimal text of the instrument's ticks and
lots (the same text as Instrument.price_text/qty_text, made by a per-instrument integer formatter:
property-tested equal). newOrderRespType is ACK: the answer carries the orderId, and every state
change comes once, from the user-data stream.

Mapping of the core order vocabulary (anything else is rejected at submit, as on_order_rejected
naming the combination; nothing is raised):
    MARKET + GTC or IOC          MARKET (Binance market orders are IOC by nature)
    LIMIT + GTC / IOC / FOK      LIMIT timeInForce=...
    LIMIT + post_only + GTC      LIMIT_MAKER
    STOP_MARKET                  STOP_LOSS stopPrice          (TIF GTC or IOC: not sent)
    STOP_LIMIT + GTC/IOC/FOK     STOP_LOSS_LIMIT
    TAKE_PROFIT                  TAKE_PROFIT stopPrice
    TAKE_PROFIT_LIMIT            TAKE_PROFIT_LIMIT
  not supported by Binance spot: GTD (no good-till-date on spot), MARKET + FOK, post_only with
  IOC/FOK or with a non-LIMIT type, TRAILING_STOP (Binance trails by `trailingDelta` in basis
  points of the price, not by ticks: no exact mapping), reduce_only BUY (spot has no short to
  reduce). reduce_only SELL is sent as a plain sell: on spot a sell can never open a short (the
  balance check guarantees it), and the risk gate enforces reduce-only against our position.
  Client order ids must match Binance's `^[.A-Z:/a-z0-9_-]{1,36}$`.

Answers -> listener:
    order.place 200                        on_order_accepted (orderId), once
    order.place error                      on_order_rejected "binance <code>: <msg>"
    executionReport NEW                    on_order_accepted (if the answer has not come yet)
    executionReport TRADE                  on_fill (trade id "<SYMBOL>:<t>", exactly once)
    executionReport CANCELED (C = ours)    on_order_canceled
    executionReport EXPIRED/TRADE_PREVENTION  on_order_expired
    executionReport REJECTED               on_order_rejected
    order.cancel error                     on_cancel_rejected "binance -2011: Unknown order sent."
  Spot stops send no event when they trigger, so on_order_triggered is never called here.
Commission: Binance charges it in the asset received (base for a buy, quote for a sell) or in
BNB when the account pays fees in BNB. Fill.fee is quote currency: quote commission as is, base
commission x the fill price (exact for that trade), any other asset through `fee_converter(asset,
amount, ts_ns) -> quote or None`; without one (or when it returns None) the fee is recorded as 0.0,
the amount is added to `unconverted_fees[asset]` and logged once per asset, so nothing is silently
lost.

Lost answers and dropped connections (the rule, in `docs/live-venue.md`): an order with no answer
and no event after recvWindow + `ack_grace_ms` is looked up with order.status by its client id.
Binance refuses a request whose timestamp is more than recvWindow old, so once that time has
passed an "Order does not exist" (-2013) answer is final: the order was never placed and is
reported rejected. If it exists, its state is applied: accepted, missed fills fetched with myTrades
(orderId) and delivered once (trade ids already seen are skipped), then its terminal state. After
a reconnect the user-data subscription is made first, then every order not known to be finished
is resolved the same way, so nothing that happened while disconnected is lost or doubled.

Rate limits: each order takes 1 weight from the process's shared Binance limiter and one count
from the ORDERS windows (venues/order_limits.py), without waiting; an order that would exceed
either is rejected locally naming the limit. Queries wait for weight as REST calls do. 429 / 418
answers start the limiter's back-off (retryAfter).

Secrets: the HMAC secret (bytes) or the Ed25519 key object is kept on a private attribute for
signing; the object's repr shows neither it nor the API key, and nothing here logs a request's
params.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import orjson
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from tradecore._fast.wire import BinanceSessionPlace
from tradecore.core.clock import Clock, LiveClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from tradecore.execution.order_layout import ORDER_LAYOUT
from tradecore.execution.venue import VenueClient, VenueListener, VenueOrderState
from tradecore.venues.binance.keys import Ed25519Key, signing_key
from tradecore.venues.credentials import Credentials, load_credentials
from tradecore.venues.order_limits import OrderCountLimiter, try_acquire
from tradecore.venues.ratelimit import RateLimiter, limiter_for

log = logging.getLogger("tradecore.venues.binance.execution")

WS_API_URL = "wss://ws-api.binance.com:443/ws-api/v3"
# Binance's client order id rule is ^[.A-Z:/a-z0-9_-]{1,36}$; checked as "1-36 characters and
# nothing left after stripping the allowed ones" (one C call; the regex costs ~3x more)
_COID_CHARS = ".:/_-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

__all__ = ["BinanceExecution", "UnsupportedOrder", "BinanceApiError", "binance_order_type",
           "encode_order", "encode_order_session", "session_encoder", "encode_cancel",
           "encode_signed", "encode_session", "sign", "WS_API_URL"]


class UnsupportedOrder(ValueError):
    """An order Binance spot cannot take as asked (the text names the combination)."""


class BinanceApiError(Exception):
    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(f"binance {code}: {msg}")
        self.status, self.code, self.msg = status, code, msg


# -- order type mapping ----------------------------------------------------------------------------
_TIF = {TimeInForce.GTC: "GTC", TimeInForce.IOC: "IOC", TimeInForce.FOK: "FOK"}
_SIDE = {Side.BUY: "BUY", Side.SELL: "SELL"}


def binance_order_type(order: Order) -> tuple[str, str | None, bool, bool]:
    """(type, timeInForce or None, sends price, sends stopPrice), or UnsupportedOrder."""
    t, tif = order.type, order.tif
    if tif == TimeInForce.GTD:
        raise UnsupportedOrder("Binance spot has no good-till-date orders (GTD)")
    if order.reduce_only and order.side == Side.BUY:
        raise UnsupportedOrder("reduce_only BUY: Binance spot has no short position to reduce")
    if order.post_only and not (t == OrderType.LIMIT and tif == TimeInForce.GTC):
        raise UnsupportedOrder(f"post_only needs LIMIT GTC on Binance spot (LIMIT_MAKER), not "
                               f"{t.name} {tif.name}")
    if t == OrderType.MARKET:
        if tif == TimeInForce.FOK:
            raise UnsupportedOrder("MARKET FOK: Binance spot market orders are IOC only")
        return "MARKET", None, False, False
    if t == OrderType.LIMIT:
        if order.post_only:
            return "LIMIT_MAKER", None, True, False
        return "LIMIT", _TIF[tif], True, False
    if t in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT):
        if tif == TimeInForce.FOK:
            raise UnsupportedOrder(f"{t.name} FOK: Binance spot stop-market orders are IOC only")
        return ("STOP_LOSS" if t == OrderType.STOP_MARKET else "TAKE_PROFIT"), None, False, True
    if t in (OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT):
        return ("STOP_LOSS_LIMIT" if t == OrderType.STOP_LIMIT else "TAKE_PROFIT_LIMIT"), \
            _TIF[tif], True, True
    if t == OrderType.TRAILING_STOP:
        raise UnsupportedOrder("TRAILING_STOP: Binance spot trails by trailingDelta in basis "
                               "points of the price, not by ticks; no exact mapping")
    raise UnsupportedOrder(f"order type {t!r} unknown")


# -- exact decimal text ----------------------------------------------------------------------------
class _Grid:
    """Text of n x step, the same as core.instrument's `_text(n * step)`, by integer arithmetic
    (Decimal multiply + normalize + format costs ~1 us). Texts are kept in a bounded cache:
    quoting strategies send the same few prices and sizes again and again."""
    __slots__ = ("m", "k", "cache")
    CACHE = 4096

    def __init__(self, step: str) -> None:
        sign, digits, exp = Decimal(step).normalize().as_tuple()
        self.m = int("".join(map(str, digits))) * (-1 if sign else 1)
        self.k = -exp
        self.cache: dict[int, str] = {}

    def text(self, n: int) -> str:
        t = self.cache.get(n)
        if t is None:
            t = self._text(n)
            if len(self.cache) >= self.CACHE:
                self.cache.clear()
            self.cache[n] = t
        return t

    def _text(self, n: int) -> str:
        v = n * self.m
        k = self.k
        if k <= 0:
            return str(v * 10 ** -k)
        neg = v < 0
        s = str(-v if neg else v)
        if len(s) <= k:
            s = "0" * (k + 1 - len(s)) + s
        ip, fp = s[:-k], s[-k:].rstrip("0")
        out = ip + "." + fp if fp else ip
        return "-" + out if neg and out != "0" else out


class _Codec:
    """An instrument's wire texts: price and quantity formatters, per order shape (type, tif,
    post_only) the constant end of its session `order.place` frame, and the compiled encoder
    of that frame (`session`: _fast/wire.pyx, ~4x faster than the Python reference
    `_encode_order_session_py`, which tests compare it with)."""
    __slots__ = ("inst", "price", "qty", "symbol", "tails", "session", "signed")

    def __init__(self, inst: Instrument) -> None:
        self.inst = inst
        pg, qg = _Grid(inst.tick), _Grid(inst.lot)
        self.price = pg.text
        self.qty = qg.text
        self.symbol = inst.symbol
        self.tails: dict[int, tuple[bool, bool, str]] = {}
        shapes: dict[int, tuple | str] = {}
        for key in _MAP:
            sh = self.shape(key)
            shapes[key] = sh if type(sh) is not tuple else (sh[0], sh[1], sh[2].encode())
        enc = BinanceSessionPlace(pg.m, pg.k, qg.m, qg.k, shapes, UnsupportedOrder)
        enc.set_order_layout(ORDER_LAYOUT)      # Orders read by slot offset (_fast/slots.pxd)
        signed: dict[int, tuple | str] = {}
        for key, m in _MAP.items():
            signed[key] = m if type(m) is not tuple else (
                m[2], m[3], (m[1] or "").encode(), m[0].encode())
        enc.set_signed(signed, self.symbol.encode())
        self.session = enc.encode
        self.signed = enc.signed                # the HMAC-signed frame (encode_order)

    def shape(self, key: int) -> tuple[bool, bool, str] | str | None:
        """(sends price, sends stopPrice, the frame's constant end) of an order shape, or the
        refusal text (None: unknown shape)."""
        m = _MAP.get(key)
        if type(m) is not tuple:
            return m
        typ, tif, priced, stopped = m
        tif_j = f',"timeInForce":"{tif}"' if tif is not None else ""
        t = self.tails[key] = (priced, stopped, f'"newOrderRespType":"ACK","symbol":"{self.symbol}"'
                                                f'{tif_j},"type":"{typ}"}}}}')
        return t


_CODECS: dict[int, _Codec] = {}


def _codec(inst: Instrument) -> _Codec:
    c = _CODECS.get(id(inst))
    if c is None or c.inst is not inst:
        c = _CODECS[id(inst)] = _Codec(inst)
    return c


# -- signing and encoding --------------------------------------------------------------------------
def sign(secret: bytes, payload: str) -> str:
    """HMAC-SHA256 of the payload, lowercase hex (Binance: case-insensitive)."""
    return hmac.digest(secret, payload.encode(), "sha256").hex()


_SIGNERS: dict[bytes, object] = {}


def _signer(secret: bytes):
    """An HMAC-SHA256 object keyed once; each signature copies it (the key's two pad blocks are
    not hashed again per request)."""
    h = _SIGNERS.get(secret)
    if h is None:
        try:        # OpenSSL's HMAC object: its copy() is one C call
            import _hashlib
            h = _hashlib.hmac_new(secret, digestmod="sha256")
        except (ImportError, AttributeError, ValueError):
            h = hmac.new(secret, digestmod=hashlib.sha256)
        _SIGNERS[secret] = h
    return h


def _mapping_table() -> dict[int, tuple | str]:
    """(type, tif, post_only) -> binance_order_type's answer or its refusal text, for every
    combination: the order path does one dict lookup instead of enum comparisons."""
    table: dict[int, tuple | str] = {}
    for t in OrderType:
        for tif in TimeInForce:
            for post in (False, True):
                o = Order("x", "", "", Side.SELL, t, 1, tif=tif, post_only=post)
                try:
                    table[_key(t, tif, post)] = binance_order_type(o)
                except UnsupportedOrder as e:
                    table[_key(t, tif, post)] = str(e)
    return table


def _key(t: int, tif: int, post: bool) -> int:
    return t * 16 + tif * 2 + post


_MAP = _mapping_table()


def _order_fields(order: Order, inst: Instrument) -> tuple:
    """(coid, side, qty, price or None, stopPrice or None, timeInForce or None, symbol, type) as
    wire text, or UnsupportedOrder: the checks and texts both encoders share."""
    m = _MAP.get(order.type * 16 + order.tif * 2 + order.post_only)
    if type(m) is not tuple:
        raise UnsupportedOrder(m or f"order type {order.type!r} / tif {order.tif!r} unknown")
    typ, tif, priced, stopped = m
    side = order.side
    if order.reduce_only and side == 1:
        raise UnsupportedOrder("reduce_only BUY: Binance spot has no short position to reduce")
    coid = order.client_order_id
    if not coid or len(coid) > 36 or coid.strip(_COID_CHARS):
        raise UnsupportedOrder(_coid_refusal(coid))
    if order.qty <= 0:
        raise UnsupportedOrder(f"quantity {order.qty} lots: must be > 0")
    c = _CODECS.get(id(inst))
    if c is None or c.inst is not inst:
        c = _codec(inst)
    return (coid, "BUY" if side == 1 else "SELL", c.qty(order.qty),
            c.price(order.price) if priced else None,
            c.price(order.trigger_price) if stopped else None, tif, c.symbol, typ)


def encode_order(order: Order, inst: Instrument, api_key: str, secret: bytes | Ed25519Key,
                 ts_ms: int, recv_window: int = 5000) -> bytes:
    """The signed `order.place` request frame of an order (its id is the client order id): what
    a connection without a session logon sends (HMAC keys; `secret` may also be an Ed25519Key,
    signing each request, which is slower than HMAC: use `encode_order_session` after logon).
    An HMAC frame is built by the compiled encoder (_fast/wire.pyx `signed`: the payload and
    the frame in C, the keyed HMAC state copied per order); `_encode_order_py` is its
    reference, which tests compare it with, and builds the Ed25519-signed frames."""
    if type(secret) is bytes:
        c = _CODECS.get(id(inst))
        if c is None or c.inst is not inst:
            c = _codec(inst)
        return c.signed(order, ts_ms, recv_window, api_key.encode(),
                        _SIGNERS.get(secret) or _signer(secret))
    return _encode_order_py(order, inst, api_key, secret, ts_ms, recv_window)


def _encode_order_py(order: Order, inst: Instrument, api_key: str, secret: bytes | Ed25519Key,
                     ts_ms: int, recv_window: int = 5000) -> bytes:
    """The plain-Python signed frame: encode_order's reference (HMAC), and its Ed25519 path.

    Params in alphabetical order — apiKey newClientOrderId newOrderRespType price quantity
    recvWindow side stopPrice symbol timeInForce timestamp type — so one string is both the
    signature payload and, quoted, the JSON params."""
    coid, s, qty, px, sp, tif, sym, typ = _order_fields(order, inst)
    if px is not None:
        pp, pj = "&price=" + px, ',"price":"' + px + '"'
    else:
        pp = pj = ""
    if sp is not None:
        sq, sj = "&stopPrice=" + sp, ',"stopPrice":"' + sp + '"'
    else:
        sq = sj = ""
    if tif is not None:
        tq, tj = "&timeInForce=" + tif, ',"timeInForce":"' + tif + '"'
    else:
        tq = tj = ""
    payload = (f"apiKey={api_key}&newClientOrderId={coid}&newOrderRespType=ACK{pp}"
               f"&quantity={qty}&recvWindow={recv_window}&side={s}{sq}&symbol={sym}{tq}"
               f"&timestamp={ts_ms}&type={typ}")
    if type(secret) is bytes:
        h = _SIGNERS.get(secret) or _signer(secret)
        h = h.copy()
        h.update(payload.encode())
        sig = h.hexdigest()
    else:
        sig = secret.sign(payload)
    return (f'{{"id":"{coid}","method":"order.place","params":{{"apiKey":"{api_key}",'
            f'"newClientOrderId":"{coid}","newOrderRespType":"ACK"{pj},"quantity":"{qty}",'
            f'"recvWindow":{recv_window},"side":"{s}"{sj},"symbol":"{sym}"{tj},'
            f'"timestamp":{ts_ms},"type":"{typ}","signature":"{sig}"}}}}').encode()


def encode_order_session(order: Order, inst: Instrument, ts_ms: int,
                         recv_window: int = 5000) -> bytes:
    """The `order.place` frame on a connection authenticated by `session.logon`: the same
    params as `encode_order` without apiKey and signature (Binance: after logon, requests omit
    both; the timestamp is still required, and recvWindow keeps the lost-order rule exact).

    Nothing is signed, so the params need no order (Binance: the order of params does not
    matter): the per-order ones come first and the shape's constant end (newOrderRespType,
    symbol, timeInForce, type) is one string made once per instrument and shape. Built by the
    compiled encoder (_fast/wire.pyx); the same bytes as `_encode_order_session_py`."""
    c = _CODECS.get(id(inst))
    if c is None or c.inst is not inst:
        c = _codec(inst)
    return c.session(order, ts_ms, recv_window)


def session_encoder(inst: Instrument) -> Callable[[Order, int, int], bytes]:
    """encode_order_session for one instrument as the compiled bound method itself:
    encoder(order, ts_ms, recv_window) -> bytes, for a caller that sends many orders of the
    instrument (no Python frame and no codec lookup per order)."""
    return _codec(inst).session


def _encode_order_session_py(order: Order, inst: Instrument, ts_ms: int,
                             recv_window: int = 5000) -> bytes:
    """The plain-Python reference of encode_order_session (tests compare the two)."""
    c = _CODECS.get(id(inst))
    if c is None or c.inst is not inst:
        c = _codec(inst)
    key = order.type * 16 + order.tif * 2 + order.post_only
    sh = c.tails.get(key)
    if sh is None:
        sh = c.shape(key)
        if type(sh) is not tuple:
            raise UnsupportedOrder(sh or f"order type {order.type!r} / tif {order.tif!r} "
                                         f"unknown")
    side = order.side
    if order.reduce_only and side == 1:
        raise UnsupportedOrder("reduce_only BUY: Binance spot has no short position to reduce")
    coid = order.client_order_id
    if not coid or len(coid) > 36 or coid.strip(_COID_CHARS):
        raise UnsupportedOrder(_coid_refusal(coid))
    q = order.qty
    if q <= 0:
        raise UnsupportedOrder(f"quantity {q} lots: must be > 0")
    priced, stopped, tail = sh
    pj = ('"price":"' + c.price(order.price) + '",') if priced else ""
    if stopped:
        pj += '"stopPrice":"' + c.price(order.trigger_price) + '",'
    return (f'{{"id":"{coid}","method":"order.place","params":{{"newClientOrderId":"{coid}",'
            f'"side":"{"BUY" if side == 1 else "SELL"}","quantity":"{c.qty(q)}",{pj}'
            f'"recvWindow":{recv_window},"timestamp":{ts_ms},{tail}').encode()


def _coid_refusal(coid: str) -> str:
    return f"client order id {coid!r}: Binance accepts 1-36 characters of A-Z a-z 0-9 . : / _ -"


def encode_cancel(symbol: str, client_order_id: str, api_key: str | None,
                  secret: bytes | Ed25519Key | None, ts_ms: int, req_id: int,
                  recv_window: int = 5000) -> bytes:
    """`order.cancel` by client order id; unsigned (no apiKey) when secret is None, for a
    connection authenticated by `session.logon`."""
    kv = [("origClientOrderId", client_order_id), ("recvWindow", recv_window),
          ("symbol", symbol), ("timestamp", ts_ms)]
    if secret is None:
        return _frame(str(req_id), "order.cancel", kv, None)
    return _frame(str(req_id), "order.cancel", [("apiKey", api_key)] + kv, secret)


def encode_signed(method: str, req_id: int, params: dict, api_key: str,
                  secret: bytes | Ed25519Key, ts_ms: int, recv_window: int = 5000) -> bytes:
    """Any signed request (queries, subscriptions, session.logon): params sorted by name."""
    p = dict(params)
    p.update(apiKey=api_key, timestamp=ts_ms, recvWindow=recv_window)
    return _frame(str(req_id), method, sorted(p.items()), secret)


def encode_session(method: str, req_id: int, params: dict, ts_ms: int | None = None,
                   recv_window: int = 5000) -> bytes:
    """A request on a connection authenticated by `session.logon`: no apiKey, no signature;
    timestamp and recvWindow when given a timestamp (SIGNED methods still need it)."""
    p = dict(params)
    if ts_ms is not None:
        p.update(timestamp=ts_ms, recvWindow=recv_window)
    return _frame(str(req_id), method, sorted(p.items()), None)


def _frame(rid: str, method: str, kv: list, secret: bytes | Ed25519Key | None) -> bytes:
    body = ",".join([f'"{k}":{v}' if type(v) is int else f'"{k}":"{v}"' for k, v in kv])
    if secret is not None:
        payload = "&".join([f"{k}={v}" for k, v in kv])
        sig = (hmac.digest(secret, payload.encode(), "sha256").hex() if type(secret) is bytes
               else secret.sign(payload))
        body += f',"signature":"{sig}"'
    return f'{{"id":{rid},"method":"{method}","params":{{{body}}}}}'.encode()


# -- the client ------------------------------------------------------------------------------------
_STATUS = {"NEW": OrderStatus.ACCEPTED, "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
           "FILLED": OrderStatus.FILLED, "CANCELED": OrderStatus.CANCELED,
           "PENDING_CANCEL": OrderStatus.PENDING_CANCEL, "REJECTED": OrderStatus.REJECTED,
           "EXPIRED": OrderStatus.EXPIRED, "EXPIRED_IN_MATCH": OrderStatus.EXPIRED}
_TYPES = {"MARKET": OrderType.MARKET, "LIMIT": OrderType.LIMIT, "LIMIT_MAKER": OrderType.LIMIT,
          "STOP_LOSS": OrderType.STOP_MARKET, "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
          "TAKE_PROFIT": OrderType.TAKE_PROFIT, "TAKE_PROFIT_LIMIT": OrderType.TAKE_PROFIT_LIMIT}


class _Track:
    """What the client knows of one of its orders."""
    __slots__ = ("order", "inst", "sent_ms", "acked", "accepted", "done", "vid", "filled",
                 "resolving", "cancel_sent")

    def __init__(self, order: Order, inst: Instrument, sent_ms: int) -> None:
        self.order = order
        self.inst = inst
        self.sent_ms = sent_ms
        self.acked = False          # any answer or event about it seen
        self.accepted = False
        self.done = False           # a terminal callback was made
        self.vid = 0
        self.filled = 0             # lots delivered as fills
        self.resolving = False
        self.cancel_sent = False


@dataclass
class ExecutionHealth:
    connects: int = 0
    disconnects: int = 0
    orders_sent: int = 0
    local_rejects: int = 0
    venue_rejects: int = 0
    fills: int = 0
    duplicate_fills: int = 0
    resolved: int = 0             # orders looked up after a lost answer or a reconnect
    never_placed: int = 0         # of which the venue did not know
    reconciled_fills: int = 0     # fills found by myTrades, not the stream
    bad_messages: int = 0


class _Conn(WSListener):
    def __init__(self, client: "BinanceExecution") -> None:
        self.client = client
        self.transport: WSTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        t = frame.msg_type
        if t == WSMsgType.TEXT:
            self.client._on_message(frame.get_payload_as_bytes())
        elif t == WSMsgType.PING:
            transport.send_pong(frame.get_payload_as_bytes())
        elif t == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if self.client._conn is self:
            self.client.connected = False       # new orders are refused from now on
        if not self.closed.done():
            self.closed.set_result(None)


class BinanceExecution(VenueClient):
    """Binance spot orders over the WebSocket API; see the module docstring."""

    def __init__(self, instruments: dict[str, Instrument], credentials: Credentials, *,
                 name: str = "binance", url: str = WS_API_URL, clock: Clock | None = None,
                 recv_window_ms: int = 5000, ack_grace_ms: int = 1000,
                 request_timeout_s: float = 10.0, check_interval_s: float = 0.1,
                 backoff_initial_s: float = 0.25, backoff_max_s: float = 30.0,
                 limiter: RateLimiter | None = None, order_limits: OrderCountLimiter | None = None,
                 fee_converter: Callable[[str, float, int], float | None] | None = None) -> None:
        if not 0 < recv_window_ms <= 60000:
            raise ValueError(f"recv_window_ms {recv_window_ms!r}: Binance accepts 1..60000")
        self.name = name
        self.instruments = dict(instruments)
        self._session_enc: dict[str, Callable[[Order, int, int], bytes]] = {}
        for sym, inst in self.instruments.items():
            if inst.symbol != sym:
                raise ValueError(f"instruments[{sym!r}] is {inst.symbol!r}: keys must be the "
                                 f"instruments' symbols")
        self.url = url
        self.clock = clock or LiveClock()
        self.recv_window_ms = int(recv_window_ms)
        self.ack_grace_ms = ack_grace_ms
        self.request_timeout_s = request_timeout_s
        self.check_interval_s = check_interval_s
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.limiter = limiter or limiter_for("binance")
        self.order_limits = order_limits or OrderCountLimiter()
        self.fee_converter = fee_converter
        self.unconverted_fees: dict[str, float] = {}
        self.health = ExecutionHealth()
        self._api_key = credentials.api_key
        key = signing_key(credentials.secret.reveal())
        self.key_kind = key.kind
        # Ed25519: the connection logs on once and orders go unsigned; HMAC: each is signed
        self.session_auth = key.kind == "ed25519"
        self.__key = key.secret if key.kind == "hmac" else key
        self._listener: VenueListener | None = None
        self._conn: _Conn | None = None
        self._tr: WSTransport | None = None
        self.connected = False
        self._orders: dict[str, _Track] = {}
        self._by_vid: dict[tuple[str, int], str] = {}
        self._seen: set[str] = set()
        self._cancels: dict[int, str] = {}
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._ready: asyncio.Event | None = None
        self._stop = False
        self._task: asyncio.Task | None = None
        self._side_tasks: set[asyncio.Task] = set()
        self._warned_assets: set[str] = set()

    def __repr__(self) -> str:
        return f"BinanceExecution(name={self.name!r}, url={self.url!r}, connected={self.connected})"

    @classmethod
    def from_env(cls, instruments: dict[str, Instrument], *, name: str = "binance",
                 **settings) -> "BinanceExecution":
        """With the credentials of TRADECORE_<NAME>_API_KEY/_API_SECRET (or _CREDENTIALS_FILE)."""
        return cls(instruments, load_credentials(name), name=name, **settings)

    # -- VenueClient -------------------------------------------------------------------------------
    def set_listener(self, listener: VenueListener) -> None:
        self._listener = listener

    def submit(self, order: Order) -> None:
        coid = order.client_order_id
        inst = self.instruments.get(order.symbol)
        if inst is None:
            return self._local_reject(coid, f"{self.name}: no instrument {order.symbol!r}")
        if coid in self._orders:
            return self._local_reject(coid, f"client order id {coid!r} already sent")
        if not self.connected:
            return self._local_reject(coid, f"{self.name}: not connected to the WebSocket API")
        ts_ms = self.clock.time_ns() // 1_000_000
        try:
            if self.session_auth:
                enc = self._session_enc.get(order.symbol)
                if enc is None:
                    enc = self._session_enc[order.symbol] = session_encoder(inst)
                data = enc(order, ts_ms, self.recv_window_ms)
            else:
                data = encode_order(order, inst, self._api_key, self.__key, ts_ms,
                                    self.recv_window_ms)
        except UnsupportedOrder as e:
            return self._local_reject(coid, f"{self.name}: {e}")
        why = self.order_limits.try_take()
        if why is None and not try_acquire(self.limiter, 1):
            why = (f"request weight: the shared Binance limiter has no token now "
                   f"(back-off {self.limiter.backoff_remaining():.1f} s)")
        if why is not None:
            return self._local_reject(coid, f"{self.name}: {why}")
        try:
            self._tr.send(WSMsgType.TEXT, data)
        except Exception as e:  # noqa: BLE001 - the transport died under us: not sent
            return self._local_reject(coid, f"{self.name}: send failed ({type(e).__name__}: "
                                            f"{e})")
        self._orders[coid] = _Track(order, inst, ts_ms)
        self.health.orders_sent += 1

    def cancel(self, order: Order) -> None:
        coid = order.client_order_id
        if not self.connected:
            self._listener.on_cancel_rejected(coid, f"{self.name}: not connected",
                                              self.clock.time_ns())
            return
        tr = self._orders.get(coid)
        if tr is not None:
            tr.cancel_sent = True
        rid = next(self._ids)
        self._cancels[rid] = coid
        try_acquire(self.limiter, 1)       # counted; a cancel is never refused for weight
        self._tr.send(WSMsgType.TEXT, encode_cancel(
            order.symbol, coid, self._api_key, None if self.session_auth else self.__key,
            self.clock.time_ns() // 1_000_000, rid, self.recv_window_ms))

    async def open_orders(self) -> list[VenueOrderState]:
        out = []
        for o in await self.request("openOrders.status", {}, weight=80):
            inst = self.instruments.get(o.get("symbol"))
            if inst is None:
                continue
            out.append(VenueOrderState(
                o["clientOrderId"], str(o["orderId"]), o["symbol"],
                Side.BUY if o["side"] == "BUY" else Side.SELL, _TYPES.get(o["type"],
                                                                           OrderType.LIMIT),
                inst.lots(o["origQty"]), inst.ticks(o["price"]) if Decimal(o["price"]) else 0,
                inst.lots(o["executedQty"]), _STATUS.get(o["status"], OrderStatus.ACCEPTED)))
        return out

    def track(self, order: Order, venue_order_id: str, filled_lots: int) -> None:
        """Follow an order placed by an earlier process (recovery hands over every order the
        venue still has open), so its fills, cancels and expiry reach the engine like those
        of orders sent from here."""
        inst = self.instruments.get(order.symbol)
        if inst is None or order.client_order_id in self._orders:
            return
        tr = _Track(order, inst, self.clock.time_ns() // 1_000_000)
        tr.acked = tr.accepted = True
        tr.filled = filled_lots
        if venue_order_id:
            tr.vid = int(venue_order_id)
            self._by_vid[(order.symbol, tr.vid)] = order.client_order_id
        self._orders[order.client_order_id] = tr

    async def balances(self) -> dict[str, float]:
        """The account's free balance per asset (`account.status`; locked amounts belong to
        our open orders, which the gate already counts)."""
        res = await self.request("account.status", {"omitZeroBalances": "true"}, weight=20)
        return {b["asset"]: float(b["free"]) for b in res.get("balances", ())
                if float(b["free"]) or float(b["locked"])}

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        """Every fill since ts_ns, per instrument (Binance's myTrades startTime; it answers at most
        24 h of trades per call, so recovery after a longer outage needs several calls)."""
        start = ts_ns // 1_000_000
        out: list[Fill] = []
        for sym, inst in self.instruments.items():
            ids = {o["orderId"]: o["clientOrderId"]
                   for o in await self.request("allOrders", {"symbol": sym, "startTime": start},
                                               weight=20)}
            for t in await self.request("myTrades", {"symbol": sym, "startTime": start},
                                        weight=20):
                coid = ids.get(t["orderId"]) or self._by_vid.get((sym, t["orderId"]), "")
                out.append(self._fill_from_trade(inst, coid, t))
        return out

    # -- connection --------------------------------------------------------------------------------
    async def start(self, timeout: float = 10.0) -> None:
        """Connect, subscribe to user data, reconcile; keeps reconnecting until close()."""
        if self._listener is None:
            raise RuntimeError(f"{self.name}: set_listener() before start()")
        self._ready = asyncio.Event()
        self._stop = False
        self._task = asyncio.get_running_loop().create_task(self._supervise(),
                                                            name=f"{self.name}-exec")
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def close(self) -> None:
        self._stop = True
        if self._tr is not None:
            self._tr.disconnect()
        for t in [self._task, *self._side_tasks]:
            if t is not None:
                t.cancel()
        for t in [self._task, *self._side_tasks]:
            if t is not None:
                try:
                    await t
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
        self.connected = False

    async def wait_ready(self, timeout: float = 10.0) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    def disconnect(self) -> None:
        """Drop the connection (tests, planned rollovers); the supervisor reconnects."""
        if self._tr is not None:
            self._tr.disconnect(graceful=False)

    async def _supervise(self) -> None:
        backoff = self.backoff_initial_s
        while not self._stop:
            try:
                await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - any failure to connect is retried
                log.warning("%s: connect failed (%s: %s); retry in %.2f s", self.name,
                            type(e).__name__, e, backoff)
                if self._tr is not None:
                    self._tr.disconnect()
                self._set_down()
                await asyncio.sleep(backoff * (0.5 + random.random()))
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            backoff = self.backoff_initial_s
            conn = self._conn
            while not conn.closed.done():
                await asyncio.wait([conn.closed], timeout=self.check_interval_s)
                self._check_unanswered()
            self._set_down()
            self.health.disconnects += 1
            if not self._stop:
                log.warning("%s: WebSocket API connection lost; reconnecting", self.name)

    def _set_down(self) -> None:
        self.connected = False
        self._ready.clear()
        err = ConnectionError(f"{self.name}: connection lost")
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(err)
        self._pending.clear()
        for rid, coid in list(self._cancels.items()):     # their answers can no longer come
            self._cancels.pop(rid)
            tr = self._orders.get(coid)
            if tr is not None:
                tr.cancel_sent = False
            self._listener.on_cancel_rejected(coid, f"{self.name}: connection lost before the "
                                                    f"cancel was answered; send it again",
                                              self.clock.time_ns())

    async def _connect(self) -> None:
        await self.limiter.acquire(2)       # Binance: connecting to the WebSocket API costs 2
        tr, conn = await ws_connect(lambda: _Conn(self), self.url, enable_auto_pong=False,
                                    max_frame_size=16 << 20)
        self._conn, self._tr = conn, tr
        self.health.connects += 1
        if self.session_auth:       # Ed25519: authenticate the connection once, then unsigned
            await self.request("session.logon", {}, weight=2)
            await self.request("userDataStream.subscribe", {}, weight=2, signed=False)
        else:
            await self.request("userDataStream.subscribe.signature", {}, weight=2)
        self.connected = True
        await self._reconcile()
        self._ready.set()
        log.info("%s: connected to %s, user data subscribed, %d orders reconciled", self.name,
                 self.url, sum(1 for t in self._orders.values() if not t.done))

    async def _reconcile(self) -> None:
        await asyncio.gather(*(self._resolve(t) for t in list(self._orders.values())
                               if not t.done))

    # -- requests ----------------------------------------------------------------------------------
    async def request(self, method: str, params: dict, *, weight: int = 1,
                      signed: bool = True) -> object:
        """A request; its result, or BinanceApiError. `signed` (Binance's SIGNED methods): with
        an HMAC key apiKey + signature are added; on a connection logged on with an Ed25519 key
        only timestamp + recvWindow (session.logon itself is always signed)."""
        if self._tr is None or (self._conn is not None and self._conn.closed.done()):
            raise ConnectionError(f"{self.name}: not connected")
        await self.limiter.acquire(weight)
        rid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        ts_ms = self.clock.time_ns() // 1_000_000
        if method == "session.logon" or (signed and not self.session_auth):
            data = encode_signed(method, rid, params, self._api_key, self.__key, ts_ms,
                                 self.recv_window_ms)
        else:
            data = encode_session(method, rid, params, ts_ms if signed else None,
                                  self.recv_window_ms)
        self._tr.send(WSMsgType.TEXT, data)
        try:
            return await asyncio.wait_for(fut, self.request_timeout_s)
        finally:
            self._pending.pop(rid, None)

    # -- incoming ----------------------------------------------------------------------------------
    def _on_message(self, data: bytes) -> None:
        try:
            msg = orjson.loads(data)
            ev = msg.get("event")
            if ev is not None:
                if ev.get("e") == "executionReport":
                    self._on_report(ev)
                elif ev.get("e") == "eventStreamTerminated":
                    log.error("%s: user data stream terminated; reconnecting", self.name)
                    self.disconnect()
                return
            rid = msg.get("id")
            if rid is None and msg.get("status") == 401:
                # Binance revokes a logged-on session whose key became invalid: log on again
                log.error("%s: session revoked by the venue (%s); reconnecting", self.name,
                          self._error(msg))
                self.disconnect()
                return
            if "rateLimits" in msg:
                self._rate_limits(msg["rateLimits"])
            if type(rid) is str:
                self._on_place_answer(rid, msg)
            elif rid in self._cancels:
                self._on_cancel_answer(self._cancels.pop(rid), msg)
            else:
                fut = self._pending.get(rid)
                if fut is not None and not fut.done():
                    if msg.get("status") == 200:
                        fut.set_result(msg.get("result"))
                    else:
                        fut.set_exception(self._error(msg))
        except Exception:  # noqa: BLE001 - never lose the connection over one message
            self.health.bad_messages += 1
            log.exception("%s: cannot handle message %r", self.name, data[:200])

    def _error(self, msg: dict) -> BinanceApiError:
        err = msg.get("error") or {}
        status = int(msg.get("status") or 0)
        if err.get("code") == -1015:        # too many orders: an account count, not IP weight
            self.order_limits.saturate("DAY" if "DAY" in str(err.get("msg")) else None)
        elif status in (418, 429):
            retry_ms = (err.get("data") or {}).get("retryAfter")
            secs = max(0.0, retry_ms / 1000 - time.time()) if retry_ms else None
            self.limiter.on_response(status, {"Retry-After": f"{secs:.3f}"} if secs is not None
                                     else {})
        return BinanceApiError(status, int(err.get("code", 0)), str(err.get("msg", "")))

    def _rate_limits(self, rls: list) -> None:
        self.order_limits.sync(rls)
        for rl in rls:
            if rl.get("rateLimitType") == "REQUEST_WEIGHT" and rl.get("interval") == "MINUTE":
                self.limiter.on_response(200, {"X-MBX-USED-WEIGHT-1M": str(rl.get("count"))})

    def _on_place_answer(self, coid: str, msg: dict) -> None:
        tr = self._orders.get(coid)
        if tr is None or tr.done:
            return
        tr.acked = True
        if msg.get("status") == 200:
            r = msg["result"]
            self._accept(tr, int(r["orderId"]), int(r.get("transactTime", 0)) * 1_000_000)
        else:
            e = self._error(msg)
            tr.done = True
            self.health.venue_rejects += 1
            self._listener.on_order_rejected(coid, str(e), self.clock.time_ns())

    def _on_cancel_answer(self, coid: str, msg: dict) -> None:
        tr = self._orders.get(coid)
        if tr is not None:
            tr.cancel_sent = False
        if msg.get("status") == 200:
            r = msg["result"]
            if tr is not None and not tr.done:
                tr.done = True
                self._listener.on_order_canceled(coid, "canceled",
                                                 int(r.get("transactTime", 0)) * 1_000_000)
            return
        if tr is not None and tr.done:
            return                                  # already finished: nothing to refuse
        self._listener.on_cancel_rejected(coid, str(self._error(msg)), self.clock.time_ns())

    def _accept(self, tr: _Track, vid: int, ts_ns: int) -> None:
        if tr.vid == 0:
            tr.vid = vid
            self._by_vid[(tr.inst.symbol, vid)] = tr.order.client_order_id
        if not tr.accepted:
            tr.accepted = True
            self._listener.on_order_accepted(tr.order.client_order_id, str(vid),
                                             ts_ns or self.clock.time_ns())

    def _on_report(self, ev: dict) -> None:
        x = ev["x"]
        coid = ev["C"] if x == "CANCELED" and ev.get("C") else ev["c"]
        tr = self._orders.get(coid)
        ts_ns = int(ev.get("T") or ev.get("E") or 0) * 1_000_000
        if tr is None:
            if x == "TRADE":                # not ours from this session: still a fill
                inst = self.instruments.get(ev["s"])
                if inst is not None:
                    self._deliver(self._fill_from_report(inst, coid, ev))
            return
        tr.acked = True
        if x == "NEW":
            self._accept(tr, int(ev["i"]), ts_ns)
        elif x == "TRADE":
            self._accept(tr, int(ev["i"]), ts_ns)
            f = self._fill_from_report(tr.inst, coid, ev)
            if self._deliver(f):
                tr.filled += f.qty
            if ev.get("X") == "FILLED":
                tr.done = True
        elif tr.done:
            return
        elif x == "CANCELED":
            tr.done = True
            self._listener.on_order_canceled(coid, "canceled" if tr.cancel_sent
                                             else "canceled by the venue", ts_ns)
        elif x in ("EXPIRED", "TRADE_PREVENTION"):
            tr.done = True
            self._listener.on_order_expired(coid, ts_ns)
        elif x == "REJECTED":
            tr.done = True
            self._listener.on_order_rejected(coid, f"binance: {ev.get('r')}", ts_ns)

    # -- fills -------------------------------------------------------------------------------------
    def _deliver(self, f: Fill) -> bool:
        if f.trade_id in self._seen:
            self.health.duplicate_fills += 1
            return False
        self._seen.add(f.trade_id)
        self.health.fills += 1
        self._listener.on_fill(f)
        return True

    def _fee(self, inst: Instrument, amount: str, asset: str | None, price: str,
             ts_ns: int) -> float:
        a = float(amount or 0)
        if not a or not asset:
            return 0.0
        if asset == inst.quote:
            return a
        if asset == inst.base:
            return a * float(price)
        if self.fee_converter is not None:
            v = self.fee_converter(asset, a, ts_ns)
            if v is not None:
                return float(v)
        self.unconverted_fees[asset] = self.unconverted_fees.get(asset, 0.0) + a
        if asset not in self._warned_assets:
            self._warned_assets.add(asset)
            log.warning("%s: commission paid in %s cannot be converted to %s without a "
                        "fee_converter; recorded as 0.0 quote, kept in unconverted_fees",
                        self.name, asset, inst.quote)
        return 0.0

    def _fill_from_report(self, inst: Instrument, coid: str, ev: dict) -> Fill:
        ts_ns = int(ev["T"]) * 1_000_000
        return Fill(coid, self.name, inst.symbol, Side.BUY if ev["S"] == "BUY" else Side.SELL,
                    inst.lots(ev["l"]), inst.ticks(ev["L"]),
                    self._fee(inst, ev.get("n"), ev.get("N"), ev["L"], ts_ns),
                    "maker" if ev.get("m") else "taker", f"{inst.symbol}:{ev['t']}", ts_ns)

    def _fill_from_trade(self, inst: Instrument, coid: str, t: dict) -> Fill:
        ts_ns = int(t["time"]) * 1_000_000
        return Fill(coid, self.name, inst.symbol, Side.BUY if t["isBuyer"] else Side.SELL,
                    inst.lots(t["qty"]), inst.ticks(t["price"]),
                    self._fee(inst, t.get("commission"), t.get("commissionAsset"), t["price"],
                              ts_ns),
                    "maker" if t.get("isMaker") else "taker", f"{inst.symbol}:{t['id']}", ts_ns)

    # -- lost answers and reconciliation -----------------------------------------------------------
    def _check_unanswered(self) -> None:
        """Orders without any answer past recvWindow + grace are looked up (see module doc)."""
        if not self.connected:
            return
        now_ms = self.clock.time_ns() // 1_000_000
        limit = self.recv_window_ms + self.ack_grace_ms
        for tr in self._orders.values():
            if not tr.acked and not tr.done and not tr.resolving and now_ms - tr.sent_ms > limit:
                self._spawn(self._resolve(tr))

    def _spawn(self, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._side_tasks.add(t)
        t.add_done_callback(self._side_tasks.discard)

    async def _resolve(self, tr: _Track) -> None:
        """Ask the venue about one order and apply what it says (once per missing piece)."""
        if tr.resolving or tr.done:
            return
        tr.resolving = True
        coid, sym = tr.order.client_order_id, tr.inst.symbol
        try:
            self.health.resolved += 1
            try:
                st = await self.request("order.status", {"symbol": sym,
                                                          "origClientOrderId": coid}, weight=4)
            except BinanceApiError as e:
                if e.code != -2013:
                    raise
                if self.clock.time_ns() // 1_000_000 - tr.sent_ms > self.recv_window_ms:
                    if not tr.done:
                        tr.done = True
                        self.health.never_placed += 1
                        self._listener.on_order_rejected(
                            coid, f"{self.name}: no answer, and the venue does not know the "
                                  f"order after its recvWindow ({self.recv_window_ms} ms) "
                                  f"passed: it was never placed", self.clock.time_ns())
                return          # else: may still arrive; the watchdog asks again later
            tr.acked = True
            self._accept(tr, int(st["orderId"]), int(st.get("time", 0)) * 1_000_000)
            if tr.inst.lots(st["executedQty"]) > tr.filled:
                trades = await self.request("myTrades", {"symbol": sym,
                                                         "orderId": int(st["orderId"])},
                                            weight=5)
                for t in trades:
                    f = self._fill_from_trade(tr.inst, coid, t)
                    if self._deliver(f):
                        tr.filled += f.qty
                        self.health.reconciled_fills += 1
            if tr.done:
                return
            status = st["status"]
            ts = int(st.get("updateTime", 0)) * 1_000_000 or self.clock.time_ns()
            if status == "FILLED":
                tr.done = True
            elif status == "CANCELED":
                tr.done = True
                self._listener.on_order_canceled(coid, "canceled (found on reconciliation)", ts)
            elif status in ("EXPIRED", "EXPIRED_IN_MATCH"):
                tr.done = True
                self._listener.on_order_expired(coid, ts)
            elif status == "REJECTED":
                tr.done = True
                self._listener.on_order_rejected(coid, "binance: rejected (found on "
                                                       "reconciliation)", ts)
        except (ConnectionError, asyncio.TimeoutError) as e:
            log.warning("%s: cannot resolve order %s now (%s); will retry", self.name, coid, e)
        except Exception:  # noqa: BLE001
            log.exception("%s: resolving order %s failed", self.name, coid)
        finally:
            tr.resolving = False

    def _local_reject(self, coid: str, reason: str) -> None:
        self.health.local_rejects += 1
        self._listener.on_order_rejected(coid, reason, self.clock.time_ns())
