"""Metrics: the fold matches a plain reference, probes record, exposition names are prefixed."""
from __future__ import annotations

import numpy as np
from _api_helpers import Feeder, limit_buy_at_touch, make_node
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from tradecore.api.metrics import BUCKETS_S, EngineMetrics, LatencyRecorder, attach


def _reference_counts(xs: list[int]) -> list[int]:
    """Plain Python: cumulative count of samples <= each bound (Prometheus `le`), then all."""
    bounds = [round(b * 1e9) for b in BUCKETS_S]
    return [sum(1 for x in xs if x <= b) for b in bounds] + [len(xs)]


@given(st.lists(st.lists(st.integers(0, 10_000_000_000), max_size=200), max_size=5))
@settings(max_examples=60, deadline=None)
def test_fold_when_samples_arrive_in_batches_matches_the_reference(batches):
    r = LatencyRecorder()
    everything: list[int] = []
    for b in batches:
        for x in b:
            r.append(x)
        r.fold()
        everything += b
    got = [int(c) for _, c in r.cumulative()]
    assert got == _reference_counts(everything)
    assert r.sum_ns == sum(everything) and r.n == len(everything)
    assert len(r.samples) == 0


def test_percentiles_when_samples_recorded_match_numpy():
    r = LatencyRecorder()
    xs = np.random.default_rng(1).integers(1000, 90_000, 5000)
    r.extend(int(x) for x in xs)
    r.fold()
    p = r.percentiles((50, 99))
    assert abs(p["p50"] - np.percentile(xs, 50) / 1e3) < 1e-9
    assert abs(p["p99"] - np.percentile(xs, 99) / 1e3) < 1e-9


def _families(m: EngineMetrics) -> dict:
    return {f.name: f for f in text_string_to_metric_families(m.exposition().decode())}


def test_exposition_when_scraped_names_every_metric_with_the_prefix():
    node = make_node()
    m = attach(node)
    Feeder(node).feed(500)
    fams = _families(m)
    assert fams and all(name.startswith("tradecore_") for name in fams)
    for want in ("tradecore_stage_latency_seconds", "tradecore_messages",
                 "tradecore_book_updates", "tradecore_book_staleness_seconds",
                 "tradecore_orders_denied", "tradecore_fills", "tradecore_fees", "tradecore_pnl",
                 "tradecore_equity", "tradecore_exposure_notional", "tradecore_trading_state",
                 "tradecore_breaker_trips", "tradecore_model_predictions",
                 "tradecore_event_loop_lag_seconds", "tradecore_order_events",
                 "tradecore_feed_problems", "tradecore_orders", "tradecore_risk_limit",
                 "tradecore_journal_backlog_records", "tradecore_journal_write_errors"):
        assert want in fams, want


def test_exposition_when_the_journal_has_no_room_shows_the_backlog_and_the_denials(
        monkeypatch):
    """An order whose intent the journal cannot record is denied by the engine, not the gate:
    orders_denied{reason=JOURNAL_UNWRITABLE} counts it; the journal's waiting records show."""
    node = make_node()
    m = attach(node)
    journal = node.exec.oms.journal
    assert journal is node.journal

    def refuse(o):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(journal, "intent", refuse, raising=False)
    monkeypatch.setattr(journal, "backlog", 3, raising=False)
    monkeypatch.setattr(journal, "write_errors", 5, raising=False)
    f = Feeder(node)
    f.until_books()
    o = node.exec.submit(limit_buy_at_touch(node, "m-1"))
    assert o.deny_reason.name == "JOURNAL_UNWRITABLE"
    fams = _families(m)
    denied = {s.labels["reason"]: s.value for s in fams["tradecore_orders_denied"].samples}
    assert denied["JOURNAL_UNWRITABLE"] == 1
    assert fams["tradecore_journal_backlog_records"].samples[0].value == 3
    assert fams["tradecore_journal_write_errors"].samples[0].value == 5


def test_probes_when_frames_and_orders_flow_record_every_stage():
    node = make_node()
    m = attach(node)
    f = Feeder(node)
    f.until_books()
    node.exec.submit(limit_buy_at_touch(node, "m-1"))
    f.feed(300)
    m.fold()
    counts = {s: r.n for s, r in m.stages.items()}
    assert counts["frame"] == node.stats.messages
    assert counts["parse_book"] > 0 and counts["strategy"] > 0
    assert counts["risk"] == 1 and counts["order_send"] == 1 and counts["ack"] == 1
    # the paper venue's configured latency is what the ack round trip shows (node clock)
    assert m.stages["ack"].sum_ns >= (node.cfg.latency_order_us + node.cfg.latency_ack_us) * 1000
    assert sum(m.message_counts().values()) == node.stats.messages
    assert sum(m.book_update_counts().values()) == node.stats.book_updates
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for fam in _families(m).values() for s in fam.samples}
    assert samples[("tradecore_fills_total", ())] == 1
    assert samples[("tradecore_order_events_total", (("status", "FILLED"),))] == 1
    assert samples[("tradecore_orders", (("state", "ACCEPTED"),))] == 0


def test_probes_when_an_order_takes_the_python_submit_time_its_risk_check_too():
    from tradecore.execution.engine import ExecutionEngine
    node = make_node()
    m = attach(node)
    Feeder(node).until_books()
    # the compiled submit times the kernel's check itself; its Python reference (orders not of
    # the plain shape are handed to it) times the gate's check the same way
    assert node.exec.submit.__self__.risk_samples is m.stages["risk"].samples
    ExecutionEngine.submit(node.exec, limit_buy_at_touch(node, "m-ref"))
    node.exec.submit(limit_buy_at_touch(node, "m-fast"))
    m.fold()
    assert m.stages["risk"].n == 2 and m.stages["order_send"].n == 2
    # gate.check is still the kernel's own (no wrapper), so the compiled submit calls the
    # kernel directly
    assert node.gate.check.__name__ == "check_order"


def test_probes_when_attached_leave_the_nodes_results_unchanged():
    plain, probed = make_node(), make_node()
    attach(probed)
    for n in (plain, probed):
        n.run_replay(limit=5000)
    a, b = plain.summary(), probed.summary()
    for k in ("messages", "book_updates", "orders", "fills", "strategies", "problems"):
        assert a[k] == b[k], k


def test_prediction_counter_when_called_is_exposed_by_model_and_version():
    node = make_node()
    m = attach(node)
    count = m.prediction_counter("lgbm-signal", "v3")
    for _ in range(7):
        count()
    fam = _families(m)["tradecore_model_predictions"]
    s = [x for x in fam.samples if x.name.endswith("_total")][0]
    assert s.labels == {"model": "lgbm-signal", "version": "v3"} and s.value == 7


def test_probes_when_the_node_replaces_its_normalizers_before_start_probe_the_new_ones():
    """What run_live does: new normalizers (wired to the node's hooks), then start()."""
    from tradecore.verify import normalizer_for
    node = make_node()
    m = attach(node)
    for f in node.cfg.feeds:
        n = normalizer_for(f.exchange)
        n.on_book = node._book_hook(f.venue)
        n.on_trade = node._trade_hook(f.venue)
        n.on_problem = node._problem_hook(f.venue)
        node.normalizers[f.venue] = n
    Feeder(node).feed(3000)                      # Feeder calls node.start()
    m.fold()
    assert sum(m.message_counts().values()) == 3000
    assert 0 < m.stages["parse_book"].n <= node.stats.book_updates


def test_orders_gauge_when_an_order_rests_counts_it_by_state():
    from tradecore.core.orders import Order, OrderType, Side
    node = make_node()
    m = attach(node)
    f = Feeder(node)
    f.until_books()
    inst = node.instruments[("binance", "BTCUSDT")]
    bid = node.books[("binance", "BTCUSDT")].best_bid()[0]
    node.exec.submit(Order("rest-m", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 10,
                           price=inst.ticks(bid) - 500, ts_created_ns=node.clock.time_ns()))
    f.feed(200)
    fam = _families(m)["tradecore_orders"]
    by = {s.labels["state"]: s.value for s in fam.samples}
    assert by["ACCEPTED"] == 1 and by["SUBMITTED"] == 0
