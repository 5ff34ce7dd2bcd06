"""`tradecore paper` and `tradecore backtest`: build the node from a config, run it, show it.

Paper mode runs on the uvloop event loop with a status line (messages, book updates,
opportunities, orders, fills, PnL, frame latency p50/p99) refreshed every `status_every_s`;
backtest mode is the same replay flat out, without pacing. Both end with a summary table and
the report (reports/<run id>/report.{json,html}), and `--report-json PATH` writes the JSON
summary there too.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from tradecore.config import NodeConfig


def _run_id(cfg: NodeConfig) -> str:
    return cfg.run_id or dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _opportunities(node) -> int:
    return sum(s.counters.get("seen", 0) for s in node.strategies)


def status_line(node, t0: float) -> str:
    st = node.stats
    p50 = st.percentile(st.frame_ns, 50) / 1000
    p99 = st.percentile(st.frame_ns, 99) / 1000
    pnl = node.equity() - node.initial_equity
    return (f"[{time.monotonic() - t0:6.1f}s] msgs {st.messages:>8,}  books {st.book_updates:>8,}"
            f"  opps {_opportunities(node):>5,}  orders {st.orders:>5,}  fills {st.fills:>5,}"
            f"  PnL {pnl:>+10.2f} {node.cfg.quote}  frame p50 {p50:5.1f} us p99 {p99:6.1f} us")


def summary_table(node, summary: dict[str, Any], seconds: float) -> str:
    rows = [
        ("messages replayed", f"{summary['messages']:,}"),
        ("book updates", f"{summary['book_updates']:,}"),
        ("public trades", f"{summary['trades']:,}"),
        ("orders sent / denied", f"{summary['orders']:,} / {summary['denied']:,}"),
        ("fills", f"{summary['fills']:,}"),
        ("realized PnL (net of fees)", f"{summary['realized_pnl']:+,.2f} {node.cfg.quote}"),
        ("unrealized PnL", f"{summary['unrealized_pnl']:+,.2f} {node.cfg.quote}"),
        ("fees paid", f"{summary['fees']:,.2f} {node.cfg.quote}"),
        ("equity", f"{summary['equity']:,.2f} {node.cfg.quote} "
                   f"(start {summary['initial_equity']:,.2f})"),
        ("frame latency p50 / p99", "no frames (candles)" if summary["frame_p50_ns"] !=
         summary["frame_p50_ns"] else f"{summary['frame_p50_ns'] / 1000:.1f} / "
                                      f"{summary['frame_p99_ns'] / 1000:.1f} us"),
        ("tick to order p50 / p99", "no orders from frames" if
         summary["tick_to_order_p50_ns"] != summary["tick_to_order_p50_ns"] else
         f"{summary['tick_to_order_p50_ns'] / 1000:.1f} / "
         f"{summary['tick_to_order_p99_ns'] / 1000:.1f} us"),
        ("trading state", summary["trading_state"]),
        ("wall time", f"{seconds:.1f} s"),
    ]
    for sid, counters in summary["strategies"].items():
        shown = ", ".join(f"{k} {v:,}" for k, v in sorted(counters.items()))
        rows.append((f"strategy {sid}", shown or "no events"))
    if summary["denials"]:
        rows.append(("denials by reason", ", ".join(f"{k} {v}" for k, v in
                                                    summary["denials"].items())))
    if summary["problems"]:
        rows.append(("problems", ", ".join(f"{k} {v}" for k, v in
                                           sorted(summary["problems"].items()))))
    w = max(len(r[0]) for r in rows)
    return "\n".join(f"  {k:<{w}}  {v}" for k, v in rows)


def run(cfg: NodeConfig, *, live: bool = False, seconds: float | None = None,
        report_json: str | None = None, out: TextIO | None = None,
        serve: tuple[str, int] | None = None) -> int:
    """`serve=(host, port)`: the API (tradecore.api) runs on the same loop and keeps serving
    after the replay ends until interrupted; the report is written after that. `out` defaults
    to the sys.stdout of the call (not of import time)."""
    out = sys.stdout if out is None else out
    from tradecore.backtest.report import write_json, write_report
    from tradecore.backtest.run_recorder import RunRecorder
    from tradecore.engine import TradingNode

    node = TradingNode(cfg, live=live)
    rec = RunRecorder(node)
    run_id = _run_id(cfg)
    t0 = time.monotonic()
    tty = out.isatty()
    show = cfg.mode == "paper" and cfg.status_every_s > 0
    last = [t0]

    def on_record(ts_ns: int) -> None:
        rec.on_record(ts_ns)
        if show:
            now = time.monotonic()
            if now - last[0] >= cfg.status_every_s:
                last[0] = now
                out.write(("\r" if tty else "") + status_line(node, t0) + ("" if tty else "\n"))
                out.flush()

    if cfg.mode == "paper":
        import uvloop
        if serve is not None:
            from tradecore.api.service import serve_live, serve_replay
            host, port = serve
            uvloop.run(serve_live(node, seconds, host=host, port=port) if live else
                       serve_replay(node, cfg.speed, on_record, host=host, port=port))
        elif live:
            uvloop.run(node.run_live(seconds))
        else:
            uvloop.run(node.run_replay_paced(cfg.speed, on_record))
    elif node.candle_based:
        node.run_candles(on_record=on_record, bar_books=cfg.bar_books)
    elif any(f.store is not None for f in cfg.feeds):
        from tradecore.backtest.events import compile_store
        from tradecore.backtest.gated_replay import replay_events_gated
        log = compile_store({f.venue: (f.store, f.store_venue, list(f.symbols))
                             for f in cfg.feeds if f.store is not None})
        replay_events_gated(node, log, on_record=on_record)
    else:
        node.run_replay(on_record=on_record)
    if show:
        out.write(("\r" if tty else "") + status_line(node, t0) + "\n")
    seconds_taken = time.monotonic() - t0
    summary = node.summary()
    sources = tuple(str(f.capture or f.candles or f.store) for f in cfg.feeds
                    if (f.capture or f.candles or f.store) is not None)
    results = rec.results(run_id, cfg.mode + ("-live" if live else ""), cfg.raw, sources)
    paths = write_report(results, Path(cfg.report_dir) / run_id)
    if report_json:
        write_json(results, report_json)
    out.write(f"\ntradecore {cfg.mode}{' --live' if live else ''}: run {run_id} "
              f"({cfg.source})\n")
    out.write(summary_table(node, summary, seconds_taken) + "\n")
    out.write(f"\nreport: {paths['html']}\n        {paths['json']}\n")
    if report_json:
        out.write(f"        {report_json}\n")
    return 0
