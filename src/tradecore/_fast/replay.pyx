# cython: freethreading_compatible = False
"""The gated replay loop (see replay.pxd for what it calls when, and why that is exact)."""
cimport cython
from libc.stdint cimport int64_t, int32_t, int8_t, INT64_MAX, INT64_MIN
from libc.stdlib cimport calloc, free
from tradecore._fast.book cimport L2Book
from tradecore._fast.arb cimport CrossVenueDetector

cdef enum:                       # message kinds of backtest/events.py
    DIFF = 0
    SNAPSHOT = 1
    TRADE = 2


cdef inline void _top(L2Book b, int64_t* bt, int64_t* at) noexcept:
    cdef int64_t q
    if not b.best(0, bt, &q):
        bt[0] = INT64_MIN
    if not b.best(1, at, &q):
        at[0] = INT64_MAX


cdef class GatedReplay:

    def __cinit__(self, list books, object clock):
        cdef int n = len(books)
        self.n_feeds = n
        for b in books:
            if not isinstance(b, L2Book):
                raise TypeError(f"GatedReplay: books must be L2Book, got {type(b).__name__}")
        self._books = list(books)
        self._keys = [None] * n
        self._book_hooks = [None] * n
        self._trade_hooks = [None] * n
        self._exec_hooks = [None] * n
        self._trade_sinks = [None] * n
        self._cross = [[] for _ in range(n)]
        self._clock = clock
        m = n if n > 0 else 1
        self._book_always = <int64_t*>calloc(m, sizeof(int64_t))
        self._top = <int64_t*>calloc(m, sizeof(int64_t))
        self._wake_at = <int64_t*>calloc(m, sizeof(int64_t))
        self._trade_always = <int64_t*>calloc(m, sizeof(int64_t))
        self._last_bt = <int64_t*>calloc(m, sizeof(int64_t))
        self._last_at = <int64_t*>calloc(m, sizeof(int64_t))
        self._dirty = <int64_t*>calloc(m, sizeof(int64_t))
        self._pending_trade = <int64_t*>calloc(m, sizeof(int64_t))
        self._skipped_books_f = <int64_t*>calloc(m, sizeof(int64_t))
        if not (self._book_always and self._top and self._wake_at and self._trade_always
                and self._last_bt and self._last_at and self._dirty and self._pending_trade
                and self._skipped_books_f):
            raise MemoryError()
        for f in range(n):
            # until the driver says otherwise, every message is delivered (the safe default)
            self._book_always[f] = 1
            self._trade_always[f] = 1
            self._wake_at[f] = INT64_MAX
            self._last_bt[f] = INT64_MIN
            self._last_at[f] = INT64_MAX
            self._pending_trade[f] = -1

    def __dealloc__(self):
        free(self._book_always)
        free(self._top)
        free(self._wake_at)
        free(self._trade_always)
        free(self._last_bt)
        free(self._last_at)
        free(self._dirty)
        free(self._pending_trade)
        free(self._skipped_books_f)

    def _feed(self, int f):
        if f < 0 or f >= self.n_feeds:
            raise IndexError(f"feed {f} is not in 0..{self.n_feeds - 1}")

    def set_feed(self, int f, object key, object book_hook, object trade_hook,
                 object exec_hook, object trade_sink, list cross_rules):
        """Wire feed f: the node's hooks, the deferred updates, and its cross rules as
        (CrossVenueDetector, index of f's book in it) pairs."""
        self._feed(f)
        for rule in cross_rules:
            det, i = rule
            if not isinstance(det, CrossVenueDetector) or not 0 <= i < (<CrossVenueDetector>det).n:
                raise ValueError(f"feed {f}: a cross rule is (CrossVenueDetector, index in "
                                 f"range), got {rule!r}")
        self._keys[f] = key
        self._book_hooks[f] = book_hook
        self._trade_hooks[f] = trade_hook
        self._exec_hooks[f] = exec_hook
        self._trade_sinks[f] = trade_sink
        self._cross[f] = list(cross_rules)

    def set_gate(self, int f, bint book_always, bint top, int64_t wake_at, bint trade_always):
        """Feed f's flags until the next call: see replay.pxd."""
        self._feed(f)
        self._book_always[f] = book_always
        self._top[f] = top
        self._wake_at[f] = wake_at
        self._trade_always[f] = trade_always

    def skipped_books_of(self, int f) -> int:
        self._feed(f)
        return self._skipped_books_f[f]

    cdef bint _cross_passes(self, int f) except -1:
        cdef CrossVenueDetector det
        cdef L2Book bc, bj
        cdef int i, j
        cdef int64_t t1, q1, t2, q2
        for rule in <list>self._cross[f]:
            det = <CrossVenueDetector>(<tuple>rule)[0]
            i = (<tuple>rule)[1]
            o = det._books[i]
            if o is None:
                continue
            bc = <L2Book>o
            if not bc.valid:
                continue
            for j in range(det.n):
                if j == i:
                    continue
                o = det._books[j]
                if o is None:
                    continue
                bj = <L2Book>o
                if not bj.valid:
                    continue
                # buy on i, sell on j; then buy on j, sell on i: CrossVenueDetector._pair's test
                if bc.best(1, &t1, &q1) and bj.best(0, &t2, &q2):
                    if bc._price(t1) * (1.0 + det.fee[i]) < bj._price(t2) * (1.0 - det.fee[j]):
                        return True
                if bj.best(1, &t1, &q1) and bc.best(0, &t2, &q2):
                    if bj._price(t1) * (1.0 + det.fee[j]) < bc._price(t2) * (1.0 - det.fee[i]):
                        return True
        return False

    cdef int _flush(self, list trades, int64_t now) except -1:
        """Before any call into Python: the clock brought up to `now` (no timer is due by then:
        one due earlier would have run at the message that passed it), then the deferred
        updates, in feed order."""
        cdef int f
        cdef int64_t k
        if self._clock_now < now:
            self._clock.advance_to(now)
            self._clock_now = now
        for f in range(self.n_feeds):
            if self._dirty[f]:
                self._dirty[f] = 0
                self._exec_hooks[f]()
            k = self._pending_trade[f]
            if k >= 0:
                self._pending_trade[f] = -1
                sink = self._trade_sinks[f]
                if sink is not None:
                    sink(trades[k])
        return 0

    cdef int _after_python(self, object after_python) except -1:
        after_python()
        nd = self._clock.next_due_ns
        self._next_due = INT64_MAX if nd is None else nd
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def run(self, const int64_t[::1] msg_ts, const int32_t[::1] msg_feed,
            const int8_t[::1] msg_kind, const int64_t[::1] msg_lo, const int64_t[::1] msg_hi,
            const int64_t[::1] lv_side, const double[::1] lv_price, const double[::1] lv_size,
            list trades, object after_python, object on_record=None) -> int:
        """Replay every message; returns the number of levels applied. after_python() is called
        after every call into Python (the driver recomputes the flags there)."""
        cdef Py_ssize_t n_msg = msg_ts.shape[0], i
        cdef Py_ssize_t n_lv = lv_side.shape[0]
        cdef int64_t ts, now, lo, hi, levels = 0
        cdef int f, kind
        cdef L2Book b
        if (msg_feed.shape[0] != n_msg or msg_kind.shape[0] != n_msg or msg_lo.shape[0] != n_msg
                or msg_hi.shape[0] != n_msg):
            raise ValueError("GatedReplay.run: the msg_* arrays differ in length")
        if lv_price.shape[0] != n_lv or lv_size.shape[0] != n_lv:
            raise ValueError("GatedReplay.run: the lv_* arrays differ in length")
        clock = self._clock
        books = self._books
        self.delivered_books = self.skipped_books = 0
        self.delivered_trades = self.skipped_trades = self.timer_advances = 0
        for f in range(self.n_feeds):
            self._skipped_books_f[f] = 0
        now = clock.time_ns()
        self._clock_now = now
        nd = clock.next_due_ns
        self._next_due = INT64_MAX if nd is None else nd
        for i in range(n_msg):
            ts = msg_ts[i]
            f = msg_feed[i]
            kind = msg_kind[i]
            lo = msg_lo[i]
            hi = msg_hi[i]
            if f < 0 or f >= self.n_feeds:
                raise ValueError(f"GatedReplay.run: message {i} names feed {f}; the log has "
                                 f"{self.n_feeds}")
            if ts > now:
                if self._next_due <= ts:
                    # a latency timer falls due: run it where the per-message replay would
                    self._flush(trades, now)
                    clock.advance_to(ts)
                    self._clock_now = ts
                    self.timer_advances += 1
                    self._after_python(after_python)
                now = ts
            if kind == TRADE:
                if lo < 0 or lo >= len(trades):
                    raise ValueError(f"GatedReplay.run: message {i}: trade {lo} is not in the log")
                if self._trade_always[f]:
                    self._flush(trades, now)
                    self._trade_hooks[f](trades[lo])
                    self.delivered_trades += 1
                    self._after_python(after_python)
                else:
                    self._pending_trade[f] = lo
                    self.skipped_trades += 1
            else:
                if lo < 0 or hi < lo or hi > n_lv:
                    raise ValueError(f"GatedReplay.run: message {i}: levels {lo}:{hi} are not "
                                     f"in 0..{n_lv}")
                b = <L2Book>books[f]
                if hi > lo:
                    b.stage_floats(&lv_side[lo], &lv_price[lo], &lv_size[lo], hi - lo)
                else:
                    b.stage_reset()
                if kind == SNAPSHOT:
                    b.clear()
                    b.stage_commit()
                    b.valid = True
                else:
                    b.stage_commit()
                b.ts_ns = ts
                levels += hi - lo
                if b.valid:
                    self._on_book(f, b, now, trades, after_python)
            if on_record is not None:
                # a progress or equity recorder reads the node: what it reads is made current
                self._flush(trades, now)
                on_record(ts)
        self._flush(trades, now)
        return levels

    cdef int _on_book(self, int f, L2Book b, int64_t now, list trades,
                      object after_python) except -1:
        cdef int64_t bt, at
        cdef bint wake
        _top(b, &bt, &at)
        wake = (self._book_always[f] or now >= self._wake_at[f]
                or (self._top[f] and (bt != self._last_bt[f] or at != self._last_at[f])))
        if not wake and self._cross[f]:
            wake = self._cross_passes(f)
        if not wake:
            self._dirty[f] = 1
            self._skipped_books_f[f] += 1
            self.skipped_books += 1
            return 0
        self._flush(trades, now)
        self._last_bt[f] = bt
        self._last_at[f] = at
        self._book_hooks[f](self._keys[f], b)
        self.delivered_books += 1
        self._after_python(after_python)
        return 0
