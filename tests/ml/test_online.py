"""Online updates (versioned, labels as offline) and drift detection on constructed shifts."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tradecore.ml.data import make_dataset
from tradecore.ml.features import CandleFeatures, schema_of
from tradecore.ml.mlp import MLP, Adam
from tradecore.ml.online import (FeatureDrift, LabelledStream, OnlineLearner, OnlineUpdater,
                                 PageHinkley, psi, register_update)
from tradecore.ml.registry import ModelRegistry


def test_psi_is_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=20_000)
    assert psi(ref, rng.normal(size=5000)) < 0.01
    assert psi(ref, rng.normal(0.5, 1, size=5000)) > 0.2
    assert psi(ref, rng.normal(0, 2, size=5000)) > 0.25


def test_feature_drift_flags_the_covid_crash_but_not_a_sample_of_the_reference_period(btc_candles):
    fs = CandleFeatures()
    X = fs.batch(btc_candles)
    ts = btc_candles.ts_ns
    day = lambda s: int(np.datetime64(s, "ns").astype(np.int64))
    # no shift: 500 rows of the reference period itself, not in the reference sample
    inside = X[(ts >= day("2019-06-01")) & (ts < day("2019-12-01"))]
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(inside))
    ref, calm = inside[pick[500:]], inside[pick[:500]]
    crash = X[(ts >= day("2020-03-09")) & (ts < day("2020-03-30"))]   # Covid crash
    fd = FeatureDrift(ref, fs.names, window=500, threshold=0.25)
    for r in calm[:500]:
        fd.add(r)
    assert fd.check() == {}
    fd2 = FeatureDrift(ref, fs.names, window=500, threshold=0.25)
    for r in crash[:500]:
        fd2.add(r)
    assert "vol_24" in fd2.check()


def test_page_hinkley_alarms_after_a_mean_increase_and_not_before():
    rng = np.random.default_rng(1)
    ph = PageHinkley(delta=0.01, lambda_=5.0)
    before = [ph.update(x) for x in rng.normal(0.69, 0.05, 2000)]
    assert not any(before)
    after = [ph.update(x) for x in rng.normal(0.80, 0.05, 500)]
    first = after.index(True)
    assert first < 100


def test_labelled_stream_emits_the_offline_labels(btc_candles):
    fs = CandleFeatures()
    c = btc_candles.slice(0, 800)
    ds = make_dataset(c, fs, label="forward", horizon=4)
    stream, live = LabelledStream(4), fs.live()
    got = []
    for i in range(len(c)):
        row = live.update(int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i], c.close[i],
                          c.volume[i])
        out = stream.on_bar(int(c.ts_ns[i]), c.close[i], row)
        if out is not None:
            got.append(out)
    assert [g[0] for g in got] == list(ds.ts_ns)
    np.testing.assert_array_equal([g[2] for g in got], ds.y)
    np.testing.assert_allclose(np.array([g[1] for g in got]), ds.X, atol=1e-12)


def _stream_updates(btc_candles, model, n_bars, executor=None, loop=None, reg=None):
    fs = CandleFeatures()
    c = btc_candles.slice(40_000, 40_000 + n_bars)
    models = []
    up = OnlineUpdater(OnlineLearner(model, window=2000, lr=5e-3), LabelledStream(4),
                       update_every=300, steps=30, on_model=lambda m, i: models.append((m, i)),
                       executor=executor, loop=loop)
    live = fs.live()
    for i in range(len(c)):
        row = live.update(int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i], c.close[i],
                          c.volume[i])
        up.on_bar(int(c.ts_ns[i]), c.close[i], row)
    return up, models


def test_online_updates_reduce_window_loss_and_are_registered_with_lineage(tmp_path, btc_candles):
    fs = CandleFeatures()
    ds = make_dataset(btc_candles.slice(0, 40_000), fs, label="forward", horizon=4)
    base = MLP(ds.X.shape[1], (16,), seed=0)
    base.fit(ds.X[:30000], ds.y[:30000], epochs=2, optimizer=Adam(1e-3))
    reg = ModelRegistry(tmp_path)
    from tradecore.ml.onnx_export import mlp_to_onnx
    parent = reg.register("mlp", mlp_to_onnx(base).SerializeToString(), kind="mlp",
                          feature_schema=schema_of(fs), data_range={"start_ns": 0, "end_ns": 1},
                          state=base.state(), config=base.config())
    up, models = _stream_updates(btc_candles, base, 1500)
    assert up.counters["updates done"] == len(models) >= 4
    assert all(i["loss_after"] < i["loss_before"] for _, i in models)
    prev = parent.model_id
    for m, info in models:
        v = register_update(reg, prev, m, info, schema_of(fs))
        assert v.lineage["parents"] == [prev] and v.kind == "online-mlp"
        prev = v.model_id
    assert not np.allclose(models[-1][0].dense[0].W, base.dense[0].W)
    # the updated weights are versioned exactly
    np.testing.assert_array_equal(reg.load_mlp(prev).dense[0].W, models[-1][0].dense[0].W)


def test_updates_run_in_a_worker_and_are_delivered_on_the_loop(btc_candles):
    base = MLP(9, (8,), seed=0)
    base.fit_scaler(CandleFeatures().batch(btc_candles.slice(0, 2000))[24:])

    async def run():
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1) as ex:
            up, models = _stream_updates(btc_candles, base, 1000, executor=ex, loop=loop)
            for _ in range(500):
                if not up.busy:
                    break
                await asyncio.sleep(0.01)
        return up, models

    up, models = asyncio.run(run())
    assert up.counters["updates started"] >= 1
    assert up.counters["updates done"] == len(models) >= 1


def test_error_drift_triggers_on_drift_callback(btc_candles):
    fs = CandleFeatures()
    base = MLP(9, (8,), seed=0)
    base.fit_scaler(fs.batch(btc_candles.slice(0, 2000))[24:])
    alarms = []
    # a model that is confidently wrong half the time: the error mean jumps vs a calibrated start
    probs = iter([0.5] * 600 + [0.99] * 2000)
    up = OnlineUpdater(OnlineLearner(base), LabelledStream(1), update_every=10_000,
                       error_drift=PageHinkley(0.01, 5.0), predict=lambda x: next(probs),
                       on_drift=lambda kind, info: alarms.append(kind))
    live = fs.live()
    c = btc_candles.slice(0, 1500)
    for i in range(len(c)):
        row = live.update(int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i], c.close[i],
                          c.volume[i])
        up.on_bar(int(c.ts_ns[i]), c.close[i], row)
    assert alarms and set(alarms) == {"error"}
    with pytest.raises(ValueError, match="executor needs the loop"):
        OnlineUpdater(OnlineLearner(base), LabelledStream(1), executor=ThreadPoolExecutor(1))
