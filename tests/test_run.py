"""`tradecore backtest` / `paper` from the command line: summary table and report."""
from __future__ import annotations

import orjson

from tradecore.cli import main


def test_backtest_command_prints_the_summary_and_writes_the_report(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[run]\nmode = "backtest"\nreport_dir = "{tmp_path / "reports"}"\n')
    js = tmp_path / "summary.json"
    assert main(["backtest", "--config", str(cfg), "--run-id", "t1",
                 "--report-json", str(js)]) == 0
    out = capsys.readouterr().out
    assert "messages replayed" in out and "strategy xarb" in out
    html = (tmp_path / "reports" / "t1" / "report.html").read_text()
    assert "<img" in html or "<svg" in html
    summary = orjson.loads(js.read_bytes())
    assert summary["run"]["run_id"] == "t1" and summary["run"]["mode"] == "backtest"
    assert "frame (bytes to every callback done)" in summary["latency_ns"]


def test_paper_command_refuses_a_bad_config_with_exit_2(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[run]\nmode = "paper"\nspeeed = 1\n')
    assert main(["paper", "--config", str(cfg)]) == 2
    assert "run.speeed" in capsys.readouterr().err


def test_paper_refuses_when_config_enables_the_bus(tmp_path, capsys):
    from tradecore.cli import main
    from tradecore.config import DEFAULT_CONFIG
    p = tmp_path / "bus.toml"
    p.write_text(DEFAULT_CONFIG.read_text().replace("[run]", "[bus]\nenabled = true\n\n[run]", 1))
    assert main(["paper", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert "bus.enabled" in err and "tradecore node" in err
