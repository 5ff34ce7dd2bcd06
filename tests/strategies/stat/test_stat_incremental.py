"""Live (one bar at a time) equals batch (Numba over the array) at every bar, on real candles."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as hs

from tradecore.strategies.stat.batch import pair_signals
from tradecore.strategies.stat.incremental import (KalmanHedge, PairModel, PairsSignal,
                                                   RollingOLS, ZScore)
from tradecore.strategies.stat.params import PairParams

TOL = 1e-9


def assert_live_equals_batch(py: np.ndarray, px: np.ndarray, params: PairParams) -> int:
    """Feed the model bar by bar; compare every field with the batch arrays. Returns #entries."""
    sig = pair_signals(py, px, params)
    model = PairModel(params)
    for t in range(py.size):
        st = model.update(float(py[t]), float(px[t]))
        for name, live, batch in (("alpha", st.alpha, sig.alpha[t]), ("beta", st.beta, sig.beta[t]),
                                  ("spread", st.spread, sig.spread[t]), ("z", st.z, sig.z[t])):
            if math.isnan(batch):
                assert math.isnan(live), (name, t)
            else:
                assert abs(live - batch) <= TOL, (name, t, live, batch)
        assert st.pos == sig.pos[t] and st.reason == sig.reason[t], t
    return int((sig.reason == 1).sum())


@pytest.mark.shared_data
@pytest.mark.parametrize("hedge", ["ols", "kalman"])
def test_live_equals_batch_at_every_bar_when_btc_eth_hourly(btc_eth_1h, hedge) -> None:
    p = PairParams(hedge=hedge, window=168, z_window=72, max_bars=72)
    entries = assert_live_equals_batch(btc_eth_1h.close(("binance", "ETHUSDT")),
                                       btc_eth_1h.close(("binance", "BTCUSDT")), p)
    assert entries > 10                                  # the signal path is exercised


@pytest.mark.shared_data
@pytest.mark.parametrize("hedge", ["ols", "kalman"])
def test_live_equals_batch_at_every_minute_when_usdc_depegs(us_1m, hedge) -> None:
    p = PairParams(hedge=hedge, window=240, z_window=120, max_bars=240, recompute_every=1000)
    entries = assert_live_equals_batch(us_1m.close(("binanceus", "BTCUSDC")),
                                       us_1m.close(("binanceus", "BTCUSDT")), p)
    assert entries > 10


@pytest.mark.shared_data
def test_live_equals_batch_at_every_day_when_coinbase_vs_bitstamp(cb_bs_1d) -> None:
    p = PairParams(window=60, z_window=30, max_bars=20)
    assert_live_equals_batch(cb_bs_1d.close(("coinbase", "BTCUSD")),
                             cb_bs_1d.close(("bitstamp", "BTCUSD")), p)


@settings(max_examples=40, deadline=None)
@given(seed=hs.integers(0, 2**32 - 1), window=hs.integers(2, 30), z_window=hs.integers(2, 30),
       recompute=hs.integers(0, 40), hedge=hs.sampled_from(["ols", "kalman"]),
       flat_from=hs.integers(0, 150))
def test_live_equals_batch_on_random_walks_with_flat_stretches(seed, window, z_window, recompute,
                                                                hedge, flat_from) -> None:
    rng = np.random.default_rng(seed)
    px = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 200)))
    py = px ** 0.8 * np.exp(rng.normal(0, 0.005, 200))
    px[flat_from: flat_from + 40] = px[flat_from]        # a pinned price: degenerate windows
    p = PairParams(hedge=hedge, window=window, z_window=z_window, recompute_every=recompute,
                   entry_z=1.0, exit_z=0.2, stop_z=2.5, max_bars=10)
    assert_live_equals_batch(py, px, p)


def test_model_rejects_a_nan_price_and_changes_nothing() -> None:
    p = PairParams(window=5, z_window=5)
    rng = np.random.default_rng(3)
    px = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 30)))
    py = px * np.exp(rng.normal(0, 0.01, 30))
    sig = pair_signals(py, px, p)
    m = PairModel(p)
    for t in range(30):
        if t == 12:
            with pytest.raises(ValueError, match=r"price of leg x is nan"):
                m.update(float(py[t]), math.nan)
            assert m.bars == 12
        st = m.update(float(py[t]), float(px[t]))
        assert st.z == pytest.approx(sig.z[t], abs=TOL, nan_ok=True)


def test_components_reject_bad_settings_with_what_was_expected() -> None:
    with pytest.raises(ValueError, match=r"window 1, expected an int >= 2"):
        RollingOLS(1)
    with pytest.raises(ValueError, match=r"recompute_every -1"):
        ZScore(10, -1)
    with pytest.raises(ValueError, match=r"0 < delta < 1"):
        KalmanHedge(delta=1.0)
    with pytest.raises(ValueError, match=r"exit < entry < stop"):
        PairsSignal(entry=2.0, exit=0.5, stop=1.5)


@settings(max_examples=200, deadline=None)
@given(zs=hs.lists(hs.sampled_from([math.nan, -5.0, -4.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0,
                                    2.0, 3.0, 4.0, 5.0]) | hs.floats(-6, 6), max_size=60),
       max_bars=hs.integers(0, 5))
def test_signal_live_equals_batch_on_z_series_hitting_the_thresholds_exactly(zs, max_bars):
    from tradecore.strategies.stat.kernels import signals
    pos, why = signals(np.asarray(zs, dtype=np.float64), 2.0, 0.5, 4.0, max_bars)
    sig = PairsSignal(2.0, 0.5, 4.0, max_bars)
    assert [sig.update(z) for z in zs] == list(zip(pos.tolist(), why.tolist()))
