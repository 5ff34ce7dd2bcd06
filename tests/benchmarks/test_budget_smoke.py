"""Smoke test of benchmarks/budget.py: every stage runs on a small slice of the real stream and
returns finite, positive figures, and the books it timed end identical to the reference books.

No speed is asserted here (the machines are shared and noisy); `python benchmarks/budget.py`
is the budget check. This only proves that what is timed is right.
"""
from __future__ import annotations

import gc
import math
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import budget  # noqa: E402
import realdata  # noqa: E402

pytestmark = pytest.mark.shared_data

SMOKE = budget.Config(quick=True, max_passes=1, max_seconds=0.05, many_reps=3,
                      read_samples=5, read_iters=10)
MESSAGES = 150


@pytest.fixture(scope="module")
def st():
    if realdata.find_source() is None:
        pytest.skip("no Binance hbt_* capture: "
                    + ", ".join(map(str, realdata.candidate_sources())))
    return realdata.load().head(MESSAGES)


@pytest.fixture(scope="module")
def tick(st):
    return float(st.tick)


@pytest.fixture(autouse=True)
def _unfreeze():
    yield
    gc.unfreeze()          # the stages freeze their inputs out of the collector's way


def finite_positive(s: budget.Series) -> None:
    assert s.samples, f"{s.name}: no samples"
    assert all(math.isfinite(x) and x > 0 for x in s.samples), s.name
    assert s.median > 0 and math.isfinite(s.p99) and s.p99 >= s.median, s.name


def check_figure(f: budget.Figure) -> None:
    for s in [f.main, *f.refs, *f.context]:
        if s is not None and not s.name.startswith("the Python loop"):
            finite_positive(s)
    if f.ratio_ref is not None and f.main is not None:
        assert f.ratio is not None and f.ratio > 0
    assert f.status in ("OK", "OVER-TARGET", "OVER-FLOOR", "OVER-FLOOR (>3x: FAIL)")


def same_levels(a, b, tick):
    la, lb = budget.book_levels(a, tick), budget.book_levels(b, tick)
    assert len(la[0]) > 100 and len(la[1]) > 100, "the snapshot alone has 1000 levels a side"
    assert la == lb


def test_stream_slice_is_real(st):
    assert st.n_messages == MESSAGES
    assert st.n_levels == st.bounds[-1] > MESSAGES
    assert set(np.unique(st.sides)) <= {0, 1}
    assert np.all(st.prices > 0) and np.all(st.sizes >= 0)
    assert len(st.frames) == MESSAGES
    assert all(b'"depthUpdate"' in f for f in st.frames[:5])


def test_book_matches_bookticker_oracle(st):
    """The replay the benchmarks time gives Binance's own top of book (bookTicker with the
    same update id), i.e. the stream is synced correctly."""
    book = budget.tc_book(st)
    want = dict(zip(st.oracle_msg.tolist(), zip(st.oracle_bid.tolist(),
                                                 st.oracle_ask.tolist())))
    b = st.bounds
    checked = 0
    for i in range(st.n_messages):
        book.apply_many(st.sides64[b[i]:b[i + 1]], st.prices[b[i]:b[i + 1]],
                        st.sizes[b[i]:b[i + 1]])
        if i in want:
            assert (book.best_bid()[0], book.best_ask()[0]) == want[i], f"message {i}"
            checked += 1
    assert checked > 0


def test_apply_python(st, tick):
    f = budget.stage_apply(st, SMOKE)
    check_figure(f)
    ob, sd = f.refs
    same_levels(f.main.state, ob.state, tick)
    same_levels(f.main.state, sd.state, tick)


def test_apply_top(st, tick):
    f = budget.stage_apply_top(st, SMOKE)
    check_figure(f)
    for ref in f.refs:
        same_levels(f.main.state, ref.state, tick)
    tc = f.main.state
    sd, ob = (r.state for r in f.refs)
    assert tc.best_bid() == sd[0].peekitem(-1) == ob.bids.index(0)
    assert tc.best_ask() == sd[1].peekitem(0) == ob.asks.index(0)


def test_apply_many(st, tick):
    f = budget.stage_apply_many(st, SMOKE)
    check_figure(f)
    for s in f.refs:           # the numba flat arrays
        same_levels(f.main.state, s.state, tick)
    same_levels(f.main.state, f.context[0].state, tick)    # apply_many per message
    ref = budget.sd_book(st)
    budget._pass_apply_sd(ref, [(st.level_tuples(), st.n_levels)], [])
    same_levels(f.main.state, ref, tick)


def test_frame(st, tick):
    f = budget.stage_frame(st, SMOKE)
    check_figure(f)
    ref = f.ratio_ref.state                   # orjson + float + apply
    expect = budget.sd_book(st)
    budget._pass_apply_sd(expect, [(st.level_tuples(), st.n_levels)], [])
    same_levels(ref, expect, tick)
    scanner = [c for c in f.context if c.name.startswith("kernel only")]
    if scanner:
        same_levels(scanner[0].state[1], expect, tick)
    if f.main is None:
        pytest.skip(f"BinanceNormalizer not measured: {f.note}")
    assert budget.check_normalizer(f.main.state, expect, tick) == ""


def test_best_and_fill(st, tick):
    books = budget.final_books(st)
    same_levels(books[0], books[1], tick)
    same_levels(books[0], books[2], tick)
    f = budget.stage_best(st, SMOKE, *books)
    check_figure(f)
    g = budget.stage_fill(st, SMOKE, *books)
    check_figure(g)
    tc_v, sd_v, ob_v = g.fill_values
    assert tc_v is not None
    assert tc_v == pytest.approx(sd_v, rel=1e-12) and tc_v == pytest.approx(ob_v, rel=1e-12)
    best_ask = books[0].best_ask()[0]
    assert tc_v > best_ask        # ten levels deep: above the touch


def test_status_and_exit_rule():
    """Status and the CI rule: fail only when a figure is over 3x its floor / ratio limit."""
    def fig(median, ratio_ref=None, **kw):
        return budget.Figure("k", "t", "level", "ns", budget.Series("m", [median] * 3),
                             ratio_ref=ratio_ref, **kw)
    assert fig(50, target_ns=70, floor_ns=100).status == "OK"
    assert fig(80, target_ns=70, floor_ns=100).status == "OVER-TARGET"
    f = fig(250, target_ns=70, floor_ns=100)
    assert f.status == "OVER-FLOOR" and not f.fails
    f = fig(301, target_ns=70, floor_ns=100)
    assert f.fails and "FAIL" in f.status
    ref = budget.Series("ref", [100.0] * 3)
    assert fig(50, ref, floor_ns=100, ratio_limit=0.6).status == "OK"
    f = fig(70, ref, floor_ns=100, ratio_limit=0.6)          # under the floor, over the ratio
    assert f.status == "OVER-FLOOR" and not f.fails
    assert fig(99, ref, floor_ns=1000, ratio_limit=0.3).fails
    assert budget.Figure("k", "t", "message", "us", None).status == "NOT-RUN"
    text = budget.table([f])
    assert "OVER-FLOOR" in text and "ref" in text
