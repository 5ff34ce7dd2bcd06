"""`tradecore node feed|strategy|execution --config FILE`: one role of a distributed run
(docs/distributed.md). The config is the ordinary run config with a `[bus]` table; every node
of a run reads the same file."""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path


def add_parser(sub) -> None:
    n = sub.add_parser("node", help="run one node of a distributed setup over NATS JetStream",
                       description=__doc__)
    n.add_argument("role", choices=("feed", "strategy", "execution"))
    n.add_argument("--config", required=True, help="the run config, with a [bus] table")
    n.add_argument("--name", default="", help="strategy node: its name in [bus.nodes]")
    n.add_argument("--url", default="", help="NATS URL (overrides bus.url)")
    n.add_argument("--result", default="", help="write the node's result (JSON) to this file")
    n.add_argument("--limit", type=int, default=None, help="feed: replay only N records")
    n.add_argument("--live", action="store_true",
                   help="feed: the venues' live public feeds (or the config's ws_url/rest_url "
                        "endpoints) instead of the recordings")
    n.add_argument("--seconds", type=float, default=None,
                   help="feed --live: stop after N seconds (default: until interrupted)")
    n.set_defaults(func=_cmd_node)


def run_node(role: str, config: str, name: str = "", url: str = "",
             limit: int | None = None, live: bool = False,
             seconds: float | None = None) -> dict:
    import dataclasses

    from tradecore.bus.settings import bus_settings
    from tradecore.config import load
    cfg = load(config)
    bc = bus_settings(cfg)
    if url:
        bc = dataclasses.replace(bc, url=url)
    if not bc.enabled:
        raise SystemExit(f"tradecore node: {config} has no [bus] table with enabled = true "
                         f"(without it the run is one process: tradecore paper/backtest)")
    if role == "feed":
        from tradecore.bus.feed import FeedNode
        node = FeedNode(cfg, bc)
        if live:
            return asyncio.run(node.run_live(seconds))
        return asyncio.run(node.run_replay(limit=limit))
    if role == "execution":
        from tradecore.bus.execution_node import ExecutionNode
        return asyncio.run(ExecutionNode(cfg, bc).run())
    if not name:
        raise SystemExit("tradecore node strategy: --name NODE is required (a [bus.nodes] key)")
    from tradecore.bus.strategy_node import StrategyNode
    return asyncio.run(StrategyNode(cfg, bc, name).run())


def _cmd_node(args: argparse.Namespace) -> int:
    from tradecore.config import ConfigError
    try:
        out = run_node(args.role, args.config, args.name, args.url, args.limit, args.live,
                       args.seconds)
    except ConfigError as e:
        print(f"tradecore node: {e}", file=sys.stderr)
        return 2
    text = json.dumps(out, indent=1, sort_keys=True, default=str)
    if args.result:
        Path(args.result).write_text(text)
    else:
        print(text)
    return 0
