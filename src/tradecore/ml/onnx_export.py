"""Our MLP as an ONNX graph, built node by node with `onnx.helper`.

Graph: input "features" (N, n_in) -> Gemm -> Relu|Tanh -> ... -> Gemm -> Sigmoid|Softmax|(none)
-> output "output". The standardisation ((x - mean) / std) is folded into the first Gemm
(W' = W / std[:, None], b' = b - (mean / std) @ W), so inference is exactly the Dense layers.
Dropout is the identity at inference and is not exported.

dtype: float32 by default (what the live path runs, half the bytes, faster kernels); float64
for exact comparisons. Opset 17 (Softmax on the last axis).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tradecore.ml.mlp import MLP

__all__ = ["mlp_to_onnx", "OPSET", "INPUT", "OUTPUT", "folded_layers", "mlp_nodes"]

OPSET = 17
INPUT = "features"
OUTPUT = "output"


def folded_layers(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) of every Dense layer with the input scaler folded into the first."""
    layers = [(d.W.copy(), d.b.copy()) for d in model.dense]
    W0, b0 = layers[0]
    inv = 1.0 / model.std
    layers[0] = (W0 * inv[:, None], b0 - (model.mean * inv) @ W0)
    return layers


def mlp_nodes(model: MLP, inp: str, out: str, prefix: str, np_dtype,
              logits: bool = False) -> tuple[list[Any], list[Any]]:
    """Nodes and initializers computing the model from tensor `inp` into tensor `out` (names
    prefixed, so several models fit in one graph). `logits=True` stops before the head."""
    nodes, inits = [], []
    act = "Relu" if model.activation == "relu" else "Tanh"
    layers = folded_layers(model)
    h = inp
    for i, (W, b) in enumerate(layers):
        wn, bn, zn = f"{prefix}W{i}", f"{prefix}b{i}", f"{prefix}z{i}"
        inits += [numpy_helper.from_array(W.astype(np_dtype), wn),
                  numpy_helper.from_array(b.astype(np_dtype), bn)]
        last = i == len(layers) - 1
        if last and (logits or model.head == "linear"):
            zn = out
        nodes.append(helper.make_node("Gemm", [h, wn, bn], [zn], name=f"{prefix}gemm{i}"))
        h = zn
        if not last:
            an = f"{prefix}a{i}"
            nodes.append(helper.make_node(act, [h], [an], name=f"{prefix}act{i}"))
            h = an
    if not logits and model.head != "linear":
        op = "Sigmoid" if model.head == "sigmoid" else "Softmax"
        kw = {"axis": -1} if op == "Softmax" else {}
        nodes.append(helper.make_node(op, [h], [out], name=f"{prefix}head", **kw))
    return nodes, inits


def mlp_to_onnx(model: MLP, dtype: str = "float32", doc: str = "") -> onnx.ModelProto:
    if dtype not in ("float32", "float64"):
        raise ValueError(f"mlp_to_onnx: dtype must be float32 or float64, got {dtype!r}")
    np_dtype = np.float32 if dtype == "float32" else np.float64
    tp = TensorProto.FLOAT if dtype == "float32" else TensorProto.DOUBLE
    nodes, inits = mlp_nodes(model, INPUT, OUTPUT, "", np_dtype)
    graph = helper.make_graph(
        nodes, "tradecore_mlp",
        [helper.make_tensor_value_info(INPUT, tp, [None, model.n_in])],
        [helper.make_tensor_value_info(OUTPUT, tp, [None, model.n_out])], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="tradecore.ml", doc_string=doc)
    m.ir_version = 9
    onnx.checker.check_model(m)
    return m
