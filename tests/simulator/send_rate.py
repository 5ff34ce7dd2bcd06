"""How many messages per second the simulator pushes to one loopback client.

    PYTHONPATH=src .venv/bin/python tests/simulator/send_rate.py [--runs 3]

Not a pytest module (the figure depends on the machine). The client is a raw picows client that
only counts frames, in its own process (so that it does not share the server's core); it reports
the time from its first frame to its last; the server's own cost is its process CPU time per
message sent (the client's Python callback, ~1-2 us a frame, is the bottleneck of the first
figure). Three servers are measured on the same real messages
(hbt_spot_btcusdt_20240808: depth@100ms + trade + bookTicker, 41,248 frames):

  picows send    a bare picows server calling transport.send() once per message (the floor
                 the simulator's batching is meant to beat)
  simulator      ExchangeSimulator, as fast as possible, book kept by the normalizer
  simulator x4   the same with four clients (aggregate messages/s)
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import time


def _client(url: str, expect: int, conn) -> None:
    import uvloop
    from picows import WSListener, WSMsgType, ws_connect

    class Counter(WSListener):
        def __init__(self) -> None:
            self.n = 0
            self.first = 0.0
            self.last = 0.0
            self.done = asyncio.get_running_loop().create_future()

        def on_ws_frame(self, transport, frame) -> None:
            if frame.msg_type != WSMsgType.TEXT:
                return
            if self.n == 0:
                self.first = time.perf_counter()
            self.n += 1
            if self.n >= expect:
                self.last = time.perf_counter()
                if not self.done.done():
                    self.done.set_result(None)

    async def main() -> None:
        tr, c = await ws_connect(Counter, url, max_frame_size=64 << 20)
        conn.send("ready")
        try:
            await asyncio.wait_for(c.done, 120)
            conn.send((c.n, c.last - c.first))
        except asyncio.TimeoutError:
            conn.send((c.n, float("nan")))
        tr.disconnect()

    uvloop.run(main())


def _spawn(url: str, expect: int):
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_client, args=(url, expect, child), daemon=True)
    p.start()
    return p, parent


async def _wait(conn, timeout: float = 60.0):
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: conn.recv() if conn.poll(timeout) else None)


async def measure_simulator(clients: int) -> float:
    from tradecore.simulator import ExchangeSimulator

    sim = ExchangeSimulator(["binance"], speed=0, paused=True, ping_interval=None)
    await sim.start()
    try:
        url = sim.ws_url("binance") + \
            "/stream?streams=btcusdt@depth@100ms/btcusdt@trade/btcusdt@bookTicker"
        expect = sum(1 for e in sim.venues["binance"].events
                     if e.topic in ("btcusdt@depth@100ms", "btcusdt@trade", "btcusdt@bookTicker"))
        procs = [_spawn(url, expect) for _ in range(clients)]
        for _, conn in procs:
            assert await _wait(conn) == "ready"
        await asyncio.sleep(0.2)
        cpu0 = time.process_time()
        sim.resume()
        await sim.wait_finished("binance", 120)
        cpu = time.process_time() - cpu0
        results = [await _wait(conn) for _, conn in procs]
        for p, _ in procs:
            p.join(5)
        total = sum(n for n, _ in results)
        return total / max(dt for _, dt in results), cpu / total * 1e6
    finally:
        await sim.close()


async def measure_picows_send() -> float:
    """A bare picows server: one transport.send() per recorded message."""
    from picows import WSListener, WSMsgType, ws_create_server
    from tradecore.data import SAMPLES
    from tradecore.data.capture import WS, read_capture

    payloads = [r.payload for r in read_capture(SAMPLES / "hbt_spot_btcusdt_20240808.gz")
                if r.kind == WS]
    go = asyncio.Event()
    sessions = []

    class Sender(WSListener):
        def on_ws_connected(self, transport) -> None:
            sessions.append(transport)

    server = await ws_create_server(lambda req: Sender(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    p, conn = _spawn(f"ws://127.0.0.1:{port}/", len(payloads))
    assert await _wait(conn) == "ready"
    await asyncio.sleep(0.2)
    tr = sessions[0]
    raw = tr.underlying_transport
    send = tr.send
    text = WSMsgType.TEXT
    cpu0 = time.process_time()
    for i in range(0, len(payloads), 256):
        for m in payloads[i:i + 256]:
            send(text, m)
        while raw.get_write_buffer_size() > 1 << 20:
            await asyncio.sleep(0.0005)
        await asyncio.sleep(0)
    cpu = time.process_time() - cpu0
    del go
    n, dt = await _wait(conn)
    p.join(5)
    server.close()
    return n / dt, cpu / n * 1e6


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import uvloop

    rows = []
    for name, fn in (("picows send, 1 client", measure_picows_send),
                     ("simulator, 1 client", lambda: measure_simulator(1)),
                     ("simulator, 4 clients (aggregate)", lambda: measure_simulator(4))):
        got = [uvloop.run(fn()) for _ in range(args.runs)]
        rates = [r for r, _ in got]
        cpu = [c for _, c in got]
        rows.append((name, statistics.median(rates), max(rates), statistics.median(cpu)))
    print("client-observed rate (first to last frame) and the server's CPU per message sent")
    for name, med, best, cpu in rows:
        print(f"{name:<34} median {med:>10,.0f} msg/s  best {best:>10,.0f} msg/s  "
              f"server {cpu:5.2f} us CPU/msg (= {1e6 / cpu:>10,.0f} msg/s per core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
