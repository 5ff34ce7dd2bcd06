"""How long a Binance order takes from an Order object to the WebSocket API frame bytes.

    python benchmarks/bench_order_encode.py [--quick]

The issue's budget is "order from strategy call to serialized bytes <= 5 us" for the whole path
(risk gate, OMS, encoder: bench_order_path.py); this measures the encoder alone
(`venues.binance.execution.encode_order`: type mapping, exact decimal text, alphabetical params,
HMAC-SHA256, JSON bytes; and `encode_order_session`, the unsigned frame of a connection logged
on once with an Ed25519 key), beside references measured in the same run:

  reference   the obvious way: a params dict, `"&".join(sorted(...))` payload, `hmac.new(...)
              .hexdigest()`, then `json.dumps` of the request dict with the signature, `.encode()`
              (prices from Instrument.price_text / qty_text, as the encoder's must equal)
  context     hmac.digest alone on the same payload; Instrument.price_text vs the encoder's
              integer grid formatter; the timer's own cost

Each figure: median and p99 of per-call times. Samples are batches of 200 calls timed with
perf_counter_ns (median of batch/200), and single calls timed one by one for the p99 (timer
cost included, shown as its own row).
"""
from __future__ import annotations

import argparse
import gc
import hashlib
import hmac
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tradecore.core.instrument import Instrument  # noqa: E402
from tradecore.core.orders import Order, OrderType, Side  # noqa: E402
from tradecore.venues.binance.execution import (_Grid, encode_order,  # noqa: E402
                                                encode_order_session)

BUDGET_NS = 5_000          # the whole order path (issue 4)
TARGET_NS = 2_000          # the encoder's share we aim for

INST = Instrument("binance", "BTCUSDT", tick="0.01", lot="0.00001", base="BTC", quote="USDT")
KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
SECRET = b"NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
LIMIT = Order("strat1-000123", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 1234,
              price=6_183_763)
MARKET = Order("strat1-000124", "binance", "BTCUSDT", Side.SELL, OrderType.MARKET, 50_000)


def reference(order: Order, inst: Instrument, api_key: str, secret: bytes, ts_ms: int,
              recv_window: int) -> bytes:
    params = {"symbol": inst.symbol, "side": "BUY" if order.side == Side.BUY else "SELL",
              "type": "LIMIT", "timeInForce": "GTC", "price": inst.price_text(order.price),
              "quantity": inst.qty_text(order.qty), "newClientOrderId": order.client_order_id,
              "newOrderRespType": "ACK", "recvWindow": recv_window, "timestamp": ts_ms,
              "apiKey": api_key}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return json.dumps({"id": order.client_order_id, "method": "order.place",
                       "params": params}).encode()


def timed(fn, batches: int, batch: int = 200, singles: int = 2000) -> tuple[float, float]:
    """(median ns per call over batches, p99 ns of single calls)."""
    for _ in range(200):
        fn()
    gc.disable()
    try:
        per = []
        for _ in range(batches):
            t0 = time.perf_counter_ns()
            for _ in range(batch):
                fn()
            per.append((time.perf_counter_ns() - t0) / batch)
        one = []
        pc = time.perf_counter_ns
        for _ in range(singles):
            t0 = pc()
            fn()
            one.append(pc() - t0)
    finally:
        gc.enable()
    one.sort()
    return statistics.median(per), one[int(len(one) * 0.99)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    batches = 30 if args.quick else 300
    ts = 1_795_600_000_000

    ours = encode_order(LIMIT, INST, KEY, SECRET, ts, 5000)
    ref = reference(LIMIT, INST, KEY, SECRET, ts, 5000)
    a, b = json.loads(ours), json.loads(ref)
    assert a["params"] == b["params"], (a, b)          # same request, same signature
    u = json.loads(encode_order_session(LIMIT, INST, ts, 5000))
    assert u["params"] == {k: v for k, v in b["params"].items()
                           if k not in ("apiKey", "signature")}, u

    payload = ("&".join(f"{k}={v}" for k, v in sorted(a["params"].items())
                        if k != "signature")).encode()
    grid = _Grid(INST.tick)
    rows = [
        ("encode_order_session LIMIT (logon)", lambda: encode_order_session(LIMIT, INST, ts,
                                                                            5000), True),
        ("encode_order_session MARKET (logon)", lambda: encode_order_session(MARKET, INST, ts,
                                                                             5000), True),
        ("encode_order LIMIT", lambda: encode_order(LIMIT, INST, KEY, SECRET, ts, 5000), True),
        ("encode_order MARKET", lambda: encode_order(MARKET, INST, KEY, SECRET, ts, 5000), True),
        ("reference json.dumps + hmac.new", lambda: reference(LIMIT, INST, KEY, SECRET, ts,
                                                              5000), False),
        ("context hmac.digest(payload)", lambda: hmac.digest(SECRET, payload, "sha256").hex(),
         False),
        ("context Instrument.price_text", lambda: INST.price_text(6_183_763), False),
        ("context _Grid.text", lambda: grid.text(6_183_763), False),
        ("context timer (empty call)", lambda: None, False),
    ]
    print(f"{'stage':36s} {'median':>9s} {'p99':>9s}   budget")
    results = {}
    for name, fn, budgeted in rows:
        med, p99 = timed(fn, batches)
        results[name] = med
        note = (f"target {TARGET_NS} ns, whole path <= {BUDGET_NS} ns: "
                f"{'OK' if med <= TARGET_NS else 'OVER-TARGET'}") if budgeted else ""
        print(f"{name:36s} {med:7.0f}ns {p99:7.0f}ns   {note}")
    r = results["reference json.dumps + hmac.new"] / results["encode_order LIMIT"]
    print(f"\nencode_order LIMIT is {r:.2f}x faster than the reference in this run")
    r = results["encode_order LIMIT"] / results["encode_order_session LIMIT (logon)"]
    print(f"encode_order_session LIMIT is {r:.2f}x faster than the signed encode_order")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
