"""Recordings compiled once into flat event arrays, for backtests at millions of deltas per second.

A live feed (and a paper run over a capture) parses every frame's JSON; a backtest replays the
same recording many times (sweeps, reruns), so it parses it once: the recording goes through the
venue's real normalizer (gap checks, snapshot sync, checksums: exactly the book states a live run
had) and every batch of levels the normalizer applied, plus every trade, is kept as rows of numpy
arrays in receive-time order across all feeds (hftbacktest's event-array idea):

  msg_ts[i], msg_feed[i], msg_kind[i] (DIFF / SNAPSHOT / TRADE), msg_lo[i]:msg_hi[i] -> its rows
  in lv_side (0 bid, 1 ask), lv_price, lv_size (float64: the book converts them to its grid
  exactly, as apply_many does for live batches)

with each book's grid (tick and lot text) and the trades as `core.events.Trade` objects. Rows
are in the order the normalizers applied them, which is receive-time order except for Binance
diffs buffered before their REST snapshot (applied, as live, right after it, carrying their own
earlier receive times); replays keep this order and never move the clock backwards. The
compiled log is cached next to nothing: callers keep it (`EventLog.save`/`load`, .npz).
A book that the normalizer re-gridded mid-stream is rebuilt on the finest grid seen; a message
whose level cannot be placed on the replay grid is an error naming it (not skipped).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tradecore.core.events import Trade
from tradecore.data.capture import REST, WS, merge_captures
from tradecore.verify import normalizer_for

DIFF, SNAPSHOT, TRADE = 0, 1, 2


@dataclass
class EventLog:
    feeds: list[tuple[str, str]]            # (venue, symbol) per feed index
    grids: list[tuple[str, str]]            # (tick, lot) per feed index
    msg_ts: np.ndarray
    msg_feed: np.ndarray
    msg_kind: np.ndarray
    msg_lo: np.ndarray
    msg_hi: np.ndarray
    lv_side: np.ndarray
    lv_price: np.ndarray
    lv_size: np.ndarray
    trades: list[Trade] = field(default_factory=list)   # msg_lo of a TRADE row indexes this
    sources: tuple[str, ...] = ()

    @property
    def n_levels(self) -> int:
        return int(self.lv_side.size)

    @property
    def n_messages(self) -> int:
        return int(self.msg_ts.size)


def compile_captures(files: dict[str, tuple[str, str | Path]]) -> EventLog:
    """files: venue name -> (exchange, capture path). Every book the normalizers keep becomes a
    feed (venue, symbol); connections are merged per symbol (a venue's one book per symbol)."""
    feeds: dict[tuple[str, str], int] = {}
    grids: dict[int, tuple[str, str]] = {}
    ts_l: list[int] = []
    feed_l: list[int] = []
    kind_l: list[int] = []
    lo_l: list[int] = []
    hi_l: list[int] = []
    side: list[int] = []
    price: list[str] = []
    size: list[str] = []
    trades: list[Trade] = []
    norms = {}

    def feed_of(venue: str, symbol: str) -> int:
        k = (venue, symbol)
        if k not in feeds:
            feeds[k] = len(feeds)
        return feeds[k]

    def levels_hook(venue: str):
        def on_levels(key, ts_ns: int, seq: int, levels: list, is_snapshot: bool) -> None:
            f = feed_of(venue, key[1])
            ts_l.append(ts_ns)
            feed_l.append(f)
            kind_l.append(SNAPSHOT if is_snapshot else DIFF)
            lo_l.append(len(side))
            for s, p, q in levels:
                side.append(s)
                price.append(p)
                size.append(q)
            hi_l.append(len(side))
        return on_levels

    def trade_hook(venue: str):
        def on_trade(t: Trade) -> None:
            f = feed_of(venue, t.symbol)
            ts_l.append(t.ts_local_ns)
            feed_l.append(f)
            kind_l.append(TRADE)
            lo_l.append(len(trades))
            hi_l.append(len(trades) + 1)
            trades.append(t)
        return on_trade

    for venue, (exchange, _path) in files.items():
        n = normalizer_for(exchange)
        n.on_levels = levels_hook(venue)
        n.on_trade = trade_hook(venue)
        norms[venue] = n
    for venue, rec in merge_captures({v: p for v, (_, p) in files.items()}):
        n = norms[venue]
        if rec.kind == WS:
            n.on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            n.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    for (venue, symbol), f in feeds.items():
        book = next((b for (c, s), b in norms[venue].books.items() if s == symbol), None)
        grids[f] = (book._tick_text(), book._lot_text()) if book is not None else ("1", "1")
    return EventLog(
        feeds=[k for k, _ in sorted(feeds.items(), key=lambda kv: kv[1])],
        grids=[grids[i] for i in range(len(feeds))],
        msg_ts=np.asarray(ts_l, np.int64), msg_feed=np.asarray(feed_l, np.int32),
        msg_kind=np.asarray(kind_l, np.int8), msg_lo=np.asarray(lo_l, np.int64),
        msg_hi=np.asarray(hi_l, np.int64), lv_side=np.asarray(side, np.int64),
        lv_price=np.asarray(price, np.float64), lv_size=np.asarray(size, np.float64),
        trades=trades, sources=tuple(str(p) for _, p in files.values()))



def compile_store(feeds: dict[str, tuple[str | Path, str, list[str]]]) -> EventLog:
    """The same event log from Parquet data stores (data/store.py, what `tradecore record` and
    the importers write): feeds maps our venue name -> (store root, the store's venue name,
    symbols). Book
    batches come in the order the recording applied them (data/replay.py), trades in receive
    order; feeds are merged by receive time. The grid of each book is the one the normalizers
    infer from its first snapshot (venues.base.grid_of), refined if later levels need it."""
    import heapq

    from tradecore.data.replay import iter_batches, trades as store_trades
    from tradecore.venues.base import grid_of

    streams = []
    feed_keys: list[tuple[str, str]] = []
    texts: dict[int, tuple[list[str], list[str]]] = {}
    for venue, (root, store_venue, symbols) in feeds.items():
        for sym in symbols:
            f = len(feed_keys)
            feed_keys.append((venue, sym))
            texts[f] = ([], [])

            def book_rows(f=f, root=root, store_venue=store_venue, sym=sym):
                for n, b in enumerate(iter_batches(root, store_venue, sym)):
                    yield (b.ts_local_ns, f, 0, n, b)

            def trade_rows(f=f, root=root, store_venue=store_venue, sym=sym, venue=venue):
                t = store_trades(root, store_venue, sym)
                cols = {c: t.column(c).to_pylist() for c in
                        ("ts_local_ns", "ts_exchange_ns", "price", "size", "aggressor",
                         "trade_id", "backfilled")}
                for n in range(t.num_rows):
                    yield (cols["ts_local_ns"][n], f, 1, n,
                           Trade(venue, sym, cols["price"][n], cols["size"][n],
                                 cols["aggressor"][n], cols["trade_id"][n],
                                 cols["ts_exchange_ns"][n], cols["ts_local_ns"][n],
                                 bool(cols["backfilled"][n])))
            streams += [book_rows(), trade_rows()]
    ts_l, feed_l, kind_l, lo_l, hi_l = [], [], [], [], []
    side: list[int] = []
    price: list[str] = []
    size: list[str] = []
    trades: list[Trade] = []
    for ts, f, what, _n, item in heapq.merge(*streams, key=lambda r: (r[0], r[1], r[2], r[3])):
        ts_l.append(ts)
        feed_l.append(f)
        if what == 1:
            kind_l.append(TRADE)
            lo_l.append(len(trades))
            hi_l.append(len(trades) + 1)
            trades.append(item)
            continue
        kind_l.append(SNAPSHOT if item.is_snapshot else DIFF)
        lo_l.append(len(side))
        for s, levels in ((0, item.bids), (1, item.asks)):
            for p, q in levels:
                side.append(s)
                price.append(p)
                size.append(q)
                texts[f][0].append(p)
                texts[f][1].append(q)
        hi_l.append(len(side))
    grids = [grid_of(*texts[f]) if texts[f][0] else ("1", "1") for f in range(len(feed_keys))]
    return EventLog(
        feeds=feed_keys, grids=grids,
        msg_ts=np.asarray(ts_l, np.int64), msg_feed=np.asarray(feed_l, np.int32),
        msg_kind=np.asarray(kind_l, np.int8), msg_lo=np.asarray(lo_l, np.int64),
        msg_hi=np.asarray(hi_l, np.int64), lv_side=np.asarray(side, np.int64),
        lv_price=np.asarray(price, np.float64), lv_size=np.asarray(size, np.float64),
        trades=trades, sources=tuple(str(r) for r, _, _ in feeds.values()))
