"""`tradecore live` end to end against the local exchange simulator on 127.0.0.1: public feeds
and the Binance WebSocket order API of the simulator, a strategy that rests one order and takes
another, a deliberate stop that cancels, and a "crash" (no cancel on stop) whose open order and
position the next start recovers from the journal and reconciles with the venue."""
from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest
import uvloop

from tradecore.config import ConfigError, parse
from tradecore.core.orders import OrderStatus, OrderType, Side, TimeInForce
from tradecore.live import live_node, run_live_trading
from tradecore.simulator import ExchangeSimulator
from tradecore.simulator.orders import TEST_API_KEY, TEST_SECRET
from tradecore.strategies.base import Strategy

ENV = {"TRADECORE_BINANCE_API_KEY": TEST_API_KEY, "TRADECORE_BINANCE_API_SECRET": TEST_SECRET}


def config(sim, journal: Path, **live) -> dict:
    return {
        "run": {"mode": "live", "journal": str(journal), "status_every_s": 0},
        "feeds": [{"venue": "binance", "exchange": "binance", "symbols": ["BTCUSDT"],
                   "ws_url": sim.ws_url("binance"), "rest_url": sim.rest_url,
                   "order_url": sim.ws_url("binance") + "/ws-api/v3"}],
        "instruments": {"binance:BTCUSDT": {"tick": "0.01", "lot": "0.00001", "base": "BTC",
                                            "quote": "USDT", "taker_fee": 0.001}},
        "live": live,
    }


class RestAndTake(Strategy):
    """On the first synced book: a limit buy 3% under the bid (rests) and a 0.001 BTC IOC buy
    at the ask (fills)."""
    books = (("binance", "BTCUSDT"),)

    def __init__(self) -> None:
        super().__init__("probe")
        self.sent: list = []

    def on_book(self, venue, symbol, book) -> None:
        if self.sent or book.best_bid() is None or book.best_ask() is None:
            return
        inst = self.ctx.instrument(venue, symbol)
        bid, ask = book.best_bid()[0], book.best_ask()[0]
        rest = self.order(venue, symbol, Side.BUY, inst.lots("0.001"),
                          price=inst.ticks((Decimal(str(bid)) * Decimal("0.97"))
                                           .quantize(Decimal("0.01"))))
        take = self.order(venue, symbol, Side.BUY, inst.lots("0.001"),
                          price=inst.ticks(Decimal(str(ask))), tif=TimeInForce.IOC)
        self.sent = [self.submit(rest), self.submit(take)]


def session(tmp_path, seconds: float, *, env=ENV, strategy=True, before=None, **live):
    """One live process lifetime against one simulator; returns (node, result, simulator)."""
    async def main():
        sim = ExchangeSimulator(["binance"], speed=5.0, loop=True, ping_interval=None)
        await sim.start()
        try:
            if before is not None:
                await before(sim)
            cfg = parse(config(sim, tmp_path / "journal.log", **live), tmp_path)
            node = live_node(cfg, env)
            probe = RestAndTake()
            if strategy:
                node.add_strategy(probe)
            res = await run_live_trading(node, seconds)
            return node, res, sim, probe
        finally:
            await sim.close()
    return uvloop.run(main())


def test_live_session_places_fills_and_cancels_on_stop(tmp_path):
    node, res, sim, probe = session(tmp_path, 3.0)
    assert len(probe.sent) == 2 and all(o.status is not OrderStatus.DENIED for o in probe.sent)
    rest, take = (node.exec.oms.orders[o.client_order_id] for o in probe.sent)
    # the IOC bought at the ask at the venue; the engine's position is the venue's fills
    sim_take = sim.orders.by_client[(TEST_API_KEY, "BTCUSDT", take.client_order_id)]
    assert sim_take.status == "FILLED" and take.status is OrderStatus.FILLED
    assert node.exec.portfolio.lots("binance", "BTCUSDT") == take.qty
    # the resting buy was cancelled at the venue when the session stopped
    sim_rest = sim.orders.by_client[(TEST_API_KEY, "BTCUSDT", rest.client_order_id)]
    assert res.canceled_on_stop == 1 and res.open_after_stop == 0
    assert sim_rest.status == "CANCELED" and rest.status is OrderStatus.CANCELED
    # balances came from the venue account, not from the config
    assert res.balances["binance"]["USDT"] == pytest.approx(1_000_000)
    assert res.recovery.orders == 0


def test_restart_recovers_open_order_and_position_and_cancels_unknown(tmp_path):
    # first life: no cancel on stop, as after a crash the resting order stays at the venue
    node1, res1, sim1, probe = session(tmp_path, 3.0, cancel_on_stop=False)
    assert res1.open_after_stop == 1
    rest_id = probe.sent[0].client_order_id
    lots = node1.exec.portfolio.lots("binance", "BTCUSDT")
    assert lots == probe.sent[1].qty

    # the simulator of the second life must still hold the first life's open order and an
    # order placed by someone else: carry them over by placing them again on the new one
    async def seed(sim):
        await sim.venues["binance"].wait_book("BTCUSDT")
        sim.orders.place(sim.orders.accounts[TEST_API_KEY], {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.001", "price": str(sim1.orders.by_client[
                (TEST_API_KEY, "BTCUSDT", rest_id)].price), "newClientOrderId": rest_id})
        sim.orders.place(sim.orders.accounts[TEST_API_KEY], {
            "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
            "quantity": "0.01", "price": "2000", "newClientOrderId": "manual-1"})

    node2, res2, sim2, _ = session(tmp_path, 1.0, strategy=False, before=seed)
    rep = res2.recovery
    assert rep.orders == 2 and rep.open_after_replay == 1
    assert node2.exec.portfolio.lots("binance", "BTCUSDT") == lots       # from the journal
    assert rep.canceled_unknown == ["manual-1"]
    assert sim2.orders.by_client[(TEST_API_KEY, "BTCUSDT", "manual-1")].status == "CANCELED"
    # the recovered resting order was ours: tracked, then cancelled on this deliberate stop
    assert res2.canceled_on_stop == 1
    assert node2.exec.oms.orders[rest_id].status is OrderStatus.CANCELED


def test_live_refuses_config_without_journal(tmp_path):
    sim_like = type("S", (), {"ws_url": lambda self, v: "ws://127.0.0.1:1/x",
                              "rest_url": "http://127.0.0.1:1"})()
    data = config(sim_like, tmp_path / "j.log")
    del data["run"]["journal"]
    with pytest.raises(ConfigError, match="run.journal"):
        parse(data, tmp_path)


def test_live_node_refuses_a_venue_without_keys(tmp_path):
    sim_like = type("S", (), {"ws_url": lambda self, v: "ws://127.0.0.1:1/x",
                              "rest_url": "http://127.0.0.1:1"})()
    cfg = parse(config(sim_like, tmp_path / "j.log"), tmp_path)
    from tradecore.venues.credentials import CredentialsError
    with pytest.raises(CredentialsError) as e:
        live_node(cfg, {})
    assert "TRADECORE_BINANCE_API_KEY" in str(e.value)


def test_cli_live_trades_against_the_simulator_and_prints_the_summary(tmp_path, monkeypatch,
                                                                      capsys):
    """`tradecore live --config F --i-understand-live-trading --seconds N`, keys from the
    environment, the simulator on its own loop in a thread."""
    import threading

    from tradecore.cli import main

    ready, stop = threading.Event(), None
    box = {}

    def serve():
        async def run():
            nonlocal stop
            stop = asyncio.Event()
            sim = ExchangeSimulator(["binance"], speed=5.0, loop=True, ping_interval=None)
            await sim.start()
            box["sim"] = sim
            ready.set()
            await stop.wait()
            await sim.close()
        box["loop"] = asyncio.new_event_loop()
        box["loop"].run_until_complete(run())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(10)
    try:
        sim = box["sim"]
        cfg_file = tmp_path / "live.toml"
        cfg_file.write_text(f"""
[run]
mode = "live"
journal = "{tmp_path / 'journal.log'}"
status_every_s = 0

[[feeds]]
venue = "binance"
exchange = "binance"
symbols = ["BTCUSDT"]
ws_url = "{sim.ws_url('binance')}"
rest_url = "{sim.rest_url}"
order_url = "{sim.ws_url('binance')}/ws-api/v3"

[instruments."binance:BTCUSDT"]
tick = "0.01"
lot = "0.00001"
base = "BTC"
quote = "USDT"
""")
        for k, v in ENV.items():
            monkeypatch.setenv(k, v)
        rc = main(["live", "--config", str(cfg_file), "--i-understand-live-trading",
                   "--seconds", "1.5"])
        out = capsys.readouterr()
        assert rc == 0, out.err
        assert "recovered 0 orders" in out.out and "reconciled with binance" in out.out
        assert TEST_SECRET not in out.out + out.err and TEST_API_KEY not in out.out + out.err
    finally:
        box["loop"].call_soon_threadsafe(stop.set)
        t.join(10)
