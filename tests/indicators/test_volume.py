"""Volume indicators TA-Lib lacks (CMF, session VWAP, volume profile) against references
written from their definitions, on real candles with zero-volume minutes."""
from __future__ import annotations

import numpy as np
import pytest

from indicator_data import bundled, shared
import tradecore.indicators as ta


@pytest.fixture(scope="module")
def d():
    return shared("binanceus_btcusdt_1m") or bundled()


def test_cmf_is_money_flow_volume_over_volume_of_the_window(d):
    n = min(3000, len(d["close"]))       # the bundled fallback has 1 770 daily bars
    h, lo, c, v = (d[k][:n] for k in ("high", "low", "close", "volume"))
    got = ta.cmf(h, lo, c, v, 20)
    r = h - lo
    mfv = np.where(r > 0, ((c - lo) - (h - c)) / np.where(r > 0, r, 1) * v, 0.0)
    for i in range(19, n, 97):
        sv = v[i - 19:i + 1].sum()
        want = mfv[i - 19:i + 1].sum() / sv if (v[i - 19:i + 1] != 0).any() else 0.0
        assert got[i] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_vwap_restarts_each_utc_day_and_weights_typical_price_by_volume(d):
    n = min(3000, len(d["close"]))
    h, lo, c, v, ts = (d[k][:n] for k in ("high", "low", "close", "volume", "timestamps"))
    got = ta.vwap(h, lo, c, v, ts)
    day = ts // 86_400_000_000_000
    tp = (h + lo + c) / 3
    for i in range(0, n, 131):
        m = (day == day[i]) & (np.arange(n) <= i)
        vol = v[m].sum()
        if vol == 0:
            assert np.isnan(got[i])
        else:
            assert got[i] == pytest.approx((tp[m] * v[m]).sum() / vol, rel=1e-9)


def test_vwap_sessions_follow_anchor_ns():
    ts = np.arange(10, dtype=np.int64) * 10
    x = np.arange(1.0, 11.0)
    got = ta.vwap(x, x, x, np.ones(10), ts, anchor_ns=50)
    np.testing.assert_allclose(got, [1, 1.5, 2, 2.5, 3, 6, 6.5, 7, 7.5, 8])


def test_volume_profile_sums_volume_per_bin_and_conserves_total(d):
    c, v = d["close"][:5000], d["volume"][:5000]
    levels, vols = ta.volume_profile(c, v, bin_width=25.0)
    assert vols.sum() == pytest.approx(v.sum(), rel=1e-12)
    k = np.floor(c / 25.0).astype(np.int64)
    j = int(np.argmax(vols))
    assert vols[j] == pytest.approx(v[k == k.min() + j].sum(), rel=1e-12)
    assert levels[0] == k.min() * 25.0 and np.all(np.diff(levels) == 25.0)
    vp = ta.VOLUME_PROFILE(25.0)
    for x, y in zip(c.tolist(), v.tolist()):
        vp.update(x, y)
    assert vp.poc() == levels[j]
