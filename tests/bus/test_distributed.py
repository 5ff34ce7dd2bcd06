"""A feed node, an execution node and two strategy nodes as separate processes over a real
nats-server, in lockstep replay (docs/distributed.md), against the single-process run of the
same recording and config: the books the strategies were shown, every order, every fill and
the strategies' counters are equal, including when the server is killed mid-run."""
from __future__ import annotations

import time

import pytest

from tradecore.bus.reference import single_process_result
from tradecore.config import load

import json
import signal

from _bus_cluster import LIMIT, connections, node, run, stream_messages, write_config


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    cfg = write_config(tmp_path_factory.mktemp("ref") / "bus.toml", "nats://127.0.0.1:1")
    return single_process_result(load(cfg), limit=LIMIT)


def _assert_same_as_single_process(res: dict, ref: dict) -> None:
    ex, a, b = res["execution"], res["a"], res["b"]
    assert ref["orders"], "the reference run must trade for this test to mean anything"
    assert a["book_digest"] == ref["book_digest"]
    assert b["book_digest"] == ref["book_digest"]
    assert ex["orders"] == ref["orders"]
    assert ex["fills"] == ref["fills"]
    assert b["fills"] == ref["fills"]                 # the strategy node's view of its fills
    assert a["counters"]["xarb"] == ref["counters"]["xarb"]
    assert b["counters"]["basis"] == ref["counters"]["basis"]
    assert ex["realized_pnl"] == pytest.approx(ref["realized_pnl"], abs=1e-9)
    assert ex["commands"] == len(ref["orders"])       # each order applied once
    assert b["orders"] == [o for o in ref["orders"] if o[0].startswith("basis")]


def test_nodes_equal_single_process_when_replayed_in_lockstep(nats_server, tmp_path, reference):
    cfg = write_config(tmp_path / "bus.toml", nats_server.url)
    res = run(cfg, tmp_path)
    assert res["feed"]["records"] == LIMIT
    _assert_same_as_single_process(res, reference)
    assert res["execution"]["duplicate_commands"] == 0
    assert {k: v for k, v in res["execution"]["problems"].items() if k.startswith("bus")} == {}


def test_nodes_recover_without_losing_or_repeating_an_order_when_nats_is_killed_mid_run(
        nats_server, tmp_path, reference):
    cfg = write_config(tmp_path / "bus.toml", nats_server.url)
    state = {"killed": False}

    def kill_midway(procs) -> None:
        # between the first and the last orders of the run (the reference run submits at book
        # steps 443-909 of 1081; each step is a Done from each of the two strategy nodes on
        # the orders stream), SIGKILL the server, leave it down for a second, start it again
        # on the same store
        if state["killed"] or stream_messages(nats_server.monitor_port, "TC_ORDERS") < 1200:
            return
        nats_server.kill()
        state["killed"] = True
        time.sleep(1.0)
        nats_server.start()

    res = run(cfg, tmp_path, during=kill_midway)
    assert state["killed"]
    for node in ("execution", "a", "b"):
        assert res[node]["disconnects"] >= 1, f"{node} never saw the server go away"
    # orders were applied both before and after the outage: the kill hit a trading run
    by_outage = res["execution"]["commands_by_disconnects"]
    assert by_outage.get("0", 0) > 0 and sum(v for k, v in by_outage.items() if k != "0") > 0, \
        by_outage
    _assert_same_as_single_process(res, reference)


def _free_config(tmp_path, url: str):
    cfg = tmp_path / "bus.toml"
    cfg.write_text(write_config(tmp_path / "x.toml", url).read_text()
                   .replace("lockstep = true", "lockstep = false")
                   .replace("fresh = true", "fresh = false"))
    return cfg


def test_strategy_node_starts_from_the_snapshot_stream_when_it_joins_after_the_feed(
        nats_server, tmp_path, reference):
    """Free-running: the feed has published everything before the strategy node starts. The
    node takes each book's newest snapshot, reads the md stream from the delta that snapshot
    is current at, and ends with the single-process run's books."""
    cfg = _free_config(tmp_path, nats_server.url)
    feed = node("feed", "feed", cfg, tmp_path, "--limit", str(LIMIT))
    assert feed.wait(120) == 0
    ex = node("execution", "execution", cfg, tmp_path)
    b = node("b", "strategy", cfg, tmp_path, "--name", "b")
    try:
        assert ex.wait(120) == 0 and b.wait(120) == 0
    finally:
        for p in (ex, b):
            if p.poll() is None:
                p.kill()
                p.wait(5)
    rb = json.loads((tmp_path / "b.json").read_text())
    assert rb["books"] == reference["books"]
    assert rb["problems"] == {}
    # it joined late: it was shown fewer books than the single-process strategies were
    assert rb["counters"]["basis"]["bars"] < reference["counters"]["basis"]["bars"]


def test_feed_node_is_not_held_back_when_a_strategy_node_stops_reading(
        nats_server, tmp_path, reference):
    """Free-running (the live shape): a strategy node frozen (SIGSTOP) while the feed publishes
    the whole recording. The feed finishes regardless; the frozen node, thawed, reads what it
    missed from the stream and ends with the same books as the single-process run."""
    cfg = _free_config(tmp_path, nats_server.url)
    ex = node("execution", "execution", cfg, tmp_path)
    b = node("b", "strategy", cfg, tmp_path, "--name", "b")
    try:
        end = time.monotonic() + 30
        while connections(nats_server.monitor_port) < 2:
            assert time.monotonic() < end, "the nodes did not connect"
            time.sleep(0.1)
        time.sleep(1.0)                     # b has opened its readers
        b.send_signal(signal.SIGSTOP)
        feed = node("feed", "feed", cfg, tmp_path, "--limit", str(LIMIT))
        assert feed.wait(120) == 0
        assert b.poll() is None             # still frozen: the feed did not wait for it
        b.send_signal(signal.SIGCONT)
        assert ex.wait(120) == 0 and b.wait(120) == 0
    finally:
        for p in (ex, b):
            if p.poll() is None:
                p.send_signal(signal.SIGCONT)
                p.kill()
                p.wait(5)
    fed = json.loads((tmp_path / "feed.json").read_text())
    rb = json.loads((tmp_path / "b.json").read_text())
    assert fed["records"] == LIMIT
    assert rb["books"] == reference["books"]
    assert rb["counters"]["basis"]["bars"] == reference["counters"]["basis"]["bars"]
