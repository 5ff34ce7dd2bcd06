"""Replay a compiled EventLog through a node, calling Python only where a listener cares.

`fast_replay.replay_events` hands every message to the node's hooks (paper venue, execution
engine, strategies). Most of those calls change nothing: the arbitrage detector finds the tops
uncrossed, the paper venue has nothing resting, the engine stores the same mid again. Here the
compiled loop (_fast/replay.pyx, whose .pxd states the exact rule) applies the levels and calls
the node's hook for a book message only when one of its listeners could act on it:

* the paper venue (`PaperVenue.replay_idle`): anything resting, waiting for a trigger, or
  liquidity consumed in the current book state -> every change is delivered;
* the execution engine: a protective stop on the key -> every change is delivered; otherwise its
  per-change work (gate mid and time, portfolio mark) only stores the latest values, so the
  stores of skipped messages are made before the next call into Python, from the same book;
* each subscribed strategy, by its own declared rule (`Strategy.replay_rule` /
  `replay_wake_ns`): none -> every change; "top" -> when the best prices move or a time-driven
  decision falls due; "cross" -> when the tops cross after fees (the detector's first test);
* the first message of a feed is always delivered (books register, venues attach).

Trades: delivered when a strategy subscribes them, the paper venue has orders or stops, or a
protective stop watches the key; otherwise only the paper venue's last-trade reference moves,
set from the feed's last skipped trade before the next call into Python. Latency timers run at
the same messages as per message.

So the orders, fills, positions and PnL are those of `replay_events` (tests compare them on the
bundled recordings and on generated books). Counters that count calls are completed: the node's
`book_updates` and `trades` include the skipped messages, and each strategy's counter
`replay_skipped_on_book` says how many of its on_book calls were skipped (for the cross-exchange
strategy, `checks` + that = the per-message `checks`).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from tradecore._fast.book import L2Book
from tradecore._fast.replay import GatedReplay
from tradecore.backtest.events import EventLog
from tradecore.core.clock import SimClock

NO_WAKE = 2**63 - 1


@dataclass
class GateStats:
    """What the last gated replay skipped (for benchmarks and the docs)."""
    delivered_books: int = 0
    skipped_books: int = 0
    delivered_trades: int = 0
    skipped_trades: int = 0
    timer_advances: int = 0
    refreshes: int = 0


def replay_events_gated(node, log: EventLog, *, on_record: Callable[[int], None] | None = None,
                        start: bool = True, stats: GateStats | None = None) -> int:
    """Run every message of `log` through `node`, skipping the calls no listener needs;
    returns the number of levels applied (as `replay_events`)."""
    clock = node.clock
    if not isinstance(clock, SimClock):
        raise TypeError("replay_events_gated needs a node built with a SimClock (backtest/paper)")
    books = [L2Book(tick, lot) for tick, lot in log.grids]
    g = GatedReplay(books, clock)
    protection = node.exec.protection.by_key
    feeds = []            # per feed: (key, book, paper or None, subs, trade-subscribed, rules)
    for f, (venue, symbol) in enumerate(log.feeds):
        key = (venue, symbol)
        v = node.venues.get(venue)
        paper_idle = getattr(v, "replay_idle", None)
        sink = getattr(v, "on_trade", None)
        subs = list(node.book_subs.get(key, ()))
        rules = [s.replay_rule(venue, symbol) for s in subs]
        cross = [(r[1], r[2]) for r in rules if r is not None and r[0] == "cross"]
        top = any(r is not None and r[0] == "top" for r in rules)
        g.set_feed(f, ("replay", symbol), node._book_hook(venue), node._trade_hook(venue),
                   partial(node.exec.on_book_key, key, books[f]),
                   partial(sink, symbol) if sink is not None else None, cross)
        feeds.append((key, books[f], v, paper_idle, subs, rules, top,
                      bool(node.trade_subs.get(key))))
    node_books = node.books
    refreshes = 0

    def refresh() -> None:
        nonlocal refreshes
        refreshes += 1
        for f, (key, book, v, paper_idle, subs, rules, top, traded) in enumerate(feeds):
            venue, symbol = key
            if v is None:
                idle = True
            elif paper_idle is None:
                idle = False              # a venue that cannot say: it sees everything
            else:
                idle = paper_idle(symbol, book)
            stopped = key in protection
            always = (not idle) or stopped or node_books.get(key) is not book
            wake = NO_WAKE
            if not always:
                for s, r in zip(subs, rules):
                    w = None if r is None else s.replay_wake_ns(venue, symbol, book)
                    if w is None:
                        always = True
                        break
                    if w < wake:
                        wake = w
            g.set_gate(f, always, top, wake, traded or (not idle) or stopped)

    if start:
        node.start()
    try:
        refresh()
        levels = g.run(log.msg_ts, log.msg_feed, log.msg_kind, log.msg_lo, log.msg_hi,
                       log.lv_side, log.lv_price, log.lv_size, log.trades, refresh, on_record)
    finally:
        if start:
            node.stop()
    node.stats.book_updates += g.skipped_books
    node.stats.trades += g.skipped_trades
    for f, (key, book, v, paper_idle, subs, rules, top, traded) in enumerate(feeds):
        n = g.skipped_books_of(f)
        if n:
            for s in subs:
                s.count("replay_skipped_on_book", n)
    if stats is not None:
        stats.delivered_books = g.delivered_books
        stats.skipped_books = g.skipped_books
        stats.delivered_trades = g.delivered_trades
        stats.skipped_trades = g.skipped_trades
        stats.timer_advances = g.timer_advances
        stats.refreshes = refreshes
    return levels
