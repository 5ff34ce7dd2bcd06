"""Property tests of the compiled L2 book: on random update streams it equals ReferenceBook after
every single step, for every read the Python API offers.

The streams are built to reach the rare paths of the layout (book.pxd): the window is at its
minimum (4096 ticks), prices spread wider than it, the market moves up and down by more than a
window (re-centring up, emptying the window onto the overflow), ladders of hundreds of levels
fill both the window and the deep overflow, and truncate/clear/load_snapshot reset it all.

Each example runs in a forked child: a kernel bug that corrupts memory (an abort or a segfault)
then fails the example, and Hypothesis shrinks it to a minimal stream, instead of killing the
whole test run.
"""
from __future__ import annotations

import math
import os
from decimal import Decimal
from fractions import Fraction

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _forked import run_isolated

from tradecore._fast.book import L2Book
from tradecore.book.reference import ReferenceBook

W = 4096                      # the minimum window: re-centring happens within a few thousand ticks
ALL = 10**9                   # "all levels" for depth_ticks / depth

# Tick and lot sizes as text and as floats; "5" is a coarse tick (units > 1 at 0 decimals).
TICKS = ["0.01", 0.01, "0.5", 0.5, "1", 1.0, "0.00000001", 1e-8, "5"]
LOTS = ["0.00000001", 1e-8, "0.001", "1", 0.5]

# Examples per test are sized so that the file runs in ~35 s; BOOK_EXAMPLES_SCALE=10 for a soak.
SCALE = float(os.environ.get("BOOK_EXAMPLES_SCALE", "1"))


def budget(examples: int) -> settings:
    return settings(max_examples=max(1, int(examples * SCALE)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def exact(step) -> Decimal:
    """The exact decimal value the book takes a tick/lot size to be (text as is, floats by
    their shortest repr)."""
    return Decimal(step) if isinstance(step, str) else Decimal(repr(float(step)))


# -------------------------------------------------------------------------------------------------
# the harness: one compiled book, one reference, the same updates to both

class Harness:
    def __init__(self, tick_step, lot_step, center: int, window: int = W) -> None:
        self.book = L2Book(tick_size=tick_step, lot_size=lot_step, window=window)
        self.ref = ReferenceBook()
        self.tick = exact(tick_step)
        self.lot = exact(lot_step)
        units = self.lot.normalize().as_tuple()
        decimals = max(0, -units.exponent)
        self.lots_per_size = float(10**decimals) / float(self.lot.scaleb(decimals))
        self.center = center

    # conversions from the exact integer model to what each API takes
    def price(self, ticks: int) -> float:
        return float(ticks * self.tick)

    def size(self, lots: int) -> float:
        return float(lots * self.lot)

    def price_text(self, ticks: int, pad: int = 0) -> str:
        s = format(ticks * self.tick, "f")
        if pad:                                   # exchanges pad with zeros: "61837.63000000"
            s += ("" if "." in s else ".") + "0" * pad
        return s

    def size_text(self, lots: int, pad: int = 0) -> str:
        s = format(lots * self.lot, "f")
        if pad:
            s += ("" if "." in s else ".") + "0" * pad
        return s

    def at(self, side: int, offset: int) -> int:
        """Ticks `offset` away from the centre on the far side of it (bids below, asks above);
        a negative offset crosses the centre."""
        return max(1, self.center - offset if side == 0 else self.center + offset)

    # updates
    def set(self, side: int, ticks: int, lots: int, via: str) -> None:
        b = self.book
        if via == "apply":
            b.apply(side, self.price(ticks), self.size(lots))
        elif via == "ticks":
            b.apply_ticks(side, ticks, lots)
        elif via == "text":
            b.apply_levels(side, [[self.price_text(ticks, ticks % 3), self.size_text(lots)]])
        elif via == "bytes":
            b.apply_levels(side, [(self.price_text(ticks).encode(),
                                   self.size_text(lots, lots % 2).encode())])
        else:
            raise AssertionError(via)
        self.ref.apply_ticks(side, ticks, lots)

    def batch(self, via: str, levels: list[tuple[int, int, int]]) -> None:
        """levels: (side, ticks, lots) applied in order as one batch."""
        b = self.book
        if via == "apply_many":
            n = b.apply_many(np.array([s for s, _, _ in levels], dtype=np.int64),
                             np.array([self.price(t) for _, t, _ in levels], dtype=np.float64),
                             np.array([self.size(q) for _, _, q in levels], dtype=np.float64))
            assert n == len(levels)
            for s, t, q in levels:
                self.ref.apply_ticks(s, t, q)
        elif via == "apply_sides":
            # one message: all bids first, then all asks
            bids = [(t, q) for s, t, q in levels if s == 0]
            asks = [(t, q) for s, t, q in levels if s == 1]
            n = b.apply_sides([[self.price_text(t), self.size_text(q)] for t, q in bids],
                              [[self.price_text(t), self.size_text(q)] for t, q in asks])
            assert n == len(levels)
            for t, q in bids:
                self.ref.apply_ticks(0, t, q)
            for t, q in asks:
                self.ref.apply_ticks(1, t, q)
        elif via == "apply_records":
            recs = [{"side": "bid" if s == 0 else "offer", "price_level": self.price_text(t),
                     "new_quantity": self.size_text(q)} for s, t, q in levels]
            n = b.apply_records(recs, "side", "price_level", "new_quantity", "bid")
            assert n == len(levels)
            for s, t, q in levels:
                self.ref.apply_ticks(s, t, q)
        else:
            raise AssertionError(via)

    # the oracle
    def check(self) -> None:
        b, ref, tick, lot = self.book, self.ref, self.tick, self.lot
        levels = (ref.levels(0), ref.levels(1))
        for side, name in ((0, "bids"), (1, "asks")):
            got = [tuple(x) for x in b.depth_ticks(side, ALL).tolist()]
            assert got == levels[side], f"{name}: book {got} != reference {levels[side]}"
        assert b.bid_count == len(levels[0]), "bid_count"
        assert b.ask_count == len(levels[1]), "ask_count"
        best = [lv[0] if lv else None for lv in levels]
        assert b.best_ticks(0) == best[0], "best_ticks(0)"
        assert b.best_ticks(1) == best[1], "best_ticks(1)"
        for side, got in ((0, b.best_bid()), (1, b.best_ask())):
            want = None if best[side] is None else (float(best[side][0] * tick),
                                                     float(best[side][1] * lot))
            assert got == want, f"best of side {side}: {got!r} != {want!r}"
        assert b.is_crossed() == ref.is_crossed(), "is_crossed"

        if best[0] is None or best[1] is None:
            assert b.mid() is None and b.microprice() is None, "mid/microprice of a one-sided book"
        else:
            (bt, bl), (at, al) = best
            assert b.mid() == float((bt + at) * tick / 2), "mid"
            pb, pa = Fraction(bt * tick), Fraction(at * tick)
            want = float((pb * al + pa * bl) / (al + bl))
            assert math.isclose(b.microprice(), want, rel_tol=1e-12), "microprice"

        most = max(len(levels[0]), len(levels[1]))
        for n in sorted({1, 3, most + 1}):
            bsum = sum(q for _, q in levels[0][:n])
            asum = sum(q for _, q in levels[1][:n])
            want = None if bsum + asum == 0 else float(Fraction(bsum - asum, bsum + asum))
            assert b.imbalance(n) == want, f"imbalance({n})"

        for n in (0, 2, ALL):
            bids, asks = b.depth(n)
            for side, arr in ((0, bids), (1, asks)):
                assert arr.dtype == np.float64 and arr.shape == (min(n, len(levels[side])), 2)
                want = [(float(t * tick), float(q * lot)) for t, q in levels[side][:n]]
                assert [tuple(x) for x in arr.tolist()] == want, f"depth({n}) side {side}"

        for side in (0, 1):
            total = sum(q for _, q in levels[side])
            for lots in sorted({1, total // 3, total, total + 1} - {0}):
                size = self.size(lots)
                avg = ref.fill_ticks(side, size * self.lots_per_size)
                got = b.fill_price(side, size)
                if avg is None:
                    assert got is None, f"fill_price({side}, {size!r}) = {got!r}, want None"
                else:
                    want = avg * float(tick)
                    assert got is not None and math.isclose(got, want, rel_tol=1e-9), \
                        f"fill_price({side}, {size!r}) = {got!r}, want {want!r}"

    # the stream interpreter
    def step(self, op: tuple) -> None:
        kind = op[0]
        if kind == "set":                    # one level near the market, maybe a delete
            _, side, offset, lots, via = op
            self.set(side, self.at(side, offset), lots, via)
        elif kind == "far":                  # one level anywhere on a wide range
            _, side, ticks, lots, via = op
            self.set(side, ticks, lots, via)
        elif kind == "delete":               # delete a level that exists (picked by rank)
            _, side, rank, via = op
            lv = self.ref.levels(side)
            ticks = lv[rank % len(lv)][0] if lv else self.at(side, rank % 100)
            self.set(side, ticks, 0, via)
        elif kind == "sweep":                # take out the top k levels: the touch moves away
            _, side, k, via = op
            self.batch(via, [(side, t, 0) for t, _ in self.ref.levels(side)[:k]])
        elif kind == "ladder":               # many levels stepping away from the market
            _, side, offset, count, spacing, lots, via = op
            start = self.at(side, offset)
            ticks = [start - j * spacing if side == 0 else start + j * spacing
                     for j in range(count)]
            levels = [(side, t, lots + j) for j, t in enumerate(ticks) if t >= 1]
            if via == "apply_many":          # one batch (which reserves overflow room first)
                self.batch(via, levels)
            else:                            # one level at a time
                for s, t, q in levels:
                    self.set(s, t, q, via)
        elif kind == "batch":
            _, via, levels = op
            self.batch(via, [(s, self.at(s, off), q) for s, off, q in levels])
        elif kind == "move":                 # the market jumps (by up to 3 windows)
            self.center = min(400_000, max(1, self.center + op[1]))
        elif kind == "truncate":
            self.book.truncate(op[1])
            self.ref.truncate(op[1])
        elif kind == "clear":
            self.book.clear()
            self.ref.clear()
        elif kind == "snapshot":
            _, bids, asks = op
            bt = [self.at(0, off) for off, _ in bids]
            at = [self.at(1, off) for off, _ in asks]
            self.book.valid = False
            self.book.load_snapshot([self.price(t) for t in bt],
                                    [self.size(q) for _, q in bids],
                                    [self.price(t) for t in at],
                                    [self.size(q) for _, q in asks])
            assert self.book.valid, "load_snapshot marks the book valid"
            self.ref.clear()
            for t, (_, q) in zip(bt, bids):
                self.ref.apply_ticks(0, t, q)
            for t, (_, q) in zip(at, asks):
                self.ref.apply_ticks(1, t, q)
        else:
            raise AssertionError(kind)


def run_stream(tick_step, lot_step, center: int, ops: list) -> None:
    h = Harness(tick_step, lot_step, center)
    h.check()
    for i, op in enumerate(ops):
        h.step(op)
        try:
            h.check()
        except AssertionError as e:
            raise AssertionError(f"after step {i} {op!r} (tick {tick_step!r}, lot {lot_step!r}, "
                                 f"centre {h.center}): {e}") from None


# -------------------------------------------------------------------------------------------------
# strategies

sides = st.integers(0, 1)
lots_any = st.one_of(st.just(0), st.integers(1, 100), st.integers(1, 10**9))
lots_pos = st.integers(1, 10**6)
# near the touch (a few ticks, sometimes crossing) or anywhere within +-1.5 windows
offsets = st.one_of(st.integers(-3, 64), st.integers(-3 * W // 2, 3 * W // 2))
single_vias = st.sampled_from(["apply", "ticks", "text", "bytes"])
batch_vias = st.sampled_from(["apply_many", "apply_sides", "apply_records"])

ops = st.one_of(
    st.tuples(st.just("set"), sides, offsets, lots_any, single_vias),
    st.tuples(st.just("set"), sides, offsets, lots_any, single_vias),
    st.tuples(st.just("far"), sides, st.integers(1, 4_000_000), lots_any, single_vias),
    st.tuples(st.just("delete"), sides, st.integers(0, 10**6), single_vias),
    st.tuples(st.just("sweep"), sides, st.integers(1, 64), batch_vias),
    st.tuples(st.just("ladder"), sides, offsets, st.integers(1, 300), st.integers(1, 40),
              lots_pos, st.sampled_from(["apply_many", "ticks"])),
    st.tuples(st.just("batch"), batch_vias,
              st.lists(st.tuples(sides, offsets, lots_any), max_size=12)),
    st.tuples(st.just("move"), st.integers(-3 * W, 3 * W)),
    st.tuples(st.just("truncate"), st.one_of(st.integers(0, 8), st.integers(0, 400))),
    st.tuples(st.just("clear")),
    st.tuples(st.just("snapshot"), st.lists(st.tuples(offsets, lots_any), max_size=40),
              st.lists(st.tuples(offsets, lots_any), max_size=40)),
)

# a market that trends: it keeps moving one way by more than a window, then turns
trend_ops = st.lists(
    st.tuples(st.integers(-2 * W, 2 * W), st.integers(1, 120), st.integers(1, 8), sides,
              st.integers(0, 3)),
    min_size=1, max_size=12)

ticks_steps = st.sampled_from(TICKS)
lot_steps = st.sampled_from(LOTS)
centres = st.integers(1, 300_000)


# -------------------------------------------------------------------------------------------------
# the properties

@budget(600)
@given(tick=ticks_steps, lot=lot_steps, center=centres, stream=st.lists(ops, min_size=8, max_size=60))
def test_book_when_random_streams_are_applied_equals_reference_after_every_step(
        tick, lot, center, stream):
    run_isolated(run_stream, tick, lot, center, stream)


def _trend_stream(moves):
    """Each move: jump by `delta`, lay a ladder of `count` levels `spacing` apart on `side` from
    the new centre, lay a few levels on the other side, then sweep `sweeps` x 16 levels off the
    top of each side (emptying the window onto the overflow when the market turned)."""
    out = []
    for delta, count, spacing, side, sweeps in moves:
        out.append(("move", delta))
        out.append(("ladder", side, 1, count, spacing, 7, "apply_many"))
        out.append(("ladder", 1 - side, 1, 5, 1, 3, "ticks"))
        for _ in range(sweeps):
            out.append(("sweep", 0, 16, "apply_many"))
            out.append(("sweep", 1, 16, "apply_sides"))
    return out


@budget(200)
@given(tick=ticks_steps, lot=lot_steps, center=st.integers(3 * W, 100_000), moves=trend_ops)
def test_book_when_market_trends_up_and_down_beyond_the_window_equals_reference_after_every_step(
        tick, lot, center, moves):
    run_isolated(run_stream, tick, lot, center, _trend_stream(moves))


def _truncate_recentre_stream(side, first, jump1, keep, second, spacing, jump2, via):
    """A deep book is truncated (Kraken's depth rule drops the worst levels), then the market
    moves away by more than a window twice, so the window re-centres onto a partly dropped
    overflow."""
    up = 1 if side == 0 else -1               # "up" is better: higher bids, lower asks
    return [("ladder", side, 0, first, 1, 1, via),
            ("move", up * jump1), ("set", side, 0, 5, "ticks"),
            ("truncate", keep),
            ("ladder", side, 1, second, spacing, 1, via),
            ("move", up * jump2), ("set", side, 0, 5, "ticks"),
            ("ladder", side, 1, second, spacing, 2, via)]


@budget(400)
@given(tick=ticks_steps, lot=lot_steps, center=st.integers(2 * W, 100_000), side=sides,
       # level counts around the overflow's capacities (64, 128, 256); truncation keeping few
       first=st.one_of(st.sampled_from([63, 64, 65]), st.integers(1, 300)),
       jump1=st.integers(W, 3 * W),
       keep=st.one_of(st.integers(2, 10), st.integers(0, 300)),
       second=st.one_of(st.sampled_from([64, 65, 100, 127, 128, 129]), st.integers(1, 300)),
       spacing=st.integers(1, 16), jump2=st.integers(W, 3 * W),
       via=st.sampled_from(["ticks", "apply_many"]))
def test_book_when_truncated_then_recentred_beyond_the_window_equals_reference_after_every_step(
        tick, lot, center, side, first, jump1, keep, second, spacing, jump2, via):
    run_isolated(run_stream, tick, lot, center,
                 _truncate_recentre_stream(side, first, jump1, keep, second, spacing, jump2, via))


def _batch_vs_single(tick, lot, center, prefix, levels, split):
    """A book fed `levels` by apply_many equals a book fed the same levels one at a time (and the
    reference), starting from the same state."""
    a, b = Harness(tick, lot, center), Harness(tick, lot, center)
    for op in prefix:
        a.step(op)
        b.step(op)
    abs_levels = [(s, a.at(s, off), q) for s, off, q in levels]
    # as one batch, or as two batches cut at `split`
    cut = split % (len(abs_levels) + 1)
    for part in (abs_levels[:cut], abs_levels[cut:]) if split % 2 else (abs_levels,):
        a.batch("apply_many", part)
    for s, t, q in abs_levels:
        b.set(s, t, q, "apply")
    for side in (0, 1):
        assert (a.book.depth_ticks(side, ALL).tolist() == b.book.depth_ticks(side, ALL).tolist())
    assert a.book.best_bid() == b.book.best_bid() and a.book.best_ask() == b.book.best_ask()
    a.check()
    b.check()


@budget(250)
@given(tick=ticks_steps, lot=lot_steps, center=centres,
       prefix=st.lists(ops, max_size=6),
       levels=st.lists(st.tuples(sides, st.one_of(offsets, st.integers(-4 * W, 4 * W)), lots_any),
                       max_size=80),
       split=st.integers(0, 200))
def test_apply_many_when_given_a_batch_equals_applying_its_levels_one_by_one(
        tick, lot, center, prefix, levels, split):
    run_isolated(_batch_vs_single, tick, lot, center, prefix, levels, split)


# -------------------------------------------------------------------------------------------------
# pinned streams: the layout's edge cases, run whatever Hypothesis draws

def _shift_up_after_truncate():
    """Regression (heap overrun, fixed in 40b48f5): truncate() drops the worst overflow levels by
    advancing the overflow's start (lo); a later window re-centre that moved more levels into the
    overflow than its capacity grew it to a power of two >= no + nw without moving the live
    levels back to the start, and wrote up to lo slots past the end of the overflow arrays
    (abort, segfault or a hang in malloc). The truncate/re-centre stream test above finds it
    too, when it draws counts like these."""
    h = Harness("0.01", "0.00000001", 0)
    for t in range(1, 65):                 # 64 bids in the window
        h.set(0, t, 1, "ticks")
    h.set(0, 10_000, 1, "ticks")           # re-centre up: the 64 fill the overflow (capacity 64)
    h.book.truncate(2)                     # drop the 63 worst: overflow is ok[63:64]
    h.ref.truncate(2)
    for t in range(10_001, 10_121):        # 120 more bids in the window
        h.set(0, t, 1, "ticks")
    h.set(0, 20_000, 1, "ticks")           # re-centre up: 121 levels appended at ok[64:185]
    h.check()
    for t in range(20_001, 20_301):        # keep using the book
        h.set(0, t, 2, "ticks")
    h.book.clear()
    h.ref.clear()
    h.check()


def test_shift_up_when_truncate_advanced_the_overflow_start_keeps_every_level():
    run_isolated(_shift_up_after_truncate)


def _window_empties_onto_overflow():
    h = Harness("1", "1", 100_000)
    for side in (0, 1):
        for off in range(0, 3 * W, 7):      # levels spanning three windows below the touch
            h.set(side, h.at(side, off), 1 + off, "ticks")
    h.check()
    while h.ref.levels(0) or h.ref.levels(1):
        h.step(("sweep", 0, 97, "apply_many"))
        h.step(("sweep", 1, 97, "apply_sides"))
        h.check()


def test_delete_when_it_empties_the_window_moves_the_window_onto_the_overflow():
    run_isolated(_window_empties_onto_overflow)
