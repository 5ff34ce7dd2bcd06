"""Parameter sweeps: one backtest per grid point in worker processes; failures reported."""
from __future__ import annotations

import math
from functools import partial

import pytest

import _sweep_faults
from tradecore.backtest.sweep import points, read_grid, sweep, write_sweep
from tradecore.config import ConfigError, load

H = 3_600_000


def candle_config(tmp_path) -> str:
    lines = ["ts_ms,datetime_utc,open,high,low,close,volume"]
    lines2 = list(lines)
    for i in range(400):
        a = 100 + 10 * math.sin(i / 7)
        b = a * (1 + 0.01 * math.sin(i / 3))
        lines.append(f"{(i + 1) * H},x,{a:.2f},{a + 1:.2f},{a - 1:.2f},{a:.2f},1000")
        lines2.append(f"{(i + 1) * H},x,{b:.2f},{b + 1:.2f},{b - 1:.2f},{b:.2f},1000")
    (tmp_path / "a.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "b.csv").write_text("\n".join(lines2) + "\n")
    inst = ('tick = "0.01"\nlot = "0.001"\nbase = "X"\nquote = "USD"\nmaker_fee = 0.0\n'
            'taker_fee = 0.0005\n')
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"""
[run]
mode = "backtest"
quote = "USD"
report_dir = "{tmp_path / 'r'}"

[[feeds]]
venue = "a"
exchange = "binance"
symbols = ["X"]
candles = "{tmp_path / 'a.csv'}"

[[feeds]]
venue = "b"
exchange = "binance"
symbols = ["X"]
candles = "{tmp_path / 'b.csv'}"

[instruments."a:X"]
{inst}
[instruments."b:X"]
{inst}
[paper.balances]
"a:USD" = 100000
"b:USD" = 100000
"a:X" = 100

[risk.symbols."a:X"]
price_band = 0.5
max_mid_age_ns = 0

[risk.symbols."b:X"]
price_band = 0.5
max_mid_age_ns = 0
spot = false

[[strategies]]
id = "p"
kind = "pairs"

[strategies.settings]
leg_y = ["a", "X"]
leg_x = ["b", "X"]
notional = 5000
window = 20
z_window = 20
max_bars = 20
""")
    return str(cfg)


def test_points_are_the_cartesian_product_in_grid_order():
    assert points({"s": {"a": [1, 2], "b": ["x"]}, "t": {"c": [0, 1]}}) == [
        {"s": {"a": 1, "b": "x"}, "t": {"c": 0}}, {"s": {"a": 1, "b": "x"}, "t": {"c": 1}},
        {"s": {"a": 2, "b": "x"}, "t": {"c": 0}}, {"s": {"a": 2, "b": "x"}, "t": {"c": 1}}]


def test_sweep_runs_every_point_and_reports_a_failed_one_after_a_retry(tmp_path):
    cfg = candle_config(tmp_path)
    rows = sweep(cfg, {"p": {"entry_z": [1.0, 2.0], "window": [20, 1]}}, workers=2)
    assert [r["status"] for r in rows] == ["ok", "failed", "ok", "failed"]
    assert [r["retries"] for r in rows] == [0, 1, 0, 1]
    assert rows[0]["orders"] > rows[2]["orders"] > 0           # lower entry band trades more
    assert "window" in rows[1]["error"] and rows[1]["retries"] == 1
    paths = write_sweep(rows, tmp_path / "out")
    assert paths["csv"].read_text().count("\n") == 5


def test_a_grid_naming_an_unknown_strategy_fails_before_any_run(tmp_path):
    with pytest.raises(ConfigError, match="nope"):
        sweep(candle_config(tmp_path), {"nope": {"x": [1]}}, workers=1)
    g = tmp_path / "g.toml"
    g.write_text("[p]\nwindow = 3\n")
    with pytest.raises(ConfigError, match="non-empty list"):
        read_grid(g)


def test_a_point_is_retried_in_a_fresh_pool_when_its_worker_dies(tmp_path):
    cfg = candle_config(tmp_path)
    marks = tmp_path / "marks"
    marks.mkdir()
    rows = sweep(cfg, {"p": {"entry_z": [1.0, 2.0]}}, workers=1, backend="process",
                 run=partial(_sweep_faults.die_on_first_run, str(marks)))
    assert [(r["status"], r["retries"]) for r in rows] == [("ok", 1), ("ok", 1)]
    clean = sweep(cfg, {"p": {"entry_z": [1.0, 2.0]}}, workers=1, backend="process")
    assert [r["orders"] for r in rows] == [r["orders"] for r in clean]


def test_the_sweep_table_of_the_config_chooses_the_backend_and_the_retries(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[sweep]\nbackend = "ray"\nray_address = "auto"\nmax_retries = 3\n')
    sc = load(cfg).sweep
    assert (sc.backend, sc.ray_address, sc.max_retries, sc.workers) == ("ray", "auto", 3, 0)
    assert load().sweep.backend == "process"                 # the default


@pytest.mark.parametrize("table, key", [('backend = "spark"', "sweep.backend"),
                                        ('ray_address = "somewhere"', "sweep.ray_address"),
                                        ("max_retries = -1", "sweep.max_retries"),
                                        ("workers = 1.5", "sweep.workers"),
                                        ("retry = 2", "sweep.retry")])
def test_load_refuses_a_bad_sweep_table_naming_the_key(tmp_path, table, key):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f"[sweep]\n{table}\n")
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load(cfg)


def test_sweep_refuses_an_unknown_backend_before_any_run(tmp_path):
    with pytest.raises(ConfigError, match="spark"):
        sweep(candle_config(tmp_path), {"p": {"entry_z": [1.0]}}, backend="spark")
