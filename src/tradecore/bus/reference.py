"""The single-process run in the shape of the nodes' results, for the equality checks of the
distributed run (tests/bus) and for docs: the same config through the in-process TradingNode,
with a passive observer strategy that digests every book the strategies were shown."""
from __future__ import annotations

import dataclasses

from tradecore.bus.strategy_node import book_digest
from tradecore.config import NodeConfig
from tradecore.strategies.base import Strategy


class _Digest(Strategy):
    """Reads every configured book, trades nothing: registered last, so it sees each book
    after the real strategies did, exactly as they saw it."""

    def __init__(self, keys) -> None:
        super().__init__("_digest")
        self.books = tuple(keys)
        self.digest: dict[str, int] = {}

    def on_book(self, venue, symbol, book) -> None:
        k = f"{venue}:{symbol}"
        self.digest[k] = book_digest(self.digest.get(k, 0), venue, symbol, book)


def single_process_result(cfg: NodeConfig, limit: int | None = None) -> dict:
    from tradecore.engine import TradingNode
    node = TradingNode(dataclasses.replace(cfg, raw={k: v for k, v in cfg.raw.items()
                                                     if k != "bus"}))
    spy = _Digest(node.instruments)
    node.add_strategy(spy)
    fills: list[list] = []

    def on_event(order, ev) -> None:
        f = ev.fill
        if f is not None:
            fills.append([f.client_order_id, f.venue, f.symbol, int(f.side), f.qty, f.price,
                          f.fee, f.trade_id, f.ts_ns])
    node.listeners.append(on_event)
    node.run_replay(limit=limit)
    s = node.summary()
    return {
        "orders": sorted([o.client_order_id, o.venue, o.symbol, int(o.side), int(o.type), o.qty,
                          o.price, o.status.name, o.filled_qty]
                         for o in node.exec.oms.orders.values()),
        "fills": sorted(fills),
        "counters": {k: v for k, v in s["strategies"].items() if k != "_digest"},
        "book_digest": spy.digest,
        "realized_pnl": s["realized_pnl"], "fees": s["fees"],
        "book_updates": s["book_updates"], "trades": s["trades"],
        "books": {f"{v}:{sym}": [b.depth_ticks(0, 5).tolist(), b.depth_ticks(1, 5).tolist()]
                  for (v, sym), b in node.books.items()},
    }
