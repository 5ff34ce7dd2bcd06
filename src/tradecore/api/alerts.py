"""Alerts: conditions an operator must see, sent to the dashboard, the log and a webhook.

Rules (AlertRules):
  breaker        the trading state leaves ACTIVE (a breaker or the kill switch): at once, from
                 the gate's state listener; going back to ACTIVE is reported as resolved
  drawdown       equity below its peak by each of `drawdown_fractions` (fires once per
                 threshold, re-armed when the drawdown recovers below half of it)
  stale_feed     a book not updated for `stale_feed_s` (node clock: replay time in paper mode)
  reject_spike   at least `reject_spike_count` venue rejects + risk denials within
                 `reject_spike_window_s` (wall clock)

The periodic rules run in `run()` every `check_period_s` on the loop, never on the order path.
The webhook gets each alert as a JSON POST from a bounded queue and one sender task (aiohttp
client, timeout `webhook_timeout_s`); a slow or failing webhook loses alerts (counted in
`webhook_failed` / `webhook_dropped` and logged once per kind) and never delays the engine.
The webhook URL may itself be a secret (Slack-style), so it is never logged; the server takes
it from the environment (TRADECORE_ALERT_WEBHOOK_URL, AlertRules.from_env).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

import aiohttp

from tradecore.core.orders import OrderStatus, TradingState

__all__ = ["Alert", "AlertRules", "Alerts"]

log = logging.getLogger("tradecore.alerts")


WEBHOOK_ENV = "TRADECORE_ALERT_WEBHOOK_URL"


@dataclass(frozen=True)
class AlertRules:
    drawdown_fractions: tuple[float, ...] = (0.02, 0.05, 0.10)
    stale_feed_s: float = 10.0
    reject_spike_count: int = 20
    reject_spike_window_s: float = 60.0
    check_period_s: float = 1.0
    webhook_url: str | None = None
    webhook_timeout_s: float = 3.0
    webhook_queue: int = 100

    def __post_init__(self) -> None:
        if not all(0 < f < 1 for f in self.drawdown_fractions):
            raise ValueError(f"drawdown_fractions {self.drawdown_fractions!r}: expected "
                             f"fractions in (0, 1)")
        for name in ("stale_feed_s", "reject_spike_window_s", "check_period_s",
                     "webhook_timeout_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} = {getattr(self, name)!r}: expected > 0")
        if self.reject_spike_count < 1 or self.webhook_queue < 1:
            raise ValueError("reject_spike_count and webhook_queue must be >= 1")
        if self.webhook_url is not None and not self.webhook_url.startswith(("http://",
                                                                             "https://")):
            raise ValueError("webhook_url: expected an http:// or https:// URL")

    @classmethod
    def from_env(cls, env=None, **kw) -> "AlertRules":
        """The defaults, with the webhook from TRADECORE_ALERT_WEBHOOK_URL (an environment
        variable, not the config file: webhook URLs often carry their own secret)."""
        import os
        env = os.environ if env is None else env
        return cls(webhook_url=env.get(WEBHOOK_ENV) or None, **kw)


@dataclass(frozen=True)
class Alert:
    kind: str                   # breaker | drawdown | stale_feed | reject_spike
    severity: str               # critical | warning | info (resolved)
    message: str
    ts_ns: int                  # wall clock
    labels: dict[str, Any] = field(default_factory=dict)


class Alerts:
    def __init__(self, node, rules: AlertRules | None = None, hub=None) -> None:
        self.node = node
        self.rules = rules or AlertRules()
        self.hub = hub
        self.recent: deque[Alert] = deque(maxlen=500)
        self.peak = node.equity()
        self._dd_fired: set[float] = set()
        self._stale: set[tuple[str, str]] = set()
        self._rejects: deque[float] = deque()
        self._denied_seen = node.stats.denied
        self._spiking = False
        self._queue: asyncio.Queue[Alert] | None = None
        self.webhook_sent = 0
        self.webhook_failed = 0
        self.webhook_dropped = 0
        node.gate.on_state_change(self._on_state)
        node.listeners.append(self._on_order_event)

    # -- sources ---------------------------------------------------------------------------
    def _on_state(self, state: TradingState, reason: str) -> None:
        state = TradingState(state)
        if state is TradingState.ACTIVE:
            self.emit("breaker", "info", f"trading ACTIVE again: {reason}",
                      {"state": state.name})
        else:
            self.emit("breaker", "critical", f"trading {state.name}: {reason}",
                      {"state": state.name})

    def _on_order_event(self, order, ev) -> None:
        if ev.status == OrderStatus.REJECTED:
            self._rejects.append(time.monotonic())

    def check(self) -> None:
        """The periodic rules (drawdown, stale feeds, reject spikes)."""
        node, r = self.node, self.rules
        eq = node.equity()
        self.peak = max(self.peak, eq)
        dd = (self.peak - eq) / self.peak if self.peak > 0 else 0.0
        for f in r.drawdown_fractions:
            if dd >= f and f not in self._dd_fired:
                self._dd_fired.add(f)
                self.emit("drawdown", "critical" if f == max(r.drawdown_fractions) else
                          "warning", f"drawdown {dd:.2%} from peak equity {self.peak:,.2f} "
                          f"(threshold {f:.0%})", {"threshold": f, "drawdown": dd})
            elif f in self._dd_fired and dd < f / 2:
                self._dd_fired.discard(f)
        now = node.clock.time_ns()
        for key, b in list(node.books.items()):
            age = (now - b.ts_ns) / 1e9 if b.ts_ns else 0.0
            if age > r.stale_feed_s and key not in self._stale:
                self._stale.add(key)
                self.emit("stale_feed", "warning", f"{key[0]}:{key[1]} book not updated for "
                          f"{age:.1f} s", {"venue": key[0], "symbol": key[1], "age_s": age})
            elif age <= r.stale_feed_s and key in self._stale:
                self._stale.discard(key)
                self.emit("stale_feed", "info", f"{key[0]}:{key[1]} book updating again",
                          {"venue": key[0], "symbol": key[1]})
        t = time.monotonic()
        denied = node.stats.denied
        for _ in range(min(denied - self._denied_seen, r.reject_spike_count)):
            self._rejects.append(t)
        self._denied_seen = denied
        while self._rejects and self._rejects[0] < t - r.reject_spike_window_s:
            self._rejects.popleft()
        n = len(self._rejects)
        if n >= r.reject_spike_count and not self._spiking:
            self._spiking = True
            self.emit("reject_spike", "warning", f"{n} rejects/denials in the last "
                      f"{r.reject_spike_window_s:g} s", {"count": n})
        elif n < r.reject_spike_count // 2 and self._spiking:
            self._spiking = False

    # -- sinks -----------------------------------------------------------------------------
    def emit(self, kind: str, severity: str, message: str,
             labels: dict[str, Any] | None = None) -> Alert:
        a = Alert(kind, severity, message, time.time_ns(), labels or {})
        self.recent.append(a)
        level = {"critical": logging.CRITICAL, "warning": logging.WARNING}.get(severity,
                                                                              logging.INFO)
        log.log(level, "ALERT %s: %s", kind, message)
        if self.hub is not None:
            self.hub.publish("alerts", asdict(a))
        if self._queue is not None:
            try:
                self._queue.put_nowait(a)
            except asyncio.QueueFull:
                self.webhook_dropped += 1
        return a

    def recent_list(self, limit: int = 100) -> list[dict[str, Any]]:
        return [asdict(a) for a in list(self.recent)[-limit:]][::-1]

    async def run(self) -> None:
        """The periodic rules and, with a webhook, its sender."""
        sender = None
        if self.rules.webhook_url:
            self._queue = asyncio.Queue(maxsize=self.rules.webhook_queue)
            sender = asyncio.get_running_loop().create_task(self._send_webhooks())
        try:
            while True:
                await asyncio.sleep(self.rules.check_period_s)
                try:
                    self.check()
                except Exception:
                    log.exception("alert rules failed")
        finally:
            if sender is not None:
                sender.cancel()

    async def _send_webhooks(self) -> None:
        assert self._queue is not None
        timeout = aiohttp.ClientTimeout(total=self.rules.webhook_timeout_s)
        warned = False
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                a = await self._queue.get()
                try:
                    async with session.post(self.rules.webhook_url, json={
                            "source": "tradecore", **asdict(a)}) as resp:
                        if resp.status >= 300:
                            raise aiohttp.ClientResponseError(resp.request_info, (),
                                                              status=resp.status)
                    self.webhook_sent += 1
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    self.webhook_failed += 1
                    if not warned:     # the URL is not logged: it may carry a secret
                        log.error("alert webhook failed (%s); further failures are counted",
                                  type(e).__name__)
                        warned = True
