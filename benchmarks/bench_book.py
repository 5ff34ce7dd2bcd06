"""asv benchmarks of the latency-budget stages (../shared/DESIGN.md), on the real Binance stream
of benchmarks/realdata.py. The same stages, with medians/p99 beside their budgets and a
same-run reference, are printed by `python benchmarks/budget.py`; asv keeps their history.

Run (from the repository top, development venv, extensions built in place):
    .venv/bin/asv check --python=same
    .venv/bin/asv run --python=same --quick            # smoke: each benchmark once
    .venv/bin/asv run --python=same                    # real figures (not saved: --python=same)
    .venv/bin/asv run --python=same --set-commit-hash $(git rev-parse HEAD)   # saved in .asv/

time_* benchmarks that change a book run with number = 1: asv calls setup() before every
sample, so each sample replays the stream onto a fresh book holding the snapshot. Divide by
the level count in the benchmark name for ns per level; the track_* benchmarks of
BudgetFigures report the budget's own per-level figures (ns) directly.
"""
from __future__ import annotations

import functools

try:
    from . import budget, realdata
except ImportError:  # run outside asv, e.g. `python -c "import bench_book"` in benchmarks/
    import budget  # type: ignore[no-redef]
    import realdata  # type: ignore[no-redef]

TOP_MESSAGES = 1500       # apply + top: order-book re-sorts on every read (~12 us per level)


@functools.lru_cache(maxsize=None)
def stream() -> "realdata.Stream":
    if realdata.find_source() is None:
        raise NotImplementedError("no Binance capture (see benchmarks/realdata.py)")
    return realdata.load()


@functools.lru_cache(maxsize=None)
def top_stream() -> "realdata.Stream":
    return stream().head(TOP_MESSAGES)


@functools.lru_cache(maxsize=None)
def flat_levels():
    st = stream()
    return [(st.level_tuples(), max(st.n_levels, 1))]


@functools.lru_cache(maxsize=None)
def nested_top():
    st = top_stream()
    return [(st.message_tuples(), max(st.n_levels, 1))]


MAKERS = {"tradecore": budget.tc_book, "order-book": budget.ob_book,
          "sortedcontainers": budget.sd_book}


class ApplyPython:
    """The whole stream (443 262 levels), one call per level from Python."""
    params = ["tradecore", "order-book", "sortedcontainers"]
    param_names = ["book"]
    number = 1
    repeat = (3, 15, 20.0)
    warmup_time = 0
    timeout = 300

    def setup(self, book):
        self.levels = flat_levels()
        self.book = MAKERS[book](stream())
        self.run = {"tradecore": budget._pass_apply_tc, "order-book": budget._pass_apply_ob,
                    "sortedcontainers": budget._pass_apply_sd}[book]

    def time_apply_stream(self, book):
        self.run(self.book, self.levels, [])


class ApplyTop:
    """The first 1 500 messages, best bid and ask read after each message."""
    params = ["tradecore", "order-book", "sortedcontainers"]
    param_names = ["book"]
    number = 1
    repeat = (3, 10, 30.0)
    warmup_time = 0
    timeout = 300

    def setup(self, book):
        self.msgs = nested_top()
        self.book = MAKERS[book](top_stream())
        self.run = {"tradecore": budget._pass_top_tc, "order-book": budget._pass_top_ob,
                    "sortedcontainers": budget._pass_top_sd}[book]

    def time_apply_top(self, book):
        self.run(self.book, self.msgs, [])


class ApplyMany:
    """The whole stream through apply_many: one call, one call per message, and the Numba
    flat-array floor."""
    params = ["tradecore", "tradecore-per-message", "numba-flat"]
    param_names = ["how"]
    number = 1
    repeat = (5, 30, 10.0)
    warmup_time = 0

    def setup(self, how):
        st = stream()
        self.sides, self.prices, self.sizes = st.sides64, st.prices, st.sizes
        if how == "numba-flat":
            self.flat_ticks, _ = budget.numba_kernels()
            self.flat = _flat_book()
            self.s8 = st.sides
        else:
            self.book = budget.tc_book(st)
            b = st.bounds.tolist()
            self.per_msg = [(self.sides[b[i]:b[i + 1]], self.prices[b[i]:b[i + 1]],
                             self.sizes[b[i]:b[i + 1]]) for i in range(st.n_messages)] \
                if how == "tradecore-per-message" else None

    def time_apply_many_stream(self, how):
        if how == "numba-flat":
            f = self.flat
            self.flat_ticks(f.qty, f.base, self.s8, f.ticks, self.sizes)
        elif self.per_msg is None:
            self.book.apply_many(self.sides, self.prices, self.sizes)
        else:
            am = self.book.apply_many
            for s, p, q in self.per_msg:
                am(s, p, q)


@functools.lru_cache(maxsize=None)
def _flat_book():
    return budget.FlatBook(stream())


class Frame:
    """Every depth frame after the snapshot, bytes to book updated."""
    params = ["normalizer", "orjson-float-apply", "depthscanner"]
    param_names = ["how"]
    number = 1
    repeat = (3, 10, 30.0)
    warmup_time = 0
    timeout = 300

    def setup(self, how):
        st = stream()
        self.frames = st.frames
        self.ts = st.msg_ts.tolist()
        self.sel = [False] * len(self.frames)
        self.k = budget.n_before_snapshot(st)
        if how == "normalizer":
            cls, why = budget.normalizer_class()
            if cls is None:
                raise NotImplementedError(f"BinanceNormalizer not importable: {why}")
            self.state = budget.new_normalizer(st, cls)
        elif how == "depthscanner":
            from tradecore._fast.jsonscan import DepthScanner
            self.state = (DepthScanner(), budget.tc_book(st))
        else:
            self.state = budget.tc_book(st)
        self.how = how

    def time_frames(self, how):
        if how == "normalizer":
            budget._pass_frames_norm(self.state, self.frames, self.ts, self.sel, [], self.k)
        elif how == "depthscanner":
            budget._pass_frames_scan(self.state, self.frames, self.sel, [])
        else:
            budget._pass_frames_orjson(self.state, self.frames, self.sel, [])


@functools.lru_cache(maxsize=None)
def final_books():
    """The three books after snapshot + whole stream (read-only benchmarks share them)."""
    return budget.final_books(stream())


class BestRead:
    """1 000 reads of the best level of the book after the stream (nothing changes between
    reads; 10 calls unrolled per loop iteration, as in budget.py): tradecore one side per call,
    and bid + ask pairs for all three books (500 pairs)."""
    params = ["tradecore-one-side", "tradecore", "order-book", "sortedcontainers"]
    param_names = ["book"]

    def setup(self, book):
        tc, sd, ob = final_books()
        B = budget.best_bodies(tc, sd, ob)
        self.body = B[{"tradecore-one-side": "tradecore", "tradecore": "tradecore-pair",
                       "order-book": "order-book-pair",
                       "sortedcontainers": "sortedcontainers-pair"}[book]][0]

    def time_best_reads_1000_calls(self, book):
        self.body(100)


class FillPrice:
    """100 fill-price walks for a buy that reaches into the 10th ask level."""
    params = ["tradecore", "sortedcontainers", "order-book"]
    param_names = ["book"]

    def setup(self, book):
        tc, sd, ob = final_books()
        self.body = budget.fill_bodies(tc, sd, ob, budget.fill_size(tc))[book][0]

    def time_fill_price_100_calls(self, book):
        self.body(10)


# -- the budget's own figures (ns per level / call / message), as asv tracks -----------------

_TRACK_CFG = budget.Config(quick=False, max_passes=3, max_seconds=1.5, many_reps=30,
                           read_samples=500)


def measure_figures() -> dict:
    """{stage key: (median ns, ratio or None, note)} from one run of budget.py's stages."""
    import gc
    st = stream()
    figs = {}
    try:
        batches = budget._batches(st, _TRACK_CFG.batch_levels)
        figs["apply_python"] = budget.stage_apply(st, _TRACK_CFG, batches)
        figs["apply_top"] = budget.stage_apply_top(top_stream(), _TRACK_CFG)
        figs["apply_many"] = budget.stage_apply_many(st, _TRACK_CFG)
        figs["frame"] = budget.stage_frame(st, _TRACK_CFG)
        tc, sd, ob = final_books()
        figs["best_read"] = budget.stage_best(st, _TRACK_CFG, tc, sd, ob)
        figs["fill_price"] = budget.stage_fill(st, _TRACK_CFG, tc, sd, ob)
    finally:
        gc.unfreeze()
    return {k: (f.main.median if f.main else None, f.ratio, f.note) for k, f in figs.items()}


def _get(cache, key, i):
    v = cache[key][i]
    if v is None:
        raise NotImplementedError(cache[key][2])
    return v


class BudgetFigures:
    """Medians and ratios of benchmarks/budget.py's stages: one measurement run (setup_cache,
    run once per environment) shared by all the tracks."""
    timeout = 900

    def setup_cache(self):
        return measure_figures()

    def track_apply_python_ns_per_level(self, cache):
        return _get(cache, "apply_python", 0)
    track_apply_python_ns_per_level.unit = "ns"

    def track_apply_python_ratio_to_orderbook(self, cache):
        return _get(cache, "apply_python", 1)
    track_apply_python_ratio_to_orderbook.unit = "ratio"

    def track_apply_top_ratio_to_best_reference(self, cache):
        return _get(cache, "apply_top", 1)
    track_apply_top_ratio_to_best_reference.unit = "ratio"

    def track_apply_many_ns_per_level(self, cache):
        return _get(cache, "apply_many", 0)
    track_apply_many_ns_per_level.unit = "ns"

    def track_frame_20_levels_ns(self, cache):
        return _get(cache, "frame", 0)
    track_frame_20_levels_ns.unit = "ns"

    def track_best_read_ns(self, cache):
        return _get(cache, "best_read", 0)
    track_best_read_ns.unit = "ns"

    def track_fill_price_ns(self, cache):
        return _get(cache, "fill_price", 0)
    track_fill_price_ns.unit = "ns"


def consumers_after_ns(defer: bool, min_levels: int = 128) -> list[int]:
    """For each diff of >= min_levels levels after the snapshot: ns from on_frame's call to the
    book's consumers (on_book), with the far levels applied after them (defer, what the fast
    path does: L2Book.stage_commit_near) or the whole diff first."""
    st = stream()
    n = budget.new_normalizer(st)
    n._scan.defer_far = defer
    t: list[int] = []
    out: list[int] = []
    n.on_book = lambda key, book: t.append(budget.perf_ns())
    frames, ts, ml = st.frames, st.msg_ts.tolist(), st.msg_levels.tolist()
    for i in range(budget.n_before_snapshot(st), len(frames)):
        t.clear()
        t0 = budget.perf_ns()
        n.on_frame(frames[i], "ws", ts[i])
        if t and ml[i] >= min_levels:
            out.append(t[0] - t0)
    return out


class LargeDiff:
    """A large diff (>= 128 levels) of the real stream, bytes in to the book's consumers: the
    whole diff applied first, or its far levels after the consumers (book.pxd, "Deferred far
    levels"). The median over the stream's large diffs, ns."""
    params = ["whole", "far-after"]
    param_names = ["commit"]
    timeout = 300

    def track_to_consumers_ns(self, commit):
        xs = sorted(consumers_after_ns(commit == "far-after"))
        if not xs:
            raise NotImplementedError("no diff of >= 128 levels in the stream")
        return xs[len(xs) // 2]
    track_to_consumers_ns.unit = "ns"
