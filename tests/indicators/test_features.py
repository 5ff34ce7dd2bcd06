"""The feature pipeline: >= 100 named columns, live rows equal to batch rows at every bar, no
look-ahead, reference values for each family, and clear configuration errors."""
from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest
import talib

from datafiles import shared_file
from tradecore.book import L2Book
from tradecore.indicators import features as F

CANDLES = "ohlcv/binance_ETHBTC_1m_20210426_20210526.csv.gz"
_cache: dict[int, dict] = {}


def real_inputs(n: int = 2500, depth: int = 10) -> dict[str, np.ndarray]:
    """Real 1-minute candles; the book at each close and the taker split are built around them
    (seeded), since no recording here has candles, book and trades for the same minutes."""
    if n not in _cache:
        with gzip.open(shared_file(CANDLES), "rt") as f:
            rows = list(csv.DictReader(f))[:n]
        d = {k: np.array([float(r[k]) for r in rows]) for k in
             ("open", "high", "low", "close", "volume")}
        d["ts_ns"] = np.array([int(r["ts_ms"]) for r in rows], dtype=np.int64) * 1_000_000
        rng = np.random.default_rng(7)
        tick = 1e-6
        half = tick * rng.integers(1, 4, n) / 2
        d["bid_px"] = (d["close"] - half)[:, None] - tick * np.arange(depth)
        d["ask_px"] = (d["close"] + half)[:, None] + tick * np.arange(depth)
        d["bid_sz"] = rng.uniform(0.1, 5, (n, depth))
        d["ask_sz"] = rng.uniform(0.1, 5, (n, depth))
        d["buy_volume"] = d["volume"] * rng.uniform(0, 1, n)
        d["sell_volume"] = d["volume"] - d["buy_volume"]
        _cache[n] = d
    return {k: v.copy() for k, v in _cache[n].items()}


def test_candle_only_feature_set_has_at_least_100_columns_without_book_or_trades():
    d = real_inputs(300)
    fs = F.FeatureSet(F.CANDLE_FEATURES)
    m, names = fs.batch({k: d[k] for k in ("open", "high", "low", "close", "volume", "ts_ns")})
    assert m.shape == (300, len(names)) and len(names) >= 100


def test_default_feature_set_has_at_least_100_named_columns():
    fs = F.FeatureSet()
    m, names = fs.batch(real_inputs(600))
    assert len(names) == len(set(names)) == m.shape[1] >= 100
    assert m.dtype == np.float64 and m.shape[0] == 600
    assert {"spread_bps", "microprice_bps", "imbalance_5", "ofi_book", "mid_rv_20",
            "ofi_trades_20", "rv_60", "cdlengulfing", "piv_camarilla_r3"} <= set(names)
    # every column is filled once its window is: the daily pivots need the first UTC day to
    # end (bar 418: the data starts at 17:02), the 240-bar windows 241 bars
    assert np.isfinite(m[418:]).all()
    assert np.isnan(m[417, names.index("piv_classic_p")])


def test_live_row_equals_batch_row_at_every_bar():
    d = real_inputs()
    fs = F.FeatureSet()
    m, names = fs.batch(d)
    live = fs.live()
    n = len(d["close"])
    for i in range(n):
        row = live.update({k: v[i] for k, v in d.items()})
        assert np.array_equal(row, m[i], equal_nan=True), \
            [names[j] for j in np.nonzero(~((row == m[i]) | np.isnan(row) & np.isnan(m[i])))[0]]


def test_rows_up_to_t_do_not_change_when_inputs_after_t_change():
    d = real_inputs()
    fs = F.FeatureSet()
    before, _ = fs.batch(d)
    t = 1500
    rng = np.random.default_rng(11)
    for k in ("open", "high", "low", "close"):
        d[k][t + 1:] *= 1.05
    d["volume"][t + 1:] *= 3
    d["buy_volume"][t + 1:] = d["volume"][t + 1:]
    d["sell_volume"][t + 1:] = 0.0
    for k in ("bid_px", "ask_px"):
        d[k][t + 1:] *= 1.05
    for k in ("bid_sz", "ask_sz"):
        d[k][t + 1:] = rng.uniform(0.1, 9, d[k][t + 1:].shape)
    d["ts_ns"][t + 1:] += 86_400_000_000_000
    after, _ = fs.batch(d)
    assert np.array_equal(before[:t + 1], after[:t + 1], equal_nan=True)
    assert not np.array_equal(before[t + 1:], after[t + 1:], equal_nan=True)


def test_families_match_reference_computations():
    d = real_inputs()
    c, h, lo = d["close"], d["high"], d["low"]
    fs = F.FeatureSet([("returns", {"lags": [1, 5]}), ("realized_vol", {"windows": [20]}),
                       ("sma_dist", {"windows": [20]}), ("rsi", {"periods": [14]}),
                       ("atr", {"periods": [14]}), ("trade_flow", {"windows": [5]}),
                       ("ema_dist", {"spans": [10]}), "candle"])
    m, names = fs.batch(d)
    col = dict(zip(names, m.T))
    assert np.allclose(col["ret_5"][5:], np.log(c[5:] / c[:-5]), rtol=0, atol=1e-12)
    r = np.diff(np.log(c))
    rv = np.sqrt(np.convolve(r * r, np.ones(20), "valid"))
    assert np.allclose(col["rv_20"][20:], rv, rtol=1e-9)
    assert np.allclose(col["sma_dist_20"], c / talib.SMA(c, 20) - 1, rtol=0, atol=1e-12,
                       equal_nan=True)
    assert np.allclose(col["rsi_14"], talib.RSI(c, 14), rtol=1e-9, equal_nan=True)
    assert np.allclose(col["atr_14"] * c, talib.ATR(h, lo, c, 14), rtol=1e-9, equal_nan=True)
    bs = np.convolve(d["buy_volume"], np.ones(5), "valid")
    ss = np.convolve(d["sell_volume"], np.ones(5), "valid")
    assert np.allclose(col["ofi_trades_5"][4:], (bs - ss) / (bs + ss), atol=1e-9)
    ema = np.empty_like(c)
    ema[0] = c[0]
    for i in range(1, len(c)):
        ema[i] = ema[i - 1] + 2 / 11 * (c[i] - ema[i - 1])
    assert np.allclose(col["ema_dist_10"][9:], c[9:] / ema[9:] - 1, atol=1e-12)
    rng_ = h - lo
    clv = np.where(rng_ > 0, ((c - lo) - (h - c)) / np.where(rng_ > 0, rng_, 1), 0.0)
    assert np.allclose(col["close_location"], clv)


def test_book_features_from_an_l2book_when_computed_by_hand():
    book = L2Book(0.01, 0.001)
    book.apply_sides([("100.00", "2.0"), ("99.99", "1.0"), ("99.98", "5.0")],
                     [("100.02", "1.0"), ("100.03", "3.0")])
    lv = F.book_levels(book, 3)
    assert np.isnan(lv["ask_px"][2])                         # a thinner side is NaN-padded
    fs = F.FeatureSet([("book", {"levels": [1, 3], "rv_windows": [2]})])
    bar = {"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1.0, **lv}
    row = dict(zip(fs.names, fs.live().update(bar)))
    mid = 100.01
    assert row["spread_bps"] == pytest.approx(0.02 / mid * 1e4)
    micro = (100.00 * 1.0 + 100.02 * 2.0) / 3.0
    assert row["microprice_bps"] == pytest.approx((micro / mid - 1) * 1e4)
    assert row["imbalance_1"] == pytest.approx((2 - 1) / 3)
    assert row["imbalance_3"] == pytest.approx((8 - 4) / 12)
    assert np.isnan(row["ofi_book"]) and np.isnan(row["mid_rv_2"])


def test_book_order_flow_imbalance_follows_cont_when_the_bid_rises():
    fs = F.FeatureSet([("book", {"levels": [1], "rv_windows": [1]})])
    live = fs.live()
    base = {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 0.0}
    live.update({**base, "bid_px": [10.0], "bid_sz": [2.0], "ask_px": [11.0], "ask_sz": [3.0]})
    row = dict(zip(fs.names, live.update({**base, "bid_px": [10.5], "bid_sz": [1.0],
                                          "ask_px": [11.0], "ask_sz": [4.0]})))
    # bid up: +1.0 (new bid size); ask unchanged: -4.0 + 3.0; normalised by mean top depth 5
    assert row["ofi_book"] == pytest.approx((1.0 - 4.0 + 3.0) / 5.0)
    assert row["mid_ret"] == pytest.approx(np.log(10.75 / 10.5))
    assert row["mid_rv_1"] == pytest.approx(abs(np.log(10.75 / 10.5)))


def test_aggregate_trades_puts_each_trade_in_its_bar():
    bars = np.array([0, 60, 120]) * 10**9
    ts = np.array([0, 59, 60, 119, 130, 200, -5]) * 10**9
    qty = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0])
    buy = np.array([True, False, True, True, False, True, True])
    b, s = F.aggregate_trades(bars, ts, qty, buy, 60 * 10**9)
    assert b.tolist() == [1.0, 12.0, 0.0] and s.tolist() == [2.0, 0.0, 16.0]


@pytest.mark.parametrize("config, message", [
    (["nope"], "unknown family 'nope'"),
    ([("returns", {"lag": [1]})], "unknown parameter\\(s\\) \\['lag'\\]"),
    ([("returns", {"lags": [0, 1]})], "'lags' values must be >= 1, got \\[0\\]"),
    ([("returns", {"lags": "5"})], "'lags' must be a non-empty list of integers"),
    ([("pivots", {"kind": "woodie"})], "'kind' must be one of"),
    ([("fractals", {"n": 0})], "'n' must be an integer >= 1"),
    ([("patterns", {"names": ["cdlfoo"]})], "unknown pattern\\(s\\) \\['cdlfoo'\\]"),
    (["returns", ("returns", {"lags": [1]})], "duplicate columns \\['ret_1'\\]"),
    ([{"lags": [1]}], "has no 'family' key"),
    ([42], "must be a family name"),
    ([], "at least one entry"),
    ([("ta", {"name": "rsx"})], "'name' must be an indicator of the catalogue, got 'rsx'"),
    ([("ta", {"name": "rsi", "params": {"timeperiod": "x"}})], "bad params"),
    ([("ta", {"name": "bbands", "scale": "log"})], "'scale' must be 'none' or 'close'"),
])
def test_bad_config_raises_naming_the_bad_key_or_value(config, message):
    with pytest.raises(ValueError, match=message):
        F.FeatureSet(config)


def test_missing_or_bad_inputs_raise_clear_errors():
    d = real_inputs(300)
    fs = F.FeatureSet(["book"])
    with pytest.raises(ValueError, match="no field 'bid_px'"):
        fs.batch({k: d[k] for k in ("open", "high", "low", "close", "volume")})
    bad = dict(d)
    bad["high"] = d["high"].copy()
    bad["high"][7] = d["low"][7] - 1
    with pytest.raises(ValueError, match="bad bar\\(s\\) at \\[7\\]"):
        F.FeatureSet(["returns"]).batch(bad)
    flow = dict(d)
    flow["sell_volume"] = d["sell_volume"].copy()
    flow["sell_volume"][3] = -1.0
    with pytest.raises(ValueError, match="bad buy_volume/sell_volume at bar\\(s\\) \\[3\\]"):
        F.FeatureSet(["trade_flow"]).batch(flow)
    live = F.FeatureSet(["returns"]).live()
    with pytest.raises(ValueError, match="bad bar"):
        live.update({"open": 1.0, "high": 0.5, "low": 0.9, "close": 1.0, "volume": 1.0})
    assert live.n == 0          # the bad bar changed nothing


def test_warmup_runs_every_default_family_batch_and_live():
    assert F.warmup() > 0.0     # raises if any family fails on the synthetic bars
