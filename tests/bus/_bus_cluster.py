"""Running a distributed replay for the tests: a feed node, an execution node and two strategy
nodes as separate processes (`python -m tradecore node ...`) against a real nats-server."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"

# the bundled default run (two Binance BTCUSDT books, cross-exchange arb + pairs) with the
# pairs windows shortened so that it trades within the first 6000 records (1081 book steps,
# 12 orders at steps 443-909, one IOC that expires part-filled): a run of seconds, not minutes
CONFIG = """
[bus]
enabled = true
url = "{url}"
account = "main"
lockstep = true
fresh = true
snapshot_every = 200

[bus.nodes.a]
strategies = ["xarb"]

[bus.nodes.b]
strategies = ["basis"]

[[strategies]]
id = "xarb"
kind = "cross_exchange"

[strategies.settings]
venues = [["binance", "BTCUSDT"], ["binance_usdm", "BTCUSDT"]]
max_qty = 0.5
min_edge_bps = 1.0

[[strategies]]
id = "basis"
kind = "pairs"

[strategies.settings]
leg_y = ["binance", "BTCUSDT"]
leg_x = ["binance_usdm", "BTCUSDT"]
notional = 20000
bar_interval_s = 1
hedge = "ols"
window = 8
z_window = 8
entry_z = 1.5
exit_z = 0.5
stop_z = 4.0
max_bars = 10
"""
LIMIT = 6000


def write_config(path: Path, url: str) -> Path:
    path.write_text(CONFIG.format(url=url))
    return path


def node(tag: str, role: str, cfg: Path, out: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    with open(out / f"{tag}.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tradecore", "node", role, "--config", str(cfg), "--result",
             str(out / f"{tag}.json"), *extra], env=env, stdout=subprocess.DEVNULL, stderr=log)


def connections(monitor_port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/connz", timeout=2) as r:
        return json.load(r)["num_connections"]


def stream_messages(monitor_port: int, stream: str) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{monitor_port}/jsz?streams=1", timeout=2) as r:
        d = json.load(r)
    for acc in d.get("account_details", []):
        for s in acc.get("stream_detail", []):
            if s["name"] == stream:
                return s["state"]["messages"]
    return 0


def run(cfg: Path, out: Path, limit: int = LIMIT, during=None, timeout: float = 240.0) -> dict:
    """Feed first (it empties the streams, then publishes the recording and exits), then the
    execution node and both strategy nodes together. `during(procs)` is called every 50 ms
    while they run (the fault-injection hook). Returns each node's result."""
    feed = node("feed", "feed", cfg, out, "--limit", str(limit))
    assert feed.wait(timeout) == 0, (out / "feed.log").read_text()[-3000:]
    procs = {"execution": node("execution", "execution", cfg, out),
             "a": node("a", "strategy", cfg, out, "--name", "a"),
             "b": node("b", "strategy", cfg, out, "--name", "b")}
    end = time.monotonic() + timeout
    try:
        while any(p.poll() is None for p in procs.values()):
            if time.monotonic() > end:
                raise TimeoutError(f"nodes still running after {timeout} s")
            if during is not None:
                during(procs)
            time.sleep(0.05)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(5)
    for name, p in procs.items():
        assert p.returncode == 0, f"{name} exited {p.returncode}: " + "".join(
            f.read_text()[-3000:] for f in out.glob("*.log"))
    return {tag: json.loads((out / f"{tag}.json").read_text())
            for tag in ("feed", "execution", "a", "b")}
