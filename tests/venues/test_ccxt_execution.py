"""Order entry over ccxt REST, end to end: ccxt's real binance class with its spot URLs pointed
at the local exchange simulator on 127.0.0.1 (signed requests checked by the simulator), and
the error rules: rejects, 429 retried after the back-off, lost requests and lost answers looked
up by client order id so that an order is never placed twice."""
from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
import uvloop

from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderType, Side, TimeInForce
from tradecore.simulator import ExchangeSimulator
from tradecore.simulator.faults import Fault
from tradecore.simulator.orders import TEST_API_KEY, TEST_SECRET, OrderFault
from tradecore.venues.ccxt_execution import CcxtExecution, ccxt_exchange, ccxt_order_args
from tradecore.venues.credentials import Credentials, Secret
from tradecore.venues.ratelimit import RateLimiter

INST = Instrument("binance", "BTCUSDT", tick="0.01", lot="0.00001", base="BTC", quote="USDT",
                  min_notional="5")


def order(coid, side=Side.BUY, type=OrderType.LIMIT, qty=1000, price=7_000_000, **kw):
    return Order(coid, "binance", "BTCUSDT", side, type, qty, price=price, **kw)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def __getattr__(self, name):
        if not name.startswith("on_"):
            raise AttributeError(name)
        return lambda *a: self.calls.append((name, *a))

    def of(self, kind, coid):
        return [c for c in self.calls if c[0] == kind and c[1] == coid]

    def fills(self, coid):
        return [c[1] for c in self.calls if c[0] == "on_fill" and c[1].client_order_id == coid]


async def until(cond, timeout=5.0, what=""):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await asyncio.sleep(0.01)


def run(body, **kw):
    async def main():
        sim = ExchangeSimulator(["binance"], speed=0, paused=True, ping_interval=None)
        await sim.start()
        sim.step("binance", 300)
        rec = Recorder()
        ex = ccxt_exchange("binance", Credentials("binance", TEST_API_KEY, Secret(TEST_SECRET)),
                           rest_base=sim.rest_url, recv_window_ms=500)
        settings = dict(limiter=RateLimiter("binance"), recv_window_ms=500,
                        poll_interval_s=0.1)
        settings.update(kw)
        venue = CcxtExecution(ex, {"BTCUSDT": INST}, **settings)
        venue.set_listener(rec)
        try:
            await venue.start()
            await asyncio.wait_for(body(sim, venue, rec), 20)
        finally:
            await venue.close()
            await sim.close()
    uvloop.run(main())


def best_ask(sim) -> tuple[int, int]:
    b = sim.venues["binance"].book("BTCUSDT")
    t, q = b.depth_ticks(1, 1).tolist()[0]
    return (INST.ticks(Decimal(t * b.tick_units).scaleb(-b.price_decimals)),
            INST.round_lots(Decimal(q * b.lot_units).scaleb(-b.size_decimals)))


def test_limit_order_is_accepted_then_canceled():
    async def body(sim, venue, rec):
        venue.submit(order("c1", side=Side.SELL))
        await venue.drain()
        assert len(rec.of("on_order_accepted", "c1")) == 1
        vid = rec.of("on_order_accepted", "c1")[0][2]
        assert sim.orders.orders[int(vid)].client_id == "c1"
        venue.cancel(order("c1", side=Side.SELL))
        await venue.drain()
        assert len(rec.of("on_order_canceled", "c1")) == 1
        assert sim.orders.orders[int(vid)].status == "CANCELED"
    run(body)


def test_market_order_fills_come_from_the_answer_and_polling_does_not_repeat_them():
    async def body(sim, venue, rec):
        venue.submit(order("m1", type=OrderType.MARKET, qty=400_000, price=0))
        await venue.drain()
        fills = rec.fills("m1")
        assert sum(f.qty for f in fills) == 400_000 and len(fills) > 1
        assert sorted(f.trade_id for f in fills) == \
            sorted(f"BTCUSDT:{t.trade_id}" for t in sim.orders.trades)
        for f in fills:
            assert f.fee == pytest.approx(INST.qty(f.qty) * 0.001 * INST.price(f.price))
        await asyncio.sleep(0.35)                    # a few polls
        assert len(rec.fills("m1")) == len(fills) and venue.health.duplicate_fills == 0
    run(body)


def test_resting_order_fill_is_found_by_polling():
    async def body(sim, venue, rec):
        ask, lots = best_ask(sim)
        venue.submit(order("p1", qty=lots + 20_000, price=ask))
        await venue.drain()
        first = sum(f.qty for f in rec.fills("p1"))
        assert first == lots
        sim.orders._taken.clear()                    # the level is offered again
        sim.orders.match_now()
        await until(lambda: sum(f.qty for f in rec.fills("p1")) == lots + 20_000, 3,
                    "the polled fill")
        assert venue.health.polled_fills >= 1
        ids = [f.trade_id for f in rec.fills("p1")]
        assert len(set(ids)) == len(ids)
    run(body)


@pytest.mark.parametrize("o,cls", [
    (order("r1", qty=10_000_000, price=6_000_000), "InsufficientFunds"),
    # below the minimum notional: Binance -1013, which ccxt 4.5 raises as BadRequest
    (order("r2", qty=1, price=7_000_000), 'BadRequest: binance {"code":-1013,'),
])
def test_venue_refusals_are_rejections_naming_the_ccxt_error(o, cls):
    async def body(sim, venue, rec):
        venue.submit(o)
        await venue.drain()
        reason = rec.of("on_order_rejected", o.client_order_id)[0][2]
        assert reason.startswith(cls) and venue.health.retries == 0
    run(body)


def test_unsupported_order_is_rejected_before_any_request():
    async def body(sim, venue, rec):
        n = len(sim.orders.requests)
        venue.submit(order("u1", tif=TimeInForce.GTD, expire_ns=1))
        assert "GTD" in rec.of("on_order_rejected", "u1")[0][2]
        await asyncio.sleep(0.05)
        assert len(sim.orders.requests) == n
    run(body)


def test_http_429_backs_off_and_the_order_is_sent_again():
    async def body(sim, venue, rec):
        sim.inject(Fault("rest_429", venue="binance", retry_after=0))
        venue.submit(order("t1", side=Side.SELL))
        await venue.drain()
        assert len(rec.of("on_order_accepted", "t1")) == 1
        assert venue.health.retries == 1 and venue.limiter.stats.throttled_429 == 1
    run(body)


def test_lost_request_is_looked_up_and_sent_again_once_recv_window_passed():
    async def body(sim, venue, rec):
        sim.orders.inject(OrderFault("drop_request"))
        venue.submit(order("n1", side=Side.SELL))
        await venue.drain()
        assert len(rec.of("on_order_accepted", "n1")) == 1
        assert venue.health.lookups == 1 and venue.health.retries == 1
        assert [o.client_id for o in sim.orders.orders.values()] == ["n1"]
    run(body)


def test_lost_answer_is_found_by_lookup_and_the_order_is_not_placed_twice():
    async def body(sim, venue, rec):
        sim.orders.inject(OrderFault("drop_response"))
        venue.submit(order("n2", type=OrderType.MARKET, qty=1000, price=0))
        await venue.drain()
        assert len(rec.of("on_order_accepted", "n2")) == 1
        assert venue.health.lookups == 1 and venue.health.retries == 0
        assert [o.client_id for o in sim.orders.orders.values()] == ["n2"]
        await until(lambda: sum(f.qty for f in rec.fills("n2")) == 1000, 3, "its fill")
    run(body)


def test_cancel_of_an_unknown_order_is_a_cancel_rejection():
    async def body(sim, venue, rec):
        venue.cancel(order("zz"))
        await venue.drain()
        assert rec.of("on_cancel_rejected", "zz")[0][2].startswith("OrderNotFound")
    run(body)


def test_open_orders_and_fills_since_map_back_to_native_symbols():
    async def body(sim, venue, rec):
        venue.submit(order("o1", side=Side.SELL))
        venue.submit(order("o2", type=OrderType.MARKET, qty=1000, price=0))
        await venue.drain()
        opens = await venue.open_orders()
        assert [(o.client_order_id, o.symbol, o.qty, o.price) for o in opens] == \
            [("o1", "BTCUSDT", 1000, 7_000_000)]
        fills = await venue.fills_since(time.time_ns() - 60_000_000_000)
        assert [f.trade_id for f in fills] == [f.trade_id for f in rec.fills("o2")]
        assert fills[0].client_order_id == "o2"
    run(body)


@pytest.mark.parametrize("kw,want", [
    (dict(type=OrderType.LIMIT, tif=TimeInForce.IOC),
     ("limit", "buy", "0.01", "70000", {"timeInForce": "IOC"})),
    (dict(type=OrderType.MARKET, price=0), ("market", "buy", "0.01", None, {})),
    (dict(type=OrderType.LIMIT, post_only=True),
     ("limit", "buy", "0.01", "70000", {"timeInForce": "GTC", "postOnly": True})),
    (dict(type=OrderType.STOP_LIMIT, trigger_price=6_900_000),
     ("limit", "buy", "0.01", "70000", {"timeInForce": "GTC", "stopLossPrice": "69000"})),
    (dict(type=OrderType.TAKE_PROFIT, trigger_price=6_900_000, price=0),
     ("market", "buy", "0.01", None, {"takeProfitPrice": "69000"})),
])
def test_ccxt_order_args_carry_exact_text_and_the_unified_params(kw, want):
    typ, side, amount, price, params = ccxt_order_args(order("a1", **kw), INST)
    assert (typ, side, amount, price) == want[:4]
    assert {k: v for k, v in params.items() if "lientOrderId" not in k} == want[4]
    assert params["newClientOrderId"] == "a1"


@pytest.mark.parametrize("kw", [dict(tif=TimeInForce.GTD), dict(type=OrderType.TRAILING_STOP),
                                dict(reduce_only=True), dict(type=OrderType.MARKET,
                                                             tif=TimeInForce.FOK)])
def test_ccxt_order_args_refuse_what_the_unified_api_cannot_express(kw):
    with pytest.raises(ValueError):
        ccxt_order_args(order("a1", **kw), INST)
