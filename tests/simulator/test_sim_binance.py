"""The simulator speaks Binance: recorded frames byte for byte, REST snapshots consistent with the
stream at any moment, the SUBSCRIBE protocol, raw streams, trade backfill, USD-M futures."""
from __future__ import annotations

import asyncio
from functools import lru_cache

import orjson
import pytest

from _simclient import connect, rest_get, run, settle, until
from tradecore.data import SAMPLES
from tradecore.data.capture import WS, read_capture
from tradecore.venues.binance.normalize import BinanceNormalizer

SPOT = "hbt_spot_btcusdt_20240808.gz"
STREAMS = "btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker"


@lru_cache(maxsize=None)
def recorded(name: str) -> tuple[bytes, ...]:
    return tuple(r.payload for r in read_capture(SAMPLES / name) if r.kind == WS)


def _depth_u(frame: bytes) -> int | None:
    if b"depthUpdate" not in frame:
        return None
    return orjson.loads(frame)["data"]["u"]


def test_replays_recorded_frames_byte_identical_when_subscribed_by_url():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/stream?streams=" + STREAMS)
        sim.resume()
        await sim.wait_finished("binance", 15)
        want = recorded(SPOT)
        await until(lambda: len(c.frames) >= len(want), 10, "every recorded frame")
        assert c.frames == list(want)
    run(body, speed=0, paused=True)


def test_answers_subscribe_method_and_streams_when_subscribed_later():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/stream")
        c.send_json({"method": "SUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 1})
        await until(lambda: c.frames, what="SUBSCRIBE answer")
        assert orjson.loads(c.frames[0]) == {"result": None, "id": 1}
        c.send_json({"method": "LIST_SUBSCRIPTIONS", "id": 2})
        await until(lambda: len(c.frames) == 2)
        assert orjson.loads(c.frames[1]) == {"result": ["btcusdt@depth@100ms"], "id": 2}
        sim.step("binance", 400)
        await settle(c)
        want = [e.payload for e in sim.venues["binance"].events[:400]
                if e.topic == "btcusdt@depth@100ms"]
        assert want and c.frames[2:] == want
        c.send_json({"method": "UNSUBSCRIBE", "params": ["btcusdt@depth@100ms"], "id": 3})
        await until(lambda: orjson.loads(c.frames[-1]) == {"result": None, "id": 3})
        n = len(c.frames)
        sim.step("binance", 400)
        await asyncio.sleep(0.05)
        assert len(c.frames) == n
    run(body, speed=0, paused=True)


def test_sends_unwrapped_payloads_when_raw_stream_path_used():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/ws/btcusdt@trade")
        sim.step("binance", 200)
        await settle(c)
        want = [e.payload[len(b'{"stream":"btcusdt@trade","data":'):-1]
                for e in sim.venues["binance"].events[:200] if e.topic == "btcusdt@trade"]
        assert want and c.frames == want
    run(body, speed=0, paused=True)


@pytest.mark.parametrize("point", [0, 500, 4_000, 20_000, 50_000])
def test_rest_snapshot_matches_stream_when_requested_mid_stream(point):
    """A snapshot at any point (0: right after the recording's own snapshot): lastUpdateId is
    the last diff sent, and snapshot + the diffs that follow sync with 0 gaps and every
    bookTicker oracle agreeing."""
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/stream?streams=" + STREAMS)
        evs = sim.venues["binance"].events
        sim.step("binance", point or 1 + next(i for i, e in enumerate(evs) if e.topic is None))
        await settle(c)
        status, _, snap = await rest_get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=1000")
        assert status == 200
        before = len(c.frames)
        last_u = max((u for u in map(_depth_u, c.frames) if u is not None), default=None)
        assert orjson.loads(snap)["lastUpdateId"] == last_u
        sim.resume()
        await sim.wait_finished("binance", 15)
        await until(lambda: len(c.frames) >= len(recorded(SPOT)), 10, "the rest of the stream")
        n = BinanceNormalizer()
        for i, f in enumerate(c.frames):
            if i == before:
                n.on_rest(snap, "rest", 0, sim.rest_url + "/api/v3/depth?symbol=BTCUSDT")
            n.on_frame(f, "c", 0)
        s = n.stats
        assert s.gaps == 0 and s.top_checks_bad == 0 and not n.unrecovered(), s.as_dict()
        assert s.top_checks_ok >= (200 if point <= 20_000 else 1)
    run(body, speed=0, paused=True, timeout=25)


def test_rest_snapshot_syncs_when_fetched_while_streaming_live():
    """The real client flow at 40x real time: subscribe, buffer, fetch the snapshot while the
    stream runs, apply it where it arrived."""
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/stream?streams=btcusdt@depth@100ms/"
                                                   "btcusdt@bookTicker")
        await until(lambda: len(c.frames) > 50, 10, "the first diffs")
        status, _, snap = await rest_get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=1000")
        assert status == 200
        at = len(c.frames)
        await asyncio.sleep(1.0)
        n = BinanceNormalizer()
        for i, f in enumerate(list(c.frames)):
            if i == at:
                n.on_rest(snap, "rest", 0, "/api/v3/depth?symbol=BTCUSDT")
            n.on_frame(f, "c", 0)
        assert n.stats.gaps == 0 and n.stats.top_checks_bad == 0, n.stats.as_dict()
        assert n.stats.top_checks_ok > 10 and not n.unrecovered()
    run(body, speed=40)


def test_waits_for_first_snapshot_when_depth_requested_before_it():
    async def body(sim):
        task = asyncio.ensure_future(rest_get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=5"))
        await asyncio.sleep(0.1)
        assert not task.done()                     # the recording's snapshot is line 8
        sim.step("binance", 10)
        status, _, body_ = await task
        assert status == 200 and orjson.loads(body_)["lastUpdateId"] >= 50093239218
    run(body, speed=0, paused=True)


def test_rejects_bad_symbol_when_depth_requested():
    async def body(sim):
        status, _, b = await rest_get(sim, "/api/v3/depth?symbol=NOPE")
        assert status == 400 and orjson.loads(b)["code"] == -1121
        status, _, b = await rest_get(sim, "/api/v3/depth")
        assert status == 400 and orjson.loads(b)["code"] == -1102
    run(body, speed=0, paused=True)


def test_backfills_published_trades_when_asked_by_id_and_time():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/stream?streams=btcusdt@aggTrade/"
                                                   "btcusdt@trade")
        sim.step("binance", 3000)
        await settle(c)
        live_aggs = [orjson.loads(f)["data"] for f in c.frames if b"@aggTrade" in f]
        live_trades = [orjson.loads(f)["data"] for f in c.frames if b"@trade" in f]
        assert len(live_aggs) == len(live_trades) > 20
        first = live_aggs[5]["a"]
        status, _, b = await rest_get(sim, f"/api/v3/aggTrades?symbol=BTCUSDT&fromId={first}"
                                           f"&limit=1000")
        got = orjson.loads(b)
        assert status == 200
        assert [a["a"] for a in got] == [a["a"] for a in live_aggs[5:]]   # nothing unpublished
        assert got[0] == {k: live_aggs[5][k] for k in ("a", "p", "q", "f", "l", "T", "m", "M")}
        t0 = live_aggs[10]["T"]
        _, _, b = await rest_get(sim, f"/api/v3/aggTrades?symbol=BTCUSDT&startTime={t0}"
                                      f"&endTime={t0 + 60_000}")
        assert all(a["T"] >= t0 for a in orjson.loads(b)) and orjson.loads(b)
        tid = live_trades[3]["t"]
        _, _, b = await rest_get(sim, f"/api/v3/historicalTrades?symbol=BTCUSDT&fromId={tid}"
                                      f"&limit=2")
        h = orjson.loads(b)
        assert [t["id"] for t in h] == [tid, live_trades[4]["t"]]
        assert h[0]["price"] == live_trades[3]["p"] and h[0]["qty"] == live_trades[3]["q"]
        _, _, b = await rest_get(sim, "/api/v3/trades?symbol=BTCUSDT&limit=1")
        assert orjson.loads(b)[0]["id"] == live_trades[-1]["t"]
    run(body, speed=0, paused=True)


def test_serves_futures_depth_when_usdm_venue_simulated():
    """USD-M: diffs carry pu; the REST snapshot (with E, T) syncs by the futures rule."""
    async def body(sim):
        c = await connect(sim.ws_url("binance-usdm") + "/stream?streams=sushiusdt@depth@100ms/"
                                                        "sushiusdt@bookTicker")
        sim.step("binance-usdm", 700)
        await settle(c)
        status, _, snap = await rest_get(sim, "/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000")
        doc = orjson.loads(snap)
        assert status == 200 and {"E", "T", "lastUpdateId"} <= set(doc)
        at = len(c.frames)
        sim.resume()
        await sim.wait_finished("binance-usdm", 10)
        await settle(c)
        n = BinanceNormalizer()
        for i, f in enumerate(c.frames):
            if i == at:
                n.on_rest(snap, "rest", 0, "/fapi/v1/depth?symbol=SUSHIUSDT")
            n.on_frame(f, "c", 0)
        assert n.stats.gaps == 0 and n.stats.top_checks_bad == 0, n.stats.as_dict()
        assert not n.unrecovered() and n.stats.levels > 0
        # the exchange's own text: SUSHIUSDT prices with 4 decimals, sizes in whole contracts
        p, q = doc["bids"][0]
        assert len(p.split(".")[1]) == 4 and "." not in q, (p, q)
    run(body, venues=("binance-usdm",), speed=0, paused=True)


def test_resyncs_with_fresh_snapshot_when_client_reconnects():
    """A client that lost its connection reconnects later: the new snapshot plus the new
    connection's diffs are consistent."""
    async def body(sim):
        url = sim.ws_url("binance") + "/stream?streams=btcusdt@depth@100ms/btcusdt@bookTicker"
        c1 = await connect(url)
        sim.step("binance", 2000)
        await settle(c1)
        c1.transport.disconnect()
        sim.step("binance", 5000)                  # the market moves on while we are away
        c2 = await connect(url)
        sim.step("binance", 100)
        await settle(c2)
        _, _, snap = await rest_get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=1000")
        at = len(c2.frames)
        sim.step("binance", 8000)
        await settle(c2)
        n = BinanceNormalizer()
        for i, f in enumerate(c2.frames):
            if i == at:
                n.on_rest(snap, "rest", 0, "/api/v3/depth?symbol=BTCUSDT")
            n.on_frame(f, "c2", 0)
        assert n.stats.gaps == 0 and n.stats.top_checks_bad == 0
        assert n.stats.top_checks_ok > 50 and not n.unrecovered()
    run(body, speed=0, paused=True)


def test_serves_partial_depth_from_book_when_depth5_subscribed():
    async def body(sim):
        sim.step("binance", 100)
        c = await connect(sim.ws_url("binance") + "/stream?streams=btcusdt@depth@100ms/"
                                                   "btcusdt@depth5@100ms")
        _, _, snap = await rest_get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=1000")
        sim.step("binance", 3000)
        await settle(c)
        n = BinanceNormalizer()
        n.on_rest(snap, "rest", 0, "/api/v3/depth?symbol=BTCUSDT")
        checked = 0
        for f in c.frames:
            m = orjson.loads(f)
            if m["stream"] == "btcusdt@depth@100ms":
                n.on_frame(f, "ws", 0)
                continue
            d = m["data"]
            book = n.books[("ws", "BTCUSDT")]
            assert d["lastUpdateId"] == book.seq and len(d["bids"]) == len(d["asks"]) == 5
            bids, asks = book.depth(5)
            assert [[float(p), float(q)] for p, q in d["bids"]] == bids.tolist()
            assert [[float(p), float(q)] for p, q in d["asks"]] == asks.tolist()
            checked += 1
        assert checked > 50 and n.stats.gaps == 0
    run(body, speed=0, paused=True)


def test_book_follows_stream_only_when_read_and_equals_an_eager_replay_when_lazy():
    """Binance's book is lazy: a replay nobody reads the book during does no book work, and the
    book, once read, is the one an update per event would have built."""
    from tradecore.simulator.venues import DEPTH
    from tradecore.verify import normalizer_for

    async def body(sim):
        v = sim.venues["binance"]
        c = await connect(sim.ws_url("binance") + "/stream?streams=" + STREAMS)
        sim.step("binance", 20_000)
        await settle(c)
        assert v.lazy_book and v.applied == 0 and v.pos == 20_000
        book = v.book("BTCUSDT")
        assert v.applied == 20_000 and book is not None and book.valid
        ref = normalizer_for("binance")
        for ev in v.events[:20_000]:
            if ev.apply:
                if ev.kind == DEPTH:
                    ref.on_frame(ev.payload, ev.conn, ev.ts)
                else:
                    ref.on_rest(ev.payload, "rest", ev.ts, ev.src)
        (want,) = [b for k, b in ref.books.items() if k[1] == "BTCUSDT"]
        assert book.seq == want.seq
        for side in (0, 1):
            assert book.depth_ticks(side, 10_000).tolist() == want.depth_ticks(side, 10_000).tolist()
    run(body, speed=0, paused=True)
