"""onnxruntime inference for the live path: one session per model, one thread, warmed up.

Why these settings: the engine's loop is single-threaded and a model's input is one row; thread
pools cost more to wake than a small MLP costs to run, so intra_op = inter_op = 1, sequential
execution, spinning off. The input is a pre-allocated (1, n) buffer the caller fills in place
(`predict_row` copies the feature row into it), so a prediction allocates nothing of ours.

Two ways to call the session are kept and measured (benchmarks/bench_ml.py):
* `run`: `session.run([out], {in: buf})`, the plain API;
* `iobinding`: the input bound once as an OrtValue over the same buffer, output pre-bound on CPU,
  `run_with_iobinding` per call. `mode="auto"` times both at warm-up and keeps the faster.

Heavier models must not block the loop: `AsyncPredictor` runs them in a one-thread executor and
delivers the result back on the loop (call_soon_threadsafe).
"""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np
import onnxruntime as ort

__all__ = ["OnnxModel", "session_options", "AsyncPredictor"]


def session_options() -> ort.SessionOptions:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    so.log_severity_level = 3
    return so


class OnnxModel:
    """A loaded model ready for single-row predictions.

    `model_id` is carried so every prediction can be traced to the version that made it.
    `output` picks the output tensor (ONNX converters of tree models emit label + probability;
    we want the probability)."""

    def __init__(self, onnx_bytes: bytes, model_id: str = "", *, output: str | None = None,
                 mode: str = "auto", warmup: int = 200) -> None:
        if mode not in ("auto", "run", "iobinding"):
            raise ValueError(f"OnnxModel: mode must be auto|run|iobinding, got {mode!r}")
        self.model_id = model_id
        self.session = ort.InferenceSession(onnx_bytes, session_options(),
                                            providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.n_features = int(inp.shape[1])
        self.dtype = np.float64 if inp.type == "tensor(double)" else np.float32
        outs = [o.name for o in self.session.get_outputs()]
        if output is None:
            output = outs[-1]
        if output not in outs:
            raise ValueError(f"OnnxModel {model_id!r}: no output {output!r}; outputs are {outs}")
        self.output_name = output
        self.buf = np.zeros((1, self.n_features), dtype=self.dtype)
        self._feed = {self.input_name: self.buf}
        self._outs = [self.output_name]
        self._binding = self.session.io_binding()
        self._ortval = ort.OrtValue.ortvalue_from_numpy(self.buf)
        self._binding.bind_ortvalue_input(self.input_name, self._ortval)
        self._binding.bind_output(self.output_name, "cpu")
        self.mode = mode
        self.warmup_ns: dict[str, float] = {}
        self._warm(warmup)

    def _run(self) -> np.ndarray:
        return self.session.run(self._outs, self._feed)[0]

    def _run_bound(self) -> np.ndarray:
        self.session.run_with_iobinding(self._binding)
        return self._binding.copy_outputs_to_cpu()[0]

    def _warm(self, n: int) -> None:
        """Run the model before trading: first calls allocate and pick kernels."""
        n = max(n, 1)
        for name, fn in (("run", self._run), ("iobinding", self._run_bound)):
            for _ in range(min(n, 20)):
                fn()
            t = []
            for _ in range(n):
                t0 = time.perf_counter_ns()
                fn()
                t.append(time.perf_counter_ns() - t0)
            self.warmup_ns[name] = float(np.median(t))
        if self.mode == "auto":
            self.mode = min(self.warmup_ns, key=self.warmup_ns.get)
        self._call = self._run if self.mode == "run" else self._run_bound

    def predict_row(self, row) -> np.ndarray:
        """Outputs for one feature row (copied into the pre-allocated input buffer)."""
        self.buf[0, :] = row
        return self._call()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Outputs for a batch (offline: reports, tests)."""
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"OnnxModel {self.model_id!r}: input must be (n, "
                             f"{self.n_features}), got {X.shape}")
        return self.session.run(self._outs, {self.input_name: X})[0]


class AsyncPredictor:
    """Runs a model off the event loop (one worker thread) and delivers on the loop.

    onnxruntime releases the GIL while it computes, so the loop keeps running; the callback is
    called on the loop thread with (outputs, tag). At most `max_pending` requests are in flight;
    beyond that `submit` returns False (the caller counts a dropped signal) instead of queueing
    stale work."""

    def __init__(self, model: OnnxModel, loop: asyncio.AbstractEventLoop,
                 max_pending: int = 1) -> None:
        self.model = model
        self.loop = loop
        self.max_pending = max_pending
        self.pending = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ml-infer")

    def submit(self, row: np.ndarray, tag: object,
               callback: Callable[[np.ndarray, object], None]) -> bool:
        if self.pending >= self.max_pending:
            return False
        self.pending += 1
        x = np.array(row, dtype=self.model.dtype).reshape(1, -1)

        def work() -> None:
            out = self.model.predict(x)
            self.loop.call_soon_threadsafe(self._deliver, out, tag, callback)

        self._pool.submit(work)
        return True

    def _deliver(self, out, tag, callback) -> None:
        self.pending -= 1
        callback(out, tag)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
