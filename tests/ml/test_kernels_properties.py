"""The Numba kernels (feature step, triple barrier) against plain-Python references, on
generated bar sequences (hypothesis)."""
from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore.ml.data import triple_barrier
from tradecore.ml.features import CandleFeatures, Candles


@st.composite
def bars(draw, min_n=2, max_n=120):
    n = draw(st.integers(min_n, max_n))
    rets = draw(st.lists(st.floats(-0.2, 0.2), min_size=n, max_size=n))
    close = 100.0 * np.exp(np.cumsum(rets))
    up = np.array(draw(st.lists(st.floats(0, 0.05), min_size=n, max_size=n)))
    dn = np.array(draw(st.lists(st.floats(0, 0.05), min_size=n, max_size=n)))
    vol = np.array(draw(st.lists(st.floats(0, 1e6), min_size=n, max_size=n)))
    high = close * (1 + up)
    low = close * (1 - dn)
    return Candles(np.arange(n, dtype=np.int64) * 60_000_000_000, close.copy(), high, low,
                   close, vol)


@settings(max_examples=150, deadline=None)
@given(bars(), st.lists(st.integers(1, 30), min_size=1, max_size=4, unique=True),
       st.integers(2, 30))
def test_feature_batch_and_live_equal_the_python_reference(c, horizons, window):
    fs = CandleFeatures(horizons, window)
    B = fs.batch(c)
    live, ref = fs.live(), fs.live_reference()
    for i in range(len(c)):
        a = live.update(int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i])
        r = ref.update(int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i], c.close[i], c.volume[i])
        assert (a is None) == (r is None) == (i < fs.warmup)
        if r is not None:
            np.testing.assert_allclose(a, r, rtol=0, atol=1e-12)
            np.testing.assert_allclose(B[i], r, rtol=0, atol=1e-12)
        else:
            assert np.isnan(B[i]).all()


def _tb_reference(c: Candles, vol, h, k):
    n = len(c)
    y, t1 = np.full(n, np.nan), np.full(n, -1)
    for t in range(n):
        if t + h >= n or not vol[t] > 0:
            continue
        up, dn = c.close[t] * math.exp(k * vol[t]), c.close[t] * math.exp(-k * vol[t])
        for s in range(t + 1, t + h + 1):
            hu, hd = c.high[s] >= up, c.low[s] <= dn
            if hu and hd:
                y[t] = 1.0 if c.close[s] >= up else (-1.0 if c.close[s] <= dn else 0.0)
                t1[t] = s
                break
            if hu or hd:
                y[t], t1[t] = (1.0 if hu else -1.0), s
                break
        else:
            r = math.log(c.close[t + h] / c.close[t])
            y[t], t1[t] = float(np.sign(r)), t + h
    return y, t1


@settings(max_examples=150, deadline=None)
@given(bars(), st.integers(1, 20), st.floats(0.2, 3.0), st.floats(0.0, 0.05))
def test_triple_barrier_equals_the_python_reference(c, h, k, v):
    vol = np.full(len(c), v)
    y, t1 = triple_barrier(c, vol, h, k, k)
    ry, rt1 = _tb_reference(c, vol, h, k)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(t1, rt1)
