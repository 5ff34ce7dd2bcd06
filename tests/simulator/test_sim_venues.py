"""Kraken, Coinbase and OKX through the simulator: subscriptions get snapshots of the
simulator's book in the venue's format, and the normalizers accept snapshot + recorded updates
with every checksum right and no sequence gap."""
from __future__ import annotations

import asyncio

import orjson
import pytest
from picows import WSMsgType

from _simclient import connect, rest_get, run, settle, until
from tradecore.simulator import Fault
from tradecore.venues.coinbase.normalize import CoinbaseNormalizer
from tradecore.venues.kraken.normalize import KrakenNormalizer
from tradecore.venues.okx.normalize import OkxNormalizer

PAIRS = ["XMR/USD", "XBT/CHF", "ETH/CHF", "ADA/XBT", "SC/EUR"]


def _tops(norm) -> dict:
    return {k: (v["best_bid"], v["best_ask"]) for k, v in norm.top_of_books().items()}


def _sim_tops(sim, venue: str) -> dict:
    return {k: (v["best_bid"], v["best_ask"])
            for k, v in sim.venues[venue].status()["books"].items()}


def _feed(norm, frames) -> None:
    for f in frames:
        norm.on_frame(f, "c", 0)


# -- Kraken ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [1000, 100, 25, 10])
def test_kraken_checksums_hold_when_subscribed_mid_stream(depth):
    async def body(sim):
        sim.step("kraken", 900)
        c = await connect(sim.ws_url("kraken"))
        c.send_json({"event": "subscribe", "pair": PAIRS,
                     "subscription": {"name": "book", "depth": depth}})
        await until(lambda: sum(b'"subscriptionStatus"' in f for f in c.frames) == 5)
        sim.resume()
        await sim.wait_finished("kraken", 10)
        await settle(c)
        msgs = c.json()
        assert orjson.loads(c.frames[0])["event"] == "systemStatus"
        status = [m for m in msgs if isinstance(m, dict) and m.get("event") ==
                  "subscriptionStatus"]
        assert {m["channelName"] for m in status} == {f"book-{depth}"}
        snaps = [m for m in msgs if isinstance(m, list) and "as" in m[1]]
        assert len(snaps) == 5 and all(len(m[1]["bs"]) <= depth for m in snaps)
        n = KrakenNormalizer()
        _feed(n, c.frames)
        s = n.stats
        assert s.checksums_bad == 0 and not s.errors and not n.unrecovered(), s.as_dict()
        assert s.checksums_ok > (300 if depth >= 100 else 100)
        # the client's book ends where the exchange's did (top of book)
        assert _tops(n) == _sim_tops(sim, "kraken")
    run(body, venues=("kraken",), speed=0, paused=True)


def test_kraken_frames_are_recorded_bytes_when_subscribed_before_replay():
    async def body(sim):
        c = await connect(sim.ws_url("kraken"))
        c.send_json({"event": "subscribe", "pair": PAIRS,
                     "subscription": {"name": "book", "depth": 1000}})
        await until(lambda: len(c.frames) == 6)
        status = [orjson.loads(f) for f in c.frames[1:]]
        assert {m["channelID"] for m in status} == {992, 1920, 496, 464, 1360}  # as recorded
        sim.resume()
        await sim.wait_finished("kraken", 10)
        await settle(c)
        want = [e.payload for e in sim.venues["kraken"].events if e.topic
                and e.topic.split("|")[-2].startswith("book-")]
        assert c.frames[6:] == want
    run(body, venues=("kraken",), speed=0, paused=True)


def test_kraken_answers_ping_and_sends_heartbeat_when_idle():
    async def body(sim):
        c = await connect(sim.ws_url("kraken"))
        c.send_json({"event": "ping", "reqid": 42})
        await until(lambda: any(b'"pong"' in f for f in c.frames))
        assert {"event": "pong", "reqid": 42} in c.json()
        await until(lambda: b'{"event":"heartbeat"}' in c.frames, 2, "a heartbeat")
        c.send_json({"event": "subscribe", "pair": ["DOGE/EUR"],
                     "subscription": {"name": "book"}})
        c.send_json({"event": "subscribe", "pair": ["XMR/USD"],
                     "subscription": {"name": "book", "depth": 7}})
        await until(lambda: sum(b'"error"' in f for f in c.frames) == 2)
        errs = [m["errorMessage"] for m in c.json() if isinstance(m, dict)
                and m.get("status") == "error"]
        assert errs == ["Currency pair not supported DOGE/EUR",
                        "Subscription depth not supported"]
    run(body, venues=("kraken",), speed=0, paused=True, heartbeat_interval=0.1)


def test_kraken_checksum_fails_when_updates_skipped():
    """Kraken has no sequence numbers: a lost update shows only when a later checksum fails,
    and the checksum covers the top 10 levels, so a lost update deeper than that goes unseen
    until the top moves through it. Ten lost updates are enough to be seen here."""
    async def body(sim):
        sim.step("kraken", 900)
        c = await connect(sim.ws_url("kraken"))
        c.send_json({"event": "subscribe", "pair": ["XMR/USD"],
                     "subscription": {"name": "book", "depth": 1000}})
        await until(lambda: len(c.frames) >= 3)
        rec = sim.inject(Fault("skip", venue="kraken", symbol="XMR/USD", count=10))
        sim.step("kraken", 1200)
        await settle(c)
        assert rec.done and [e["action"] for e in rec.effects] == ["skipped"] * 10
        n = KrakenNormalizer()
        _feed(n, c.frames)
        assert n.stats.checksums_bad == 1 and n.unrecovered() == [("c", "XMR/USD")]
    run(body, venues=("kraken",), speed=0, paused=True)


# -- Coinbase -------------------------------------------------------------------------------------
def test_coinbase_books_have_no_gap_when_subscribed_mid_stream():
    async def body(sim):
        sim.step("coinbase", 400)
        c = await connect(sim.ws_url("coinbase"))
        c.send_json({"type": "subscribe", "product_ids": ["BTC-USD", "ETH-USD"],
                     "channel": "level2"})
        c.send_json({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "ticker"})
        c.send_json({"type": "subscribe", "channel": "heartbeats"})
        await until(lambda: len(c.frames) >= 5)
        sim.resume()
        await sim.wait_finished("coinbase", 10)
        await until(lambda: b'"heartbeats"' in c.frames[-1], 3, "a heartbeat after the end")
        msgs = c.json()
        assert [m["sequence_num"] for m in msgs] == list(range(len(msgs)))  # per connection
        assert [m["events"][0]["type"] for m in msgs[:2]] == ["snapshot", "snapshot"]
        assert msgs[2]["events"][0]["subscriptions"] == {"level2": ["BTC-USD", "ETH-USD"]}
        n = CoinbaseNormalizer()
        _feed(n, c.frames)
        assert n.stats.gaps == 0 and not n.stats.errors and not n.unrecovered()
        assert n.stats.levels > 10_000 and n.ticker_agree > 0
        assert _tops(n) == _sim_tops(sim, "coinbase")
    run(body, venues=("coinbase",), speed=0, paused=True, heartbeat_interval=0.2)


@pytest.mark.parametrize("kind,reason", [("skip", "sequence_gap"), ("duplicate", "duplicate")])
def test_coinbase_normalizer_sees_fault_when_injected(kind, reason):
    async def body(sim):
        sim.step("coinbase", 400)
        c = await connect(sim.ws_url("coinbase"))
        c.send_json({"type": "subscribe", "product_ids": ["BTC-USD"], "channel": "level2"})
        await until(lambda: len(c.frames) >= 2)
        rec = sim.inject(Fault(kind, venue="coinbase", count=2))
        sim.step("coinbase", 300)
        await settle(c)
        assert rec.done and len(rec.effects) == 2
        n = CoinbaseNormalizer()
        _feed(n, c.frames)
        assert n.stats.errors[reason] >= 1
    run(body, venues=("coinbase",), speed=0, paused=True)


# -- OKX ------------------------------------------------------------------------------------------
def test_okx_checksums_hold_when_subscribed_mid_stream():
    async def body(sim):
        sim.step("okx", 150)
        c = await connect(sim.ws_url("okx"))
        c.send_json({"op": "subscribe", "args": [{"channel": "books", "instId": i} for i in
                                                 ("BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP")]})
        await until(lambda: len(c.frames) >= 6)
        c.transport.send(WSMsgType.TEXT, b"ping")
        await until(lambda: b"pong" in c.frames)
        sim.resume()
        await sim.wait_finished("okx", 10)
        await settle(c)
        n = OkxNormalizer()
        _feed(n, c.frames)
        s = n.stats
        assert s.checksums_bad == 0 and not s.errors and not n.unrecovered(), s.as_dict()
        assert s.checksums_ok > 100
        assert _tops(n) == _sim_tops(sim, "okx")
    run(body, venues=("okx",), speed=0, paused=True)


def test_okx_checksum_fails_when_update_skipped():
    async def body(sim):
        sim.step("okx", 150)
        c = await connect(sim.ws_url("okx"))
        c.send_json({"op": "subscribe", "args": [{"channel": "books", "instId": "BTC-USDT"}]})
        await until(lambda: len(c.frames) >= 2)
        sim.inject(Fault("skip", venue="okx"))
        sim.resume()
        await sim.wait_finished("okx", 10)
        await settle(c)
        n = OkxNormalizer()
        _feed(n, c.frames)
        assert n.stats.checksums_bad == 1
    run(body, venues=("okx",), speed=0, paused=True)


def test_serves_every_venue_when_all_simulated_at_once():
    async def body(sim):
        for v in sim.venues:
            sim.step(v, 10)
        clients = {v: await connect(sim.ws_url(v) + ("/stream?streams=btcusdt@trade"
                                                       if v == "binance" else ""))
                   for v in sim.venues}
        await asyncio.sleep(0.05)
        assert {c["venue"] for c in sim.connections()} == set(sim.venues)
        del clients
    run(body, venues=("binance", "binance-usdm", "kraken", "coinbase", "okx"), speed=0,
        paused=True)


@pytest.mark.parametrize("answer", [True, False])
def test_kraken_pong_follows_answer_pings_when_stalled(answer):
    async def body(sim):
        c = await connect(sim.ws_url("kraken"))
        await until(lambda: c.frames)                       # systemStatus
        rec = sim.inject(Fault("stall", venue="kraken", seconds=0.4, answer_pings=answer))
        c.send_json({"event": "ping", "reqid": 1})
        c.transport.send_ping(b"p")
        await asyncio.sleep(0.2)
        got = b'{"event":"pong","reqid":1}' in c.frames
        assert got is answer and (c.pongs == 1) is answer
        await until(lambda: rec.done, 2)
    run(body, venues=("kraken",), speed=0, paused=True, heartbeat_interval=0.05)


def test_rest_backfills_published_trades_when_asked_on_each_venue():
    """Kraken Trades?since=, OKX history-trades, Coinbase products/{id}/ticker: the trades the
    stream has sent so far, never the ones still to come."""
    async def body(sim):
        for v in sim.venues:
            sim.step(v, len(sim.venues[v].events) // 2)
        _, _, b = await rest_get(sim, "/0/public/Trades?pair=SCEUR&since=0")
        k = orjson.loads(b)["result"]
        half = len(k["SCEUR"])
        assert 0 < half < 6 and int(k["last"]) > 0
        _, _, b = await rest_get(sim, f"/0/public/Trades?pair=SCEUR&since={k['last']}")
        assert orjson.loads(b)["result"]["SCEUR"] == []
        _, _, b = await rest_get(sim, "/api/v5/market/history-trades?instId=BTC-USDT&limit=5")
        o = orjson.loads(b)["data"]
        assert len(o) == 5 and [int(t["tradeId"]) for t in o] == \
            sorted((int(t["tradeId"]) for t in o), reverse=True)
        _, _, b = await rest_get(sim, "/api/v5/market/history-trades?instId=BTC-USDT&before="
                                      f"{o[1]['tradeId']}")
        assert [t["tradeId"] for t in orjson.loads(b)["data"]] == [o[0]["tradeId"]]
        _, _, b = await rest_get(sim, "/api/v3/brokerage/market/products/BTC-USD/ticker?"
                                      "limit=3")
        cb = orjson.loads(b)
        assert len(cb["trades"]) == 3 and cb["best_bid"] and cb["best_ask"]
        for v in sim.venues:
            sim.step(v, len(sim.venues[v].events))
        _, _, b = await rest_get(sim, "/0/public/Trades?pair=SCEUR&since=0")
        assert len(orjson.loads(b)["result"]["SCEUR"]) == 6 > half
    run(body, venues=("kraken", "okx", "coinbase"), speed=0, paused=True)
