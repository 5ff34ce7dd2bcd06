"""`tradecore bench tick-to-order`: the figures' shape and the path they time (not the speed:
benchmarks/ and the command itself report that)."""
from __future__ import annotations

import json
import os

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
    # ... through the journal's twin where there is a tmpfs (this session's, tests/conftest.py)
    from tradecore.execution.journal import twin_directory
    want = twin_directory()
    assert r["journal_twin_dir"] == (None if want is None else str(want))
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


def test_by_frame_size_when_ticks_span_sizes_splits_every_tick_into_one_bucket():
    out = {"frame_bytes": [100, 1023, 1024, 5000, 8192, 20000],
           "end_to_end": [10, 11, 20, 40, 80, 90], "parse_book": [1, 2, 3, 4, 5, 6],
           "ref_json_loads": [5, 6, 7, 8, 9, 10]}
    b = t2o.by_frame_size(out)
    assert list(b) == [label for label, _, _ in t2o.FRAME_SIZES]
    assert [v["ticks"] for v in b.values()] == [2, 1, 1, 2]
    assert b["<1KB"]["end_to_end"]["p50_ns"] == 10          # median of 10 and 11, as ints
    assert b[">=8KB"]["parse_book"]["p99_ns"] == 5          # 5 .. 6: p99 of two
    assert b["1-4KB"]["json_loads"] == {"p50_ns": 7, "p99_ns": 7, "p999_ns": 7}
    assert b["4-8KB"]["end_to_end"] == {"p50_ns": 40, "p99_ns": 40, "p999_ns": 40}


def test_by_frame_size_when_a_bucket_is_empty_reports_zero_ticks_and_zeros():
    b = t2o.by_frame_size({"frame_bytes": [10], "end_to_end": [5], "parse_book": [1],
                           "ref_json_loads": [2]})
    assert b[">=8KB"] == {"ticks": 0, "end_to_end": {"p50_ns": 0, "p99_ns": 0, "p999_ns": 0},
                          "parse_book": {"p50_ns": 0, "p99_ns": 0, "p999_ns": 0},
                          "json_loads": {"p50_ns": 0, "p99_ns": 0, "p999_ns": 0}}


def test_run_reports_frame_sizes_and_shootdowns_when_the_recording_replays():
    r = t2o.run(passes=1, max_frames=3000)
    assert sum(b["ticks"] for b in r["by_frame_size"].values()) == r["ticks"]
    sd = r["machine"]["tlb_shootdowns"]
    assert sd is None or (isinstance(sd, int) and sd >= 0)
    if os.path.exists("/proc/interrupts") and "TLB:" in open("/proc/interrupts").read():
        assert sd is not None
    st = r["machine"]["stalls"]
    assert set(st) == {"gaps_over_20us_per_s", "gaps_over_40us_per_s", "lost_pct"}
    assert 0 <= st["gaps_over_40us_per_s"] <= st["gaps_over_20us_per_s"]
    assert 0 <= st["lost_pct"] < 100


def test_machine_stalls_when_the_clock_jumps_counts_each_gap_by_its_size(monkeypatch):
    # clock reads 100 ns to 4 us apart, with gaps of 6, 25 and 50 us, until past the 90 us end
    ticks = [0, 100, 200, 6_200, 6_300, 31_300, 31_400, 81_400, 81_500, 85_000, 89_000, 90_100]
    it = iter(ticks)
    monkeypatch.setattr(t2o.time, "perf_counter_ns", lambda: next(it))
    g = t2o.machine_stalls(seconds=90e-6)
    assert g == {"seconds": 90e-6, "gaps_over_20us": 2, "gaps_over_40us": 1,
                 "lost_ns": 6_000 + 25_000 + 50_000}
    s = t2o._stalls({"seconds": 0.5, "gaps_over_20us": 3, "gaps_over_40us": 1, "lost_ns": 0},
                    {"seconds": 0.5, "gaps_over_20us": 5, "gaps_over_40us": 2,
                     "lost_ns": 10_000_000})
    assert s == {"gaps_over_20us_per_s": 8, "gaps_over_40us_per_s": 3, "lost_pct": 1.0}


def _ticks(**cols):
    """`out` columns for tail_attribution: six small frames whose stages take 1 us each (the
    medians), then whatever `cols` overrides."""
    n = len(cols["end_to_end"])
    out = {k: [1_000] * n for k in t2o.STAGES}
    out.update({"frame_bytes": [500] * n, "gc_runs": [0] * n, "faults": [0] * n,
                "switches": [0] * n})
    out.update(cols)
    return out


def test_tail_attribution_when_ticks_are_over_the_goal_gives_each_its_first_cause():
    e2e = [5_000] * 6 + [60_000] * 6 + [70_000] * 2
    stall = [1_000] * 14
    stall[10] = 45_000                       # a stage 44 us over its median: a stall ...
    stall[11] = 45_000                       # ... unless a fault explains it
    out = _ticks(end_to_end=e2e, detect_decide=stall,
                 gc_runs=[0] * 6 + [1] + [0] * 7,
                 faults=[0] * 7 + [3, 0, 0, 0, 2, 0, 0],
                 switches=[0] * 8 + [1] + [0] * 5,
                 frame_bytes=[500] * 9 + [9_000] + [500] * 4)
    t = t2o.tail_attribution(out, limit_ns=50_000)
    assert t["ticks"] == 14 and t["over"] == 8
    # ticks 6..13: gc, fault, switch, large frame, stall, fault (stall too), other, other
    assert t["over_by_cause"] == {"gc": 1, "page_fault": 2, "switch": 1, "stall": 1,
                                  "large_frame": 1, "other": 2}
    assert t["ticks_hit"] == {"gc": 1, "page_fault": 2, "switch": 1, "stall": 1}
    # what no collection, fault, switch or stall hit: ticks 0..5, 9, 12 and 13
    assert t["unhit"]["ticks"] == 9 and t["unhit"]["p50_ns"] == 5_000


def test_tail_attribution_when_a_large_frame_parses_long_counts_no_stall():
    # parse + book grows with the frame: 2 ns a byte; a 30 KB frame of the >= 8 KB class
    # parses 40 us longer than that class's median frame and is no stall
    sizes = [10_000, 10_000, 10_000, 30_000]
    out = _ticks(end_to_end=[30_000, 30_000, 30_000, 80_000],
                 parse_book=[2 * b for b in sizes], frame_bytes=sizes)
    t = t2o.tail_attribution(out, limit_ns=50_000)
    assert t["ticks_hit"]["stall"] == 0
    assert t["over_by_cause"]["large_frame"] == 1 and t["over"] == 1


def test_tail_attribution_when_there_are_no_ticks_reports_zeros():
    t = t2o.tail_attribution({k: [] for k in t2o.SAMPLES})
    assert t["ticks"] == 0 and t["over"] == 0 and t["unhit"]["ticks"] == 0
    assert set(t["over_by_cause"]) == set(t2o.CAUSES)


def test_run_counts_collections_in_the_tail_when_the_collector_runs_as_python_sets_it():
    r = t2o.run(passes=1, max_frames=3000, gc_policy="default")
    t = r["tail"]
    assert t["ticks"] == r["ticks"] and t["ticks_hit"]["gc"] > 0
    assert t["over"] == sum(t["over_by_cause"].values())
    assert t["unhit"]["ticks"] <= t["ticks"] - t["ticks_hit"]["gc"]


def test_preload_when_the_recording_is_read_up_front_holds_what_the_node_streams():
    from tradecore.engine import TradingNode
    cfg = t2o.bench_config()
    records, unreadable = t2o.preload(cfg)
    streamed = list(TradingNode(cfg).records())
    assert unreadable == 0
    assert len(records) == len(streamed) > 60_000
    assert [(v, r.kind, r.ts_ns, r.payload) for v, r in records[:2000]] == \
        [(v, r.kind, r.ts_ns, r.payload) for v, r in streamed[:2000]]
    assert {v for v, _ in records} == {"binance", "binance_usdm"}


def test_received_when_frames_grow_returns_each_as_a_new_equal_bytes_object():
    rx = bytearray(8)
    for payload in (b"abc", b"x" * 100, b"yz"):
        got = t2o.received(payload, rx)
        assert got == payload and type(got) is bytes and got is not payload
    assert len(rx) == 100                 # grown once, then reused


def test_one_pass_when_given_preloaded_records_replays_the_same_ticks_as_streaming():
    cfg = t2o.bench_config()
    records, _ = t2o.preload(cfg)
    a = {k: [] for k in t2o.SAMPLES}
    b = {k: [] for k in t2o.SAMPLES}
    ra = t2o.one_pass(cfg, a, max_frames=3000)
    rb = t2o.one_pass(cfg, b, max_frames=3000, records=records)
    assert ra == rb and ra["ticks"] > 100
    assert a["frame_bytes"] == b["frame_bytes"]
