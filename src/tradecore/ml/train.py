"""`tradecore ml train`: from a config file to a registered model, its metrics and reports.

Steps: candles -> features (CandleFeatures) -> labels (forward or triple-barrier, binary) ->
chronological train | val | test split with purging and an embargo -> MLP with early stopping
(progress printed per epoch) -> LightGBM baseline on the same split -> both exported to ONNX and
checked against their Python predictions -> metrics (log loss, accuracy, AUC, signal backtest
after fees beside buy-and-hold over the same bars) -> output directory and registry ->
walk-forward evaluation with a backtest report of the concatenated out-of-sample signal.
"""
from __future__ import annotations

import math
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, Callable

import numpy as np
import orjson

from tradecore.ml.data import Dataset, make_dataset, time_split, walk_forward_folds
from tradecore.ml.evaluate import (SignalBacktest, backtest_signal, buy_and_hold,
                                   classification_metrics, positions_from_probs)
from tradecore.ml.features import CandleFeatures, PipelineFeatures, load_candles, schema_of
from tradecore.ml.mlp import MLP, make_optimizer
from tradecore.ml.onnx_export import mlp_to_onnx

__all__ = ["DEFAULT_CONFIG", "load_config", "train", "train_mlp", "walk_forward"]

DEFAULT_CONFIG = Path(__file__).with_name("default_train.toml")


def _defaults() -> dict[str, Any]:
    return tomllib.loads(DEFAULT_CONFIG.read_text())


def load_config(path: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The default config updated with the file's sections; unknown sections/keys and values of
    the wrong type are refused with the key, the value and what was expected."""
    cfg = _defaults()
    given: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ValueError(f"ml train: config file {p} does not exist")
        given = tomllib.loads(p.read_text())
    for src in (given, overrides or {}):
        for sec, vals in src.items():
            if sec not in cfg:
                raise ValueError(f"ml config: unknown section [{sec}]; expected one of "
                                 f"{sorted(cfg)}")
            if not isinstance(vals, dict):
                raise ValueError(f"ml config: [{sec}] must be a table, got {vals!r}")
            for k, v in vals.items():
                if k not in cfg[sec]:
                    raise ValueError(f"ml config: unknown key {sec}.{k}; expected one of "
                                     f"{sorted(cfg[sec])}")
                d = cfg[sec][k]
                ok = (isinstance(v, type(d)) or (isinstance(d, float) and isinstance(v, int)
                                                 and not isinstance(v, bool)))
                if not ok:
                    raise ValueError(f"ml config: {sec}.{k} = {v!r} should be a "
                                     f"{type(d).__name__} (default {d!r})")
                cfg[sec][k] = float(v) if isinstance(d, float) else v
    return cfg


def _dataset(cfg: dict[str, Any], candles) -> tuple[CandleFeatures | PipelineFeatures, Dataset]:
    fc = cfg["features"]
    if fc["source"] == "FeatureSet":
        fs = PipelineFeatures(fc["features"] or None)
    elif fc["source"] == "CandleFeatures":
        fs = CandleFeatures(fc["horizons"], fc["window"])
    else:
        raise ValueError(f"ml config: features.source = {fc['source']!r}; expected "
                         f"'CandleFeatures' or 'FeatureSet'")
    lab = cfg["labels"]
    ds = make_dataset(candles, fs, label=lab["kind"], horizon=lab["horizon"],
                      threshold=lab["threshold"], task="binary", barrier_k=lab["barrier_k"])
    return fs, ds


def train_mlp(cfg: dict[str, Any], X, y, Xv, yv, *, epochs: int | None = None,
              on_epoch: Callable[[dict[str, float]], None] | None = None) -> tuple[MLP, Any]:
    mc = cfg["model"]
    model = MLP(X.shape[1], mc["hidden"], activation=mc["activation"], dropout=mc["dropout"],
                head="sigmoid", l2=mc["l2"], seed=mc["seed"])
    kw = {"lr": mc["lr"]}
    if mc["optimizer"] == "sgd":
        kw["momentum"] = mc["momentum"]
    hist = model.fit(X, y, Xv, yv, optimizer=make_optimizer(mc["optimizer"], **kw),
                     epochs=epochs or mc["epochs"], batch_size=mc["batch_size"],
                     patience=mc["patience"], on_epoch=on_epoch)
    return model, hist


def _signal_eval(p, ds: Dataset, candles, bt_cfg) -> dict[str, Any]:
    close = candles.close[ds.t0]
    pos = positions_from_probs(p, bt_cfg["enter"], bt_cfg["exit"], bt_cfg["long_only"])
    bt = backtest_signal(pos, ds.fwd, ds.ts_ns, close, bt_cfg["fee"])
    bh = buy_and_hold(ds.fwd, ds.ts_ns, close, bt_cfg["fee"])
    return {"strategy": bt.summary(), "buy_and_hold": bh.summary()}


def _range(ds: Dataset, source: str) -> dict[str, Any]:
    return {"start_ns": int(ds.ts_ns[0]), "end_ns": int(ds.ts_ns[-1]), "rows": len(ds),
            "source": source}


def _write_json(path: Path, obj: Any) -> None:
    from tradecore.core.jsonsafe import json_safe
    path.write_bytes(orjson.dumps(json_safe(obj), option=orjson.OPT_INDENT_2))


ReportWriter = Callable[[SignalBacktest, SignalBacktest, dict[str, Any], Path], dict[str, str]]


def train(cfg: dict[str, Any], out: Any = "stdout",
          write_reports: ReportWriter | None = None) -> dict[str, Any]:
    """Run the whole pipeline; returns the metrics written to <output.dir>/metrics.json.
    Progress goes to `out` (a file; "stdout" = sys.stdout at call time; None = silent).
    `write_reports(strategy_bt, buy_and_hold_bt, run_config, out_dir)` writes the walk-forward
    HTML/JSON reports; the CLI passes the backtest package's writer (ml sits below backtest in
    DESIGN.md's layers, so it is handed in rather than imported)."""
    if out == "stdout":
        out = sys.stdout
    say = (lambda s: print(s, file=out, flush=True)) if out else (lambda s: None)
    dc = cfg["data"]
    candles = load_candles(dc["path"], dc["start"] or None, dc["end"] or None)
    fs, ds = _dataset(cfg, candles)
    sp = time_split(ds, cfg["split"]["val_frac"], cfg["split"]["test_frac"],
                    cfg["split"]["embargo"])
    tr, va, te = ds.take(sp.train), ds.take(sp.val), ds.take(sp.test)
    say(f"data: {len(candles)} candles from {dc['path']}; samples train {len(tr)}, "
        f"val {len(va)}, test {len(te)} (purged against each later block); "
        f"label {cfg['labels']['kind']} h={cfg['labels']['horizon']}, "
        f"up-rate train {tr.y.mean():.3f}")
    n_ep = cfg["model"]["epochs"]

    def progress(r):
        say(f"epoch {int(r['epoch'])}/{n_ep} train_loss {r['train_loss']:.5f} "
            f"val_loss {r.get('val_loss', math.nan):.5f} ({r['seconds']:.2f} s)")

    model, hist = train_mlp(cfg, tr.X, tr.y, va.X, va.y, on_epoch=progress)
    say(f"best epoch {hist.best_epoch} (val_loss {hist.best_val_loss:.5f}), "
        f"early stop: {hist.stopped_early}, {hist.seconds:.1f} s")
    onnx_bytes = mlp_to_onnx(model, "float32").SerializeToString()
    from tradecore.ml.inference import OnnxModel
    om = OnnxModel(onnx_bytes, "check", warmup=5)
    p_te = model.predict(te.X).ravel()
    onnx_diff = float(np.abs(om.predict(te.X).ravel() - p_te).max())
    metrics: dict[str, Any] = {
        "mlp": {"val": classification_metrics(model.predict(va.X).ravel(), va.y),
                "test": classification_metrics(p_te, te.y),
                "test_backtest": _signal_eval(p_te, te, candles, cfg["backtest"]),
                "onnx_max_abs_diff_test": onnx_diff,
                "epochs": [dict(e) for e in hist.epochs], "best_epoch": hist.best_epoch,
                "train_seconds": hist.seconds}}
    say(f"mlp test: log_loss {metrics['mlp']['test']['log_loss']:.5f} accuracy "
        f"{metrics['mlp']['test']['accuracy']:.4f} auc {metrics['mlp']['test']['auc']:.4f}; "
        f"signal after fees {metrics['mlp']['test_backtest']['strategy']['total_return']:+.2%} "
        f"vs buy-and-hold {metrics['mlp']['test_backtest']['buy_and_hold']['total_return']:+.2%}"
        f"; onnx |diff| {onnx_diff:.2e}")
    base_bytes = None
    if cfg["baseline"]["enabled"]:
        from tradecore.ml.baseline import BASELINE_OUTPUT, lightgbm_to_onnx, train_lightgbm
        t0 = time.perf_counter()
        gbm = train_lightgbm(tr.X, tr.y, va.X, va.y)
        pb = gbm.predict_proba(te.X)[:, 1]
        base_bytes = lightgbm_to_onnx(gbm, te.X.shape[1])
        ob = OnnxModel(base_bytes, "check-baseline", output=BASELINE_OUTPUT, warmup=5)
        metrics["baseline_lightgbm"] = {
            "val": classification_metrics(gbm.predict_proba(va.X)[:, 1], va.y),
            "test": classification_metrics(pb, te.y),
            "test_backtest": _signal_eval(pb, te, candles, cfg["backtest"]),
            "onnx_max_abs_diff_test": float(np.abs(ob.predict(te.X)[:, 1] - pb).max()),
            "trees": int(gbm.best_iteration_ or gbm.n_estimators),
            "train_seconds": time.perf_counter() - t0}
        b = metrics["baseline_lightgbm"]
        say(f"lightgbm test: log_loss {b['test']['log_loss']:.5f} accuracy "
            f"{b['test']['accuracy']:.4f} auc {b['test']['auc']:.4f}; signal after fees "
            f"{b['test_backtest']['strategy']['total_return']:+.2%}")

    outdir = Path(cfg["output"]["dir"])
    outdir.mkdir(parents=True, exist_ok=True)
    schema = schema_of(fs)
    (outdir / "model.onnx").write_bytes(onnx_bytes)
    np.savez(outdir / "model_state.npz", **model.state())
    _write_json(outdir / "feature_schema.json", schema)
    if base_bytes:
        (outdir / "baseline_lightgbm.onnx").write_bytes(base_bytes)
    if cfg["walk_forward"]["enabled"]:
        metrics["walk_forward"] = walk_forward(cfg, candles, ds, outdir / "walk_forward", say,
                                               write_reports)
    if cfg["output"]["registry"]:
        from tradecore.ml.registry import ModelRegistry
        reg = ModelRegistry(cfg["output"]["registry"])
        v = reg.register(cfg["model"]["name"], onnx_bytes, kind="mlp", feature_schema=schema,
                         data_range=_range(tr, dc["path"]),
                         metrics={k: metrics["mlp"][k] for k in ("val", "test", "test_backtest")},
                         lineage={"parents": [], "how": "trained", "config": cfg},
                         state=model.state(), config=model.config())
        metrics["registered"] = {"mlp": v.model_id}
        if base_bytes:
            from tradecore.ml.baseline import BASELINE_OUTPUT
            vb = reg.register(cfg["model"]["name"] + "-lgbm", base_bytes, kind="lightgbm",
                              feature_schema=schema, data_range=_range(tr, dc["path"]),
                              metrics={k: metrics["baseline_lightgbm"][k]
                                       for k in ("val", "test", "test_backtest")},
                              lineage={"parents": [], "how": "trained", "config": cfg},
                              output=BASELINE_OUTPUT)
            metrics["registered"]["baseline"] = vb.model_id
        if reg.champion() is None:
            reg.promote(v.model_id, reason="first model of this registry")
        say(f"registered {v.model_id} in {reg.root} (champion: {reg.champion()})")
    metrics["config"] = cfg
    metrics["feature_schema"] = schema
    _write_json(outdir / "metrics.json", metrics)
    say(f"wrote {outdir}/model.onnx, metrics.json, feature_schema.json")
    return metrics


def _pick_enter(cfg: dict[str, Any], p_val: np.ndarray, va: Dataset) -> float:
    """The grid threshold with the best validation net return after fees (ties: higher)."""
    bc = cfg["backtest"]
    best, best_ret = 0.99, -math.inf
    for e in sorted(bc["enter_grid"], reverse=True):
        if not bc["exit"] <= e < 1:
            raise ValueError(f"backtest.enter_grid: {e} must be in [exit={bc['exit']}, 1)")
        pos = positions_from_probs(p_val, e, bc["exit"], bc["long_only"])
        ret = backtest_signal(pos, va.fwd, va.ts_ns, np.ones(len(va)), bc["fee"]).equity[-1]
        if ret > best_ret + 1e-12:
            best, best_ret = e, ret
    return best


def walk_forward(cfg: dict[str, Any], candles, ds: Dataset, outdir: Path,
                 say: Callable[[str], None] = lambda s: None,
                 write_reports: ReportWriter | None = None) -> dict[str, Any]:
    """Retrain on an expanding window before each test block; backtest the concatenated
    out-of-sample signal after fees and write its report beside buy-and-hold's."""
    wf = cfg["walk_forward"]
    folds = walk_forward_folds(ds, wf["folds"], min_train_frac=wf["min_train_frac"],
                               val_frac=cfg["split"]["val_frac"], embargo=cfg["split"]["embargo"])
    probs, idx, fold_stats, enters = [], [], [], []
    for k, f in enumerate(folds):
        tr, va, te = ds.take(f.train), ds.take(f.val), ds.take(f.test)
        model, hist = train_mlp(cfg, tr.X, tr.y, va.X, va.y, epochs=wf["epochs"])
        p = model.predict(te.X).ravel()
        enter = _pick_enter(cfg, model.predict(va.X).ravel(), va) \
            if cfg["backtest"]["select_enter_on_val"] else cfg["backtest"]["enter"]
        enters.append(np.full(len(p), enter))
        cm = classification_metrics(p, te.y)
        cm["enter"] = enter
        cm.update({"train_rows": len(tr), "test_start_ns": int(te.ts_ns[0]),
                   "test_end_ns": int(te.ts_ns[-1]), "best_epoch": hist.best_epoch})
        fold_stats.append(cm)
        say(f"walk-forward fold {k + 1}/{len(folds)}: train {len(tr)} test {len(te)} "
            f"auc {cm['auc']:.4f} acc {cm['accuracy']:.4f} enter {enter}")
        probs.append(p)
        idx.append(f.test)
    p = np.concatenate(probs)
    oos = ds.take(np.concatenate(idx))
    close = candles.close[oos.t0]
    bc = cfg["backtest"]
    pos = positions_from_probs(p, np.concatenate(enters), bc["exit"], bc["long_only"])
    bt = backtest_signal(pos, oos.fwd, oos.ts_ns, close, bc["fee"])
    bh = buy_and_hold(oos.fwd, oos.ts_ns, close, bc["fee"])
    run_cfg = {"model": cfg["model"], "labels": cfg["labels"], "backtest": bc,
               "walk_forward": wf, "data": cfg["data"],
               "fills": "at the bar close, fee per side, no slippage"}
    outdir.mkdir(parents=True, exist_ok=True)
    reports = write_reports(bt, bh, run_cfg, outdir) if write_reports else {}
    cls = classification_metrics(p, oos.y)
    res = {"folds": fold_stats, "oos": cls, "strategy": bt.summary(),
           "buy_and_hold": bh.summary(), "reports": reports,
           "beats_buy_and_hold": bool(bt.equity[-1] > bh.equity[-1])}
    _write_json(outdir / "walk_forward.json", res)
    say(f"walk-forward out-of-sample ({len(oos)} bars): auc {cls['auc']:.4f}; ML signal after "
        f"fees {res['strategy']['total_return']:+.2%} (max dd "
        f"{res['strategy']['max_drawdown']:.1%}, {res['strategy']['position_changes']} position "
        f"changes) vs buy-and-hold {res['buy_and_hold']['total_return']:+.2%} (max dd "
        f"{res['buy_and_hold']['max_drawdown']:.1%}); reports in {outdir}")
    return res
