"""Streaming indicators return, bar by bar, exactly the batch value of the same bar: on
random series with NaN gaps, flat runs and zero volume (hypothesis), and on real candles.
The streaming objects repeat the batch kernels' arithmetic operation for operation, so the
comparison is exact (NaN where the batch has NaN, the same float elsewhere)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from indicator_data import args_for, as_tuple, bundled, ohlcv, shared
from tradecore.indicators import SPECS, VOLUME_PROFILE, volume_profile

SERIES = [s for s in SPECS if s.name != "volume_profile"]


def stream_all(spec, args: list[np.ndarray]) -> list[np.ndarray]:
    obj = spec.stream(**spec.params)
    rows = [as_tuple(obj.update(*(a[i].item() for a in args))) for i in range(args[0].size)]
    width = len(as_tuple(spec.func(*(a[:0] for a in args), **spec.params)))
    return [np.array([r[j] for r in rows], dtype=np.float64) for j in range(width)]


def assert_same(spec, args: list[np.ndarray]) -> None:
    batch = as_tuple(spec.func(*args, **spec.params))
    streamed = stream_all(spec, args)
    assert len(batch) == len(streamed)
    for j, (b, s) in enumerate(zip(batch, streamed)):
        np.testing.assert_array_equal(s, b, err_msg=f"{spec.name} output {j}")


@pytest.mark.parametrize("spec", SERIES, ids=lambda s: s.name)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=ohlcv())
def test_streaming_equals_batch_at_every_bar_when_series_has_gaps_flats_and_zero_volume(spec, data):
    assert_same(spec, args_for(spec, data))


@pytest.mark.parametrize("spec", SERIES, ids=lambda s: s.name)
def test_streaming_equals_batch_at_every_bar_when_fed_real_candles(spec):
    data = shared("binance_btcusdt_1h") or bundled()
    assert_same(spec, [a[-3000:] for a in args_for(spec, data)])


@pytest.mark.parametrize("spec", SERIES, ids=lambda s: s.name)
def test_streaming_restarts_like_batch_when_reset(spec):
    data = bundled()
    args = [a[:300] for a in args_for(spec, data)]
    obj = spec.stream(**spec.params)
    for i in range(150):
        obj.update(*(a[i].item() for a in args))
    obj.reset()
    tail = [a[150:] for a in args]
    got = [as_tuple(obj.update(*(a[i].item() for a in tail))) for i in range(tail[0].size)]
    want = as_tuple(spec.func(*tail, **spec.params))
    for j, w in enumerate(want):
        np.testing.assert_array_equal(np.array([g[j] for g in got]), w)


@settings(max_examples=30, deadline=None)
@given(data=ohlcv(min_size=1))
def test_volume_profile_stream_equals_batch_when_fed_the_same_rows(data):
    vp = VOLUME_PROFILE(bin_width=0.5)
    for x, v in zip(data["close"], data["volume"]):
        vp.update(float(x), float(v))
    levels, vols = vp.profile()
    want_levels, want_vols = volume_profile(data["close"], data["volume"], bin_width=0.5)
    np.testing.assert_array_equal(levels, want_levels)
    np.testing.assert_allclose(vols, want_vols, rtol=1e-12, atol=1e-9)
