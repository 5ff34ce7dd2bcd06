"""The HTTP side: REST, the WebSocket stream, /metrics, /openapi.json and the dashboard, served by
aiohttp on the engine's own event loop (the handlers read and change the node directly; the
engine's callbacks run on the same thread, so nothing needs a lock).

Every route is declared once in ROUTES with its method, path, whether it writes, its parameters
and schemas; the aiohttp router and the OpenAPI document (api/openapi.py) are both built from
that table, so the published schema cannot drift from what is served. Handlers return plain
data or raise ApiError; the middleware turns those into JSON responses and never lets an
unexpected exception's text out (it is logged, the caller gets 500 "internal error").
The access log is off: request lines can carry query strings, and the hot loop does not need
per-request logging.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from tradecore.api.alerts import AlertRules, Alerts
from tradecore.api.auth import Auth
from tradecore.api.control import ApiError, Control
from tradecore.api.metrics import EngineMetrics, attach
from tradecore.api.openapi import validate
from tradecore.api.stream import Hub
from tradecore.core.orders import OrderStatus, TradingState

__all__ = ["ApiServer", "ROUTES", "Route"]

log = logging.getLogger("tradecore.api")
DASHBOARD = Path(__file__).resolve().parent / "dashboard"
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: str                       # ApiServer method name
    summary: str
    write: bool = False
    query: tuple[tuple[str, dict], ...] = ()       # (name, JSON schema)
    body: dict | None = None                       # request JSON schema
    response: dict = field(default_factory=lambda: {"type": "object"})
    errors: tuple[int, ...] = ()
    content: str = "application/json"
    tag: str = "read"


_OBJ = {"type": "object"}
_ARR = {"type": "array", "items": {"type": "object"}}
_LIMIT = ("limit", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 200})
_REASON = {"type": "string", "maxLength": 200}
_SID = "{strategy_id}"
_NUM = {"type": ["number", "integer", "boolean"]}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", "health", "Liveness: the process and its loop answer",
          response={"type": "object", "required": ["status"],
                    "properties": {"status": {"type": "string"}}}, tag="health"),
    Route("GET", "/ready", "ready", "Readiness: started, every book received and valid",
          response={"type": "object", "required": ["ready", "reasons"],
                    "properties": {"ready": {"type": "boolean"},
                                   "reasons": {"type": "array", "items": {"type": "string"}}}},
          errors=(503,), tag="health"),
    Route("GET", "/api/config", "config", "The running configuration (secrets masked) and the "
          "values in force"),
    Route("GET", "/api/state", "state", "Trading state and kill switch"),
    Route("GET", "/api/summary", "summary", "Run counters (messages, orders, fills, PnL...)"),
    Route("GET", "/api/pnl", "pnl", "Equity, PnL, exposure and its limits"),
    Route("GET", "/api/risk/limits", "risk_limits", "Risk limits in force"),
    Route("PATCH", "/api/risk/limits", "update_risk_limits",
          "Change risk limits (all validated first; nothing applied unless all valid)",
          write=True, errors=(400,), tag="write",
          body={"type": "object", "additionalProperties": False, "minProperties": 1,
                "properties": {
                    "portfolio": {"type": "object", "additionalProperties": _NUM},
                    "symbols": {"type": "object", "additionalProperties": {
                        "type": "object", "additionalProperties": _NUM}}}}),
    Route("GET", "/api/strategies", "strategies", "Strategies, settings, counters",
          response=_ARR),
    Route("PATCH", f"/api/strategies/{_SID}/settings", "update_strategy",
          "Change a strategy's settings (validated by the strategy class first)", write=True,
          errors=(400, 404, 409), tag="write",
          body={"type": "object", "minProperties": 1}),
    Route("POST", f"/api/strategies/{_SID}/start", "start_strategy",
          "Resume a stopped strategy", write=True, errors=(404, 409), tag="write"),
    Route("POST", f"/api/strategies/{_SID}/stop", "stop_strategy",
          "Stop a strategy: no more market data; its open orders cancelled", write=True,
          errors=(404, 409), tag="write"),
    Route("POST", "/api/kill", "kill", "Trip the kill switch: HALTED, cancel all, optionally "
          "flatten", write=True, errors=(400,), tag="write",
          body={"type": "object", "additionalProperties": False,
                "properties": {"flatten": {"type": "boolean"}, "reason": _REASON}}),
    Route("POST", "/api/rearm", "rearm", "Re-arm the kill switch (trading ACTIVE)", write=True,
          errors=(400, 409), tag="write",
          body={"type": "object", "additionalProperties": False,
                "properties": {"reason": _REASON}}),
    Route("GET", "/api/orders", "orders", "Orders, newest first", response=_ARR, errors=(400,),
          query=(("status", {"type": "string", "default": "all", "enum": [
              "all", "open", *(s.name.lower() for s in OrderStatus)]}), _LIMIT)),
    Route("GET", "/api/positions", "positions", "Positions with their limits", response=_ARR),
    Route("GET", "/api/fills", "fills", "Fills, newest first", response=_ARR, errors=(400,),
          query=(_LIMIT,)),
    Route("GET", "/api/balances", "balances", "Balances per venue and asset", response=_ARR),
    Route("GET", "/api/top", "top", "Top of book per venue and symbol", response=_ARR),
    Route("GET", "/api/feeds", "feeds", "Feed health per venue", response=_ARR),
    Route("GET", "/api/latency", "latency", "Latency percentiles per stage (us)"),
    Route("GET", "/api/alerts", "alerts", "Recent alerts, newest first", response=_ARR,
          errors=(400,), query=(_LIMIT,)),
    Route("GET", "/metrics", "metrics", "Prometheus exposition", content="text/plain",
          response={"type": "string"}, tag="metrics"),
)


class ApiServer:
    """The API of one node. `await start()` on the node's loop; `await stop()` at the end."""

    def __init__(self, node, *, host: str = "127.0.0.1", port: int = 8080,
                 token: str | None = None, alert_rules: AlertRules | None = None,
                 ws_queue_size: int = 256, sample_period_s: float = 0.25,
                 metrics: EngineMetrics | None = None, auth: Auth | None = None) -> None:
        self.node = node
        self.host = host
        self.port = port
        # refuses unsafe bindings (AuthConfigError); `auth` lets a test apply the rules of
        # another binding without listening on a public interface
        self.auth = auth or Auth(host, token)
        self.metrics = attach(node, metrics)
        self.control = Control(node)
        self.metrics.is_stopped = lambda sid: sid in self.control.stopped
        self.hub = Hub(self.control, auth=self.auth, queue_size=ws_queue_size,
                       sample_period_s=sample_period_s)
        self.alerts = Alerts(node, alert_rules or AlertRules.from_env(), hub=self.hub)
        self.hub.alerts = self.alerts
        node.gate.on_state_change(self._count_trip)
        self.phase = "starting"            # starting | running | finished (set by the runner)
        self.schema = openapi_document(node)
        self._bodies = {op["operationId"]: op["requestBody"]["content"]["application/json"][
            "schema"] for ops in self.schema["paths"].values() for op in ops.values()
            if "requestBody" in op}
        self.app = self._build_app()
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []

    def _count_trip(self, state: TradingState, reason: str) -> None:
        if TradingState(state) is not TradingState.ACTIVE:
            self.metrics.on_breaker_trip(reason.partition(":")[0] or "unknown")

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        addrs = self._runner.addresses
        if addrs:
            self.port = addrs[0][1]
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self.metrics.run()), loop.create_task(self.hub.run()),
                       loop.create_task(self.alerts.run())]
        log.warning("API on http://%s:%d (dashboard /, metrics /metrics, schema "
                    "/openapi.json); reads %s, writes need the token%s", self.host, self.port,
                    "need the token" if self.auth.require_for_reads else "open on loopback",
                    "" if self.auth.has_token else " (none set: read-only)")

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.hub.close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # -- app -------------------------------------------------------------------------------
    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        for r in ROUTES:
            app.router.add_route(r.method, r.path, self._wrap(r))
        app.router.add_get("/openapi.json", self._openapi)
        app.router.add_get("/ws", self.hub.handle)
        app.router.add_get("/", self._index)
        app.router.add_static("/static", DASHBOARD, show_index=False)
        return app

    def _wrap(self, r: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        fn = getattr(self, "h_" + r.handler)

        async def handler(request: web.Request) -> web.StreamResponse:
            self.auth.check(request.headers.get("Authorization"), write=r.write)
            body = None
            if r.body is not None:
                body = await _json_body(request)
                why = validate(self._bodies.get(r.handler, r.body), body)
                if why:
                    raise ApiError(400, why)
            out = fn(request, body) if r.body is not None else fn(request)
            if isinstance(out, web.StreamResponse):
                return out
            return _json(out)
        handler.__name__ = r.handler
        return handler

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            if not self.auth.require_for_reads and not _loopback_host(request.host):
                # bound to loopback, reads are open: a page elsewhere must not reach them by
                # DNS rebinding (its requests carry its own host name)
                raise ApiError(403, "Host not allowed: this API answers loopback names only")
            return await handler(request)
        except ApiError as e:
            return _json({"error": e.reason}, status=e.status)
        except web.HTTPException as e:
            if e.status >= 400 and e.content_type != "application/json":
                return _json({"error": e.reason}, status=e.status,
                             headers={k: v for k, v in e.headers.items()
                                      if k.lower() == "allow"})
            raise
        except Exception:
            log.exception("API %s %s failed", request.method, request.path)
            return _json({"error": "internal error (logged)"}, status=500)

    async def _openapi(self, request: web.Request) -> web.Response:
        return _json(self.schema)

    async def _index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(DASHBOARD / "index.html")

    # -- handlers (sync: they run between engine callbacks on the same loop) ------------------
    def h_health(self, request):
        return {"status": "ok", "phase": self.phase}

    def h_ready(self, request):
        reasons = []
        if self.phase != "running":
            reasons.append(f"engine {self.phase}")
        for key in self.node.instruments:
            b = self.node.books.get(key)
            if b is None:
                reasons.append(f"no book yet for {key[0]}:{key[1]}")
            elif not b.valid:
                reasons.append(f"book {key[0]}:{key[1]} invalid (resyncing)")
        return _json({"ready": not reasons, "reasons": reasons},
                     status=200 if not reasons else 503)

    def h_config(self, request):
        return self.control.config()

    def h_state(self, request):
        return self.control.state()

    def h_summary(self, request):
        return self.node.summary()

    def h_pnl(self, request):
        return self.control.pnl()

    def h_risk_limits(self, request):
        return self.control.risk_limits()

    def h_update_risk_limits(self, request, body):
        return self.control.update_risk_limits(body)

    def h_strategies(self, request):
        return self.control.strategies()

    def h_update_strategy(self, request, body):
        return self.control.update_strategy(request.match_info["strategy_id"], body)

    def h_start_strategy(self, request):
        return self.control.start_strategy(request.match_info["strategy_id"])

    def h_stop_strategy(self, request):
        return self.control.stop_strategy(request.match_info["strategy_id"])

    def h_kill(self, request, body):
        return self.control.kill(body.get("flatten", False), body.get("reason", "operator"))

    def h_rearm(self, request, body):
        return self.control.rearm(body.get("reason", "operator"))

    def h_orders(self, request):
        return self.control.orders(request.query.get("status", "all"), _limit(request))

    def h_positions(self, request):
        return self.control.positions()

    def h_fills(self, request):
        return self.control.fills(_limit(request))

    def h_balances(self, request):
        return self.control.balances()

    def h_top(self, request):
        return self.control.top_of_book()

    def h_feeds(self, request):
        node = self.node
        out = []
        now = node.clock.time_ns()
        for f in node.cfg.feeds:
            ages = [max(0, now - b.ts_ns) / 1e9 for (v, _), b in list(node.books.items())
                    if v == f.venue and b.ts_ns]
            problems = {k.partition(":")[2]: n for k, n in node.stats.problems.items()
                        if k.partition(":")[0] == f.venue}
            msgs = self.metrics.message_counts().get(f.venue)
            out.append({"venue": f.venue, "exchange": f.exchange, "symbols": list(f.symbols),
                        "messages": msgs,
                        "book_updates": sum(n for (v, _), n in
                                            self.metrics.book_update_counts().items()
                                            if v == f.venue),
                        "max_book_age_s": max(ages) if ages else None,
                        "problems": problems,
                        "valid": all(b.valid for (v, _), b in list(node.books.items())
                                     if v == f.venue)})
        return out

    def h_latency(self, request):
        return self.metrics.latency_percentiles()

    def h_alerts(self, request):
        return self.alerts.recent_list(_limit(request))

    def h_metrics(self, request):
        return web.Response(body=self.metrics.exposition(),
                            headers={"Content-Type": "text/plain; version=0.0.4; "
                                                     "charset=utf-8"})


def openapi_document(node) -> dict[str, Any]:
    """The OpenAPI document of this node's API: the route table, with the request bodies made
    precise by its instruments and strategies."""
    import sys

    from tradecore.api.control import RUNTIME_SETTINGS
    from tradecore.api.openapi import openapi, risk_body, settings_body

    settings: dict[str, Any] = {}
    for s in node.strategies:
        structural = RUNTIME_SETTINGS.get(type(s).__name__, ((), ()))[0]
        defaults = getattr(sys.modules[type(s).__module__], "DEFAULTS", s.config)
        settings.update({k: v for k, v in defaults.items() if k not in structural})
    return openapi(ROUTES, bodies={
        "update_risk_limits": risk_body([f"{v}:{s}" for v, s in node.instruments]),
        "update_strategy": settings_body(settings)},
        enums={"strategy_id": [s.strategy_id for s in node.strategies]})


def _json(obj: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY |
                                          orjson.OPT_NON_STR_KEYS),
                        status=status, content_type="application/json", headers=headers)


async def _json_body(request: web.Request) -> dict:
    raw = await request.read()
    if not raw:
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise ApiError(400, f"body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"body: expected a JSON object, got {type(body).__name__}")
    return body


def _loopback_host(host: str) -> bool:
    from tradecore.api.auth import is_loopback
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    return is_loopback(name.strip("[]"))


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "200")
    try:
        n = int(raw)
    except ValueError:
        raise ApiError(400, f"limit={raw!r}: expected an integer 1..10000") from None
    if not 1 <= n <= 10000:
        raise ApiError(400, f"limit={n}: expected an integer 1..10000")
    return n
