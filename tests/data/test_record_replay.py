"""Replaying a recording reproduces exactly the book states of the live run.

Each bundled real capture is replayed through its venue's normalizer with the Recorder
attached (record_to); the book after every applied batch is kept. The store is then replayed
(replay_steps) and every replayed book is compared with the live one: the grid, the best 25
levels a side in ticks and lots after every batch, full depth every 50th batch of a book and at
the end; for Kraken and OKX, the exchange's own checksums are verified on the replayed books.
"""
from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from tradecore._fast.checksum import kraken_checksum, okx_checksum
from tradecore.data import store
from tradecore.data.replay import ReplayError, book_levels, replay_books, replay_steps

from recording_helpers import TOP, depth, grid

BINANCE = "hbt_spot_btcusdt_20240808.gz"
SAMPLES = [
    ("binance", BINANCE),
    ("kraken", "cf_kraken_spot_20210417_5pairs.jsonl"),
    ("okx", "cf_okx_20220227_books-l2-tbt_5inst.jsonl"),
    ("okx", "cf_okx_20220513_books_3inst.jsonl"),
    ("coinbase", "cf_coinbase_pro_20210417_level2_5prod.jsonl.gz"),
]
# small files and one-minute rotation, so the replay reads across many files and windows
OPTIONS = {"flush_rows": 10_000, "rotate_seconds": 60}


def _same(a: tuple, b: tuple) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def _compare(run) -> dict:
    """Replay every symbol of a live run from its store; assert equality step by step."""
    by_symbol: dict[str, list] = {}
    for s in run.steps:
        by_symbol.setdefault(s.key[1], []).append(s)
    checked = {"steps": 0, "full": 0, "checksums": 0}
    for symbol, live in by_symbol.items():
        replayed = replay_steps(run.root, run.venue, symbol)
        i = -1
        for i, (batch, book) in enumerate(replayed):
            assert i < len(live), f"{symbol}: the replay has more batches than the live run"
            s = live[i]
            where = f"{run.venue} {symbol} batch {i} (ts {s.ts_ns})"
            assert (batch.conn, batch.symbol) == s.key, where
            assert batch.ts_local_ns == s.ts_ns, where
            assert grid(book) == s.grid, where
            assert _same(depth(book, TOP), s.top), f"{where}: top {TOP} levels differ"
            if s.full is not None:
                assert _same(depth(book, 1 << 40), s.full), f"{where}: full depth differs"
                checked["full"] += 1
            for expected in s.checksums:
                got = okx_checksum(book) if run.venue == "okx" else \
                    kraken_checksum(book, *s.wire)
                assert got == expected, f"{where}: checksum {got} != exchange's {expected}"
                checked["checksums"] += 1
            checked["steps"] += 1
        assert i + 1 == len(live), f"{symbol}: replayed {i + 1} batches of {len(live)}"
        # the end state, every level, against the normalizer's final book
        for key, final in run.norm.books.items():
            if key[1] == symbol:
                end = replay_books(run.root, run.venue, symbol, conn=key[0])
                assert grid(end) == grid(final)
                assert _same(depth(end, 1 << 40), depth(final, 1 << 40)), f"{symbol}: end"
                assert book_levels(end) == book_levels(final)
    return checked


@pytest.mark.parametrize("venue,name", SAMPLES, ids=[n.split(".")[0] for _, n in SAMPLES])
def test_replay_reproduces_live_books_when_recording_replayed(live_run, venue, name):
    run = live_run(venue, name, **OPTIONS)
    assert run.recorder.stats.bad_batches == 0 and run.recorder.stats.write_errors == 0
    assert run.norm.stats.checksums_bad == 0 and not run.norm.unrecovered()
    checked = _compare(run)
    assert checked["steps"] == len(run.steps) > 0
    if venue in ("kraken", "okx"):
        # every checksum the exchange sent also verifies on the replayed books
        assert checked["checksums"] == run.norm.stats.checksums_ok > 0


def test_recording_is_split_into_closed_files_when_rotated(live_run):
    run = live_run("binance", BINANCE, **OPTIONS)
    paths = store.files(run.root, store.BOOK, "binance", "BTCUSDT")
    assert len(paths) >= 6                      # six minutes of data, one-minute windows
    rows = 0
    for p in paths:
        t = pq.read_table(p)
        ts = t.column("ts_local_ns").to_numpy()
        start = int(p.name.split("-")[1])
        assert start == ts.min()
        assert ts.min() // 60_000_000_000 == ts.max() // 60_000_000_000   # one window a file
        rows += t.num_rows
    assert rows == run.norm.stats.levels
    assert not list(run.root.rglob("*.tmp"))
    trades = store.read(run.root, store.TRADES, "binance", "BTCUSDT")
    assert trades.num_rows == run.norm.stats.trades


def _live_state_at(steps: list, ts_ns: int):
    """The live step the book was at at local time ts_ns: the last of the prefix of batches
    (in apply order) received by then."""
    prefix_max, last = 0, None
    for x in steps:
        prefix_max = max(prefix_max, x.ts_ns)
        if prefix_max > ts_ns:
            break
        last = x
    return last


def test_replay_stops_at_the_live_state_when_until_ns_given(live_run):
    run = live_run("binance", BINANCE, **OPTIONS)
    steps = run.steps
    for frac in (0.1, 0.5, 0.93):
        at = steps[int(len(steps) * frac)].ts_ns
        last = _live_state_at(steps, at)
        book = replay_books(run.root, "binance", "BTCUSDT", until_ns=at)
        assert last is not None and book.ts_ns == last.ts_ns
        assert _same(depth(book, TOP), last.top)


def test_replay_keeps_buffered_diffs_out_when_until_precedes_their_snapshot(live_run):
    run = live_run("binance", BINANCE, **OPTIONS)
    snap_ts = run.steps[0].ts_ns                  # the REST snapshot comes first...
    assert run.steps[1].ts_ns < snap_ts           # ...then diffs received before it
    with pytest.raises(ReplayError, match="no binance BTCUSDT book data"):
        replay_books(run.root, "binance", "BTCUSDT", until_ns=snap_ts - 1)
    # at the snapshot's arrival the live book had the snapshot and the buffered diffs
    last = _live_state_at(run.steps, snap_ts)
    assert last is not run.steps[0]
    book = replay_books(run.root, "binance", "BTCUSDT", until_ns=snap_ts)
    assert book.ts_ns == last.ts_ns and _same(depth(book, TOP), last.top)
