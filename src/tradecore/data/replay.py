"""Read the store back: book batches in apply order, rebuilt books, trades in time order.

Order. Book batches are replayed in `batch` order, which is the order the recording applied
them (see store.py); within a batch the rows keep their order. `until_ns` cuts the replay at
the book as it stood at that local time: the longest prefix of batches whose running maximum
of `ts_local_ns` is <= until_ns. For an ordinary stream that is "every batch received by
until_ns"; for Binance diffs buffered before their REST snapshot (recorded after it, with
earlier receive times) it keeps them out until their snapshot is in, as the live book did.

Books. A snapshot batch builds a new L2Book on the grid `venues.base.grid_of` infers from its
levels (what the normalizers do without instrument metadata) and replaces the old one; a diff
batch is applied all-or-nothing with `apply_sides`, on the exact decimal text; a diff that
does not fit an inferred grid re-grids the book (`venues.base.regrid`), as the normalizers do.
So a replay reproduces the live books tick for tick, grid included. Diffs with no snapshot
before them (a store that starts mid-stream) go to a book marked `valid = False`.

Memory: a replay reads the symbol's rows up to until_ns (from the last snapshot, for
replay_books) into memory at once, as Python text; a day of a busy full-depth book wants a
streaming reader (file by file, merging on batch), which is not written yet.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tradecore._fast.book import L2Book
from tradecore.data.store import BOOK, NS_PER_DAY, TRADES, StoreError, read
from tradecore.venues.base import grid_of, regrid

_REGRID = ("decimals than", "off the")
_BIG_SNAPSHOT = 1_000     # levels a side above which a snapshot is loaded touch-first


class ReplayError(StoreError):
    """The store holds nothing to replay, or a batch that cannot be applied."""


@dataclass(frozen=True, slots=True)
class Batch:
    """The levels of one recorded message or snapshot."""
    conn: str
    symbol: str
    ts_local_ns: int
    ts_exchange_ns: int
    seq: int
    is_snapshot: bool
    batch: int
    bids: list          # [(price text, size text), ...] in recorded order
    asks: list


def _sorted_by_batch(table: pa.Table) -> pa.Table:
    # sort_indices is stable: rows of one batch keep their order
    return table.take(pc.sort_indices(table, sort_keys=[("batch", "ascending")]))


def _cut(batch: np.ndarray, ts: np.ndarray, until_ns: int) -> int:
    """Rows of the longest batch-ordered prefix whose running max of ts is <= until_ns."""
    if not len(ts):
        return 0
    over = np.flatnonzero(np.maximum.accumulate(ts) > until_ns)
    return int(over[0]) if len(over) else len(ts)


def _last_snapshot_batch(root, venue, symbol, conn, until_ns) -> int | None:
    """The batch id of the last snapshot of a book within the until_ns prefix."""
    end = None if until_ns is None else until_ns + NS_PER_DAY
    meta = read(root, BOOK, venue, symbol, conn=conn, end_ns=end,
                columns=["batch", "ts_local_ns", "is_snapshot"])
    if not meta.num_rows:
        return None
    meta = _sorted_by_batch(meta)
    batch = meta.column("batch").to_numpy()
    snap = meta.column("is_snapshot").to_numpy(zero_copy_only=False)
    n = len(batch) if until_ns is None else _cut(batch, meta.column("ts_local_ns").to_numpy(),
                                                until_ns)
    idx = np.flatnonzero(snap[:n])
    return int(batch[idx[-1]]) if len(idx) else None


def connections(root: str | Path, venue: str, symbol: str) -> list[str]:
    """The connections a symbol's book was recorded from."""
    t = read(root, BOOK, venue, symbol, columns=["conn"])
    return sorted(set(pc.unique(t.column("conn").cast(pa.string())).to_pylist()))


def iter_batches(root: str | Path, venue: str, symbol: str, *, conn: str | None = None,
                 until_ns: int | None = None, from_batch: int | None = None) -> Iterator[Batch]:
    """The recorded batches of one symbol (every connection unless `conn`), in apply order,
    up to the book at `until_ns`, starting at batch id `from_batch`."""
    end = None if until_ns is None else until_ns + NS_PER_DAY   # buffered diffs at midnight
    extra = None if from_batch is None else pc.field("batch") >= from_batch
    t = read(root, BOOK, venue, symbol, conn=conn, end_ns=end, extra_filter=extra)
    if not t.num_rows:
        return
    t = _sorted_by_batch(t)
    batch = t.column("batch").to_numpy()
    ts = t.column("ts_local_ns").to_numpy()
    n = len(batch) if until_ns is None else _cut(batch, ts, until_ns)
    if n == 0:
        return
    t = t.slice(0, n)
    batch, ts = batch[:n], ts[:n]
    tsx = t.column("ts_exchange_ns").to_numpy()
    seq = t.column("seq").to_numpy()
    side = t.column("side").to_numpy()
    snap = t.column("is_snapshot").to_numpy(zero_copy_only=False)
    conns = t.column("conn").cast(pa.string()).to_pylist()
    symbols = t.column("symbol").cast(pa.string()).to_pylist()
    price = t.column("price").to_pylist()
    size = t.column("size").to_pylist()
    starts = np.concatenate(([0], np.flatnonzero(np.diff(batch)) + 1, [n]))
    for a, b in zip(starts[:-1].tolist(), starts[1:].tolist()):
        bids = [(price[i], size[i]) for i in range(a, b) if side[i] == 0]
        asks = [(price[i], size[i]) for i in range(a, b) if side[i] == 1]
        yield Batch(conns[a], symbols[a], int(ts[a]), int(tsx[a]), int(seq[a]), bool(snap[a]),
                    int(batch[a]), bids, asks)


def _touch_first(levels: list, side: int) -> list:
    """A big snapshot side in the order the book loads fastest (the touch, then worst to
    best; see the Coinbase normalizer). Only the speed depends on it, never the result, and
    only when prices are distinct, which is checked."""
    if len(levels) <= _BIG_SNAPSHOT or len({p for p, _ in levels}) != len(levels):
        return levels
    try:
        best_first = sorted(levels, key=lambda lv: float(lv[0]), reverse=side == 0)
    except ValueError:
        return levels               # the book will name the bad level
    return best_first[:1] + best_first[:0:-1]


class BookBuilder:
    """Applies batches to books kept per (connection, symbol), as the normalizers did."""

    def __init__(self) -> None:
        self.books: dict[tuple[str, str], L2Book] = {}

    def apply(self, b: Batch) -> L2Book:
        key = (b.conn, b.symbol)
        prices = [p for p, _ in b.bids] + [p for p, _ in b.asks]
        sizes = [q for _, q in b.bids] + [q for _, q in b.asks]
        book = self.books.get(key)
        try:
            if b.is_snapshot or book is None:
                tick, lot = grid_of(prices, sizes)
                book = L2Book(tick, lot)
                book.apply_sides(_touch_first(b.bids, 0), _touch_first(b.asks, 1))
                book.valid = b.is_snapshot
            else:
                try:
                    book.apply_sides(b.bids, b.asks)
                except ValueError as e:
                    if not any(w in str(e) for w in _REGRID):
                        raise
                    new = regrid(book, prices, sizes)
                    if new is None:
                        raise
                    new.apply_sides(b.bids, b.asks)
                    book = new
        except (ValueError, TypeError, AttributeError) as e:
            raise ReplayError(f"{b.symbol} batch {b.batch} (conn {b.conn}, ts_local_ns "
                              f"{b.ts_local_ns}) cannot be applied: {e}") from None
        book.seq, book.ts_ns = b.seq, b.ts_local_ns
        self.books[key] = book
        return book


def replay_steps(root: str | Path, venue: str, symbol: str, *, conn: str | None = None,
                 until_ns: int | None = None) -> Iterator[tuple[Batch, L2Book]]:
    """Every batch with the book of its (connection, symbol) right after it (the same book
    object is updated in place between steps, except where a snapshot or re-grid replaces
    it: read what you need before the next step)."""
    builder = BookBuilder()
    for b in iter_batches(root, venue, symbol, conn=conn, until_ns=until_ns):
        yield b, builder.apply(b)


def replay_books(root: str | Path, venue: str, symbol: str, until_ns: int | None = None, *,
                 conn: str | None = None) -> L2Book:
    """The book of one symbol as it stood at `until_ns` (the end of the data when None),
    replayed from the last snapshot before it. `conn` is needed when the symbol was recorded
    from several connections (ReplayError names them)."""
    if conn is None:
        conns = connections(root, venue, symbol)
        if not conns:
            raise ReplayError(f"no {venue} {symbol} book in the store at {root}")
        if len(conns) > 1:
            raise ReplayError(f"{venue} {symbol} was recorded from connections {conns}: "
                              "give conn=")
        conn = conns[0]
    start = _last_snapshot_batch(root, venue, symbol, conn, until_ns)
    builder = BookBuilder()
    book = None
    for b in iter_batches(root, venue, symbol, conn=conn, until_ns=until_ns, from_batch=start):
        book = builder.apply(b)
    if book is None:
        raise ReplayError(f"no {venue} {symbol} book data (conn {conn}) up to {until_ns} "
                          f"in the store at {root}")
    return book


def book_levels(book: L2Book, depth: int | None = None) -> dict[str, list[tuple[str, str]]]:
    """A book's best `depth` levels a side (all when None) as exact decimal text."""
    out = {}
    for name, side in (("bids", 0), ("asks", 1)):
        n = book.bid_count if side == 0 else book.ask_count
        d = book.depth_ticks(side, n if depth is None else depth)
        out[name] = [(_units(int(t) * book.tick_units, book.price_decimals),
                      _units(int(q) * book.lot_units, book.size_decimals)) for t, q in d]
    return out


def _units(units: int, decimals: int) -> str:
    if decimals == 0:
        return str(units)
    s = str(units).rjust(decimals + 1, "0")
    return s[:-decimals] + "." + s[-decimals:]


def trades(root: str | Path, venue: str, symbol: str, start_ns: int | None = None,
           end_ns: int | None = None) -> pa.Table:
    """A symbol's trades with start_ns <= ts_local_ns <= end_ns, in ts_local order (stable:
    trades of one message keep their recorded order)."""
    t = read(root, TRADES, venue, symbol, start_ns=start_ns, end_ns=end_ns)
    return t.take(pc.sort_indices(t, sort_keys=[("ts_local_ns", "ascending")]))
