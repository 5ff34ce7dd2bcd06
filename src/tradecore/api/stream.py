"""The WebSocket stream: positions, PnL, orders, fills, risk state, alerts, top of book.

Protocol (JSON text frames):
  client -> {"op": "auth", "token": "..."}              first, when the API needs a token
  client -> {"op": "subscribe", "topics": ["pnl", ...]}  answered by one snapshot per topic
  client -> {"op": "unsubscribe", "topics": [...]}
  server -> {"topic": t, "type": "snapshot" | "update", "seq": n, "ts_ns": ns, "data": ...}
  server -> {"type": "error", "error": "..."}           a bad request (the connection stays)

Reconnect-friendly: `seq` counts a topic's updates; a client that reconnects subscribes again
and gets a fresh snapshot carrying the current seq, so it never has to replay history.

Backpressure: each client has a bounded queue of serialized messages and one writer task. The
engine side only ever does `put_nowait`; a client whose queue is full is dropped (closed with
1013 "try again later"), never waited for. Order events reach the hub from the order path as one
list append; they are serialized and fanned out by the hub's periodic task, off that path.
Sampled topics (pnl, positions, top) are published every `sample_period_s` while someone
listens.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiohttp import WSCloseCode, WSMsgType, web

from tradecore.api.control import Control, fill_dict, order_dict
from tradecore.core.orders import OrderStatus, TradingState

__all__ = ["Hub", "TOPICS"]

log = logging.getLogger("tradecore.api.stream")

TOPICS = ("pnl", "positions", "orders", "fills", "risk", "alerts", "top", "strategies")


class _Client:
    __slots__ = ("ws", "queue", "topics", "writer", "authed", "peer", "dropped")

    def __init__(self, ws: web.WebSocketResponse, size: int, authed: bool, peer: str) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=size)
        self.topics: set[str] = set()
        self.writer: asyncio.Task | None = None
        self.authed = authed
        self.peer = peer
        self.dropped = False


class Hub:
    def __init__(self, control: Control, *, auth=None, queue_size: int = 256,
                 sample_period_s: float = 0.25) -> None:
        self.control = control
        self.node = control.node
        self.auth = auth
        self.queue_size = queue_size
        self.sample_period_s = sample_period_s
        self.clients: set[_Client] = set()
        self.seq: dict[str, int] = {t: 0 for t in TOPICS}
        self.dropped = 0
        self._pending: list[tuple[Any, Any]] = []          # (order, event) from the order path
        self._risk_pending: list[dict] = []
        self.node.listeners.append(self.on_order_event)
        control.gate.on_state_change(self._on_state)
        control.change_listeners.append(self._on_control_change)

    # -- engine side (cheap) ---------------------------------------------------------------
    def on_order_event(self, order, ev) -> None:
        if self.clients:                 # nobody connected: nothing to keep
            self._pending.append((order, ev))

    def _on_state(self, state: TradingState, reason: str) -> None:
        self._risk_pending.append({"trading_state": TradingState(state).name, "reason": reason})

    def _on_control_change(self, what: str, data: dict) -> None:
        if what == "strategy":
            self.publish("strategies", data)
        elif what == "risk_limits":
            self.publish("risk", {"limits": data})

    # -- fan-out ---------------------------------------------------------------------------
    def subscribers(self, topic: str) -> int:
        return sum(1 for c in self.clients if topic in c.topics)

    def publish(self, topic: str, data: Any) -> None:
        """Serialize once, hand to every subscriber without waiting; drop the slow ones."""
        self.seq[topic] += 1
        targets = [c for c in self.clients if topic in c.topics and not c.dropped]
        if not targets:
            return
        msg = orjson.dumps({"topic": topic, "type": "update", "seq": self.seq[topic],
                            "ts_ns": time.time_ns(), "data": data})
        for c in targets:
            try:
                c.queue.put_nowait(msg)
            except asyncio.QueueFull:
                self._drop(c)

    def _snapshot(self, topic: str) -> Any:
        ctl = self.control
        if topic == "pnl":
            return ctl.pnl()
        if topic == "positions":
            return ctl.positions()
        if topic == "orders":
            return ctl.orders("all", 100)
        if topic == "fills":
            return ctl.fills(100)
        if topic == "risk":
            return {**ctl.state(), "limits": ctl.risk_limits()}
        if topic == "alerts":
            alerts = getattr(self, "alerts", None)
            return alerts.recent_list(100) if alerts is not None else []
        if topic == "top":
            return ctl.top_of_book()
        if topic == "strategies":
            return ctl.strategies()
        raise KeyError(topic)

    def _drop(self, c: _Client) -> None:
        if c.dropped:
            return
        c.dropped = True
        self.dropped += 1
        self.clients.discard(c)
        log.warning("websocket client %s dropped: %d messages queued (slow consumer)",
                    c.peer, c.queue.qsize())
        if c.writer is not None:
            c.writer.cancel()
        asyncio.get_running_loop().create_task(self._close(c))

    @staticmethod
    async def _close(c: _Client) -> None:
        try:
            await asyncio.wait_for(c.ws.close(code=WSCloseCode.TRY_AGAIN_LATER,
                                              message=b"slow consumer"), 1.0)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            pass

    def flush(self) -> None:
        """Publish what the order path queued (orders, fills) and risk-state changes."""
        pending, self._pending = self._pending, []
        for order, ev in pending:
            self.publish("orders", order_dict(order) | {"event": OrderStatus(ev.status).name,
                                                        "event_reason": ev.reason})
            if ev.fill is not None:
                inst = self.node.instruments.get((ev.fill.venue, ev.fill.symbol))
                self.publish("fills", fill_dict(ev.fill, inst))
        risk, self._risk_pending = self._risk_pending, []
        for r in risk:
            self.publish("risk", {**self.control.state(), **r})

    def sample(self) -> None:
        for topic in ("pnl", "positions", "top"):
            if self.subscribers(topic):
                self.publish(topic, self._snapshot(topic))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.sample_period_s)
            try:
                self.flush()
                self.sample()
            except Exception:            # one bad sample must not end the stream
                log.exception("websocket hub: publishing failed")

    async def close_all(self) -> None:
        for c in list(self.clients):
            if c.writer is not None:
                c.writer.cancel()
            await self._close(c)
        self.clients.clear()

    # -- one connection --------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=64 * 1024)
        await ws.prepare(request)
        need_auth = self.auth is not None and self.auth.require_for_reads
        c = _Client(ws, self.queue_size, not need_auth, str(request.remote))
        self.clients.add(c)
        c.writer = asyncio.get_running_loop().create_task(self._write(c))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                self._on_message(c, msg.data)
                if c.dropped:
                    break
        finally:
            self.clients.discard(c)
            if c.writer is not None:
                c.writer.cancel()
        return ws

    def _send_now(self, c: _Client, obj: dict) -> None:
        try:
            c.queue.put_nowait(orjson.dumps(obj))
        except asyncio.QueueFull:
            self._drop(c)

    def _on_message(self, c: _Client, text: str) -> None:
        try:
            req = orjson.loads(text)
        except orjson.JSONDecodeError:
            self._send_now(c, {"type": "error", "error": "not JSON"})
            return
        op = req.get("op") if isinstance(req, dict) else None
        if op == "auth":
            if self.auth is not None and self.auth.matches(req.get("token")):
                c.authed = True
                self._send_now(c, {"type": "auth", "ok": True})
            else:
                self._send_now(c, {"type": "error", "error": "wrong token"})
            return
        if not c.authed:
            self._send_now(c, {"type": "error", "error": "send {\"op\": \"auth\", \"token\": "
                                                        "...} first"})
            return
        topics = req.get("topics")
        if op not in ("subscribe", "unsubscribe") or not isinstance(topics, list) or not all(
                isinstance(t, str) for t in topics):
            self._send_now(c, {"type": "error", "error": "expected {\"op\": \"subscribe\" | "
                                                        "\"unsubscribe\", \"topics\": [...]}"})
            return
        unknown = [t for t in topics if t not in TOPICS]
        if unknown:
            self._send_now(c, {"type": "error", "error": f"unknown topics {unknown}; expected "
                                                        f"{list(TOPICS)}"})
            return
        if op == "unsubscribe":
            c.topics.difference_update(topics)
            return
        for t in topics:
            c.topics.add(t)
            self._send_now(c, {"topic": t, "type": "snapshot", "seq": self.seq[t],
                               "ts_ns": time.time_ns(), "data": self._snapshot(t)})

    @staticmethod
    async def _write(c: _Client) -> None:
        try:
            while True:
                msg = await c.queue.get()
                await c.ws.send_str(msg.decode())
        except (asyncio.CancelledError, ConnectionError, RuntimeError):
            return
