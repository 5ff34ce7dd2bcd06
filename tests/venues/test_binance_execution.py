"""Binance order entry: the encoder (exact text, type/TIF mapping, Binance's signature), and the
client end to end against the local exchange simulator's WebSocket API on 127.0.0.1: place,
fill, partial fill, cancel, rejects, a lost order, and connection drops with orders in flight
reconciled so that every fill arrives exactly once."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import time
from decimal import Decimal

import orjson
import pytest
import uvloop
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore.core.clock import LiveClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderType, Side, TimeInForce
from tradecore.simulator import ExchangeSimulator
from tradecore.simulator.orders import (TEST_API_KEY, TEST_ED25519_API_KEY, TEST_ED25519_PEM,
                                        TEST_SECRET, OrderFault)
from tradecore.venues.binance.execution import (_MAP, BinanceExecution, UnsupportedOrder, _Grid,
                                                _key, binance_order_type, encode_cancel,
                                                encode_order, encode_order_session, sign)
from tradecore.venues.binance.keys import signing_key
from tradecore.venues.credentials import Credentials, Secret
from tradecore.venues.order_limits import OrderCountLimiter
from tradecore.venues.ratelimit import RateLimiter

INST = Instrument("binance", "BTCUSDT", tick="0.01", lot="0.00001", base="BTC", quote="USDT",
                  min_notional="5")
DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


def order(coid="o1", side=Side.BUY, type=OrderType.LIMIT, qty=1000, price=6_000_000, **kw):
    return Order(coid, "binance", "BTCUSDT", side, type, qty, price=price, **kw)


def params_of(frame: bytes) -> dict:
    return orjson.loads(frame)["params"]


# -- the encoder -----------------------------------------------------------------------------------
def test_signature_equals_the_example_in_binance_docs():
    payload = (f"apiKey={DOC_KEY}&newOrderRespType=ACK&price=52000.00&quantity=0.01000000"
               f"&recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC"
               f"&timestamp=1645423376532&type=LIMIT")
    assert sign(DOC_SECRET, payload) == \
        "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a"


def test_encode_order_signs_the_params_sorted_by_name_with_exact_text():
    o = order(side=Side.SELL, qty=1000, price=5_200_000)
    frame = encode_order(o, INST, DOC_KEY, DOC_SECRET, 1645423376532, 100)
    msg = orjson.loads(frame)
    assert msg["id"] == "o1" and msg["method"] == "order.place"
    p = msg["params"]
    assert list(p) == sorted(k for k in p if k != "signature") + ["signature"]
    assert p == {"apiKey": DOC_KEY, "newClientOrderId": "o1", "newOrderRespType": "ACK",
                 "price": "52000", "quantity": "0.01", "recvWindow": 100, "side": "SELL",
                 "symbol": "BTCUSDT", "timeInForce": "GTC", "timestamp": 1645423376532,
                 "type": "LIMIT", "signature": p["signature"]}
    payload = "&".join(f"{k}={v}" for k, v in p.items() if k != "signature")
    assert p["signature"] == hmac.new(DOC_SECRET, payload.encode(), hashlib.sha256).hexdigest()
    assert p["price"] == INST.price_text(5_200_000) and p["quantity"] == INST.qty_text(1000)


@pytest.mark.parametrize("typ,tif,post_only,want", [
    (OrderType.MARKET, TimeInForce.GTC, False, ("MARKET", None, False, False)),
    (OrderType.MARKET, TimeInForce.IOC, False, ("MARKET", None, False, False)),
    (OrderType.LIMIT, TimeInForce.GTC, False, ("LIMIT", "GTC", True, False)),
    (OrderType.LIMIT, TimeInForce.IOC, False, ("LIMIT", "IOC", True, False)),
    (OrderType.LIMIT, TimeInForce.FOK, False, ("LIMIT", "FOK", True, False)),
    (OrderType.LIMIT, TimeInForce.GTC, True, ("LIMIT_MAKER", None, True, False)),
    (OrderType.STOP_MARKET, TimeInForce.GTC, False, ("STOP_LOSS", None, False, True)),
    (OrderType.STOP_MARKET, TimeInForce.IOC, False, ("STOP_LOSS", None, False, True)),
    (OrderType.STOP_LIMIT, TimeInForce.GTC, False, ("STOP_LOSS_LIMIT", "GTC", True, True)),
    (OrderType.STOP_LIMIT, TimeInForce.FOK, False, ("STOP_LOSS_LIMIT", "FOK", True, True)),
    (OrderType.TAKE_PROFIT, TimeInForce.GTC, False, ("TAKE_PROFIT", None, False, True)),
    (OrderType.TAKE_PROFIT_LIMIT, TimeInForce.IOC, False,
     ("TAKE_PROFIT_LIMIT", "IOC", True, True)),
])
def test_maps_order_type_and_tif_to_binance_when_supported(typ, tif, post_only, want):
    o = order(type=typ, tif=tif, post_only=post_only, trigger_price=6_100_000)
    assert binance_order_type(o) == want
    p = params_of(encode_order(o, INST, "k", b"s", 1, 5000))
    assert p["type"] == want[0]
    assert p.get("timeInForce") == want[1]
    assert ("price" in p) == want[2] and ("stopPrice" in p) == want[3]
    if want[3]:
        assert p["stopPrice"] == "61000"


@pytest.mark.parametrize("kw,words", [
    (dict(type=OrderType.LIMIT, tif=TimeInForce.GTD, expire_ns=1), "GTD"),
    (dict(type=OrderType.MARKET, tif=TimeInForce.FOK), "MARKET FOK"),
    (dict(type=OrderType.STOP_MARKET, tif=TimeInForce.FOK), "STOP_MARKET FOK"),
    (dict(type=OrderType.LIMIT, tif=TimeInForce.IOC, post_only=True), "post_only"),
    (dict(type=OrderType.STOP_LIMIT, post_only=True), "post_only"),
    (dict(type=OrderType.TRAILING_STOP, trail_ticks=10), "trailingDelta"),
    (dict(side=Side.BUY, reduce_only=True), "reduce_only BUY"),
    (dict(coid="has space"), "client order id"),
    (dict(coid="x" * 37), "client order id"),
    (dict(qty=0), "quantity"),
])
def test_encode_order_raises_unsupported_when_binance_spot_cannot_take_it(kw, words):
    with pytest.raises(UnsupportedOrder, match=words):
        encode_order(order(**kw), INST, "k", b"s", 1, 5000)
    with pytest.raises(UnsupportedOrder, match=words):
        encode_order_session(order(**kw), INST, 1, 5000)


def test_reduce_only_sell_is_sent_as_a_plain_sell():
    p = params_of(encode_order(order(side=Side.SELL, reduce_only=True), INST, "k", b"s", 1))
    assert p["side"] == "SELL" and "reduceOnly" not in p



@pytest.mark.parametrize("typ,tif,post_only", [
    (t, tif, post) for t in OrderType for tif in TimeInForce for post in (False, True)
    if isinstance(_MAP[_key(t, tif, post)], tuple)])
def test_session_frame_is_the_signed_frame_without_key_and_signature(typ, tif, post_only):
    o = order(type=typ, tif=tif, post_only=post_only, trigger_price=6_100_000)
    signed = orjson.loads(encode_order(o, INST, "k", b"s", 1645423376532, 100))
    unsigned = orjson.loads(encode_order_session(o, INST, 1645423376532, 100))
    del signed["params"]["apiKey"], signed["params"]["signature"]
    assert unsigned == signed
    assert unsigned["params"]["newClientOrderId"] == unsigned["id"] == "o1"


@settings(max_examples=500, deadline=None)
@given(st.text(st.sampled_from("aZ09.:/_-# é\n\""), max_size=40))
def test_client_order_id_check_equals_binance_pattern(coid):
    ok = re.fullmatch(r"[.A-Z:/a-z0-9_-]{1,36}", coid) is not None
    for enc in (lambda o: encode_order(o, INST, "k", b"s", 1),
                lambda o: encode_order_session(o, INST, 1)):
        if ok:
            assert orjson.loads(enc(order(coid)))["id"] == coid
        else:
            with pytest.raises(UnsupportedOrder, match="client order id"):
                enc(order(coid))


def test_encode_order_with_an_ed25519_key_signs_base64_verifiable_by_the_public_key():
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    key = signing_key(TEST_ED25519_PEM)
    p = params_of(encode_order(order(), INST, "k", key, 1, 5000))
    payload = "&".join(f"{k}={v}" for k, v in p.items() if k != "signature")
    public = load_pem_private_key(TEST_ED25519_PEM.encode(), None).public_key()
    public.verify(base64.b64decode(p["signature"]), payload.encode())     # raises if not


def test_encode_cancel_without_a_secret_has_neither_key_nor_signature():
    p = params_of(encode_cancel("BTCUSDT", "o1", "k", None, 1, 7, 5000))
    assert p == {"origClientOrderId": "o1", "recvWindow": 5000, "symbol": "BTCUSDT",
                 "timestamp": 1}


@settings(max_examples=400, deadline=None)
@given(st.integers(-10**12, 10**12),
       st.sampled_from(["0.01", "0.00001", "1", "10", "0.5", "0.025", "100", "0.00000001",
                        "1E+1", "0.10", "5.0"]))
def test_grid_text_equals_instrument_text_for_any_count(n, step):
    inst = Instrument("v", "S", tick=step, lot=step)
    assert _Grid(step).text(n) == inst.price_text(n) == inst.qty_text(n)


# -- end to end against the simulator --------------------------------------------------------------
class Recorder:
    """A VenueListener that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        if not name.startswith("on_"):
            raise AttributeError(name)
        return lambda *a: self.calls.append((name, *a))

    def of(self, kind: str, coid: str | None = None) -> list[tuple]:
        return [c for c in self.calls if c[0] == kind and (coid is None or c[1] == coid
                                                            or (kind == "on_fill"
                                                                and c[1].client_order_id == coid))]

    def fills(self, coid: str) -> list:
        return [c[1] for c in self.calls if c[0] == "on_fill" and c[1].client_order_id == coid]


async def until(cond, timeout=5.0, what=""):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.005)


class SkewedClock(LiveClock):
    def __init__(self, skew_ns: int) -> None:
        self.skew = skew_ns

    def time_ns(self) -> int:
        return time.time_ns() + self.skew


KEYS = {"hmac": (TEST_API_KEY, TEST_SECRET), "ed25519": (TEST_ED25519_API_KEY, TEST_ED25519_PEM)}


@pytest.fixture(params=sorted(KEYS))
def key_kind(request) -> str:
    """Every end-to-end case runs with both key types: HMAC (each request signed) and Ed25519
    (the connection logs on once with session.logon; orders and queries go unsigned)."""
    return request.param


def run(body, *, inst=INST, key="hmac", **client_kw):
    """A paused simulator with a book, a connected client; body(sim, client, recorder)."""
    async def main():
        sim = ExchangeSimulator(["binance"], speed=0, paused=True, ping_interval=None)
        await sim.start()
        sim.step("binance", 300)
        rec = Recorder()
        kw = dict(url=sim.ws_url("binance") + "/ws-api/v3", limiter=RateLimiter("binance"),
                  recv_window_ms=600, ack_grace_ms=200, check_interval_s=0.02,
                  backoff_initial_s=0.02)
        kw.update(client_kw)
        api_key, secret = KEYS[key]
        client = BinanceExecution({inst.symbol: inst},
                                  Credentials("binance", api_key, Secret(secret)), **kw)
        client.set_listener(rec)
        try:
            await client.start(5)
            await asyncio.wait_for(body(sim, client, rec), 20)
        finally:
            await client.close()
            await sim.close()
    uvloop.run(main())


def best(sim, side: int) -> tuple[int, int]:
    """(ticks, lots) of the best level of the simulator's book, on INST's grid."""
    b = sim.venues["binance"].book("BTCUSDT")
    t, q = b.depth_ticks(side, 1).tolist()[0]
    px = Decimal(t * b.tick_units).scaleb(-b.price_decimals)
    qty = Decimal(q * b.lot_units).scaleb(-b.size_decimals)
    return INST.ticks(px), INST.round_lots(qty)


def test_market_buy_is_accepted_and_filled_across_levels_with_fees_in_quote(key_kind):
    async def body(sim, client, rec):
        client.submit(order("m1", type=OrderType.MARKET, qty=500_000, price=0))   # 5 BTC
        await until(lambda: sum(f.qty for f in rec.fills("m1")) == 500_000, what="all fills")
        fills = rec.fills("m1")
        assert len(rec.of("on_order_accepted", "m1")) == 1
        assert len(fills) > 1 and len({f.trade_id for f in fills}) == len(fills)
        prices = [f.price for f in fills]
        assert prices == sorted(prices)                      # walked up the asks
        for f in fills:                                      # commission paid in BTC
            assert f.fee == pytest.approx(INST.qty(f.qty) * 0.001 * INST.price(f.price))
            assert f.liquidity == "taker" and f.trade_id.startswith("BTCUSDT:")
        sim_order = next(iter(sim.orders.orders.values()))
        assert sim_order.status == "FILLED" and sim_order.client_id == "m1"
    run(body, key=key_kind)


def test_sell_fee_is_the_quote_commission_as_charged(key_kind):
    async def body(sim, client, rec):
        client.submit(order("s1", side=Side.SELL, type=OrderType.MARKET, qty=10_000, price=0))
        await until(lambda: sum(f.qty for f in rec.fills("s1")) == 10_000)
        trades = {f"BTCUSDT:{t.trade_id}": t for t in sim.orders.trades}
        for f in rec.fills("s1"):
            t = trades[f.trade_id]
            assert t.commission_asset == "USDT" and f.fee == float(t.commission)
    run(body, key=key_kind)


def test_other_commission_asset_is_kept_unconverted_without_a_converter(key_kind):
    async def body(sim, client, rec):
        sim.orders.accounts[client._api_key].fee_asset = "BNB"
        client.submit(order("b1", type=OrderType.MARKET, qty=1000, price=0))
        await until(lambda: rec.fills("b1"))
        assert rec.fills("b1")[0].fee == 0.0 and client.unconverted_fees["BNB"] > 0
    run(body, key=key_kind)


def test_limit_that_crosses_part_of_the_book_fills_partially_and_rests(key_kind):
    async def body(sim, client, rec):
        ask, ask_lots = best(sim, 1)
        client.submit(order("p1", qty=ask_lots + 100_000, price=ask))   # more than the level
        await until(lambda: rec.fills("p1"), what="a partial fill")
        await asyncio.sleep(0.05)
        assert sum(f.qty for f in rec.fills("p1")) == ask_lots
        assert all(f.price == ask for f in rec.fills("p1"))
        assert not rec.of("on_order_canceled", "p1") and not rec.of("on_order_expired", "p1")
        o = sim.orders.by_client[(client._api_key, "BTCUSDT", "p1")]
        assert o.status == "PARTIALLY_FILLED"
    run(body, key=key_kind)


def test_ioc_remainder_is_reported_expired(key_kind):
    async def body(sim, client, rec):
        ask, ask_lots = best(sim, 1)
        client.submit(order("i1", qty=ask_lots + 1000, price=ask, tif=TimeInForce.IOC))
        await until(lambda: rec.of("on_order_expired", "i1"), what="expiry")
        assert sum(f.qty for f in rec.fills("i1")) == ask_lots
    run(body, key=key_kind)


def test_resting_limit_is_canceled_on_request(key_kind):
    async def body(sim, client, rec):
        client.submit(order("c1", side=Side.SELL, qty=1000, price=7_000_000))
        await until(lambda: rec.of("on_order_accepted", "c1"))
        client.cancel(order("c1", side=Side.SELL, qty=1000, price=7_000_000))
        await until(lambda: rec.of("on_order_canceled", "c1"), what="cancel")
        await asyncio.sleep(0.05)
        assert len(rec.of("on_order_canceled", "c1")) == 1       # answer and event: once
        assert sim.orders.by_client[(client._api_key, "BTCUSDT", "c1")].status == "CANCELED"
    run(body, key=key_kind)


def test_cancel_of_an_unknown_order_is_rejected_with_binance_code(key_kind):
    async def body(sim, client, rec):
        client.cancel(order("nope"))
        await until(lambda: rec.of("on_cancel_rejected", "nope"))
        assert "-2011" in rec.of("on_cancel_rejected", "nope")[0][2]
    run(body, key=key_kind)


def test_insufficient_balance_is_rejected_with_binance_code_and_message(key_kind):
    async def body(sim, client, rec):
        client.submit(order("r1", qty=10_000_000, price=6_000_000))      # 100 BTC x 60 000
        await until(lambda: rec.of("on_order_rejected", "r1"))
        reason = rec.of("on_order_rejected", "r1")[0][2]
        assert reason == ("binance -2010: Account has insufficient balance for requested "
                          "action.")
        assert not rec.of("on_order_accepted", "r1")
    run(body, key=key_kind)


def test_price_off_the_venue_tick_is_rejected_as_filter_failure(key_kind):
    fine = Instrument("binance", "BTCUSDT", tick="0.001", lot="0.00001", base="BTC",
                      quote="USDT")

    async def body(sim, client, rec):
        client.submit(Order("f1", "binance", "BTCUSDT", Side.SELL, OrderType.LIMIT, 1000,
                            price=70_000_005))                          # 70000.005
        await until(lambda: rec.of("on_order_rejected", "f1"))
        assert rec.of("on_order_rejected", "f1")[0][2] == \
            "binance -1013: Filter failure: PRICE_FILTER"
    run(body, key=key_kind, inst=fine)


def test_stale_timestamp_is_rejected_as_outside_recv_window(key_kind):
    async def body(sim, client, rec):
        client.clock = SkewedClock(-5_000_000_000)          # our clock 5 s behind
        client.submit(order("t1", side=Side.SELL, price=7_000_000))
        await until(lambda: rec.of("on_order_rejected", "t1"))
        assert "-1021" in rec.of("on_order_rejected", "t1")[0][2]
    run(body, key=key_kind)


def test_unsupported_order_is_rejected_at_submit_and_never_sent(key_kind):
    async def body(sim, client, rec):
        n = len(sim.orders.requests)
        client.submit(order("g1", tif=TimeInForce.GTD, expire_ns=1))
        assert "GTD" in rec.of("on_order_rejected", "g1")[0][2]
        await asyncio.sleep(0.05)
        assert len(sim.orders.requests) == n
    run(body, key=key_kind)


def test_order_over_the_local_order_count_limit_is_rejected_without_sending(key_kind):
    async def body(sim, client, rec):
        for i in range(4):
            client.submit(order(f"q{i}", side=Side.SELL, price=7_000_000 + i))
        assert "order rate limit" in rec.of("on_order_rejected", "q3")[0][2]
        await until(lambda: len(rec.of("on_order_accepted")) == 3)
        assert sum(r["method"] == "order.place" for r in sim.orders.requests) == 3
    run(body, key=key_kind, order_limits=OrderCountLimiter([(3, 10.0, "SECOND", 10)], margin=1.0))


def test_dropped_order_is_looked_up_after_recv_window_and_reported_never_placed(key_kind):
    async def body(sim, client, rec):
        sim.orders.inject(OrderFault("drop_request"))
        client.submit(order("d1", side=Side.SELL, price=7_000_000))
        await until(lambda: rec.of("on_order_rejected", "d1"), 5, "the lost order resolved")
        assert "never placed" in rec.of("on_order_rejected", "d1")[0][2]
        assert client.health.never_placed == 1
        assert ("d1" not in {o.client_id for o in sim.orders.orders.values()})
    run(body, key=key_kind)


def test_lost_answer_is_covered_by_the_user_data_event_once(key_kind):
    async def body(sim, client, rec):
        sim.orders.inject(OrderFault("drop_response"))
        client.submit(order("a1", side=Side.SELL, price=7_000_000))
        await until(lambda: rec.of("on_order_accepted", "a1"))
        await asyncio.sleep(1.0)                       # past recvWindow + grace: no lookup needed
        assert len(rec.of("on_order_accepted", "a1")) == 1
        assert not rec.of("on_order_rejected", "a1")
    run(body, key=key_kind)


def test_connection_dropped_after_accepting_delivers_fills_once_on_reconnect(key_kind):
    async def body(sim, client, rec):
        sim.orders.inject(OrderFault("disconnect_after_accept"))
        client.submit(order("x1", type=OrderType.MARKET, qty=300_000, price=0))
        await until(lambda: client.health.disconnects == 1, what="the drop")
        await until(lambda: sum(f.qty for f in rec.fills("x1")) == 300_000, 5,
                    "fills found by reconciliation")
        fills = rec.fills("x1")
        assert len({f.trade_id for f in fills}) == len(fills)
        assert client.health.reconciled_fills == len(fills) > 1
        assert len(rec.of("on_order_accepted", "x1")) == 1
        want = sorted(f"BTCUSDT:{t.trade_id}" for t in sim.orders.trades)
        assert sorted(f.trade_id for f in fills) == want
    run(body, key=key_kind)


def test_fills_made_while_disconnected_arrive_once_and_earlier_ones_are_not_repeated(key_kind):
    async def body(sim, client, rec):
        ask, ask_lots = best(sim, 1)
        client.submit(order("w1", qty=ask_lots + 50_000, price=ask))
        await until(lambda: rec.fills("w1"))
        first = [f.trade_id for f in rec.fills("w1")]
        client.disconnect()                 # no await until the fill: its event is lost
        sim.orders._taken.clear()           # the level is offered again: the order fills more
        assert sim.orders.match_now() >= 1
        await until(lambda: client.health.disconnects == 1, what="the drop noticed")
        await client.wait_ready(5)
        await until(lambda: sum(f.qty for f in rec.fills("w1")) > ask_lots, 5, "missed fill")
        ids = [f.trade_id for f in rec.fills("w1")]
        assert ids[:len(first)] == first and len(set(ids)) == len(ids)
        assert sorted(ids) == sorted(f"BTCUSDT:{t.trade_id}" for t in sim.orders.trades)
        assert client.health.reconciled_fills >= 1
    run(body, key=key_kind)


def test_open_orders_and_fills_since_read_the_venue(key_kind):
    async def body(sim, client, rec):
        client.submit(order("l1", side=Side.SELL, qty=1000, price=7_000_000))
        client.submit(order("l2", type=OrderType.MARKET, qty=1000, price=0))
        await until(lambda: rec.of("on_order_accepted", "l1") and rec.fills("l2"))
        opens = await client.open_orders()
        assert [(o.client_order_id, o.qty, o.price, o.side) for o in opens] == \
            [("l1", 1000, 7_000_000, Side.SELL)]
        fills = await client.fills_since(time.time_ns() - 60_000_000_000)
        assert [f.trade_id for f in fills] == [f.trade_id for f in rec.fills("l2")]
        assert all(f.client_order_id == "l2" for f in fills)
    run(body, key=key_kind)


def test_repr_shows_neither_key_nor_secret():
    c = BinanceExecution({"BTCUSDT": INST}, Credentials("binance", TEST_API_KEY,
                                                        Secret(TEST_SECRET)))
    assert TEST_SECRET not in repr(c) and TEST_API_KEY not in repr(c)


def test_venue_order_count_refusal_is_a_rejection_and_later_orders_wait_locally(key_kind):
    async def body(sim, client, rec):
        for i in range(52):
            client.submit(order(f"n{i}", side=Side.SELL, qty=100, price=7_000_000 + i))
        await until(lambda: rec.of("on_order_rejected", "n50"), what="the venue's 429")
        assert rec.of("on_order_rejected", "n50")[0][2].startswith("binance -1015: Too many "
                                                                     "new orders")
        client.submit(order("after", side=Side.SELL, qty=100, price=7_100_000))
        assert "order rate limit" in rec.of("on_order_rejected", "after")[0][2]
        assert sum(r["method"] == "order.place" for r in sim.orders.requests) == 52
    run(body, key=key_kind, order_limits=OrderCountLimiter([(1000, 10.0, "SECOND", 10)], margin=1.0))


def test_from_env_reads_the_credentials_of_its_venue_name(monkeypatch):
    monkeypatch.setenv("TRADECORE_BINANCE_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("TRADECORE_BINANCE_API_SECRET", TEST_SECRET)
    c = BinanceExecution.from_env({"BTCUSDT": INST}, limiter=RateLimiter("binance"))
    assert c._api_key == TEST_API_KEY and TEST_SECRET not in repr(c)
    monkeypatch.delenv("TRADECORE_BINANCE_API_SECRET")
    with pytest.raises(ValueError, match="TRADECORE_BINANCE_API_SECRET is not set"):
        BinanceExecution.from_env({"BTCUSDT": INST})


def test_other_commission_asset_goes_through_the_fee_converter(key_kind):
    seen = []

    def bnb_to_usdt(asset, amount, ts_ns):
        seen.append((asset, amount, ts_ns))
        return amount * 500.0

    async def body(sim, client, rec):
        sim.orders.accounts[client._api_key].fee_asset = "BNB"
        client.submit(order("v1", type=OrderType.MARKET, qty=1000, price=0))
        await until(lambda: rec.fills("v1"))
        f = rec.fills("v1")[0]
        t = sim.orders.trades[0]
        assert seen[0][:2] == ("BNB", float(t.commission)) and seen[0][2] == f.ts_ns
        assert f.fee == pytest.approx(float(t.commission) * 500.0)
        assert not client.unconverted_fees
    run(body, key=key_kind, fee_converter=bnb_to_usdt)


def test_ed25519_client_logs_on_once_then_sends_orders_cancels_and_queries_unsigned():
    async def body(sim, client, rec):
        assert client.key_kind == "ed25519" and client.session_auth
        client.submit(order("e1", side=Side.SELL, qty=1000, price=7_000_000))
        await until(lambda: rec.of("on_order_accepted", "e1"))
        client.cancel(order("e1", side=Side.SELL, qty=1000, price=7_000_000))
        await until(lambda: rec.of("on_order_canceled", "e1"), what="cancel")
        assert await client.open_orders() == []
        reqs = [(r["method"], r["signed"]) for r in sim.orders.requests]
        assert reqs == [("session.logon", True), ("userDataStream.subscribe", False),
                        ("order.place", False), ("order.cancel", False),
                        ("openOrders.status", False)]
    run(body, key="ed25519")


def test_client_logs_on_again_after_the_venue_revokes_its_session():
    async def body(sim, client, rec):
        assert sim.orders.revoke_sessions(TEST_ED25519_API_KEY) == 1
        await until(lambda: client.health.connects == 2, what="the reconnect")
        await client.wait_ready(5)
        client.submit(order("r1", side=Side.SELL, qty=1000, price=7_000_000))
        await until(lambda: rec.of("on_order_accepted", "r1"))
        logons = [r for r in sim.orders.requests if r["method"] == "session.logon"]
        assert len(logons) == 2
    run(body, key="ed25519")


def test_from_env_takes_an_ed25519_private_key_pem_as_the_secret(monkeypatch):
    monkeypatch.setenv("TRADECORE_BINANCE_API_KEY", TEST_ED25519_API_KEY)
    monkeypatch.setenv("TRADECORE_BINANCE_API_SECRET", TEST_ED25519_PEM)
    c = BinanceExecution.from_env({"BTCUSDT": INST}, limiter=RateLimiter("binance"))
    assert c.key_kind == "ed25519" and c.session_auth
    body = TEST_ED25519_PEM.splitlines()[1]
    assert body not in repr(c) and body not in repr(vars(c))
