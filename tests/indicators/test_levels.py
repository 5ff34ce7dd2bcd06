"""Support/resistance: pivots, fractals, clustered levels and the volume profile, against values
computed by hand and a plain-Python fractal reference."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tradecore.indicators import levels as LV

NS_DAY = 86_400_000_000_000


def test_classic_pivots_come_from_the_previous_bar_when_computed_by_hand():
    h, lo, c = np.array([110.0, 0.0]), np.array([90.0, 0.0]), np.array([105.0, 0.0])
    got = LV.pivots(h, lo, c, "classic")
    p = (110 + 90 + 105) / 3  # 101.666...
    want = {"p": p, "r1": 2 * p - 90, "s1": 2 * p - 110, "r2": p + 20, "s2": p - 20,
            "r3": 110 + 2 * (p - 90), "s3": 90 - 2 * (110 - p)}
    for k, v in want.items():
        assert np.isnan(got[k][0])
        assert got[k][1] == pytest.approx(v, rel=1e-15)
    assert got["r1"][1] == pytest.approx(113.3333333333, rel=1e-10)
    assert got["s3"][1] == pytest.approx(73.3333333333, rel=1e-10)


def test_fibonacci_and_camarilla_pivots_when_computed_by_hand():
    h, lo, c = np.array([110.0, 1.0]), np.array([90.0, 1.0]), np.array([105.0, 1.0])
    fib = LV.pivots(h, lo, c, "fibonacci")
    p = 305 / 3
    assert fib["r1"][1] == pytest.approx(p + 7.64)
    assert fib["r2"][1] == pytest.approx(p + 12.36)
    assert fib["s3"][1] == pytest.approx(p - 20)
    cam = LV.pivots(h, lo, c, "camarilla")
    assert cam["r1"][1] == pytest.approx(105 + 22 / 12)
    assert cam["r3"][1] == pytest.approx(105 + 5.5)
    assert cam["r4"][1] == pytest.approx(116.0)
    assert cam["s4"][1] == pytest.approx(94.0)
    assert cam["p"][1] == pytest.approx(p)


def test_period_pivots_use_only_the_previous_completed_day():
    ts = np.array([0, 1, 2, NS_DAY, NS_DAY + 1, 2 * NS_DAY]) + 5
    h = np.array([10.0, 12.0, 11.0, 50.0, 60.0, 7.0])
    lo = np.array([9.0, 8.0, 10.0, 40.0, 30.0, 6.0])
    c = np.array([9.5, 11.0, 10.5, 45.0, 55.0, 6.5])
    got = LV.period_pivots(ts, h, lo, c, "classic", period_ns=NS_DAY)
    assert np.isnan(got["p"][:3]).all()
    assert got["p"][3] == got["p"][4] == pytest.approx((12 + 8 + 10.5) / 3)
    assert got["p"][5] == pytest.approx((60 + 30 + 55) / 3)


def test_pivot_errors_name_the_problem():
    x = np.ones(3)
    with pytest.raises(ValueError, match="pivot kind must be one of"):
        LV.pivots(x, x, x, "woodie")
    with pytest.raises(ValueError, match="same length"):
        LV.pivots(x, x, x[:2])
    with pytest.raises(ValueError, match="non-decreasing"):
        LV.period_pivots(np.array([3, 2, 1]), x, x, x)


def test_fractal_is_reported_n_bars_after_its_peak_when_it_becomes_known():
    h = np.array([1.0, 2, 5, 2, 1, 3, 4, 3, 2])
    lo = h - 0.5
    lo[4] = 0.0  # the low of bar 4 is a swing low (bars 2..3 and 5..6 are higher)
    up, down = LV.fractals(h, lo, n=2)
    assert np.isnan(up[2]) and up[4] == 5.0            # peak at 2, known at 4
    assert down[6] == 0.0 and np.isnan(down[4])        # trough at 4, known at 6
    assert np.count_nonzero(~np.isnan(up)) == 2 and up[8] == 4.0   # peak at 6, known at 8


def test_equal_highs_are_not_a_fractal():
    h = np.array([1.0, 2, 5, 5, 2, 1, 0.5])
    up, _ = LV.fractals(h, h - 1, n=2)
    assert np.isnan(up).all()


def fractals_reference(h, lo, n):
    up = [np.nan] * len(h)
    down = [np.nan] * len(h)
    for j in range(n, len(h) - n):
        side = list(range(j - n, j)) + list(range(j + 1, j + n + 1))
        if all(h[j] > h[k] for k in side):
            up[j + n] = h[j]
        if all(lo[j] < lo[k] for k in side):
            down[j + n] = lo[j]
    return np.array(up), np.array(down)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=0, max_size=40), st.integers(1, 3))
def test_fractals_equal_a_plain_python_reference(xs, n):
    h = np.array(xs, dtype=float)
    lo = h - np.array([(3 * i) % 4 for i in range(len(xs))], dtype=float)
    got = LV.fractals(h, lo, n)
    ref = fractals_reference(h, lo, n)
    for g, r in zip(got, ref):
        assert np.array_equal(g, r, equal_nan=True)


def test_fractals_up_to_bar_t_do_not_change_when_later_bars_change():
    rng = np.random.default_rng(3)
    h = 100 + np.cumsum(rng.normal(size=500))
    lo = h - 1
    up, down = LV.fractals(h, lo, 3)
    h2, lo2 = h.copy(), lo.copy()
    h2[301:] += 50
    lo2[301:] -= 50
    up2, down2 = LV.fractals(h2, lo2, 3)
    assert np.array_equal(up[:301], up2[:301], equal_nan=True)
    assert np.array_equal(down[:301], down2[:301], equal_nan=True)


def test_cluster_levels_group_nearby_swings_with_touch_counts_and_strength():
    # swing highs near 100 (three), swing lows near 90 (two), one lone swing high at 120
    h = np.array([95, 96, 100.0, 96, 95, 96, 100.1, 96, 95, 96, 99.95, 96, 95, 96, 120, 96, 95,
                  95, 95])
    lo = np.full(19, 93.0)
    lo[4], lo[12] = 90.0, 90.05
    lv = LV.cluster_levels(h, lo, n=1, tolerance=0.002, min_touches=2, halflife=10.0)
    assert len(lv) == 2
    top = lv[lv["price"] > 95][0]
    assert top["touches"] == 3 and top["highs"] == 3 and top["lows"] == 0
    assert top["price"] == pytest.approx((100.0 + 100.1 + 99.95) / 3)
    last = len(h) - 1
    assert top["strength"] == pytest.approx(sum(0.5 ** ((last - j) / 10.0) for j in (2, 6, 10)))
    assert (top["first_bar"], top["last_bar"]) == (2, 10)
    bottom = lv[lv["price"] < 95][0]
    assert bottom["touches"] == 2 and bottom["lows"] == 2
    assert bottom["price"] == pytest.approx(90.025)
    assert lv["strength"][0] >= lv["strength"][1]                 # strongest first
    alone = LV.cluster_levels(h, lo, n=1, tolerance=0.002, min_touches=1)
    assert 120.0 in alone["price"]                                # the lone swing, 1 touch


def test_cluster_levels_errors_and_empty_input():
    x = np.ones(10)
    assert len(LV.cluster_levels(x, x)) == 0
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        LV.cluster_levels(x, x, tolerance=-1)
    with pytest.raises(ValueError, match="min_touches must be >= 1"):
        LV.cluster_levels(x, x, min_touches=0)


def test_volume_profile_poc_and_value_area_when_computed_by_hand():
    # bins of 0.5 over [10, 12]: bar 0 (no range) puts 5 at 10; bar 1 spreads 4 over all bins
    h, lo, v = np.array([10.0, 12.0]), np.array([10.0, 10.0]), np.array([5.0, 4.0])
    vp = LV.volume_profile(h, lo, v, bins=4, value_area=0.7)
    assert np.allclose(vp.hist, [6, 1, 1, 1])
    assert vp.poc == 10.25
    # 70% of 9 = 6.3: the POC bin holds 6, add the upper neighbour (1 > none below) -> 7
    assert (vp.val, vp.vah) == (10.0, 11.0)
    assert vp.hist.sum() == pytest.approx(9.0)


def test_volume_profile_value_area_grows_toward_the_heavier_side():
    h = np.array([1.0, 2, 3, 4, 5]) + 0.999
    lo = np.array([1.0, 2, 3, 4, 5])
    v = np.array([1.0, 2, 10, 5, 1])
    vp = LV.volume_profile(h, lo, v, bins=5, value_area=0.7, price_range=(1.0, 6.0))
    assert vp.poc == 3.5
    assert (vp.val, vp.vah) == (3.0, 5.0)     # 10 + 5 = 15 of 19 >= 70 %


def test_volume_profile_errors_name_the_problem():
    x = np.ones(3)
    with pytest.raises(ValueError, match="value_area must be in"):
        LV.volume_profile(x, x, x, value_area=1.5)
    with pytest.raises(ValueError, match="high < low"):
        LV.volume_profile(x, x + 1, x)
    with pytest.raises(ValueError, match="no volume"):
        LV.volume_profile(x, x, 0 * x)
