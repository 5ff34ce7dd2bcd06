"""Helpers of the API tests: a node over the bundled real recordings, fed by hand."""
from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from tradecore.config import load
from tradecore.core.orders import Order, OrderType, Side, TimeInForce
from tradecore.engine import TradingNode

TOKEN = "test-token-0123456789abcdef"


def make_node(**overrides) -> TradingNode:
    """The default paper config with only its cross-venue strategy (which takes nothing at
    real fees), so that the orders these tests see are the tests' own."""
    cfg = load(None, {"run": {"speed": 0, **overrides}})
    only_xarb = [{"id": s.id, "kind": s.kind, "settings": s.settings}
                 for s in cfg.strategies if s.id == "xarb"]
    return TradingNode(load(None, {"run": {"speed": 0, **overrides},
                                   "strategies": only_xarb}))


class Feeder:
    """Feeds the node's recording record by record (the replay loop, in steps)."""

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self.it: Iterator = iter(node.records())
        node.start()

    def feed(self, n: int) -> int:
        clock = self.node.clock
        done = 0
        for venue, rec in self.it:
            if rec.ts_ns > clock.time_ns():
                clock.advance_to(rec.ts_ns)
            self.node.feed_record(venue, rec.kind, rec.payload, rec.conn, rec.ts_ns, rec.src)
            done += 1
            if done >= n:
                break
        return done

    def until_books(self) -> None:
        """Feed until every configured instrument has a valid book."""
        while not all(k in self.node.books and self.node.books[k].valid
                      for k in self.node.instruments):
            assert self.feed(100), "recording ended before every book was valid"


def limit_buy_at_touch(node: TradingNode, cid: str, lots: int = 10,
                       venue: str = "binance", strategy_id: str = "") -> Order:
    """An IOC buy priced at the best ask of the venue's BTCUSDT book (crosses: fills)."""
    inst = node.instruments[(venue, "BTCUSDT")]
    ask = node.books[(venue, "BTCUSDT")].best_ask()[0]
    return Order(cid, venue, "BTCUSDT", Side.BUY, OrderType.LIMIT, lots,
                 price=inst.ticks(ask), tif=TimeInForce.IOC, strategy_id=strategy_id,
                 ts_created_ns=node.clock.time_ns())


@pytest.fixture
def node() -> TradingNode:
    return make_node()


def run(coro):
    return asyncio.run(coro)


class Client:
    """An aiohttp session bound to a running ApiServer."""

    def __init__(self, server, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.s = session

    async def call(self, method: str, path: str, *, token: str | None = None, json=None,
                   data=None) -> tuple[int, object]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.s.request(method, self.server.url + path, headers=headers, json=json,
                                  data=data) as r:
            ctype = r.headers.get("Content-Type", "")
            body = await (r.json() if "json" in ctype else r.text())
            return r.status, body


async def started(node, **kw):
    from tradecore.api.server import ApiServer
    kw.setdefault("token", TOKEN)
    server = ApiServer(node, host="127.0.0.1", port=0, **kw)
    await server.start()
    server.phase = "running"
    return server


@pytest.fixture
def restore_logging():
    """cli.main() installs its own handlers (and a writer thread): put pytest's back."""
    import logging

    from tradecore.api import logging as tl
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    tl._stop()
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)
    for name in ("tradecore", "tradecore.api", "tradecore.risk"):
        logging.getLogger(name).setLevel(logging.NOTSET)
