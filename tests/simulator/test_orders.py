"""The simulator's Binance order entry: signed requests checked as Binance checks them, orders
matched against the replayed book, Binance's rejects, user-data events, and the faults that
lose orders and answers."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from decimal import Decimal
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest

from _simclient import connect, run, until
from tradecore.simulator.orders import (TEST_API_KEY, TEST_ED25519_API_KEY, TEST_ED25519_PEM,
                                        TEST_SECRET, OrderFault)


def signed(method: str, rid, secret: str = TEST_SECRET, key: str = TEST_API_KEY, **p) -> dict:
    p.setdefault("apiKey", key)
    p.setdefault("timestamp", time.time_ns() // 1_000_000)
    payload = "&".join(f"{k}={v}" for k, v in sorted(p.items()))
    p["signature"] = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return {"id": rid, "method": method, "params": p}


async def ws_api(sim, subscribe: bool = True):
    c = await connect(sim.ws_url("binance") + "/ws-api/v3")
    if subscribe:
        c.send_json(signed("userDataStream.subscribe.signature", "sub"))
        await until(lambda: c.frames, what="subscription answer")
    return c


def answers(c, rid) -> list[dict]:
    return [m for m in c.json() if m.get("id") == rid]


def events(c, x: str | None = None) -> list[dict]:
    return [m["event"] for m in c.json() if "event" in m
            and (x is None or m["event"]["x"] == x)]


async def answer(c, rid, timeout=3.0) -> dict:
    await until(lambda: answers(c, rid), timeout, f"answer {rid}")
    return answers(c, rid)[0]


def book_best(sim, side: int) -> Decimal:
    b = sim.venues["binance"].book("BTCUSDT")
    t = b.depth_ticks(side, 1).tolist()[0][0]
    return Decimal(t * b.tick_units).scaleb(-b.price_decimals)


def test_accepts_a_signed_limit_order_and_reports_it_on_the_user_data_stream():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim)
        c.send_json(signed("order.place", "o1", symbol="BTCUSDT", side="SELL", type="LIMIT",
                           timeInForce="GTC", price="70000", quantity="0.01",
                           newClientOrderId="o1"))
        a = await answer(c, "o1")
        assert a["status"] == 200 and a["result"]["status"] == "NEW"
        assert a["result"]["clientOrderId"] == "o1" and a["result"]["price"] == "70000.00000000"
        assert {r["rateLimitType"] for r in a["rateLimits"]} == {"ORDERS", "REQUEST_WEIGHT"}
        ev = events(c, "NEW")[0]
        assert (ev["c"], ev["X"], ev["i"], ev["q"]) == ("o1", "NEW", a["result"]["orderId"],
                                                        "0.01000000")
    run(body, speed=0, paused=True)


@pytest.mark.parametrize("change,code", [
    (dict(secret="wrong"), -1022),
    (dict(key="unknown-key"), -2015),
    (dict(timestamp=1), -1021),
    (dict(timestamp=time.time_ns() // 1_000_000 + 10 ** 7), -1021),
])
def test_refuses_requests_whose_key_signature_or_timestamp_is_wrong(change, code):
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        c.send_json(signed("order.place", "o1", symbol="BTCUSDT", side="SELL", type="LIMIT",
                           timeInForce="GTC", price="70000", quantity="0.01", **change))
        a = await answer(c, "o1")
        assert a["error"]["code"] == code and not sim.orders.orders
    run(body, speed=0, paused=True)


@pytest.mark.parametrize("params,code,msg", [
    (dict(price="70000.001"), -1013, "Filter failure: PRICE_FILTER"),
    (dict(quantity="0.000000001"), -1013, "Filter failure: LOT_SIZE"),
    (dict(quantity="0.00001"), -1013, "Filter failure: NOTIONAL"),
    (dict(quantity="1000"), -2010, "Account has insufficient balance for requested action."),
    (dict(symbol="ETHUSDT"), -1121, "Invalid symbol."),
    (dict(type="TRAILING"), -1116, "Invalid orderType."),
    (dict(timeInForce="GTD"), -1115, "Invalid timeInForce."),
])
def test_rejects_orders_with_binance_codes_and_messages(params, code, msg):
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        p = dict(symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC",
                 price="70000", quantity="0.01")
        p.update(params)
        c.send_json(signed("order.place", "o1", **p))
        a = await answer(c, "o1")
        assert a["error"] == {"code": code, "msg": msg}
        acc = sim.orders.accounts[TEST_API_KEY]
        assert acc.balances["BTC"] == [Decimal(100), 0]            # nothing locked
    run(body, speed=0, paused=True)


def test_limit_maker_that_would_take_is_rejected():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        c.send_json(signed("order.place", 1, symbol="BTCUSDT", side="BUY", type="LIMIT_MAKER",
                           price=str(book_best(sim, 1)), quantity="0.01"))
        assert (await answer(c, 1))["error"]["msg"] == "Order would immediately match and take."
    run(body, speed=0, paused=True)


def test_market_order_walks_the_book_one_trade_per_level_and_moves_balances():
    async def body(sim):
        sim.step("binance", 300)
        b = sim.venues["binance"].book("BTCUSDT")
        levels = b.depth_ticks(1, 3).tolist()
        c = await ws_api(sim)
        c.send_json(signed("order.place", "m", symbol="BTCUSDT", side="BUY", type="MARKET",
                           quantity="4", newOrderRespType="FULL"))
        res = (await answer(c, "m"))["result"]
        fills = res["fills"]
        assert res["status"] == "FILLED" and res["executedQty"] == "4.00000000"
        prices = [Decimal(f["price"]) for f in fills]
        assert prices == sorted(prices) and len(fills) >= 2
        first = Decimal(levels[0][0] * b.tick_units).scaleb(-b.price_decimals)
        assert prices[0] == first
        assert Decimal(fills[0]["qty"]) == Decimal(levels[0][1] * b.lot_units).scaleb(
            -b.size_decimals)
        acc = sim.orders.accounts[TEST_API_KEY]
        fee = sum(Decimal(f["commission"]) for f in fills)
        assert acc.balances["BTC"][0] == 100 + 4 - fee
        spent = sum(Decimal(f["price"]) * Decimal(f["qty"]) for f in fills)
        assert acc.balances["USDT"] == [Decimal(1_000_000) - spent, 0]
        await until(lambda: len(events(c, "TRADE")) == len(fills))
        assert [e["t"] for e in events(c, "TRADE")] == [f["tradeId"] for f in fills]
    run(body, speed=0, paused=True)


def test_liquidity_taken_once_is_not_offered_again_until_the_level_changes():
    async def body(sim):
        sim.step("binance", 300)
        ask = book_best(sim, 1)
        c = await ws_api(sim)
        for rid in ("a", "b"):
            c.send_json(signed("order.place", rid, symbol="BTCUSDT", side="BUY", type="LIMIT",
                               timeInForce="IOC", price=str(ask), quantity="10",
                               newOrderRespType="FULL"))
        a, b = await answer(c, "a"), await answer(c, "b")
        assert a["result"]["status"] == "EXPIRED" and Decimal(a["result"]["executedQty"]) > 0
        assert b["result"]["status"] == "EXPIRED" and b["result"]["executedQty"] == "0.00000000"
    run(body, speed=0, paused=True)


def test_fok_expires_whole_when_the_book_cannot_cover_it():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim)
        c.send_json(signed("order.place", "f", symbol="BTCUSDT", side="BUY", type="LIMIT",
                           timeInForce="FOK", price=str(book_best(sim, 1)), quantity="10"))
        assert (await answer(c, "f"))["result"]["status"] == "EXPIRED"
        assert not sim.orders.trades
    run(body, speed=0, paused=True)


def test_resting_limit_fills_at_its_price_when_the_replayed_book_crosses_it():
    async def body(sim):
        sim.step("binance", 300)
        price = book_best(sim, 0) - Decimal("0.01")            # below the bid: rests
        c = await ws_api(sim)
        c.send_json(signed("order.place", "r", symbol="BTCUSDT", side="BUY", type="LIMIT",
                           timeInForce="GTC", price=str(price), quantity="0.01"))
        assert (await answer(c, "r"))["result"]["status"] == "NEW"
        crossed = False
        for _ in range(300):
            sim.step("binance", 50)
            crossed = book_best(sim, 1) <= price
            sim.orders.match_now()
            if crossed:
                break
            assert not sim.orders.trades
        assert crossed, "the recording never traded down to the order"
        await until(lambda: events(c, "TRADE"))
        ev = events(c, "TRADE")[0]
        assert Decimal(ev["L"]) == price and ev["m"] is True and ev["X"] == "FILLED"
    run(body, speed=0, paused=True)


def test_stop_loss_triggers_when_the_bid_falls_to_it_then_trades_as_market():
    async def body(sim):
        sim.step("binance", 300)
        stop = book_best(sim, 0) - Decimal("0.01")
        c = await ws_api(sim)
        c.send_json(signed("order.place", "s", symbol="BTCUSDT", side="SELL", type="STOP_LOSS",
                           stopPrice=str(stop), quantity="0.01"))
        assert (await answer(c, "s"))["result"]["orderId"]
        for _ in range(300):
            sim.step("binance", 50)
            hit = book_best(sim, 0) <= stop
            sim.orders.match_now()
            if hit:
                break
            assert not sim.orders.trades
        await until(lambda: events(c, "TRADE"))
        assert events(c, "TRADE")[-1]["X"] == "FILLED"
    run(body, speed=0, paused=True)


def test_stop_that_would_trigger_at_once_is_rejected():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        c.send_json(signed("order.place", 1, symbol="BTCUSDT", side="SELL", type="STOP_LOSS",
                           stopPrice=str(book_best(sim, 0) + 1), quantity="0.01"))
        assert (await answer(c, 1))["error"]["msg"] == "Order would trigger immediately."
    run(body, speed=0, paused=True)


def test_cancel_status_open_orders_and_my_trades_answer_as_binance():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim)
        c.send_json(signed("order.place", "k", symbol="BTCUSDT", side="SELL", type="LIMIT",
                           timeInForce="GTC", price="70000", quantity="0.01",
                           newClientOrderId="k"))
        await answer(c, "k")
        c.send_json(signed("openOrders.status", 1))
        assert [o["clientOrderId"] for o in (await answer(c, 1))["result"]] == ["k"]
        c.send_json(signed("order.cancel", 2, symbol="BTCUSDT", origClientOrderId="k"))
        res = (await answer(c, 2))["result"]
        assert res["status"] == "CANCELED" and res["origClientOrderId"] == "k"
        ev = events(c, "CANCELED")[0]
        assert ev["C"] == "k" and ev["c"] == res["clientOrderId"]
        c.send_json(signed("order.cancel", 3, symbol="BTCUSDT", origClientOrderId="k"))
        assert (await answer(c, 3))["error"] == {"code": -2011, "msg": "Unknown order sent."}
        c.send_json(signed("order.status", 4, symbol="BTCUSDT", origClientOrderId="zz"))
        assert (await answer(c, 4))["error"]["code"] == -2013
        c.send_json(signed("order.status", 5, symbol="BTCUSDT", origClientOrderId="k"))
        assert (await answer(c, 5))["result"]["status"] == "CANCELED"
        assert sim.orders.accounts[TEST_API_KEY].balances["BTC"] == [Decimal(100), 0]
    run(body, speed=0, paused=True)


def test_order_count_limit_answers_429_after_50_orders_in_10_seconds():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        for i in range(51):
            c.send_json(signed("order.place", i, symbol="BTCUSDT", side="SELL", type="LIMIT",
                               timeInForce="GTC", price=str(70000 + i), quantity="0.001"))
        a = await answer(c, 50)
        assert a["status"] == 429 and a["error"]["code"] == -1015
        assert len(sim.orders.orders) == 50
    run(body, speed=0, paused=True)


def test_drop_request_fault_loses_the_order_and_its_answer():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim)
        sim.orders.inject(OrderFault("drop_request"))
        c.send_json(signed("order.place", "x", symbol="BTCUSDT", side="SELL", type="LIMIT",
                           timeInForce="GTC", price="70000", quantity="0.01"))
        c.send_json(signed("ping", "p"))
        await answer(c, "p")
        assert not answers(c, "x") and not sim.orders.orders and not events(c)
        assert sim.orders.fault_log[0]["kind"] == "drop_request"
    run(body, speed=0, paused=True)


def test_disconnect_after_accept_places_the_order_then_drops_the_connection_silently():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim)
        sim.orders.inject({"kind": "disconnect_after_accept"})
        c.send_json(signed("order.place", "y", symbol="BTCUSDT", side="BUY", type="MARKET",
                           quantity="0.01"))
        await asyncio.wait_for(c.disconnected, 3)
        assert c.close_code is None                      # no close frame: a dropped connection
        assert not answers(c, "y") and not events(c)
        assert [o.status for o in sim.orders.orders.values()] == ["FILLED"]
    run(body, speed=0, paused=True)


# -- REST ------------------------------------------------------------------------------------------
def rest_signed(params: dict, secret: str = TEST_SECRET) -> str:
    params = dict(params, timestamp=time.time_ns() // 1_000_000)
    q = urlencode(params)
    return q + "&signature=" + hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()


async def rest(sim, method: str, path: str, params: dict, body: bool = False,
               key: str = TEST_API_KEY):
    q = rest_signed(params)
    async with aiohttp.ClientSession(headers={"X-MBX-APIKEY": key}) as http:
        if body:
            async with http.request(method, sim.rest_url + path, data=q, headers={
                    "Content-Type": "application/x-www-form-urlencoded"}) as r:
                return r.status, orjson.loads(await r.read())
        async with http.request(method, sim.rest_url + path + "?" + q) as r:
            return r.status, orjson.loads(await r.read())


def test_rest_order_entry_signs_query_or_body_and_feeds_the_user_data_stream():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim)
        st, res = await rest(sim, "POST", "/api/v3/order",
                             dict(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01",
                                  newClientOrderId="r1"), body=True)
        assert st == 200 and res["status"] == "FILLED" and res["fills"]
        await until(lambda: events(c, "TRADE"), what="the REST order's events")
        st, trades = await rest(sim, "GET", "/api/v3/myTrades", dict(symbol="BTCUSDT"))
        assert [t["id"] for t in trades] == [f["tradeId"] for f in res["fills"]]
        st, res = await rest(sim, "POST", "/api/v3/order",
                             dict(symbol="BTCUSDT", side="SELL", type="LIMIT",
                                  timeInForce="GTC", price="70000", quantity="0.01",
                                  newClientOrderId="r2"))
        assert st == 200 and res["status"] == "NEW"
        st, opens = await rest(sim, "GET", "/api/v3/openOrders", {})
        assert [o["clientOrderId"] for o in opens] == ["r2"]
        st, res = await rest(sim, "DELETE", "/api/v3/order",
                             dict(symbol="BTCUSDT", origClientOrderId="r2"))
        assert st == 200 and res["status"] == "CANCELED"
        st, err = await rest(sim, "DELETE", "/api/v3/order",
                             dict(symbol="BTCUSDT", origClientOrderId="r2"))
        assert st == 400 and err == {"code": -2011, "msg": "Unknown order sent."}
        st, err = await rest(sim, "GET", "/api/v3/openOrders", {}, key="nobody")
        assert st == 401 and err["code"] == -2015
    run(body, speed=0, paused=True)


def test_rest_drop_fault_closes_the_connection_and_places_nothing():
    async def body(sim):
        sim.step("binance", 300)
        async with aiohttp.ClientSession() as http:
            async with http.post(sim.rest_url + "/_sim/order_fault",
                                 data=orjson.dumps({"kind": "drop_request"})) as r:
                assert r.status == 200
        with pytest.raises(aiohttp.ClientError):
            await rest(sim, "POST", "/api/v3/order",
                       dict(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01"))
        assert not sim.orders.orders
    run(body, speed=0, paused=True)


def test_exchange_info_publishes_the_filters_the_engine_applies():
    async def body(sim):
        sim.step("binance", 300)
        sim.orders.configure_symbol("BTCUSDT", step="0.00001", min_notional="10")
        async with aiohttp.ClientSession() as http:
            async with http.get(sim.rest_url + "/api/v3/exchangeInfo") as r:
                info = orjson.loads(await r.read())
        s = info["symbols"][0]
        f = {x["filterType"]: x for x in s["filters"]}
        assert (s["symbol"], s["baseAsset"], s["quoteAsset"]) == ("BTCUSDT", "BTC", "USDT")
        assert f["PRICE_FILTER"]["tickSize"] == "0.01000000"
        assert f["LOT_SIZE"]["stepSize"] == "0.00001000"
        assert f["NOTIONAL"]["minNotional"] == "10.00000000"
    run(body, speed=0, paused=True)


def test_order_fault_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="order fault kind"):
        OrderFault("explode")
    with pytest.raises(ValueError, match="count"):
        OrderFault("drop_request", count=0)


# -- session.logon with an Ed25519 key -------------------------------------------------------------
def ed_signed(method: str, rid, key: str = TEST_ED25519_API_KEY, pem: str = TEST_ED25519_PEM,
              **p) -> dict:
    """A request signed as Binance asks of Ed25519 keys: base64 of the signature of the sorted
    params."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    p.setdefault("apiKey", key)
    p.setdefault("timestamp", time.time_ns() // 1_000_000)
    payload = "&".join(f"{k}={v}" for k, v in sorted(p.items()))
    sig = load_pem_private_key(pem.encode(), None).sign(payload.encode())
    p["signature"] = base64.b64encode(sig).decode()
    return {"id": rid, "method": method, "params": p}


def limit_sell(**p) -> dict:
    d = dict(symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", price="70000",
             quantity="0.01")
    d.update(p)
    return d


def test_after_ed25519_logon_unsigned_orders_and_subscription_act_for_the_logged_on_key():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        c.send_json(ed_signed("session.logon", "in"))
        a = await answer(c, "in")
        assert a["status"] == 200 and a["result"]["apiKey"] == TEST_ED25519_API_KEY
        assert a["result"]["authorizedSince"] > 0
        c.send_json({"id": "sub", "method": "userDataStream.subscribe"})
        assert (await answer(c, "sub"))["status"] == 200
        c.send_json({"id": "o1", "method": "order.place", "params": limit_sell(
            newClientOrderId="o1", timestamp=time.time_ns() // 1_000_000)})
        a = await answer(c, "o1")
        assert a["status"] == 200 and a["result"]["clientOrderId"] == "o1"
        o = sim.orders.by_client[(TEST_ED25519_API_KEY, "BTCUSDT", "o1")]
        assert o.account is sim.orders.accounts[TEST_ED25519_API_KEY]
        await until(lambda: events(c, "NEW"), what="the user-data event")
        orders = [r for r in sim.orders.requests if r["method"] == "order.place"]
        assert [r["signed"] for r in orders] == [False]
        c.send_json({"id": "st", "method": "session.status"})
        assert (await answer(c, "st"))["result"]["userDataStream"] is True
    run(body, speed=0, paused=True)


def test_unsigned_order_after_logon_still_needs_a_fresh_timestamp():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        c.send_json(ed_signed("session.logon", "in"))
        await answer(c, "in")
        c.send_json({"id": "o1", "method": "order.place", "params": limit_sell()})
        c.send_json({"id": "o2", "method": "order.place", "params": limit_sell(timestamp=1)})
        assert (await answer(c, "o1"))["error"]["code"] == -1102
        assert (await answer(c, "o2"))["error"]["code"] == -1021
        assert not sim.orders.orders
    run(body, speed=0, paused=True)


def test_unsigned_requests_are_refused_on_a_connection_that_did_not_log_on():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        c.send_json({"id": "o1", "method": "order.place",
                     "params": limit_sell(timestamp=time.time_ns() // 1_000_000)})
        c.send_json({"id": "sub", "method": "userDataStream.subscribe"})
        assert (await answer(c, "o1"))["error"]["code"] == -1102       # apiKey missing
        assert (await answer(c, "sub"))["error"]["code"] == -2015
        assert not sim.orders.orders
    run(body, speed=0, paused=True)


def test_logon_is_refused_for_an_hmac_key_and_for_a_wrong_ed25519_signature():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    other = Ed25519PrivateKey.from_private_bytes(b"x" * 32).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()

    async def body(sim):
        c = await ws_api(sim, subscribe=False)
        c.send_json(signed("session.logon", "hm"))
        c.send_json(ed_signed("session.logon", "bad", pem=other))
        assert (await answer(c, "hm"))["error"] == {"code": -4056, "msg": "HMAC_SHA256 API "
                                                                          "key is not supported."}
        assert (await answer(c, "bad"))["error"]["code"] == -1022
        c.send_json({"id": "st", "method": "session.status"})
        assert (await answer(c, "st"))["result"]["apiKey"] is None
    run(body, speed=0, paused=True)


def test_ed25519_key_signs_ad_hoc_requests_without_logon():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        c.send_json(ed_signed("order.place", "o1", **limit_sell(newClientOrderId="o1")))
        assert (await answer(c, "o1"))["status"] == 200
        assert (TEST_ED25519_API_KEY, "BTCUSDT", "o1") in sim.orders.by_client
    run(body, speed=0, paused=True)


def test_logout_and_revocation_end_the_session():
    async def body(sim):
        sim.step("binance", 300)
        c = await ws_api(sim, subscribe=False)
        c.send_json(ed_signed("session.logon", "in"))
        await answer(c, "in")
        c.send_json({"id": "out", "method": "session.logout"})
        assert (await answer(c, "out"))["result"]["apiKey"] is None
        c.send_json(ed_signed("session.logon", "in2"))
        await answer(c, "in2")
        assert sim.orders.revoke_sessions(TEST_ED25519_API_KEY) == 1
        await until(lambda: answers(c, None), what="the revocation notice")
        assert answers(c, None)[0]["status"] == 401
        c.send_json({"id": "o1", "method": "order.place",
                     "params": limit_sell(timestamp=time.time_ns() // 1_000_000)})
        assert (await answer(c, "o1"))["error"]["code"] == -1102
    run(body, speed=0, paused=True)
