"""Online learning and drift detection, off the hot path, versioned like any model.

Labels arrive late: the label of bar t (forward return over `horizon` bars) is known at bar
t + horizon. `LabelledStream` keeps each bar's feature row until then and emits (x, y) pairs
exactly as `make_dataset` would have labelled them (a test checks this), so online updates learn
the same target as offline training.

`OnlineLearner` holds a copy of an MLP and a window of recent labelled samples; `update` takes a
few SGD-with-momentum steps on mini-batches of that window (the scaler is kept: the model's input
space does not move under it). Each update yields a new model that can be registered with lineage
{parent, how: "online update", samples, data range}; the engine keeps running the old ONNX
session until the new one is loaded and warmed up, then swaps.

`OnlineUpdater` is what the live loop talks to: `on_bar` is O(1) (append, no training); every
`update_every` labels it hands the update to a worker thread (numpy's BLAS releases the GIL for
the matrix products; the rest of an update is short Python) and the result comes back on the
loop via a callback. In a backtest `executor=None` runs the update inline, deterministic.

Drift: PSI per feature between the training reference and a recent window (0.1 = moderate,
0.25 = significant shift, the usual credit-scoring rule of thumb), and Page-Hinkley on the
prediction error (log loss per labelled bar): a sustained rise of the mean error beyond `lambda`
signals drift. Either can trigger retraining via `on_drift`.
"""
from __future__ import annotations

import collections
import math
from concurrent.futures import Executor
from typing import Any, Callable

import numpy as np

from tradecore.ml.mlp import MLP, SGD

__all__ = ["psi", "PageHinkley", "FeatureDrift", "LabelledStream", "OnlineLearner",
           "OnlineUpdater", "register_update"]


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    """Population stability index of `current` against `reference` (one feature), with bins at
    the reference's quantiles."""
    ref = np.asarray(reference, np.float64)
    cur = np.asarray(current, np.float64)
    if ref.size < bins or cur.size == 0:
        raise ValueError(f"psi: need >= {bins} reference values and a non-empty current "
                         f"sample, got {ref.size}, {cur.size}")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1]))
    r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
    pr = np.clip(r / r.sum(), eps, None)
    pc = np.clip(c / c.sum(), eps, None)
    return float(np.sum((pc - pr) * np.log(pc / pr)))


class PageHinkley:
    """Page-Hinkley test for an increase of a stream's mean (e.g. prediction error).

    m_t = sum_{i<=t} (x_i - mean_i - delta); drift when m_t - min_{s<=t} m_s > lambda_.
    `delta` is the tolerated change, `lambda_` the alarm threshold; both in the stream's units.
    After an alarm the test resets."""

    def __init__(self, delta: float = 0.005, lambda_: float = 5.0, min_n: int = 30) -> None:
        if delta < 0 or lambda_ <= 0:
            raise ValueError(f"PageHinkley: delta >= 0 and lambda_ > 0 expected, got {delta}, "
                             f"{lambda_}")
        self.delta, self.lambda_, self.min_n = delta, lambda_, min_n
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.mean = 0.0
        self.m = 0.0
        self.m_min = 0.0

    def update(self, x: float) -> bool:
        self.n += 1
        self.mean += (x - self.mean) / self.n
        self.m += x - self.mean - self.delta
        if self.m < self.m_min:
            self.m_min = self.m
        if self.n >= self.min_n and self.m - self.m_min > self.lambda_:
            self.reset()
            return True
        return False


class FeatureDrift:
    """PSI of each feature over the last `window` rows against a reference sample."""

    def __init__(self, reference: np.ndarray, names, window: int = 500,
                 threshold: float = 0.25, bins: int = 10) -> None:
        self.ref = np.asarray(reference, np.float64)
        self.names = list(names)
        if self.ref.ndim != 2 or self.ref.shape[1] != len(self.names):
            raise ValueError(f"FeatureDrift: reference must be (n, {len(self.names)}), got "
                             f"{self.ref.shape}")
        self.window, self.threshold, self.bins = window, threshold, bins
        self.buf = np.zeros((window, len(self.names)))
        self.n = 0

    def add(self, row: np.ndarray) -> None:
        self.buf[self.n % self.window] = row
        self.n += 1

    def check(self) -> dict[str, float]:
        """Features whose PSI exceeds the threshold (empty until the window is full)."""
        if self.n < self.window:
            return {}
        out = {}
        for j, name in enumerate(self.names):
            v = psi(self.ref[:, j], self.buf[:, j], self.bins)
            if v > self.threshold:
                out[name] = v
        return out


class LabelledStream:
    """Turns the live stream of (bar, feature row) into labelled samples `horizon` bars later:
    y = 1 when log(close[t+h] / close[t]) > threshold (make_dataset's forward binary label)."""

    def __init__(self, horizon: int, threshold: float = 0.0) -> None:
        if horizon < 1:
            raise ValueError(f"LabelledStream: horizon must be >= 1, got {horizon}")
        self.h, self.threshold = horizon, threshold
        self._pending: collections.deque = collections.deque()
        self._closes: collections.deque = collections.deque(maxlen=horizon + 1)

    def on_bar(self, ts_ns: int, close: float, row: np.ndarray | None
               ) -> tuple[int, np.ndarray, float] | None:
        """Record this bar; returns (ts of the labelled bar, its row, its label) when bar
        t - horizon becomes labelled and had a feature row."""
        self._closes.append(close)
        self._pending.append((ts_ns, None if row is None else np.array(row, np.float64), close))
        if len(self._pending) <= self.h:
            return None
        ts0, x0, c0 = self._pending.popleft()
        if x0 is None:
            return None
        return ts0, x0, float(math.log(close / c0) > self.threshold)


class OnlineLearner:
    def __init__(self, model: MLP, window: int = 5000, lr: float = 1e-3,
                 momentum: float = 0.9, batch_size: int = 64, seed: int = 0) -> None:
        if model.head != "sigmoid":
            raise ValueError(f"OnlineLearner: supports the sigmoid head, got {model.head!r}")
        self.model = model.clone()
        self.opt = SGD(lr, momentum)
        self.batch_size = batch_size
        self.X: collections.deque = collections.deque(maxlen=window)
        self.y: collections.deque = collections.deque(maxlen=window)
        self.ts: collections.deque = collections.deque(maxlen=window)
        self.rng = np.random.default_rng(seed)
        self.updates = 0
        self.seen = 0

    def add(self, ts_ns: int, x: np.ndarray, y: float) -> None:
        self.X.append(np.asarray(x, np.float64))
        self.y.append(float(y))
        self.ts.append(int(ts_ns))
        self.seen += 1

    def update(self, steps: int = 20) -> tuple[MLP, dict[str, Any]]:
        """`steps` mini-batch SGD steps on the window; returns a snapshot copy of the updated
        model and what it was trained on."""
        if len(self.y) < self.batch_size:
            raise ValueError(f"OnlineLearner.update: {len(self.y)} labelled samples, need at "
                             f"least one batch of {self.batch_size}")
        X = np.array(self.X)
        y = np.array(self.y)
        loss_before = self.model.loss(X, y)
        params = self.model.params()
        for _ in range(steps):
            b = self.rng.integers(0, len(y), self.batch_size)
            self.model.loss_and_grads(X[b], y[b], True, self.rng)
            self.opt.step(params, self.model.grads())
        self.updates += 1
        info = {"samples": int(len(y)), "start_ns": int(self.ts[0]), "end_ns": int(self.ts[-1]),
                "steps": steps, "loss_before": loss_before, "loss_after": self.model.loss(X, y),
                "update": self.updates}
        return self.model.clone(), info


class OnlineUpdater:
    """Glue for the live loop: label, monitor drift, and update off the hot path."""

    def __init__(self, learner: OnlineLearner, stream: LabelledStream, *,
                 update_every: int = 200, steps: int = 20,
                 on_model: Callable[[MLP, dict[str, Any]], None] | None = None,
                 feature_drift: FeatureDrift | None = None,
                 error_drift: PageHinkley | None = None,
                 on_drift: Callable[[str, dict[str, Any]], None] | None = None,
                 predict: Callable[[np.ndarray], float] | None = None,
                 executor: Executor | None = None, loop=None) -> None:
        if executor is not None and loop is None:
            raise ValueError("OnlineUpdater: an executor needs the loop to deliver results on")
        self.learner, self.stream = learner, stream
        self.update_every, self.steps = update_every, steps
        self.on_model, self.on_drift = on_model, on_drift
        self.feature_drift, self.error_drift = feature_drift, error_drift
        self.predict = predict
        self.executor, self.loop = executor, loop
        self.busy = False
        self._since = 0
        self.counters: collections.Counter = collections.Counter()

    def on_bar(self, ts_ns: int, close: float, row: np.ndarray | None) -> None:
        if row is not None and self.feature_drift is not None:
            self.feature_drift.add(row)
            if self.feature_drift.n % self.feature_drift.window == 0:
                drifted = self.feature_drift.check()
                if drifted:
                    self.counters["feature drift"] += 1
                    if self.on_drift:
                        self.on_drift("feature", drifted)
        got = self.stream.on_bar(ts_ns, close, row)
        if got is None:
            return
        ts0, x, y = got
        if self.error_drift is not None and self.predict is not None:
            p = min(max(self.predict(x), 1e-7), 1 - 1e-7)
            err = -math.log(p) if y > 0.5 else -math.log(1 - p)
            if self.error_drift.update(err):
                self.counters["error drift"] += 1
                if self.on_drift:
                    self.on_drift("error", {"n": self.learner.seen})
        self.learner.add(ts0, x, y)
        self._since += 1
        if self._since >= self.update_every and not self.busy and \
                len(self.learner.y) >= self.learner.batch_size:
            self._since = 0
            self._start_update()

    def _start_update(self) -> None:
        self.busy = True
        self.counters["updates started"] += 1
        if self.executor is None:
            self._done(*self.learner.update(self.steps))
            return

        def work():
            model, info = self.learner.update(self.steps)
            self.loop.call_soon_threadsafe(self._done, model, info)

        self.executor.submit(work)

    def _done(self, model: MLP, info: dict[str, Any]) -> None:
        self.busy = False
        self.counters["updates done"] += 1
        if self.on_model:
            self.on_model(model, info)


def register_update(registry, parent_id: str, model: MLP, info: dict[str, Any],
                    feature_schema: dict[str, Any], name: str | None = None):
    """Store an online update as a new version whose lineage names its parent."""
    from tradecore.ml.onnx_export import mlp_to_onnx
    parent = registry.get(parent_id)
    return registry.register(
        name or parent.name, mlp_to_onnx(model).SerializeToString(), kind="online-mlp",
        feature_schema=feature_schema,
        data_range={"start_ns": info["start_ns"], "end_ns": info["end_ns"],
                    "rows": info["samples"], "source": "live stream"},
        metrics={"window_loss_before": info["loss_before"],
                 "window_loss_after": info["loss_after"]},
        lineage={"parents": [parent_id], "how": "online update", "update": info["update"],
                 "steps": info["steps"]},
        state=model.state(), config=model.config())
