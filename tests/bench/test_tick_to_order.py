"""`tradecore bench tick-to-order`: the figures' shape and the path they time (not the speed:
benchmarks/ and the command itself report that)."""
from __future__ import annotations

import json

from tradecore.bench import tick_to_order as t2o


def test_run_times_every_stage_of_each_tick_when_the_recording_replays():
    r = t2o.run(passes=1, max_frames=4000)
    assert r["ticks"] > 100 and r["frames"] == 4000
    # every opportunity goes out as its two IOC legs (a frame may carry more than one book
    # change, hence more than one opportunity), none denied, nothing broken
    assert r["orders"] >= 2 * r["ticks"] and r["orders"] % 2 == 0
    assert r["denied"] == 0 and r["problems"] == 0
    # as in live mode, every order's intent is in the run's journal before it is sent
    assert r["journaled"] >= r["orders"]
    assert set(r["stages"]) == set(t2o.STAGES)
    for s in list(r["stages"].values()) + [r["reference"]["json_loads"]]:
        assert 0 < s["p50_ns"] <= s["p99_ns"] <= s["p999_ns"]
    # the stages partition the path: their medians cannot exceed the end-to-end p99
    assert sum(s["p50_ns"] for s in r["stages"].values()) <= r["p99_ns"]
    assert r["p50_ns"] <= r["p99_ns"] <= r["p999_ns"]


def test_main_prints_one_json_line_with_the_issue_fields_when_json(capsys):
    assert t2o.main(["--json", "--frames", "3000"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    r = json.loads(lines[0])
    assert isinstance(r["ticks"], int) and r["ticks"] > 0
    for k in ("p50_ns", "p99_ns", "p999_ns"):
        assert isinstance(r[k], int) and r[k] > 0
    assert set(r["stages"]) == set(t2o.STAGES) and r["key"] == "ed25519"


def test_hmac_key_signs_every_frame_when_asked():
    r = t2o.run(passes=1, key_kind="hmac", max_frames=3000)
    assert r["key"] == "hmac" and r["ticks"] > 0 and r["denied"] == 0
