"""The feed node's book deltas: applied in order to an empty book they rebuild the publisher's
book exactly, level for level, after every change (real recordings of four venues)."""
from __future__ import annotations

from itertools import islice

import numpy as np
from hypothesis import given, settings, strategies as st

from datafiles import sample_file
from tradecore.bus.codec import decode
from tradecore.bus.feed import BookPublisher, side_diff, side_diff_ref
from tradecore.bus.mirror import APPLIED, BookMirror
from tradecore.core.instrument import Instrument
from tradecore.data.capture import REST, WS, read_capture
from tradecore.verify import normalizer_for
import pytest


@st.composite
def two_sides(draw):
    desc = draw(st.booleans())
    def side():
        t = sorted(draw(st.lists(st.integers(1, 60), max_size=25, unique=True)), reverse=desc)
        q = draw(st.lists(st.integers(1, 4), min_size=len(t), max_size=len(t)))
        return np.array(list(zip(t, q)), dtype=np.int64).reshape(-1, 2)
    return side(), side()


@settings(deadline=None)
@given(two_sides())
def test_side_diff_equals_the_reference_when_levels_come_and_go(sides):
    prev, cur = sides
    d = side_diff(prev, cur)
    assert {int(t): int(q) for t, q in d} == side_diff_ref(prev, cur)
    assert len(d) == len(side_diff_ref(prev, cur))      # no level twice


@pytest.mark.parametrize("exchange, sample, n", [
    ("binance", "hbt_usdm_btcusdt_20240808_nobookticker.gz", 6000),
    ("kraken", "cf_kraken_spot_20210417_5pairs.jsonl", 3000),
    ("okx", "cf_okx_20220227_books-l2-tbt_5inst.jsonl", 3000),
    ("coinbase", "cf_coinbase_pro_20210417_level2_5prod.jsonl.gz", 3000),
])
def test_mirror_equals_the_feed_book_after_every_delta_when_replaying_a_recording(
        exchange, sample, n):
    norm = normalizer_for(exchange)
    pub = BookPublisher(snapshot_every=10**9)
    mirrors: dict = {}
    checked = 0

    def on_book(key, book) -> None:
        nonlocal checked
        sym = key[1]
        pub.on_book(exchange, sym, book)
        m = decode(pub.out[0][1])
        pub.out.clear()
        mirror = mirrors.setdefault(sym, BookMirror(
            {(exchange, sym): Instrument(exchange, sym, "0.01", "0.01", "", "")}))
        assert mirror.apply(m) == APPLIED
        got = mirror.book((exchange, sym))
        for side in (0, 1):
            assert np.array_equal(got.depth_ticks(side, 1 << 30), book.depth_ticks(side, 1 << 30))
        assert (got.valid, got.seq, got.ts_ns) == (book.valid, book.seq, book.ts_ns)
        assert (got.tick_size, got.lot_size) == (book.tick_size, book.lot_size)
        checked += 1

    norm.on_book = on_book
    norm.on_trade = lambda t: None
    for rec in islice(read_capture(sample_file(sample)), n):
        if rec.kind == WS:
            norm.on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            norm.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    assert checked > 100


def test_feed_node_publishes_and_records_the_live_feed_when_run_against_the_simulator(
        nats_server, tmp_path):
    """run_live: the live Binance feed handler against the local exchange simulator (the bundled
    recording at 20x), through the bus; a reader rebuilding the book from the md stream ends
    with the feed's own book, and so does the Parquet store the feed node recorded."""
    import asyncio

    from tradecore.bus import subjects
    from tradecore.bus.feed import FeedNode
    from tradecore.bus.settings import bus_settings
    from tradecore.bus.transport import Bus, StreamReader
    from tradecore.bus.codec import FeedEnd
    from tradecore.config import SAMPLES, load
    from tradecore.simulator import ExchangeSimulator

    async def main():
        sim = ExchangeSimulator(["binance"], speed=20, paused=True, heartbeat_interval=0.2,
                                files={"binance": str(SAMPLES / "hbt_spot_btcusdt_20240808.gz")})
        await sim.start()
        try:
            cfg = load(None, {
                "run": {"mode": "paper"},
                "feeds": [{"venue": "binance", "exchange": "binance", "symbols": ["BTCUSDT"],
                           "capture": "bundled:hbt_spot_btcusdt_20240808.gz",
                           "ws_url": sim.ws_url("binance"), "rest_url": sim.rest_url}],
                "instruments": {"binance:BTCUSDT": {"tick": "0.01", "lot": "0.00001",
                                                    "base": "BTC", "quote": "USDT"}},
                "risk": {"symbols": {}}, "strategies": [],
                "bus": {"enabled": True, "url": nats_server.url, "fresh": True,
                        "record_dir": str(tmp_path / "store")}})
            feed = FeedNode(cfg, bus_settings(cfg))

            async def resume_when_subscribed():
                for _ in range(200):
                    if sim.connections("binance"):
                        break
                    await asyncio.sleep(0.02)
                sim.resume()
            asyncio.get_running_loop().create_task(resume_when_subscribed())
            out = await feed.run_live(seconds=4.0)
            bus = Bus(nats_server.url, "reader")
            await bus.connect()
            reader = StreamReader(bus, subjects.MD_STREAM)
            mirror = BookMirror({("binance", "BTCUSDT"): Instrument(
                "binance", "BTCUSDT", "0.01", "0.00001", "BTC", "USDT")})
            books = 0
            while True:
                r = await reader.next(5.0)
                assert r is not None, "the md stream ended without the feed's end mark"
                m = decode(r[2])
                if isinstance(m, FeedEnd):
                    break
                if hasattr(m, "bids"):
                    assert mirror.apply(m) == APPLIED
                    books += 1
            await reader.close()
            await bus.close()
            return out, books, mirror.book(("binance", "BTCUSDT")), \
                feed.normalizers["binance"]
        finally:
            await sim.close()

    out, books, got, norm = asyncio.run(main())
    assert books > 100 and out["md_messages"] >= books
    (want,) = norm.books.values()            # the feed's own book, as the normalizer left it
    assert got.valid and want.valid
    for side in (0, 1):
        assert np.array_equal(got.depth_ticks(side, 1 << 30), want.depth_ticks(side, 1 << 30))
    from tradecore.data.replay import connections, replay_books
    conn = connections(tmp_path / "store", "binance", "BTCUSDT")[-1]
    stored = replay_books(tmp_path / "store", "binance", "BTCUSDT", conn=conn)
    for side in (0, 1):
        assert stored.depth_ticks(side, 20).tolist() == want.depth_ticks(side, 20).tolist()
