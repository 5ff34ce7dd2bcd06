"""The REST API over a live aiohttp server on 127.0.0.1 (auth rules, validation, schema)."""
from __future__ import annotations

import logging

import aiohttp
from _api_helpers import TOKEN, Client, Feeder, limit_buy_at_touch, make_node, run, started

from tradecore.api.auth import Auth
from tradecore.api.server import ROUTES


async def _with_server(fn, node=None, **kw):
    node = node or make_node()
    server = await started(node, **kw)
    try:
        async with aiohttp.ClientSession() as s:
            return await fn(Client(server, s), node, server)
    finally:
        await server.stop()


def test_health_when_running_answers_ok():
    async def go(c, node, server):
        return await c.call("GET", "/health")
    status, body = run(_with_server(go))
    assert status == 200 and body["status"] == "ok"


def test_ready_when_no_books_yet_is_503_with_reasons_then_200():
    async def go(c, node, server):
        first = await c.call("GET", "/ready")
        Feeder(node).until_books()
        return first, await c.call("GET", "/ready")
    (s1, b1), (s2, b2) = run(_with_server(go))
    assert s1 == 503 and any("no book yet" in r for r in b1["reasons"])
    assert s2 == 200 and b2 == {"ready": True, "reasons": []}


def test_write_when_no_token_sent_is_401_and_changes_nothing():
    async def go(c, node, server):
        st, body = await c.call("POST", "/api/kill", json={})
        st2, body2 = await c.call("POST", "/api/kill", json={}, token="wrong-token-123456789")
        return st, body, st2, node.gate.state
    st, body, st2, state = run(_with_server(go))
    assert st == 401 and "token" in body["error"] and st2 == 401
    assert state == 0


def test_write_when_no_token_configured_is_403():
    async def go(c, node, server):
        return await c.call("POST", "/api/kill", json={}, token="anything-long-enough")
    st, body = run(_with_server(go, token=None, auth=Auth("127.0.0.1", None)))
    assert st == 403 and "TRADECORE_API_TOKEN" in body["error"]


def test_read_when_bound_beyond_loopback_needs_the_token():
    async def go(c, node, server):
        return (await c.call("GET", "/api/state"),
                await c.call("GET", "/api/state", token=TOKEN))
    (s1, b1), (s2, b2) = run(_with_server(go, auth=Auth("10.1.2.3", TOKEN)))
    assert s1 == 401 and s2 == 200 and b2["trading_state"] == "ACTIVE"


def test_kill_and_rearm_when_token_given_halt_and_resume():
    async def go(c, node, server):
        k = await c.call("POST", "/api/kill", json={"reason": "rest test"}, token=TOKEN)
        again = await c.call("POST", "/api/kill", json={"flatten": "x"}, token=TOKEN)
        r = await c.call("POST", "/api/rearm", json={}, token=TOKEN)
        r2 = await c.call("POST", "/api/rearm", json={}, token=TOKEN)
        return k, again, r, r2
    k, again, r, r2 = run(_with_server(go))
    assert k[0] == 200 and k[1]["trading_state"] == "HALTED"
    assert again[0] == 400
    assert r[0] == 200 and r[1]["trading_state"] == "ACTIVE"
    assert r2[0] == 409


def test_patch_risk_limits_when_invalid_is_400_and_nothing_is_applied():
    async def go(c, node, server):
        before = await c.call("GET", "/api/risk/limits")
        bad = await c.call("PATCH", "/api/risk/limits", token=TOKEN, json={
            "portfolio": {"max_gross_notional": 5},
            "symbols": {"binance:BTCUSDT": {"max_order_lots": -3}}})
        after = await c.call("GET", "/api/risk/limits")
        good = await c.call("PATCH", "/api/risk/limits", token=TOKEN,
                            json={"portfolio": {"max_gross_notional": 5}})
        return before, bad, after, good
    before, bad, after, good = run(_with_server(go))
    assert bad[0] == 400 and "max_order_lots" in bad[1]["error"]
    assert before == after
    assert good[0] == 200 and good[1]["portfolio"]["max_gross_notional"] == 5


def test_request_when_body_is_not_json_is_400():
    async def go(c, node, server):
        return await c.call("PATCH", "/api/strategies/xarb/settings", token=TOKEN,
                            data=b"{not json")
    st, body = run(_with_server(go))
    assert st == 400 and "not valid JSON" in body["error"]


def test_strategy_routes_when_unknown_id_are_404_and_stop_start_work():
    async def go(c, node, server):
        return (await c.call("POST", "/api/strategies/nope/stop", token=TOKEN),
                await c.call("POST", "/api/strategies/xarb/stop", token=TOKEN),
                await c.call("GET", "/api/strategies"),
                await c.call("POST", "/api/strategies/xarb/start", token=TOKEN),
                await c.call("PATCH", "/api/strategies/xarb/settings", token=TOKEN,
                             json={"min_edge_bps": 3}))
    nope, stop, listed, start, patch = run(_with_server(go))
    assert nope[0] == 404
    assert stop[0] == 200 and stop[1]["running"] is False
    assert listed[1][0]["running"] is False
    assert start[0] == 200 and start[1]["running"] is True
    assert patch[0] == 200 and patch[1]["settings"]["min_edge_bps"] == 3


def test_lists_when_an_order_filled_show_orders_fills_positions():
    node = make_node()

    async def go(c, node, server):
        f = Feeder(node)
        f.until_books()
        node.exec.submit(limit_buy_at_touch(node, "rest-f1"))
        f.feed(300)
        return {p: await c.call("GET", p) for p in
                ("/api/orders?limit=5", "/api/fills", "/api/positions", "/api/balances",
                 "/api/orders?limit=0", "/api/orders?status=open", "/api/summary")}
    out = run(_with_server(go, node=node))
    assert out["/api/orders?limit=5"][1][0]["status"] == "FILLED"
    assert out["/api/fills"][1][0]["client_order_id"] == "rest-f1"
    assert any(p["lots"] == 10 for p in out["/api/positions"][1])
    assert out["/api/balances"][0] == 200
    assert out["/api/orders?limit=0"][0] == 400
    assert out["/api/orders?status=open"][1] == []
    assert out["/api/summary"][1]["fills"] >= 1


def test_openapi_when_fetched_documents_every_route():
    async def go(c, node, server):
        return await c.call("GET", "/openapi.json")
    st, doc = run(_with_server(go))
    assert st == 200 and doc["openapi"].startswith("3.")
    for r in ROUTES:
        assert r.method.lower() in doc["paths"][r.path]


def test_dashboard_when_fetched_is_served_without_a_build_step():
    async def go(c, node, server):
        return (await c.call("GET", "/"), await c.call("GET", "/static/app.js"))
    (s1, html), (s2, js) = run(_with_server(go))
    assert s1 == 200 and "kill-confirm" in html and s2 == 200 and "WebSocket" in js


def test_token_when_used_never_appears_in_logs_or_responses(caplog):
    caplog.set_level(logging.DEBUG)

    async def go(c, node, server):
        bodies = []
        for method, path, body in (("GET", "/api/config", None), ("GET", "/api/state", None),
                                   ("POST", "/api/kill", {}), ("POST", "/api/rearm", {}),
                                   ("GET", "/openapi.json", None), ("GET", "/metrics", None)):
            st, b = await c.call(method, path, token=TOKEN, json=body)
            bodies.append(repr(b))
        await c.call("POST", "/api/kill", token="wrong-" + TOKEN, json={})
        bodies.append(repr(server.auth))
        return bodies
    bodies = run(_with_server(go))
    assert all(TOKEN not in b for b in bodies)
    assert TOKEN not in caplog.text


def test_read_when_host_header_is_not_loopback_is_refused():
    async def go(c, node, server):
        async with c.s.get(server.url + "/api/config",
                           headers={"Host": "evil.example:8080"}) as r:
            return r.status, await r.json()
    st, body = run(_with_server(go))
    assert st == 403 and "Host" in body["error"]
