"""DuckDB candles in exact decimals (oracle: Kraken's own 1-minute OHLC), book snapshots."""
from __future__ import annotations

import csv
from decimal import ROUND_DOWN, Decimal

import pytest

from tradecore.core.events import BUY, SELL, Trade
from tradecore.data.importers import import_kraken_rest_trades
from tradecore.data.queries import book_snapshot, candles, connect, interval_ns
from tradecore.data.recorder import Recorder
from tradecore.data.replay import ReplayError

from datafiles import shared_file

S = 1_000_000_000
T0 = 1_700_000_000 * S          # on a 5 s boundary


def test_candles_equal_kraken_ohlc_when_rest_trades_aggregated(tmp_path):
    trades_json = shared_file("kraken/rest_XBTUSDT_trades_20251110.json.gz")
    ohlc_csv = shared_file("ohlcv/kraken_XBTUSDT_1m_20251110_rest.csv")
    import_kraken_rest_trades(tmp_path, trades_json)
    bars = {b["open_time_ns"] // 1_000_000: b for b in
            candles(tmp_path, "kraken", "XBTUSDT", "1m").to_pylist()}
    first, last = min(bars), max(bars)          # partly covered by the 1000 trades
    matched = 0
    for row in csv.DictReader(ohlc_csv.open()):
        ms = int(row["ts_ms"])
        if not first < ms < last:
            continue
        bar = bars.pop(ms, None)
        if int(row["trades"]) == 0:
            assert bar is None, row             # no trades, no bar
            continue
        assert bar is not None, row
        assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"],
                bar["trades"]) == (Decimal(row["open"]), Decimal(row["high"]),
                                   Decimal(row["low"]), Decimal(row["close"]),
                                   Decimal(row["volume"]), int(row["trades"])), row
        # Kraken cuts its vwap to the pair's 1 decimal; ours has 8 more than the prices
        assert bar["vwap"].quantize(Decimal("0.1"), ROUND_DOWN) == Decimal(row["vwap"]), row
        matched += 1
    assert matched == 272                       # every fully covered minute (data README)
    assert set(bars) == {first, last}


def test_candles_are_exact_when_decimals_would_round_as_floats(tmp_path):
    rec = Recorder(tmp_path, threaded=False)
    rows = [  # (seconds after T0, price, size): 0.1 + 0.2 is 0.3 here, not 0.30000000000000004
        (0.5, "100.10", "0.1"), (1, "100.30", "0.2"), (1, "99.90", "0.00000001"),
        (4.9, "100.20", "1.5"), (5, "101", "3"), (7, "100.5", "0.25"), (12, "90", "1")]
    for i, (dt, p, q) in enumerate(rows):
        ts = T0 + int(dt * S)
        rec.on_trade(Trade("x", "A-B", p, q, BUY if i % 2 else SELL, str(i), ts, ts + 1000))
    rec.close()
    bars = candles(tmp_path, "x", "A-B", "5s").to_pylist()
    assert [(b["open_time_ns"], str(b["open"]), str(b["high"]), str(b["low"]),
             str(b["close"]), str(b["volume"]), b["trades"]) for b in bars] == [
        (T0, "100.10", "100.30", "99.90", "100.20", "1.80000001", 4),
        (T0 + 5 * S, "101.00", "101.00", "100.50", "100.50", "3.25000000", 2),
        (T0 + 10 * S, "90.00", "90.00", "90.00", "90.00", "1.00000000", 1)]
    first = bars[0]
    notional = Decimal("100.10") * Decimal("0.1") + Decimal("100.30") * Decimal("0.2") + \
        Decimal("99.90") * Decimal("0.00000001") + Decimal("100.20") * Decimal("1.5")
    assert first["notional"] == notional
    assert first["vwap"] == (notional / Decimal("1.80000001")).quantize(Decimal("1e-10"))
    # time filters: [start, end) on the exchange clock
    only = candles(tmp_path, "x", "A-B", "5s", start=T0 + 5 * S, end=T0 + 10 * S)
    assert only.column("trades").to_pylist() == [2]
    assert candles(tmp_path, "x", "other", "1m").num_rows == 0
    assert connect(tmp_path).execute("SELECT count(*) FROM trades").fetchall() == [(7,)]


@pytest.mark.parametrize("bad", ["1", "m", "0m", "1w", "1.5m", 60])
def test_candles_reject_interval_when_malformed(bad):
    with pytest.raises(ValueError, match="is not <n><unit> with unit s, m, h or d"):
        interval_ns(bad)


def test_book_snapshot_equals_live_book_when_time_given(live_run):
    run = live_run("binance", "hbt_spot_btcusdt_20240808.gz", flush_rows=10_000,
                   rotate_seconds=60)
    step = run.steps[len(run.steps) // 2]
    later = run.steps[len(run.steps) // 2 + 1]
    assert later.ts_ns > step.ts_ns
    snap = book_snapshot(run.root, "binance", "BTCUSDT", step.ts_ns, depth=5)
    assert snap["ts_local_ns"] == step.ts_ns and snap["valid"]
    tick, pd, lot, sd = step.grid
    want = [(Decimal(int(t) * tick).scaleb(-pd), Decimal(int(q) * lot).scaleb(-sd))
            for t, q in step.top[0][:5]]
    assert [(Decimal(p), Decimal(q)) for p, q in snap["bids"]] == want
    assert len(snap["asks"]) == 5
    with pytest.raises(ReplayError, match="no binance ETHUSDT book"):
        book_snapshot(run.root, "binance", "ETHUSDT", step.ts_ns)
