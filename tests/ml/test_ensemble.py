"""Ensembles: learned weights, stacking, and one ONNX graph equal to the Python ensemble."""
from __future__ import annotations

import numpy as np
import pytest

from tradecore.ml.data import time_split
from tradecore.ml.ensemble import Ensemble, learn_average_weights
from tradecore.ml.features import CandleFeatures, schema_of
from tradecore.ml.inference import OnnxModel
from tradecore.ml.mlp import MLP, Adam
from tradecore.ml.registry import ModelRegistry


@pytest.fixture(scope="module")
def members(btc_dataset):
    ds = btc_dataset
    sp = time_split(ds, 0.15, 0.15, embargo=24)
    ms = []
    for seed, (hidden, act) in enumerate([((16,), "relu"), ((32, 8), "tanh"), ((8, 8), "relu")]):
        m = MLP(ds.X.shape[1], hidden, activation=act, seed=seed)
        m.fit(ds.X[sp.train], ds.y[sp.train], ds.X[sp.val], ds.y[sp.val], epochs=3,
              optimizer=Adam(1e-3))
        ms.append(m)
    return ms, ds, sp


def test_average_weights_put_mass_on_the_informative_member():
    rng = np.random.default_rng(0)
    y = (rng.random(5000) > 0.5).astype(float)
    good = np.clip(0.5 + 0.3 * (y - 0.5) + rng.normal(0, 0.05, 5000), 0.01, 0.99)
    noise = np.clip(rng.random(5000), 0.01, 0.99)
    w = learn_average_weights(np.column_stack([good, noise]), y)
    assert w.sum() == pytest.approx(1.0) and w[0] > 0.9


@pytest.mark.parametrize("kind", ["average", "stacking"])
def test_exported_ensemble_equals_the_python_ensemble_on_real_data(members, kind):
    ms, ds, sp = members
    ens = Ensemble.fit(ms, ds.X[sp.val], ds.y[sp.val], kind)
    Xte = ds.X[sp.test]
    om64 = OnnxModel(ens.to_onnx("float64").SerializeToString(), "e", warmup=2)
    np.testing.assert_allclose(om64.predict(Xte), ens.predict(Xte), atol=1e-12)
    om = OnnxModel(ens.to_onnx().SerializeToString(), "e", warmup=2)
    np.testing.assert_allclose(om.predict(Xte), ens.predict(Xte), atol=1e-6)
    if kind == "average":
        P = np.column_stack([m.predict(Xte).ravel() for m in ms])
        np.testing.assert_allclose(ens.predict(Xte).ravel(), P @ ens.weights)


def test_learned_ensemble_is_no_worse_on_validation_than_its_best_member(members):
    ms, ds, sp = members
    Xv, yv = ds.X[sp.val], ds.y[sp.val]
    best = min(m.loss(Xv, yv) for m in ms)
    for kind in ("average", "stacking"):
        assert Ensemble.fit(ms, Xv, yv, kind).val_log_loss(Xv, yv) <= best + 1e-6


def test_ensemble_is_registered_as_one_version_with_its_members_as_parents(tmp_path, members):
    ms, ds, sp = members
    ens = Ensemble.fit(ms, ds.X[sp.val], ds.y[sp.val], "stacking", member_ids=["a", "b", "c"])
    reg = ModelRegistry(tmp_path)
    v = ens.register(reg, "ens", schema_of(CandleFeatures()), {"start_ns": 0, "end_ns": 1})
    assert v.kind == "ensemble" and v.lineage["parents"] == ["a", "b", "c"]
    om = reg.load(v.model_id, schema_of(CandleFeatures()), warmup=2)
    np.testing.assert_allclose(om.predict(ds.X[sp.test][:100]), ens.predict(ds.X[sp.test][:100]),
                               atol=1e-6)


def test_ensemble_refuses_incompatible_members():
    with pytest.raises(ValueError, match="at least 2"):
        Ensemble.fit([MLP(3, (2,))], np.zeros((2, 3)), np.zeros(2), "average")
    with pytest.raises(ValueError, match="only sigmoid"):
        Ensemble.fit([MLP(3, (2,)), MLP(3, (2,), head="linear")], np.zeros((2, 3)),
                     np.zeros(2), "average")
    with pytest.raises(ValueError, match="kind"):
        Ensemble.fit([MLP(3, (2,)), MLP(3, (2,))], np.zeros((2, 3)), np.zeros(2), "vote")
