"""The gradient-boosted baseline: LightGBM on the same split, exported with onnxmltools.

The baseline answers "is the MLP better than a strong off-the-shelf model on the same features
and labels?". It uses the validation block for early stopping exactly as the MLP does.

Export: `onnxmltools.convert_lightgbm` gives a graph with two outputs, "label" and
"probabilities" ((n, 2) for a binary model); `OnnxModel(..., output="probabilities")` reads the
second, column 1 is P(up).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["train_lightgbm", "lightgbm_to_onnx", "BASELINE_OUTPUT"]

BASELINE_OUTPUT = "probabilities"


def train_lightgbm(X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray,
                   params: dict[str, Any] | None = None):
    import lightgbm as lgb
    p = {"n_estimators": 400, "learning_rate": 0.03, "num_leaves": 15, "min_child_samples": 200,
         "subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 1.0,
         "n_jobs": 1, "verbose": -1, "random_state": 0}
    p.update(params or {})
    model = lgb.LGBMClassifier(**p)
    model.fit(X, y.astype(int), eval_X=(X_val,), eval_y=(y_val.astype(int),),
              eval_metric="binary_logloss", callbacks=[lgb.early_stopping(30, verbose=False)])
    return model


def lightgbm_to_onnx(model, n_features: int) -> bytes:
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType
    onx = convert_lightgbm(model, initial_types=[("features", FloatTensorType([None, n_features]))],
                           zipmap=False, target_opset=15)
    # the converter names the graph with a random uuid; a fixed name makes the bytes (and so the
    # registry's content-derived id) depend on the model only
    onx.graph.name = "tradecore_lightgbm"
    return onx.SerializeToString()
