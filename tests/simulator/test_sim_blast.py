"""Blast mode: a Binance depth stream pre-encoded into one buffer of frames, sent in chunks. The
frames are the recorded payloads (the rest of the replay, then id-shifted copies that continue
the update-id chain), they keep a book in sync, and the sender waits for a slow reader."""
from __future__ import annotations

import asyncio
from functools import lru_cache

import orjson
import pytest

from _simclient import connect, rest_post, run, settle, until
from tradecore.simulator import blast
from tradecore.simulator.exchange import HIGH_WATER
from tradecore.simulator.venues import DEPTH, BinanceSim
from tradecore.venues.binance.normalize import BinanceNormalizer

DEPTH_STREAM = "btcusdt@depth@100ms"


class _Sim:
    rest_wait = 1.0


@lru_cache(maxsize=None)
def spot_depth() -> tuple[bytes, ...]:
    v = BinanceSim(_Sim())
    return tuple(e.payload for e in v.events if e.kind == DEPTH)


def _ids(payload: bytes) -> dict:
    d = orjson.loads(payload)["data"]
    return {k: d[k] for k in ("U", "u", "pu") if k in d}


def _without_ids(payload: bytes) -> dict:
    d = orjson.loads(payload)
    for k in ("U", "u", "pu"):
        d["data"].pop(k, None)
    return d


def test_build_frames_decode_to_recorded_payloads_with_shifted_ids_when_repeated():
    rec = spot_depth()
    start = len(rec) - 40
    b = blast.build(rec, start, 2)
    got = blast.split_frames(b.data)
    assert got == blast.payloads(rec, start, 2)
    assert b.frames == len(got) == 40 + 2 * len(rec) and b.rest == 40
    assert got[:40] == list(rec[start:])                  # the rest: byte for byte
    for k in (1, 2):                                       # copies: only U and u differ
        copy = got[40 + (k - 1) * len(rec): 40 + k * len(rec)]
        for want, have in zip(rec[::97], copy[::97]):
            assert len(have) == len(want)
            assert _without_ids(have) == _without_ids(want)
            assert {n: v + k * b.span for n, v in _ids(want).items()} == _ids(have)
    ids = [_ids(p) for p in got]                           # one unbroken spot chain
    assert all(n["U"] == p["u"] + 1 for p, n in zip(ids, ids[1:]))
    assert ids[-1]["u"] == b.last_id and ids[0]["U"] - 1 == b.first_id


def test_build_chains_futures_ids_on_pu_when_diffs_carry_pu():
    def diff(U: int, u: int, pu: int) -> bytes:
        return (b'{"stream":"btcusdt@depth@0ms","data":{"e":"depthUpdate","E":1,"T":1,'
                b'"s":"BTCUSDT","U":%d,"u":%d,"pu":%d,"b":[["1.0","2"]],"a":[]}}' % (U, u, pu))
    rec = [diff(1005, 1010, 1000), diff(1013, 1020, 1010), diff(1021, 1030, 1020)]
    b = blast.build(rec, 1, 3)
    ids = [_ids(p) for p in blast.split_frames(b.data)]
    assert b.span == 30
    assert all(n["pu"] == p["u"] for p, n in zip(ids, ids[1:]))
    assert ids[2] == {"U": 1035, "u": 1040, "pu": 1030}


def test_build_refuses_when_an_id_would_gain_a_digit():
    rec = [b'{"stream":"x@depth","data":{"U":9000,"u":9500,"b":[],"a":[]}}']
    with pytest.raises(blast.BlastError, match="number of digits"):
        blast.build(rec, 0, 2)
    with pytest.raises(blast.BlastError, match="repeat"):
        blast.build(rec, 0, -1)
    with pytest.raises(blast.BlastError, match="no recorded depth"):
        blast.build([], 0, 1)


def test_blast_keeps_a_book_in_sync_when_copies_follow_the_recording():
    v = BinanceSim(_Sim())
    norm = BinanceNormalizer(symbols=["BTCUSDT"])
    snap = next(i for i, e in enumerate(v.events) if e.topic is None)
    for e in v.events[:snap]:
        if e.kind == DEPTH:
            norm.on_frame(e.payload, "c", e.ts)
    norm.on_snapshot("c", "BTCUSDT", v.events[snap].payload, v.events[snap].ts)
    for e in v.events[snap:]:
        if e.kind == DEPTH:
            norm.on_frame(e.payload, "c", e.ts)
    book = norm.books[("c", "BTCUSDT")]
    end = [book.depth_ticks(s, 10_000).tolist() for s in (0, 1)]
    rec = spot_depth()
    for p in blast.split_frames(blast.build(rec, len(rec), 2).data):
        norm.on_frame(p, "c", 0)
    assert norm.stats.gaps == 0 and not norm.unrecovered() and book.valid
    # spot: every level the copies touch ends at its last recorded value again
    assert [book.depth_ticks(s, 10_000).tolist() for s in (0, 1)] == end


def test_blast_sends_rest_and_copies_when_go_after_prepare():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/stream?streams=" + DEPTH_STREAM)
        other = await connect(sim.ws_url("binance") + "/stream?streams=btcusdt@trade")
        sim.step("binance", 2000)
        await settle(c)
        before = len(c.frames)
        rec = spot_depth()
        assert c.frames == list(rec[:before])
        b = sim.prepare_blast("binance", 1)
        assert b.rest == len(rec) - before
        await asyncio.sleep(0.05)
        assert len(c.frames) == before                     # prepared, not sent
        assert sim.start_blast() == [sim.connections()[0]["id"]]
        await until(lambda: len(c.frames) == before + b.frames, 10, "the whole blast")
        assert c.frames[before:] == blast.payloads(rec, before, 1)
        assert not any(b"depthUpdate" in f for f in other.frames)
        assert sim.venues["binance"].pos == len(sim.venues["binance"].events)
        await until(lambda: sim.blasts and sim.blasts[0]["done"], 5, "blast done")
    run(body, speed=0, paused=True)


def test_blast_waits_for_the_reader_when_the_client_stops_reading():
    async def body(sim):
        c = await connect(sim.ws_url("binance") + "/stream?streams=" + DEPTH_STREAM)
        await until(lambda: sim.connections(), what="connection")
        sess = next(iter(sim._sessions.values()))
        c.transport.underlying_transport.pause_reading()
        b = sim.prepare_blast("binance", 6)                # ~31 MB
        sim.start_blast()
        await asyncio.sleep(0.5)
        prog = sim.blasts[0]
        assert prog["pauses"] > 0 and not prog["done"]
        assert prog["sent"] < len(b.data) // 2
        assert sess.raw.get_write_buffer_size() <= HIGH_WATER + blast.CHUNK
        c.transport.underlying_transport.resume_reading()
        await until(lambda: len(c.frames) == b.frames, 20, "the whole blast")
        assert c.frames == blast.payloads(spot_depth(), 0, 6)
    run(body, speed=0, paused=True, timeout=40)


def test_blast_is_refused_when_running_or_nobody_takes_the_depth_stream():
    async def body(sim):
        status, text = await rest_post(sim, "/_sim/blast", {"venue": "binance", "repeat": 1})
        assert status == 400 and b"no connection" in text
        status, text = await rest_post(sim, "/_sim/blast", {"go": True})
        assert status == 400 and b"no blast prepared" in text
        status, text = await rest_post(sim, "/_sim/blast", {"repeat": 1})
        assert status == 400 and b"venue" in text
        sim.resume()
        with pytest.raises(blast.BlastError, match="pause"):
            sim.prepare_blast("binance", 1)
    run(body, speed=1e-9, paused=True)
