"""The gated replay kernel against a plain-Python reference of its rule (replay.pxd), on random
event logs: the same books after every message, the same calls (deliveries, deferred engine
updates, deferred last trades) in the same order; timers run where the per-message replay runs
them; bad input is refused naming what is wrong."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore._fast.arb import CrossVenueDetector
from tradecore._fast.book import L2Book
from tradecore._fast.replay import GatedReplay
from tradecore.core.clock import SimClock

TICK, LOT = "0.01", "0.001"
NO_WAKE = 2**63 - 1
DIFF, SNAPSHOT, TRADE = 0, 1, 2


@st.composite
def event_log(draw, n_feeds: int = 2):
    """Messages on n_feeds books around 100.00 (a snapshot first on each), trades between."""
    msgs = []           # (ts, feed, kind, [(side, price, size)] or trade index)
    ts = 1_000
    for f in range(n_feeds):
        msgs.append((ts, f, SNAPSHOT, [(0, 99.99, 1.0), (1, 100.01, 1.0)]))
    n_trades = 0
    for _ in range(draw(st.integers(1, 60))):
        ts += draw(st.integers(0, 50))
        f = draw(st.integers(0, n_feeds - 1))
        if draw(st.integers(0, 4)) == 0:
            msgs.append((ts, f, TRADE, n_trades))
            n_trades += 1
            continue
        lv = []
        for _ in range(draw(st.integers(0, 4))):
            side = draw(st.integers(0, 1))
            t = draw(st.integers(9_990, 10_000)) if side == 0 else draw(st.integers(10_000, 10_010))
            lv.append((side, t / 100, draw(st.sampled_from([0.0, 0.001, 0.5, 2.0]))))
        msgs.append((ts, f, DIFF, lv))
    return msgs, n_trades


def to_arrays(msgs):
    ts, feed, kind, lo, hi, side, price, size = [], [], [], [], [], [], [], []
    for t, f, k, body in msgs:
        ts.append(t)
        feed.append(f)
        kind.append(k)
        if k == TRADE:
            lo.append(body)
            hi.append(body + 1)
            continue
        lo.append(len(side))
        for s, p, q in body:
            side.append(s)
            price.append(p)
            size.append(q)
        hi.append(len(side))
    return (np.asarray(ts, np.int64), np.asarray(feed, np.int32), np.asarray(kind, np.int8),
            np.asarray(lo, np.int64), np.asarray(hi, np.int64), np.asarray(side, np.int64),
            np.asarray(price, np.float64), np.asarray(size, np.float64))


def top(b: L2Book) -> tuple[int, int]:
    bid, ask = b.best_ticks(0), b.best_ticks(1)
    return (bid[0] if bid else -2**63, ask[0] if ask else 2**63 - 1)


def crosses(books: list[L2Book], fees: list[float], i: int) -> bool:
    """CrossVenueDetector._pair's first test, both ways, for every pair with i."""
    for j in range(len(books)):
        if j == i:
            continue
        for a, b in ((i, j), (j, i)):
            ask, bid = books[a].best_ticks(1), books[b].best_ticks(0)
            if ask and bid and (books[a].ticks_to_price(ask[0]) * (1.0 + fees[a])
                                < books[b].ticks_to_price(bid[0]) * (1.0 - fees[b])):
                return True
    return False


def reference(msgs, n_feeds, top_rule, wake_at, fees, trade_always, recording):
    """Plain Python: apply_many per message, the rule of replay.pxd, the calls it makes
    (recording: an on_record after every message, before which the deferred calls are made)."""
    books = [L2Book(TICK, LOT) for _ in range(n_feeds)]
    calls, states = [], []
    last = [(-2**63, 2**63 - 1)] * n_feeds
    dirty = [False] * n_feeds
    pending = [-1] * n_feeds
    delivered = [False] * n_feeds
    now = 0

    def flush():
        for f in range(n_feeds):
            if dirty[f]:
                dirty[f] = False
                calls.append(("exec", f))
            if pending[f] >= 0:
                calls.append(("sink", f, pending[f]))
                pending[f] = -1

    for t, f, k, body in msgs:
        now = max(now, t)
        if k == TRADE:
            if trade_always[f]:
                flush()
                calls.append(("trade", f, body))
            else:
                pending[f] = body
            if recording:
                flush()
            continue
        b = books[f]
        if k == SNAPSHOT:
            b.clear()
        if body:
            b.apply_many([s for s, _, _ in body], [p for _, p, _ in body], [q for _, _, q in body])
        if k == SNAPSHOT:
            b.valid = True
        states.append((b.depth(50)[0].tolist(), b.depth(50)[1].tolist()))
        if not b.valid:
            if recording:
                flush()
            continue
        tp = top(b)
        wake = (not delivered[f] or now >= wake_at[f] or (top_rule[f] and tp != last[f])
                or (fees is not None and crosses(books, fees, f)))
        if wake:
            flush()
            calls.append(("book", f, tp))
            last[f] = tp
            delivered[f] = True
        else:
            dirty[f] = True
        if recording:
            flush()
    flush()
    return calls, states


def run_kernel(msgs, n_feeds, top_rule, wake_at, fees, trade_always, recording):
    books = [L2Book(TICK, LOT) for _ in range(n_feeds)]
    clock = SimClock(0)
    g = GatedReplay(books, clock)
    calls, states = [], []
    delivered = [False] * n_feeds
    det = None
    if fees is not None:
        det = CrossVenueDetector(n_feeds)
        for i, b in enumerate(books):
            det.set_venue(i, b, fees[i], 0.001)

    def gate():
        for f in range(n_feeds):
            g.set_gate(f, not delivered[f], top_rule[f], wake_at[f], trade_always[f])

    for f in range(n_feeds):
        def on_book(key, book, f=f):
            calls.append(("book", f, top(book)))
            delivered[f] = True

        g.set_feed(f, ("t", f), on_book, lambda tr, f=f: calls.append(("trade", f, tr)),
                   lambda f=f: calls.append(("exec", f)),
                   lambda tr, f=f: calls.append(("sink", f, tr)),
                   [(det, f)] if det is not None else [])
    gate()

    def record(ts):
        i = len(seen)
        seen.append(ts)
        if msgs[i][2] != TRADE:
            b = books[msgs[i][1]]
            states.append((b.depth(50)[0].tolist(), b.depth(50)[1].tolist()))
    seen: list[int] = []
    n_trades = sum(1 for m in msgs if m[2] == TRADE)
    g.run(*to_arrays(msgs), list(range(n_trades)), gate, record if recording else None)
    return calls, states, g


@settings(max_examples=150, deadline=None)
@given(data=event_log(), top_rule=st.lists(st.booleans(), min_size=2, max_size=2),
       wake=st.lists(st.sampled_from([1_500, 2_000, NO_WAKE]), min_size=2, max_size=2),
       fees=st.one_of(st.none(), st.lists(st.sampled_from([0.0, 0.0001, 0.001]), min_size=2,
                                          max_size=2)),
       trade_always=st.lists(st.booleans(), min_size=2, max_size=2))
def test_kernel_makes_the_calls_of_the_reference_rule_on_random_logs(data, top_rule, wake, fees,
                                                                      trade_always):
    msgs, _ = data
    want_calls, want_states = reference(msgs, 2, top_rule, wake, fees, trade_always, True)
    got_calls, got_states, g = run_kernel(msgs, 2, top_rule, wake, fees, trade_always, True)
    assert got_states == want_states
    assert got_calls == want_calls
    want_calls, _ = reference(msgs, 2, top_rule, wake, fees, trade_always, False)
    got_calls, _, g = run_kernel(msgs, 2, top_rule, wake, fees, trade_always, False)
    assert got_calls == want_calls
    books = sum(1 for m in msgs if m[2] != TRADE)
    assert g.delivered_books + g.skipped_books == books


def test_kernel_delivers_every_message_when_every_feed_is_always():
    msgs = [(1, 0, SNAPSHOT, [(0, 99.99, 1.0), (1, 100.01, 1.0)]),
            (2, 0, DIFF, [(0, 99.98, 1.0)]), (3, 0, TRADE, 0), (4, 0, DIFF, [])]
    books = [L2Book(TICK, LOT)]
    g = GatedReplay(books, SimClock(0))
    got = []
    g.set_feed(0, "k", lambda k, b: got.append("book"), lambda t: got.append("trade"),
               lambda: got.append("exec"), None, [])
    g.run(*to_arrays(msgs), ["t0"], lambda: None)
    assert got == ["book", "book", "trade", "book"]
    assert g.skipped_books == 0 and g.skipped_trades == 0


def test_kernel_runs_a_due_timer_before_the_first_message_at_or_after_it_with_updates_flushed():
    msgs = [(10, 0, SNAPSHOT, [(0, 99.99, 1.0), (1, 100.01, 1.0)]),
            (20, 0, DIFF, [(0, 99.99, 2.0)]),          # skipped: top prices unchanged
            (30, 0, DIFF, [(0, 99.98, 1.0)]),          # skipped
            (50, 0, DIFF, [(0, 99.97, 1.0)])]          # the timer at 40 runs before this one
    books = [L2Book(TICK, LOT)]
    clock = SimClock(0)
    g = GatedReplay(books, clock)
    got = []

    def on_book(k, b):
        got.append(("book", clock.time_ns()))
        if len(got) == 1:
            clock.call_at(40, lambda: got.append(("timer", clock.time_ns(),
                                                  books[0].best_ticks(0))))

    g.set_feed(0, "k", on_book, None, lambda: got.append(("exec", clock.time_ns())), None, [])
    delivered = []

    def gate():
        delivered.append(1)
        g.set_gate(0, len(got) == 0, True, NO_WAKE, False)
    gate()
    g.run(*to_arrays(msgs), [], gate)
    # the timer sees the book after message 30 (what the per-message replay has applied by
    # then), after the engine update that the skipped messages deferred, made at their time;
    # message 50 only adds a level under the best bid: skipped as well, its update made at the
    # end of the run
    assert got == [("book", 10), ("exec", 30), ("timer", 40, (9999, 2000)), ("exec", 50)]
    assert clock.time_ns() == 50                     # brought up to the last message at the end
    assert g.timer_advances == 1 and g.skipped_books == 3


def test_kernel_refuses_a_message_naming_an_unknown_feed_and_leaves_the_books_alone():
    msgs = [(1, 0, SNAPSHOT, [(0, 99.99, 1.0), (1, 100.01, 1.0)]), (2, 3, DIFF, [(0, 99.0, 1.0)])]
    books = [L2Book(TICK, LOT)]
    g = GatedReplay(books, SimClock(0))
    g.set_feed(0, "k", lambda k, b: None, None, lambda: None, None, [])
    with pytest.raises(ValueError, match="message 1 names feed 3"):
        g.run(*to_arrays(msgs), [], lambda: None)
    assert books[0].best_ticks(0) == (9999, 1000)


def test_kernel_refuses_an_off_grid_level_naming_it_and_applies_nothing_of_its_message():
    msgs = [(1, 0, SNAPSHOT, [(0, 99.99, 1.0), (1, 100.01, 1.0)]),
            (2, 0, DIFF, [(0, 99.98, 1.0), (0, 99.975, 1.0)])]
    books = [L2Book(TICK, LOT)]
    g = GatedReplay(books, SimClock(0))
    g.set_feed(0, "k", lambda k, b: None, None, lambda: None, None, [])
    with pytest.raises(ValueError, match=r"level 1: price 99.975 is off the tick grid"):
        g.run(*to_arrays(msgs), [], lambda: None)
    assert books[0].best_ticks(0) == (9999, 1000) and books[0].bid_count == 1


def test_kernel_refuses_arrays_of_different_lengths():
    g = GatedReplay([L2Book(TICK, LOT)], SimClock(0))
    a = to_arrays([(1, 0, SNAPSHOT, [(0, 99.99, 1.0)])])
    with pytest.raises(ValueError, match="lv_"):
        g.run(*a[:6], a[6][:0], a[7], [], lambda: None)
    with pytest.raises(ValueError, match="msg_"):
        g.run(a[0], a[1][:0], *a[2:], [], lambda: None)


def test_kernel_refuses_bad_wiring():
    with pytest.raises(TypeError, match="L2Book"):
        GatedReplay([object()], SimClock(0))
    g = GatedReplay([L2Book(TICK, LOT)], SimClock(0))
    with pytest.raises(IndexError, match="feed 1"):
        g.set_gate(1, True, False, NO_WAKE, True)
    with pytest.raises(ValueError, match="cross rule"):
        g.set_feed(0, "k", None, None, None, None, [(object(), 0)])
    with pytest.raises(ValueError, match="cross rule"):
        g.set_feed(0, "k", None, None, None, None, [(CrossVenueDetector(2), 5)])
