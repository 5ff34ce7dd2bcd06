# cython: language_level=3
"""Compiled building blocks of the streaming indicators (tradecore.indicators.streaming).

Each class repeats, operation for operation and in the same order, the arithmetic of its
plain-Python twin in tradecore.indicators._stream_core (or of the private helper class in
streaming.py named in its docstring), so that a streaming indicator built on these blocks
still returns exactly the batch value at every bar. C doubles and Python floats are the same
IEEE operations; this module is compiled without -ffast-math and for baseline x86-64 (no FMA
contraction), so ``a * b + c`` stays two roundings. Where the batch kernel fuses a multiply
and an add on purpose (``_core.fma``: the EMA and Wilder recurrences), the block calls C's
``fma``, the same correctly rounded operation (glibc's is exact with or without FMA
hardware). Tests compare every block with its Python twin on random series
(tests/indicators/test_streamk.py).

Why: a Python method call costs ~50-100 ns and the indicators that chain several blocks
(stochastics, Ichimoku, DX/ADX, Bollinger...) spent 1-2 us per bar in calls and attribute
lookups. One call into a cdef class costs ~30-40 ns.

Conventions shared with _stream_core: a NaN given to a block is an upstream warm-up and is
ignored (NaN out, no state change); gaps in the raw input are handled one level up.
"""
from libc.math cimport NAN, sqrt, fabs, fma
from libc.stdlib cimport malloc, free


cdef inline double* _alloc(Py_ssize_t n) except NULL:
    cdef double* p = <double*> malloc((n if n > 0 else 1) * sizeof(double))
    if p == NULL:
        raise MemoryError()
    cdef Py_ssize_t i
    for i in range(n):
        p[i] = 0.0
    return p


cdef class RollingSum:
    """_stream_core.RollingSum (``mean``: _stream_core.Sma, the sum times 1/p)."""

    cdef readonly long p
    cdef readonly bint mean
    cdef double* ring
    cdef long n
    cdef long countdown
    cdef double total

    def __cinit__(self, long p, bint mean=False):
        self.p = p
        self.mean = mean
        self.ring = _alloc(p)
        self.n = 0
        self.countdown = 0
        self.total = 0.0

    def __dealloc__(self):
        free(self.ring)

    cpdef double update(self, double x):
        if x != x:
            return NAN
        cdef long p = self.p
        cdef long n = self.n
        cdef double* ring = self.ring
        cdef double total
        cdef long j
        ring[n % p] = x
        self.n = n + 1
        if n < p - 1:
            return NAN
        if self.countdown == 0:
            total = 0.0
            for j in range(n - p + 1, n + 1):
                total += ring[j % p]
            self.countdown = p
        else:
            total = self.total + x
        self.total = total - ring[(n + 1) % p]
        self.countdown -= 1
        if self.mean:
            return total * (1.0 / <double> p)
        return total


def Sma(long p):
    """_stream_core.Sma."""
    return RollingSum(p, True)


cdef class Ema:
    """_stream_core.Ema: seeded with the SMA of the p values ending ``skip`` bars after the
    earliest seed, then prev = fma(x - prev, k, prev) (c.ema_fused)."""

    cdef readonly long p
    cdef readonly double k
    cdef long first
    cdef double* ring
    cdef long n
    cdef readonly double prev

    def __cinit__(self, long p, double k, long skip=0):
        self.p = p
        self.k = k
        self.first = p - 1 + skip
        self.ring = _alloc(p)
        self.n = 0
        self.prev = NAN

    def __dealloc__(self):
        free(self.ring)

    cpdef double update(self, double x):
        if x != x:
            return NAN
        cdef long n = self.n
        cdef long p = self.p
        cdef double total
        cdef long j
        if n > self.first:
            self.n = n + 1
            self.prev = fma(x - self.prev, self.k, self.prev)
            return self.prev
        self.ring[n % p] = x
        self.n = n + 1
        if n < self.first:
            return NAN
        total = 0.0
        for j in range(n - p + 1, n + 1):
            total += self.ring[j % p]
        self.prev = total / <double> p
        return self.prev


def ma(long p, long kind):
    """_stream_core.ma: TA-Lib MA type 0 (SMA) or 1 (EMA)."""
    return RollingSum(p, True) if kind == 0 else Ema(p, 2.0 / (p + 1))


cdef struct Mono:
    # a monotonic deque of (index, value) in a ring of capacity p
    long* idx
    double* val
    long p
    long head
    long size
    long n
    long index
    bint want_max


cdef int _mono_init(Mono* m, long p, bint want_max) except -1:
    m.idx = <long*> malloc((p if p > 0 else 1) * sizeof(long))
    m.val = <double*> malloc((p if p > 0 else 1) * sizeof(double))
    if m.idx == NULL or m.val == NULL:
        raise MemoryError()
    m.p = p
    m.head = 0
    m.size = 0
    m.n = 0
    m.index = -1
    m.want_max = want_max
    return 0


cdef void _mono_free(Mono* m):
    free(m.idx)
    free(m.val)


cdef inline double _mono_update(Mono* m, double x):
    """_stream_core.Extreme.update (x is not NaN)."""
    cdef long n = m.n
    cdef long p = m.p
    cdef long back
    m.n = n + 1
    if m.size and m.idx[m.head] <= n - p:
        m.head = m.head + 1 if m.head + 1 < p else 0
        m.size -= 1
    back = m.head + m.size - 1
    if back >= p:
        back -= p
    if m.want_max:
        while m.size and m.val[back] <= x:
            m.size -= 1
            back = back - 1 if back > 0 else p - 1
    else:
        while m.size and m.val[back] >= x:
            m.size -= 1
            back = back - 1 if back > 0 else p - 1
    back = m.head + m.size
    if back >= p:
        back -= p
    m.idx[back] = n
    m.val[back] = x
    m.size += 1
    if n < p - 1:
        return NAN
    m.index = m.idx[m.head]
    return m.val[m.head]


cdef class Extreme:
    """_stream_core.Extreme: rolling max (or min) of the last p values; ``index`` is the
    latest position of the extreme on ties."""

    cdef Mono m

    def __cinit__(self, long p, bint want_max):
        _mono_init(&self.m, p, want_max)

    def __dealloc__(self):
        _mono_free(&self.m)

    @property
    def index(self):
        return self.m.index

    cpdef double update(self, double x):
        if x != x:
            return NAN
        return _mono_update(&self.m, x)


cdef class HighLow:
    """The highest high and lowest low of the last p bars (two Extremes in one call), and
    what the batch kernel c.high_low_window makes of them: the midpoint (MIDPRICE, and the
    Ichimoku lines), the fast stochastic %K (streaming._FastK) and Williams %R. A range
    below ``noise_rtol`` of the price is none (0), as in the batch kernel."""

    cdef Mono hi
    cdef Mono lo
    cdef double noise_rtol

    def __cinit__(self, long p, double noise_rtol=0.0):
        _mono_init(&self.hi, p, True)
        _mono_init(&self.lo, p, False)
        self.noise_rtol = noise_rtol

    def __dealloc__(self):
        _mono_free(&self.hi)
        _mono_free(&self.lo)

    cpdef double mid(self, double high, double low):
        """(highest high + lowest low) / 2 (NaN during warm-up)."""
        cdef double hh = _mono_update(&self.hi, high)
        cdef double ll = _mono_update(&self.lo, low)
        return (hh + ll) / 2.0

    cpdef double fastk(self, double high, double low, double close):
        """streaming._FastK.update (high, low, close not NaN)."""
        cdef double hh = _mono_update(&self.hi, high)
        cdef double ll = _mono_update(&self.lo, low)
        if hh != hh:
            return NAN
        if hh - ll > self.noise_rtol * max(fabs(hh), fabs(ll)):
            return (close - ll) / ((hh - ll) / 100.0)
        return 0.0

    cpdef double willr(self, double high, double low, double close):
        """streaming.WILLR.update after its gap test."""
        cdef double hh = _mono_update(&self.hi, high)
        cdef double ll = _mono_update(&self.lo, low)
        if hh != hh:
            return NAN
        if hh - ll > self.noise_rtol * max(fabs(hh), fabs(ll)):
            return (hh - close) / ((hh - ll) / -100.0)
        return 0.0


cdef class RollingVar:
    """_stream_core.RollingVar: anchored sums, recomputed exactly every p bars; 0 for a
    window of equal values."""

    cdef readonly long p
    cdef double* ring
    cdef long n
    cdef double anchor
    cdef double s1
    cdef double s2
    cdef long changes

    def __cinit__(self, long p):
        self.p = p
        self.ring = _alloc(p + 1)
        self.n = 0
        self.anchor = 0.0
        self.s1 = 0.0
        self.s2 = 0.0
        self.changes = 0

    def __dealloc__(self):
        free(self.ring)

    cpdef double update(self, double x):
        if x != x:
            return NAN
        cdef long p = self.p
        cdef long q = p + 1
        cdef long n = self.n
        cdef double* ring = self.ring
        cdef double anchor, s1, s2, v, d, old, dn, do, m, inv
        cdef long changes, j
        ring[n % q] = x
        self.n = n + 1
        if n < p - 1:
            return NAN
        if (n - (p - 1)) % p == 0:
            anchor = ring[(n - p + 1) % q]
            s1 = 0.0
            s2 = 0.0
            changes = 0
            for j in range(n - p + 1, n + 1):
                v = ring[j % q]
                d = v - anchor
                s1 += d
                s2 += d * d
                if j > n - p + 1 and v != ring[(j - 1) % q]:
                    changes += 1
            self.anchor = anchor
            self.s1 = s1
            self.s2 = s2
            self.changes = changes
        else:
            anchor = self.anchor
            old = ring[(n - p) % q]
            dn = x - anchor
            do = old - anchor
            self.s1 += dn - do
            self.s2 += dn * dn - do * do
            if x != ring[(n - 1) % q]:
                self.changes += 1
            if ring[(n - p + 1) % q] != old:
                self.changes -= 1
        if self.changes == 0:
            return 0.0
        inv = 1.0 / <double> p
        m = self.s1 * inv
        v = self.s2 * inv - m * m
        return v if v > 0.0 else 0.0


cdef class MeanNonneg:
    """streaming._MeanNonneg (volatility._mean_nonneg): rolling mean of per-bar variance
    terms, clamped at 0, exactly 0 when every term of the window is 0."""

    cdef readonly long p
    cdef double* ring
    cdef long n
    cdef double total
    cdef long nonzero

    def __cinit__(self, long p):
        self.p = p
        self.ring = _alloc(p)
        self.n = 0
        self.total = 0.0
        self.nonzero = 0

    def __dealloc__(self):
        free(self.ring)

    cpdef double update(self, double x):
        cdef long p = self.p
        cdef long n = self.n
        cdef double old, m
        self.n = n + 1
        self.total += x
        self.nonzero += x != 0.0
        if n >= p:
            old = self.ring[n % p]
            self.total -= old
            self.nonzero -= old != 0.0
        self.ring[n % p] = x
        if self.nonzero == 0:
            self.total = 0.0
        if n < p - 1:
            return NAN
        m = self.total / <double> p
        return m if m > 0.0 else 0.0


cdef class Cci:
    """streaming.CCI after its gap test: O(p) per bar (mean absolute deviation), the sums
    over the window oldest first, as momentum._cci."""

    cdef readonly long p
    cdef double* ring
    cdef long n
    cdef double noise_rtol

    def __cinit__(self, long p, double noise_rtol):
        self.p = p
        self.ring = _alloc(p)
        self.n = 0
        self.noise_rtol = noise_rtol

    def __dealloc__(self):
        free(self.ring)

    cpdef double update(self, double high, double low, double close):
        cdef long p = self.p
        cdef long n = self.n
        cdef double tp = (high + low + close) / 3.0
        cdef double total = 0.0
        cdef double dev = 0.0
        cdef double avg, num
        cdef long j
        self.ring[n % p] = tp
        self.n = n + 1
        if n + 1 < p:
            return NAN
        for j in range(n - p + 1, n + 1):
            total += self.ring[j % p]
        avg = total / <double> p
        for j in range(n - p + 1, n + 1):
            dev += fabs(self.ring[j % p] - avg)
        num = tp - avg
        if num != 0.0 and dev > self.noise_rtol * fabs(avg) * <double> p:
            return num / (0.015 * (dev / <double> p))
        return 0.0


cdef class Di:
    """streaming._DI (trend._di) after the gap test: Wilder sums of +DM, -DM and true range;
    ``update`` returns +DI (which 0), -DI (1) or DX (2) from bar p, NaN before."""

    cdef readonly long p
    cdef long which
    cdef long n
    cdef double ph, pl, pc
    cdef double sp, sm, st

    def __cinit__(self, long p, long which):
        self.p = p
        self.which = which
        self.n = 0
        self.ph = NAN
        self.pl = NAN
        self.pc = NAN
        self.sp = 0.0
        self.sm = 0.0
        self.st = 0.0

    cpdef double update(self, double high, double low, double close):
        cdef double plus = 0.0
        cdef double minus = 0.0
        cdef double tr = 0.0
        cdef double diff_p, diff_m, pc, inv, pli, mii, t
        cdef long n = self.n
        cdef long p = self.p
        self.n = n + 1
        if n > 0:
            diff_p = high - self.ph
            diff_m = self.pl - low
            plus = diff_p if (diff_p > 0 and diff_p > diff_m) else 0.0
            minus = diff_m if (diff_m > 0 and diff_p < diff_m) else 0.0
            pc = self.pc
            tr = (high if high > pc else pc) - (low if low < pc else pc)
        self.ph = high
        self.pl = low
        self.pc = close
        if n == 0:
            return NAN
        if n < p:
            self.sp += plus
            self.sm += minus
            self.st += tr
            return NAN
        inv = 1.0 / <double> p
        self.sp = self.sp - self.sp * inv + plus
        self.sm = self.sm - self.sm * inv + minus
        self.st = self.st - self.st * inv + tr
        if self.st != 0.0:
            pli = 100.0 * (self.sp / self.st)
            mii = 100.0 * (self.sm / self.st)
        else:
            pli = 0.0
            mii = 0.0
        if self.which == 0:
            return pli
        if self.which == 1:
            return mii
        t = mii + pli
        return 100.0 * (fabs(mii - pli) / t) if t != 0.0 else 0.0


cdef class Correl:
    """streaming.CORREL after its gap test: Pearson correlation of the last p pairs on
    anchored sums, recomputed exactly every p bars; 0 when either window is constant."""

    cdef readonly long p
    cdef double* rx
    cdef double* ry
    cdef long n
    cdef double ax, ay, sx, sy, sxx, syy, sxy
    cdef long cx, cy

    def __cinit__(self, long p):
        self.p = p
        self.rx = _alloc(p + 1)
        self.ry = _alloc(p + 1)
        self.n = 0
        self.ax = self.ay = 0.0
        self.sx = self.sy = self.sxx = self.syy = self.sxy = 0.0
        self.cx = self.cy = 0

    def __dealloc__(self):
        free(self.rx)
        free(self.ry)

    cpdef double update(self, double real0, double real1):
        cdef long p = self.p
        cdef long q = p + 1
        cdef long n = self.n
        cdef double* rx = self.rx
        cdef double* ry = self.ry
        cdef double ax, ay, sx, sy, sxx, syy, sxy, dx, dy, ox, oy, den
        cdef long cx, cy, j
        rx[n % q] = real0
        ry[n % q] = real1
        self.n = n + 1
        if n < p - 1:
            return NAN
        if (n - (p - 1)) % p == 0:
            ax = rx[(n - p + 1) % q]
            ay = ry[(n - p + 1) % q]
            self.ax = ax
            self.ay = ay
            sx = sy = sxx = syy = sxy = 0.0
            cx = cy = 0
            for j in range(n - p + 1, n + 1):
                dx = rx[j % q] - ax
                dy = ry[j % q] - ay
                sx += dx
                sy += dy
                sxx += dx * dx
                syy += dy * dy
                sxy += dx * dy
                if j > n - p + 1:
                    cx += rx[j % q] != rx[(j - 1) % q]
                    cy += ry[j % q] != ry[(j - 1) % q]
        else:
            ax = self.ax
            ay = self.ay
            sx, sy, sxx, syy, sxy = self.sx, self.sy, self.sxx, self.syy, self.sxy
            cx = self.cx
            cy = self.cy
            dx = real0 - ax
            dy = real1 - ay
            ox = rx[(n - p) % q] - ax
            oy = ry[(n - p) % q] - ay
            sx += dx - ox
            sy += dy - oy
            sxx += dx * dx - ox * ox
            syy += dy * dy - oy * oy
            sxy += dx * dy - ox * oy
            cx += <long> (real0 != rx[(n - 1) % q]) - <long> (rx[(n - p + 1) % q] != rx[(n - p) % q])
            cy += <long> (real1 != ry[(n - 1) % q]) - <long> (ry[(n - p + 1) % q] != ry[(n - p) % q])
        self.sx, self.sy, self.sxx, self.syy, self.sxy = sx, sy, sxx, syy, sxy
        self.cx = cx
        self.cy = cy
        den = (sxx - (sx * sx) / <double> p) * (syy - (sy * sy) / <double> p)
        if cx == 0 or cy == 0 or den <= 0.0:
            return 0.0
        return (sxy - (sx * sy) / <double> p) / sqrt(den)


cdef extern from "math.h":
    double atan(double x)
    double M_PI


cdef class LinReg:
    """_stream_core.LinReg (c.linreg_fit) and the output of ``kind``: 0 the line at the
    newest bar (LINEARREG), 1 the slope, 2 the line at the oldest bar (intercept), 3 the
    angle in degrees, 4 the line one bar after the window (TSF)."""

    cdef readonly long p
    cdef long kind
    cdef double* ring
    cdef long n
    cdef double anchor, sy, sxy, sum_x, divisor

    def __cinit__(self, long p, long kind):
        cdef double sum_x2
        self.p = p
        self.kind = kind
        self.ring = _alloc(p + 1)
        self.n = 0
        self.anchor = 0.0
        self.sy = 0.0
        self.sxy = 0.0
        self.sum_x = p * (p - 1) * 0.5
        sum_x2 = p * (p - 1) * (2.0 * p - 1.0) / 6.0
        self.divisor = self.sum_x * self.sum_x - p * sum_x2

    def __dealloc__(self):
        free(self.ring)

    cpdef double update(self, double x):
        if x != x:
            return NAN
        cdef long p = self.p
        cdef long q = p + 1
        cdef long n = self.n
        cdef double* ring = self.ring
        cdef double anchor, sy, sxy, d, dn, do, m, b
        cdef long lag
        ring[n % q] = x
        self.n = n + 1
        if n < p - 1:
            return NAN
        if (n - (p - 1)) % p == 0:
            anchor = ring[(n - p + 1) % q]
            sy = 0.0
            sxy = 0.0
            for lag in range(p - 1, -1, -1):      # oldest first, as c.linreg_fused
                d = ring[(n - lag) % q] - anchor
                sy += d
                sxy += lag * d
            self.anchor = anchor
        else:
            anchor = self.anchor
            sy = self.sy
            dn = x - anchor
            do = ring[(n - p) % q] - anchor
            sxy = self.sxy + (sy - p * do)
            sy += dn - do
        self.sy = sy
        self.sxy = sxy
        m = (p * sxy - self.sum_x * sy) / self.divisor
        if self.kind == 1:
            return m
        if self.kind == 3:
            return atan(m) * (180.0 / M_PI)
        b = (sy - m * self.sum_x) / <double> p + anchor
        if self.kind == 2:
            return b
        if self.kind == 0:
            return b + m * <double> (p - 1)
        return b + m * <double> p


cdef class Beta:
    """streaming.BETA after its gap test (trend-free TA-Lib BETA): the regression slope of
    real1's one-bar returns on real0's over the last p returns."""

    cdef readonly long p
    cdef double* rx
    cdef double* ry
    cdef long n
    cdef double px, py, s_xx, s_x, s_xy, s_y
    cdef long moving

    def __cinit__(self, long p):
        self.p = p
        self.rx = _alloc(p + 1)
        self.ry = _alloc(p + 1)
        self.n = 0
        self.px = NAN
        self.py = NAN
        self.s_xx = self.s_x = self.s_xy = self.s_y = 0.0
        self.moving = 0

    def __dealloc__(self):
        free(self.rx)
        free(self.ry)

    cpdef double update(self, double real0, double real1):
        cdef double px = self.px
        cdef double py = self.py
        cdef long n = self.n
        cdef long p = self.p
        cdef long q = p + 1
        cdef double x, y, ox, oy, den
        self.px = real0
        self.py = real1
        self.n = n + 1
        if n == 0:
            return NAN
        x = (real0 - px) / px if px != 0.0 else 0.0
        y = (real1 - py) / py if py != 0.0 else 0.0
        self.s_xx += x * x
        self.s_x += x
        self.s_xy += x * y
        self.s_y += y
        self.moving += x != 0.0
        if n > p:
            ox = self.rx[(n - p) % q]
            oy = self.ry[(n - p) % q]
            self.s_xx -= ox * ox
            self.s_x -= ox
            self.s_xy -= ox * oy
            self.s_y -= oy
            self.moving -= ox != 0.0
        self.rx[n % q] = x
        self.ry[n % q] = y
        if n < p:
            return NAN
        den = p * self.s_xx - self.s_x * self.s_x
        if self.moving > 0 and den != 0.0:
            return (p * self.s_xy - self.s_x * self.s_y) / den
        return 0.0


cdef class Wma:
    """_stream_core.Wma (c.wma_fused): TA-Lib's running weighted sum and plain sum, one
    addition each per bar."""

    cdef readonly long p
    cdef double* ring
    cdef long n
    cdef double sub, sum, trailing
    cdef long divider

    def __cinit__(self, long p):
        self.p = p
        self.ring = _alloc(p)
        self.n = 0
        self.sub = 0.0
        self.sum = 0.0
        self.trailing = 0.0
        self.divider = (p * (p + 1)) // 2

    def __dealloc__(self):
        free(self.ring)

    cpdef double update(self, double x):
        if x != x:
            return NAN
        cdef long p = self.p
        cdef long n = self.n
        cdef double vp, out
        self.ring[n % p] = x
        self.n = n + 1
        if n < p - 1:
            self.sub += x
            self.sum += x * <double> (n + 1)
            return NAN
        self.sub += x - self.trailing
        self.trailing = self.ring[(n + 1) % p]
        vp = x * <double> p
        out = (self.sum + vp) / <double> self.divider
        self.sum += vp - self.sub
        return out


cdef class WilderAtr:
    """streaming._WilderAtr (trend._wilder_atr): the mean of the first p true ranges, then
    fma(atr, (p-1)/p, tr * (1/p)); NaN before bar p. Inputs are not NaN (gap test above)."""

    cdef readonly long p
    cdef long n
    cdef double pc, total, atr

    def __cinit__(self, long p):
        self.p = p
        self.n = 0
        self.pc = NAN
        self.total = 0.0
        self.atr = NAN

    cpdef double update(self, double high, double low, double close):
        cdef long n = self.n
        cdef long p = self.p
        cdef double pc = self.pc
        cdef double tr
        self.n = n + 1
        self.pc = close
        if n == 0:
            return NAN
        tr = (high if high > pc else pc) - (low if low < pc else pc)
        if n < p:
            self.total += tr
            return NAN
        if n == p:
            self.total += tr
            self.atr = self.total / <double> p
        else:
            self.atr = fma(self.atr, <double> (p - 1) / <double> p, tr * (1.0 / <double> p))
        return self.atr


cdef class ChaikinOsc:
    """_stream_core.ChaikinOsc (volume._adosc after its A/D line): TA-Lib's two EMAs of the
    A/D line, both started at its first value, ema = fma(ema, 1 - k, k * ad); the
    difference from bar ``lookback`` (and never at the first bar)."""

    cdef double fk, fk1, sk, sk1, fe, se
    cdef long n, lookback

    def __cinit__(self, long fast, long slow):
        self.fk = 2.0 / <double> (fast + 1)
        self.sk = 2.0 / <double> (slow + 1)
        self.fk1 = 1.0 - self.fk
        self.sk1 = 1.0 - self.sk
        self.lookback = (fast if fast > slow else slow) - 1
        self.n = 0
        self.fe = NAN
        self.se = NAN

    cpdef double update(self, double ad):
        cdef long n = self.n
        self.n = n + 1
        if n == 0:
            self.fe = ad
            self.se = ad
            return NAN
        self.fe = fma(self.fe, self.fk1, self.fk * ad)
        self.se = fma(self.se, self.sk1, self.sk * ad)
        if n >= self.lookback:
            return self.fe - self.se
        return NAN


cdef class Mfi:
    """streaming.MFI after its gap test (momentum._mfi): money flow index over p flows; two
    typical prices within ``tie_rtol`` (relative) are no change; a window without flow in a
    direction has exactly 0 there (counted)."""

    cdef readonly long p
    cdef double tie_rtol
    cdef long n
    cdef double prev
    cdef double* pos
    cdef double* neg
    cdef double ps, ns
    cdef long np_, nn

    def __cinit__(self, long p, double tie_rtol):
        self.p = p
        self.tie_rtol = tie_rtol
        self.n = 0
        self.prev = NAN
        self.pos = _alloc(p + 1)
        self.neg = _alloc(p + 1)
        self.ps = 0.0
        self.ns = 0.0
        self.np_ = 0
        self.nn = 0

    def __dealloc__(self):
        free(self.pos)
        free(self.neg)

    cpdef double update(self, double high, double low, double close, double volume):
        cdef double tp = (high + low + close) / 3.0
        cdef long i = self.n
        cdef long p = self.p
        cdef long q = p + 1
        cdef double flow, prev, tol, pos, neg, old_p, old_n, t
        self.n = i + 1
        if i == 0:
            self.prev = tp
            return NAN
        flow = tp * volume
        prev = self.prev
        tol = self.tie_rtol * fabs(prev)
        if tp - prev > tol:
            pos = flow
            neg = 0.0
        elif prev - tp > tol:
            pos = 0.0
            neg = flow
        else:
            pos = 0.0
            neg = 0.0
        self.prev = tp
        if i > p:
            old_p = self.pos[(i - p) % q]
            old_n = self.neg[(i - p) % q]
            self.ps -= old_p
            self.ns -= old_n
            self.np_ -= old_p != 0.0
            self.nn -= old_n != 0.0
        self.pos[i % q] = pos
        self.neg[i % q] = neg
        self.ps += pos
        self.ns += neg
        self.np_ += pos != 0.0
        self.nn += neg != 0.0
        if self.np_ == 0:
            self.ps = 0.0
        if self.nn == 0:
            self.ns = 0.0
        if i < p:
            return NAN
        t = self.ps + self.ns
        return 100.0 * (self.ps / t) if t > 0.0 else 0.0


cdef class Cmf:
    """streaming.CMF after its gap test (volume._cmf): sum of money-flow volume / sum of
    volume over p bars, 0 (and both sums reset) for a window without volume."""

    cdef readonly long p
    cdef double* rm
    cdef double* rv
    cdef long n
    cdef double sm, sv
    cdef long traded

    def __cinit__(self, long p):
        self.p = p
        self.rm = _alloc(p)
        self.rv = _alloc(p)
        self.n = 0
        self.sm = 0.0
        self.sv = 0.0
        self.traded = 0

    def __dealloc__(self):
        free(self.rm)
        free(self.rv)

    cpdef double update(self, double high, double low, double close, double volume):
        cdef double r = high - low
        cdef double mfv = (((close - low) - (high - close)) / r) * volume if r > 0.0 else 0.0
        cdef long p = self.p
        cdef long n = self.n
        cdef double om, ov
        self.n = n + 1
        self.sm += mfv
        self.sv += volume
        self.traded += volume != 0.0
        if n >= p:
            om = self.rm[n % p]
            ov = self.rv[n % p]
            self.sm -= om
            self.sv -= ov
            self.traded -= ov != 0.0
        self.rm[n % p] = mfv
        self.rv[n % p] = volume
        if self.traded == 0:
            self.sm = 0.0
            self.sv = 0.0
        if n < p - 1:
            return NAN
        return self.sm / self.sv if self.traded > 0 else 0.0


cdef class Kama:
    """streaming.KAMA after its gap test (overlap._kama): TA-Lib's Kaufman adaptive moving
    average, efficiency ratio over p changes, fast 2 / slow 30 constants."""

    cdef readonly long p
    cdef double* ring      # x_j at ring[j % (p + 2)]
    cdef long n
    cdef double sum_roc, prev

    def __cinit__(self, long p):
        self.p = p
        self.ring = _alloc(p + 2)
        self.n = 0
        self.sum_roc = 0.0
        self.prev = NAN

    def __dealloc__(self):
        free(self.ring)

    cpdef double update(self, double x):
        cdef long p = self.p
        cdef long q = p + 2
        cdef long n = self.n
        cdef double* r = self.ring
        cdef double total, period_roc, er, sc
        cdef double cmax = 2.0 / (30.0 + 1.0)
        cdef double cdiff = 2.0 / (2.0 + 1.0) - 2.0 / (30.0 + 1.0)
        cdef long i
        r[n % q] = x
        self.n = n + 1
        if n < p:
            return NAN
        if n == p:
            total = 0.0
            for i in range(p):
                total += fabs(r[i % q] - r[(i + 1) % q])
            self.sum_roc = total
            self.prev = r[(p - 1) % q]
        else:
            self.sum_roc -= fabs(r[(n - p - 1) % q] - r[(n - p) % q])
            self.sum_roc += fabs(r[n % q] - r[(n - 1) % q])
        period_roc = x - r[(n - p) % q]
        total = self.sum_roc
        if total <= period_roc or total == 0.0:
            er = 1.0
        else:
            er = fabs(period_roc / total)
        sc = er * cdiff + cmax
        sc *= sc
        self.prev = ((x - self.prev) * sc) + self.prev
        return self.prev
