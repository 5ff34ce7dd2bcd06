"""Our numpy forward pass and onnxruntime agree on real data; the baseline exports too."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from tradecore.ml.baseline import BASELINE_OUTPUT, lightgbm_to_onnx, train_lightgbm
from tradecore.ml.data import time_split
from tradecore.ml.inference import OnnxModel
from tradecore.ml.mlp import MLP, Adam
from tradecore.ml.onnx_export import mlp_to_onnx


@pytest.fixture(scope="module")
def trained(btc_dataset):
    ds = btc_dataset
    sp = time_split(ds, 0.15, 0.15, embargo=24)
    m = MLP(ds.X.shape[1], (32, 16), dropout=0.1, l2=1e-4, seed=0)
    m.fit(ds.X[sp.train], ds.y[sp.train], ds.X[sp.val], ds.y[sp.val], epochs=3,
          optimizer=Adam(1e-3))
    return m, ds.X[sp.test], sp


@pytest.mark.parametrize("activation,head,n_out", [("relu", "sigmoid", 1), ("tanh", "softmax", 3),
                                                   ("relu", "linear", 1)])
def test_onnxruntime_float64_equals_numpy_forward_for_every_head(btc_dataset, activation, head,
                                                                  n_out):
    X = btc_dataset.X[-5000:]
    m = MLP(X.shape[1], (16, 8), activation=activation, head=head, n_out=n_out, seed=4)
    m.fit_scaler(btc_dataset.X[:20000])
    om = OnnxModel(mlp_to_onnx(m, "float64").SerializeToString(), "t", warmup=2)
    np.testing.assert_allclose(om.predict(X), m.predict(X), rtol=0, atol=1e-12)


def test_onnxruntime_float32_equals_numpy_within_1e6_on_the_trained_model(trained):
    m, Xte, _ = trained
    om = OnnxModel(mlp_to_onnx(m).SerializeToString(), "t", warmup=2)
    np.testing.assert_allclose(om.predict(Xte), m.predict(Xte), rtol=0, atol=1e-6)
    # the single-row path used live gives the same numbers as the batch call
    for i in (0, 17, len(Xte) - 1):
        assert om.predict_row(Xte[i])[0, 0] == pytest.approx(m.predict(Xte[i:i + 1])[0, 0],
                                                             abs=1e-6)


def test_exported_graph_is_valid_onnx_of_gemm_and_activations(trained):
    m, _, _ = trained
    g = mlp_to_onnx(m)
    onnx.checker.check_model(g)
    assert [n.op_type for n in g.graph.node] == ["Gemm", "Relu", "Gemm", "Relu", "Gemm",
                                                 "Sigmoid"]


def test_lightgbm_baseline_onnx_equals_its_python_probabilities(btc_dataset, trained):
    ds = btc_dataset
    _, _, sp = trained
    gbm = train_lightgbm(ds.X[sp.train], ds.y[sp.train], ds.X[sp.val], ds.y[sp.val],
                         {"n_estimators": 60})
    om = OnnxModel(lightgbm_to_onnx(gbm, ds.X.shape[1]), "gbm", output=BASELINE_OUTPUT, warmup=2)
    Xte = ds.X[sp.test]
    np.testing.assert_allclose(om.predict(Xte)[:, 1], gbm.predict_proba(Xte)[:, 1], atol=1e-5)
    # same model, same bytes: the registry id is content-derived
    assert lightgbm_to_onnx(gbm, ds.X.shape[1]) == lightgbm_to_onnx(gbm, ds.X.shape[1])


def test_inference_session_is_single_threaded_and_warmed_up(trained):
    m, _, _ = trained
    om = OnnxModel(mlp_to_onnx(m).SerializeToString(), "t", warmup=50)
    opts = om.session.get_session_options()
    assert opts.intra_op_num_threads == 1 and opts.inter_op_num_threads == 1
    assert set(om.warmup_ns) == {"run", "iobinding"} and om.mode in om.warmup_ns
    with pytest.raises(ValueError, match="input must be"):
        om.predict(np.zeros((2, 3)))
