"""The Recorder: cheap hooks, closed files only, rotation, bad input, kill safety."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import pyarrow.parquet as pq

from tradecore.core.events import BUY, SELL, Trade
from tradecore.data import store
from tradecore.data.recorder import Recorder, record_to
from tradecore.data.replay import book_levels, replay_books
from tradecore.venues.kraken import KrakenNormalizer

ROOT = Path(__file__).resolve().parents[2]
DAY = store.NS_PER_DAY
T0 = 1_700_000_000_000_000_000          # 2023-11-14T22:13:20Z


def _levels(i: int, n: int = 4) -> list:
    return [(j % 2, f"{100 + j}.{i % 100:02d}", f"{j + 1}.5") for j in range(n)]


def test_recorder_writes_everything_when_closed(tmp_path):
    rec = Recorder(tmp_path, venue="v", flush_rows=10**9, flush_seconds=3600)
    for i in range(1000):
        rec.on_levels(("ws", "A/B"), T0 + i, i, _levels(i), i == 0)
        rec.on_trade(Trade("v", "A/B", "1.5", "0.1", BUY, str(i), T0 + i - 5, T0 + i))
    time.sleep(0.2)
    assert store.files(tmp_path, store.BOOK) == []       # nothing due yet
    rec.close()
    rec.close()                                          # idempotent
    book = store.read(tmp_path, store.BOOK, "v", "A/B")
    assert book.num_rows == 4000 and rec.stats.rows_written == 5000
    assert book.column("batch").to_pylist()[::4] == list(range(book.column("batch")[0].as_py(),
                                                               book.column("batch")[0].as_py()
                                                               + 1000))
    assert set(book.column("is_snapshot").to_pylist()[:4]) == {True}
    assert sum(book.column("is_snapshot").to_pylist()) == 4
    # the symbol column keeps the exchange's name; the path is sanitised
    assert set(book.column("symbol").cast("string").to_pylist()) == {"A/B"}
    assert all("symbol=A-B" in str(p) for p in store.files(tmp_path, store.BOOK))
    trades = store.read(tmp_path, store.TRADES, "v", "A/B")
    assert trades.num_rows == 1000
    assert trades.slice(0, 1).to_pylist()[0] == {
        "ts_local_ns": T0, "ts_exchange_ns": T0 - 5, "venue": "v", "symbol": "A/B",
        "price": "1.5", "size": "0.1", "aggressor": 1, "trade_id": "0", "backfilled": False}


def test_recorder_flushes_by_rows_and_time_when_running(tmp_path):
    rec = Recorder(tmp_path, venue="v", flush_rows=400, flush_seconds=0.1)
    for i in range(200):                      # 800 rows: at least two flushes by size
        rec.on_levels(("ws", "X"), T0 + i, i, _levels(i), False)
    deadline = time.monotonic() + 5
    while rec.stats.rows_written < 800 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rec.stats.rows_written == 800      # the rest went out by time, before close
    rec.on_levels(("ws", "X"), T0 + 500, 500, _levels(500), False)
    deadline = time.monotonic() + 5
    while rec.stats.rows_written < 804 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rec.stats.rows_written == 804
    rec.close()
    assert rec.stats.files_written >= 2


def test_recorder_rotates_files_when_window_or_date_changes(tmp_path):
    rec = Recorder(tmp_path, venue="v", threaded=False, flush_rows=10**9, flush_seconds=None,
                   rotate_seconds=1)
    midnight = (T0 // DAY + 1) * DAY
    times = [midnight - 1_500_000_000 + k * 250_000_000 for k in range(12)]   # 3 s around it
    for i, ts in enumerate(times):
        rec.on_levels(("ws", "X"), ts, i, _levels(i), False)
        rec.on_trade(Trade("v", "X", "1", "1", SELL, str(i), ts, ts))
    rec.pump()                      # windows closed by later data are flushed, the last not
    assert len(store.files(tmp_path, store.BOOK)) == 3
    rec.close()
    paths = store.files(tmp_path, store.BOOK)
    assert len(paths) == 4          # [-1.5 s, -1 s), [-1 s, 0), [0, 1 s), [1 s, 1.5 s)
    dates = {p.parent.name for p in paths}
    assert dates == {f"date={store.date_text(midnight // DAY - 1)}",
                     f"date={store.date_text(midnight // DAY)}"}
    for p in paths:
        ts = pq.read_table(p).column("ts_local_ns").to_numpy()
        assert ts.min() // 1_000_000_000 == ts.max() // 1_000_000_000
    assert len(store.files(tmp_path, store.TRADES)) == 4
    # reading a time range prunes by date and file start
    assert store.read(tmp_path, store.BOOK, "v", "X", end_ns=midnight - 1).num_rows == 6 * 4


def test_recorder_drops_only_bad_batches_when_levels_malformed(tmp_path):
    rec = Recorder(tmp_path, venue="v", threaded=False)
    good = _levels(1)
    rec.on_levels(("ws", "X"), T0, 1, good, True)
    rec.on_levels(("ws", "X"), T0 + 1, 2, [(0, 1.5, "2")], False)          # float price
    rec.on_levels(("ws", "X"), T0 + 2, 3, [(0, "1.5")], False)             # no size
    rec.on_levels(("ws", "X"), T0 + 3, 4, [(7, "1.5", "2")], False)        # side 7
    rec.on_levels(("ws", "X"), T0 + 4, 5, "not levels", False)
    rec.on_levels(("ws", 5), T0 + 5, 6, good, False)                       # symbol not text
    rec.on_levels(("ws", "X"), T0 + 6, 7, [], False)                       # nothing: skipped
    rec.on_levels(("ws", "X"), T0 + 7, 8, good, False)
    rec.on_trade(Trade("v", "X", 1.5, "1", BUY, "1", T0, T0))              # float price
    rec.on_trade("not a trade")
    rec.close()
    t = store.read(tmp_path, store.BOOK, "v", "X")
    assert t.column("seq").to_pylist() == [1] * 4 + [8] * 4
    assert rec.stats.bad_batches == 5 and rec.stats.bad_trades == 2
    assert store.files(tmp_path, store.TRADES) == []


def test_recorder_keeps_rows_and_retries_when_a_write_fails(tmp_path):
    blocker = tmp_path / "store"
    blocker.write_text("a file where the store's directory should be")
    rec = Recorder(blocker, venue="v", threaded=False)
    rec.on_levels(("ws", "X"), T0, 1, _levels(1), True)
    rec.flush()
    assert rec.stats.write_errors == 1 and rec.pending_rows == 4
    blocker.unlink()
    rec.close()
    assert store.read(blocker, store.BOOK).num_rows == 4 and rec.pending_rows == 0


def test_recorder_records_empty_snapshot_when_book_is_cleared(tmp_path):
    rec = Recorder(tmp_path, venue="v", threaded=False)
    rec.on_levels(("ws", "X"), T0, 1, [(0, "10.5", "1"), (1, "11", "2")], True)
    rec.on_levels(("ws", "X"), T0 + 1, 2, [], True)
    rec.close()
    assert replay_books(tmp_path, "v", "X", until_ns=T0).bid_count == 1
    book = replay_books(tmp_path, "v", "X")
    assert book.bid_count == 0 and book.ask_count == 0 and book.valid


def test_kraken_recording_replays_when_truncation_drops_levels(tmp_path):
    """Kraken sends no delete for a level pushed out of the subscribed depth: the normalizer
    records the truncation as deletes, so the store replays without Kraken's rule."""
    rec = Recorder(tmp_path, venue="kraken", threaded=False)
    norm = KrakenNormalizer(on_levels=rec.on_levels)
    asks = [[f"{100 + k}.0", "1.00000000", "1.0"] for k in range(3)]
    bids = [[f"{99 - k}.0", "1.00000000", "1.0"] for k in range(3)]
    norm.on_frame(orjson.dumps([1, {"as": asks, "bs": bids}, "book-3", "XBT/USD"]), "ws", T0)
    # a better bid and a better ask: the worst of each side falls out of the depth
    norm.on_frame(orjson.dumps([1, {"b": [["99.5", "2.00000000", "2.0"]]},
                                {"a": [["99.8", "3.00000000", "2.0"]]}, "book-3", "XBT/USD"]),
                  "ws", T0 + 1)
    rec.close()
    live = norm.books[("ws", "XBT/USD")]
    assert live.bid_count == 3 and live.ask_count == 3
    t = store.read(tmp_path, store.BOOK, "kraken", "XBT/USD")
    deletes = [(r["side"], r["price"], r["size"]) for r in t.to_pylist() if r["batch"] ==
               t.column("batch")[-1].as_py() and r["size"] == "0"]
    assert deletes == [(0, "97.0", "0"), (1, "102.0", "0")]
    assert book_levels(replay_books(tmp_path, "kraken", "XBT/USD")) == book_levels(live)


def test_record_to_keeps_callbacks_when_normalizer_already_has_them(tmp_path):
    seen_levels, seen_trades = [], []
    norm = KrakenNormalizer(on_levels=lambda *a: seen_levels.append(a),
                            on_trade=seen_trades.append)
    rec = record_to(tmp_path, norm, threaded=False)
    norm.on_frame(orjson.dumps([1, {"as": [["2.0", "1.00000000", "1"]], "bs": []}, "book-10",
                                "A/B"]), "ws", T0)
    norm.on_frame(orjson.dumps([2, [["2.0", "0.50000000", "1700000000.5", "b", "l", ""]],
                                "trade", "A/B"]), "ws", T0 + 1)
    rec.close()
    assert len(seen_levels) == 1 and len(seen_trades) == 1
    assert store.read(tmp_path, store.BOOK, "kraken", "A/B").num_rows == 1
    assert store.read(tmp_path, store.TRADES, "kraken", "A/B").column("price").to_pylist() == \
        ["2.0"]


_WRITER = textwrap.dedent("""
    import sys, time
    from tradecore.core.events import Trade
    from tradecore.data.recorder import Recorder
    rec = Recorder(sys.argv[1], venue="test", flush_rows=2_000, flush_seconds=0.01,
                   rotate_seconds=1)
    i = 0
    while True:
        i += 1
        ts = time.time_ns()
        rec.on_levels(("ws", "TEST/USD"), ts, i,
                      [(j % 2, f"{100 + j}.{i % 100:02d}", f"{j}.5") for j in range(50)],
                      i == 1)
        rec.on_trade(Trade("test", "TEST/USD", "1.25", "0.5", 1, str(i), ts, ts))
        if i % 50 == 0:
            time.sleep(0.0005)
""")


def test_every_visible_file_reads_when_recorder_process_killed(tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(_WRITER)
    root = tmp_path / "store"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, str(script), str(root)], env=env)
    try:
        deadline = time.monotonic() + 20
        while len(list(root.rglob("*.parquet"))) < 20 and time.monotonic() < deadline:
            assert proc.poll() is None, "the recording process died by itself"
            time.sleep(0.05)
        time.sleep(0.3)                      # kill it while it keeps flushing
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    visible = sorted(root.rglob("*.parquet"))
    assert len(visible) >= 20
    rows = 0
    for p in visible:                        # every visible file is whole
        t = pq.read_table(p)
        assert t.schema.equals(store.SCHEMAS[p.relative_to(root).parts[0]])
        rows += t.num_rows
    # a torn file of a write in progress is never visible to the readers
    torn = visible[0].parent / "part-1-1.parquet.tmp"
    torn.write_bytes(b"PAR1 torn")
    book = store.read(root, store.BOOK, "test", "TEST/USD")
    trades = store.read(root, store.TRADES, "test", "TEST/USD")
    assert book.num_rows + trades.num_rows == rows
    # and every batch in them is whole: 50 levels each, none split or torn
    counts = book.group_by("batch").aggregate([("side", "count")]).column("side_count")
    assert set(counts.to_pylist()) == {50}
    assert store.clean_tmp(root, older_than_s=0) >= 1 and not list(root.rglob("*.tmp"))


def test_recorder_flushes_when_process_exits_without_close(tmp_path):
    script = ("import sys\nfrom tradecore.data.recorder import Recorder\n"
              "rec = Recorder(sys.argv[1], venue='v', flush_seconds=3600)\n"
              "rec.on_levels(('ws', 'X'), 1_700_000_000_000_000_000, 1, [(0, '1.5', '2')], True)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], env=env, check=True)
    assert store.read(tmp_path, store.BOOK, "v", "X").num_rows == 1
