"""The whole market-data path over loopback: the exchange simulator replays real Binance data
with faults injected, the real feed handler keeps the book, the recorder writes it, and the
store replays to exactly the exchange's book."""
from __future__ import annotations

import asyncio

import uvloop

from tradecore.data.replay import connections, replay_books
from tradecore.live_record import record
from tradecore.simulator import ExchangeSimulator
from tradecore.simulator.faults import Fault

# A resync takes a 1000-level REST snapshot, as on Binance: the client's book is defined to
# that depth (the exchange's deeper levels are unknown to it), so compare well inside it.
TOP = 200


async def _scenario(out):
    sim = ExchangeSimulator(["binance"], speed=60.0)
    await sim.start()
    stop = asyncio.Event()
    task = asyncio.create_task(record("binance", ["BTCUSDT"], out,
                                      ws_url=sim.ws_url("binance"), rest_url=sim.rest_url,
                                      stop=stop))
    try:
        faults = [Fault("skip", venue="binance", count=2),
                  Fault("duplicate", venue="binance", count=3),
                  Fault("malformed", venue="binance", variant="garbage"),
                  Fault("malformed", venue="binance", variant="truncated"),
                  Fault("reorder", venue="binance", count=2),
                  Fault("rest_429", venue="binance", count=1),
                  Fault("drop", venue="binance")]
        records = []
        for f in faults:
            await asyncio.sleep(0.6)
            records.append(sim.inject(f))
        await sim.wait_finished("binance", timeout=60)
        for _ in range(100):               # the feed drains what the simulator sent
            await asyncio.sleep(0.02)
        want = sim.venues["binance"].book("BTCUSDT").depth_ticks
        exchange = (want(0, TOP), want(1, TOP))
    finally:
        stop.set()
        result = await task
        await sim.close()
    return result, exchange, records


def test_recorded_book_equals_exchange_book_when_faults_are_injected(tmp_path):
    result, (bids, asks), records = uvloop.run(_scenario(tmp_path))
    assert all(r.effects for r in records), "every fault acted on the feed"
    assert result.live, "the feed ended in sync"
    assert result.gaps >= 2                       # skip and reorder each break the sequence
    assert result.errors.get("malformed_frame", 0) >= 2
    assert result.errors.get("stale_update", 0) >= 1    # the duplicates
    assert result.reconnects >= 1                 # the drop
    conn = connections(tmp_path, "binance", "BTCUSDT")[-1]
    book = replay_books(tmp_path, "binance", "BTCUSDT", conn=conn)
    assert len(bids) == len(asks) == TOP
    assert (book.depth_ticks(0, TOP) == bids).all()
    assert (book.depth_ticks(1, TOP) == asks).all()
