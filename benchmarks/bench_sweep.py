"""Sweep wall time: the same grid on the process pool, on Ray, and one point after the other in
this process (the reference measured in the same run).

    python benchmarks/bench_sweep.py [--points N] [--workers W] [--json]

Data: the bundled default config (Binance spot + USD-M BTCUSDT, 6 minutes of real recordings);
the grid varies the pairs strategy's entry_z over N values, so each point is a full replay with
both default strategies. Figures:

  serial        run_point for every point in this process (no pool: the reference)
  process       sweep(backend="process", workers=W): fork, import, replay, gather
  ray start     ray.init of a private local cluster of W CPUs (paid once per sweep from the
                CLI; a long-lived cluster pays it once)
  ray cold      sweep(backend="ray") on that cluster, first time: Ray starts its worker
                processes, which import tradecore (the pool's forked workers inherit this
                process's imports instead)
  ray warm      the same sweep again: the workers are up (a long-lived cluster's case)

Budget (docs/backtest.md): the Ray backend's per-sweep cost over the process pool, on a running
cluster with its workers up, within 1 s per point in flight: what sending a point, starting a worker and gathering
its row may add before a remote cluster's extra CPUs pay off. The machine is shared (the load
average is printed); the points are short (about a second each), so the fixed costs dominate.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tradecore.backtest.sweep import points, run_point, sweep  # noqa: E402


def _timed(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=2)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    import ray

    grid = {"basis": {"entry_z": [1.0 + 0.5 * i for i in range(a.points)]}}
    run_point(None, points(grid)[0])                     # warm the compiled-recording caches
    serial, rows_serial = _timed(lambda: [run_point(None, p) for p in points(grid)])
    process, rows_pool = _timed(lambda: sweep(None, grid, workers=a.workers, backend="process"))
    src = str(ROOT / "src")
    start, _ = _timed(lambda: ray.init(address="local", num_cpus=a.workers,
                                       include_dashboard=False, log_to_driver=False,
                                       runtime_env={"env_vars": {"PYTHONPATH": src}}))
    try:
        cold, _ = _timed(lambda: sweep(None, grid, backend="ray"))
        on_ray, rows_ray = _timed(lambda: sweep(None, grid, backend="ray"))
    finally:
        ray.shutdown()
    same = ([{k: v for k, v in r.items() if k != "seconds"} for r in rows_pool]
            == [{k: v for k, v in r.items() if k != "seconds"} for r in rows_ray])
    budget = 1.0 * min(a.points, a.workers)
    out = {"points": a.points, "workers": a.workers, "load_avg_1m": os.getloadavg()[0],
           "serial_s": serial, "process_s": process, "ray_start_s": start,
           "ray_cold_s": cold, "ray_warm_s": on_ray,
           "ray_over_process_s": on_ray - process, "budget_s": budget,
           "rows_equal": same, "ray_version": ray.__version__}
    if a.json:
        print(json.dumps(out))
        return 0
    print(f"sweep of {a.points} points, {a.workers} workers, load average "
          f"{out['load_avg_1m']:.2f}, ray {ray.__version__}")
    print(f"  serial (reference)  {serial:7.2f} s")
    print(f"  process pool        {process:7.2f} s")
    print(f"  ray cluster start   {start:7.2f} s   (once per cluster)")
    print(f"  ray, cold workers   {cold:7.2f} s")
    print(f"  ray, warm workers   {on_ray:7.2f} s   over the pool {on_ray - process:+.2f} s "
          f"(budget <= {budget:.2f} s)")
    print(f"  rows equal (pool vs ray, but wall time): {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
