"""The built-in candle features: live equals batch, no look-ahead, clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from tradecore.ml.features import CandleFeatures, feature_source_from_config, schema_of


def _live_rows(fs, c, reference: bool = False):
    live = fs.live_reference() if reference else fs.live()
    out = np.full((len(c), len(fs.names)), np.nan)
    for i in range(len(c)):
        r = live.update(int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i])
        if r is not None:
            out[i] = r
    return out


@pytest.mark.parametrize("horizons,window", [((1, 4, 12, 24), 24), ((1, 2, 48), 10)])
def test_live_update_equals_batch_row_when_streaming_real_candles(btc_candles, horizons, window):
    c = btc_candles.slice(0, 20_000)
    fs = CandleFeatures(horizons, window)
    B = fs.batch(c)
    L = _live_rows(fs, c)
    assert np.isnan(B[:fs.warmup]).all() and np.isnan(L[:fs.warmup]).all()
    np.testing.assert_allclose(L[fs.warmup:], B[fs.warmup:], rtol=0, atol=1e-12)


@pytest.mark.parametrize("horizons,window", [((1, 4, 12, 24), 24), ((3, 7), 5)])
def test_compiled_batch_and_live_equal_the_plain_python_reference(btc_candles, horizons, window):
    c = btc_candles.slice(30_000, 45_000)
    fs = CandleFeatures(horizons, window)
    R = _live_rows(fs, c, reference=True)
    np.testing.assert_allclose(fs.batch(c)[fs.warmup:], R[fs.warmup:], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_live_rows(fs, c)[fs.warmup:], R[fs.warmup:], rtol=0, atol=1e-12)


def test_row_t_is_unchanged_when_bars_after_t_are_removed_or_altered(btc_candles):
    fs = CandleFeatures()
    full = fs.batch(btc_candles.slice(0, 5000))
    for t in (100, 1234, 4998):
        cut = fs.batch(btc_candles.slice(0, t + 1))
        np.testing.assert_array_equal(cut[t], full[t])
    alt = btc_candles.slice(0, 5000)
    alt.close[3001:] *= 1.5
    alt.high[3001:] *= 1.5
    np.testing.assert_array_equal(fs.batch(alt)[:3001], full[:3001])


def test_feature_values_match_their_definitions_on_a_real_bar(btc_candles):
    fs = CandleFeatures((1, 4), 24)
    c = btc_candles.slice(0, 300)
    X = fs.batch(c)
    t = 200
    r = np.log(c.close[t - 23:t + 1] / c.close[t - 24:t])
    assert X[t, 0] == pytest.approx(np.log(c.close[t] / c.close[t - 1]), abs=1e-14)
    assert X[t, 1] == pytest.approx(np.log(c.close[t] / c.close[t - 4]), abs=1e-14)
    assert X[t, 2] == pytest.approx(r.std(), rel=1e-9)
    assert X[t, 3] == pytest.approx(r[r > 0].sum() / np.abs(r).sum() - 0.5, rel=1e-9)
    lv = np.log(c.volume[t - 23:t + 1] + 1)
    assert X[t, 4] == pytest.approx((lv[-1] - lv.mean()) / lv.std(), rel=1e-7)
    assert X[t, 5] == pytest.approx(np.log(c.high[t] / c.low[t]), abs=1e-14)


def test_bad_feature_config_is_refused_with_the_key():
    with pytest.raises(ValueError, match="horizons"):
        CandleFeatures((0, 4))
    with pytest.raises(ValueError, match="window"):
        CandleFeatures((1,), 1)
    with pytest.raises(ValueError, match="unknown keys"):
        feature_source_from_config({"horizons": [1], "lookback": 3})
    with pytest.raises(ValueError, match="close must be > 0"):
        CandleFeatures().live().update(0, 1, 1, 1, 0.0, 1)


def test_schema_names_source_config_and_columns():
    s = schema_of(CandleFeatures((1, 4), 12))
    assert s == {"source": "CandleFeatures", "config": {"horizons": [1, 4], "window": 12},
                 "names": ["ret_1", "ret_4", "vol_12", "rsi_12", "volz_12", "range",
                           "close_pos"]}
