"""Order entry over ccxt's REST calls, for venues without a WebSocket order API.

    ex = ccxt_exchange("kraken", load_credentials("kraken"))
    venue = CcxtExecution(ex, instruments)       # instruments by native symbol
    venue.set_listener(engine); await venue.start()

REST is asynchronous by nature (one HTTP round trip per order, answered when it answers), so
`submit` and `cancel` schedule the call as a task on the running loop: this is the one place
on the order path where a task is created. Everything before the task (instrument, mapping,
duplicate id) is checked synchronously and refused at once as on_order_rejected.

Each call first takes its weight from the process's shared limiter of the venue (the feeds and
the market loader draw on the same one) and, for placements, an ORDERS count
(venues/order_limits.py); REST may wait for them, unlike the WebSocket path.

Errors, and what happens (ccxt's exception classes):
    RateLimitExceeded, DDoSProtection   the venue refused before matching: the limiter backs off
                                        (429) and the order is sent again, up to max_retries
    InsufficientFunds, InvalidOrder (incl. OrderNotFound, BadSymbol), AuthenticationError,
    PermissionDenied, BadRequest, other ExchangeError
                                        rejected with the class and ccxt's message: sending the
                                        same request again would fail the same way
    NetworkError (RequestTimeout, ExchangeNotAvailable, a dropped connection)
                                        ambiguous: the order may have been placed. It is looked up
                                        by its client order id (`lookup_params`); found -> accepted
                                        and its fills delivered; not found -> once recvWindow has
                                        passed since it was sent (the venue can no longer accept
                                        it) it is sent again, with the same client id, up to
                                        max_retries; then rejected naming the last error.
Fills: the placement answer's immediate trades (Binance's FULL response) are delivered at once;
later fills of resting orders come from polling `fetch_my_trades` every `poll_interval_s` while
orders are open, and a tracked order that leaves `fetch_open_orders` without being filled is
looked up for its final state (canceled / expired). Every fill is delivered once (trade id
"<SYMBOL>:<id>"). Fees: quote commission as is, base commission x the fill price, anything else
through `fee_converter` or recorded 0.0 and summed in `unconverted_fees`.

Prices and quantities go to ccxt as the instrument's exact decimal text (ccxt accepts number
strings and applies the market's precision to them, which is a no-op on grid values); numbers
coming back are read from the venue's raw text in `info` where the venue is known (Binance), else
from ccxt's float via its shortest repr.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import ccxt.async_support as ccxt_async
from ccxt.base import errors as cx

from tradecore.core.clock import Clock, LiveClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from tradecore.execution.venue import VenueClient, VenueListener, VenueOrderState
from tradecore.venues.credentials import Credentials
from tradecore.venues.order_limits import OrderCountLimiter
from tradecore.venues.ratelimit import RateLimiter, limiter_for

log = logging.getLogger("tradecore.venues.ccxt_execution")

__all__ = ["CcxtExecution", "ccxt_exchange", "ccxt_order_args"]

_NOT_RETRIED = (cx.InsufficientFunds, cx.InvalidOrder, cx.AuthenticationError,
                cx.PermissionDenied, cx.BadRequest, cx.BadSymbol)
_CCXT_STATUS = {"open": OrderStatus.ACCEPTED, "closed": OrderStatus.FILLED,
                "canceled": OrderStatus.CANCELED, "expired": OrderStatus.EXPIRED,
                "rejected": OrderStatus.REJECTED}


def ccxt_exchange(venue_id: str, credentials: Credentials, *, rest_base: str | None = None,
                  recv_window_ms: int = 5000, options: dict | None = None):
    """A ccxt async exchange with our credentials, ccxt's own throttle off (our limiter is the
    one), markets limited to spot. `rest_base` points Binance's spot REST at another host (the
    local simulator: "http://127.0.0.1:PORT")."""
    cls = getattr(ccxt_async, venue_id, None)
    if cls is None:
        raise ValueError(f"ccxt has no exchange {venue_id!r}")
    opts = {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False,
            "fetchMargins": False, "recvWindow": recv_window_ms}
    opts.update(options or {})
    ex = cls({"apiKey": credentials.api_key, "secret": credentials.secret.reveal(),
              "enableRateLimit": False, "options": opts})
    if rest_base is not None:
        if venue_id != "binance":
            raise ValueError(f"rest_base: only Binance's spot URLs are known here, not "
                             f"{venue_id!r}")
        for k in ("public", "private"):
            ex.urls["api"][k] = rest_base.rstrip("/") + "/api/v3"
    return ex


def ccxt_order_args(order: Order, inst: Instrument, spot: bool = True
                    ) -> tuple[str, str, str, str | None, dict]:
    """(type, side, amount text, price text or None, params) for ccxt.create_order, or
    ValueError naming what the unified API cannot express."""
    t, tif = order.type, order.tif
    if tif == TimeInForce.GTD:
        raise ValueError("GTD: ccxt has no unified good-till-date")
    if t == OrderType.TRAILING_STOP:
        raise ValueError("TRAILING_STOP: no unified trailing stop in ticks")
    params: dict = {"newClientOrderId": order.client_order_id,
                    "clientOrderId": order.client_order_id}
    if order.reduce_only:
        if spot and order.side == Side.BUY:
            raise ValueError("reduce_only BUY on spot: there is no short position to reduce")
        if not spot:
            params["reduceOnly"] = True
    if order.post_only:
        if not (t == OrderType.LIMIT and tif == TimeInForce.GTC):
            raise ValueError(f"post_only needs LIMIT GTC, not {t.name} {tif.name}")
        params["postOnly"] = True
    limit = t in (OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT)
    if limit:
        params["timeInForce"] = tif.name
    elif tif == TimeInForce.FOK:
        raise ValueError(f"{t.name} FOK: market orders are IOC only")
    if t in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
        params["stopLossPrice"] = inst.price_text(order.trigger_price)
    elif t in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_LIMIT):
        params["takeProfitPrice"] = inst.price_text(order.trigger_price)
    return ("limit" if limit else "market", "buy" if order.side == Side.BUY else "sell",
            inst.qty_text(order.qty), inst.price_text(order.price) if limit else None, params)


class _Track:
    __slots__ = ("order", "inst", "sent_ns", "vid", "accepted", "done", "filled")

    def __init__(self, order: Order, inst: Instrument, sent_ns: int) -> None:
        self.order, self.inst, self.sent_ns = order, inst, sent_ns
        self.vid = ""
        self.accepted = self.done = False
        self.filled = 0


@dataclass
class CcxtHealth:
    orders_sent: int = 0
    retries: int = 0
    lookups: int = 0
    rejects: int = 0
    fills: int = 0
    polled_fills: int = 0
    duplicate_fills: int = 0
    poll_errors: int = 0


class CcxtExecution(VenueClient):
    """Orders over ccxt REST; see the module docstring for the rules."""

    def __init__(self, exchange, instruments: dict[str, Instrument], *, name: str | None = None,
                 clock: Clock | None = None, limiter: RateLimiter | None = None,
                 order_limits: OrderCountLimiter | None = None, order_weight: int = 1,
                 max_retries: int = 3, recv_window_ms: int = 5000,
                 poll_interval_s: float = 1.0,
                 lookup_params: Callable[[str], dict] | None = None,
                 fee_converter: Callable[[str, float, int], float | None] | None = None) -> None:
        self.exchange = exchange
        self.name = name or next(iter(instruments.values())).venue
        self.instruments = dict(instruments)
        self.clock = clock or LiveClock()
        self.limiter = limiter or limiter_for(self.name)
        self.order_limits = order_limits or OrderCountLimiter()
        self.order_weight = order_weight
        self.max_retries = max_retries
        self.recv_window_ms = recv_window_ms
        self.poll_interval_s = poll_interval_s
        self.lookup_params = lookup_params or (lambda coid: {"origClientOrderId": coid})
        self.fee_converter = fee_converter
        self.unconverted_fees: dict[str, float] = {}
        self.health = CcxtHealth()
        self._listener: VenueListener | None = None
        self._unified: dict[str, str] = {}
        self._spot: dict[str, bool] = {}
        self._orders: dict[str, _Track] = {}
        self._by_vid: dict[tuple[str, str], str] = {}
        self._seen: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._poller: asyncio.Task | None = None
        self._since_ms: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"CcxtExecution(name={self.name!r}, exchange={getattr(self.exchange, 'id', '?')!r})"

    # -- life cycle --------------------------------------------------------------------------------
    async def start(self) -> None:
        if self._listener is None:
            raise RuntimeError(f"{self.name}: set_listener() before start()")
        await self.limiter.acquire(1)
        await self.exchange.load_markets()
        for sym in self.instruments:
            m = (self.exchange.markets_by_id or {}).get(sym)
            if not m:
                raise ValueError(f"{self.name}: ccxt knows no market with id {sym!r}")
            m = m[0] if isinstance(m, list) else m
            self._unified[sym] = m["symbol"]
            self._spot[sym] = bool(m.get("spot", True))
        self._poller = asyncio.get_running_loop().create_task(self._poll_loop(),
                                                              name=f"{self.name}-ccxt-poll")

    async def close(self) -> None:
        for t in [self._poller, *self._tasks]:
            if t is not None:
                t.cancel()
        for t in [self._poller, *self._tasks]:
            if t is not None:
                try:
                    await t
                except (asyncio.CancelledError, Exception):  # noqa: BLE001
                    pass
        await self.exchange.close()

    async def drain(self) -> None:
        """Wait for every order and cancel call in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- VenueClient -------------------------------------------------------------------------------
    def set_listener(self, listener: VenueListener) -> None:
        self._listener = listener

    def submit(self, order: Order) -> None:
        coid = order.client_order_id
        inst = self.instruments.get(order.symbol)
        if inst is None or order.symbol not in self._unified:
            return self._reject(coid, f"{self.name}: no instrument {order.symbol!r}")
        if coid in self._orders:              # the first order under this id stays tracked
            self.health.rejects += 1
            self._listener.on_order_rejected(coid, f"client order id {coid!r} already sent",
                                             self.clock.time_ns())
            return
        try:
            args = ccxt_order_args(order, inst, self._spot[order.symbol])
        except ValueError as e:
            return self._reject(coid, f"{self.name}: {e}")
        tr = self._orders[coid] = _Track(order, inst, self.clock.time_ns())
        self._spawn(self._place(tr, args))

    def cancel(self, order: Order) -> None:
        self._spawn(self._cancel(order))

    async def open_orders(self) -> list[VenueOrderState]:
        out = []
        for sym, unified in self._unified.items():
            inst = self.instruments[sym]
            await self.limiter.acquire(self.order_weight)
            for o in await self.exchange.fetch_open_orders(unified):
                out.append(VenueOrderState(
                    o.get("clientOrderId") or "", str(o["id"]), sym,
                    Side.BUY if o["side"] == "buy" else Side.SELL,
                    OrderType.LIMIT if o.get("type") == "limit" else OrderType.MARKET,
                    inst.lots(self._text(o, "origQty", "amount")),
                    inst.ticks(self._text(o, "price", "price")) if o.get("price") else 0,
                    inst.lots(self._text(o, "executedQty", "filled")),
                    _CCXT_STATUS.get(o.get("status"), OrderStatus.ACCEPTED)))
        return out

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        out = []
        for sym, unified in self._unified.items():
            await self.limiter.acquire(self.order_weight)
            for t in await self.exchange.fetch_my_trades(unified, since=ts_ns // 1_000_000):
                out.append(self._fill(self.instruments[sym],
                                      self._by_vid.get((sym, str(t.get("order"))), ""), t))
        return out

    # -- placement ---------------------------------------------------------------------------------
    def _spawn(self, coro) -> None:
        t = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _place(self, tr: _Track, args: tuple) -> None:
        typ, side, amount, price, params = args
        coid, sym = tr.order.client_order_id, tr.order.symbol
        unified = self._unified[sym]
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.health.retries += 1
            why = self.order_limits.try_take()
            while why is not None:                   # REST may wait for the next window
                await asyncio.sleep(0.25)
                why = self.order_limits.try_take()
            await self.limiter.acquire(self.order_weight)
            tr.sent_ns = self.clock.time_ns()
            self.health.orders_sent += 1
            try:
                res = await self.exchange.create_order(unified, typ, side, amount, price,
                                                       dict(params))
            except (cx.RateLimitExceeded, cx.DDoSProtection) as e:
                self.limiter.on_response(429, {})
                last = f"{type(e).__name__}: {e}"
                continue
            except _NOT_RETRIED as e:
                return self._reject(coid, f"{type(e).__name__}: {e}")
            except cx.NetworkError as e:
                last = f"{type(e).__name__}: {e}"
                found = await self._lookup(tr)
                if found is None:
                    return                                  # lookup failed: reported there
                if found:
                    return
                wait = tr.sent_ns / 1e9 + self.recv_window_ms / 1e3 - self.clock.time_ns() / 1e9
                if wait > 0:                 # until the venue can no longer accept the lost one
                    await asyncio.sleep(wait)
                continue
            except cx.ExchangeError as e:
                return self._reject(coid, f"{type(e).__name__}: {e}")
            self._apply(tr, res)
            return
        self._reject(coid, f"{self.name}: gave up after {self.max_retries + 1} attempts; "
                           f"last error {last}")

    async def _lookup(self, tr: _Track) -> bool | None:
        """After an ambiguous error: True if the venue has the order (applied), False if not,
        None if even the lookup failed (the order is then rejected as unknown)."""
        coid = tr.order.client_order_id
        self.health.lookups += 1
        for _ in range(self.max_retries + 1):
            await self.limiter.acquire(self.order_weight)
            try:
                o = await self.exchange.fetch_order(None, self._unified[tr.order.symbol],
                                                    self.lookup_params(coid))
            except cx.OrderNotFound:
                return False
            except cx.NetworkError:
                await asyncio.sleep(0.2)
                continue
            except cx.ExchangeError as e:
                self._reject(coid, f"order state unknown after a network error; lookup "
                                   f"failed: {type(e).__name__}: {e}")
                return None
            self._apply(tr, o)
            await self._fetch_fills(tr.order.symbol)
            return True
        self._reject(coid, "order state unknown: the venue could not be reached to look it up")
        return None

    def _apply(self, tr: _Track, o: dict) -> None:
        """A ccxt order structure: accept, deliver its immediate trades, terminal state."""
        coid, sym = tr.order.client_order_id, tr.order.symbol
        if not tr.vid and o.get("id") is not None:
            tr.vid = str(o["id"])
            self._by_vid[(sym, tr.vid)] = coid
        ts = int(o.get("timestamp") or 0) * 1_000_000 or self.clock.time_ns()
        if not tr.accepted and not tr.done:
            tr.accepted = True
            self._listener.on_order_accepted(coid, tr.vid, ts)
        for t in o.get("trades") or ():
            t = dict(t)
            t.setdefault("timestamp", o.get("timestamp"))
            t["timestamp"] = t["timestamp"] or o.get("timestamp")
            t.setdefault("takerOrMaker", "taker")
            f = self._fill(tr.inst, coid, t, side=tr.order.side)
            if self._deliver(f):
                tr.filled += f.qty
        self._terminal(tr, o.get("status"), ts)

    def _terminal(self, tr: _Track, status: str | None, ts: int) -> None:
        if tr.done:
            return
        coid = tr.order.client_order_id
        if status == "closed" and tr.filled >= tr.order.qty:
            tr.done = True
        elif status == "canceled":
            tr.done = True
            self._listener.on_order_canceled(coid, "canceled", ts)
        elif status == "expired":
            tr.done = True
            self._listener.on_order_expired(coid, ts)
        elif status == "rejected":
            tr.done = True
            self._listener.on_order_rejected(coid, f"{self.name}: rejected", ts)

    def track(self, order: Order, venue_order_id: str, filled_lots: int) -> None:
        """Follow an order placed by an earlier process (recovery hands over every order the
        venue still has open): polling then reports its fills and its end."""
        inst = self.instruments.get(order.symbol)
        if inst is None or order.client_order_id in self._orders:
            return
        tr = _Track(order, inst, self.clock.time_ns())
        tr.vid, tr.accepted, tr.filled = str(venue_order_id), True, filled_lots
        if venue_order_id:
            self._by_vid[(order.symbol, str(venue_order_id))] = order.client_order_id
        self._orders[order.client_order_id] = tr

    async def _cancel(self, order: Order) -> None:
        coid, sym = order.client_order_id, order.symbol
        tr = self._orders.get(coid)
        unified = self._unified.get(sym)
        if unified is None:
            self._listener.on_cancel_rejected(coid, f"{self.name}: no instrument {sym!r}",
                                              self.clock.time_ns())
            return
        await self.limiter.acquire(self.order_weight)
        try:
            o = await self.exchange.cancel_order(tr.vid if tr and tr.vid else None, unified,
                                                 {} if tr and tr.vid else self.lookup_params(coid))
        except cx.OrderNotFound as e:
            if tr is None or not tr.done:
                self._listener.on_cancel_rejected(coid, f"OrderNotFound: {e}",
                                                  self.clock.time_ns())
            return
        except cx.BaseError as e:
            self._listener.on_cancel_rejected(coid, f"{type(e).__name__}: {e}; the order's "
                                                    f"state is reconciled by polling",
                                              self.clock.time_ns())
            return
        if tr is not None and not tr.done:
            tr.done = True
            self._listener.on_order_canceled(coid, "canceled", self.clock.time_ns())
        elif tr is None:                      # not placed by this process: still report it
            self._listener.on_order_canceled(coid, f"canceled (venue order {o.get('id')})",
                                             self.clock.time_ns())

    # -- polling -----------------------------------------------------------------------------------
    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001 - logged; polling goes on
                self.health.poll_errors += 1
                log.warning("%s: polling failed: %s: %s", self.name, type(e).__name__, e)

    async def poll(self) -> None:
        """New fills of open orders, and the final state of orders no longer open."""
        open_syms = {t.order.symbol for t in self._orders.values() if t.accepted and not t.done}
        for sym in open_syms:
            await self._fetch_fills(sym)
            await self.limiter.acquire(self.order_weight)
            still = {str(o["id"]) for o in
                     await self.exchange.fetch_open_orders(self._unified[sym])}
            for tr in list(self._orders.values()):
                if tr.order.symbol != sym or tr.done or not tr.accepted or tr.vid in still:
                    continue
                await self.limiter.acquire(self.order_weight)
                try:
                    o = await self.exchange.fetch_order(tr.vid, self._unified[sym])
                except cx.OrderNotFound:
                    continue
                self._terminal(tr, o.get("status"), self.clock.time_ns())

    async def _fetch_fills(self, sym: str) -> None:
        since = self._since_ms.get(sym)
        if since is None:
            since = min((t.sent_ns for t in self._orders.values() if t.order.symbol == sym),
                        default=self.clock.time_ns()) // 1_000_000 - 1000
        await self.limiter.acquire(self.order_weight)
        trades = await self.exchange.fetch_my_trades(self._unified[sym], since=since)
        inst = self.instruments[sym]
        for t in trades:
            coid = self._by_vid.get((sym, str(t.get("order"))))
            if coid is None:
                continue
            f = self._fill(inst, coid, t)
            if self._deliver(f):
                self.health.polled_fills += 1
                tr = self._orders.get(coid)
                if tr is not None:
                    tr.filled += f.qty
                    if tr.filled >= tr.order.qty:
                        tr.done = True
            self._since_ms[sym] = max(self._since_ms.get(sym, 0), int(t.get("timestamp") or 0))

    # -- fills -------------------------------------------------------------------------------------
    @staticmethod
    def _text(d: dict, raw: str, unified: str) -> str:
        info = d.get("info") or {}
        v = info.get(raw)
        if isinstance(v, str) and v:
            return v
        return repr(float(d[unified]))

    def _fill(self, inst: Instrument, coid: str, t: dict, side: Side | None = None) -> Fill:
        info = t.get("info") or {}
        tid = info.get("tradeId", info.get("id", t.get("id")))
        ts_ns = int(t.get("timestamp") or 0) * 1_000_000 or self.clock.time_ns()
        px = self._text(t, "price", "price")
        if side is None:
            side = Side.BUY if t.get("side") == "buy" else Side.SELL
        fee = t.get("fee") or {}
        return Fill(coid, self.name, inst.symbol, side, inst.lots(self._text(t, "qty", "amount")),
                    inst.ticks(px), self._fee(inst, info.get("commission", fee.get("cost")),
                                              info.get("commissionAsset", fee.get("currency")),
                                              px, ts_ns),
                    "maker" if t.get("takerOrMaker") == "maker" else "taker",
                    f"{inst.symbol}:{tid}", ts_ns)

    def _fee(self, inst: Instrument, amount, asset: str | None, price: str, ts_ns: int) -> float:
        a = float(amount or 0)
        if not a or not asset:
            return 0.0
        if asset == inst.quote:
            return a
        if asset == inst.base:
            return a * float(price)
        if self.fee_converter is not None and (v := self.fee_converter(asset, a, ts_ns)) \
                is not None:
            return float(v)
        self.unconverted_fees[asset] = self.unconverted_fees.get(asset, 0.0) + a
        return 0.0

    def _deliver(self, f: Fill) -> bool:
        if f.trade_id in self._seen:
            self.health.duplicate_fills += 1
            return False
        self._seen.add(f.trade_id)
        self.health.fills += 1
        self._listener.on_fill(f)
        return True

    def _reject(self, coid: str, reason: str) -> None:
        tr = self._orders.get(coid)
        if tr is not None:
            if tr.done:
                return
            tr.done = True
        self.health.rejects += 1
        self._listener.on_order_rejected(coid, reason, self.clock.time_ns())
