"""Parameter sweeps: one backtest per point of a grid, in parallel processes, one row each.

A grid is a TOML file of strategy settings to vary, keyed by strategy id:

    [xarb]
    min_edge_bps = [0.5, 1.0, 2.0]
    max_qty = [0.1, 0.5]

Every combination (the Cartesian product over all listed keys) is one run of the same config
with those settings replaced, in a `ProcessPoolExecutor` (`workers`, default the CPU count). A
run that raises is retried once and then reported as failed with its error in its row: never
silently dropped. Rows come back in grid order with the point, the run's summary figures, and the
wall time; `write_sweep` saves them as JSON and CSV.
"""
from __future__ import annotations

import csv
import itertools
import json
import os
import time
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from tradecore.config import ConfigError, NodeConfig, load

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


def sweep(config_path: str | None, grid: dict, workers: int | None = None,
          retries: int = 1) -> list[dict[str, Any]]:
    pts = points(grid)
    base = load(config_path, {"run": {"mode": "backtest"}})
    for pt in pts:
        _overrides(base, pt)                       # a bad grid fails before any run
    workers = workers or os.cpu_count() or 1
    rows: list[dict[str, Any]] = [{} for _ in pts]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = {i: pool.submit(run_point, config_path, pt) for i, pt in enumerate(pts)}
        tries = {i: 0 for i in pending}
        while pending:
            for i, fut in list(pending.items()):
                try:
                    res = fut.result()
                    rows[i] = {"point": pts[i], "status": "ok", **res}
                    del pending[i]
                except Exception as e:                     # a failed run: retry, then report
                    if tries[i] < retries:
                        tries[i] += 1
                        pending[i] = pool.submit(run_point, config_path, pts[i])
                    else:
                        rows[i] = {"point": pts[i], "status": "failed",
                                   "error": f"{type(e).__name__}: {e}", "retries": tries[i]}
                        del pending[i]
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
    lines = [f"  {'#':>3}  {'status':<7} {'orders':>7} {'fills':>6} {'realized':>12} "
             f"{'fees':>10} {'sec':>6}  point"]
    for i, r in enumerate(rows):
        if r["status"] != "ok":
            lines.append(f"  {i:>3}  {r['status']:<7} {r['error']}  {r['point']}")
            continue
        lines.append(f"  {i:>3}  {r['status']:<7} {r['orders']:>7} {r['fills']:>6} "
                     f"{r['realized_pnl']:>+12.2f} {r['fees']:>10.2f} {r['seconds']:>6.2f}  "
                     f"{json.dumps(r['point'], sort_keys=True)}")
    return "\n".join(lines)
