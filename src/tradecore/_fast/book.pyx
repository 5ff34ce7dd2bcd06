"""The L2 order book kernel (layout and reasons in book.pxd)."""
cimport cython
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.math cimport fabs, isfinite, llround
from libc.stdint cimport INT64_MIN, int64_t, int8_t, uint64_t
from libc.stdlib cimport calloc, free, realloc
from libc.string cimport memmove, memset

from tradecore._fast.fixed cimport FIXED_OK, POW10, parse_fixed

from decimal import Decimal, InvalidOperation

import numpy as np

# Codes returned by stage_text (0 = accepted); the price and size problems are kept apart so the
# error names the field.
cdef enum:
    BAD_PRICE_BASE = 0     # + FixedStatus (1..4)
    PRICE_OFF_GRID = 5
    PRICE_NOT_POSITIVE = 6
    BAD_SIZE_BASE = 10     # + FixedStatus
    SIZE_OFF_GRID = 15
    BAD_SIDE = 20

_REASONS = {
    1: "price is not a plain decimal number",
    2: "price has more decimals than the book's precision",
    3: "price is too large",
    4: "price is negative",
    5: "price is off the tick grid",
    6: "price is not positive",
    11: "size is not a plain decimal number",
    12: "size has more decimals than the book's precision",
    13: "size is too large",
    14: "size is negative",
    15: "size is off the lot grid",
    20: "side is not 0 (bid) or 1 (ask)",
}


def reason_text(int code) -> str:
    """The human reason for a staging code."""
    return _REASONS.get(code, f"unknown problem {code}")


cdef inline double _grid_tolerance(double x) noexcept nogil:
    # a double near 1e12 ticks carries ~1e-4 tick of representation error; allow a few ulps
    return 1e-6 + fabs(x) * 4e-16


# Largest magnitude of price or size units (ticks * tick_units) the book accepts: 2**62 leaves
# headroom for the window arithmetic (key - base, base = key - 3/4 window) in int64.
cdef int64_t MAX_UNITS = 4611686018427387904

# A side's fence when nothing of it is deferred: every key is at or above it.
cdef int64_t NO_FENCE = INT64_MIN

# For the Python API and tests (book.pxd: DEFER_MIN_LEVELS, NEAR_LEVELS).
DEFER_MIN = DEFER_MIN_LEVELS
NEAR = NEAR_LEVELS


cdef tuple _decimal_grid(object step, str what):
    """(decimals, units) with step == units * 10**-decimals exactly, from a float or text."""
    try:
        d = Decimal(step) if isinstance(step, str) else Decimal(repr(float(step)))
    except (InvalidOperation, TypeError, ValueError):
        raise ValueError(f"{what} must be a positive decimal number, got {step!r}") from None
    if not d.is_finite() or d <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {step!r}")
    d = d.normalize()
    sign, digits, exp = d.as_tuple()
    units = int("".join(map(str, digits)))
    decimals = -exp
    if decimals < 0:
        units *= 10 ** (-decimals)
        decimals = 0
    if decimals > 15:
        raise ValueError(f"{what} {step!r} is finer than 1e-15, which the book cannot hold exactly")
    if units > 10 ** 15:
        raise ValueError(f"{what} {step!r} is too large (at most 1e15)")
    return decimals, units


cdef extern from *:
    """
    static inline int tc_clz64(unsigned long long x) { return __builtin_clzll(x); }
    static inline int tc_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    static inline int tc_popcount64(unsigned long long x) { return __builtin_popcountll(x); }
    /* one write a page over [p, p + n), of the byte already there: each page is then present
       and writable (a calloc'd page read first would map the shared zero page, which the
       first write then faults out of) */
    static inline Py_ssize_t tc_touch_pages(void* p, size_t n) {
        volatile char* c = (volatile char*)p;
        size_t i;
        Py_ssize_t k = 0;
        for (i = 0; i < n; i += 4096, k++) c[i] = c[i];
        if (n) { c[n - 1] = c[n - 1]; k++; }
        return k;
    }
    """
    int tc_clz64(unsigned long long x) nogil
    int tc_ctz64(unsigned long long x) nogil
    int tc_popcount64(unsigned long long x) nogil
    Py_ssize_t tc_touch_pages(void* p, size_t n) nogil


cdef inline void _bit_set(Side* S, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t w = i >> 6
    S.b0[w] |= (<uint64_t>1) << (i & 63)
    S.b1[w >> 6] |= (<uint64_t>1) << (w & 63)


cdef inline void _bit_clear(Side* S, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t w = i >> 6
    S.b0[w] &= ~((<uint64_t>1) << (i & 63))
    if S.b0[w] == 0:
        S.b1[w >> 6] &= ~((<uint64_t>1) << (w & 63))


cdef inline Py_ssize_t _prev(Side* S, Py_ssize_t i) noexcept nogil:
    """The highest occupied slot <= i, or -1."""
    cdef Py_ssize_t w, j
    cdef uint64_t m
    if i < 0:
        return -1
    w = i >> 6
    m = S.b0[w] & ((<uint64_t>2 << (i & 63)) - 1) if (i & 63) != 63 else S.b0[w]
    if m:
        return (w << 6) + 63 - tc_clz64(m)
    # words below w: first within w's b1 word, then whole b1 words
    j = w >> 6
    m = S.b1[j] & (((<uint64_t>1) << (w & 63)) - 1)
    while not m:
        j -= 1
        if j < 0:
            return -1
        m = S.b1[j]
    w = (j << 6) + 63 - tc_clz64(m)
    return (w << 6) + 63 - tc_clz64(S.b0[w])


cdef inline Py_ssize_t _next(Side* S, Py_ssize_t i, Py_ssize_t W) noexcept nogil:
    """The lowest occupied slot >= i, or -1."""
    cdef Py_ssize_t w, j, nb1 = W >> 12
    cdef uint64_t m
    if i >= W:
        return -1
    w = i >> 6
    m = S.b0[w] & ~(((<uint64_t>1) << (i & 63)) - 1)
    if m:
        return (w << 6) + tc_ctz64(m)
    j = w >> 6
    m = S.b1[j] & ~((<uint64_t>2 << (w & 63)) - 1) if (w & 63) != 63 else 0
    while not m:
        j += 1
        if j >= nb1:
            return -1
        m = S.b1[j]
    w = (j << 6) + tc_ctz64(m)
    return (w << 6) + tc_ctz64(S.b0[w])


cdef int _commit_run(L2Book b, int side, const int64_t* ticks, const int64_t* lots,
                     Py_ssize_t n) except -1:
    """set_level for n levels of one side, in order. The usual cases (inside the window: a
    size changed, a level added below the best, a level removed that is not the best) are
    done here with the window's base and array in locals, which set_level, called per level,
    reloads after every store; they do exactly what set_level does in those cases. Anything
    else is set_level itself, after which the locals are read again (it may re-centre)."""
    cdef Side* S = &b.sd[side]
    cdef int64_t base = S.base
    cdef int64_t* wq = S.wq
    cdef uint64_t W = <uint64_t>b.window
    cdef Py_ssize_t j
    cdef int64_t i, q, old
    for j in range(n):
        i = (-ticks[j] if side else ticks[j]) - base
        q = lots[j]
        if <uint64_t>i < W:
            old = wq[i]
            if old == q:
                continue
            if old != 0:
                if q != 0:
                    wq[i] = q
                    if i == S.best:
                        b._stale[side] = True
                    continue
                if i != S.best:
                    wq[i] = 0
                    _bit_clear(S, i)
                    S.nw -= 1
                    continue
            elif i < S.best:
                wq[i] = q
                _bit_set(S, i)
                S.nw += 1
                continue
        b.set_level(side, ticks[j], q)
        base = S.base
        wq = S.wq
    return 0


cdef inline int64_t _key(int8_t side, int64_t ticks) noexcept nogil:
    return -ticks if side else ticks


cdef int _commit_runs(L2Book b, const int8_t* side, const int64_t* ticks, const int64_t* lots,
                      Py_ssize_t n) except -1:
    """A staged batch, in order, one run of same-side levels at a time (a depth diff is two
    runs)."""
    cdef Py_ssize_t i = 0, j
    cdef int8_t sd
    while i < n:
        sd = side[i]
        j = i + 1
        while j < n and side[j] == sd:
            j += 1
        _commit_run(b, sd, ticks + i, lots + i, j - i)
        i = j
    return 0


@cython.final
cdef class L2Book:
    """An L2 price ladder per side with integer ticks and lots (layout in book.pxd).

    side: 0 = bid, 1 = ask. A size of 0 removes the level. Floats given to the Python API must lie
    on the tick/lot grid (within float representation error); the decimal-text paths used by the
    exchange normalizers never go through a float at all. `window` is the number of ticks per
    side held in the flat array (a power of two >= 4096); levels deeper than ~3/4 of it below
    the touch live in a sorted overflow, still correct, just slower to update.
    """

    def __cinit__(self, tick_size=0.01, lot_size=0.00000001, Py_ssize_t window=65536):
        cdef int s
        if window < 4096 or (window & (window - 1)) != 0:
            raise ValueError(f"window {window} must be a power of two >= 4096")
        self.window = window
        self.price_decimals, self.tick_units = _decimal_grid(tick_size, "tick_size")
        self.size_decimals, self.lot_units = _decimal_grid(lot_size, "lot_size")
        self._price_div = <double>POW10[self.price_decimals]
        self._size_div = <double>POW10[self.size_decimals]
        self._ticks_per_price = self._price_div / <double>self.tick_units
        self._lots_per_size = self._size_div / <double>self.lot_units
        self.tick_size = <double>self.tick_units / self._price_div
        self.lot_size = <double>self.lot_units / self._size_div
        for s in range(2):
            # calloc: pages of the window that are never touched cost no memory
            self.sd[s].wq = <int64_t*>calloc(window, sizeof(int64_t))
            self.sd[s].b0 = <uint64_t*>calloc(window >> 6, sizeof(uint64_t))
            self.sd[s].b1 = <uint64_t*>calloc(window >> 12, sizeof(uint64_t))
            self.sd[s].ok = <int64_t*>calloc(64, sizeof(int64_t))
            self.sd[s].oq = <int64_t*>calloc(64, sizeof(int64_t))
            if (self.sd[s].wq == NULL or self.sd[s].b0 == NULL or self.sd[s].b1 == NULL
                    or self.sd[s].ok == NULL or self.sd[s].oq == NULL):
                raise MemoryError()
            self.sd[s].base = 0
            self.sd[s].best = -1
            self.sd[s].nw = 0
            self.sd[s].lo = 0
            self.sd[s].no = 0
            self.sd[s].ocap = 64
        self.valid = True
        self._stale[0] = True
        self._stale[1] = True
        self.fence[0] = NO_FENCE
        self.fence[1] = NO_FENCE

    def __dealloc__(self):
        cdef int s
        for s in range(2):
            free(self.sd[s].wq)
            free(self.sd[s].b0)
            free(self.sd[s].b1)
            free(self.sd[s].ok)
            free(self.sd[s].oq)
        free(self.stage.side)
        free(self.stage.ticks)
        free(self.stage.lots)

    # ------------------------------------------------------------------------------------------
    # kernel

    cdef int set_level(self, int side, int64_t ticks, int64_t lots) except -1:
        cdef Side* S = &self.sd[side]
        cdef int64_t k = -ticks if side else ticks
        cdef int64_t i
        cdef int64_t old
        if self.pend:
            self.settle()                # the deferred levels are older than this one
        i = k - S.base
        if <uint64_t>i >= <uint64_t>self.window:
            # rare: outside the window (empty side, a new best beyond it, or a deep level)
            if S.nw == 0:
                if lots == 0:
                    return 0
                S.base = k - (self.window >> 2) * 3
            elif i < 0:
                return self._overflow_set(S, k, lots)
            else:
                if lots == 0:
                    return 0          # above the window there are no levels
                self._shift_up(S, k)
            i = k - S.base
        old = S.wq[i]
        if old == lots:
            return 0
        S.wq[i] = lots
        if old == 0:
            _bit_set(S, i)
            S.nw += 1
            if i >= S.best:
                S.best = i
                self._stale[side] = True
        elif lots == 0:
            _bit_clear(S, i)
            S.nw -= 1
            if i == S.best:
                S.best = _prev(S, i - 1)
                self._stale[side] = True
                if S.nw == 0 and S.no > 0:
                    self._shift_down(S)
        elif i == S.best:
            self._stale[side] = True
        return 1

    cdef int _overflow_reserve(self, Side* S, Py_ssize_t extra) except -1:
        """Room for `extra` more levels after the top end. When the array is re-laid, half the
        free space goes before the worst level, so that inserts at either end stay cheap (a
        best-first snapshot inserts every deep level at the bottom)."""
        cdef Py_ssize_t need = S.no + extra, newcap, new_lo
        cdef void* p
        if S.lo + need <= S.ocap:
            return 0
        newcap = S.ocap
        while newcap < need + need // 2 + 16:
            newcap *= 2
        if newcap != S.ocap:
            p = realloc(S.ok, newcap * sizeof(int64_t))
            if p == NULL:
                raise MemoryError()
            S.ok = <int64_t*>p
            p = realloc(S.oq, newcap * sizeof(int64_t))
            if p == NULL:
                raise MemoryError()
            S.oq = <int64_t*>p
            S.ocap = newcap
        new_lo = (S.ocap - need) // 2
        memmove(S.ok + new_lo, S.ok + S.lo, S.no * sizeof(int64_t))
        memmove(S.oq + new_lo, S.oq + S.lo, S.no * sizeof(int64_t))
        S.lo = new_lo
        return 0

    cdef int _overflow_set(self, Side* S, int64_t k, int64_t lots) except -1:
        """A level deeper than the window: sorted insert / update / delete."""
        cdef Py_ssize_t a = S.lo, b = S.lo + S.no, mid, end
        while a < b:
            mid = (a + b) >> 1
            if S.ok[mid] < k:
                a = mid + 1
            else:
                b = mid
        end = S.lo + S.no
        if a < end and S.ok[a] == k:
            if lots == 0:
                memmove(S.ok + a, S.ok + a + 1, (end - a - 1) * sizeof(int64_t))
                memmove(S.oq + a, S.oq + a + 1, (end - a - 1) * sizeof(int64_t))
                S.no -= 1
                return 1
            if S.oq[a] == lots:
                return 0
            S.oq[a] = lots
            return 1
        if lots == 0:
            return 0
        if S.lo > 0 and a - S.lo < end - a:
            # nearer the bottom: move the levels below down into the free space before them
            memmove(S.ok + S.lo - 1, S.ok + S.lo, (a - S.lo) * sizeof(int64_t))
            memmove(S.oq + S.lo - 1, S.oq + S.lo, (a - S.lo) * sizeof(int64_t))
            S.lo -= 1
            S.ok[a - 1] = k
            S.oq[a - 1] = lots
            S.no += 1
            return 1
        if end == S.ocap:
            mid = S.lo
            self._overflow_reserve(S, 1)
            a -= mid - S.lo
            end = S.lo + S.no
        memmove(S.ok + a + 1, S.ok + a, (end - a) * sizeof(int64_t))
        memmove(S.oq + a + 1, S.oq + a, (end - a) * sizeof(int64_t))
        S.ok[a] = k
        S.oq[a] = lots
        S.no += 1
        return 1

    cdef int _shift_up(self, Side* S, int64_t key) except -1:
        """Re-centre the window so that `key` (above it) lands 3/4 of the way up; the slots that
        fall out of the bottom move to the top end of the overflow, in order."""
        cdef Py_ssize_t W = self.window
        cdef int64_t new_base = key - (W >> 2) * 3
        cdef int64_t d = new_base - S.base
        cdef Py_ssize_t i, cut = W if d >= W else d
        self._overflow_reserve(S, S.nw)
        i = _next(S, 0, W)
        while i >= 0 and i < cut:
            S.ok[S.lo + S.no] = S.base + i
            S.oq[S.lo + S.no] = S.wq[i]
            S.no += 1
            S.nw -= 1
            i = _next(S, i + 1, W)
        if d < W:
            memmove(S.wq, S.wq + d, (W - d) * sizeof(int64_t))
            memset(S.wq + (W - d), 0, d * sizeof(int64_t))
        else:
            memset(S.wq, 0, W * sizeof(int64_t))
        S.base = new_base
        self._rebuild_bits(S)
        S.best = _prev(S, W - 1)
        return 0

    cdef void _shift_down(self, Side* S) noexcept:
        """The window emptied while deeper levels remain: move it down onto them."""
        cdef Py_ssize_t W = self.window
        cdef int64_t top = S.ok[S.lo + S.no - 1], k
        cdef Py_ssize_t i
        S.base = top - (W >> 2) * 3
        while S.no > 0:
            k = S.ok[S.lo + S.no - 1]
            if k < S.base:
                break
            i = k - S.base
            S.wq[i] = S.oq[S.lo + S.no - 1]
            _bit_set(S, i)
            S.nw += 1
            S.no -= 1
        S.best = top - S.base

    cdef void _rebuild_bits(self, Side* S) noexcept:
        cdef Py_ssize_t W = self.window, w, j
        cdef uint64_t m
        memset(S.b1, 0, (W >> 12) * sizeof(uint64_t))
        for w in range(W >> 6):
            m = 0
            for j in range(64):
                if S.wq[(w << 6) + j]:
                    m |= (<uint64_t>1) << j
            S.b0[w] = m
            if m:
                S.b1[w >> 6] |= (<uint64_t>1) << (w & 63)

    cdef Py_ssize_t count(self, int side) noexcept:
        if self.pend:
            self.settle()
        return self.sd[side].nw + self.sd[side].no

    cdef bint best(self, int side, int64_t* ticks, int64_t* lots) noexcept:
        cdef Side* S = &self.sd[side]
        cdef int64_t k
        if S.best < 0:
            return False
        k = S.base + S.best
        ticks[0] = -k if side else k
        lots[0] = S.wq[S.best]
        return True

    cdef Py_ssize_t walk(self, int side, Py_ssize_t n, int64_t* ticks, int64_t* lots) noexcept:
        cdef Py_ssize_t c = self._walk(side, n, ticks, lots)
        # exact while every level returned is at or above the side's fence; a walk that goes
        # below it, or runs out of levels, needs the deferred ones first
        if self.pend_side[side] and n > 0 and (
                c < n or (-ticks[c - 1] if side else ticks[c - 1]) < self.fence[side]):
            self.settle()
            c = self._walk(side, n, ticks, lots)
        return c

    cdef Py_ssize_t _walk(self, int side, Py_ssize_t n, int64_t* ticks, int64_t* lots) noexcept:
        cdef Side* S = &self.sd[side]
        cdef Py_ssize_t c = 0, i = S.best, j
        cdef int64_t k
        while c < n and i >= 0:
            k = S.base + i
            ticks[c] = -k if side else k
            lots[c] = S.wq[i]
            c += 1
            i = _prev(S, i - 1)
        j = S.lo + S.no - 1
        while c < n and j >= S.lo:
            k = S.ok[j]
            ticks[c] = -k if side else k
            lots[c] = S.oq[j]
            c += 1
            j -= 1
        return c

    cdef void drop_beyond(self, int side, Py_ssize_t max_levels) noexcept:
        cdef Side* S = &self.sd[side]
        cdef Py_ssize_t excess, d, i
        if self.pend:
            self.settle()
        excess = S.nw + S.no - max_levels
        if excess <= 0:
            return
        d = excess if excess < S.no else S.no
        S.lo += d
        S.no -= d
        excess -= d
        if S.no == 0:
            S.lo = 0
        while excess > 0:
            i = _next(S, 0, self.window)
            S.wq[i] = 0
            _bit_clear(S, i)
            S.nw -= 1
            excess -= 1
        if S.nw == 0:
            S.best = -1
            self._stale[side] = True

    # ------------------------------------------------------------------------------------------
    # staging

    cdef void stage_reset(self) noexcept:
        if self.pend:
            self.settle()                # a new batch comes after the deferred levels
        self.stage.n = 0

    cdef int _stage_room(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t newcap
        cdef void* p
        if need <= self.stage.cap:
            return 0
        newcap = self.stage.cap * 2 if self.stage.cap else 64
        while newcap < need:
            newcap *= 2
        p = realloc(self.stage.side, newcap * sizeof(int8_t))
        if p == NULL:
            raise MemoryError()
        self.stage.side = <int8_t*>p
        p = realloc(self.stage.ticks, newcap * sizeof(int64_t))
        if p == NULL:
            raise MemoryError()
        self.stage.ticks = <int64_t*>p
        p = realloc(self.stage.lots, newcap * sizeof(int64_t))
        if p == NULL:
            raise MemoryError()
        self.stage.lots = <int64_t*>p
        self.stage.cap = newcap
        return 0

    cdef int stage_ticks(self, int side, int64_t ticks, int64_t lots) except -1:
        if self.pend:
            self.settle()                # a new batch: the deferred levels come first
        if side != 0 and side != 1:
            return BAD_SIDE
        if ticks <= 0:
            return PRICE_NOT_POSITIVE
        if lots < 0:
            return BAD_SIZE_BASE + 4
        if ticks > MAX_UNITS // self.tick_units:
            return BAD_PRICE_BASE + 3
        if lots > MAX_UNITS // self.lot_units:
            return BAD_SIZE_BASE + 3
        if self.stage.n == self.stage.cap:
            self._stage_room(self.stage.n + 1)
        self.stage.side[self.stage.n] = <int8_t>side
        self.stage.ticks[self.stage.n] = ticks
        self.stage.lots[self.stage.n] = lots
        self.stage.n += 1
        return 0

    cdef int stage_text(self, int side, const char* p, Py_ssize_t pn,
                        const char* q, Py_ssize_t qn) except -1:
        cdef int64_t pu, qu
        cdef int st = parse_fixed(p, pn, self.price_decimals, &pu)
        if st != FIXED_OK:
            return BAD_PRICE_BASE + st
        st = parse_fixed(q, qn, self.size_decimals, &qu)
        if st != FIXED_OK:
            return BAD_SIZE_BASE + st
        if self.tick_units != 1:
            if pu % self.tick_units:
                return PRICE_OFF_GRID
            pu //= self.tick_units
        if self.lot_units != 1:
            if qu % self.lot_units:
                return SIZE_OFF_GRID
            qu //= self.lot_units
        return self.stage_ticks(side, pu, qu)

    cdef int stage_commit(self) except -1:
        """Apply the staged batch, every level of which was validated when it was staged."""
        cdef Stage* S = &self.stage
        if self.pend:
            self.settle()
        # reserve the overflow so that no allocation can fail half way through the batch
        # (only a window re-centre, which allocates for itself, still can)
        self._overflow_reserve(&self.sd[0], S.n)
        self._overflow_reserve(&self.sd[1], S.n)
        _commit_runs(self, S.side, S.ticks, S.lots, S.n)
        S.n = 0
        return 0

    cdef int stage_commit_near(self, Py_ssize_t min_batch, Py_ssize_t near_levels) except -1:
        """stage_commit, deferring the levels below each side's fence (book.pxd, "Deferred far
        levels"). The deferred levels stay where they are, in the stage (hot: the scan just
        wrote it); settle() applies them. Copying them out would store into cold lines, which
        on this class of machine costs about what applying them does."""
        cdef Stage* S = &self.stage
        cdef Py_ssize_t n = S.n, i, j, pn = 0
        cdef Py_ssize_t per[2]
        cdef int64_t f[2]
        cdef int8_t sd
        cdef int s
        if self.pend:
            self.settle()
        if n < min_batch:
            return self.stage_commit()
        f[0] = self._fence(0, near_levels)
        f[1] = self._fence(1, near_levels)
        if f[0] == NO_FENCE and f[1] == NO_FENCE:
            return self.stage_commit()
        per[0] = 0
        per[1] = 0
        # room for the whole batch, as stage_commit
        self._overflow_reserve(&self.sd[0], n)
        self._overflow_reserve(&self.sd[1], n)
        # the near levels, in order, a run of same-side near levels at a time (self.pend is
        # still 0: nothing settles while they are applied)
        i = 0
        while i < n:
            sd = S.side[i]
            if _key(sd, S.ticks[i]) < f[sd]:
                per[sd] += 1
                i += 1
                continue
            j = i + 1
            while j < n and S.side[j] == sd and _key(sd, S.ticks[j]) >= f[sd]:
                j += 1
            _commit_run(self, sd, S.ticks + i, S.lots + i, j - i)
            i = j
        pn = per[0] + per[1]
        if pn == 0:
            S.n = 0
            return 0
        try:
            # a re-centre during the near part may have used the room: settle must not allocate
            self._overflow_reserve(&self.sd[0], per[0])
            self._overflow_reserve(&self.sd[1], per[1])
        except MemoryError:
            S.n = 0
            self.valid = False           # the far levels cannot be kept: the book is not right
            raise
        self.pend = pn
        self.pend_side[0] = per[0]
        self.pend_side[1] = per[1]
        self.fence[0] = f[0]
        self.fence[1] = f[1]
        for s in range(2):
            # the near part removed every level at or above the fence: the side's best (or its
            # only levels) may be pending
            if per[s] and (self.sd[s].best < 0 or self.sd[s].base + self.sd[s].best < f[s]):
                self.settle()
                break
        return 0

    cpdef void settle(self) noexcept:
        """Apply the deferred far levels, in order. Cannot fail (book.pxd); were it to, the book
        is marked not valid rather than left silently wrong."""
        cdef Stage* S = &self.stage
        cdef Py_ssize_t n = S.n, i, j = 0
        cdef int64_t f0 = self.fence[0], f1 = self.fence[1]
        cdef int8_t sd
        cdef int64_t t
        if self.pend == 0:
            return
        self.pend = 0                    # first: the commit below goes through set_level
        self.pend_side[0] = 0
        self.pend_side[1] = 0
        self.fence[0] = NO_FENCE
        self.fence[1] = NO_FENCE
        # the far levels to the front of the stage, in order (both stores every time: no
        # branch to miss), then applied as one batch
        for i in range(n):
            sd = S.side[i]
            t = S.ticks[i]
            S.side[j] = sd
            S.ticks[j] = t
            S.lots[j] = S.lots[i]
            j += _key(sd, t) < (f1 if sd else f0)
        S.n = 0
        try:
            _commit_runs(self, S.side, S.ticks, S.lots, j)
        except BaseException:
            self.valid = False
        # the next large batch's fences, measured now that the order has gone
        self._measure_gap(0, self.gap_k)
        self._measure_gap(1, self.gap_k)

    cdef int64_t _fence(self, int side, Py_ssize_t k) noexcept:
        """The side's fence for a batch: its best key less the key distance that its k-th
        best level had when last measured (after the last settle, off the order's path), or
        NO_FENCE when the side held fewer than k levels then. Any fence keeps the book exact
        (book.pxd); this one puts about k levels above it without counting them now."""
        cdef Side* S = &self.sd[side]
        if k != self.gap_k:
            self.gap_k = k
            self.gap[0] = 0
            self.gap[1] = 0
        if self.gap[side] == 0:
            self._measure_gap(side, k)
        if self.gap[side] < 0 or S.best < 0:
            return NO_FENCE
        return S.base + S.best - self.gap[side]

    cdef void _measure_gap(self, int side, Py_ssize_t k) noexcept:
        cdef Side* S = &self.sd[side]
        cdef int64_t kth
        if k < 1 or S.best < 0:
            self.gap[side] = 0           # unknown: measured when next needed
            return
        kth = self._kth_key(side, k)
        self.gap[side] = -1 if kth == NO_FENCE else S.base + S.best - kth

    cdef int64_t _kth_key(self, int side, Py_ssize_t k) noexcept:
        """The key of the side's k-th best level (k >= 1) in the window, counted a bitmap word
        at a time; NO_FENCE when the window holds fewer than k."""
        cdef Side* S = &self.sd[side]
        cdef Py_ssize_t i = S.best, w
        cdef uint64_t m
        cdef int c
        if i < 0 or k < 1:
            return NO_FENCE
        w = i >> 6
        m = S.b0[w] if (i & 63) == 63 else S.b0[w] & ((<uint64_t>2 << (i & 63)) - 1)
        while True:
            c = tc_popcount64(m)
            if c >= k:
                while k > 1:
                    m &= ~((<uint64_t>1) << (63 - tc_clz64(m)))
                    k -= 1
                return S.base + (w << 6) + 63 - tc_clz64(m)
            k -= c
            i = _prev(S, (w << 6) - 1)
            if i < 0:
                return NO_FENCE
            w = i >> 6
            m = S.b0[w]                  # i is the highest level of word w

    # ------------------------------------------------------------------------------------------
    # conversions

    cdef int64_t _price_to_ticks(self, double price) except? -1:
        cdef double x
        cdef int64_t t
        if not isfinite(price) or price <= 0.0:
            raise ValueError(f"price {price!r} must be a positive finite number")
        x = price * self._ticks_per_price
        if x * self.tick_units > <double>MAX_UNITS:
            raise ValueError(f"price {price!r} is too large for tick size {self.tick_size!r}")
        t = llround(x)
        if fabs(x - <double>t) > _grid_tolerance(x):
            raise ValueError(f"price {price!r} is off the tick grid {self.tick_size!r}")
        if t <= 0:
            raise ValueError(f"price {price!r} is below one tick {self.tick_size!r}")
        return t

    cdef int64_t _size_to_lots(self, double size) except? -1:
        cdef double x
        cdef int64_t t
        if not isfinite(size) or size < 0.0:
            raise ValueError(f"size {size!r} must be a finite number >= 0")
        x = size * self._lots_per_size
        if x * self.lot_units > <double>MAX_UNITS:
            raise ValueError(f"size {size!r} is too large for lot size {self.lot_size!r}")
        t = llround(x)
        if fabs(x - <double>t) > _grid_tolerance(x):
            raise ValueError(f"size {size!r} is off the lot grid {self.lot_size!r}")
        return t

    cdef double _price(self, int64_t ticks) noexcept:
        # an exact integer over an exact power of ten: the double nearest the decimal value
        return <double>(ticks * self.tick_units) / self._price_div

    cdef double _size(self, int64_t lots) noexcept:
        return <double>(lots * self.lot_units) / self._size_div

    def price_to_ticks(self, double price) -> int:
        """Ticks of a price on the grid (ValueError when it is off the grid)."""
        return self._price_to_ticks(price)

    def size_to_lots(self, double size) -> int:
        return self._size_to_lots(size)

    def ticks_to_price(self, int64_t ticks) -> float:
        return self._price(ticks)

    def lots_to_size(self, int64_t lots) -> float:
        return self._size(lots)

    # ------------------------------------------------------------------------------------------
    # updates (Python API)

    def apply(self, int side, double price, double size):
        """Set one level; size 0 removes it. ValueError (book unchanged) on bad input."""
        if side != 0 and side != 1:
            raise ValueError(f"side {side} must be 0 (bid) or 1 (ask)")
        self.set_level(side, self._price_to_ticks(price), self._size_to_lots(size))

    def apply_ticks(self, int side, int64_t ticks, int64_t lots):
        """Set one level in integer ticks and lots (no float conversion)."""
        if side != 0 and side != 1:
            raise ValueError(f"side {side} must be 0 (bid) or 1 (ask)")
        if ticks <= 0 or lots < 0:
            raise ValueError(f"ticks {ticks} must be > 0 and lots {lots} >= 0")
        if ticks > MAX_UNITS // self.tick_units or lots > MAX_UNITS // self.lot_units:
            raise ValueError(f"ticks {ticks} or lots {lots} too large for this book's grid")
        return self.set_level(side, ticks, lots)

    def apply_many(self, sides, prices, sizes) -> int:
        """Apply a batch of levels in order; all are validated first, so a bad level anywhere
        raises ValueError naming it and leaves the book unchanged. Returns the batch length."""
        cdef Py_ssize_t n = self._stage_arrays(sides, prices, sizes)
        self.stage_commit()
        return n

    def apply_many_near(self, sides, prices, sizes, Py_ssize_t near_levels=NEAR_LEVELS,
                        Py_ssize_t min_batch=DEFER_MIN_LEVELS) -> int:
        """apply_many, except that the levels far from the touch of a large batch are kept
        pending until settle() or the first read that needs them (book.pxd, "Deferred far
        levels"): what the Binance fast path does with a large diff, so that the order goes out
        before they are applied. Returns the batch length."""
        if near_levels < 1 or min_batch < 0:
            raise ValueError(f"near_levels {near_levels} must be >= 1 and min_batch {min_batch} "
                             f">= 0")
        cdef Py_ssize_t n = self._stage_arrays(sides, prices, sizes)
        self.stage_commit_near(min_batch, near_levels)
        return n

    @property
    def pending(self) -> int:
        """Levels deferred by the last large batch and not yet applied."""
        return self.pend

    def stage_reserve(self, Py_ssize_t levels) -> int:
        """Room in the stage for a batch of `levels`, its free part written once now (zeros).
        A feed calls it off the path, when a snapshot starts the book, so that the first large
        diff neither grows the stage nor faults its new pages in on the order path. Returns
        the room."""
        if levels < 0:
            raise ValueError(f"levels {levels} must be >= 0")
        self._stage_room(levels)
        cdef Py_ssize_t n = self.stage.n, free_ = self.stage.cap - self.stage.n
        memset(self.stage.side + n, 0, free_ * sizeof(int8_t))
        memset(self.stage.ticks + n, 0, free_ * sizeof(int64_t))
        memset(self.stage.lots + n, 0, free_ * sizeof(int64_t))
        return self.stage.cap

    cdef Py_ssize_t _stage_arrays(self, sides, prices, sizes) except -1:
        cdef const int64_t[::1] sv = _as_int64(sides)
        cdef const double[::1] pv = np.ascontiguousarray(prices, dtype=np.float64)
        cdef const double[::1] qv = np.ascontiguousarray(sizes, dtype=np.float64)
        cdef Py_ssize_t n = sv.shape[0]
        if pv.shape[0] != n or qv.shape[0] != n:
            raise ValueError(f"apply_many: sides, prices and sizes differ in length "
                             f"({n}, {pv.shape[0]}, {qv.shape[0]})")
        if n == 0:
            self.stage_reset()
            return 0
        self.stage_floats(&sv[0], &pv[0], &qv[0], n)
        return n

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int stage_floats(self, const int64_t* sides, const double* prices,
                          const double* sizes, Py_ssize_t n) except -1:
        cdef Py_ssize_t i
        cdef double x, y
        cdef int64_t t, l, s
        cdef double tpp = self._ticks_per_price
        cdef double lps = self._lots_per_size
        cdef double xmax = <double>MAX_UNITS / <double>self.tick_units
        cdef double ymax = <double>MAX_UNITS / <double>self.lot_units
        self.stage_reset()
        self._stage_room(n)
        for i in range(n):
            s = sides[i]
            x = prices[i] * tpp
            y = sizes[i] * lps
            t = <int64_t>(x + 0.5)
            l = <int64_t>(y + 0.5)
            if ((s != 0 and s != 1) or not (x > 0.0) or not (y >= 0.0) or x > xmax
                    or y > ymax or fabs(x - <double>t) > _grid_tolerance(x)
                    or fabs(y - <double>l) > _grid_tolerance(y) or t <= 0):
                self._raise_level(i, s, prices[i], sizes[i])
            self.stage.side[i] = <int8_t>s
            self.stage.ticks[i] = t
            self.stage.lots[i] = l
        self.stage.n = n
        return 0

    cdef _raise_level(self, Py_ssize_t i, int64_t s, double p, double q):
        self.stage.n = 0
        if s != 0 and s != 1:
            raise ValueError(f"apply_many: level {i}: side {s} must be 0 (bid) or 1 (ask)")
        try:
            self._price_to_ticks(p)
            self._size_to_lots(q)
        except ValueError as e:
            raise ValueError(f"apply_many: level {i}: {e}") from None
        raise ValueError(f"apply_many: level {i}: price {p!r} rounds to no tick")

    @cython.boundscheck(True)
    @cython.wraparound(True)
    def apply_levels(self, int side, levels) -> int:
        """Apply exchange levels given as sequences whose first two items are the price and size
        as decimal text (str or bytes), e.g. Binance/Kraken/OKX `[["61837.63", "3.78"], ...]`.
        All-or-nothing: ValueError names the first bad level and the book is unchanged."""
        if side != 0 and side != 1:
            raise ValueError(f"side {side} must be 0 (bid) or 1 (ask)")
        self.stage_reset()
        cdef Py_ssize_t i = self._stage_list(side, levels, 0)
        self.stage_commit()
        return i

    @cython.boundscheck(True)
    @cython.wraparound(True)
    def apply_sides(self, bids, asks) -> int:
        """apply_levels for the bids and the asks of one message as one all-or-nothing batch."""
        self.stage_reset()
        cdef Py_ssize_t i = self._stage_list(0, bids, 0)
        i = self._stage_list(1, asks, i)
        self.stage_commit()
        return i

    @cython.boundscheck(True)
    @cython.wraparound(True)
    cdef Py_ssize_t _stage_list(self, int side, levels, Py_ssize_t i) except -1:
        cdef object p, q
        try:
            for lvl in levels:
                if len(lvl) < 2:
                    raise ValueError("needs a price and a size")
                p = lvl[0]
                q = lvl[1]
                self._stage_obj(side, p, q, i)
                i += 1
        except (TypeError, KeyError, IndexError) as e:
            self.stage.n = 0
            raise ValueError(f"level {i}: not a [price, size] pair ({e!r})") from None
        except ValueError as e:
            self.stage.n = 0
            if str(e).startswith("level "):
                raise
            raise ValueError(f"level {i}: {e}") from None
        return i

    @cython.boundscheck(True)
    @cython.wraparound(True)
    def apply_records(self, records, str side_key, str price_key, str size_key,
                      str bid_word) -> int:
        """Apply levels given as mappings (Coinbase `{"side": "bid", "price_level": ..,
        "new_quantity": ..}`); a record whose side is not bid_word is an ask. All-or-nothing."""
        cdef Py_ssize_t i = 0
        self.stage_reset()
        try:
            for rec in records:
                side = 0 if rec[side_key] == bid_word else 1
                self._stage_obj(side, rec[price_key], rec[size_key], i)
                i += 1
        except (TypeError, KeyError, IndexError) as e:
            self.stage.n = 0
            raise ValueError(f"record {i}: not a level record ({e!r})") from None
        self.stage_commit()
        return i

    cdef int _stage_obj(self, int side, object p, object q, Py_ssize_t i) except -1:
        cdef const char* ps
        cdef const char* qs
        cdef Py_ssize_t pn, qn
        cdef int code
        if isinstance(p, str) and isinstance(q, str):
            ps = PyUnicode_AsUTF8AndSize(p, &pn)
            qs = PyUnicode_AsUTF8AndSize(q, &qn)
        elif isinstance(p, bytes) and isinstance(q, bytes):
            ps = p
            pn = len(<bytes>p)
            qs = q
            qn = len(<bytes>q)
        else:
            self.stage.n = 0
            raise ValueError(f"level {i}: price {p!r} and size {q!r} must be decimal text")
        code = self.stage_text(side, ps, pn, qs, qn)
        if code:
            self.stage.n = 0
            raise ValueError(f"level {i} ({'ask' if side else 'bid'} {p!r} x {q!r}): "
                             f"{reason_text(code)}")
        return 0

    def load_snapshot(self, bid_prices, bid_sizes, ask_prices, ask_sizes):
        """Replace both sides with a snapshot (float arrays); all-or-nothing. Marks the book
        valid."""
        bp = np.ascontiguousarray(bid_prices, dtype=np.float64)
        ap = np.ascontiguousarray(ask_prices, dtype=np.float64)
        if len(bp) != len(bid_sizes) or len(ap) != len(ask_sizes):
            raise ValueError(f"load_snapshot: prices and sizes differ in length: {len(bp)} bid "
                             f"prices for {len(bid_sizes)} sizes, "
                             f"{len(ap)} ask prices for {len(ask_sizes)} sizes")
        sides = np.concatenate([np.zeros(len(bp), np.int64), np.ones(len(ap), np.int64)])
        self._stage_arrays(sides, np.concatenate([bp, ap]),
                           np.concatenate([np.ascontiguousarray(bid_sizes, dtype=np.float64),
                                           np.ascontiguousarray(ask_sizes, dtype=np.float64)]))
        self.clear()
        self.stage_commit()
        self.valid = True

    def _tick_text(self) -> str:
        return format(Decimal(self.tick_units).scaleb(-self.price_decimals), "f")

    def _lot_text(self) -> str:
        return format(Decimal(self.lot_units).scaleb(-self.size_decimals), "f")

    def clear(self):
        """Remove every level (validity and sequence are left to the caller)."""
        cdef int s
        cdef Side* S
        for s in range(2):
            S = &self.sd[s]
            if S.nw:
                memset(S.wq, 0, self.window * sizeof(int64_t))
                memset(S.b0, 0, (self.window >> 6) * sizeof(uint64_t))
                memset(S.b1, 0, (self.window >> 12) * sizeof(uint64_t))
            S.nw = 0
            S.best = -1
            S.lo = 0
            S.no = 0
        self.pend = 0                  # deferred levels of the book that was
        self.pend_side[0] = 0
        self.pend_side[1] = 0
        self.fence[0] = NO_FENCE
        self.fence[1] = NO_FENCE
        self.gap[0] = 0
        self.gap[1] = 0
        self._stale[0] = True
        self._stale[1] = True

    def truncate(self, Py_ssize_t max_levels):
        """Keep only the best max_levels per side (Kraken's book depth rule)."""
        if max_levels < 0:
            raise ValueError(f"max_levels {max_levels} must be >= 0")
        self.drop_beyond(0, max_levels)
        self.drop_beyond(1, max_levels)

    # ------------------------------------------------------------------------------------------
    # reads

    cdef object _best_tuple(self, int side):
        cdef int64_t t, l
        self.best(side, &t, &l)
        return (self._price(t), self._size(l))

    def best_bid(self):
        """(price, size) of the best bid, or None when there are no bids."""
        if self.sd[0].best < 0:
            return None
        if self._stale[0]:
            self._best_bid = self._best_tuple(0)
            self._stale[0] = False
        return self._best_bid

    def best_ask(self):
        """(price, size) of the best ask, or None when there are no asks."""
        if self.sd[1].best < 0:
            return None
        if self._stale[1]:
            self._best_ask = self._best_tuple(1)
            self._stale[1] = False
        return self._best_ask

    def best_ticks(self, int side):
        """(ticks, lots) of the best level of a side, or None."""
        cdef int64_t t, l
        if side != 0 and side != 1:
            raise ValueError(f"side {side} must be 0 (bid) or 1 (ask)")
        if not self.best(side, &t, &l):
            return None
        return (t, l)

    def top_ticks(self):
        """(bid ticks, bid lots, ask ticks, ask lots), or None when a side is empty: the whole
        top of book in one call, for exact comparisons."""
        cdef int64_t bt, bl, at, al
        if not self.best(0, &bt, &bl) or not self.best(1, &at, &al):
            return None
        return (bt, bl, at, al)

    @property
    def bid_count(self) -> int:
        """Number of bid levels."""
        return self.count(0)

    @property
    def ask_count(self) -> int:
        """Number of ask levels."""
        return self.count(1)

    def mid(self):
        """Mid price, or None when a side is empty."""
        cdef int64_t bt, bl, at, al
        if not self.best(0, &bt, &bl) or not self.best(1, &at, &al):
            return None
        return self._price(bt + at) / 2.0

    def microprice(self):
        """Size-weighted mid, leaning toward the side with less size at the touch; None if a
        side is empty."""
        cdef int64_t bt, bl, at, al
        if not self.best(0, &bt, &bl) or not self.best(1, &at, &al):
            return None
        return (self._price(bt) * al + self._price(at) * bl) / <double>(al + bl)

    def imbalance(self, Py_ssize_t n=1):
        """(bid size - ask size) / (bid size + ask size) over the top n levels; None if empty."""
        cdef double b = 0.0, a = 0.0
        cdef Py_ssize_t i, m
        cdef Side* S
        if n < 1:
            raise ValueError(f"n {n} must be >= 1")
        n = min(n, max(self.count(0), self.count(1), 1))
        cdef int64_t[::1] t = np.empty(n, dtype=np.int64)
        cdef int64_t[::1] l = np.empty(n, dtype=np.int64)
        m = self.walk(0, n, &t[0], &l[0])
        for i in range(m):
            b += <double>l[i]
        m = self.walk(1, n, &t[0], &l[0])
        for i in range(m):
            a += <double>l[i]
        if a + b == 0.0:
            return None
        return (b - a) / (b + a)

    def is_crossed(self) -> bool:
        """True when the best bid is at or above the best ask (a book that cannot be right)."""
        cdef int64_t bt, bl, at, al
        return self.best(0, &bt, &bl) and self.best(1, &at, &al) and bt >= at

    def fill_price(self, int side, double size):
        """Average price to take `size` from a side (1 = asks, i.e. a buy), walking the book;
        None when the side holds less than `size` in total."""
        cdef Side* S
        cdef double rem, want, take, notional = 0.0, q
        cdef Py_ssize_t i, j
        cdef int64_t k
        if side != 0 and side != 1:
            raise ValueError(f"side {side} must be 0 (bid) or 1 (ask)")
        if not isfinite(size) or size <= 0.0:
            raise ValueError(f"size {size!r} must be a positive finite number")
        self.settle()
        S = &self.sd[side]
        want = size * self._lots_per_size
        rem = want
        i = S.best
        while i >= 0:
            q = <double>S.wq[i]
            take = q if q < rem else rem
            notional += take * <double>(S.base + i)
            rem -= take
            if rem <= 0.0:
                break
            i = _prev(S, i - 1)
        if rem > 0.0:
            j = S.lo + S.no - 1
            while j >= S.lo:
                q = <double>S.oq[j]
                take = q if q < rem else rem
                notional += take * <double>S.ok[j]
                rem -= take
                if rem <= 0.0:
                    break
                j -= 1
        if rem > 0.0:
            return None
        if side:
            notional = -notional
        return notional / want * <double>self.tick_units / self._price_div

    def depth(self, Py_ssize_t n):
        """(bids, asks): float64 arrays of shape (<= n, 2) holding price, size, best first."""
        if n < 0:
            raise ValueError(f"n {n} must be >= 0")
        return self._depth_side(0, n), self._depth_side(1, n)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef object _depth_side(self, int side, Py_ssize_t n):
        cdef Py_ssize_t m = min(n, self.count(side)), i
        out = np.empty((m, 2), dtype=np.float64)
        cdef double[:, ::1] o = out
        if m == 0:
            return out
        cdef int64_t* ticks = <int64_t*>calloc(m, sizeof(int64_t))
        cdef int64_t* lots = <int64_t*>calloc(m, sizeof(int64_t))
        if ticks == NULL or lots == NULL:
            free(ticks)
            free(lots)
            raise MemoryError()
        self.walk(side, m, ticks, lots)
        for i in range(m):
            o[i, 0] = self._price(ticks[i])
            o[i, 1] = self._size(lots[i])
        free(ticks)
        free(lots)
        return out

    def prefault(self) -> int:
        """Make every page of the window and its bitmaps present and writable now, so that no
        later update faults one in. Why: the window is calloc'd, so each page is first
        touched (and faulted in, ~2-10 us on this VM) by whichever update first lands a level
        in it: a book loaded from a snapshot would otherwise take those faults on the ticks
        of its first minutes, and again after every resync, which makes a new book. The
        normalizers call it after loading a snapshot (venues/base.py); it costs ~2 x 130
        page faults once (~0.5 ms) and makes the window resident (2 x window x 8 bytes).
        Changes no value. Returns the pages written."""
        cdef Py_ssize_t k = 0
        cdef int s
        for s in range(2):
            k += tc_touch_pages(self.sd[s].wq, <size_t>self.window * sizeof(int64_t))
            k += tc_touch_pages(self.sd[s].b0, <size_t>(self.window >> 6) * sizeof(uint64_t))
            k += tc_touch_pages(self.sd[s].b1, <size_t>(self.window >> 12) * sizeof(uint64_t))
        return k

    def depth_ticks(self, int side, Py_ssize_t n):
        """int64 array of shape (<= n, 2) holding ticks, lots of one side, best first."""
        if side != 0 and side != 1:
            raise ValueError(f"side {side} must be 0 (bid) or 1 (ask)")
        # at most the levels it holds plus its deferred ones: not count(), which would apply
        # them when the walk does not need them
        cdef Py_ssize_t m = min(max(n, 0), self.sd[side].nw + self.sd[side].no
                                + self.pend_side[side])
        cdef int64_t[::1] t = np.empty(max(m, 1), dtype=np.int64)
        cdef int64_t[::1] l = np.empty(max(m, 1), dtype=np.int64)
        m = self.walk(side, m, &t[0], &l[0])
        out = np.zeros((m, 2), dtype=np.int64)
        out[:, 0] = np.asarray(t)[:m]
        out[:, 1] = np.asarray(l)[:m]
        return out

    def __repr__(self):
        return (f"L2Book(tick_size={self._tick_text()}, lot_size={self._lot_text()}, "
                f"bids={self.count(0)}, asks={self.count(1)}, best_bid={self.best_bid()}, "
                f"best_ask={self.best_ask()}, valid={self.valid})")


cdef object _as_int64(object a):
    arr = np.asarray(a)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"apply_many: sides must be integers, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr, dtype=np.int64)
