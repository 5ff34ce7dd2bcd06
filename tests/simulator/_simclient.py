"""A minimal WebSocket test client for the simulator tests: a picows client that keeps every
frame it receives (copied: picows frames are borrowed), with its receive time, and how the
connection ended."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import aiohttp
import orjson
import uvloop
from picows import WSListener, WSMsgType, ws_connect

from tradecore.simulator import ExchangeSimulator


class Client(WSListener):
    def __init__(self, auto_close_reply: bool = True) -> None:
        super().__init__()
        self.frames: list[bytes] = []          # TEXT payloads, in order
        self.times: list[float] = []
        self.binary: list[bytes] = []
        self.pings = 0
        self.pongs = 0
        self.close_code = None                 # code of a close frame received, if any
        self.close_reason = ""
        self.disconnected = asyncio.get_running_loop().create_future()
        self.auto_close_reply = auto_close_reply
        self.transport = None

    def on_ws_connected(self, transport) -> None:
        self.transport = transport

    def on_ws_frame(self, transport, frame) -> None:
        mt = frame.msg_type
        if mt == WSMsgType.TEXT:
            self.frames.append(frame.get_payload_as_bytes())
            self.times.append(time.monotonic())
        elif mt == WSMsgType.BINARY:
            self.binary.append(frame.get_payload_as_bytes())
        elif mt == WSMsgType.PING:
            self.pings += 1
        elif mt == WSMsgType.PONG:
            self.pongs += 1
        elif mt == WSMsgType.CLOSE:
            self.close_code = frame.get_close_code()
            self.close_reason = frame.get_close_reason()
            if self.auto_close_reply:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    def on_ws_disconnected(self, transport) -> None:
        if not self.disconnected.done():
            self.disconnected.set_result(time.monotonic())

    def send_json(self, obj) -> None:
        self.transport.send(WSMsgType.TEXT, orjson.dumps(obj))

    def json(self) -> list:
        return [orjson.loads(f) for f in self.frames]


async def connect(url: str, **kw) -> Client:
    _, client = await ws_connect(lambda: Client(), url, **kw)
    return client


async def until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Wait until cond() is true (polling), or fail the test naming what was awaited."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")
        await asyncio.sleep(0.005)


async def settle(client: Client, quiet: float = 0.05, timeout: float = 10.0) -> None:
    """Wait until the client has received nothing new for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    n = -1
    while n != len(client.frames):
        n = len(client.frames)
        await asyncio.sleep(quiet)
        if time.monotonic() > deadline:
            raise AssertionError("client never went quiet")


async def rest_get(sim: ExchangeSimulator, path: str) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession() as http:
        async with http.get(sim.rest_url + path) as r:
            return r.status, dict(r.headers), await r.read()


async def rest_post(sim: ExchangeSimulator, path: str, body) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as http:
        async with http.post(sim.rest_url + path, data=orjson.dumps(body)) as r:
            return r.status, await r.read()


def run(body: Callable[[ExchangeSimulator], Awaitable[None]], venues=("binance",),
        timeout: float = 20.0, **kw) -> None:
    """Start a simulator, run the test body against it under uvloop, always close it."""
    async def main() -> None:
        sim = ExchangeSimulator(venues, **kw)
        await sim.start()
        try:
            await asyncio.wait_for(body(sim), timeout)
        finally:
            await sim.close()
    uvloop.run(main())
