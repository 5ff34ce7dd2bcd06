"""A simulated Binance spot matching engine behind the simulator: order entry over the WebSocket
API and REST, user-data events, and the failures a live venue client must survive.

    sim = ExchangeSimulator(["binance"], paused=True); await sim.start()
    ws://127.0.0.1:PORT/binance/ws-api/v3          (or /ws-api/v3)  Binance's WebSocket API
    http://127.0.0.1:PORT/api/v3/order             POST / DELETE / GET, /openOrders, /allOrders,
                                                   /myTrades, /account, /exchangeInfo
    sim.orders.inject(OrderFault("drop_request"))  or POST /_sim/order_fault {"kind": ...}

What it does as Binance does (the request and answer formats are Binance's documented ones):
  * Signed requests: HMAC-SHA256 over the params except `signature` sorted by name (WebSocket
    API), over query string + body as sent (REST); keys registered with `add_key` (the test key
    TEST_API_KEY / TEST_SECRET is always there). -2015 unknown key, -1022 bad signature, -1021
    timestamp outside recvWindow (checked against this host's wall clock: the client and the
    simulator share it), -1102 missing parameter, -1121 unknown symbol.
  * Orders: MARKET, LIMIT, LIMIT_MAKER, STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT,
    TAKE_PROFIT_LIMIT with GTC / IOC / FOK. Filters: PRICE_FILTER (tick), LOT_SIZE (step, min),
    NOTIONAL (minimum price x qty) -> -1013 "Filter failure: <FILTER>". Balances are kept per key
    (locked for working orders) -> -2010 "Account has insufficient balance for requested
    action."; -2010 also for a LIMIT_MAKER that would take, a stop that would trigger at once and
    a duplicate open clientOrderId, as on Binance. ORDERS limit 50 per 10 s per account -> 429
    -1015. -2011 cancel of an unknown order, -2013 status of an unknown order.
  * Matching (simple, and said so): against the simulator's replayed book of the symbol. An
    incoming order takes the opposite levels that cross it (MARKET: any), at the levels' prices,
    one trade per level; what the book shows is taken only once (the quantity taken from a level
    is remembered until the replay changes that level). IOC/MARKET remainders expire, FOK expires
    whole unless the crossing liquidity covers it, GTC rests. A resting limit fills at its own
    price (maker) when the replayed book crosses it, checked every `match_interval` s and by
    `match_now()`; our orders never move the replayed book. Stops trigger on the best price on
    the side they would trade against, then work as MARKET / LIMIT. Commission: `fee_rate` of
    the asset received (base for buys, quote for sells), or of `fee_asset` (e.g. BNB, at
    `fee_asset_price` quote) when the account sets one.
  * Ed25519 keys (`add_ed25519_key`; TEST_ED25519_API_KEY / TEST_ED25519_PEM always there):
    signatures are base64 Ed25519 over the same payload, verified with the public key.
    `session.logon` (Ed25519 only; HMAC -> -4056 "HMAC_SHA256 API key is not supported.")
    authenticates the connection: later requests without apiKey and signature act for that key,
    their timestamp still checked; `session.status`, `session.logout`; `revoke_sessions(key)`
    sends Binance's `id: null` 401 -2015 and forgets the logon.
  * User data: `userDataStream.subscribe.signature` (signed) or, after a logon,
    `userDataStream.subscribe` on a WebSocket API connection gives that connection
    `{"subscriptionId": n, "event": {executionReport}}` for every change of the key's orders,
    whether placed over the WebSocket API or REST.
  * Faults (OrderFault): drop_request (the next order request vanishes: no answer, no order),
    drop_response (the order is processed, its answer is lost; user-data events still go out),
    disconnect_after_accept (the order is processed, then the connection that sent it is closed
    without a close frame before anything more is sent on it: answer and events lost).
    Over REST the same kinds close the HTTP connection instead of answering.

Hooked into ExchangeSimulator by three lines (exchange.py): `self.orders = SimOrders(self)`,
the WebSocket route (`self.orders.route(...)`) and the REST routes (`self.orders.add_routes`).
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import logging
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

import orjson
from aiohttp import web
from picows import WSMsgType

from tradecore.simulator.exchange import Session

log = logging.getLogger("tradecore.simulator.orders")

TEST_API_KEY = "tcSimKey0000000000000000000000000000000000000000000000000000000000"
TEST_SECRET = "tcSimSecret00000000000000000000000000000000000000000000000000000000"
# An Ed25519 test key (fixed seed, so the PEM is the same in every process); its account is
# always there too. Test material only: it signs nothing but requests to this simulator.
TEST_ED25519_API_KEY = "tcSimEd25519Key000000000000000000000000000000000000000000000000000"
_TEST_ED25519_SEED = b"tcSimEd25519Seed0000000000000000"


def _test_ed25519_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    k = Ed25519PrivateKey.from_private_bytes(_TEST_ED25519_SEED)
    return k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption()).decode()


TEST_ED25519_PEM = _test_ed25519_pem()

WS_API_PATHS = (["ws-api", "v3"], ["binance", "ws-api", "v3"])
ORDER_FAULT_KINDS = ("drop_request", "drop_response", "disconnect_after_accept")
ORDERS_PER_10S = 50
ORDER_TYPES = ("MARKET", "LIMIT", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
               "TAKE_PROFIT_LIMIT")
TIFS = ("GTC", "IOC", "FOK")
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "BTC", "ETH", "BNB", "EUR", "TRY", "BRL")
_Z = Decimal(0)


def _t8(d: Decimal) -> str:
    """Binance's number text: 8 decimals."""
    return format(d, ".8f")


class OrderError(Exception):
    """A Binance error answer: code, message, HTTP-like status."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status


@dataclass
class OrderFault:
    kind: str
    count: int = 1
    method: str = "order.place"     # WebSocket API method (REST: the order POST) it applies to

    def __post_init__(self) -> None:
        if self.kind not in ORDER_FAULT_KINDS:
            raise ValueError(f"order fault kind {self.kind!r}: expected one of "
                             f"{', '.join(ORDER_FAULT_KINDS)}")
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise ValueError(f"order fault count {self.count!r}: expected an integer >= 1")


@dataclass
class SymbolRules:
    symbol: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal


@dataclass
class Account:
    api_key: str
    secret: bytes                               # HMAC secret (b"" for an Ed25519 key)
    balances: dict[str, list[Decimal]]          # asset -> [free, locked]
    ed25519: object | None = None               # the Ed25519 public key, for Ed25519 keys
    fee_rate: Decimal = Decimal("0.001")
    fee_asset: str | None = None
    fee_asset_price: Decimal = Decimal("500")   # quote per fee_asset unit
    order_times: list[float] = field(default_factory=list)

    def free(self, asset: str) -> Decimal:
        return self.balances.setdefault(asset, [_Z, _Z])[0]

    def move(self, asset: str, free: Decimal = _Z, locked: Decimal = _Z) -> None:
        b = self.balances.setdefault(asset, [_Z, _Z])
        b[0] += free
        b[1] += locked


@dataclass
class SimOrder:
    account: Account
    symbol: str
    order_id: int
    client_id: str
    side: str
    type: str
    tif: str
    qty: Decimal
    price: Decimal | None
    stop: Decimal | None
    time_ms: int
    status: str = "NEW"
    executed: Decimal = _Z
    cum_quote: Decimal = _Z
    update_ms: int = 0
    triggered: bool = False
    locked: Decimal = _Z                 # held locked: quote for buys, base for sells

    @property
    def open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.executed


@dataclass
class SimTrade:
    symbol: str
    trade_id: int
    order: SimOrder
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    maker: bool
    time_ms: int


class OrderSession(Session):
    """A WebSocket API connection: requests go to the matching engine, not the market-data
    protocol; everything else (pings, close, drop faults) is the simulator's Session."""

    def on_ws_frame(self, transport, frame) -> None:
        mt = frame.msg_type
        if mt == WSMsgType.TEXT:
            try:
                self.sim.orders.on_ws_request(self, frame.get_payload_as_bytes())
            except Exception:  # noqa: BLE001 - a bad request must not take the server down
                log.exception("ws-api: failed to handle a request")
            self.flush()
        else:
            super().on_ws_frame(transport, frame)

    def on_ws_disconnected(self, transport) -> None:
        super().on_ws_disconnected(transport)
        self.sim.orders.forget_session(self)


class SimOrders:
    """The matching engine, its accounts and its WebSocket API / REST front ends."""

    def __init__(self, sim, *, match_interval: float = 0.005) -> None:
        self.sim = sim
        self.match_interval = match_interval
        self.accounts: dict[str, Account] = {}
        self.rules: dict[str, SymbolRules] = {}
        self.orders: dict[int, SimOrder] = {}
        self.by_client: dict[tuple[str, str, str], SimOrder] = {}   # (key, symbol, client id)
        self.trades: list[SimTrade] = []
        self.faults: list[OrderFault] = []
        self.fault_log: list[dict] = []
        self.requests: list[dict] = []              # every order request received (method, id)
        self._order_ids = itertools.count(1_000_001)
        self._trade_ids = itertools.count(5_000_001)
        self._cancel_ids = itertools.count(1)
        self._sub_ids = itertools.count(0)
        self._subs: dict[int, dict[int, str]] = {}  # session id -> {subscription id: api key}
        self._logons: dict[int, tuple[str, int]] = {}   # session id -> (api key, logon ms)
        self._first_ms: dict[int, int] = {}             # session id -> its first request, ms
        self._sessions: dict[int, Session] = {}
        # (symbol, book side, ticks) -> (the level's book lots when taken, quantity taken)
        self._taken: dict[tuple, tuple[int, Decimal]] = {}
        self._muted: set[int] = set()
        self._task: asyncio.Task | None = None
        self.add_key(TEST_API_KEY, TEST_SECRET)
        self.add_ed25519_key(TEST_ED25519_API_KEY, TEST_ED25519_PEM)

    # -- configuration ---------------------------------------------------------------------------
    @property
    def venue(self):
        return self.sim.venues.get("binance")

    def add_key(self, api_key: str, secret: str, balances: dict[str, str] | None = None,
                **settings) -> Account:
        """Register an API key with its account (balances as decimal text)."""
        bal = {"USDT": "1000000", "BTC": "100", "BNB": "1000"} if balances is None else balances
        acc = Account(api_key, secret.encode(), {a: [Decimal(v), _Z] for a, v in bal.items()},
                      **settings)
        self.accounts[api_key] = acc
        return acc

    def add_ed25519_key(self, api_key: str, key: str | bytes | object,
                        balances: dict[str, str] | None = None, **settings) -> Account:
        """Register an Ed25519 API key: `key` is its public key (PEM, or a cryptography key
        object), or the private key PEM, of which only the public half is kept."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import (Ed25519PrivateKey,
                                                                       Ed25519PublicKey)
        if isinstance(key, (str, bytes)):
            pem = key.encode() if isinstance(key, str) else key
            key = (serialization.load_pem_private_key(pem, None) if b"PRIVATE" in pem
                   else serialization.load_pem_public_key(pem))
        if isinstance(key, Ed25519PrivateKey):
            key = key.public_key()
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"add_ed25519_key({api_key!r}): expected an Ed25519 key, not "
                             f"{type(key).__name__}")
        acc = self.add_key(api_key, "", balances, **settings)
        acc.ed25519 = key
        return acc

    def configure_symbol(self, symbol: str, *, tick: str | None = None, step: str | None = None,
                         min_qty: str | None = None,
                         min_notional: str | None = None) -> SymbolRules:
        r = self._rules(symbol)
        for name, v in (("tick", tick), ("step", step), ("min_qty", min_qty),
                        ("min_notional", min_notional)):
            if v is not None:
                setattr(r, name, Decimal(v))
        return r

    def _rules(self, symbol: str) -> SymbolRules:
        r = self.rules.get(symbol)
        if r is not None:
            return r
        v = self.venue
        if v is None or symbol not in getattr(v, "symbols", ()):
            raise OrderError(-1121, "Invalid symbol.")
        quote = next((q for q in _QUOTES if symbol.endswith(q) and len(symbol) > len(q)), "")
        if not quote:
            raise OrderError(-1121, "Invalid symbol.")
        book = v.book(symbol)
        pd, sd = (book.price_decimals, book.size_decimals) if book is not None else \
            (2, v.wire_dec.get(symbol, [8, 8])[1])
        step = Decimal(1).scaleb(-sd)
        r = SymbolRules(symbol, symbol[:-len(quote)], quote, Decimal(1).scaleb(-pd), step, step,
                        Decimal(5))
        self.rules[symbol] = r
        return r

    def inject(self, fault: OrderFault | dict) -> OrderFault:
        if isinstance(fault, dict):
            fault = OrderFault(**fault)
        self.faults.append(fault)
        return fault

    def _take_fault(self, method: str) -> str | None:
        for f in self.faults:
            if f.method == method:
                f.count -= 1
                if f.count <= 0:
                    self.faults.remove(f)
                self.fault_log.append({"t": time.time(), "kind": f.kind, "method": method})
                return f.kind
        return None

    @staticmethod
    def now_ms() -> int:
        return time.time_ns() // 1_000_000

    # -- hooks into the simulator ----------------------------------------------------------------
    def route(self, segs: list[str], query: dict) -> Session | None:
        """The WebSocket listener for a Binance WebSocket API path, else None."""
        if segs in WS_API_PATHS and self.venue is not None:
            return OrderSession(self.sim, self.venue, "/" + "/".join(segs), query)
        return None

    def add_routes(self, app: web.Application) -> None:
        if self.venue is None:
            return
        r = app.router
        r.add_post("/api/v3/order", self._rest(self._rest_place))
        r.add_delete("/api/v3/order", self._rest(self._rest_cancel))
        r.add_get("/api/v3/order", self._rest(self._rest_status))
        r.add_get("/api/v3/openOrders", self._rest(self._rest_open))
        r.add_get("/api/v3/allOrders", self._rest(self._rest_all))
        r.add_get("/api/v3/myTrades", self._rest(self._rest_trades))
        r.add_get("/api/v3/account", self._rest(self._rest_account))
        r.add_get("/api/v3/exchangeInfo", self._exchange_info)
        r.add_post("/_sim/order_fault", self._http_fault)
        r.add_get("/_sim/orders", self._http_orders)

    def _ensure_matcher(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._match_loop(),
                                                                name="sim-orders-match")
            self.sim._tasks.append(self._task)      # closed with the simulator

    async def _match_loop(self) -> None:
        while True:
            await asyncio.sleep(self.match_interval)
            try:
                self.match_now()
            except Exception:  # noqa: BLE001 - logged; the loop keeps matching
                log.exception("sim orders: matching failed")

    # -- WebSocket API ---------------------------------------------------------------------------
    def on_ws_request(self, session: Session, data: bytes) -> None:
        if session.id not in self._sessions:
            self._first_ms[session.id] = self.now_ms()
        self._sessions[session.id] = session
        self._ensure_matcher()
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            self._send(session, {"id": None, "status": 400,
                                 "error": {"code": -1100, "msg": "Malformed request."}})
            return
        if not isinstance(msg, dict):
            self._send(session, {"id": None, "status": 400,
                                 "error": {"code": -1100, "msg": "Malformed request."}})
            return
        rid, method, params = msg.get("id"), msg.get("method"), msg.get("params") or {}
        self.requests.append({"id": rid, "method": method, "t": time.time(),
                              "signed": isinstance(params, dict) and "signature" in params})
        fault = self._take_fault(method) if self.faults else None
        if fault == "drop_request":
            return
        if fault == "disconnect_after_accept":
            self._muted.add(session.id)
        handler = self._WS_METHODS.get(method)
        try:
            if handler is None:
                raise OrderError(-1100, f"Illegal characters found in parameter 'method'; "
                                        f"unknown method {method!r}.")
            if not isinstance(params, dict):
                raise OrderError(-1100, "Malformed request: params must be an object.")
            result, weight = handler(self, session, params)
            key = params.get("apiKey") or self._logons.get(session.id, (None, 0))[0]
            answer = {"id": rid, "status": 200, "result": result,
                      "rateLimits": self._rate_limits(key, weight, method == "order.place")}
        except OrderError as e:
            answer = {"id": rid, "status": e.status, "error": {"code": e.code, "msg": e.msg}}
            if e.status == 429:             # Binance: when the request may be retried (ms)
                now = self.now_ms()
                answer["error"]["data"] = {"serverTime": now,
                                           "retryAfter": now - now % 10_000 + 10_000}
        if fault == "disconnect_after_accept":
            session.abort()
            return
        if fault != "drop_response":
            self._send(session, answer)

    def _send(self, session: Session, obj) -> None:
        if session.id in self._muted or session.gone:
            return
        session.send_payload(orjson.dumps(obj))

    def revoke_sessions(self, api_key: str) -> int:
        """Log out every connection logged on with api_key, telling each as Binance does when a
        session's key becomes invalid (`id` null, 401, -2015); returns how many."""
        n = 0
        for sid, (key, _) in list(self._logons.items()):
            if key == api_key:
                del self._logons[sid]
                s = self._sessions.get(sid)
                if s is not None:
                    self._send(s, {"id": None, "status": 401, "error": {
                        "code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}})
                    s.flush()
                n += 1
        return n

    def forget_session(self, session: Session) -> None:
        self._subs.pop(session.id, None)
        self._logons.pop(session.id, None)
        self._first_ms.pop(session.id, None)
        self._sessions.pop(session.id, None)
        self._muted.discard(session.id)

    def _rate_limits(self, api_key, weight: int, order: bool) -> list[dict]:
        out = []
        acc = self.accounts.get(api_key) if isinstance(api_key, str) else None
        if order and acc is not None:
            now = time.monotonic()
            out.append({"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
                        "limit": ORDERS_PER_10S,
                        "count": sum(1 for t in acc.order_times if now - t < 10)})
            out.append({"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                        "limit": 160000, "count": len(acc.order_times)})
        out.append({"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
                    "limit": 6000, "count": weight})
        return out

    def _auth_ws(self, params: dict, session: Session | None = None) -> Account:
        """The account of a SIGNED request: its apiKey + signature (ad hoc; any key type), or,
        with neither, the key the connection logged on with (the timestamp is still checked,
        as Binance does)."""
        key = params.get("apiKey")
        if key is None and "signature" not in params and session is not None:
            logon = self._logons.get(session.id)
            if logon is not None:
                self._check_time(params)
                return self.accounts[logon[0]]
        if not isinstance(key, str):
            raise OrderError(-1102, "Mandatory parameter 'apiKey' was not sent, was empty/null, "
                                    "or malformed.")
        acc = self.accounts.get(key)
        if acc is None:
            raise OrderError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        sig = params.get("signature")
        if not isinstance(sig, str):
            raise OrderError(-1102, "Mandatory parameter 'signature' was not sent, was "
                                    "empty/null, or malformed.")
        payload = "&".join(f"{k}={_wire(v)}" for k, v in sorted(params.items())
                           if k != "signature")
        self._check_sig(acc, payload, sig)
        self._check_time(params)
        return acc

    @staticmethod
    def _check_sig(acc: Account, payload: str, sig: str) -> None:
        if acc.ed25519 is not None:         # base64 of the Ed25519 signature of the payload
            from cryptography.exceptions import InvalidSignature
            try:
                acc.ed25519.verify(base64.b64decode(sig, validate=True), payload.encode())
            except (InvalidSignature, ValueError):
                raise OrderError(-1022, "Signature for this request is not valid.") from None
            return
        want = hmac.new(acc.secret, payload.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, sig.lower()):
            raise OrderError(-1022, "Signature for this request is not valid.")

    def _check_time(self, params) -> None:
        try:
            ts = int(params.get("timestamp"))
        except (TypeError, ValueError):
            raise OrderError(-1102, "Mandatory parameter 'timestamp' was not sent, was "
                                    "empty/null, or malformed.") from None
        try:
            window = float(params.get("recvWindow", 5000))
        except (TypeError, ValueError):
            raise OrderError(-1100, "Illegal characters found in parameter 'recvWindow'.") \
                from None
        if window > 60000:
            raise OrderError(-1131, "recvWindow must be less than 60000")
        now = self.now_ms()
        if ts >= now + 1000:
            raise OrderError(-1021, "Timestamp for this request was 1000ms ahead of the "
                                    "server's time.")
        if now - ts > window:
            raise OrderError(-1021, "Timestamp for this request is outside of the recvWindow.")

    def _ws_place(self, session, params):
        acc = self._auth_ws(params, session)
        order, fills = self.place(acc, params)
        return self._place_answer(order, fills, params.get("newOrderRespType")), 1

    def _ws_cancel(self, session, params):
        acc = self._auth_ws(params, session)
        return self.cancel(acc, params), 1

    def _ws_status(self, session, params):
        acc = self._auth_ws(params, session)
        return self._order_json(self._find(acc, params, -2013, "Order does not exist.")), 4

    def _ws_open(self, session, params):
        acc = self._auth_ws(params, session)
        sym = params.get("symbol")
        return [self._order_json(o) for o in self.orders.values()
                if o.account is acc and o.open and (sym is None or o.symbol == sym)], \
            (6 if sym else 80)

    def _ws_all(self, session, params):
        acc = self._auth_ws(params, session)
        return self._all_orders(acc, params), 20

    def _ws_trades(self, session, params):
        acc = self._auth_ws(params, session)
        return self._my_trades(acc, params), 20

    def _ws_subscribe(self, session, params):
        acc = self._auth_ws(params)             # .signature: always signed, even after logon
        subs = self._subs.setdefault(session.id, {})
        if acc.api_key in subs.values():
            raise OrderError(-2025, "This account is already subscribed on this connection.")
        sid = next(self._sub_ids)
        subs[sid] = acc.api_key
        return {"subscriptionId": sid}, 2

    def _ws_subscribe_logon(self, session, params):
        """userDataStream.subscribe: the account the connection logged on with."""
        logon = self._logons.get(session.id)
        if logon is None:
            raise OrderError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        subs = self._subs.setdefault(session.id, {})
        if logon[0] in subs.values():
            raise OrderError(-2025, "This account is already subscribed on this connection.")
        sid = next(self._sub_ids)
        subs[sid] = logon[0]
        return {"subscriptionId": sid}, 2

    def _ws_logon(self, session, params):
        if "signature" not in params:
            raise OrderError(-1102, "Mandatory parameter 'signature' was not sent, was "
                                    "empty/null, or malformed.")
        acc = self._auth_ws(params)
        if acc.ed25519 is None:
            raise OrderError(-4056, "HMAC_SHA256 API key is not supported.")
        self._logons[session.id] = (acc.api_key, self.now_ms())
        return self._session_status(session), 2

    def _ws_session_status(self, session, params):
        return self._session_status(session), 2

    def _ws_logout(self, session, params):
        self._logons.pop(session.id, None)
        return self._session_status(session), 2

    def _session_status(self, session) -> dict:
        key, since = self._logons.get(session.id, (None, None))
        return {"apiKey": key, "authorizedSince": since,
                "connectedSince": self._first_ms.get(session.id),
                "returnRateLimits": True, "serverTime": self.now_ms(),
                "userDataStream": bool(self._subs.get(session.id))}

    def _ws_unsubscribe(self, session, params):
        sid = params.get("subscriptionId")
        subs = self._subs.get(session.id, {})
        if sid is None:
            subs.clear()
        else:
            subs.pop(sid, None)
        return {}, 2

    def _ws_ping(self, session, params):
        return {}, 1

    def _ws_account(self, session, params):
        return self._rest_account(self._auth_ws(params), params), 20

    def _ws_time(self, session, params):
        return {"serverTime": self.now_ms()}, 1

    _WS_METHODS = {"order.place": _ws_place, "order.cancel": _ws_cancel,
                   "order.status": _ws_status, "openOrders.status": _ws_open,
                   "allOrders": _ws_all, "myTrades": _ws_trades, "account.status": _ws_account,
                   "userDataStream.subscribe.signature": _ws_subscribe,
                   "userDataStream.subscribe": _ws_subscribe_logon,
                   "session.logon": _ws_logon, "session.status": _ws_session_status,
                   "session.logout": _ws_logout,
                   "userDataStream.unsubscribe": _ws_unsubscribe, "ping": _ws_ping,
                   "time": _ws_time}

    # -- the matching engine ---------------------------------------------------------------------
    def place(self, acc: Account, p: dict) -> tuple[SimOrder, list[SimTrade]]:
        """Validate and run one new order; returns it and the trades it made at once."""
        sym = _need(p, "symbol")
        rules = self._rules(sym)
        side = _need(p, "side")
        if side not in ("BUY", "SELL"):
            raise OrderError(-1117, "Invalid side.")
        typ = _need(p, "type")
        if typ not in ORDER_TYPES:
            raise OrderError(-1116, "Invalid orderType.")
        qty = _dec(_need(p, "quantity"), "quantity")
        priced = typ in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
        stopped = typ.startswith(("STOP", "TAKE"))
        price = _dec(_need(p, "price"), "price") if priced else None
        stop = _dec(_need(p, "stopPrice"), "stopPrice") if stopped else None
        if not priced and "price" in p:
            raise OrderError(-1106, "Parameter 'price' sent when not required.")
        tif = p.get("timeInForce")
        if typ in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
            if tif is None:
                raise OrderError(-1102, "Mandatory parameter 'timeInForce' was not sent, was "
                                        "empty/null, or malformed.")
            if tif not in TIFS:
                raise OrderError(-1115, "Invalid timeInForce.")
        elif tif is not None:
            raise OrderError(-1106, "Parameter 'timeInForce' sent when not required.")
        tif = tif or "GTC"            # what Binance reports for orders sent without one
        for name, v in (("price", price), ("stopPrice", stop)):
            if v is not None and (v <= 0 or v % rules.tick):
                raise OrderError(-1013, "Filter failure: PRICE_FILTER")
        if qty <= 0 or qty % rules.step or qty < rules.min_qty:
            raise OrderError(-1013, "Filter failure: LOT_SIZE")
        book = self.venue.book(sym)
        if book is None:
            raise OrderError(-1001, "Internal error; unable to process your request. Please "
                                    "try again.", 503)
        ref = price if price is not None else (stop if stop is not None else
                                               Decimal(str(book.mid())))
        if ref * qty < rules.min_notional:
            raise OrderError(-1013, "Filter failure: NOTIONAL")
        cid = p.get("newClientOrderId") or f"sim{next(self._cancel_ids)}"
        old = self.by_client.get((acc.api_key, sym, cid))
        if old is not None and old.open:
            raise OrderError(-2010, "Duplicate order sent.")
        if stopped and self._would_trigger(sym, side, typ, stop):
            raise OrderError(-2010, "Order would trigger immediately.")
        if typ == "LIMIT_MAKER" and self._crossing(sym, side, price, book):
            raise OrderError(-2010, "Order would immediately match and take.")
        now = time.monotonic()
        acc.order_times[:] = [t for t in acc.order_times if now - t < 86400]
        if sum(1 for t in acc.order_times if now - t < 10) >= ORDERS_PER_10S:
            raise OrderError(-1015, f"Too many new orders; current limit is {ORDERS_PER_10S} "
                                    f"orders per TEN_SECONDS.", 429)
        o = SimOrder(acc, sym, next(self._order_ids), cid, side, typ, tif, qty, price, stop,
                     self.now_ms())
        o.update_ms = o.time_ms
        self._lock(o, rules, book)
        acc.order_times.append(now)
        self.orders[o.order_id] = o
        self.by_client[(acc.api_key, sym, cid)] = o
        self._report(o, "NEW")
        fills: list[SimTrade] = []
        if not stopped:
            fills = self._execute(o, taker=True)
        return o, fills

    def _lock(self, o: SimOrder, rules: SymbolRules, book) -> None:
        acc = o.account
        if o.side == "SELL":
            need, asset = o.qty, rules.base
        else:
            px = o.price if o.price is not None else o.stop
            if px is None:                          # market buy: what walking the book costs
                px = self._walk_cost(o, book) / o.qty if o.qty else _Z
            need, asset = px * o.qty, rules.quote
        if acc.free(asset) < need:
            raise OrderError(-2010, "Account has insufficient balance for requested action.")
        acc.move(asset, -need, need)
        o.locked = need

    def _walk_cost(self, o: SimOrder, book) -> Decimal:
        cost, left = _Z, o.qty
        for px, q, _ in self._levels(o.symbol, "SELL", book):
            take = min(q, left)
            cost += take * px
            left -= take
            if left <= 0:
                break
        return cost + left * (cost / (o.qty - left) if o.qty > left else _Z)

    def _levels(self, sym: str, side: str, book, n: int = 200):
        """(price, available qty, key) of the side an order of `side`'s opposite rests on: asks
        for side 'SELL' levels, bids for 'BUY' levels (the book side called `side`)."""
        bside = 1 if side == "SELL" else 0
        tu, lu = book.tick_units, book.lot_units
        pd, sd = book.price_decimals, book.size_decimals
        for t, q in book.depth_ticks(bside, n).tolist():
            key = (sym, bside, t)
            have = Decimal(q * lu).scaleb(-sd)
            taken = self._taken.get(key)
            if taken is not None:
                if taken[0] == q:
                    have -= taken[1]
                else:
                    del self._taken[key]
            if have > 0:
                yield Decimal(t * tu).scaleb(-pd), have, (key, q)

    def _crossing(self, sym: str, side: str, price: Decimal, book) -> bool:
        for px, _, _ in self._levels(sym, "SELL" if side == "BUY" else "BUY", book, 1):
            return px <= price if side == "BUY" else px >= price
        return False

    def _would_trigger(self, sym: str, side: str, typ: str, stop: Decimal) -> bool:
        book = self.venue.book(sym)
        if book is None:
            return False
        bb, ba = book.best_bid(), book.best_ask()
        if bb is None or ba is None:
            return False
        bid, ask = Decimal(repr(bb[0])), Decimal(repr(ba[0]))
        loss = typ.startswith("STOP")
        if side == "SELL":
            return bid <= stop if loss else bid >= stop
        return ask >= stop if loss else ask <= stop

    def _execute(self, o: SimOrder, taker: bool) -> list[SimTrade]:
        """Match o against the book now; expire or rest what is left per its type and TIF."""
        book = self.venue.book(o.symbol)
        if book is None:
            return []
        market = o.type in ("MARKET", "STOP_LOSS", "TAKE_PROFIT")
        opp = "SELL" if o.side == "BUY" else "BUY"
        plan: list[tuple[Decimal, Decimal, tuple]] = []
        left = o.leaves
        for px, have, key in self._levels(o.symbol, opp, book):
            if not market and (px > o.price if o.side == "BUY" else px < o.price):
                break
            take = min(have, left)
            plan.append((px if taker else o.price, take, key))
            left -= take
            if left <= 0:
                break
        if o.tif == "FOK" and left > 0:
            self._finish(o, "EXPIRED")
            return []
        fills = [self._trade(o, px, q, key, maker=not taker) for px, q, key in plan]
        if o.leaves > 0 and (market or o.tif in ("IOC", "FOK")):
            self._finish(o, "EXPIRED")
        return fills

    def _trade(self, o: SimOrder, px: Decimal, q: Decimal, key, maker: bool) -> SimTrade:
        (lk, book_q) = key
        prev = self._taken.get(lk)
        self._taken[lk] = (book_q, (prev[1] if prev and prev[0] == book_q else _Z) + q)
        rules = self.rules[o.symbol]
        acc = o.account
        notional = px * q
        if acc.fee_asset:
            fee = (notional * acc.fee_rate / acc.fee_asset_price).quantize(Decimal("1e-8"))
            fee_asset = acc.fee_asset
        elif o.side == "BUY":
            fee, fee_asset = (q * acc.fee_rate).quantize(Decimal("1e-8")), rules.base
        else:
            fee, fee_asset = (notional * acc.fee_rate).quantize(Decimal("1e-8")), rules.quote
        if o.side == "BUY":
            per = o.locked / o.leaves if o.leaves else _Z
            release = per * q
            o.locked -= release
            acc.move(rules.quote, release - notional, -release)
            acc.move(rules.base, q)
        else:
            o.locked -= q
            acc.move(rules.base, _Z, -q)
            acc.move(rules.quote, notional)
        acc.move(fee_asset, -fee)
        o.executed += q
        o.cum_quote += notional
        o.status = "FILLED" if o.executed >= o.qty else "PARTIALLY_FILLED"
        if o.status == "FILLED":
            self._release(o)
        t = SimTrade(o.symbol, next(self._trade_ids), o, px, q, fee, fee_asset, maker,
                     self.now_ms())
        self.trades.append(t)
        o.update_ms = t.time_ms
        self._report(o, "TRADE", t)
        return t

    def _release(self, o: SimOrder) -> None:
        if o.locked:
            rules = self.rules[o.symbol]
            asset = rules.base if o.side == "SELL" else rules.quote
            o.account.move(asset, o.locked, -o.locked)
            o.locked = _Z

    def _finish(self, o: SimOrder, status: str, cancel_id: str = "") -> None:
        o.status = status
        o.update_ms = self.now_ms()
        self._release(o)
        self._report(o, status, cancel_id=cancel_id)

    def match_now(self) -> int:
        """Trigger stops and fill resting limits the replayed book now crosses; returns the
        number of trades made."""
        n = 0
        for o in [o for o in self.orders.values() if o.open]:
            if o.type.startswith(("STOP", "TAKE")) and not o.triggered:
                if self._would_trigger(o.symbol, o.side, o.type, o.stop):
                    o.triggered = True
                    o.update_ms = self.now_ms()
                    n += len(self._execute(o, taker=True))
                continue
            if o.type in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
                n += len(self._execute(o, taker=False))
        for s in list(self._sessions.values()):
            s.flush()
        return n

    def cancel(self, acc: Account, p: dict) -> dict:
        o = self._find(acc, p, -2011, "Unknown order sent.")
        if not o.open:
            raise OrderError(-2011, "Unknown order sent.")
        cid = p.get("newClientOrderId") or f"simcancel{next(self._cancel_ids)}"
        self._finish(o, "CANCELED", cancel_id=cid)
        out = self._order_json(o)
        out.pop("time", None)
        out.pop("updateTime", None)
        out["origClientOrderId"] = o.client_id
        out["clientOrderId"] = cid
        out["transactTime"] = o.update_ms
        return out

    def _find(self, acc: Account, p: dict, code: int, msg: str) -> SimOrder:
        sym = _need(p, "symbol")
        self._rules(sym)
        oid, cid = p.get("orderId"), p.get("origClientOrderId")
        o = None
        if oid is not None:
            try:
                o = self.orders.get(int(oid))
            except (TypeError, ValueError):
                raise OrderError(-1100, "Illegal characters found in parameter 'orderId'.") \
                    from None
        elif cid is not None:
            o = self.by_client.get((acc.api_key, sym, cid))
        else:
            raise OrderError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but "
                                    "both were empty/null!")
        if o is None or o.account is not acc or o.symbol != sym:
            raise OrderError(code, msg)
        return o

    def _all_orders(self, acc: Account, p: dict) -> list[dict]:
        sym = _need(p, "symbol")
        self._rules(sym)
        start, end = _opt_int(p, "startTime"), _opt_int(p, "endTime")
        limit = min(1000, _opt_int(p, "limit") or 500)
        out = [self._order_json(o) for o in self.orders.values()
               if o.account is acc and o.symbol == sym
               and (start is None or o.time_ms >= start) and (end is None or o.time_ms <= end)]
        return out[:limit]

    def _my_trades(self, acc: Account, p: dict) -> list[dict]:
        sym = _need(p, "symbol")
        self._rules(sym)
        oid, start, end = _opt_int(p, "orderId"), _opt_int(p, "startTime"), \
            _opt_int(p, "endTime")
        from_id, limit = _opt_int(p, "fromId"), min(1000, _opt_int(p, "limit") or 500)
        out = []
        for t in self.trades:
            if t.order.account is not acc or t.symbol != sym:
                continue
            if (oid is not None and t.order.order_id != oid) or \
                    (start is not None and t.time_ms < start) or \
                    (end is not None and t.time_ms > end) or \
                    (from_id is not None and t.trade_id < from_id):
                continue
            out.append({"symbol": sym, "id": t.trade_id, "orderId": t.order.order_id,
                        "orderListId": -1, "price": _t8(t.price), "qty": _t8(t.qty),
                        "quoteQty": _t8(t.price * t.qty), "commission": _t8(t.commission),
                        "commissionAsset": t.commission_asset, "time": t.time_ms,
                        "isBuyer": t.order.side == "BUY", "isMaker": t.maker,
                        "isBestMatch": True})
        return out[:limit]

    # -- wire formats ----------------------------------------------------------------------------
    def _order_json(self, o: SimOrder) -> dict:
        d = {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
             "clientOrderId": o.client_id, "price": _t8(o.price or _Z),
             "origQty": _t8(o.qty), "executedQty": _t8(o.executed),
             "cummulativeQuoteQty": _t8(o.cum_quote), "status": o.status,
             "timeInForce": o.tif, "type": o.type, "side": o.side}
        if o.stop is not None:
            d["stopPrice"] = _t8(o.stop)
        d.update({"icebergQty": _t8(_Z), "time": o.time_ms, "updateTime": o.update_ms,
                  "isWorking": not o.type.startswith(("STOP", "TAKE")) or o.triggered,
                  "workingTime": o.time_ms, "origQuoteOrderQty": _t8(_Z),
                  "selfTradePreventionMode": "NONE"})
        return d

    def _place_answer(self, o: SimOrder, fills: list[SimTrade], resp_type: str | None) -> dict:
        if resp_type is None:
            resp_type = "FULL" if o.type in ("MARKET", "LIMIT") else "ACK"
        d = {"symbol": o.symbol, "orderId": o.order_id, "orderListId": -1,
             "clientOrderId": o.client_id, "transactTime": o.time_ms}
        if resp_type == "ACK":
            return d
        full = self._order_json(o)
        for k in ("time", "updateTime", "isWorking", "icebergQty"):
            full.pop(k, None)
        d.update(full)
        d["transactTime"] = o.time_ms
        if resp_type == "FULL":
            d["fills"] = [{"price": _t8(t.price), "qty": _t8(t.qty),
                           "commission": _t8(t.commission),
                           "commissionAsset": t.commission_asset, "tradeId": t.trade_id}
                          for t in fills]
        return d

    def _report(self, o: SimOrder, x: str, t: SimTrade | None = None,
                cancel_id: str = "") -> None:
        """An executionReport to every connection subscribed to the order's account."""
        key = o.account.api_key
        targets = [(self._sessions.get(s), sid) for s, subs in self._subs.items()
                   for sid, k in subs.items() if k == key]
        if not targets:
            return
        now = self.now_ms()
        ev = {"e": "executionReport", "E": now, "s": o.symbol,
              "c": cancel_id if x == "CANCELED" else o.client_id, "S": o.side, "o": o.type,
              "f": o.tif, "q": _t8(o.qty), "p": _t8(o.price or _Z), "P": _t8(o.stop or _Z),
              "F": _t8(_Z), "g": -1, "C": o.client_id if x == "CANCELED" else "",
              "x": x, "X": o.status, "r": "NONE", "i": o.order_id,
              "l": _t8(t.qty if t else _Z), "z": _t8(o.executed),
              "L": _t8(t.price if t else _Z), "n": _t8(t.commission) if t else "0",
              "N": t.commission_asset if t else None, "T": t.time_ms if t else now,
              "t": t.trade_id if t else -1, "v": 0, "I": 0,
              "w": o.open and (not o.type.startswith(("STOP", "TAKE")) or o.triggered),
              "m": bool(t and t.maker), "M": False, "O": o.time_ms,
              "Z": _t8(o.cum_quote), "Y": _t8(t.price * t.qty if t else _Z), "Q": _t8(_Z),
              "W": o.time_ms, "V": "NONE"}
        for s, sid in targets:
            if s is not None:
                self._send(s, {"subscriptionId": sid, "event": ev})

    # -- REST --------------------------------------------------------------------------------------
    def _rest(self, fn):
        async def handler(request: web.Request) -> web.StreamResponse:
            self._ensure_matcher()
            body = await request.text() if request.can_read_body else ""
            qs = request.query_string
            params = dict(parse_qsl(qs, keep_blank_values=True))
            params.update(parse_qsl(body, keep_blank_values=True))
            self.requests.append({"id": None, "method": f"{request.method} {request.path}",
                                  "t": time.time()})
            fault = None
            if request.method == "POST" and request.path == "/api/v3/order" and self.faults:
                fault = self._take_fault("order.place")
            if fault == "drop_request":
                request.transport.close()
                return web.Response(status=500)
            try:
                acc = self._auth_rest(request, qs, body, params)
                result = fn(acc, params)
                resp = web.Response(body=orjson.dumps(result), content_type="application/json")
            except OrderError as e:
                resp = web.Response(status=e.status if e.status != 200 else 400,
                                    body=orjson.dumps({"code": e.code, "msg": e.msg}),
                                    content_type="application/json")
            if fault is not None:                      # processed, but the answer is lost
                request.transport.close()
            for s in list(self._sessions.values()):
                s.flush()
            return resp
        return handler

    def _auth_rest(self, request: web.Request, qs: str, body: str, params: dict) -> Account:
        key = request.headers.get("X-MBX-APIKEY")
        acc = self.accounts.get(key or "")
        if acc is None:
            raise OrderError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        sig = params.get("signature")
        if not sig:
            raise OrderError(-1102, "Mandatory parameter 'signature' was not sent, was "
                                    "empty/null, or malformed.")
        payload = _strip_signature(qs) + _strip_signature(body)
        self._check_sig(acc, payload, sig)
        self._check_time(params)
        params.pop("signature", None)
        return acc

    def _rest_place(self, acc: Account, p: dict) -> dict:
        o, fills = self.place(acc, p)
        return self._place_answer(o, fills, p.get("newOrderRespType"))

    def _rest_cancel(self, acc: Account, p: dict) -> dict:
        return self.cancel(acc, p)

    def _rest_status(self, acc: Account, p: dict) -> dict:
        return self._order_json(self._find(acc, p, -2013, "Order does not exist."))

    def _rest_open(self, acc: Account, p: dict) -> list:
        sym = p.get("symbol")
        return [self._order_json(o) for o in self.orders.values()
                if o.account is acc and o.open and (sym is None or o.symbol == sym)]

    def _rest_all(self, acc: Account, p: dict) -> list:
        return self._all_orders(acc, p)

    def _rest_trades(self, acc: Account, p: dict) -> list:
        return self._my_trades(acc, p)

    def _rest_account(self, acc: Account, p: dict) -> dict:
        return {"makerCommission": 10, "takerCommission": 10, "canTrade": True,
                "canWithdraw": False, "canDeposit": False, "accountType": "SPOT",
                "updateTime": self.now_ms(), "permissions": ["SPOT"],
                "balances": [{"asset": a, "free": _t8(b[0]), "locked": _t8(b[1])}
                             for a, b in sorted(acc.balances.items())]}

    async def _exchange_info(self, request: web.Request) -> web.Response:
        symbols = []
        for sym in sorted(getattr(self.venue, "symbols", ())):
            await self.venue.wait_book(sym)
            try:
                r = self._rules(sym)
            except OrderError:
                continue
            symbols.append({
                "symbol": sym, "status": "TRADING", "baseAsset": r.base,
                "baseAssetPrecision": 8, "quoteAsset": r.quote, "quotePrecision": 8,
                "quoteAssetPrecision": 8, "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8, "orderTypes": list(ORDER_TYPES),
                "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False,
                "quoteOrderQtyMarketAllowed": False, "allowTrailingStop": False,
                "cancelReplaceAllowed": False, "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False, "permissions": [], "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "NONE",
                "allowedSelfTradePreventionModes": ["NONE"],
                "filters": [
                    {"filterType": "PRICE_FILTER", "minPrice": _t8(r.tick),
                     "maxPrice": "1000000.00000000", "tickSize": _t8(r.tick)},
                    {"filterType": "LOT_SIZE", "minQty": _t8(r.min_qty),
                     "maxQty": "9000.00000000", "stepSize": _t8(r.step)},
                    {"filterType": "NOTIONAL", "minNotional": _t8(r.min_notional),
                     "applyMinToMarket": True, "maxNotional": "9000000.00000000",
                     "applyMaxToMarket": False, "avgPriceMins": 5}]})
        return web.Response(body=orjson.dumps({
            "timezone": "UTC", "serverTime": self.now_ms(),
            "rateLimits": [{"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE",
                            "intervalNum": 1, "limit": 6000},
                           {"rateLimitType": "ORDERS", "interval": "SECOND",
                            "intervalNum": 10, "limit": ORDERS_PER_10S},
                           {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1,
                            "limit": 160000}],
            "exchangeFilters": [], "symbols": symbols}), content_type="application/json")

    async def _http_fault(self, request: web.Request) -> web.Response:
        try:
            f = self.inject(orjson.loads(await request.read()))
        except (orjson.JSONDecodeError, TypeError, ValueError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response({"kind": f.kind, "count": f.count, "method": f.method})

    async def _http_orders(self, request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps([self._order_json(o)
                                               for o in self.orders.values()]),
                            content_type="application/json")


# -- helpers ---------------------------------------------------------------------------------------
def _wire(v) -> str:
    """A JSON param value as it appears in the signature payload."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    return str(v)


def _strip_signature(text: str) -> str:
    parts = [p for p in text.split("&") if p and not p.startswith("signature=")]
    return "&".join(parts)


def _need(p: dict, name: str) -> str:
    v = p.get(name)
    if v is None or v == "":
        raise OrderError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, "
                                f"or malformed.")
    return v if isinstance(v, str) else str(v)


def _dec(text: str, name: str) -> Decimal:
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        raise OrderError(-1100, f"Illegal characters found in parameter '{name}'; legal range "
                                f"is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.") from None
    if not d.is_finite():
        raise OrderError(-1100, f"Illegal characters found in parameter '{name}'.")
    return d


def _opt_int(p: dict, name: str) -> int | None:
    v = p.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        raise OrderError(-1100, f"Illegal characters found in parameter '{name}'.") from None
