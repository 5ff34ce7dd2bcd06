"""Parameter sweeps: one backtest per point of a grid, in parallel, one row each.

A grid is a TOML file of strategy settings to vary, keyed by strategy id:

    [xarb]
    min_edge_bps = [0.5, 1.0, 2.0]
    max_qty = [0.1, 0.5]

Every combination (the Cartesian product over all listed keys) is one run of the same config
with those settings replaced. Where the runs happen is the config's `[sweep]` table (or the
arguments of `sweep`): `backend = "process"` (the default) is a `ProcessPoolExecutor` of
`workers` processes on this machine; `backend = "ray"` submits one Ray task per point
(sweep_ray.py) to a local or remote cluster. Both backends share the retry rule: a run that
raises (or whose worker dies) is run again up to `max_retries` times, then reported as failed
with its last error in its row: never silently dropped. Rows come back in grid order with the
point, the status, the retries it took, the run's summary figures and its wall time;
`write_sweep` saves them as JSON and CSV. The rows of the two backends are equal but for the
wall time.
"""
from __future__ import annotations

import csv
import itertools
import json
import logging
import multiprocessing
import os
import time
import tomllib
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable

from tradecore.config import SWEEP_BACKENDS, ConfigError, NodeConfig, load

log = logging.getLogger(__name__)

ROW_KEYS = ("orders", "denied", "fills", "realized_pnl", "unrealized_pnl", "fees", "equity")


def read_grid(path: str | Path) -> dict[str, dict[str, list]]:
    p = Path(path)
    try:
        g = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"sweep grid {p} does not exist") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"sweep grid {p} is not valid TOML: {e}") from None
    for sid, params in g.items():
        if not isinstance(params, dict) or not params:
            raise ConfigError(f"sweep grid [{sid}]: expected a table of setting = [values]")
        for k, v in params.items():
            if not isinstance(v, list) or not v:
                raise ConfigError(f"sweep grid {sid}.{k} = {v!r}: expected a non-empty list")
    return g


def points(grid: dict[str, dict[str, list]]) -> list[dict[str, dict[str, Any]]]:
    keys = [(sid, k) for sid, params in grid.items() for k in params]
    out = []
    for combo in itertools.product(*(grid[sid][k] for sid, k in keys)):
        pt: dict[str, dict[str, Any]] = {}
        for (sid, k), v in zip(keys, combo):
            pt.setdefault(sid, {})[k] = v
        out.append(pt)
    return out


def _overrides(cfg: NodeConfig, point: dict[str, dict[str, Any]]) -> dict:
    known = {s.id for s in cfg.strategies}
    missing = set(point) - known
    if missing:
        raise ConfigError(f"sweep grid names strategies {sorted(missing)}; the config has "
                          f"{sorted(known)}")
    strategies = [{"id": s.id, "kind": s.kind, "settings": {**s.settings, **point.get(s.id, {})}}
                  for s in cfg.strategies]
    return {"run": {"mode": "backtest", "status_every_s": 0}, "strategies": strategies}


def run_point(config_path: str | None, point: dict) -> dict[str, Any]:
    """One backtest (in a worker process)."""
    from tradecore.engine import TradingNode

    base = load(config_path, {"run": {"mode": "backtest"}})
    cfg = load(config_path, _overrides(base, point))
    t0 = time.perf_counter()
    node = TradingNode(cfg)
    if node.candle_based:
        node.run_candles(bar_books=cfg.bar_books)
    else:
        node.run_replay()
    s = node.summary()
    return {**{k: s[k] for k in ROW_KEYS}, "seconds": round(time.perf_counter() - t0, 3)}


RunPoint = Callable[[str | None, dict], dict[str, Any]]


def ok_row(point: dict, retries: int, result: dict[str, Any]) -> dict[str, Any]:
    return {"point": point, "status": "ok", "retries": retries, **result}


def failed_row(point: dict, retries: int, error: str) -> dict[str, Any]:
    return {"point": point, "status": "failed", "retries": retries, "error": error}


def log_retry(i: int, point: dict, attempt: int, error: str) -> None:
    log.warning("sweep point %d %s failed (attempt %d): %s; running it again",
                i, json.dumps(point, sort_keys=True), attempt, error)


def sweep(config_path: str | None, grid: dict, workers: int | None = None,
          retries: int | None = None, backend: str | None = None,
          ray_address: str | None = None, run: RunPoint = run_point) -> list[dict[str, Any]]:
    """One row per grid point, in grid order. Arguments left None come from the config's
    [sweep] table. `run` is what a worker calls per point (a picklable module-level function
    or functools.partial of one)."""
    pts = points(grid)
    base = load(config_path, {"run": {"mode": "backtest"}})
    for pt in pts:
        _overrides(base, pt)                       # a bad grid fails before any run
    sc = base.sweep
    backend = backend or sc.backend
    if backend not in SWEEP_BACKENDS:
        raise ConfigError(f"sweep backend {backend!r}: expected one of {list(SWEEP_BACKENDS)}")
    workers = workers or sc.workers or None
    retries = sc.max_retries if retries is None else retries
    if retries < 0:
        raise ConfigError(f"sweep retries = {retries}: expected an integer >= 0")
    if backend == "ray":
        from tradecore.backtest.sweep_ray import sweep_ray
        return sweep_ray(config_path, pts, run, retries=retries, workers=workers,
                         address=sc.ray_address if ray_address is None else ray_address)
    return _sweep_processes(config_path, pts, run, retries, workers or os.cpu_count() or 1)


def _sweep_processes(config_path: str | None, pts: list[dict], run: RunPoint, retries: int,
                     workers: int) -> list[dict[str, Any]]:
    """At most `workers` points in flight, so that a worker that dies (a crash in a kernel,
    the OOM killer) and breaks the whole pool takes down only the points running beside it:
    each of those counts one failed attempt and goes on in a fresh pool. (Submitting the whole
    grid at once would charge an attempt to every queued point that never ran.)"""
    rows: list[dict[str, Any]] = [{} for _ in pts]
    tries = [0] * len(pts)
    queue = list(range(len(pts)))
    # workers start from a forkserver, not by forking this process: a fork copies whatever
    # locks this process's other threads hold at that instant (Ray's, the journal's sync
    # thread's, a logging handler's) and the child can wait on them forever (seen: a sweep
    # after ray.init hung in its first worker)
    ctx = multiprocessing.get_context(
        "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
    while queue:
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            in_flight: dict[Future, int] = {}
            broken = False
            while (queue and not broken) or in_flight:
                while queue and not broken and len(in_flight) < workers:
                    i = queue.pop(0)
                    try:
                        in_flight[pool.submit(run, config_path, pts[i])] = i
                    except BrokenProcessPool:              # it broke since the last wait
                        queue.insert(0, i)
                        broken = True
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = in_flight.pop(fut)
                    try:
                        rows[i] = ok_row(pts[i], tries[i], fut.result())
                    except Exception as e:                 # a failed run: retry, then report
                        broken |= isinstance(e, BrokenProcessPool)
                        err = f"{type(e).__name__}: {e}"
                        if tries[i] >= retries:
                            rows[i] = failed_row(pts[i], tries[i], err)
                        else:
                            tries[i] += 1
                            log_retry(i, pts[i], tries[i], err)
                            queue.insert(0, i)
    return rows


def write_sweep(rows: list[dict[str, Any]], out_dir: str | Path) -> dict[str, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js = out / "sweep.json"
    js.write_text(json.dumps(rows, indent=1, default=str))
    flat = [{"point": json.dumps(r["point"], sort_keys=True),
             **{k: v for k, v in r.items() if k != "point"}} for r in rows]
    cols = sorted({k for r in flat for k in r}, key=lambda k: (k != "point", k))
    cs = out / "sweep.csv"
    with open(cs, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols)
        w.writeheader()
        w.writerows(flat)
    return {"json": js, "csv": cs}


def format_rows(rows: list[dict[str, Any]]) -> str:
    lines = [f"  {'#':>3}  {'status':<7} {'retry':>5} {'orders':>7} {'fills':>6} "
             f"{'realized':>12} {'fees':>10} {'sec':>6}  point"]
    for i, r in enumerate(rows):
        if r["status"] != "ok":
            lines.append(f"  {i:>3}  {r['status']:<7} {r['retries']:>5} {r['error']}  "
                         f"{json.dumps(r['point'], sort_keys=True)}")
            continue
        lines.append(f"  {i:>3}  {r['status']:<7} {r['retries']:>5} {r['orders']:>7} "
                     f"{r['fills']:>6} {r['realized_pnl']:>+12.2f} {r['fees']:>10.2f} "
                     f"{r['seconds']:>6.2f}  {json.dumps(r['point'], sort_keys=True)}")
    return "\n".join(lines)
