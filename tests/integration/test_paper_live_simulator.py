"""`paper --live` is the same node on live feeds: here the live Binance feed handler against the
local exchange simulator (endpoint override), replaying the bundled real recording at 20x real
time (flat out, the diffs would all be sent before the REST snapshot is even asked for)."""
from __future__ import annotations

import asyncio

from tradecore.config import SAMPLES, load
from tradecore.core.clock import LiveClock
from tradecore.engine import TradingNode
from tradecore.simulator import ExchangeSimulator
from tradecore.strategies.base import Strategy


class Counting(Strategy):
    books = (("binance", "BTCUSDT"),)

    def __init__(self):
        super().__init__("counting")
        self.books_seen = 0
        self.crossed = 0

    def on_book(self, venue, symbol, book):
        self.books_seen += 1
        self.crossed += book.is_crossed()


def test_paper_live_runs_the_node_on_the_live_feed_handler_against_the_simulator():
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
                "paper": {"balances": {"binance:USDT": 1000}},
                "risk": {"symbols": {}},
                "strategies": []})
            node = TradingNode(cfg, live=True, clock=LiveClock())
            s = Counting()
            node.add_strategy(s)

            async def resume_when_subscribed():
                for _ in range(200):
                    if sim.connections("binance"):
                        break
                    await asyncio.sleep(0.02)
                sim.resume()
            asyncio.get_running_loop().create_task(resume_when_subscribed())
            await node.run_live(seconds=6.0)
            return node, s
        finally:
            await sim.close()

    node, s = asyncio.run(main())
    assert s.books_seen > 300 and s.crossed == 0
    assert node.stats.book_updates == s.books_seen
    assert node.stats.trades > 0
    assert not [k for k in node.stats.problems if "gap" in k]
