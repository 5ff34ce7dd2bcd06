"""The primitive kernels that every family composes, against plain-Python references on
random series (hypothesis): rolling extremes (with the latest-index tie rule), rolling
variance (exact 0 for equal values, no drift after huge values), linear regression."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from numba import njit

from tradecore.indicators import _core as c
from tradecore.indicators._stream_core import fma as ref_fma

values = st.lists(st.sampled_from([1.0, 2.0, 2.5, 3.0, 7.25, 100.0]) | st.floats(-1e3, 1e3),
                  min_size=0, max_size=80).map(np.array)


def ref_extreme(x, p, want_max):
    val, idx = [], []
    for i in range(len(x)):
        if i < p - 1:
            val.append(np.nan)
            idx.append(-1)
            continue
        w = list(x[i - p + 1:i + 1])
        best = max(w) if want_max else min(w)
        j = i - p + 1 + max(k for k, v in enumerate(w) if v == best)   # latest on ties
        val.append(best)
        idx.append(j)
    return np.array(val), np.array(idx)


@settings(max_examples=150, deadline=None)
@given(x=values, p=st.integers(1, 12), want_max=st.booleans())
def test_rolling_extreme_equals_window_scan_when_values_repeat(x, p, want_max):
    x = x.astype(np.float64)
    val, idx = c.rolling_extreme(x, p, want_max)
    rv, ri = ref_extreme(x, p, want_max)
    np.testing.assert_array_equal(val, rv)
    np.testing.assert_array_equal(idx, ri)


@settings(max_examples=150, deadline=None)
@given(x=values, p=st.integers(1, 12))
def test_rolling_var_equals_two_pass_variance_when_windows_slide(x, p):
    x = x.astype(np.float64)
    got = c.rolling_var(x, p)
    for i in range(len(x)):
        if i < p - 1:
            assert np.isnan(got[i])
        else:
            w = x[i - p + 1:i + 1]
            want = np.mean((w - w.mean()) ** 2)
            if np.all(w == w[0]):
                assert got[i] == 0.0
            else:
                # the sums are anchored at a value of the last 2p bars: the absolute error is
                # a few ulps of the squared level there, the relative error 1e-9 above it
                level = np.max(x[max(0, i - 2 * p):i + 1] ** 2)
                assert abs(got[i] - want) <= 1e-9 * want + 1e-12 * level


def test_rolling_var_is_accurate_after_a_huge_value_leaves_the_window():
    # A running sum of squares that once held 1e16 keeps an error of ~1 for ever; the exact
    # recomputation every p bars removes it.
    rng = np.random.default_rng(3)
    x = np.r_[1e8, rng.normal(1.0, 0.01, 10_000)]
    got = c.rolling_var(x, 20)[-1]
    want = np.var(x[-20:])
    assert abs(got - want) <= 1e-12 * 1 + 1e-9 * want


@settings(max_examples=100, deadline=None)
@given(x=values, p=st.integers(2, 12))
def test_linreg_fit_equals_polyfit_when_windows_slide(x, p):
    x = x.astype(np.float64)
    slope, icpt = c.linreg_fit(x, p)
    for i in range(p - 1, len(x)):
        w = x[i - p + 1:i + 1]
        m, b = np.polyfit(np.arange(p, dtype=float), w, 1)
        scale = max(np.max(np.abs(w)), 1.0)
        assert abs(slope[i] - m) <= 1e-9 * scale
        assert abs(icpt[i] - b) <= 1e-9 * scale * p


@settings(max_examples=100, deadline=None)
@given(x=values, p=st.integers(1, 12), skip=st.integers(0, 5))
def test_ema_equals_recursive_definition_when_seeded_late(x, p, skip):
    x = x.astype(np.float64)
    k = 2.0 / (p + 1)
    got = c.ema(x, p, k, skip)
    first = p - 1 + skip
    for i in range(len(x)):
        if i < first:
            assert np.isnan(got[i])
        elif i == first:
            assert got[i] == sum(x[first - p + 1:first + 1]) / p or \
                abs(got[i] - np.mean(x[first - p + 1:first + 1])) <= 1e-12 * max(1, np.max(np.abs(x)))
        else:
            assert got[i] == ref_fma(x[i] - got[i - 1], k, got[i - 1])


@njit(cache=False)
def _fma_each(a, b, d):
    out = np.empty(a.size)
    for i in range(a.size):
        out[i] = c.fma(a[i], b[i], d[i])
    return out


finite = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=50))
def test_fma_rounds_once_when_given_any_finite_operands(rows):
    a, b, d = (np.array(col, dtype=np.float64) for col in zip(*rows))
    got = _fma_each(a, b, d)
    for i in range(a.size):
        want = ref_fma(a[i], b[i], d[i])
        assert got[i] == want or (np.isnan(got[i]) and np.isnan(want)) or \
            (np.isinf(got[i]) and got[i] == want)


def test_fma_differs_from_two_roundings_when_product_and_addend_cancel():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=1000), rng.normal(size=1000)
    d = -(a * b)                        # the rounded product: a*b + d is exactly 0.0
    got = _fma_each(a, b, d)
    assert np.all(a * b + d == 0.0)
    assert np.count_nonzero(got) > 900  # the fused result keeps the product's rounding error
    assert all(got[i] == ref_fma(a[i], b[i], d[i]) for i in range(a.size))


def test_runs_split_rows_into_maximal_finite_runs():
    ok = np.array([True, True, False, True, False, False, True])
    np.testing.assert_array_equal(c._runs(ok), [[0, 2], [3, 4], [6, 7]])
    assert c._runs(np.zeros(0, dtype=bool)).shape == (0, 2)
