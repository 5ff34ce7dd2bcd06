"""Bad and awkward input has a defined, tested result: NaN warm-up for series shorter than
the window, a restart after a NaN/inf gap, defined values for zero volume and constant
prices, and a ValueError naming the argument (and changing nothing) for input that cannot be
computed: unsorted timestamps, mismatched lengths, 2-D arrays, out-of-range parameters."""
from __future__ import annotations

import numpy as np
import pytest

from indicator_data import args_for, as_tuple, bundled
import tradecore.indicators as ta
from tradecore.indicators import SPECS

SERIES = [s for s in SPECS if s.name != "volume_profile"]


def real_args(spec, n: int = 400) -> list[np.ndarray]:
    return [a[:n].copy() for a in args_for(spec, bundled())]


@pytest.mark.parametrize("spec", SERIES, ids=lambda s: s.name)
def test_prefix_gives_the_same_values_when_series_is_shorter_than_the_window(spec):
    args = real_args(spec)
    full = as_tuple(spec.func(*args, **spec.params))
    for k in (0, 1, 2, 5, 13, 40):
        part = as_tuple(spec.func(*(a[:k] for a in args), **spec.params))
        for f, p in zip(full, part):
            assert p.shape == (k,)
            np.testing.assert_array_equal(p, f[:k])


def test_output_is_all_nan_when_series_is_shorter_than_the_window():
    close = bundled()["close"][:10]
    assert np.isnan(ta.rsi(close, timeperiod=14)).all()
    assert all(np.isnan(o).all() for o in ta.macd(close))
    assert np.isnan(ta.sma(close, timeperiod=11)).all()
    assert not np.isnan(ta.sma(close, timeperiod=10)[-1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("spec", SERIES, ids=lambda s: s.name)
def test_restarts_as_a_new_series_when_an_input_has_a_gap(spec, bad):
    args = real_args(spec)
    for j, name in enumerate(spec.inputs):
        if name == "timestamps":
            continue
        gapped = [a.copy() for a in args]
        gapped[j][150] = bad
        out = as_tuple(spec.func(*gapped, **spec.params))
        before = as_tuple(spec.func(*(a[:150] for a in args), **spec.params))
        after = as_tuple(spec.func(*(a[151:] for a in args), **spec.params))
        for o, b, a in zip(out, before, after):
            assert np.isnan(o[150])
            np.testing.assert_array_equal(o[:150], b)
            np.testing.assert_array_equal(o[151:], a)


CONSTANT_EXPECTED = {
    "sma": 100.0, "ema": 100.0, "wma": 100.0, "dema": 100.0, "tema": 100.0, "trima": 100.0,
    "kama": 100.0, "t3": 100.0, "hma": 100.0, "midpoint": 100.0, "midprice": 100.0,
    "bbands": (100.0, 100.0, 100.0), "rsi": 0.0, "cmo": 0.0, "stoch": (0.0, 0.0),
    "stochf": (0.0, 0.0), "stochrsi": (0.0, 0.0), "willr": 0.0, "cci": 0.0, "mfi": 0.0,
    "mom": 0.0, "roc": 0.0, "rocp": 0.0, "rocr": 1.0, "rocr100": 100.0, "trix": 0.0,
    "ultosc": 0.0, "apo": 0.0, "ppo": 0.0, "macd": (0.0, 0.0, 0.0), "macdfix": (0.0, 0.0, 0.0),
    "bop": 0.0, "plus_dm": 0.0, "minus_dm": 0.0, "plus_di": 0.0, "minus_di": 0.0, "dx": 0.0,
    "adx": 0.0, "adxr": 0.0, "aroon": (100.0, 100.0), "aroonosc": 0.0, "sar": 100.0,
    "supertrend": (100.0, 1.0), "ichimoku": (100.0,) * 4, "trange": 0.0, "atr": 0.0,
    "natr": 0.0, "keltner": (100.0, 100.0, 100.0), "donchian": (100.0, 100.0, 100.0),
    "hv_close": 0.0, "hv_parkinson": 0.0, "hv_garman_klass": 0.0, "cmf": 0.0, "vwap": 100.0,
    "var": 0.0, "stddev": 0.0, "zscore": 0.0, "linearreg": 100.0, "linearreg_slope": 0.0,
    "linearreg_intercept": 100.0, "linearreg_angle": 0.0, "tsf": 100.0, "correl": 0.0,
    "beta": 0.0, "max": 100.0, "min": 100.0, "sum": 3000.0, "avgprice": 100.0,
    "medprice": 100.0, "typprice": 100.0, "wclprice": 100.0,
}


@pytest.mark.parametrize("spec", SERIES, ids=lambda s: s.name)
def test_gives_the_defined_flat_value_when_prices_are_constant(spec):
    n = 300
    data = {k: np.full(n, 100.0) for k in ("open", "high", "low", "close")}
    data["volume"] = np.full(n, 2.0)
    data["timestamps"] = np.arange(n, dtype=np.int64) * 60_000_000_000
    out = as_tuple(spec.func(*(data[k] for k in spec.inputs), **spec.params))
    if spec.name in ("obv", "ad", "adosc"):
        want = {"obv": (2.0,), "ad": (0.0,), "adosc": (0.0,)}[spec.name]
    else:
        want = as_tuple(CONSTANT_EXPECTED[spec.name])
    for o, w in zip(out, want):
        valid = o[~np.isnan(o)]
        assert valid.size > 0 and np.isnan(o[-valid.size:]).sum() == 0
        # exact, except that a weighted sum of equal values may round (T3: 1 ulp)
        np.testing.assert_allclose(valid, w, rtol=1e-13, atol=0.0, err_msg=spec.name)


def test_zero_volume_gives_defined_values_for_the_volume_indicators():
    d = bundled()
    h, lo, c = (d[k][:300] for k in ("high", "low", "close"))
    v = np.zeros(300)
    ts = d["timestamps"][:300]
    assert (ta.mfi(h, lo, c, v)[14:] == 0.0).all()            # no money flow: 0 (as TA-Lib)
    assert (ta.cmf(h, lo, c, v)[19:] == 0.0).all()            # no volume in the window: 0
    assert (ta.obv(c, v) == 0.0).all() and (ta.ad(h, lo, c, v) == 0.0).all()
    assert np.isnan(ta.vwap(h, lo, c, v, ts)).all()           # nothing traded: no price yet
    v2 = v.copy()
    v2[100] = 3.0
    w = ta.vwap(h, lo, c, v2, ts)
    session = ts // ta.volume.NS_PER_DAY
    same = session == session[100]
    assert w[100] == pytest.approx((h[100] + lo[100] + c[100]) / 3.0)
    assert (w[101:][same[101:]] == w[100]).all()              # carried while nothing trades


def test_mfi_and_cmf_windows_become_exactly_zero_when_volume_stops():
    d = bundled()
    h, lo, c, v = (d[k][:400].copy() for k in ("high", "low", "close", "volume"))
    v[200:] = 0.0
    assert (ta.mfi(h, lo, c, v)[214:] == 0.0).all()
    assert (ta.cmf(h, lo, c, v)[219:] == 0.0).all()


def test_vwap_raises_naming_the_bar_when_timestamps_are_not_increasing():
    d = bundled()
    args = [d[k][:50] for k in ("high", "low", "close", "volume")]
    ts = d["timestamps"][:50].copy()
    ts[[20, 21]] = ts[[21, 20]]
    with pytest.raises(ValueError, match=r"timestamps must be strictly increasing: timestamps\[21\]"):
        ta.vwap(*args, ts)
    ts = d["timestamps"][:50].copy()
    ts[30] = ts[29]
    with pytest.raises(ValueError, match=r"timestamps\[30\]"):
        ta.vwap(*args, ts)
    with pytest.raises(ValueError, match="integer ns"):
        ta.vwap(*args, ts.astype(float))


def test_streaming_vwap_raises_and_changes_nothing_when_a_timestamp_goes_back():
    d = bundled()
    rows = list(zip(*(d[k][:40].tolist() for k in ("high", "low", "close", "volume", "timestamps"))))
    a, b = ta.VWAP(), ta.VWAP()
    for i, r in enumerate(rows):
        if i == 20:
            with pytest.raises(ValueError, match="strictly increasing"):
                a.update(*r[:4], rows[10][4])
        np.testing.assert_array_equal(a.update(*r), b.update(*r))


@pytest.mark.parametrize("call,match", [
    (lambda x: ta.sma(x, timeperiod=1), r"timeperiod must be an integer in \[2, 100000\], got 1"),
    (lambda x: ta.sma(x, timeperiod=100_001), "timeperiod must be an integer"),
    (lambda x: ta.rsi(x, timeperiod=14.0), "timeperiod must be an integer"),
    (lambda x: ta.ema(x, timeperiod=True), "timeperiod must be an integer"),
    (lambda x: ta.bbands(x, matype=3), r"matype must be 0 \(SMA\) or 1 \(EMA\), got 3"),
    (lambda x: ta.bbands(x, nbdevup=float("nan")), "nbdevup must be a finite number"),
    (lambda x: ta.t3(x, vfactor=1.5), "vfactor must be a finite number"),
    (lambda x: ta.stoch(x, x, x, slowd_matype=8), "slowd_matype must be 0"),
    (lambda x: ta.macd(x, signalperiod=0), "signalperiod must be an integer"),
    (lambda x: ta.sar(x, x, acceleration=-0.1), "acceleration must be a finite number"),
    (lambda x: ta.hv_close(x, periods_per_year=0.0), r"periods_per_year must be a finite number in \(0.0"),
    (lambda x: ta.volume_profile(x, x, bin_width=0.0), "bin_width must be a finite number"),
    (lambda x: ta.volume_profile(x, x, bin_width=1e-9), "more than 10000000 bins"),
    (lambda x: ta.atr(x, x[:-1], x), "low has length 99 but high has length 100"),
    (lambda x: ta.sma(x.reshape(10, 10)), r"real must be a 1-D array, got shape \(10, 10\)"),
    (lambda x: ta.sma(["a"] * 40), "real must be numeric"),
    (lambda x: ta.hv_close(np.r_[x[:50], 0.0, x[51:]]), r"close must be > 0 .* at index 50"),
    (lambda x: ta.hv_parkinson(x, -x), r"low must be > 0"),
    (lambda x: ta.RSI(timeperiod=1), "timeperiod must be an integer"),
    (lambda x: ta.STOCH(slowk_matype=2), "slowk_matype must be 0"),
    (lambda x: ta.VWAP(anchor_ns=0), "anchor_ns must be an integer"),
    (lambda x: ta.VOLUME_PROFILE(bin_width=-1.0), "bin_width must be a finite number"),
])
def test_raises_value_error_naming_the_argument_when_input_is_invalid(call, match):
    x = 100.0 + np.arange(100.0)
    with pytest.raises(ValueError, match=match):
        call(x)


def test_streaming_log_volatility_raises_and_changes_nothing_when_a_price_is_not_positive():
    closes = bundled()["close"][:60].tolist()
    a, b = ta.HV_CLOSE(timeperiod=10), ta.HV_CLOSE(timeperiod=10)
    for i, c in enumerate(closes):
        if i == 30:
            with pytest.raises(ValueError, match="close must be > 0"):
                a.update(0.0)
        np.testing.assert_array_equal(a.update(c), b.update(c))


def test_accepts_lists_and_integer_arrays_as_float64():
    x = list(range(1, 41))
    np.testing.assert_array_equal(ta.sma(x, timeperiod=5), ta.sma(np.arange(1.0, 41.0), 5))
    assert ta.sma(np.arange(1, 41, dtype=np.int32), 5).dtype == np.float64


def test_volume_profile_skips_rows_with_a_gap():
    x = np.array([10.2, np.nan, 10.7, 11.1, np.inf])
    v = np.array([1.0, 5.0, 2.0, np.nan, 4.0])
    levels, vols = ta.volume_profile(x, v, bin_width=0.5)
    np.testing.assert_array_equal(levels, [10.0, 10.5])
    np.testing.assert_array_equal(vols, [1.0, 2.0])
