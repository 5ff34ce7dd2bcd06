"""`tradecore record` for Kraken and Coinbase against the simulator: the store replays to the
feed's book, and trades are recorded once."""
from __future__ import annotations

import asyncio

import pytest
import uvloop

from tradecore.data.replay import connections, replay_books, trades
from tradecore.live_record import record
from tradecore.simulator import ExchangeSimulator


async def _run(venue: str, symbols: list[str], out):
    sim = ExchangeSimulator([venue], speed=40.0)
    await sim.start()
    stop = asyncio.Event()
    task = asyncio.create_task(record(venue, symbols, out, ws_url=sim.ws_url(venue),
                                      rest_url=sim.rest_url, stop=stop))
    try:
        await sim.wait_finished(venue, timeout=60)
        await asyncio.sleep(0.5)
        want = {s: sim.venues[venue].book(s).depth_ticks for s in symbols}
        want = {s: (f(0, 10), f(1, 10)) for s, f in want.items()}
    finally:
        stop.set()
        result = await task
        await sim.close()
    return result, want


@pytest.mark.parametrize("venue, symbols", [("kraken", ["XMR/USD", "SC/EUR"]),
                                            ("coinbase", ["BTC-USD", "ETH-USD"])])
def test_recorded_books_replay_to_the_exchange_top_when_recording_a_venue(tmp_path, venue,
                                                                          symbols):
    result, want = uvloop.run(_run(venue, symbols, tmp_path))
    assert result.live and result.gaps == 0 and result.messages > 100
    for s in symbols:
        conn = connections(tmp_path, venue, s)[-1]
        book = replay_books(tmp_path, venue, s, conn=conn)
        assert book.depth_ticks(0, 10).tolist() == want[s][0].tolist()
        assert book.depth_ticks(1, 10).tolist() == want[s][1].tolist()
    recorded = sum(len(trades(tmp_path, venue, s)) for s in symbols)
    assert 0 < recorded <= result.trades      # each at most once (the feed de-duplicates)
