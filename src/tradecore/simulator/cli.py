"""`tradecore simulate-exchange`: run the local exchange simulator until Ctrl-C.

Wired into the `tradecore` command with `add_parser(subparsers)`; it sets `func` to the handler,
like the other subcommands.
"""
from __future__ import annotations

import argparse
import asyncio
import math
import signal
import sys

from tradecore.simulator.venues import VENUES


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "simulate-exchange",
        help="serve recorded real market data over each venue's WebSocket/REST protocol",
        description="A local exchange on 127.0.0.1: replays bundled (or given) real recordings "
                    "over each venue's own wire format (Binance combined/raw streams and REST "
                    "depth/trades, Kraken WS v1, Coinbase Advanced Trade, OKX v5), keeping its "
                    "own book so that REST snapshots and new subscriptions are consistent with "
                    "the stream. Faults are injected with POST /_sim/fault on the REST port "
                    "(e.g. {\"kind\": \"skip\", \"venue\": \"binance\", \"count\": 3}); "
                    "GET /_sim/faults lists what they did.")
    p.add_argument("--venue", action="append", choices=sorted(VENUES), dest="venues",
                   help="venue to simulate (repeatable; default binance)")
    p.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1"],
                   help="listen address (loopback only)")
    p.add_argument("--ws-port", type=int, default=0, help="WebSocket port (0: any free port)")
    p.add_argument("--rest-port", type=int, default=0, help="REST port (0: any free port)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="replay speed, x real time (0: as fast as the clients read)")
    p.add_argument("--loop", action="store_true",
                   help="start again at the end of the recording (clients are disconnected "
                        "with 1001 and must resync)")
    p.add_argument("--file", action="append", default=[], metavar="[VENUE=]PATH",
                   help="recording to replay instead of the bundled one; VENUE= may be "
                        "omitted when one venue is simulated (repeatable)")
    p.add_argument("--ping-interval", type=float, default=20.0,
                   help="WebSocket ping to every client every N s (0: never)")
    p.add_argument("--ping-timeout", type=float, default=60.0,
                   help="drop a client that has not answered a ping within N s (0: never)")
    p.set_defaults(func=run)
    return p


def _files(args: argparse.Namespace, venues: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for spec in args.file:
        venue, sep, path = spec.partition("=")
        if not sep or venue not in VENUES:
            if len(venues) != 1:
                raise ValueError(f"--file {spec!r}: name the venue (VENUE=PATH) when "
                                 f"simulating {len(venues)} venues")
            venue, path = venues[0], spec
        if venue not in venues:
            raise ValueError(f"--file {spec!r}: venue {venue!r} is not simulated "
                             f"(--venue {' --venue '.join(venues)})")
        out[venue] = path
    return out


async def _serve(args: argparse.Namespace, venues: list[str], files: dict[str, str]) -> None:
    from tradecore.simulator.exchange import ExchangeSimulator

    sim = ExchangeSimulator(venues, host=args.host, ws_port=args.ws_port,
                            rest_port=args.rest_port, speed=args.speed, loop=args.loop,
                            files=files, ping_interval=args.ping_interval or None,
                            ping_timeout=args.ping_timeout or None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    await sim.start()
    try:
        speed = "as fast as clients read" if math.isinf(sim.speed) else f"{sim.speed:g}x"
        print(f"tradecore exchange simulator: {speed}, {'looping' if args.loop else 'once'}")
        for name, u in sim.urls().items():
            v = sim.venues[name]
            print(f"  {name:<13} ws {u['ws']}   rest {u['rest']}   "
                  f"({v.path.name}, {len(v.events):,} messages)")
        print(f"  control       POST {sim.rest_url}/_sim/fault   GET {sim.rest_url}/_sim/faults"
              f"   GET {sim.rest_url}/_sim/status")
        print("Ctrl-C to stop.", flush=True)
        await stop.wait()
    finally:
        await sim.close()
        print("simulator stopped")


def run(args: argparse.Namespace) -> int:
    venues = list(dict.fromkeys(args.venues or ["binance"]))
    try:
        files = _files(args, venues)
        if args.speed < 0 or math.isnan(args.speed):
            raise ValueError(f"--speed {args.speed}: expected a number >= 0")
        for name, port in (("--ws-port", args.ws_port), ("--rest-port", args.rest_port)):
            if not 0 <= port <= 65535:
                raise ValueError(f"{name} {port}: expected 0..65535")
    except ValueError as e:
        print(f"tradecore simulate-exchange: {e}", file=sys.stderr)
        return 2
    try:
        import uvloop
        uvloop.run(_serve(args, venues, files))
    except ValueError as e:             # bad recording, venue or port, from the simulator
        print(f"tradecore simulate-exchange: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"tradecore simulate-exchange: cannot listen: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (python -m tradecore.simulator.cli) until the lead wires it."""
    parser = argparse.ArgumentParser(prog="tradecore")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
