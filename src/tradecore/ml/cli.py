"""`tradecore ml ...`: train, list, challenger, compare, promote, rollback, ensemble.

This module is CLI layer (DESIGN.md: cli -> backtest, ml): it is the one place in the package
that imports the backtest reports, and hands the writer to `train`.

Wire into the main CLI with `from tradecore.ml import cli as ml_cli; ml_cli.add_parser(sub)`;
also runnable alone: `python -m tradecore.ml.cli train --config FILE`.
"""
from __future__ import annotations

import argparse
import sys

__all__ = ["add_parser", "main"]


def _clean_errors(fn):
    """Bad input (config, paths, registry state) -> one line on stderr and exit code 2, whether
    called from this module's main or from the tradecore CLI."""
    def run(a) -> int:
        from tradecore.ml.registry import RegistryError
        try:
            return fn(a)
        except (ValueError, OSError, RegistryError) as e:
            print(f"tradecore ml: error: {e}", file=sys.stderr)
            return 2
    run.__name__ = fn.__name__
    return run


def results_from_backtest(bt, *, run_id: str, strategy: str, venue: str, symbol: str,
                          config: dict, sources: tuple[str, ...] = ()):
    """A signal backtest as the report's `Results` (candle-based, one instrument)."""
    from tradecore.backtest.results import EquityCurve, PriceSeries, Results, RoundTrip, RunMeta
    from tradecore.ml.evaluate import segments
    trips = [RoundTrip(strategy, venue, symbol, s.side, s.qty, s.entry_ts_ns, s.entry_price,
                       s.exit_ts_ns, s.exit_price, s.pnl, s.fees,
                       "end of run" if s.end_of_run else "signal") for s in segments(bt)]
    meta = RunMeta(run_id=run_id, mode="backtest", config=config, candle_based=True,
                   data_sources=sources)
    return Results(meta=meta, equity=EquityCurve(bt.ts_ns, bt.equity), trades=trips,
                   prices=[PriceSeries(venue, symbol, bt.ts_ns[:-1], bt.close)])


def write_walk_forward_reports(bt, bh, run_cfg: dict, outdir) -> dict[str, str]:
    """HTML + JSON reports of the ML signal and of buy-and-hold over the same bars."""
    from tradecore.backtest.report import write_report
    d = run_cfg["data"]
    kw = {"venue": d["venue"], "symbol": d["symbol"], "sources": (d["path"],)}
    p1 = write_report(results_from_backtest(bt, run_id="ml-walk-forward",
                                            strategy="MLSignalStrategy", config=run_cfg, **kw),
                      outdir / "ml_signal")
    p2 = write_report(results_from_backtest(bh, run_id="buy-and-hold", strategy="buy-and-hold",
                                            config={"fee": run_cfg["backtest"]["fee"]}, **kw),
                      outdir / "buy_and_hold")
    return {"ml_signal": str(p1["html"]), "buy_and_hold": str(p2["html"])}


@_clean_errors
def _train(a) -> int:
    from tradecore.ml.train import load_config, train
    cfg = load_config(a.config)
    if a.out:
        cfg["output"]["dir"] = a.out
    if a.registry is not None:
        cfg["output"]["registry"] = a.registry
    if a.no_walk_forward:
        cfg["walk_forward"]["enabled"] = False
    train(cfg, write_reports=write_walk_forward_reports)
    return 0


def _reg(a):
    from tradecore.ml.registry import ModelRegistry
    return ModelRegistry(a.registry)


@_clean_errors
def _list(a) -> int:
    r = _reg(a)
    champ, chall = r.champion(), r.challenger()
    for v in r.list():
        mark = " champion" if v.model_id == champ else (" challenger" if v.model_id == chall
                                                         else "")
        auc = v.metrics.get("test", {}).get("auc")
        print(f"{v.model_id}  {v.kind:9s} parents={v.lineage.get('parents', [])} "
              f"test_auc={auc}{mark}")
    return 0


@_clean_errors
def _promote(a) -> int:
    mid = _reg(a).promote(a.model, reason=a.reason)
    print(f"champion is now {mid}")
    return 0


@_clean_errors
def _rollback(a) -> int:
    mid = _reg(a).rollback(reason=a.reason)
    print(f"rolled back: champion is now {mid}")
    return 0


@_clean_errors
def _challenger(a) -> int:
    _reg(a).set_challenger(a.model)
    print(f"challenger is now {a.model}")
    return 0


@_clean_errors
def _compare(a) -> int:
    """Champion vs challenger replayed on candles: paired test; optionally promote."""
    import json
    from tradecore.ml.ab import replay_compare
    from tradecore.ml.data import make_dataset
    from tradecore.ml.features import feature_source_from_config, load_candles, schema_of
    reg = _reg(a)
    champ, chall = reg.champion(), a.challenger or reg.challenger()
    if champ is None or chall is None:
        raise ValueError(f"ml compare: need a champion and a challenger, have {champ!r} and "
                         f"{chall!r} (set one with `ml challenger --model ID`)")
    sch = reg.get(champ).feature_schema
    fs = feature_source_from_config({"source": sch["source"], **sch["config"]})
    pipeline = schema_of(fs)
    ma, mb = reg.load(champ, pipeline, warmup=5), reg.load(chall, pipeline, warmup=5)
    candles = load_candles(a.data, a.start, a.end)
    ds = make_dataset(candles, fs, label="forward", horizon=1)
    res = replay_compare(ma, mb, ds.X, ds.fwd, enter=a.enter, exit=a.exit, fee=a.fee)
    t = res["test"]
    print(f"champion {champ}: mean net return per bar {res['champion']['mean']:+.3e}; "
          f"challenger {chall}: {res['challenger']['mean']:+.3e}; paired diff "
          f"{t['mean_diff']:+.3e} (t {t['t']:.2f}, p {t['p_value']:.4f}, bootstrap p "
          f"{t['p_bootstrap']:.4f}, n {t['n']}) -> {res['decision']}")
    if a.json:
        from tradecore.core.jsonsafe import json_safe
        print(json.dumps(json_safe(res), indent=2))
    if a.promote_if_better and res["decision"] == "promote":
        reg.promote(chall, reason=f"replay on {a.data}: diff {t['mean_diff']:+.3e}, "
                                  f"p {t['p_value']:.4f}")
        print(f"promoted {chall}")
    return 0


@_clean_errors
def _ensemble(a) -> int:
    """Weights learned on a validation date range; registered as one version."""
    from tradecore.ml.data import make_dataset
    from tradecore.ml.ensemble import Ensemble
    from tradecore.ml.evaluate import log_loss
    from tradecore.ml.features import feature_source_from_config, load_candles, schema_of
    reg = _reg(a)
    ids = [i for i in a.models.split(",") if i]
    sch = reg.get(ids[0]).feature_schema
    fs = feature_source_from_config({"source": sch["source"], **sch["config"]})
    candles = load_candles(a.data, a.val_start, a.val_end)
    ds = make_dataset(candles, fs, label="forward", horizon=a.horizon)
    ens = Ensemble.from_registry(reg, ids, ds.X, ds.y, a.kind)
    member_ll = {i: log_loss(reg.load_mlp(i).predict(ds.X), ds.y) for i in ids}
    v = ens.register(reg, a.name, schema_of(fs),
                     {"start_ns": int(ds.ts_ns[0]), "end_ns": int(ds.ts_ns[-1]),
                      "rows": len(ds), "source": a.data, "role": "validation (weights)"},
                     {"val_log_loss": ens.val_log_loss(ds.X, ds.y),
                      "members_val_log_loss": member_ll})
    print(f"{v.model_id}: {a.kind} of {ids}, weights {[round(float(w), 4) for w in ens.weights]}"
          f", validation log loss {ens.val_log_loss(ds.X, ds.y):.5f} (members "
          f"{[round(x, 5) for x in member_ll.values()]})")
    return 0


def add_parser(subparsers) -> argparse.ArgumentParser:
    ml = subparsers.add_parser("ml", help="train, register, promote and roll back models")
    sub = ml.add_subparsers(dest="ml_command", required=True)
    t = sub.add_parser("train", help="train a model from a config file (TOML)")
    t.add_argument("--config", required=True, help="TOML file (see tradecore/ml/default_train.toml)")
    t.add_argument("--out", help="override output.dir")
    t.add_argument("--registry", help="override output.registry ('' = do not register)")
    t.add_argument("--no-walk-forward", action="store_true")
    t.set_defaults(func=_train)
    for name, fn, hlp in (("list", _list, "list the registered versions"),
                          ("promote", _promote, "make a model (default: the challenger) champion"),
                          ("rollback", _rollback, "undo the last promotion"),
                          ("challenger", _challenger, "set the challenger")):
        p = sub.add_parser(name, help=hlp)
        p.add_argument("--registry", default="reports/ml/registry")
        if name in ("promote", "challenger"):
            p.add_argument("--model", required=(name == "challenger"), default=None)
        if name in ("promote", "rollback"):
            p.add_argument("--reason", default="")
        p.set_defaults(func=fn)
    c = sub.add_parser("compare", help="champion vs challenger on replayed candles "
                                        "(paired test); optionally promote")
    c.add_argument("--registry", default="reports/ml/registry")
    c.add_argument("--data", required=True, help="candle CSV(.gz) of ../shared/data/ohlcv")
    c.add_argument("--start", default=None)
    c.add_argument("--end", default=None)
    c.add_argument("--challenger", default=None, help="default: the registry's challenger")
    c.add_argument("--enter", type=float, default=0.55)
    c.add_argument("--exit", type=float, default=0.5)
    c.add_argument("--fee", type=float, default=0.001)
    c.add_argument("--promote-if-better", action="store_true")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=_compare)
    e = sub.add_parser("ensemble", help="average or stack registered MLPs (weights learned on a "
                                         "validation range), register as one model")
    e.add_argument("--registry", default="reports/ml/registry")
    e.add_argument("--models", required=True, help="comma-separated model ids")
    e.add_argument("--kind", choices=("average", "stacking"), default="average")
    e.add_argument("--data", required=True)
    e.add_argument("--val-start", required=True)
    e.add_argument("--val-end", required=True)
    e.add_argument("--horizon", type=int, default=4, help="label horizon (bars) of the members")
    e.add_argument("--name", default="ensemble")
    e.set_defaults(func=_ensemble)
    return ml


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tradecore")
    sub = ap.add_subparsers(dest="command", required=True)
    add_parser(sub)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "ml":
        argv = ["ml", *argv]
    a = ap.parse_args(argv)
    return a.func(a)


if __name__ == "__main__":
    raise SystemExit(main())
