"""The Ray backend of parameter sweeps: one Ray task per grid point.

Ray is imported here only, so a process-pool sweep (and everything else) runs without it.

Connecting: when Ray is already initialised in this process (a notebook, a test's cluster) the
sweep uses that connection and leaves it up. Otherwise `address` picks the cluster: "" starts a
private local cluster ("local": never joins another process's cluster by accident) with
`workers` CPUs, no dashboard, and tradecore's own source directory on the workers' PYTHONPATH
so they import the same tradecore as the driver; "auto" or "host:port" joins a running cluster,
"ray://host:10001" goes through Ray Client. The sweep shuts down only a connection it opened.
On a remote cluster every node must have tradecore (with the same compiled kernels) installed
and see the config and the recordings or store at the same paths: a task sends the config's
path and the point, not the data (docs/deployment.md).

Retries are the driver's, not Ray's (`max_retries=0` on the task): each point's attempts are
counted the same way as in the process pool, an application error and a dead worker
(`WorkerCrashedError`, a lost node) are both retried, and the failed row carries the error of
the last attempt, unwrapped from Ray's `RayTaskError`. With Ray's own `retry_exceptions` the
driver could not tell how many runs a point took.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import tradecore
from tradecore.backtest.sweep import RunPoint, failed_row, log_retry, ok_row
from tradecore.config import ConfigError

try:
    import ray
    from ray.exceptions import RayTaskError
except ImportError:                                     # pragma: no cover - depends on install
    ray = None


def _error_text(e: BaseException) -> str:
    """The run's own exception as the process pool reports it; for Ray's errors (a dead
    worker, a lost node) their first line (the rest is a long how-to-debug text)."""
    cause = getattr(e, "cause", None) if isinstance(e, RayTaskError) else None
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    lines = [ln for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"


def _call(run: RunPoint, config_path: str | None, point: dict) -> dict[str, Any]:
    """The task body: `run` travels as an argument (cloudpickle), so a functools.partial or a
    function of the caller's module serves as well as run_point."""
    return run(config_path, point)


def _connect(address: str, workers: int | None) -> bool:
    """Initialise Ray unless it already is; True when this call opened the connection."""
    if ray.is_initialized():
        return False
    if address:
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as e:
            raise ConfigError(f"sweep.ray_address = {address!r}: no Ray cluster answers there "
                              f"({e})") from None
    else:
        src = str(Path(tradecore.__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH", "")) if p)
        ray.init(address="local", num_cpus=workers, include_dashboard=False,
                 log_to_driver=False, runtime_env={"env_vars": {"PYTHONPATH": path}})
    return True


def sweep_ray(config_path: str | None, pts: list[dict], run: RunPoint, *, retries: int,
              workers: int | None, address: str) -> list[dict[str, Any]]:
    """Rows in grid order; at most `workers` points in flight when given (else all, and Ray
    schedules them on the cluster's CPUs, one CPU each)."""
    if ray is None:
        raise ConfigError('sweep backend "ray" needs the ray package: '
                          'pip install "tradecore[distributed]"')
    opened = _connect(address, workers)
    in_flight: dict[Any, int] = {}
    try:
        task = ray.remote(num_cpus=1, max_retries=0, retry_exceptions=False)(_call)
        run_ref = ray.put(run)
        cfg = str(Path(config_path).resolve()) if config_path is not None else None
        rows: list[dict[str, Any]] = [{} for _ in pts]
        tries = [0] * len(pts)
        queue = list(range(len(pts)))
        limit = workers or len(pts)
        while queue or in_flight:
            while queue and len(in_flight) < limit:
                i = queue.pop(0)
                in_flight[task.remote(run_ref, cfg, pts[i])] = i
            done, _ = ray.wait(list(in_flight), num_returns=1)
            i = in_flight.pop(done[0])
            try:
                rows[i] = ok_row(pts[i], tries[i], ray.get(done[0]))
            except Exception as e:                 # RayTaskError, WorkerCrashedError, ...
                err = _error_text(e)
                if tries[i] >= retries:
                    rows[i] = failed_row(pts[i], tries[i], err)
                else:
                    tries[i] += 1
                    log_retry(i, pts[i], tries[i], err)
                    queue.insert(0, i)
        return rows
    finally:
        for ref in in_flight:                  # interrupted (Ctrl-C): stop what still runs
            ray.cancel(ref, force=True)
        if opened:
            ray.shutdown()
