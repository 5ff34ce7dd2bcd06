"""The `tradecore` command."""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import orjson


def _cmd_book_verify(args: argparse.Namespace) -> int:
    from tradecore.verify import format_summary, verify_books

    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        print(f"tradecore book verify: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    result = verify_books(args.venue, args.files)
    if args.json:
        out = {k: v for k, v in result.items() if k not in ("files", "venue")}
        sys.stdout.write(orjson.dumps(out).decode() + "\n")
    else:
        print(format_summary(result))
    return 0 if result["ok"] else 1


def _cmd_run(args: argparse.Namespace) -> int:
    """paper / backtest: load the config (bundled default without --config) and run it."""
    from tradecore.config import ConfigError, load
    from tradecore.run import run

    if getattr(args, "sweep", None):
        from tradecore.backtest.sweep import format_rows, read_grid, sweep, write_sweep
        try:
            rows = sweep(args.config, read_grid(args.sweep), args.workers,
                         backend=args.sweep_backend, ray_address=args.ray_address)
        except ConfigError as e:
            print(f"tradecore backtest: {e}", file=sys.stderr)
            return 2
        out = Path(load(args.config).report_dir) / (args.run_id or "sweep")
        paths = write_sweep(rows, out)
        print(format_rows(rows))
        print(f"\nsweep: {paths['json']}\n       {paths['csv']}")
        return 0 if all(r["status"] == "ok" for r in rows) else 1
    overrides: dict = {"run": {"mode": args.command}}
    if args.run_id:
        overrides["run"]["run_id"] = args.run_id
    if args.speed is not None:
        overrides["run"]["speed"] = args.speed
    serve = (args.host, args.port) if getattr(args, "serve", False) else None
    from tradecore.api.auth import AuthConfigError
    try:
        cfg = load(args.config, overrides)
        _refuse_bus(cfg)
        return run(cfg, live=getattr(args, "live", False), seconds=getattr(args, "seconds", None),
                   report_json=args.report_json, serve=serve)
    except (ConfigError, AuthConfigError) as e:
        print(f"tradecore {args.command}: {e}", file=sys.stderr)
        return 2


def _refuse_bus(cfg) -> None:
    """A config with the bus on describes separate processes; running it as one would silently
    ignore that choice, so say which commands run it."""
    bus = cfg.raw.get("bus")
    if isinstance(bus, dict) and bus.get("enabled") is True:
        from tradecore.config import ConfigError
        raise ConfigError("config key 'bus.enabled' = true: this config runs as separate "
                          "processes over NATS: `tradecore node feed|execution|strategy "
                          "--config FILE` (docs/distributed.md); set [bus] enabled = false to "
                          "run it in one process")


def _cmd_serve(args: argparse.Namespace) -> int:
    """`tradecore serve`: the live public feeds with the API up (orders: the paper venue)."""
    args.command, args.live, args.serve = "paper", True, True
    return _cmd_run(args)


def _cmd_live(args: argparse.Namespace) -> int:
    """`tradecore live`: refuses to start unless confirmed and every venue has API keys."""
    from tradecore.api.service import live_preflight
    from tradecore.config import ConfigError, load

    try:
        cfg = load(args.config)
    except ConfigError as e:
        print(f"tradecore live: {e}", file=sys.stderr)
        return 2
    try:
        _refuse_bus(cfg)
    except ConfigError as e:
        print(f"tradecore live: {e}", file=sys.stderr)
        return 2
    missing = live_preflight(sorted({f.venue for f in cfg.feeds}),
                             confirmed=args.i_understand_live_trading, config_mode=cfg.mode)
    if missing:
        print("tradecore live: refusing to start; missing:", file=sys.stderr)
        for m in missing:
            print(f"  - {m}", file=sys.stderr)
        return 2
    return _run_live(cfg, args.seconds)


def _run_live(cfg, seconds: float | None) -> int:
    import uvloop

    from tradecore.config import ConfigError
    from tradecore.live import live_node, run_live_trading
    from tradecore.run import summary_table

    try:
        node = live_node(cfg)
    except ConfigError as e:
        print(f"tradecore live: {e}", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    try:
        res = uvloop.run(run_live_trading(node, seconds))
    except KeyboardInterrupt:
        print("tradecore live: interrupted", file=sys.stderr)
        return 130
    rec = res.recovery
    print(f"tradecore live: recovered {rec.orders} orders ({rec.open_after_replay} open), "
          f"{rec.fills_replayed} fills from {cfg.journal}; reconciled with "
          f"{', '.join(node.venues)}")
    print(summary_table(node, node.summary(), time.monotonic() - t0))
    print(f"canceled on stop: {res.canceled_on_stop}; open at the venues after stop: "
          f"{res.open_after_stop}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from tradecore.bench.tick_to_order import main as tick_to_order
    return tick_to_order(args.rest)


def _cmd_demo(args: argparse.Namespace) -> int:
    """Verify every bundled real recording (what `make run` shows until paper mode exists)."""
    from tradecore.data import SAMPLES
    from tradecore.verify import format_summary, verify_books

    plan = [
        ("binance", ["hbt_spot_btcusdt_20240808.gz"]),
        ("binance", ["cf_spot_20211012_4sym.jsonl"]),
        ("binance", ["cf_usdm_20210722_4sym.jsonl"]),
        ("kraken", ["cf_kraken_spot_20210417_5pairs.jsonl"]),
        ("okx", ["cf_okx_20220227_books-l2-tbt_5inst.jsonl"]),
        ("okx", ["cf_okx_20220513_books_3inst.jsonl"]),
        ("coinbase", ["cf_coinbase_advanced_20260809_btc_eth.jsonl.gz"]),
    ]
    ok = True
    for venue, names in plan:
        files = [SAMPLES / n for n in names]
        if not all(f.is_file() for f in files):
            print(f"skip {venue}: bundled sample {names} not found in {SAMPLES}")
            continue
        r = verify_books(venue, files)
        print(format_summary(r).replace("venue ", f"{names[0]}\nvenue ", 1))
        print()
        ok &= r["ok"]
    print("all bundled recordings verified" if ok else "SOME RECORDINGS FAILED VERIFICATION")
    return 0 if ok else 1


def _cmd_record(args: argparse.Namespace) -> int:
    import uvloop

    from tradecore.live_record import record

    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if not symbols:
        print("tradecore record: --symbols needs at least one symbol", file=sys.stderr)
        return 2
    try:
        r = uvloop.run(record(args.venue, symbols, args.out, ws_url=args.ws_url,
                              rest_url=args.rest_url, seconds=args.seconds,
                              market=args.market, handle_signals=True))
    except ValueError as e:
        print(f"tradecore record: {e}", file=sys.stderr)
        return 2
    print(f"recorded {r.messages:,} messages ({r.levels:,} levels, {r.trades:,} trades) in "
          f"{r.seconds:.1f} s to {args.out}; {r.gaps} gap(s), {r.reconnects} reconnect(s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from tradecore.verify import VENUES

    p = argparse.ArgumentParser(prog="tradecore",
                                description="Low-latency crypto trading engine.")
    p.add_argument("-v", "--verbose", action="store_true", help="log every problem kind once")
    p.add_argument("--log-json", action="store_true", help="JSON log lines (one object each)")
    p.add_argument("--log-level", action="append", default=[], metavar="[COMPONENT=]LEVEL",
                   help="e.g. WARNING, or tradecore.api=INFO (repeatable)")
    sub = p.add_subparsers(dest="command", required=True)

    book = sub.add_parser("book", help="order book tools")
    book_sub = book.add_subparsers(dest="book_command", required=True)
    v = book_sub.add_parser(
        "verify", help="replay captured messages and verify checksums, sequences and tops",
        description="Replay captured exchange messages (hftbacktest '<ns> <msg>' lines or "
                    "cryptofeed JSON-Lines captures, .gz accepted) through the venue's "
                    "normalizer, one book per (connection, symbol), and verify every exchange "
                    "checksum, sequence continuity and (Binance) top of book against bookTicker. "
                    "Exit status 1 on any mismatch or unrecovered gap.")
    v.add_argument("--venue", required=True, choices=sorted(VENUES))
    v.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    v.add_argument("files", nargs="+", help="capture files, replayed in the order given")
    v.set_defaults(func=_cmd_book_verify)

    for mode, text in (("paper", "paper trading over the bundled real recordings (what `make "
                                 "run` runs), or over the live public feeds with --live"),
                       ("backtest", "the same engine over recordings, as fast as it goes")):
        m = sub.add_parser(mode, help=text, description=text + ". Ends with a summary table "
                           "and a report in <report_dir>/<run id>/report.{json,html}.")
        m.add_argument("--config", default=None,
                       help="TOML config (default: the bundled paper.toml, fully commented)")
        m.add_argument("--report-json", default=None, metavar="PATH",
                       help="also write the JSON summary here")
        m.add_argument("--run-id", default=None, help="report folder name (default: timestamp)")
        m.add_argument("--speed", type=float, default=None,
                       help="replay speed (1 = real time, 0 = as fast as possible)")
        if mode == "backtest":
            m.add_argument("--sweep", default=None, metavar="GRID",
                           help="TOML grid of strategy settings: one backtest per point, in "
                                "parallel (a process pool or Ray), one summary row each")
            m.add_argument("--workers", type=int, default=None,
                           help="processes for --sweep, or CPUs of a local Ray cluster "
                                "(default: [sweep] workers, else the CPU count)")
            m.add_argument("--sweep-backend", default=None, choices=["process", "ray"],
                           help="where --sweep runs (default: [sweep] backend, else process)")
            m.add_argument("--ray-address", default=None, metavar="ADDR",
                           help='with --sweep-backend ray: "" a private local cluster, '
                                '"auto", or "ray://head:10001" (default: [sweep] ray_address)')
        if mode == "paper":
            m.add_argument("--live", action="store_true",
                           help="the exchanges' live public feeds instead of the recordings "
                                "(needs internet); orders still go to the paper venue")
            m.add_argument("--seconds", type=float, default=None,
                           help="with --live: stop after N seconds")
            _serve_args(m, flag=True)
        m.set_defaults(func=_cmd_run)

    sv = sub.add_parser("serve", help="live public feeds with the API, dashboard and metrics "
                                      "up (orders go to the paper venue)")
    sv.add_argument("--config", default=None, help="TOML config (default: the bundled one)")
    sv.add_argument("--report-json", default=None, metavar="PATH")
    sv.add_argument("--run-id", default=None)
    sv.add_argument("--speed", type=float, default=None, help=argparse.SUPPRESS)
    sv.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    _serve_args(sv, flag=False)
    sv.set_defaults(func=_cmd_serve)

    lv = sub.add_parser("live", help="live trading (refuses to start without explicit "
                                     "confirmation and API keys)")
    lv.add_argument("--config", required=True, help="TOML config with run.mode = \"live\"")
    lv.add_argument("--seconds", type=float, default=None,
                    help="stop after N seconds (default: until interrupted)")
    lv.add_argument("--i-understand-live-trading", action="store_true",
                    help="confirm that real orders will be sent (or TRADECORE_LIVE_CONFIRM=yes)")
    lv.set_defaults(func=_cmd_live)

    b = sub.add_parser("bench", help="in-process benchmarks", add_help=False,
                       description="tradecore bench tick-to-order [--json] [--passes N]")
    b.add_argument("which", choices=["tick-to-order"])
    b.add_argument("rest", nargs=argparse.REMAINDER)
    b.set_defaults(func=_cmd_bench)

    d = sub.add_parser("demo", help="verify the bundled real recordings of every venue")
    d.set_defaults(func=_cmd_demo)

    r = sub.add_parser("record", help="record a venue's live book deltas and trades to Parquet",
                       description="Connect to the venue's public feed, keep the books in "
                                   "sync, and record normalized book deltas, snapshots and "
                                   "trades to DIR/<kind>/venue=/symbol=/date=/ (Parquet), "
                                   "flushed off the hot path. Ctrl-C stops and flushes.")
    r.add_argument("--venue", required=True, choices=["binance", "kraken", "coinbase"])
    r.add_argument("--symbols", required=True,
                   help="comma-separated, as the venue writes them: BTCUSDT,ETHUSDT (Binance), "
                        "XBT/USD,ETH/USD (Kraken), BTC-USD,ETH-USD (Coinbase)")
    r.add_argument("--out", required=True, help="store directory")
    r.add_argument("--market", default="spot", choices=["spot", "usdm", "coinm"])
    r.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    r.add_argument("--ws-url", default=None,
                   help="WebSocket endpoint override (e.g. the local simulator's)")
    r.add_argument("--rest-url", default=None, help="REST endpoint override")
    r.set_defaults(func=_cmd_record)

    from tradecore.data.cli_record import add_parsers
    from tradecore.simulator.cli import add_parser as add_simulator

    from tradecore.ml.cli import add_parser as add_ml

    add_parsers(sub)
    add_simulator(sub)
    add_ml(sub)
    from tradecore.mev.cli import add_parser as add_mev
    add_mev(sub)
    from tradecore.bus.cli import add_parser as add_node
    add_node(sub)
    return p


def _serve_args(p: argparse.ArgumentParser, *, flag: bool) -> None:
    if flag:
        p.add_argument("--serve", action="store_true",
                       help="run the API (REST, WebSocket, dashboard, /metrics) and keep "
                            "serving after the replay ends until interrupted")
    p.add_argument("--host", default="127.0.0.1",
                   help="API address (default 127.0.0.1; any other needs TRADECORE_API_TOKEN)")
    p.add_argument("--port", type=int, default=8080, help="API port (default 8080)")


def main(argv: list[str] | None = None) -> int:
    # no BLAS threads spinning next to the event loop (only effective before numpy loads)
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    args = build_parser().parse_args(argv)
    from tradecore.api.logging import configure
    try:
        configure(default=logging.WARNING if args.verbose or getattr(args, "serve", False)
                  or args.command in ("serve", "live") else logging.ERROR,
                  levels=args.log_level, json_lines=args.log_json)
    except ValueError as e:
        print(f"tradecore: {e}", file=sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
