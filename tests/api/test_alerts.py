"""Alerts: the rules fire once per condition and reach the page, the log and a webhook."""
from __future__ import annotations

import asyncio
import logging

import pytest
from _api_helpers import Feeder, limit_buy_at_touch, make_node, run
from aiohttp import web

from tradecore.api.alerts import AlertRules, Alerts
from tradecore.api.control import Control


class _Page:
    def __init__(self) -> None:
        self.published: list[tuple[str, dict]] = []

    def publish(self, topic: str, data: dict) -> None:
        self.published.append((topic, data))


@pytest.fixture
def fed():
    node = make_node()
    f = Feeder(node)
    f.until_books()
    return node, f


def test_breaker_when_kill_switch_trips_alerts_page_and_log(fed, caplog):
    node, f = fed
    page = _Page()
    alerts = Alerts(node, AlertRules(), hub=page)
    ctl = Control(node)
    caplog.set_level(logging.WARNING, logger="tradecore.alerts")
    ctl.kill(reason="drill")
    ctl.rearm("drill over")
    kinds = [(a.kind, a.severity) for a in alerts.recent]
    assert kinds == [("breaker", "critical"), ("breaker", "info")]
    assert page.published[0][0] == "alerts" and "HALTED" in page.published[0][1]["message"]
    assert "ALERT breaker: trading HALTED" in caplog.text


def test_drawdown_when_equity_falls_fires_each_threshold_once(fed):
    node, f = fed
    alerts = Alerts(node, AlertRules(drawdown_fractions=(0.02, 0.05)))
    peak = node.equity()
    for eq in (peak, peak * 0.97, peak * 0.96, peak * 0.94, peak * 0.93):
        node.equity = lambda eq=eq: eq          # the equity path under test
        alerts.check()
    dd = [a for a in alerts.recent if a.kind == "drawdown"]
    assert [a.labels["threshold"] for a in dd] == [0.02, 0.05]
    assert dd[1].severity == "critical"


def test_stale_feed_when_books_stop_updating_fires_then_resolves(fed):
    node, f = fed
    alerts = Alerts(node, AlertRules(stale_feed_s=5.0))
    alerts.check()
    assert not [a for a in alerts.recent if a.kind == "stale_feed"]
    node.clock.advance_to(node.clock.time_ns() + 6_000_000_000)
    alerts.check()
    alerts.check()
    stale = [a for a in alerts.recent if a.kind == "stale_feed"]
    assert len(stale) == len(node.books) and all(a.severity == "warning" for a in stale)
    f.feed(3000)
    alerts.check()
    assert any(a.kind == "stale_feed" and a.severity == "info" for a in alerts.recent)


def test_reject_spike_when_many_denials_fires_once(fed):
    node, f = fed
    alerts = Alerts(node, AlertRules(reject_spike_count=5))
    Control(node).kill(reason="to deny everything")
    for i in range(12):
        node.exec.submit(limit_buy_at_touch(node, f"deny-{i}"))
    alerts.check()
    alerts.check()
    spikes = [a for a in alerts.recent if a.kind == "reject_spike"]
    assert len(spikes) == 1 and spikes[0].labels["count"] >= 5


async def _webhook_server(status: int):
    got: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        got.append(await request.json())
        return web.Response(status=status)
    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hook", got


def test_webhook_when_configured_receives_each_alert_as_json():
    async def go():
        runner, url, got = await _webhook_server(200)
        node = make_node()
        alerts = Alerts(node, AlertRules(webhook_url=url, check_period_s=0.05))
        task = asyncio.get_running_loop().create_task(alerts.run())
        try:
            await asyncio.sleep(0.05)
            Control(node).kill(reason="webhook drill")
            for _ in range(100):
                if got:
                    break
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await runner.cleanup()
        return got, alerts
    got, alerts = run(go())
    assert got[0]["source"] == "tradecore" and got[0]["kind"] == "breaker"
    assert "webhook drill" in got[0]["message"] and alerts.webhook_sent == 1


def test_webhook_when_it_fails_counts_and_never_raises(caplog):
    async def go():
        runner, url, got = await _webhook_server(500)
        node = make_node()
        alerts = Alerts(node, AlertRules(webhook_url=url, check_period_s=0.05))
        task = asyncio.get_running_loop().create_task(alerts.run())
        try:
            await asyncio.sleep(0.05)
            alerts.emit("breaker", "critical", "one")
            alerts.emit("breaker", "critical", "two")
            for _ in range(100):
                if alerts.webhook_failed == 2:
                    break
                await asyncio.sleep(0.02)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await runner.cleanup()
        return url, alerts
    caplog.set_level(logging.ERROR, logger="tradecore.alerts")
    url, alerts = run(go())
    assert alerts.webhook_failed == 2 and alerts.webhook_sent == 0
    assert caplog.text.count("alert webhook failed") == 1
    assert url not in caplog.text


@pytest.mark.parametrize("kw", [{"drawdown_fractions": (1.5,)}, {"stale_feed_s": 0},
                                {"webhook_url": "ftp://x"}, {"reject_spike_count": 0}])
def test_rules_when_invalid_are_refused(kw):
    with pytest.raises(ValueError):
        AlertRules(**kw)


def test_rules_from_env_when_webhook_variable_set_use_it():
    r = AlertRules.from_env({"TRADECORE_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/x"})
    assert r.webhook_url == "http://127.0.0.1:9/x"
    assert AlertRules.from_env({}).webhook_url is None
