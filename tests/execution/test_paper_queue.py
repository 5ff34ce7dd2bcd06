"""Queue models (fill_model.py): hand-computed cases of hftbacktest's rules, properties that
tie the two models together, and their effect through the venue; the latency model's input
checks."""
from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from tradecore.core.clock import SimClock
from tradecore.core.events import BUY, SELL
from tradecore.core.orders import OrderType
from tradecore.execution.fill_model import LatencyModel, PowerProbQueue, RiskAverseQueue
from tradecore.execution.paper import PaperVenue

from test_paper import INST, SYM, T0, Recorder, make_book, order, run, trade, BIDS, ASKS


def test_risk_averse_queue_only_shrinks_to_the_displayed_level():
    q = RiskAverseQueue()
    assert q.on_level(4.0, 10.0, 6.0, 0.0) == 4.0
    assert q.on_level(4.0, 10.0, 3.0, 0.0) == 3.0
    assert q.on_level(4.0, 10.0, 12.0, 0.0) == 4.0


def test_power_prob_queue_matches_hftbacktest_formula_when_level_decreases():
    # front 4, back 6, decrease 4: P(back) = 6^3 / (4^3 + 6^3) = 216/280
    p_back = 216 / 280
    want = 4 - (1 - p_back) * 4 + min(6 - p_back * 4, 0)
    assert PowerProbQueue(3).on_level(4.0, 10.0, 6.0, 0.0) == pytest.approx(want)
    # the part of the decrease that trades explain is not counted again
    assert PowerProbQueue(3).on_level(4.0, 10.0, 6.0, 4.0) == 4.0
    # a decrease larger than the back of the queue eats into the front
    got = PowerProbQueue(2).on_level(4.0, 5.0, 1.0, 0.0)
    assert got == pytest.approx(min(1.0, 4 - (16 / 17) * 4 + min(1 - (1 / 17) * 4, 0)))


def test_power_prob_queue_rejects_non_positive_power():
    with pytest.raises(ValueError, match="power must be > 0"):
        PowerProbQueue(0)


@given(ahead=st.floats(0, 1e6), prev=st.floats(0, 1e6), new=st.floats(0, 1e6),
       traded=st.floats(0, 1e6), power=st.floats(0.5, 5))
def test_prob_queue_never_behind_risk_averse_and_never_beyond_the_level(ahead, prev, new,
                                                                         traded, power):
    ra = RiskAverseQueue().on_level(ahead, prev, new, traded)
    pr = PowerProbQueue(power).on_level(ahead, prev, new, traded)
    assert 0.0 <= pr <= ra + 1e-9 * (1 + ra)
    assert ra <= new and pr <= new + 1e-9 * (1 + new)


def _ahead_after_cancels(model) -> float:
    clock = SimClock(T0)
    venue = PaperVenue("paper", clock, {SYM: INST}, queue_model=model)
    venue.set_listener(Recorder(clock))
    book = make_book(BIDS, ASKS)
    venue.on_book(SYM, book)
    venue.submit(order("q", BUY, qty=1000, price=10000))
    run(clock)
    book.apply(0, 100.00, 3.0)         # 2.0 join behind us: level 3.0, 1.0 ahead
    venue.on_book(SYM, book)
    book.apply(0, 100.00, 2.0)         # 1.0 cancelled: where?
    venue.on_book(SYM, book)
    return venue._syms[SYM].buys[0].ahead * INST.lot_size


def test_prob_queue_moves_order_forward_on_cancels_when_risk_averse_does_not():
    assert _ahead_after_cancels(RiskAverseQueue()) == pytest.approx(1.0)
    # front 1, back 2, n = 3: 1/9 of the cancel was ahead of us
    assert _ahead_after_cancels(PowerProbQueue(3)) == pytest.approx(1 - 1 / 9)


def test_prob_queue_does_not_double_count_traded_quantity():
    clock = SimClock(T0)
    venue = PaperVenue("paper", clock, {SYM: INST}, queue_model=PowerProbQueue(3))
    venue.set_listener(Recorder(clock))
    book = make_book(BIDS, ASKS)
    venue.on_book(SYM, book)
    venue.submit(order("q", BUY, qty=1000, price=10000))
    run(clock)
    venue.on_trade(SYM, trade("100.00", "0.4", SELL))  # ahead 1.0 -> 0.6
    book.apply(0, 100.00, 0.6)                         # the level shows the trade, no more
    venue.on_book(SYM, book)
    assert venue._syms[SYM].buys[0].ahead * INST.lot_size == pytest.approx(0.6)


@pytest.mark.parametrize("kw,field", [({"order_ns": -1}, "order_ns"), ({"ack_ns": 1.5}, "ack_ns"),
                                      ({"cancel_ns": -3}, "cancel_ns"),
                                      ({"jitter_ns": -1}, "jitter_ns")])
def test_latency_model_rejects_bad_delays(kw, field):
    with pytest.raises(ValueError, match=field):
        LatencyModel(**kw)


def test_cancel_latency_defaults_to_order_latency():
    assert LatencyModel(order_ns=7).cancel_delay_ns == 7
    assert LatencyModel(order_ns=7, cancel_ns=2).cancel_delay_ns == 2


def test_trigger_source_must_be_trade_or_mid():
    with pytest.raises(ValueError, match="trigger_on"):
        PaperVenue("paper", SimClock(), {SYM: INST}, trigger_on="last")


def test_stop_market_child_expires_when_no_book_to_fill_against():
    clock = SimClock(T0)
    venue = PaperVenue("paper", clock, {SYM: INST})
    rec = Recorder(clock)
    venue.set_listener(rec)
    venue.submit(order("s", SELL, OrderType.STOP_MARKET, qty=10, trigger_price=9000))
    run(clock)
    venue.on_trade(SYM, trade("89.00", "1", SELL))
    run(clock)
    assert rec.kinds("s") == ["accepted", "triggered", "expired"]
