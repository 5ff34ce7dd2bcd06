"""`tradecore live`: the same node as paper mode, with real order entry.

What differs from `tradecore paper --live` is only the venue each order goes to (DESIGN.md: modes
differ in where frames come from, the clock, and the venue):

    Binance spot          BinanceExecution: orders over the WebSocket API, fills from the
                          user-data stream on the same connection (the fastest path we have)
    every other venue     CcxtExecution: ccxt's REST calls through our rate limiter, fills by
                          polling (no exchange WebSocket order API we support there)

The start-up order is what keeps orders and positions from being lost across a crash:

1. the venue clients connect (and each reconciles its own in-flight requests);
2. `Recovery` replays the journal into the engine and reconciles with every venue (open orders,
   fills missed while down, orders the journal does not know: `live.unknown_orders`); the gate
   denies new orders with RECONCILING until this ends;
3. the account's balances are read from the venue (`live.balances_from_venue`);
4. only then do the public feeds start and strategies see books.

Stopping on purpose (the time limit, Ctrl-C) cancels our open orders when `live.cancel_on_stop`
(default), waits briefly for the venue's answers, closes the venue clients, and only then closes
the journal, so every answer that arrives is journaled. A crash skips all of that by definition:
the next start's step 2 is what picks up the pieces.

A journal path is required in live mode (config validation says so). API keys come from the
environment (`TRADECORE_<VENUE>_API_KEY` / `_API_SECRET`, see venues/credentials.py) and are
never printed: only the venue names whose keys are missing are.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tradecore.config import ConfigError, FeedConfig, NodeConfig
from tradecore.core.clock import Clock
from tradecore.core.instrument import Instrument

log = logging.getLogger(__name__)

STOP_GRACE_S = 2.0          # how long a deliberate stop waits for the venues' cancel answers


@dataclass
class LiveRun:
    """What a live session did, for the summary and the tests."""
    recovery: Any = None                       # execution.recovery.RecoveryReport
    balances: dict[str, dict[str, float]] = field(default_factory=dict)   # venue -> asset
    canceled_on_stop: int = 0
    open_after_stop: int = 0


def build_venue(feed: FeedConfig, instruments: dict[str, Instrument], clock: Clock,
                env: Mapping[str, str] | None = None):
    """The order-entry client for one configured venue, with its credentials from `env`."""
    from tradecore.venues.credentials import load_credentials

    creds = load_credentials(feed.venue, env)
    if feed.exchange == "binance" and feed.market == "spot":
        from tradecore.venues.binance.execution import WS_API_URL, BinanceExecution
        return BinanceExecution(instruments, creds, name=feed.venue,
                                url=feed.order_url or WS_API_URL, clock=clock)
    if feed.exchange == "binance":
        raise ConfigError(f"feeds venue {feed.venue!r}: live orders on Binance {feed.market} "
                          f"futures are not supported (spot only)")
    from tradecore.venues.ccxt_execution import CcxtExecution, ccxt_exchange
    ex = ccxt_exchange(feed.exchange, creds, rest_base=feed.order_url or None)
    return CcxtExecution(ex, instruments, name=feed.venue, clock=clock)


def live_node(cfg: NodeConfig, env: Mapping[str, str] | None = None):
    """A TradingNode whose venues are the live order clients."""
    from tradecore.engine import TradingNode

    if cfg.mode != "live":
        raise ConfigError(f"config key 'run.mode' = {cfg.mode!r}: expected 'live' for live "
                          f"trading")
    feeds = {f.venue: f for f in cfg.feeds}

    def factory(venue: str, clock: Clock, insts: dict[str, Instrument]):
        if venue not in feeds:
            raise ConfigError(f"instruments of venue {venue!r}: no feed configures it, so "
                              f"there is no order endpoint for it")
        return build_venue(feeds[venue], insts, clock, env)
    return TradingNode(cfg, live=True, venue_factory=factory)


async def venue_balances(venue) -> dict[str, float] | None:
    """The account's free balances per asset, or None when the client cannot read them."""
    read = getattr(venue, "balances", None)
    if read is None:
        return None
    return await read()


async def run_live_trading(node, seconds: float | None = None) -> LiveRun:
    """Start the venues, recover, then trade on the live feeds until `seconds` (None: until
    cancelled); see the module docstring for the order of things."""
    from tradecore.execution.recovery import Recovery

    cfg, out = node.cfg, LiveRun()
    started = []
    ran = False
    try:
        for v in node.venues.values():
            await v.start()
            started.append(v)
        out.recovery = await Recovery(node.exec, cfg.journal,
                                      unknown_orders=cfg.live.unknown_orders).run()
        for p in out.recovery.problems:
            log.warning("recovery: %s", p)
        if cfg.live.balances_from_venue:
            for name, v in node.venues.items():
                b = await venue_balances(v)
                if b is None:
                    log.warning("%s: the client cannot read balances; using the config's", name)
                    continue
                out.balances[name] = b
                for asset, amount in b.items():
                    node.exec.set_balance(name, asset, amount)

        async def before_stop() -> None:
            if cfg.live.cancel_on_stop:
                out.canceled_on_stop = node.exec.cancel_all()
                deadline = asyncio.get_running_loop().time() + STOP_GRACE_S
                while node.exec.oms.open and asyncio.get_running_loop().time() < deadline:
                    await asyncio.sleep(0.02)
            out.open_after_stop = len(node.exec.oms.open)
            if out.open_after_stop:
                log.warning("stopping with %d open orders at the venues: the next start "
                            "reconciles them", out.open_after_stop)
            for v in started:
                await v.close()
            started.clear()
        ran = True
        await node.run_live(seconds, before_stop=before_stop)
    finally:
        for v in started:              # failed before the feeds ran: close what was opened
            await v.close()
        if not ran:
            node.journal.close()
    return out
