"""Every indicator that TA-Lib also has gives TA-Lib's output (the `ta-lib` package is the
reference) on real candles: same warm-up (NaN at the same bars) and values within 1e-9
relative. "Relative" is taken against the larger of the value and the series' largest
magnitude, because oscillators and differences (MACD histogram, APO, slopes) cross zero, and
near a crossing the last bits of two correct computations differ relatively without bound.

The one documented difference exercised here is NaN handling: TA-Lib lets a NaN poison every
later value of a recursive indicator (NaN for ever, 0.0 for ever for RSI, ADX frozen at its
last value: silent wrong numbers); ours restart after a gap (docs/indicators.md), so the
test checks our definition: after the gap we equal TA-Lib run on the data after the gap.
"""
from __future__ import annotations

import inspect

import numpy as np
import pytest
import talib
import talib.abstract
from hypothesis import given, settings

from indicator_data import SHARED, args_for, as_tuple, bundled, ohlcv, shared
from tradecore.indicators import SPECS

TALIB = [s for s in SPECS if s.talib]
RTOL = 1e-9
# an absolute floor of 1e-12 of the inputs' magnitude: only matters when TA-Lib's whole output
# is ~0 (flat random series), where its own cancellation noise is of that size
ZERO_ATOL = 1e-12


def assert_matches(ours, ref, what: str, inputs=()) -> None:
    ours, ref = as_tuple(ours), as_tuple(ref)
    assert len(ours) == len(ref), f"{what}: {len(ours)} outputs, TA-Lib has {len(ref)}"
    for j, (x, y) in enumerate(zip(ours, ref)):
        y = np.asarray(y, dtype=np.float64)
        assert x.shape == y.shape
        nan_x, nan_y = np.isnan(x), np.isnan(y)
        assert (nan_x == nan_y).all(), (
            f"{what} output {j}: warm-up differs, first valid bar ours "
            f"{int(np.argmin(nan_x))} vs TA-Lib {int(np.argmin(nan_y))}")
        if nan_y.all():
            continue
        scale = np.nanmax(np.abs(y))
        err = np.abs(x - y)
        level = max((np.nanmax(np.abs(a)) for a in inputs if a.size), default=1.0)
        bound = RTOL * np.maximum(np.abs(y), scale) + ZERO_ATOL * level
        worst = int(np.nanargmax(err / bound))
        assert (err[~nan_y] <= bound[~nan_y]).all(), (
            f"{what} output {j}: bar {worst} ours {x[worst]!r} TA-Lib {y[worst]!r}")


def talib_call(spec, args, **params):
    return getattr(talib, spec.talib)(*args, **params)


def test_catalogue_checks_at_least_60_indicators_of_which_the_talib_ones_are_listed():
    assert len(SPECS) >= 60
    assert len(TALIB) >= 55
    assert all(hasattr(talib, s.talib) for s in TALIB)


@pytest.mark.parametrize("spec", TALIB, ids=lambda s: s.name)
def test_signature_has_talib_argument_names_and_defaults(spec):
    fn = talib.abstract.Function(spec.talib)
    ours = {k: p.default for k, p in inspect.signature(spec.func).parameters.items()
            if p.default is not inspect.Parameter.empty}
    assert ours == dict(fn.parameters)
    assert len(as_tuple(spec.func(*(np.ones(3),) * len(spec.inputs)))) == len(fn.output_names)
    stream_defaults = {k: p.default for k, p in inspect.signature(spec.stream).parameters.items()}
    assert stream_defaults == dict(fn.parameters)


@pytest.mark.parametrize("label", [*SHARED, "bundled"])
@pytest.mark.parametrize("spec", TALIB, ids=lambda s: s.name)
def test_matches_talib_when_run_on_real_candles(spec, label):
    data = bundled() if label == "bundled" else shared(label)
    if data is None:
        pytest.skip(f"../shared/data/ohlcv/{SHARED[label]} is absent")
    args = args_for(spec, data)
    assert_matches(spec.func(*args), talib_call(spec, args), f"{spec.name} on {label}")


NON_DEFAULT = [
    ("sma", {"timeperiod": 2}), ("ema", {"timeperiod": 7}), ("kama", {"timeperiod": 10}),
    ("t3", {"timeperiod": 9, "vfactor": 0.3}), ("trima", {"timeperiod": 11}),
    ("bbands", {"timeperiod": 10, "nbdevup": 1.5, "nbdevdn": 2.5, "matype": 1}),
    ("stoch", {"fastk_period": 14, "slowk_period": 5, "slowk_matype": 1, "slowd_period": 4,
               "slowd_matype": 1}),
    ("stochf", {"fastk_period": 9, "fastd_period": 4, "fastd_matype": 1}),
    ("stochrsi", {"timeperiod": 21, "fastk_period": 3, "fastd_period": 5, "fastd_matype": 1}),
    ("apo", {"fastperiod": 5, "slowperiod": 35, "matype": 0}),
    ("ppo", {"fastperiod": 26, "slowperiod": 12, "matype": 1}),
    ("macd", {"fastperiod": 5, "slowperiod": 35, "signalperiod": 5}),
    ("macd", {"fastperiod": 26, "slowperiod": 12, "signalperiod": 9}),
    ("macdfix", {"signalperiod": 4}), ("ultosc", {"timeperiod1": 20, "timeperiod2": 5, "timeperiod3": 10}),
    ("sar", {"acceleration": 0.05, "maximum": 0.3}), ("sar", {"acceleration": 0.3, "maximum": 0.2}),
    ("adx", {"timeperiod": 5}), ("adxr", {"timeperiod": 30}), ("aroon", {"timeperiod": 3}),
    ("atr", {"timeperiod": 1}), ("natr", {"timeperiod": 30}), ("mfi", {"timeperiod": 3}),
    ("cci", {"timeperiod": 40}), ("adosc", {"fastperiod": 10, "slowperiod": 3}),
    ("stddev", {"timeperiod": 30, "nbdev": 2.0}), ("var", {"timeperiod": 1}),
    ("linearreg_slope", {"timeperiod": 60}), ("tsf", {"timeperiod": 3}),
    ("correl", {"timeperiod": 5}), ("beta", {"timeperiod": 20}), ("roc", {"timeperiod": 1}),
    ("trix", {"timeperiod": 5}), ("willr", {"timeperiod": 50}), ("midprice", {"timeperiod": 2}),
]


@pytest.mark.parametrize("name,params", NON_DEFAULT, ids=lambda v: str(v))
def test_matches_talib_when_parameters_are_not_the_defaults(name, params):
    spec = next(s for s in TALIB if s.name == name)
    data = shared("binance_btcusdt_1h") or bundled()
    args = args_for(spec, data)
    assert_matches(spec.func(*args, **params), talib_call(spec, args, **params),
                   f"{name}{params}")


@pytest.mark.parametrize("spec", TALIB, ids=lambda s: s.name)
@settings(max_examples=15, deadline=None)
@given(data=ohlcv(min_size=0, max_size=120, gaps=False))
def test_matches_talib_on_random_series_with_flat_runs_and_zero_volume(spec, data):
    args = args_for(spec, data)
    assert_matches(spec.func(*args), talib_call(spec, args), spec.name, args)


@pytest.mark.parametrize("spec", [s for s in TALIB if s.name in ("ema", "rsi", "macd", "adx", "kama", "obv")],
                         ids=lambda s: s.name)
def test_restarts_where_talib_stays_nan_when_input_has_a_gap(spec):
    data = bundled()
    args = [a[:600].copy() for a in args_for(spec, data)]
    for a in args:
        a[200] = np.nan
    ours = as_tuple(spec.func(*args))
    after = as_tuple(spec.func(*(a[201:] for a in args)))
    ref_after = as_tuple(talib_call(spec, [np.ascontiguousarray(a[201:]) for a in args]))
    ref_poisoned = as_tuple(talib_call(spec, args))
    for o, a, r, p in zip(ours, after, ref_after, ref_poisoned):
        assert np.isnan(o[200])
        np.testing.assert_array_equal(o[201:], a)       # a fresh start after the gap ...
        assert_matches(a, r, spec.name)                 # ... which is TA-Lib on that data
        if spec.name != "obv":                          # while TA-Lib never recovers: NaN,
            tail_ref = p[-100:]                         # 0.0 (RSI) or the last value (ADX)
            assert np.isnan(tail_ref).all() or np.ptp(tail_ref) == 0.0  # for ever
            assert not np.allclose(tail_ref, a[-100:], equal_nan=True)
