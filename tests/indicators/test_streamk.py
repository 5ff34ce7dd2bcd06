"""The compiled streaming blocks (tradecore._fast.streamk) return exactly what their
plain-Python references in indicators._stream_core return, value for value, on random series
with flat runs, repeated values and zeros (hypothesis), for several window lengths."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore._fast import streamk as sk
from tradecore.indicators import _stream_core as ref
from tradecore.indicators._core import NOISE_RTOL

# prices on a coarse grid (ties, flat runs) or continuous, some zeros for the ratio blocks
price = st.one_of(st.sampled_from([0.0, 1.0, 1.5, 2.0, 100.0, 100.5]),
                  st.floats(0.5, 1e5, allow_nan=False, allow_infinity=False))
series = st.lists(price, min_size=0, max_size=120)
periods = st.integers(1, 12)


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def run_pairs(fast, slow, rows) -> None:
    for i, r in enumerate(rows):
        a, b = fast(*r), slow(*r)
        assert same(a, b), (i, r, a, b)


@settings(max_examples=60, deadline=None)
@given(xs=series, p=periods, kind=st.integers(0, 1))
def test_moving_sums_and_averages_equal_their_python_reference(xs, p, kind):
    rows = [(x,) for x in xs] + [(math.nan,)] + [(x,) for x in xs[:5]]  # NaN: upstream warm-up
    run_pairs(sk.RollingSum(p).update, ref.RollingSum(p).update, rows)
    run_pairs(sk.Sma(p).update, ref.Sma(p).update, rows)
    run_pairs(sk.Ema(p, 2.0 / (p + 1), kind).update, ref.Ema(p, 2.0 / (p + 1), kind).update,
              rows)
    run_pairs(sk.ma(p, kind).update, ref.ma(p, kind).update, rows)


@settings(max_examples=60, deadline=None)
@given(xs=series, p=periods, want_max=st.booleans())
def test_extreme_value_and_index_equal_their_python_reference(xs, p, want_max):
    a, b = sk.Extreme(p, want_max), ref.Extreme(p, want_max)
    for x in xs:
        assert same(a.update(x), b.update(x))
        assert a.index == b.index


@settings(max_examples=60, deadline=None)
@given(hs=series, ls=series, p=periods)
def test_high_low_outputs_equal_their_python_reference(hs, ls, p):
    rows = [(max(h, lo), min(h, lo), (h + lo) / 2.0) for h, lo in zip(hs, ls)]
    run_pairs(sk.HighLow(p).mid, ref.HighLow(p).mid, [r[:2] for r in rows])
    run_pairs(sk.HighLow(p, NOISE_RTOL).fastk, ref.HighLow(p, NOISE_RTOL).fastk, rows)
    run_pairs(sk.HighLow(p, NOISE_RTOL).willr, ref.HighLow(p, NOISE_RTOL).willr, rows)


@settings(max_examples=60, deadline=None)
@given(xs=series, p=periods)
def test_variance_regression_and_nonnegative_mean_equal_their_python_reference(xs, p):
    rows = [(x,) for x in xs]
    run_pairs(sk.RollingVar(p).update, ref.RollingVar(p).update, rows)
    run_pairs(sk.MeanNonneg(p).update, ref.MeanNonneg(p).update, rows)
    if p >= 2:  # TA-Lib's regressions need two points
        for kind in range(5):
            lr = ref.LinReg(p)
            run_pairs(sk.LinReg(p, kind).update, lambda x, k=kind, lr=lr: ref.linreg_output(lr, k, x),
                      rows)


@settings(max_examples=60, deadline=None)
@given(hs=series, ls=series, p=periods)
def test_cci_and_directional_movement_equal_their_python_reference(hs, ls, p):
    rows = [(max(h, lo), min(h, lo), (h + lo) / 2.0 + (h - lo) / 4.0) for h, lo in zip(hs, ls)]
    run_pairs(sk.Cci(p, NOISE_RTOL).update, ref.Cci(p, NOISE_RTOL).update, rows)
    for which in range(3):
        run_pairs(sk.Di(p, which).update, ref.Di(p, which).update, rows)


@settings(max_examples=60, deadline=None)
@given(xs=series, p=periods)
def test_wma_equals_its_python_reference(xs, p):
    rows = [(x,) for x in xs] + [(math.nan,)] + [(x,) for x in xs[:5]]
    run_pairs(sk.Wma(p).update, ref.Wma(p).update, rows)


@settings(max_examples=60, deadline=None)
@given(xs=series, p=periods)
def test_kama_equals_its_python_reference(xs, p):
    run_pairs(sk.Kama(p).update, ref.Kama(p).update, [(x,) for x in xs])


@settings(max_examples=60, deadline=None)
@given(hs=series, ls=series, p=periods)
def test_wilder_atr_equals_its_python_reference(hs, ls, p):
    rows = [(max(h, lo), min(h, lo), (h + lo) / 2.0) for h, lo in zip(hs, ls)]
    run_pairs(sk.WilderAtr(p).update, ref.WilderAtr(p).update, rows)


@settings(max_examples=60, deadline=None)
@given(xs=series, fast=periods, slow=periods)
def test_chaikin_oscillator_equals_its_python_reference(xs, fast, slow):
    rows = [(x,) for x in xs]
    run_pairs(sk.ChaikinOsc(fast, slow).update, ref.ChaikinOsc(fast, slow).update, rows)


@settings(max_examples=60, deadline=None)
@given(xs=series, ys=series, p=periods)
def test_correlation_and_beta_equal_their_python_reference(xs, ys, p):
    rows = list(zip(xs, ys))
    run_pairs(sk.Correl(p).update, ref.Correl(p).update, rows)
    run_pairs(sk.Beta(p).update, ref.Beta(p).update, rows)


@settings(max_examples=60, deadline=None)
@given(hs=series, ls=series, vs=st.lists(st.sampled_from([0.0, 0.0, 1.0, 2.5]), max_size=120),
       p=periods)
def test_money_flow_blocks_equal_their_python_reference(hs, ls, vs, p):
    rows = [(max(h, lo), min(h, lo), (h + lo) / 2.0, v) for h, lo, v in zip(hs, ls, vs)]
    run_pairs(sk.Mfi(p, 1e-12).update, ref.Mfi(p, 1e-12).update, rows)
    run_pairs(sk.Cmf(p).update, ref.Cmf(p).update, rows)


def test_blocks_give_the_same_values_on_a_long_random_walk():
    """Long enough for many exact recomputations and deque wrap-arounds."""
    rng = np.random.default_rng(3)
    x = (100.0 + np.cumsum(rng.normal(0, 1, 5000))).tolist()
    for p in (5, 14, 30):
        run_pairs(sk.RollingVar(p).update, ref.RollingVar(p).update, [(v,) for v in x])
        run_pairs(sk.Extreme(p, True).update, ref.Extreme(p, True).update, [(v,) for v in x])
        run_pairs(sk.Correl(p).update, ref.Correl(p).update, list(zip(x, x[1:])))
        run_pairs(sk.Ema(p, 2.0 / (p + 1)).update, ref.Ema(p, 2.0 / (p + 1)).update,
                  [(v,) for v in x])
        run_pairs(sk.ChaikinOsc(3, p).update, ref.ChaikinOsc(3, p).update, [(v,) for v in x])
