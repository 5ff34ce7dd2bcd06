"""Ensembles of registered MLPs, run as one ONNX graph.

* Weighted average: P = sum_j w_j p_j with w on the simplex (w = softmax(a)), a learned by
  minimising the validation log loss (Adam on a; the gradient is exact, see `_avg_grad`).
* Stacking: P = sigmoid(b + sum_j beta_j z_j), z_j the members' logits, (beta, b) a logistic
  regression with a small L2 fitted on the validation block (Newton steps). Stacking on logits
  rather than probabilities keeps it exact in ONNX: the members' last Gemm already gives z_j.

Export: the members' Dense layers are copied into one graph with prefixed names, their outputs
concatenated to (N, k) and combined by one MatMul (average) or Gemm + Sigmoid (stacking); the
whole ensemble is one session and one call on the live path.

Members must be our MLPs with a sigmoid head (binary P(up)) and the same feature schema. The
LightGBM baseline is not an ensemble member: its converter emits the ai.onnx.ml tree operator
whose graph we do not merge here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tradecore.ml.evaluate import log_loss
from tradecore.ml.mlp import MLP, _sigmoid
from tradecore.ml.onnx_export import INPUT, OPSET, OUTPUT, mlp_nodes

__all__ = ["Ensemble", "learn_average_weights", "learn_stacking"]


def _check_members(members: Sequence[MLP]) -> None:
    if len(members) < 2:
        raise ValueError(f"Ensemble: need at least 2 members, got {len(members)}")
    n_in = members[0].n_in
    for i, m in enumerate(members):
        if m.head != "sigmoid":
            raise ValueError(f"Ensemble: member {i} has head {m.head!r}; only sigmoid (P(up)) "
                             f"members can be averaged or stacked")
        if m.n_in != n_in:
            raise ValueError(f"Ensemble: member {i} takes {m.n_in} features, member 0 {n_in}")


def learn_average_weights(P: np.ndarray, y: np.ndarray, iters: int = 500,
                          lr: float = 0.05) -> np.ndarray:
    """Simplex weights minimising the log loss of P @ w on (P, y) (validation data)."""
    P = np.asarray(P, np.float64)
    y = np.asarray(y, np.float64).ravel()
    k = P.shape[1]
    a = np.zeros(k)
    m = np.zeros(k)
    v = np.zeros(k)
    for t in range(1, iters + 1):
        w = np.exp(a - a.max())
        w /= w.sum()
        p = np.clip(P @ w, 1e-12, 1 - 1e-12)
        dp = -(y / p - (1 - y) / (1 - p)) / len(y)          # dL/dp
        gw = P.T @ dp                                         # dL/dw
        ga = w * (gw - w @ gw)                                # softmax Jacobian
        m = 0.9 * m + 0.1 * ga
        v = 0.999 * v + 0.001 * ga * ga
        a -= lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-12)
    w = np.exp(a - a.max())
    return w / w.sum()


def learn_stacking(Z: np.ndarray, y: np.ndarray, l2: float = 1e-3,
                   iters: int = 25) -> tuple[np.ndarray, float]:
    """Logistic regression of y on the members' logits Z (Newton-Raphson with L2 on beta)."""
    Z = np.asarray(Z, np.float64)
    y = np.asarray(y, np.float64).ravel()
    n, k = Z.shape
    A = np.hstack([Z, np.ones((n, 1))])
    theta = np.zeros(k + 1)
    theta[:k] = 1.0 / k
    reg = np.full(k + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        p = _sigmoid(A @ theta)
        g = A.T @ (p - y) / n + reg * theta
        H = (A * (p * (1 - p))[:, None]).T @ A / n + np.diag(reg) + 1e-12 * np.eye(k + 1)
        step = np.linalg.solve(H, g)
        theta -= step
        if np.abs(step).max() < 1e-10:
            break
    return theta[:k], float(theta[k])


@dataclass
class Ensemble:
    members: list[MLP]
    kind: str                                  # "average" | "stacking"
    weights: np.ndarray                        # average: w (k,); stacking: beta (k,)
    bias: float = 0.0                          # stacking intercept
    member_ids: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, members: Sequence[MLP], X_val: np.ndarray, y_val: np.ndarray, kind: str,
            member_ids: Sequence[str] = ()) -> "Ensemble":
        _check_members(members)
        if kind == "average":
            P = np.column_stack([m.predict(X_val).ravel() for m in members])
            return cls(list(members), kind, learn_average_weights(P, y_val), 0.0,
                       list(member_ids))
        if kind == "stacking":
            Z = np.column_stack([m.logits(X_val).ravel() for m in members])
            beta, b = learn_stacking(Z, y_val)
            return cls(list(members), kind, beta, b, list(member_ids))
        raise ValueError(f"Ensemble.fit: kind must be 'average' or 'stacking', got {kind!r}")

    @classmethod
    def from_registry(cls, registry, model_ids: Sequence[str], X_val: np.ndarray,
                      y_val: np.ndarray, kind: str) -> "Ensemble":
        """Members loaded from the registry (MLP weights); all must share one feature schema."""
        from tradecore.ml.features import schema_hash
        vs = [registry.get(i) for i in model_ids]
        hashes = {schema_hash(v.feature_schema) for v in vs}
        if len(hashes) != 1:
            raise ValueError(f"Ensemble: members {list(model_ids)} were trained on different "
                             f"feature schemas")
        return cls.fit([registry.load_mlp(i) for i in model_ids], X_val, y_val, kind,
                       list(model_ids))

    @property
    def n_in(self) -> int:
        return self.members[0].n_in

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(n, 1) P(up): the Python reference of the exported graph."""
        if self.kind == "average":
            P = np.column_stack([m.predict(X).ravel() for m in self.members])
            return (P @ self.weights).reshape(-1, 1)
        Z = np.column_stack([m.logits(X).ravel() for m in self.members])
        return _sigmoid(Z @ self.weights + self.bias).reshape(-1, 1)

    def val_log_loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return log_loss(self.predict(X), y)

    def to_onnx(self, dtype: str = "float32") -> onnx.ModelProto:
        np_dtype = np.float32 if dtype == "float32" else np.float64
        tp = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
        nodes, inits, outs = [], [], []
        logits = self.kind == "stacking"
        for j, m in enumerate(self.members):
            o = f"m{j}_out"
            n_, i_ = mlp_nodes(m, INPUT, o, f"m{j}_", np_dtype, logits=logits)
            nodes += n_
            inits += i_
            outs.append(o)
        nodes.append(helper.make_node("Concat", outs, ["members"], axis=1, name="concat"))
        if self.kind == "average":
            inits.append(numpy_helper.from_array(self.weights.reshape(-1, 1).astype(np_dtype),
                                                 "ens_w"))
            nodes.append(helper.make_node("MatMul", ["members", "ens_w"], [OUTPUT], name="avg"))
        else:
            inits += [numpy_helper.from_array(self.weights.reshape(-1, 1).astype(np_dtype),
                                              "ens_beta"),
                      numpy_helper.from_array(np.array([self.bias], dtype=np_dtype), "ens_b")]
            nodes.append(helper.make_node("Gemm", ["members", "ens_beta", "ens_b"], ["ens_z"],
                                          name="stack"))
            nodes.append(helper.make_node("Sigmoid", ["ens_z"], [OUTPUT], name="stack_head"))
        graph = helper.make_graph(nodes, f"tradecore_ensemble_{self.kind}",
                                  [helper.make_tensor_value_info(INPUT, tp, [None, self.n_in])],
                                  [helper.make_tensor_value_info(OUTPUT, tp, [None, 1])], inits)
        mdl = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                producer_name="tradecore.ml")
        mdl.ir_version = 9
        onnx.checker.check_model(mdl)
        return mdl

    def register(self, registry, name: str, feature_schema, data_range, metrics=None):
        """Store the ensemble as one version whose lineage lists its members."""
        return registry.register(
            name, self.to_onnx().SerializeToString(), kind="ensemble",
            feature_schema=feature_schema, data_range=data_range, metrics=metrics or {},
            lineage={"parents": list(self.member_ids), "how": f"ensemble ({self.kind})",
                     "weights": [float(w) for w in self.weights], "bias": self.bias})
