"""`tradecore ml train --config FILE` end to end on a year of real candles, and the registry
commands."""
from __future__ import annotations

import json

import pytest

from datafiles import shared_file
from tradecore.ml import cli
from tradecore.ml.registry import ModelRegistry
from tradecore.ml.train import load_config

BTC = "ohlcv/binance_BTCUSDT_1h_20170817_20240421.csv.gz"


def _config(tmp_path, extra: str = "") -> str:
    p = tmp_path / "train.toml"
    p.write_text(f"""
[data]
path = "{shared_file(BTC)}"
start = "2020-01-01"
end = "2021-01-01"
[model]
name = "mlp-test"
epochs = 4
patience = 2
[walk_forward]
folds = 2
epochs = 2
[output]
dir = "{tmp_path / 'out'}"
registry = "{tmp_path / 'reg'}"
{extra}
""")
    return str(p)


def test_train_prints_epochs_and_writes_model_metrics_schema_reports_and_registry(tmp_path,
                                                                                  capsys):
    assert cli.main(["train", "--config", _config(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "epoch 1/4 train_loss" in out and "val_loss" in out
    assert "walk-forward out-of-sample" in out and "buy-and-hold" in out
    o = tmp_path / "out"
    for f in ("model.onnx", "model_state.npz", "metrics.json", "feature_schema.json",
              "baseline_lightgbm.onnx", "walk_forward/ml_signal/report.html",
              "walk_forward/buy_and_hold/report.json", "walk_forward/walk_forward.json"):
        assert (o / f).is_file(), f
    m = json.loads((o / "metrics.json").read_text())
    for model in ("mlp", "baseline_lightgbm"):
        t = m[model]["test"]
        assert {"log_loss", "accuracy", "auc"} <= set(t) and 0 < t["auc"] < 1
        assert "total_return" in m[model]["test_backtest"]["strategy"]
        assert "total_return" in m[model]["test_backtest"]["buy_and_hold"]
        assert m[model]["onnx_max_abs_diff_test"] < 1e-5
    assert m["feature_schema"]["names"][0] == "ret_1"
    reg = ModelRegistry(tmp_path / "reg")
    assert reg.champion() == m["registered"]["mlp"]
    assert {v.kind for v in reg.list()} == {"mlp", "lightgbm"}
    wf = json.loads((o / "walk_forward/walk_forward.json").read_text())
    assert len(wf["folds"]) == 2 and isinstance(wf["beats_buy_and_hold"], bool)


def test_promote_and_rollback_commands(tmp_path, capsys):
    cli.main(["train", "--config", _config(tmp_path), "--no-walk-forward"])
    reg = ModelRegistry(tmp_path / "reg")
    first = reg.champion()
    other = next(v.model_id for v in reg.list() if v.model_id != first)
    r = str(tmp_path / "reg")
    assert cli.main(["challenger", "--registry", r, "--model", other]) == 0
    assert cli.main(["promote", "--registry", r, "--reason", "better"]) == 0
    assert reg.champion() == other
    assert cli.main(["rollback", "--registry", r]) == 0
    assert reg.champion() == first
    assert cli.main(["list", "--registry", r]) == 0
    assert "champion" in capsys.readouterr().out
    assert cli.main(["rollback", "--registry", r]) == 2
    assert "no previous champion" in capsys.readouterr().err


def test_bad_config_is_refused_with_key_value_and_expectation(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"model.epochs = 'ten' should be a int"):
        load_config(None, {"model": {"epochs": "ten"}})
    with pytest.raises(ValueError, match=r"unknown key model.epoch"):
        load_config(None, {"model": {"epoch": 3}})
    with pytest.raises(ValueError, match=r"unknown section \[modle\]"):
        load_config(None, {"modle": {}})
    assert cli.main(["train", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_compare_command_replays_champion_and_challenger_and_promotes_only_when_better(
        tmp_path, capsys):
    cli.main(["train", "--config", _config(tmp_path), "--no-walk-forward"])
    reg = ModelRegistry(tmp_path / "reg")
    champ = reg.champion()
    other = next(v.model_id for v in reg.list() if v.model_id != champ)
    r = str(tmp_path / "reg")
    data = str(shared_file(BTC))
    assert cli.main(["compare", "--registry", r, "--data", data]) == 2
    assert "need a champion and a challenger" in capsys.readouterr().err
    reg.set_challenger(other)
    assert cli.main(["compare", "--registry", r, "--data", data, "--start", "2021-01-01",
                     "--end", "2021-07-01", "--json", "--promote-if-better"]) == 0
    out = capsys.readouterr().out
    res = json.loads(out[out.index("{"):])
    assert res["paired"] and res["test"]["n"] > 4000
    assert reg.champion() == (other if res["decision"] == "promote" else champ)


def test_ensemble_command_registers_one_model_with_its_members_as_parents(tmp_path, capsys):
    ids = []
    for seed in (0, 1):
        cfgp = _config(tmp_path, "[baseline]\nenabled = false")
        txt = open(cfgp).read().replace("epochs = 4", f"epochs = 4\nseed = {seed}", 1)
        open(cfgp, "w").write(txt)
        cli.main(["train", "--config", cfgp, "--no-walk-forward"])
        ids.append(json.loads((tmp_path / "out" / "metrics.json").read_text())["registered"]["mlp"])
    assert ids[0] != ids[1]
    r = str(tmp_path / "reg")
    assert cli.main(["ensemble", "--registry", r, "--models", ",".join(ids), "--kind",
                     "stacking", "--data", str(shared_file(BTC)), "--val-start", "2021-01-01",
                     "--val-end", "2021-03-01", "--name", "ens"]) == 0
    reg = ModelRegistry(tmp_path / "reg")
    ens = [v for v in reg.list() if v.kind == "ensemble"]
    assert len(ens) == 1 and ens[0].lineage["parents"] == ids
    assert "stacking of" in capsys.readouterr().out
