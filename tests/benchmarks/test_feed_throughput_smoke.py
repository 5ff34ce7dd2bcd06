"""Smoke test of benchmarks/feed_throughput.py --quick: it runs end to end (simulator in its own
process, the three socket clients, the client-alone replays), every figure is finite and positive,
and the feed's book ended in sync. Not a speed assertion: the exit code is not checked."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "feed_throughput.py"
SAMPLE = ROOT / "src" / "tradecore" / "data" / "samples" / "hbt_spot_btcusdt_20240808.gz"

pytest.importorskip("websockets")
pytest.importorskip("uvloop")


def _json(p: subprocess.CompletedProcess) -> dict:
    """The script's one JSON line; a run that raised (exit 1, nothing on stdout) fails with
    its traceback rather than a JSONDecodeError (seen once in a loaded local run)."""
    try:
        return json.loads(p.stdout)
    except ValueError:
        pytest.fail(f"no JSON on stdout (exit {p.returncode}); stderr: {p.stderr[-3000:]}")


def test_feed_throughput_quick():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    # the bundled (smaller) recording keeps the quick path short; the timeout only catches a hang
    p = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", "--data", str(SAMPLE)],
                       capture_output=True, text=True, timeout=180, env=env, cwd=str(ROOT))
    assert p.returncode in (0, 1), p.stderr[-3000:]
    out = _json(p)
    assert out["seconds"] > 0
    assert out["data"]["messages"] > 0 and out["data"]["depth_messages"] > 0
    keys = {f["key"] for f in out["figures"]}
    assert {"socket_all", "socket_depth", "socket_ceiling", "client_all", "client_depth"} <= keys
    for f in out["figures"]:
        v = f["msgs_per_s"]
        assert v is not None and math.isfinite(v) and v > 0, f
        if f["reference"]:
            assert f["reference_msgs_per_s"] and f["reference_msgs_per_s"] > 0, f
        assert f["ok"], f
    for c in out["feed_checks"]:
        assert c["gaps"] == 0 and c["top_checks_bad"] == 0, c
        assert c["in_sync"] and c["book_valid"] and c["unrecovered"] == 0, c
        assert c["snapshots"] >= 1, c


def test_feed_throughput_blast_rounds_end_in_sync_when_run_small():
    """The blast rounds (the simulator's pre-encoded depth stream): every client gets every
    frame, the feed's book ends equal to the fault-free replay of the same frames. Small blast,
    one round: correctness only, the rate is not checked."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    p = subprocess.run([sys.executable, str(SCRIPT), "--blast-only", "--blast", "1",
                        "--blast-frames", "8000", "--json", "--data", str(SAMPLE)],
                       capture_output=True, text=True, timeout=180, env=env, cwd=str(ROOT))
    assert p.returncode in (0, 1), p.stderr[-3000:]
    out = _json(p)
    figs = {f["key"]: f for f in out["figures"]}
    assert set(figs) == {"socket_blast", "socket_blast_ceiling"}
    for f in figs.values():
        assert f["ok"] and f["msgs_per_s"] and math.isfinite(f["msgs_per_s"]), f
    assert figs["socket_blast"]["reference_msgs_per_s"] > 0
    (c,) = out["blast_checks"]
    assert c["frames"] - c["blast_frames"] >= 0 and c["diffs_applied_timed"] == c["blast_frames"]
    assert c["gaps"] == 0 and c["in_sync"] and c["book_valid"] and c["unrecovered"] == 0, c
    assert c["levels_equal_to_replay_from_top"] >= 500 and c["top"] == c["ref_top"], c
    (s,) = out["blast_sender"]
    assert s["done"] and s["sent"] == s["bytes"], s
    (w,) = out["blast_reference_client"]
    assert w["top"][0][0] == w["ref_top"][0][0] and w["top"][1][0] == w["ref_top"][1][0], w
