"""Running a node with its API up: `tradecore paper --serve`, `tradecore serve`, `tradecore live`.

`serve_replay` starts the API on the running (uvloop) loop before the node starts, replays the
recording, and then keeps serving (dashboard, REST, metrics; phase "finished") until SIGINT or
SIGTERM, so an operator can inspect the end state. `serve_live` does the same over the live
public feeds. `live_preflight` is what `tradecore live` checks before anything connects: an
explicit confirmation and API keys for every venue, naming everything missing at once.
"""
from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable, Mapping

from tradecore.api.server import ApiServer

__all__ = ["serve_replay", "serve_live", "live_preflight", "LIVE_CONFIRM_FLAG",
           "LIVE_CONFIRM_ENV"]

log = logging.getLogger("tradecore.api.service")

LIVE_CONFIRM_FLAG = "--i-understand-live-trading"
LIVE_CONFIRM_ENV = "TRADECORE_LIVE_CONFIRM"       # must equal "yes"


async def _until_signal(stop: asyncio.Event | None) -> None:
    loop = asyncio.get_running_loop()
    ev = stop or asyncio.Event()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, ev.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass                       # not the main thread (tests): the event is the way
    try:
        await ev.wait()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def serve_replay(node, speed: float, on_record: Callable[[int], None] | None = None, *,
                       host: str = "127.0.0.1", port: int = 8080,
                       stop: asyncio.Event | None = None,
                       started: Callable[[ApiServer], None] | None = None,
                       keep_serving: bool = True, **server_kw) -> ApiServer:
    server = ApiServer(node, host=host, port=port, **server_kw)
    await server.start()
    if started is not None:
        started(server)
    try:
        server.phase = "running"
        await node.run_replay_paced(speed, on_record)
        server.phase = "finished"
        if keep_serving:
            log.warning("replay finished; the API keeps serving on %s until interrupted",
                        server.url)
            print(f"\nreplay finished; API still serving on {server.url} (Ctrl-C to stop)",
                  flush=True)
            await _until_signal(stop)
    finally:
        await server.stop()
    return server


async def serve_live(node, seconds: float | None = None, *, host: str = "127.0.0.1",
                     port: int = 8080, stop: asyncio.Event | None = None,
                     **server_kw) -> ApiServer:
    server = ApiServer(node, host=host, port=port, **server_kw)
    await server.start()
    try:
        server.phase = "running"
        run = asyncio.get_running_loop().create_task(node.run_live(seconds))
        waiter = asyncio.get_running_loop().create_task(_until_signal(stop))
        done, _ = await asyncio.wait({run, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for t in (run, waiter):
            if t not in done:
                t.cancel()
        await asyncio.gather(run, waiter, return_exceptions=True)
        server.phase = "finished"
    finally:
        await server.stop()
    return server


def live_preflight(venues: list[str], *, confirmed: bool, env: Mapping[str, str] | None = None,
                   config_mode: str = "live") -> list[str]:
    """Everything that stops `tradecore live` from starting (empty: all present). Names the
    flag, setting or variable; never prints a value."""
    from tradecore.venues.credentials import CredentialsError, load_credentials

    env = os.environ if env is None else env
    missing = []
    if config_mode != "live":
        missing.append(f"the config's run.mode is {config_mode!r}: live trading needs "
                       f"run.mode = \"live\" in the config file")
    if not confirmed and env.get(LIVE_CONFIRM_ENV) != "yes":
        missing.append(f"explicit confirmation: pass {LIVE_CONFIRM_FLAG} or set "
                       f"{LIVE_CONFIRM_ENV}=yes")
    for v in venues:
        try:
            load_credentials(v, env)
        except CredentialsError as e:
            missing.append(str(e))
    return missing
