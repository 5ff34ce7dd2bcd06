"""Every fault the simulator injects has an effect a client can observe, and the fault log says
exactly what was done, so that each injected gap can be matched with a detected one."""
from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from picows import WSMsgType

from _simclient import connect, rest_get, rest_post, run, settle, until
from tradecore.simulator import Fault, FaultError
from tradecore.venues.binance.normalize import BinanceNormalizer

DEPTH_URL = "/stream?streams=btcusdt@depth@100ms"


def _first_synced(sim) -> int:
    """Events to replay so that the simulator holds its book (the recording's snapshot)."""
    evs = sim.venues["binance"].events
    return 1 + next(i for i, e in enumerate(evs) if e.topic is None)


async def _synced_client(sim, streams: str = DEPTH_URL):
    """A client subscribed mid-stream with its REST snapshot: (client, normalizer, problems)."""
    sim.step("binance", _first_synced(sim) + 50)
    c = await connect(sim.ws_url("binance") + streams)
    _, _, snap = await rest_get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=1000")
    problems: list = []
    n = BinanceNormalizer(on_problem=problems.append)
    n.on_rest(snap, "rest", 0, "/api/v3/depth?symbol=BTCUSDT")
    return c, n, problems


def _feed(n: BinanceNormalizer, frames: list[bytes]) -> None:
    for f in frames:
        n.on_frame(f, "ws", 0)          # the connection the snapshot was loaded for


def _u(frame: bytes) -> int:
    return orjson.loads(frame)["data"]["u"]


def test_sends_frame_twice_when_duplicate_injected():
    async def body(sim):
        c, n, _ = await _synced_client(sim)
        rec = sim.inject(Fault("duplicate", venue="binance", count=2))
        sim.step("binance", 2000)
        await settle(c)
        us = [_u(f) for f in c.frames]
        repeated = [u for a, u in zip(us, us[1:]) if a == u]
        assert repeated == [e["update"]["u"] for e in rec.effects] and len(repeated) == 2
        assert rec.done
        _feed(n, c.frames)
        assert n.stats.errors["stale_update"] == 2 and n.stats.gaps == 0
    run(body, speed=0, paused=True)


def test_normalizer_detects_gap_when_depth_updates_skipped():
    async def body(sim):
        c, n, problems = await _synced_client(sim)
        sim.step("binance", 1000)
        rec = sim.inject(Fault("skip", venue="binance", count=3))
        sim.step("binance", 3000)
        await settle(c)
        skipped = [e["update"] for e in rec.effects]
        assert len(skipped) == 3 and rec.done
        sent = {_u(f) for f in c.frames}
        assert not sent & {s["u"] for s in skipped}
        _feed(n, c.frames)
        # the one hole the three skipped diffs made is the one gap the normalizer reports,
        # right after the update before them
        gaps = [p for p in problems if p.reason == "sequence_gap"]
        assert n.stats.gaps == 1 and len(gaps) == 1
        assert f"does not follow u={skipped[0]['U'] - 1}" in gaps[0].detail
    run(body, speed=0, paused=True)


def test_normalizer_detects_gap_when_depth_updates_reordered():
    async def body(sim):
        c, n, _ = await _synced_client(sim)
        rec = sim.inject(Fault("reorder", venue="binance", count=1))
        sim.step("binance", 2000)
        await settle(c)
        us = [_u(f) for f in c.frames]
        e = rec.effects[0]
        i = us.index(e["update"]["u"])
        assert us[i + 1] == e["after"]["u"] and e["after"]["u"] < e["update"]["u"]
        _feed(n, c.frames)
        assert n.stats.gaps == 1
    run(body, speed=0, paused=True)


@pytest.mark.parametrize("variant,reason", [("garbage", "malformed_frame"),
                                            ("truncated", "malformed_frame"),
                                            ("binary", "malformed_frame"),
                                            ("schema", None)])
def test_normalizer_counts_bad_frame_when_malformed_injected(variant, reason):
    async def body(sim):
        c, n, problems = await _synced_client(sim)
        sim.step("binance", 20)
        await settle(c)
        before = list(c.frames)
        rec = sim.inject(Fault("malformed", venue="binance", variant=variant, count=2))
        sim.step("binance", 1000)
        await settle(c)
        assert rec.done and [e["variant"] for e in rec.effects] == [variant] * 2
        if variant == "binary":
            assert len(c.binary) == 2
            frames = before + c.binary + c.frames[len(before):]
        else:
            frames = c.frames
            assert len(frames) >= len(before) + 2
        _feed(n, frames)
        if reason:
            assert n.stats.errors[reason] == 2, n.stats.as_dict()
        else:
            assert sum(n.stats.errors.values()) >= 2, n.stats.as_dict()
        # inserted, not in place of a real update: the book stays in sequence
        assert n.stats.gaps == 0 and not n.unrecovered()
    run(body, speed=0, paused=True)


def test_gap_follows_corrupted_update_when_malformed_replaces_it():
    async def body(sim):
        c, n, problems = await _synced_client(sim)
        rec = sim.inject(Fault("malformed", venue="binance", variant="truncated", replace=True))
        sim.step("binance", 2000)
        await settle(c)
        assert rec.done and rec.effects[0]["action"] == "replaced_truncated"
        _feed(n, c.frames)
        assert n.stats.errors["malformed_frame"] == 1 and n.stats.gaps == 1
    run(body, speed=0, paused=True)


def test_client_disconnects_when_oversized_frame_sent():
    async def body(sim):
        sim.step("binance", 20)
        c = await connect(sim.ws_url("binance") + DEPTH_URL, max_frame_size=1 << 20)
        sim.inject(Fault("malformed", venue="binance", variant="oversized", size=2 << 20))
        await asyncio.wait_for(c.disconnected, 5)
    run(body, speed=0, paused=True)


@pytest.mark.parametrize("kind,status", [("rest_429", 429), ("rest_418", 418)])
def test_rest_answers_status_with_retry_after_when_rate_limit_injected(kind, status):
    async def body(sim):
        sim.step("binance", 20)
        rec = sim.inject(Fault(kind, count=2, retry_after=7))
        for _ in range(2):
            st, headers, b = await rest_get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=5")
            assert st == status and headers["Retry-After"] == "7"
            assert orjson.loads(b)["code"] == -1003
        st, _, _ = await rest_get(sim, "/api/v3/depth?symbol=BTCUSDT&limit=5")
        assert st == 200 and rec.done and len(rec.effects) == 2
    run(body, speed=0, paused=True)


def test_connection_closes_without_close_frame_when_drop_injected():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + DEPTH_URL)
        await until(lambda: sim.connections())
        rec = sim.inject(Fault("drop", venue="binance"))
        await asyncio.wait_for(c.disconnected, 5)
        assert c.close_code is None                  # no close frame: a dead connection
        assert rec.targets and rec.effects[0]["action"] == "dropped"
        await until(lambda: not sim.connections(), what="server forgets the connection")
    run(body, speed=0, paused=True)


def test_no_frames_for_stall_seconds_when_stall_injected():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/stream?streams=btcusdt@depth@100ms/"
                                                   "btcusdt@bookTicker")
        await until(lambda: len(c.frames) > 20, 5, "a flowing stream")
        c.transport.send_ping(b"x")
        await until(lambda: c.pongs == 1, what="pong before the stall")
        t0 = time.monotonic()
        rec = sim.inject(Fault("stall", venue="binance", seconds=0.6, answer_pings=False))
        c.transport.send_ping(b"y")
        await asyncio.sleep(0.3)
        assert c.pongs == 1                          # pings go unanswered too
        await until(lambda: rec.done, 3, "end of the stall")
        await until(lambda: c.times[-1] > t0 + 0.6, 3, "frames after the stall")
        during = [t for t in c.times if t0 + 0.01 < t < t0 + 0.55]
        assert not during
        held = next(e for e in rec.effects if e["action"] == "stall_end")["held"]
        assert held > 5                               # then="resume": delivered late, in order
        # the stream itself stayed contiguous across the stall
        us = [orjson.loads(f)["data"]["u"] for f in c.frames if b"depthUpdate" in f]
        Us = [orjson.loads(f)["data"]["U"] for f in c.frames if b"depthUpdate" in f]
        assert all(U == u + 1 for u, U in zip(us, Us[1:]))
    run(body, speed=30)


def test_gap_appears_when_stall_discards_held_frames():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + DEPTH_URL)
        await until(lambda: len(c.frames) > 5, 5, "a flowing stream")
        t0 = time.monotonic()
        rec = sim.inject(Fault("stall", venue="binance", seconds=0.4, then="discard"))
        await until(lambda: rec.done, 3)
        await until(lambda: c.times[-1] > t0 + 0.4, 3, "frames after the stall")
        await asyncio.sleep(0.2)
        lost = [e["update"]["u"] for e in rec.effects if e["action"] == "discarded"]
        assert lost
        us = [orjson.loads(f)["data"]["u"] for f in c.frames]
        Us = [orjson.loads(f)["data"]["U"] for f in c.frames]
        holes = [(u, U) for u, U in zip(us, Us[1:]) if U != u + 1]
        assert len(holes) == 1 and holes[0][1] > lost[-1]
    run(body, speed=30)


def test_sends_shutdown_event_then_close_when_shutdown_injected():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + DEPTH_URL)
        await until(lambda: sim.connections())
        rec = sim.inject(Fault("shutdown", venue="binance", seconds=0.2))
        await asyncio.wait_for(c.disconnected, 5)
        assert orjson.loads(c.frames[-1])["event"]["e"] == "serverShutdown"
        assert c.close_code is not None and c.close_code.value == 1001
        assert rec.done and [e["action"] for e in rec.effects] == ["shutdown_warning", "closed"]
    run(body, speed=0, paused=True)


def test_http_control_injects_fault_when_posted():
    async def body(sim):
        c, n, _ = await _synced_client(sim)
        st, b = await rest_post(sim, "/_sim/fault", {"kind": "skip", "venue": "binance",
                                                      "count": 1})
        assert st == 200 and orjson.loads(b)["targets"] == [sim.connections()[0]["id"]]
        sim.step("binance", 1000)
        await settle(c)
        _feed(n, c.frames)
        assert n.stats.gaps == 1
        st, _, b = await rest_get(sim, "/_sim/faults")
        log = orjson.loads(b)
        assert log[0]["fault"]["kind"] == "skip" and log[0]["effects"][0]["action"] == "skipped"
        st, b = await rest_post(sim, "/_sim/fault", {"kind": "skip", "count": "three"})
        assert st == 400 and b"count" in b
        st, b = await rest_post(sim, "/_sim/fault", {"kind": "teleport"})
        assert st == 400 and b"teleport" in b
    run(body, speed=0, paused=True)


def test_applies_pending_fault_when_client_subscribes_later():
    async def body(sim):
        sim.step("binance", _first_synced(sim) + 10)
        rec = sim.inject(Fault("duplicate", venue="binance"))
        assert rec.effects[0]["action"] == "pending" and not rec.targets
        c = await connect(sim.ws_url("binance") + DEPTH_URL)
        await until(lambda: rec.targets, what="the fault to find its connection")
        sim.step("binance", 1000)
        await settle(c)
        assert len(c.frames) - len(set(c.frames)) == 1
    run(body, speed=0, paused=True)


def test_rejects_fault_when_fields_are_wrong():
    with pytest.raises(FaultError, match="kind"):
        Fault("explode")
    with pytest.raises(FaultError, match="count"):
        Fault("skip", count=0)
    with pytest.raises(FaultError, match="variant"):
        Fault("malformed", variant="haiku")
    with pytest.raises(FaultError, match="unknown fault field"):
        Fault.from_dict({"kind": "drop", "colour": "red"})
    with pytest.raises(FaultError, match="seconds"):
        Fault.from_dict({"kind": "stall", "seconds": "long"})
    assert Fault.from_dict({"kind": "stall", "seconds": 2}).seconds == 2


def test_rejects_fault_when_venue_not_simulated():
    async def body(sim):
        with pytest.raises(FaultError, match="venue"):
            sim.inject(Fault("drop", venue="kraken"))
        with pytest.raises(FaultError, match="conn"):
            sim.inject(Fault("drop", conn=999))
    run(body, speed=0, paused=True)


def test_pongs_are_sent_when_client_pings():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + DEPTH_URL)
        c.transport.send_ping(b"hello")
        await until(lambda: c.pongs == 1)
        c.transport.send(WSMsgType.TEXT, b"not json")
        await until(lambda: c.frames)
        assert orjson.loads(c.frames[0])["error"]["code"] == 3
    run(body, speed=0, paused=True)
