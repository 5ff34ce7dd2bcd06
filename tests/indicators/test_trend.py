"""Trend indicators TA-Lib lacks (Supertrend, Ichimoku) against plain-Python references, and
Aroon's tie rule."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings, strategies as st

from indicator_data import bundled
import tradecore.indicators as ta


def ref_supertrend(h, lo, c, p, mult):
    atr = ta.atr(h, lo, c, p)                       # TA-Lib-checked elsewhere
    st_, dirs = [], []
    up = dn = None
    d = 1.0
    for i in range(len(c)):
        if math.isnan(atr[i]):
            st_.append(math.nan)
            dirs.append(math.nan)
            continue
        mid = (h[i] + lo[i]) / 2
        bu, bl = mid + mult * atr[i], mid - mult * atr[i]
        if up is None:
            up, dn = bu, bl
        else:
            up = bu if (bu < up or c[i - 1] > up) else up
            dn = bl if (bl > dn or c[i - 1] < dn) else dn
            if d > 0 and c[i] < dn:
                d = -1.0
            elif d < 0 and c[i] > up:
                d = 1.0
        st_.append(dn if d > 0 else up)
        dirs.append(d)
    return np.array(st_), np.array(dirs)


@settings(max_examples=40, deadline=None)
@given(p=st.integers(1, 20), mult=st.floats(0.5, 5.0), start=st.integers(0, 1000))
def test_supertrend_equals_reference_on_real_candles(p, mult, start):
    d = bundled()
    h, lo, c = (d[k][start:start + 400] for k in ("high", "low", "close"))
    got = ta.supertrend(h, lo, c, p, mult)
    want = ref_supertrend(h, lo, c, p, mult)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)


def test_supertrend_line_is_below_close_in_uptrends_and_above_in_downtrends():
    d = bundled()
    line, direction = ta.supertrend(d["high"], d["low"], d["close"])
    ok = ~np.isnan(line)
    assert set(np.unique(direction[ok])) == {-1.0, 1.0}
    assert (line[ok & (direction > 0)] <= d["close"][ok & (direction > 0)]).all()
    assert (line[ok & (direction < 0)] >= d["close"][ok & (direction < 0)]).all()


def test_ichimoku_spans_are_the_midpoints_computed_displacement_bars_earlier():
    d = bundled()
    h, lo = d["high"], d["low"]
    tenkan, kijun, sa, sb = ta.ichimoku(h, lo, 9, 26, 52, 26)
    for i in (100, 777, len(h) - 1):
        mid = lambda p, j: (h[j - p + 1:j + 1].max() + lo[j - p + 1:j + 1].min()) / 2  # noqa: E731
        assert tenkan[i] == mid(9, i) and kijun[i] == mid(26, i)
        assert sa[i] == (mid(9, i - 26) + mid(26, i - 26)) / 2
        assert sb[i] == mid(52, i - 26)
    assert np.isnan(sb[:51 + 26]).all() and not np.isnan(sb[51 + 26:]).any()


def test_aroon_takes_the_latest_extreme_when_highs_tie():
    h = np.array([1.0, 5.0, 2.0, 5.0, 3.0, 1.0])
    lo = np.array([0.5, 0.1, 0.4, 0.1, 0.2, 0.3])
    down, up = ta.aroon(h, lo, timeperiod=4)
    # window of bars 1..5: highest high 5.0 at bars 1 and 3 -> bar 3, 2 bars ago
    assert up[5] == 100.0 / 4 * (4 - 2) and down[5] == 100.0 / 4 * (4 - 2)
