"""The simulator as a server: pings, looping replay, loopback only, clean shutdown, routing,
the control endpoints and the command line."""
from __future__ import annotations

import argparse
import asyncio
import time
import socket

import orjson
import pytest
import uvloop

from _simclient import connect, rest_get, rest_post, run, until
from tradecore.simulator import ExchangeSimulator
from tradecore.simulator.cli import add_parser, run as cli_run


def test_drops_client_when_it_does_not_answer_pings():
    async def body(sim):
        good = await connect(sim.ws_url("binance") + "/stream?streams=btcusdt@trade")
        bad = await connect(sim.ws_url("binance") + "/stream?streams=btcusdt@trade",
                            enable_auto_pong=False)
        await asyncio.wait_for(bad.disconnected, 3)
        assert bad.pings >= 1 and bad.close_code is not None
        assert not good.disconnected.done()
        assert any(e["event"] == "no_pong_dropped" for e in sim.log)
        assert [c["id"] for c in sim.connections()] == [1]
    run(body, speed=0, paused=True, ping_interval=0.1, ping_timeout=0.25)


def test_keeps_silent_client_when_ping_timeout_disabled():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/ws", enable_auto_pong=False)
        await until(lambda: c.pings >= 3, 3, "three pings")
        assert not c.disconnected.done()
    run(body, speed=0, paused=True, ping_interval=0.05, ping_timeout=None)


def test_closes_clients_with_1001_when_replay_loops():
    async def body(sim):
        c = await connect(sim.ws_url("okx"))
        c.send_json({"op": "subscribe", "args": [{"channel": "trades", "instId": "BTC-USDT"}]})
        await until(lambda: c.frames)
        sim.resume()
        await asyncio.wait_for(c.disconnected, 5)
        assert c.close_code.value == 1001 and c.close_reason == "replay restarted"
        await until(lambda: sim.venues["okx"].passes >= 2, 5, "a second pass")
        assert any(e["event"] == "end_of_pass" for e in sim.log)
    run(body, venues=("okx",), speed=0, paused=True, loop=True)


def test_rejects_host_when_not_loopback():
    with pytest.raises(ValueError, match="loopback"):
        ExchangeSimulator(["binance"], host="0.0.0.0")
    with pytest.raises(ValueError, match="venue"):
        ExchangeSimulator(["nasdaq"])
    with pytest.raises(ValueError, match="speed"):
        ExchangeSimulator(["okx"], speed=-1)
    with pytest.raises(ValueError, match="not simulated"):
        ExchangeSimulator(["okx"], files={"kraken": "x"})
    with pytest.raises(ValueError, match="does not exist"):
        ExchangeSimulator(["okx"], files={"okx": "/nonexistent.jsonl"})


def test_ports_are_released_when_simulator_closed():
    async def main():
        sim = ExchangeSimulator(["okx"], speed=0, paused=True)
        await sim.start()
        ws, rest = sim.ws_port, sim.rest_port
        c = await connect(sim.ws_url("okx"))
        await sim.close()
        await asyncio.wait_for(c.disconnected, 3)
        for port in (ws, rest):
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", port)) != 0
        await sim.close()                            # twice is fine
    uvloop.run(main())


def test_routes_unprefixed_paths_when_unambiguous():
    async def body(sim):
        base = f"ws://127.0.0.1:{sim.ws_port}"
        b = await connect(base + "/stream?streams=btcusdt@trade")
        o = await connect(base + "/ws/v5/public")
        assert {c["venue"] for c in sim.connections()} == {"binance", "okx"}
        with pytest.raises(Exception):
            await connect(base + "/nowhere")
        del b, o
    run(body, venues=("binance", "okx"), speed=0, paused=True)


def test_control_endpoints_report_and_steer_when_called():
    async def body(sim):
        st, _, b = await rest_get(sim, "/_sim/status")
        doc = orjson.loads(b)
        assert st == 200 and doc["paused"] and doc["venues"]["binance"]["pos"] == 0
        await rest_post(sim, "/_sim/speed", {"speed": 0})
        await rest_post(sim, "/_sim/resume", {})
        await sim.wait_finished("binance", 15)
        _, _, b = await rest_get(sim, "/_sim/status")
        v = orjson.loads(b)["venues"]["binance"]
        assert v["finished"] and v["books"]["BTCUSDT"]["valid"]
        st, b = await rest_post(sim, "/_sim/speed", {"speed": "fast"})
        assert st == 400
    run(body, speed=1.0, paused=True)


def test_paces_replay_when_speed_is_finite():
    async def body(sim):
        c = await connect(sim.ws_url("okx"))
        c.send_json({"op": "subscribe", "args": [{"channel": "books", "instId": i} for i in
                                                 ("BTC-USDT", "BTC-USD-220527",
                                                  "UNI-USD-SWAP")]})
        v = sim.venues["okx"]

        def replayed_s() -> float:
            return (v.events[v.pos - 1].ts - v.events[0].ts) / 1e9 if v.pos else 0.0

        # the replay keeps a wall-clock schedule (a stalled loop catches up), so between two
        # samples it advances ~4x the wall time between them, whatever happened before
        await asyncio.sleep(0.2)
        t0, r0 = time.monotonic(), replayed_s()
        await asyncio.sleep(0.5)
        t1, r1 = time.monotonic(), replayed_s()
        assert abs((r1 - r0) - 4 * (t1 - t0)) <= 0.6           # ~4x real time
        assert not v.finished.is_set()
    run(body, venues=("okx",), speed=4.0)


def test_cli_parses_options_when_added_to_a_parser():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command")
    add_parser(sub)
    a = p.parse_args(["simulate-exchange", "--venue", "binance", "--venue", "kraken",
                      "--speed", "0", "--loop", "--ws-port", "0", "--rest-port", "0",
                      "--file", "kraken=/tmp/x.jsonl"])
    assert a.venues == ["binance", "kraken"] and a.speed == 0 and a.loop
    assert a.file == ["kraken=/tmp/x.jsonl"] and a.func is cli_run
    with pytest.raises(SystemExit):
        p.parse_args(["simulate-exchange", "--host", "0.0.0.0"])


def test_cli_fails_cleanly_when_file_missing(capsys):
    p = argparse.ArgumentParser()
    add_parser(p.add_subparsers(dest="command"))
    a = p.parse_args(["simulate-exchange", "--venue", "okx", "--file", "/nonexistent.jsonl",
                      "--rest-port", "0"])
    assert cli_run(a) == 2
    assert "does not exist" in capsys.readouterr().err
    a = p.parse_args(["simulate-exchange", "--venue", "okx", "--venue", "kraken",
                      "--file", "/x.jsonl"])
    assert cli_run(a) == 2


def test_clients_get_close_frame_when_simulator_closes():
    async def main():
        sim = ExchangeSimulator(["okx"], speed=0, paused=True)
        await sim.start()
        c = await connect(sim.ws_url("okx"))
        await sim.close()
        await asyncio.wait_for(c.disconnected, 3)
        assert c.close_code is not None and c.close_code.value == 1001
    uvloop.run(main())
