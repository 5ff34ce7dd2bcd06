"""Sweeps on Ray: one module-scoped local cluster of 2 CPUs; the rows equal the process pool's
on the bundled recordings; a point whose run fails once (an exception, a dead worker) is retried
and succeeds; a point that always fails is reported in its row with its error."""
from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

import tradecore
from tradecore.backtest.sweep import sweep
from tradecore.cli import main

ray = pytest.importorskip("ray", reason="the Ray sweep backend needs ray (pip install -e .[dev])")

import _sweep_faults  # noqa: E402  (tests/backtest, on the workers' PYTHONPATH below)

# the bundled default config (two real Binance BTCUSDT recordings, 6 minutes); "basis" is its
# pairs strategy
GRID = {"basis": {"entry_z": [1.0, 2.0]}}


def _figures(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


@pytest.fixture(scope="module")
def ray_cluster():
    """A private local cluster; its workers import this checkout's tradecore and the fault
    helpers. The sweeps below find Ray initialised and leave it up."""
    paths = [str(Path(tradecore.__file__).resolve().parents[1]), str(Path(__file__).parent)]
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": ":".join(paths)}})
    yield
    ray.shutdown()


def test_ray_rows_equal_the_process_pool_rows_when_both_run_the_same_grid(ray_cluster):
    on_ray = sweep(None, GRID, backend="ray")
    on_pool = sweep(None, GRID, workers=2, backend="process")
    assert [r["status"] for r in on_ray] == ["ok", "ok"]
    assert [r["point"] for r in on_ray] == [{"basis": {"entry_z": 1.0}},
                                            {"basis": {"entry_z": 2.0}}]      # grid order
    assert on_ray[0]["orders"] > on_ray[1]["orders"] > 0     # the lower entry band trades more
    assert _figures(on_ray) == _figures(on_pool)


def test_a_point_is_retried_and_succeeds_when_its_first_run_raises(ray_cluster, tmp_path):
    rows = sweep(None, {"basis": {"entry_z": [2.0]}}, backend="ray", retries=1,
                 run=partial(_sweep_faults.raise_on_first_run, str(tmp_path)))
    assert rows[0]["status"] == "ok" and rows[0]["retries"] == 1 and rows[0]["orders"] > 0


def test_a_point_is_retried_and_succeeds_when_its_worker_dies_on_the_first_run(
        ray_cluster, tmp_path):
    rows = sweep(None, {"basis": {"entry_z": [2.0]}}, backend="ray", retries=1,
                 run=partial(_sweep_faults.die_on_first_run, str(tmp_path)))
    assert rows[0]["status"] == "ok" and rows[0]["retries"] == 1 and rows[0]["orders"] > 0


def test_a_point_that_always_fails_is_reported_with_its_error_when_its_retries_run_out(
        ray_cluster):
    rows = sweep(None, {"basis": {"window": [60, 1]}}, backend="ray", retries=2)
    assert [r["status"] for r in rows] == ["ok", "failed"]
    assert rows[1]["retries"] == 2 and "window" in rows[1]["error"]
    assert rows[1]["point"] == {"basis": {"window": 1}}
    pool = sweep(None, {"basis": {"window": [1]}}, workers=1, backend="process", retries=0)
    assert pool[0]["error"] == rows[1]["error"]           # the run's own error, unwrapped


def test_backtest_sweep_runs_on_ray_when_the_config_says_so(ray_cluster, tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[run]\nmode = "backtest"\nreport_dir = "{tmp_path}"\n\n'
                   '[sweep]\nbackend = "ray"\nmax_retries = 0\n')
    grid = tmp_path / "g.toml"
    grid.write_text("[basis]\nentry_z = [2.0]\nwindow = [60, 1]\n")
    assert main(["backtest", "--config", str(cfg), "--sweep", str(grid), "--run-id", "s"]) == 1
    rows = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert [(r["status"], r["retries"]) for r in rows] == [("ok", 0), ("failed", 0)]
    out = capsys.readouterr().out
    assert "failed" in out and "window" in out
    assert ray.is_initialized()                           # not shut down: it was not its own


def test_backtest_sweep_runs_on_ray_when_the_flag_says_so(ray_cluster, tmp_path, monkeypatch):
    import tradecore.backtest.sweep_ray as sweep_ray

    if "--sweep-backend" not in _backtest_help():
        pytest.skip("this build's cli.py has no --sweep-backend (the patch in the sweep report)")
    calls = []
    real = sweep_ray.sweep_ray
    monkeypatch.setattr(sweep_ray, "sweep_ray", lambda *a, **k: calls.append(k) or real(*a, **k))
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[run]\nmode = "backtest"\nreport_dir = "{tmp_path}"\n')   # [sweep]: process
    grid = tmp_path / "g.toml"
    grid.write_text("[basis]\nentry_z = [2.0]\n")
    assert main(["backtest", "--config", str(cfg), "--sweep", str(grid), "--sweep-backend",
                 "ray", "--run-id", "s"]) == 0
    assert len(calls) == 1 and calls[0]["address"] == ""
    rows = json.loads((tmp_path / "s" / "sweep.json").read_text())
    assert [(r["status"], r["retries"]) for r in rows] == [("ok", 0)]


def _backtest_help() -> str:
    from tradecore.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0]                # noqa: SLF001
    return sub.choices["backtest"].format_help()
