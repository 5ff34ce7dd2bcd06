"""`tradecore ml ...`: train, list, promote, rollback, challenger.

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
    train(cfg)
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
