"""End to end in headless Chromium: the dashboard loads, shows live values of a running paper
engine, and its kill switch (behind the confirm dialog) halts trading.

Driven over the Chrome DevTools Protocol with aiohttp (no playwright download needed). Skips,
saying so, when no Chromium is installed: set TRADECORE_CHROMIUM to a binary, or install the
`chromium` package (Debian/Ubuntu: apt-get install -y chromium).
"""
from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

import aiohttp
import pytest
from _api_helpers import TOKEN, make_node

from tradecore.api.service import serve_replay
from tradecore.core.orders import DenyReason, TradingState


def _chromium() -> str | None:
    for name in (os.environ.get("TRADECORE_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome", "google-chrome-stable"):
        if name and (path := shutil.which(name)):
            return path
    return None


CHROMIUM = _chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (set "
                                "TRADECORE_CHROMIUM or apt-get install -y chromium): the "
                                "browser end-to-end test cannot run")


@pytest.fixture
def paper_engine():
    """A paper node replaying the bundled recording at 5x real time, API up, in a thread."""
    box: dict = {}
    ready = threading.Event()

    def serve() -> None:
        loop = asyncio.new_event_loop()
        stop = asyncio.Event()
        node = make_node()
        box.update(loop=loop, stop=stop, node=node)

        def started(server) -> None:
            box["server"] = server
            ready.set()
        task = loop.create_task(serve_replay(node, 5.0, host="127.0.0.1", port=0, stop=stop,
                                             started=started, token=TOKEN,
                                             sample_period_s=0.2))
        box["task"] = task
        try:
            loop.run_until_complete(task)
        except asyncio.CancelledError:
            pass                              # the test is over before the replay
        loop.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(60)
    yield box
    box["loop"].call_soon_threadsafe(box["task"].cancel)
    t.join(30)
    assert not t.is_alive()


class _Page:
    """One page over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def send(self, method: str, **params):
        i = next(self.ids)
        await self.ws.send_json({"id": i, "method": method, "params": params})
        while True:
            msg = await asyncio.wait_for(self.ws.receive_json(), 45)
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    async def js(self, expr: str):
        r = await self.send("Runtime.evaluate", expression=expr, returnByValue=True,
                            awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr}: {r['exceptionDetails']}")
        return r["result"].get("value")

    async def until(self, expr: str, timeout: float = 45.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            v = await self.js(expr)
            if v:
                return v
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out waiting for {expr}")

    async def click(self, selector: str, timeout: float = 20.0) -> None:
        """A real mouse click at the element's centre (not element.click()), once the element
        is laid out, in view, and the topmost element at that point: the header reflows as
        live values arrive, and a click computed before a reflow lands beside the button."""
        probe = (f"(() => {{ const e = document.querySelector('{selector}'); if (!e) return null;"
                 f" e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();"
                 f" if (r.width === 0 || r.height === 0) return null;"
                 f" const x = r.x + r.width / 2, y = r.y + r.height / 2;"
                 f" const hit = document.elementFromPoint(x, y);"
                 f" return hit && (hit === e || e.contains(hit)) ? [x, y] : null; }})()")
        end = time.monotonic() + timeout
        while (box := await self.js(probe)) is None:
            if time.monotonic() > end:
                raise AssertionError(f"{selector} never became clickable")
            await asyncio.sleep(0.1)
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1],
                            button="left", clickCount=1)


async def _browser(url: str):
    profile = tempfile.mkdtemp(prefix="tradecore-chromium-")
    proc = subprocess.Popen([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                             "--no-first-run", "--remote-debugging-port=0",
                             "--remote-debugging-address=127.0.0.1",
                             f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = None
    end = time.monotonic() + 30
    while time.monotonic() < end and port is None:
        line = await asyncio.get_running_loop().run_in_executor(None, proc.stderr.readline)
        m = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
        if m:
            port = int(m.group(1))
    if port is None:
        proc.kill()
        raise RuntimeError("Chromium did not start its DevTools endpoint")
    return proc, port, profile


def test_dashboard_when_driven_in_chromium_shows_live_values_and_kills(paper_engine):
    server, node = paper_engine["server"], paper_engine["node"]

    async def go():
        proc, port, profile = await _browser(server.url)
        try:
            async with aiohttp.ClientSession() as s:
                async with s.get(f"http://127.0.0.1:{port}/json/list") as r:
                    page = next(t for t in await r.json() if t["type"] == "page")
                async with s.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                    p = _Page(ws)
                    await p.send("Page.enable")
                    await p.send("Runtime.enable")
                    await p.send("Page.navigate", url=server.url + "/")
                    await p.until("document.readyState === 'complete' && "
                                  "!!document.getElementById('kill')")
                    # the operator's token, kept for the session as the token field keeps it
                    # (app.js); the page reloads and reads it. Typing it in mid-test would close
                    # and reopen the stream, and the header (flex-wrap) reflows meanwhile, which
                    # once moved the kill button away from a click aimed at it.
                    await p.js(f"sessionStorage.setItem('tradecore-token', '{TOKEN}')")
                    await p.send("Page.reload")
                    await p.until("document.readyState === 'complete' && "
                                  f"document.getElementById('token').value === '{TOKEN}'")
                    # live values: the stream connected, equity shown, feed counters moving
                    await p.until("document.getElementById('conn').textContent === 'live'")
                    equity = await p.until("(() => { const t = document.getElementById("
                                           "'equity').textContent; return t !== '–' && t; })()")
                    state = await p.until("document.getElementById('state').textContent"
                                          " === 'ACTIVE'")
                    msgs = "document.querySelector('#feeds tbody tr td:nth-child(2)')" \
                           "?.textContent"
                    first = await p.until(msgs)
                    await asyncio.sleep(2.5)
                    second = await p.js(msgs)
                    # the kill switch, behind its confirm dialog (a click the live header's
                    # reflow made miss is made again: the dialog must open on a real click)
                    opened = "!document.getElementById('modal').classList.contains('hidden')"
                    for _ in range(5):
                        await p.click("#kill")
                        try:
                            modal_open = await p.until(opened, 3)
                            break
                        except AssertionError:
                            continue
                    else:
                        raise AssertionError("five clicks on #kill did not open the dialog")
                    state_before_confirm = TradingState(node.gate.state)
                    await p.click("#kill-confirm")
                    # HALTED, or the error the dialog shows (so a failure says why)
                    await p.until("document.getElementById('state').textContent === 'HALTED'"
                                  " || !!document.getElementById('modal-error').textContent")
                    error = await p.js("document.getElementById('modal-error').textContent")
                    assert not error, f"the kill was refused: {error}"
                    halted = await p.js("document.getElementById('state').textContent"
                                        " === 'HALTED'")
                    kill_badge = await p.js("document.getElementById('killstate').textContent")
                    return (equity, state, first, second, modal_open, state_before_confirm,
                            halted, kill_badge)
        finally:
            proc.kill()
            proc.wait(10)
            shutil.rmtree(profile, ignore_errors=True)

    (equity, state, first, second, modal_open, before, halted, badge) = asyncio.run(go())
    assert float(equity.replace(",", "")) > 0 and state
    assert int(second.replace(",", "")) > int(first.replace(",", ""))     # live, not a snapshot
    assert modal_open and before is TradingState.ACTIVE                    # confirm comes first
    assert halted and "TRIPPED" in badge
    assert TradingState(node.gate.state) is TradingState.HALTED
    assert node.exec.gate.latched

    async def try_to_trade():              # on the engine's own loop, as a strategy would
        from _api_helpers import limit_buy_at_touch
        return node.exec.submit(limit_buy_at_touch(node, "after-kill")).deny_reason
    reason = asyncio.run_coroutine_threadsafe(try_to_trade(), paper_engine["loop"]).result(10)
    assert reason is DenyReason.HALTED
