"""Registry round trip, content hash, schema refusal, promote and rollback."""
from __future__ import annotations

import numpy as np
import pytest

from tradecore.ml.features import CandleFeatures, schema_of
from tradecore.ml.mlp import MLP
from tradecore.ml.onnx_export import mlp_to_onnx
from tradecore.ml.registry import ModelRegistry, RegistryError, SchemaMismatch


def _model(seed: int, n_in: int = 9) -> MLP:
    m = MLP(n_in, (8,), seed=seed)
    m.fit_scaler(np.random.default_rng(seed).normal(size=(50, n_in)))
    return m


def _register(reg, m, name="mlp", schema=None, parents=()):
    schema = schema or schema_of(CandleFeatures())
    return reg.register(name, mlp_to_onnx(m).SerializeToString(), kind="mlp",
                        feature_schema=schema,
                        data_range={"start_ns": 1, "end_ns": 2, "rows": 50, "source": "x"},
                        metrics={"test": {"auc": 0.55}},
                        lineage={"parents": list(parents), "how": "trained"},
                        state=m.state(), config=m.config())


def test_round_trip_returns_the_same_model_and_metadata(tmp_path, btc_dataset):
    reg = ModelRegistry(tmp_path)
    m = _model(1)
    v = _register(reg, m)
    assert v.model_id.startswith("mlp-") and len(v.content_hash) == 64
    got = reg.get(v.model_id)
    assert got == v and got.data_range["rows"] == 50 and got.metrics["test"]["auc"] == 0.55
    om = reg.load(v.model_id, schema_of(CandleFeatures()), warmup=2)
    X = btc_dataset.X[:200]
    np.testing.assert_allclose(om.predict(X), m.predict(X), atol=1e-6)
    assert om.model_id == v.model_id
    back = reg.load_mlp(v.model_id)
    np.testing.assert_array_equal(back.predict(X), m.predict(X))
    # same bytes -> same id, no second copy
    assert _register(reg, m).model_id == v.model_id and reg.ids() == [v.model_id]


def test_model_is_refused_when_the_pipeline_schema_differs(tmp_path):
    reg = ModelRegistry(tmp_path)
    v = _register(reg, _model(1))
    with pytest.raises(SchemaMismatch, match=r"config .*window.*48"):
        reg.load(v.model_id, schema_of(CandleFeatures(window=48)))
    other = schema_of(CandleFeatures())
    other["names"] = list(reversed(other["names"]))
    with pytest.raises(SchemaMismatch, match="different order"):
        reg.load(v.model_id, other)
    fewer = schema_of(CandleFeatures())
    fewer["names"] = fewer["names"][:-1]
    with pytest.raises(SchemaMismatch, match=r"missing from the pipeline \['close_pos'\]"):
        reg.load(v.model_id, fewer)


def test_modified_model_files_are_refused(tmp_path):
    reg = ModelRegistry(tmp_path)
    v = _register(reg, _model(1))
    p = tmp_path / "models" / v.model_id / "model.onnx"
    p.write_bytes(p.read_bytes()[:-1] + b"\x00")
    with pytest.raises(RegistryError, match="content hash"):
        reg.load(v.model_id, schema_of(CandleFeatures()))


def test_promote_and_rollback_move_the_champion_with_history(tmp_path):
    reg = ModelRegistry(tmp_path)
    a = _register(reg, _model(1)).model_id
    b = _register(reg, _model(2), parents=[a]).model_id
    c = _register(reg, _model(3), parents=[b]).model_id
    with pytest.raises(RegistryError, match="no promotion"):
        reg.rollback()
    reg.promote(a)
    reg.set_challenger(b)
    assert reg.promote() == b and reg.challenger() is None
    reg.promote(c)
    assert reg.rollback() == b and reg.champion() == b
    assert reg.rollback() == a and reg.champion() == a
    with pytest.raises(RegistryError, match="first one"):
        reg.rollback()
    assert [h["action"] for h in reg.history()] == ["promote", "challenger", "promote",
                                                   "promote", "rollback", "rollback"]
    assert reg.get(c).lineage["parents"] == [b]
    with pytest.raises(RegistryError, match="not in the registry"):
        reg.promote("nope-123")
