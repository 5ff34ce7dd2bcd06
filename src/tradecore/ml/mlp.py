"""A multilayer perceptron with real backpropagation, in numpy.

Layers: Dense, ReLU, Tanh, Dropout (inverted: scaled at training so inference is a plain
forward pass). Heads and their losses, each differentiated together with its output activation
so the gradient at the logits is the exact, numerically stable (p - y) form:

* "sigmoid"  - binary direction, 1 output, binary cross-entropy on logits;
* "softmax"  - k classes (e.g. triple-barrier -1/0/+1), categorical cross-entropy;
* "linear"   - a return, 1 output, mean squared error.

L2 regularisation adds l2/2 * sum(W^2) of every Dense weight (not the biases) to the loss.
Optimisers: SGD with (optionally Nesterov) momentum and Adam. Training is mini-batch with early
stopping on a validation loss (the best weights are restored).

Inputs are standardised with the training set's mean and std, stored in the model; the ONNX export
folds them into the first Dense layer so inference costs nothing extra.

Why no Numba here: the work is in the matrix products, which numpy hands to BLAS; a Numba loop
was not faster for these sizes (tests/ml and benchmarks/bench_ml.py time an epoch). Numba is used
where Python loops are unavoidable (features, labels).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["Dense", "ReLU", "Tanh", "Dropout", "MLP", "SGD", "Adam", "FitHistory", "HEADS"]

HEADS = ("sigmoid", "softmax", "linear")
ACTIVATIONS = ("relu", "tanh")


# --------------------------------------------------------------------------- layers

class Dense:
    def __init__(self, n_in: int, n_out: int, rng: np.random.Generator, init: str = "he"):
        scale = math.sqrt(2.0 / n_in) if init == "he" else math.sqrt(1.0 / n_in)
        self.W = rng.normal(0.0, scale, size=(n_in, n_out))
        self.b = np.zeros(n_out)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, train: bool, rng: np.random.Generator | None) -> np.ndarray:
        self._x = x
        return x @ self.W + self.b

    def backward(self, g: np.ndarray) -> np.ndarray:
        self.dW = self._x.T @ g
        self.db = g.sum(axis=0)
        return g @ self.W.T

    def params(self) -> list[np.ndarray]:
        return [self.W, self.b]

    def grads(self) -> list[np.ndarray]:
        return [self.dW, self.db]


class ReLU:
    def forward(self, x, train, rng):
        self._m = x > 0
        return np.where(self._m, x, 0.0)

    def backward(self, g):
        return g * self._m

    def params(self):
        return []

    def grads(self):
        return []


class Tanh:
    def forward(self, x, train, rng):
        self._y = np.tanh(x)
        return self._y

    def backward(self, g):
        return g * (1.0 - self._y * self._y)

    def params(self):
        return []

    def grads(self):
        return []


class Dropout:
    def __init__(self, p: float):
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = p
        self._mask: np.ndarray | None = None

    def forward(self, x, train, rng):
        if not train or self.p == 0.0:
            self._mask = None
            return x
        if rng is None:
            raise ValueError("Dropout in training needs a random generator")
        self._mask = (rng.random(x.shape) >= self.p) / (1.0 - self.p)
        return x * self._mask

    def backward(self, g):
        return g if self._mask is None else g * self._mask

    def params(self):
        return []

    def grads(self):
        return []


# --------------------------------------------------------------------------- optimisers

class SGD:
    def __init__(self, lr: float = 0.01, momentum: float = 0.9, nesterov: bool = False):
        if lr <= 0 or not 0 <= momentum < 1:
            raise ValueError(f"SGD: lr > 0 and 0 <= momentum < 1 expected, got {lr}, {momentum}")
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self._v: list[np.ndarray] | None = None

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self._v is None:
            self._v = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self._v):
            v *= self.momentum
            v -= self.lr * g
            if self.nesterov:
                p += self.momentum * v - self.lr * g
            else:
                p += v


class Adam:
    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8):
        if lr <= 0 or not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(f"Adam: lr > 0 and betas in [0,1) expected, got {lr}, {beta1}, "
                             f"{beta2}")
        self.lr, self.b1, self.b2, self.eps = lr, beta1, beta2, eps
        self._m: list[np.ndarray] | None = None
        self._v: list[np.ndarray] | None = None
        self._t = 0

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        if self._m is None:
            self._m = [np.zeros_like(p) for p in params]
            self._v = [np.zeros_like(p) for p in params]
        self._t += 1
        c1 = 1.0 - self.b1 ** self._t
        c2 = 1.0 - self.b2 ** self._t
        for p, g, m, v in zip(params, grads, self._m, self._v):
            m *= self.b1
            m += (1.0 - self.b1) * g
            v *= self.b2
            v += (1.0 - self.b2) * g * g
            p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)


def make_optimizer(name: str, **kw) -> SGD | Adam:
    if name == "adam":
        return Adam(**kw)
    if name == "sgd":
        return SGD(**kw)
    raise ValueError(f"optimizer must be 'sgd' or 'adam', got {name!r}")


# --------------------------------------------------------------------------- the model

def _sigmoid(z: np.ndarray) -> np.ndarray:
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class FitHistory:
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_loss: float = math.inf
    stopped_early: bool = False
    seconds: float = 0.0


class MLP:
    """Dense layers with `activation` between them, optional dropout after each hidden layer,
    and a head ("sigmoid" | "softmax" | "linear")."""

    def __init__(self, n_in: int, hidden: Sequence[int] = (32, 16), *, activation: str = "relu",
                 dropout: float = 0.0, head: str = "sigmoid", n_out: int | None = None,
                 l2: float = 0.0, seed: int = 0):
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {ACTIVATIONS}, got {activation!r}")
        if head not in HEADS:
            raise ValueError(f"MLP: head must be one of {HEADS}, got {head!r}")
        if n_in < 1 or any(int(h) < 1 for h in hidden):
            raise ValueError(f"MLP: n_in and hidden sizes must be >= 1, got {n_in}, {hidden}")
        if l2 < 0:
            raise ValueError(f"MLP: l2 must be >= 0, got {l2}")
        if n_out is None:
            n_out = 3 if head == "softmax" else 1
        if head in ("sigmoid", "linear") and n_out != 1:
            raise ValueError(f"MLP: head {head!r} has one output, got n_out={n_out}")
        if head == "softmax" and n_out < 2:
            raise ValueError(f"MLP: softmax head needs n_out >= 2, got {n_out}")
        self.n_in, self.hidden, self.activation = int(n_in), tuple(int(h) for h in hidden), activation
        self.dropout, self.head, self.n_out, self.l2, self.seed = float(dropout), head, int(n_out), float(l2), int(seed)
        rng = np.random.default_rng(seed)
        self.layers: list[Any] = []
        sizes = [self.n_in, *self.hidden]
        for a, b in zip(sizes[:-1], sizes[1:]):
            self.layers.append(Dense(a, b, rng, "he" if activation == "relu" else "xavier"))
            self.layers.append(ReLU() if activation == "relu" else Tanh())
            if self.dropout > 0:
                self.layers.append(Dropout(self.dropout))
        self.layers.append(Dense(sizes[-1], self.n_out, rng, "xavier"))
        self.mean = np.zeros(self.n_in)
        self.std = np.ones(self.n_in)

    # -- structure ---------------------------------------------------------------------------
    @property
    def dense(self) -> list[Dense]:
        return [l for l in self.layers if isinstance(l, Dense)]

    def params(self) -> list[np.ndarray]:
        return [p for l in self.layers for p in l.params()]

    def grads(self) -> list[np.ndarray]:
        return [g for l in self.layers for g in l.grads()]

    def config(self) -> dict[str, Any]:
        return {"n_in": self.n_in, "hidden": list(self.hidden), "activation": self.activation,
                "dropout": self.dropout, "head": self.head, "n_out": self.n_out, "l2": self.l2,
                "seed": self.seed}

    def state(self) -> dict[str, np.ndarray]:
        """Every number of the model (for saving, hashing, cloning)."""
        out = {"mean": self.mean.copy(), "std": self.std.copy()}
        for i, d in enumerate(self.dense):
            out[f"W{i}"] = d.W.copy()
            out[f"b{i}"] = d.b.copy()
        return out

    def load_state(self, st: dict[str, np.ndarray]) -> "MLP":
        dense = self.dense
        for i, d in enumerate(dense):
            W, b = np.asarray(st[f"W{i}"], np.float64), np.asarray(st[f"b{i}"], np.float64)
            if W.shape != d.W.shape or b.shape != d.b.shape:
                raise ValueError(f"MLP.load_state: layer {i} expects W {d.W.shape}, b "
                                 f"{d.b.shape}; got {W.shape}, {b.shape}")
            d.W, d.b = W.copy(), b.copy()
        self.mean = np.asarray(st["mean"], np.float64).copy()
        self.std = np.asarray(st["std"], np.float64).copy()
        return self

    @classmethod
    def from_state(cls, config: dict[str, Any], st: dict[str, np.ndarray]) -> "MLP":
        return cls(**config).load_state(st)

    def clone(self) -> "MLP":
        return MLP.from_state(self.config(), self.state())

    def fit_scaler(self, X: np.ndarray) -> None:
        self.mean = X.mean(axis=0)
        sd = X.std(axis=0)
        self.std = np.where(sd > 1e-12, sd, 1.0)

    # -- forward / loss ----------------------------------------------------------------------
    def logits(self, X: np.ndarray, train: bool = False,
               rng: np.random.Generator | None = None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"MLP: input must be (n, {self.n_in}), got {X.shape}")
        h = (X - self.mean) / self.std
        for layer in self.layers:
            h = layer.forward(h, train, rng)
        return h

    def output(self, z: np.ndarray) -> np.ndarray:
        if self.head == "sigmoid":
            return _sigmoid(z)
        if self.head == "softmax":
            return _softmax(z)
        return z

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (sigmoid: (n,1) P(up); softmax: (n,k)) or the predicted return."""
        return self.output(self.logits(X))

    def _data_loss(self, z: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean loss over the batch and its gradient w.r.t. the logits."""
        n = z.shape[0]
        if self.head == "sigmoid":
            t = y.reshape(-1, 1)
            # log(1+exp(-|z|)) + max(z,0) - z*t : BCE on logits, stable for any z
            loss = np.logaddexp(0.0, z) - z * t
            return float(loss.mean()), (_sigmoid(z) - t) / n
        if self.head == "softmax":
            yi = y.astype(np.int64)
            zs = z - z.max(axis=1, keepdims=True)
            lse = np.log(np.exp(zs).sum(axis=1))
            loss = lse - zs[np.arange(n), yi]
            p = _softmax(z)
            p[np.arange(n), yi] -= 1.0
            return float(loss.mean()), p / n
        t = y.reshape(-1, 1)
        d = z - t
        return float((d * d).mean()), 2.0 * d / n

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """Data loss plus the L2 penalty, without dropout."""
        dl, _ = self._data_loss(self.logits(X), np.asarray(y))
        return dl + self._l2_penalty()

    def _l2_penalty(self) -> float:
        return 0.5 * self.l2 * sum(float((d.W * d.W).sum()) for d in self.dense)

    def loss_and_grads(self, X: np.ndarray, y: np.ndarray, train: bool = True,
                       rng: np.random.Generator | None = None) -> float:
        """Forward, loss (with L2) and backward; the gradients are left in each layer."""
        z = self.logits(X, train, rng)
        dl, g = self._data_loss(z, np.asarray(y))
        for layer in reversed(self.layers):
            g = layer.backward(g)
        if self.l2:
            for d in self.dense:
                d.dW = d.dW + self.l2 * d.W
        return dl + self._l2_penalty()

    # -- training ----------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None, *, optimizer: SGD | Adam | None = None,
            epochs: int = 50, batch_size: int = 256, patience: int = 5, seed: int | None = None,
            on_epoch: Callable[[dict[str, float]], None] | None = None,
            fit_scaler: bool = True) -> FitHistory:
        """Mini-batch training; early stopping on the validation loss (patience epochs without
        improvement), restoring the best weights. Without validation data it runs all epochs."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if len(X) != len(y) or len(X) == 0:
            raise ValueError(f"MLP.fit: X has {len(X)} rows, y {len(y)} (need equal, > 0)")
        if not np.all(np.isfinite(X)) or not np.all(np.isfinite(y)):
            raise ValueError("MLP.fit: X and y must be finite (drop warm-up rows first)")
        if self.head == "softmax" and (y.min() < 0 or y.max() >= self.n_out):
            raise ValueError(f"MLP.fit: class labels must be in [0, {self.n_out}), got "
                             f"[{y.min()}, {y.max()}]")
        opt = optimizer or Adam()
        rng = np.random.default_rng(self.seed if seed is None else seed)
        if fit_scaler:
            self.fit_scaler(X)
        hist = FitHistory()
        t_start = time.perf_counter()
        best_state, bad = None, 0
        params = self.params()
        for ep in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = rng.permutation(len(X))
            tot = 0.0
            for s in range(0, len(X), batch_size):
                b = order[s:s + batch_size]
                tot += self.loss_and_grads(X[b], y[b], True, rng) * len(b)
                opt.step(params, self.grads())
            rec = {"epoch": float(ep), "train_loss": tot / len(X),
                   "seconds": time.perf_counter() - t0}
            if X_val is not None and y_val is not None and len(X_val):
                vl = self.loss(X_val, y_val)
                rec["val_loss"] = vl
                if vl < hist.best_val_loss - 1e-9:
                    hist.best_val_loss, hist.best_epoch, bad = vl, ep, 0
                    best_state = self.state()
                else:
                    bad += 1
            hist.epochs.append(rec)
            if on_epoch:
                on_epoch(rec)
            if best_state is not None and bad >= patience:
                hist.stopped_early = True
                break
        if best_state is not None:
            self.load_state(best_state)
        hist.seconds = time.perf_counter() - t_start
        return hist
