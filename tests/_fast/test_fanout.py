"""BookFanout (_fast/fanout.pxd), the node's compiled book hook: each duty on its own, with
stand-ins for the node's and the execution engine's objects (tests/test_node.py compares it with
the Python hook over whole replays)."""
from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest

from tradecore._fast.fanout import BookFanout


class Book:
    def __init__(self, mid, ts_ns=0):
        self._mid, self.ts_ns = mid, ts_ns

    def mid(self):
        return self._mid


class Strat:
    def __init__(self, fail=False):
        self.seen, self.fail = [], fail

    def on_book(self, venue, symbol, book):
        self.seen.append((venue, symbol, book))
        if self.fail:
            raise RuntimeError("bug")


def fanout(**kw):
    parts = dict(stats=SimpleNamespace(book_updates=0), books={}, paper=None,
                 subs=defaultdict(list), errors=[], mids={}, positions={}, marks=[],
                 protected={}, protected_calls=[], now=[7])
    parts.update(kw)
    f = BookFanout("binance", parts["stats"], parts["books"], parts["paper"], parts["subs"],
                   lambda s, where, e: parts["errors"].append((s, where, type(e).__name__)),
                   parts["mids"], parts["positions"],
                   lambda v, s, m: parts["marks"].append((v, s, m)), parts["protected"],
                   lambda k, b: parts["protected_calls"].append((k, b)),
                   lambda: parts["now"][0], parts.get("mid_target"))
    return f, parts


def test_on_book_when_a_book_changes_notes_mid_marks_and_calls_each_strategy():
    good, bad, late = Strat(), Strat(fail=True), Strat()
    pos = SimpleNamespace(mark=0.0)
    f, p = fanout(positions={("binance", "BTCUSDT"): pos})
    p["subs"][("binance", "BTCUSDT")].extend([bad, good, late])
    b = Book(100.5, ts_ns=42)
    f.on_book(("conn", "BTCUSDT"), b)
    key = ("binance", "BTCUSDT")
    assert p["stats"].book_updates == 1 and p["books"] == {key: b}
    assert p["mids"] == {key: (100.5, 42)} and pos.mark == 100.5 and p["marks"] == []
    assert [s.seen for s in (bad, good, late)] == [[("binance", "BTCUSDT", b)]] * 3
    assert p["errors"] == [(bad, "on_book", "RuntimeError")]     # the others still called
    assert p["protected_calls"] == []


def test_on_book_when_no_position_marks_through_the_portfolio_and_stamps_the_clock():
    f, p = fanout()
    f.on_book(("conn", "ETHUSDT"), Book(3.0))              # ts_ns 0: the clock's time
    assert p["mids"] == {("binance", "ETHUSDT"): (3.0, 7)}
    assert p["marks"] == [("binance", "ETHUSDT", 3.0)]


def test_on_book_when_a_side_is_empty_skips_mid_and_mark_but_calls_strategies():
    s = Strat()
    f, p = fanout()
    p["subs"][("binance", "BTCUSDT")].append(s)
    b = Book(None)
    f.on_book(("conn", "BTCUSDT"), b)
    assert p["mids"] == {} and p["marks"] == [] and len(s.seen) == 1
    assert p["books"] == {("binance", "BTCUSDT"): b}


def test_on_book_when_the_symbol_has_stops_hands_the_book_to_them_and_tells_paper():
    papered = []
    key = ("binance", "BTCUSDT")
    f, p = fanout(protected={key: object()},
                  paper=lambda sym, book: papered.append((sym, book)))
    b = Book(10.0, 1)
    f.on_book(("conn", "BTCUSDT"), b)
    f.on_book(("conn", "BTCUSDT"), b)
    assert p["protected_calls"] == [(key, b), (key, b)]
    assert p["protected_calls"][0][0] is p["protected_calls"][1][0]   # the key made once
    assert papered == [("BTCUSDT", b), ("BTCUSDT", b)]
    assert ("binance", "BTCUSDT") not in p["subs"]                   # no default list made


def test_fanout_refuses_subscriptions_that_are_not_a_dict():
    with pytest.raises(TypeError, match="subs must be a dict"):
        BookFanout("v", None, {}, None, [], None, {}, {}, None, {}, None, None)


def test_on_book_when_given_the_gates_mid_target_sets_the_mid_in_the_kernel_at_once():
    from tradecore.core.clock import SimClock
    from tradecore.core.instrument import Instrument
    from tradecore.risk.gate import RiskGate
    from tradecore.risk.limits import RiskLimits
    gate = RiskGate(RiskLimits(), SimClock(5))
    gate.add_instrument(Instrument("binance", "BTCUSDT", tick="0.01", lot="0.001"))
    f, p = fanout(mid_target=gate.mid_target())
    f.on_book(("conn", "BTCUSDT"), Book(100.5, ts_ns=42))
    f.on_book(("conn", "ETHUSDT"), Book(7.0, ts_ns=43))      # not a gate instrument: nothing
    f.on_book(("conn", "BTCUSDT"), Book(101.0))              # no book time: the clock's
    assert p["mids"] == {} and gate.pending_mids == {}
    s = gate.kernel.symbol(gate.index("binance", "BTCUSDT"))
    assert (s["mid"], s["mid_ts"]) == (101.0, 7)
    assert p["marks"] == [("binance", "BTCUSDT", 100.5), ("binance", "ETHUSDT", 7.0),
                          ("binance", "BTCUSDT", 101.0)]


def test_fanout_refuses_a_mid_target_that_is_not_a_kernel_and_its_index():
    with pytest.raises(TypeError, match="mid_target"):
        fanout(mid_target=(object(), {}))
