"""The WebSocket stream: snapshots on subscribe, updates, auth, and slow clients dropped."""
from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import time

import aiohttp
import orjson
from _api_helpers import TOKEN, Feeder, limit_buy_at_touch, make_node, run, started

from tradecore.api.auth import Auth


async def _recv(ws, n: int, timeout: float = 5.0) -> list[dict]:
    out = []
    for _ in range(n):
        msg = await asyncio.wait_for(ws.receive(), timeout)
        assert msg.type == aiohttp.WSMsgType.TEXT, msg
        out.append(orjson.loads(msg.data))
    return out


def test_subscribe_when_connected_sends_one_snapshot_per_topic_then_updates():
    async def go():
        node = make_node()
        f = Feeder(node)
        f.until_books()
        server = await started(node, sample_period_s=3600)     # sampling off: explicit flush
        try:
            async with aiohttp.ClientSession() as s, s.ws_connect(server.url + "/ws") as ws:
                await ws.send_json({"op": "subscribe", "topics": ["pnl", "risk", "orders",
                                                                  "fills", "top"]})
                snaps = await _recv(ws, 5)
                node.exec.submit(limit_buy_at_touch(node, "ws-1"))
                f.feed(300)
                server.hub.flush()
                updates = []
                while not any(u["topic"] == "fills" for u in updates):
                    updates += await _recv(ws, 1)
                return snaps, updates, dict(server.hub.seq)
        finally:
            await server.stop()
    snaps, updates, seq = run(go())
    assert [m["topic"] for m in snaps] == ["pnl", "risk", "orders", "fills", "top"]
    assert all(m["type"] == "snapshot" for m in snaps)
    assert snaps[0]["data"]["equity"] > 0 and snaps[4]["data"][0]["bid"] > 0
    orders = [u for u in updates if u["topic"] == "orders"]
    assert orders[0]["type"] == "update" and orders[0]["data"]["client_order_id"] == "ws-1"
    assert [u["seq"] for u in orders] == sorted(u["seq"] for u in orders)
    fill = next(u for u in updates if u["topic"] == "fills")
    assert fill["data"]["qty"] == 10


def test_resubscribe_when_reconnecting_gets_a_snapshot_with_the_current_seq():
    async def go():
        node = make_node()
        server = await started(node, sample_period_s=3600)
        try:
            for _ in range(3):
                server.hub.publish("risk", {"x": 1})
            async with aiohttp.ClientSession() as s, s.ws_connect(server.url + "/ws") as ws:
                await ws.send_json({"op": "subscribe", "topics": ["risk"]})
                return (await _recv(ws, 1))[0]
        finally:
            await server.stop()
    snap = run(go())
    assert snap["type"] == "snapshot" and snap["seq"] == 3
    assert snap["data"]["trading_state"] == "ACTIVE"


def test_subscribe_when_topic_unknown_or_request_malformed_answers_an_error():
    async def go():
        server = await started(make_node())
        try:
            async with aiohttp.ClientSession() as s, s.ws_connect(server.url + "/ws") as ws:
                await ws.send_json({"op": "subscribe", "topics": ["nope"]})
                await ws.send_str("{bad")
                await ws.send_json({"op": "dance"})
                return await _recv(ws, 3)
        finally:
            await server.stop()
    errs = run(go())
    assert all(e["type"] == "error" for e in errs)
    assert "unknown topics" in errs[0]["error"]


def test_subscribe_when_bound_beyond_loopback_needs_auth_first():
    async def go():
        server = await started(make_node(), auth=Auth("10.0.0.9", TOKEN))
        try:
            async with aiohttp.ClientSession() as s, s.ws_connect(server.url + "/ws") as ws:
                await ws.send_json({"op": "subscribe", "topics": ["risk"]})
                refused = (await _recv(ws, 1))[0]
                await ws.send_json({"op": "auth", "token": "wrong"})
                wrong = (await _recv(ws, 1))[0]
                await ws.send_json({"op": "auth", "token": TOKEN})
                await ws.send_json({"op": "subscribe", "topics": ["risk"]})
                return refused, wrong, await _recv(ws, 2)
        finally:
            await server.stop()
    refused, wrong, ok = run(go())
    assert refused["type"] == "error" and "auth" in refused["error"]
    assert wrong["type"] == "error"
    assert ok[0] == {"type": "auth", "ok": True} and ok[1]["type"] == "snapshot"


async def _stalled_client(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A WebSocket client that subscribes and then never reads (tiny receive buffer)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=1024)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    await reader.readuntil(b"\r\n\r\n")
    payload = orjson.dumps({"op": "subscribe", "topics": ["pnl"]})
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)
    await writer.drain()
    return reader, writer


def test_publish_when_a_client_stops_reading_drops_it_without_blocking():
    async def go():
        node = make_node()
        server = await started(node, ws_queue_size=8, sample_period_s=3600)
        hub = server.hub
        try:
            reader, writer = await _stalled_client(server.port)
            async with aiohttp.ClientSession() as s, s.ws_connect(server.url + "/ws") as fast:
                await fast.send_json({"op": "subscribe", "topics": ["pnl"]})
                await _recv(fast, 1)
                while len(hub.clients) < 2:
                    await asyncio.sleep(0.01)
                big = {"blob": "x" * 200_000}
                worst = 0.0
                received = 0
                for _ in range(400):
                    t = time.perf_counter()
                    hub.publish("pnl", big)
                    worst = max(worst, time.perf_counter() - t)
                    await asyncio.sleep(0)
                    while True:                  # the fast client keeps up
                        try:
                            await asyncio.wait_for(fast.receive(), 0.05)
                            received += 1
                        except asyncio.TimeoutError:
                            break
                    if hub.dropped:
                        break
                writer.close()
                return hub.dropped, worst, received, len(hub.clients)
        finally:
            await server.stop()
    dropped, worst, received, clients = run(go())
    assert dropped == 1
    assert clients == 1                       # the fast one stays
    assert received > 8                       # ...and kept getting updates
    assert worst < 0.05                       # publish never waited for the socket
