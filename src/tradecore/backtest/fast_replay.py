"""Replay a compiled EventLog through a node: the backtest path at millions of deltas per second.

Each message's levels go into the feed's compiled book in one `apply_many` call (validated as a
batch, exactly like a live diff), the SimClock is advanced to the message's receive time (running
the paper venue's latency timers that fall due), and the node's own market-data hooks run: paper
venue matching, execution engine marks and stops, then the strategies. So the strategies, the risk
gate, the OMS and the paper venue are the very objects of `TradingNode`, fed from arrays instead
of frames; a backtest over the compiled log and a paper run over the capture give the same orders
(test).
"""
from __future__ import annotations

from collections.abc import Callable

from tradecore._fast.book import L2Book
from tradecore.backtest.events import SNAPSHOT, TRADE, EventLog
from tradecore.core.clock import SimClock


def replay_events(node, log: EventLog, *, on_record: Callable[[int], None] | None = None,
                  start: bool = True) -> int:
    """Run every message of `log` through `node`; returns the number of levels applied."""
    clock = node.clock
    if not isinstance(clock, SimClock):
        raise TypeError("replay_events needs a node built with a SimClock (backtest/paper)")
    books = [L2Book(tick, lot) for tick, lot in log.grids]
    book_hooks = []
    trade_hooks = []
    keys = []
    for venue, symbol in log.feeds:
        book_hooks.append(node._book_hook(venue))
        trade_hooks.append(node._trade_hook(venue))
        keys.append(("replay", symbol))
    # Python lists: indexing a numpy array yields a numpy scalar (~100 ns each)
    ts_a, feed_a, kind_a = log.msg_ts.tolist(), log.msg_feed.tolist(), log.msg_kind.tolist()
    lo_a, hi_a = log.msg_lo.tolist(), log.msg_hi.tolist()
    side, price, size, trades = log.lv_side, log.lv_price, log.lv_size, log.trades
    n_msg = log.n_messages
    levels = 0
    if start:
        node.start()
    try:
        now = clock.time_ns()
        for i in range(n_msg):
            ts = ts_a[i]
            if ts > now:
                clock.advance_to(ts)
                now = ts
            f = feed_a[i]
            lo = lo_a[i]
            hi = hi_a[i]
            if kind_a[i] == TRADE:
                trade_hooks[f](trades[lo])
            else:
                b = books[f]
                if kind_a[i] == SNAPSHOT:
                    b.clear()
                    b.apply_many(side[lo:hi], price[lo:hi], size[lo:hi])
                    b.valid = True
                else:
                    b.apply_many(side[lo:hi], price[lo:hi], size[lo:hi])
                b.ts_ns = ts
                levels += hi - lo
                if b.valid:
                    book_hooks[f](keys[f], b)
            if on_record is not None:
                on_record(ts)
    finally:
        if start:
            node.stop()
    return levels
