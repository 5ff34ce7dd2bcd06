"""Building blocks of the streaming indicators: plain Python objects with __slots__ that
repeat, operation for operation, the arithmetic of the primitive batch kernels in _core, so
that a streaming indicator returns the batch value at every bar (tests check it).

Conventions shared with the batch kernels:

* a NaN given to a building block is the warm-up of an upstream block: it is ignored (NaN
  out, no state change). Gaps in the raw input are handled one level up, by resetting.
* everything is O(1) per update (amortised O(1) for the blocks that recompute their sums
  exactly every ``p`` bars, and for the monotonic deques).

Numba jitclasses are not used: they cannot be cached (ANCHORS §4) and a call from Python to
a jitted method costs more than these few float operations. The streaming indicators use the
compiled twins of these blocks (tradecore._fast.streamk, same operations in the same order);
the classes here are their plain-Python references (tests/indicators/test_streamk.py).
"""
from __future__ import annotations

import math
from collections import deque
from fractions import Fraction

from tradecore.indicators import _core as c

NAN = math.nan


class Indicator:
    """Base of the public streaming indicators: ``update(...)`` returns the value the batch
    function gives for the same bar (NaN during warm-up), ``reset()`` forgets everything.
    A non-finite input is a gap: the indicator resets and returns NaN."""

    __slots__ = ("_args",)

    def reset(self) -> None:
        self.__init__(*self._args)  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"{type(self).__name__}{self._args!r}"


class RollingSum:
    """c.rolling_sum: add the new value, emit, subtract the oldest of the window; the sum is
    recomputed exactly from the window every p bars."""

    __slots__ = ("p", "ring", "n", "total", "countdown")

    def __init__(self, p: int) -> None:
        self.p = p
        self.ring = [0.0] * p
        self.n = 0
        self.total = 0.0
        self.countdown = 0

    def update(self, x: float) -> float:
        if x != x:
            return NAN
        p = self.p
        n = self.n
        ring = self.ring
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
        return total


class Sma(RollingSum):
    """c.sma: the rolling sum times 1/p."""

    __slots__ = ()

    def update(self, x: float) -> float:
        return RollingSum.update(self, x) * (1.0 / self.p)


def fma(a: float, b: float, addend: float) -> float:
    """Reference of ``_core.fma`` / C's ``fma``: ``a * b + addend`` rounded once. Exact
    rational arithmetic, then one correctly rounded conversion (CPython's int / int is
    correctly rounded; it raises where the rounded result overflows); non-finite operands and
    an exact zero (whose sign IEEE defines from the operands) take the plain expression,
    which is then exact as well."""
    if not (math.isfinite(a) and math.isfinite(b) and math.isfinite(addend)):
        return a * b + addend
    r = Fraction(a) * Fraction(b) + Fraction(addend)
    if r == 0:
        return a * b + addend
    try:
        return float(r)
    except OverflowError:
        return math.inf if r > 0 else -math.inf


class Ema:
    """c.ema: seeded with the SMA of the p values ending ``skip`` bars after the earliest
    seed, then prev = fma(x - prev, k, prev)."""

    __slots__ = ("p", "k", "first", "ring", "n", "prev")

    def __init__(self, p: int, k: float, skip: int = 0) -> None:
        self.p = p
        self.k = k
        self.first = p - 1 + skip
        self.ring = [0.0] * p
        self.n = 0
        self.prev = NAN

    def update(self, x: float) -> float:
        if x != x:
            return NAN
        n = self.n
        if n > self.first:
            self.n = n + 1
            prev = fma(x - self.prev, self.k, self.prev)
            self.prev = prev
            return prev
        p = self.p
        self.ring[n % p] = x
        self.n = n + 1
        if n < self.first:
            return NAN
        total = 0.0
        for j in range(n - p + 1, n + 1):
            total += self.ring[j % p]
        self.prev = total / p
        return self.prev


class Wma:
    """c.wma_fused: TA-Lib's running weighted sum and plain sum, one addition each per bar."""

    __slots__ = ("p", "ring", "n", "sub", "sum", "trailing", "divider")

    def __init__(self, p: int) -> None:
        self.p = p
        self.ring = [0.0] * p
        self.n = 0
        self.sub = 0.0
        self.sum = 0.0
        self.trailing = 0.0
        self.divider = (p * (p + 1)) // 2

    def update(self, x: float) -> float:
        if x != x:
            return NAN
        p = self.p
        n = self.n
        self.ring[n % p] = x
        self.n = n + 1
        if n < p - 1:
            self.sub += x
            self.sum += x * (n + 1)
            return NAN
        self.sub += x - self.trailing
        self.trailing = self.ring[(n + 1) % p]
        vp = x * p
        out = (self.sum + vp) / self.divider
        self.sum += vp - self.sub
        return out


class Extreme:
    """Rolling max (or min) of the last p values by a monotonic deque of (index, value);
    ``index`` is the latest position of the extreme on ties (c.rolling_extreme)."""

    __slots__ = ("p", "want_max", "dq", "n", "index")

    def __init__(self, p: int, want_max: bool) -> None:
        self.p = p
        self.want_max = want_max
        self.dq: deque[tuple[int, float]] = deque()
        self.n = 0
        self.index = -1

    def update(self, x: float) -> float:
        if x != x:
            return NAN
        dq = self.dq
        n = self.n
        self.n = n + 1
        if dq and dq[0][0] <= n - self.p:
            dq.popleft()
        if self.want_max:
            while dq and dq[-1][1] <= x:
                dq.pop()
        else:
            while dq and dq[-1][1] >= x:
                dq.pop()
        dq.append((n, x))
        if n < self.p - 1:
            return NAN
        self.index = dq[0][0]
        return dq[0][1]


class RollingVar:
    """c.rolling_var: anchored sums, recomputed exactly every p bars; 0 for equal values."""

    __slots__ = ("p", "ring", "n", "anchor", "s1", "s2", "changes")

    def __init__(self, p: int) -> None:
        self.p = p
        self.ring = [0.0] * (p + 1)
        self.n = 0
        self.anchor = 0.0
        self.s1 = 0.0
        self.s2 = 0.0
        self.changes = 0

    def update(self, x: float) -> float:
        if x != x:
            return NAN
        p = self.p
        q = p + 1
        n = self.n
        ring = self.ring
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
        inv = 1.0 / p
        m = self.s1 * inv
        v = self.s2 * inv - m * m
        return v if v > 0.0 else 0.0


class LinReg:
    """c.linreg_fit: returns (slope, value at the oldest bar of the window)."""

    __slots__ = ("p", "ring", "n", "anchor", "sy", "sxy", "sum_x", "divisor")

    def __init__(self, p: int) -> None:
        self.p = p
        self.ring = [0.0] * (p + 1)
        self.n = 0
        self.anchor = 0.0
        self.sy = 0.0
        self.sxy = 0.0
        self.sum_x = p * (p - 1) * 0.5
        sum_x2 = p * (p - 1) * (2.0 * p - 1.0) / 6.0
        self.divisor = self.sum_x * self.sum_x - p * sum_x2

    def update(self, x: float) -> tuple[float, float]:
        if x != x:
            return NAN, NAN
        p = self.p
        q = p + 1
        n = self.n
        ring = self.ring
        ring[n % q] = x
        self.n = n + 1
        if n < p - 1:
            return NAN, NAN
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
        return m, (sy - m * self.sum_x) / p + anchor


class HighLow:
    """Reference for the compiled streamk.HighLow: the highest high and lowest low of the
    last p bars (two Extremes) and the midpoint, fast %K and Williams %R made of them."""

    __slots__ = ("hi", "lo", "noise_rtol")

    def __init__(self, p: int, noise_rtol: float = 0.0) -> None:
        self.hi = Extreme(p, True)
        self.lo = Extreme(p, False)
        self.noise_rtol = noise_rtol

    def mid(self, high: float, low: float) -> float:
        return (self.hi.update(high) + self.lo.update(low)) / 2.0

    def fastk(self, high: float, low: float, close: float) -> float:
        hh = self.hi.update(high)
        ll = self.lo.update(low)
        if hh != hh:
            return NAN
        if hh - ll > self.noise_rtol * max(abs(hh), abs(ll)):
            return (close - ll) / ((hh - ll) / 100.0)
        return 0.0

    def willr(self, high: float, low: float, close: float) -> float:
        hh = self.hi.update(high)
        ll = self.lo.update(low)
        if hh != hh:
            return NAN
        if hh - ll > self.noise_rtol * max(abs(hh), abs(ll)):
            return (hh - close) / ((hh - ll) / -100.0)
        return 0.0


class MeanNonneg:
    """Reference for streamk.MeanNonneg (volatility._mean_nonneg)."""

    __slots__ = ("p", "ring", "n", "total", "nonzero")

    def __init__(self, p: int) -> None:
        self.p = p
        self.ring = [0.0] * p
        self.n = 0
        self.total = 0.0
        self.nonzero = 0

    def update(self, x: float) -> float:
        p = self.p
        n = self.n
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
        m = self.total / p
        return m if m > 0.0 else 0.0


class Cci:
    """Reference for streamk.Cci (momentum._cci): O(p) per bar, sums oldest first."""

    __slots__ = ("p", "tp", "noise_rtol")

    def __init__(self, p: int, noise_rtol: float) -> None:
        self.p = p
        self.tp: deque[float] = deque(maxlen=p)
        self.noise_rtol = noise_rtol

    def update(self, high: float, low: float, close: float) -> float:
        tps = self.tp
        tp = (high + low + close) / 3.0
        tps.append(tp)
        p = self.p
        if len(tps) < p:
            return NAN
        total = 0.0
        for v in tps:
            total += v
        avg = total / p
        dev = 0.0
        for v in tps:
            dev += abs(v - avg)
        num = tp - avg
        if num != 0.0 and dev > self.noise_rtol * abs(avg) * p:
            return num / (0.015 * (dev / p))
        return 0.0


class Di:
    """Reference for streamk.Di (trend._di): +DI (which 0), -DI (1) or DX (2) from bar p."""

    __slots__ = ("p", "which", "n", "ph", "pl", "pc", "sp", "sm", "st")

    def __init__(self, p: int, which: int) -> None:
        self.p = p
        self.which = which
        self.n = 0
        self.ph = self.pl = self.pc = NAN
        self.sp = self.sm = self.st = 0.0

    def update(self, high: float, low: float, close: float) -> float:
        n = self.n
        self.n = n + 1
        plus = minus = tr = 0.0
        if n > 0:
            diff_p = high - self.ph
            diff_m = self.pl - low
            plus = diff_p if (diff_p > 0 and diff_p > diff_m) else 0.0
            minus = diff_m if (diff_m > 0 and diff_p < diff_m) else 0.0
            pc = self.pc
            tr = (high if high > pc else pc) - (low if low < pc else pc)
        self.ph, self.pl, self.pc = high, low, close
        p = self.p
        if n == 0:
            return NAN
        if n < p:
            self.sp += plus
            self.sm += minus
            self.st += tr
            return NAN
        inv = 1.0 / p
        sp = self.sp = self.sp - self.sp * inv + plus
        sm = self.sm = self.sm - self.sm * inv + minus
        st = self.st = self.st - self.st * inv + tr
        if st != 0.0:
            pl = 100.0 * (sp / st)
            mi = 100.0 * (sm / st)
        else:
            pl = mi = 0.0
        if self.which == 0:
            return pl
        if self.which == 1:
            return mi
        t = mi + pl
        return 100.0 * (abs(mi - pl) / t) if t != 0.0 else 0.0


class Correl:
    """Reference for streamk.Correl (statistic._correl)."""

    __slots__ = ("p", "rx", "ry", "n", "ax", "ay", "s", "cx", "cy")

    def __init__(self, p: int) -> None:
        self.p = p
        self.rx = [0.0] * (p + 1)
        self.ry = [0.0] * (p + 1)
        self.n = 0
        self.ax = self.ay = 0.0
        self.s = [0.0] * 5  # sx, sy, sxx, syy, sxy
        self.cx = self.cy = 0

    def update(self, real0: float, real1: float) -> float:
        p = self.p
        q = p + 1
        n = self.n
        rx, ry = self.rx, self.ry
        rx[n % q] = real0
        ry[n % q] = real1
        self.n = n + 1
        if n < p - 1:
            return NAN
        if (n - (p - 1)) % p == 0:
            ax = self.ax = rx[(n - p + 1) % q]
            ay = self.ay = ry[(n - p + 1) % q]
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
            ax, ay = self.ax, self.ay
            sx, sy, sxx, syy, sxy = self.s
            cx, cy = self.cx, self.cy
            dx = real0 - ax
            dy = real1 - ay
            ox = rx[(n - p) % q] - ax
            oy = ry[(n - p) % q] - ay
            sx += dx - ox
            sy += dy - oy
            sxx += dx * dx - ox * ox
            syy += dy * dy - oy * oy
            sxy += dx * dy - ox * oy
            cx += int(real0 != rx[(n - 1) % q]) - int(rx[(n - p + 1) % q] != rx[(n - p) % q])
            cy += int(real1 != ry[(n - 1) % q]) - int(ry[(n - p + 1) % q] != ry[(n - p) % q])
        self.s[:] = (sx, sy, sxx, syy, sxy)
        self.cx, self.cy = cx, cy
        den = (sxx - (sx * sx) / p) * (syy - (sy * sy) / p)
        if cx == 0 or cy == 0 or den <= 0.0:
            return 0.0
        return (sxy - (sx * sy) / p) / math.sqrt(den)


class Beta:
    """Reference for streamk.Beta (statistic._beta)."""

    __slots__ = ("p", "ring", "n", "px", "py", "s", "moving")

    def __init__(self, p: int) -> None:
        self.p = p
        self.ring = [(0.0, 0.0)] * (p + 1)
        self.n = 0
        self.px = self.py = NAN
        self.s = [0.0] * 4  # s_xx, s_x, s_xy, s_y
        self.moving = 0

    def update(self, real0: float, real1: float) -> float:
        px, py = self.px, self.py
        self.px, self.py = real0, real1
        n = self.n
        self.n = n + 1
        if n == 0:
            return NAN
        x = (real0 - px) / px if px != 0.0 else 0.0
        y = (real1 - py) / py if py != 0.0 else 0.0
        p = self.p
        q = p + 1
        s_xx, s_x, s_xy, s_y = self.s
        s_xx += x * x
        s_x += x
        s_xy += x * y
        s_y += y
        self.moving += x != 0.0
        if n > p:
            ox, oy = self.ring[(n - p) % q]
            s_xx -= ox * ox
            s_x -= ox
            s_xy -= ox * oy
            s_y -= oy
            self.moving -= ox != 0.0
        self.ring[n % q] = (x, y)
        self.s[:] = (s_xx, s_x, s_xy, s_y)
        if n < p:
            return NAN
        den = p * s_xx - s_x * s_x
        return (p * s_xy - s_x * s_y) / den if (self.moving > 0 and den != 0.0) else 0.0


class WilderAtr:
    """Reference for streamk.WilderAtr (trend._wilder_atr)."""

    __slots__ = ("p", "n", "pc", "total", "atr")

    def __init__(self, p: int) -> None:
        self.p = p
        self.n = 0
        self.pc = NAN
        self.total = 0.0
        self.atr = NAN

    def update(self, high: float, low: float, close: float) -> float:
        n = self.n
        self.n = n + 1
        pc = self.pc
        self.pc = close
        if n == 0:
            return NAN
        tr = (high if high > pc else pc) - (low if low < pc else pc)
        p = self.p
        if n < p:
            self.total += tr
            return NAN
        if n == p:
            self.total += tr
            self.atr = self.total / p
        else:
            self.atr = fma(self.atr, (p - 1) / p, tr * (1.0 / p))
        return self.atr


class ChaikinOsc:
    """Reference for streamk.ChaikinOsc (volume._adosc, after its A/D line)."""

    __slots__ = ("fk", "fk1", "sk", "sk1", "fe", "se", "n", "lookback")

    def __init__(self, fast: int, slow: int) -> None:
        self.fk = 2.0 / (fast + 1)
        self.sk = 2.0 / (slow + 1)
        self.fk1 = 1.0 - self.fk
        self.sk1 = 1.0 - self.sk
        self.lookback = max(fast, slow) - 1
        self.n = 0
        self.fe = self.se = NAN

    def update(self, ad: float) -> float:
        n = self.n
        self.n = n + 1
        if n == 0:
            self.fe = self.se = ad
            return NAN
        self.fe = fma(self.fe, self.fk1, self.fk * ad)
        self.se = fma(self.se, self.sk1, self.sk * ad)
        return self.fe - self.se if n >= self.lookback else NAN


class Mfi:
    """Reference for streamk.Mfi (momentum._mfi), after the gap test."""

    __slots__ = ("p", "tie_rtol", "n", "prev", "pos", "neg", "ps", "ns", "np", "nn")

    def __init__(self, p: int, tie_rtol: float) -> None:
        self.p = p
        self.tie_rtol = tie_rtol
        self.n = 0
        self.prev = NAN
        self.pos = [0.0] * (p + 1)
        self.neg = [0.0] * (p + 1)
        self.ps = self.ns = 0.0
        self.np = self.nn = 0

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        tp = (high + low + close) / 3.0
        i = self.n
        self.n = i + 1
        if i == 0:
            self.prev = tp
            return NAN
        p = self.p
        q = p + 1
        flow = tp * volume
        prev = self.prev
        tol = self.tie_rtol * abs(prev)
        if tp - prev > tol:
            pos, neg = flow, 0.0
        elif prev - tp > tol:
            pos, neg = 0.0, flow
        else:
            pos = neg = 0.0
        self.prev = tp
        if i > p:
            old_p = self.pos[(i - p) % q]
            old_n = self.neg[(i - p) % q]
            self.ps -= old_p
            self.ns -= old_n
            self.np -= old_p != 0.0
            self.nn -= old_n != 0.0
        self.pos[i % q] = pos
        self.neg[i % q] = neg
        self.ps += pos
        self.ns += neg
        self.np += pos != 0.0
        self.nn += neg != 0.0
        if self.np == 0:
            self.ps = 0.0
        if self.nn == 0:
            self.ns = 0.0
        if i < p:
            return NAN
        t = self.ps + self.ns
        return 100.0 * (self.ps / t) if t > 0.0 else 0.0


class Cmf:
    """Reference for streamk.Cmf (volume._cmf), after the gap test."""

    __slots__ = ("p", "ring", "n", "sm", "sv", "traded")

    def __init__(self, p: int) -> None:
        self.p = p
        self.ring = [(0.0, 0.0)] * p
        self.n = 0
        self.sm = self.sv = 0.0
        self.traded = 0

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        r = high - low
        mfv = (((close - low) - (high - close)) / r) * volume if r > 0.0 else 0.0
        p = self.p
        n = self.n
        self.n = n + 1
        self.sm += mfv
        self.sv += volume
        self.traded += volume != 0.0
        if n >= p:
            om, ov = self.ring[n % p]
            self.sm -= om
            self.sv -= ov
            self.traded -= ov != 0.0
        self.ring[n % p] = (mfv, volume)
        if self.traded == 0:
            self.sm = self.sv = 0.0
        if n < p - 1:
            return NAN
        return self.sm / self.sv if self.traded > 0 else 0.0


class Kama:
    """Reference for streamk.Kama (overlap._kama), after the gap test."""

    __slots__ = ("_p", "_win", "_sum", "_prev")

    _MAX = 2.0 / (30.0 + 1.0)
    _DIFF = 2.0 / (2.0 + 1.0) - 2.0 / (30.0 + 1.0)

    def __init__(self, p: int) -> None:
        self._p = p
        self._win: deque[float] = deque(maxlen=self._p + 2)
        self._sum = 0.0
        self._prev = NAN

    def update(self, real: float) -> float:
        p = self._p
        win = self._win
        win.append(real)
        size = len(win)
        if size <= p:
            return NAN
        if size == p + 1 and self._prev != self._prev:
            total = 0.0
            for i in range(p):
                total += abs(win[i] - win[i + 1])
            self._sum = total
            self._prev = win[p - 1]
        else:
            # window of p+2: [x[t-p-1], x[t-p], ..., x[t]]
            self._sum -= abs(win[0] - win[1])
            self._sum += abs(win[-1] - win[-2])
        period_roc = real - win[-1 - p]
        total = self._sum
        if total <= period_roc or total == 0.0:
            er = 1.0
        else:
            er = abs(period_roc / total)
        sc = er * self._DIFF + self._MAX
        sc *= sc
        self._prev = ((real - self._prev) * sc) + self._prev
        return self._prev


def linreg_output(lr: LinReg, kind: int, x: float) -> float:
    """Reference for streamk.LinReg(p, kind).update: LinReg's fit turned into output kind
    (0 line at the newest bar, 1 slope, 2 intercept, 3 angle in degrees, 4 TSF)."""
    m, b = lr.update(x)
    if kind == 1:
        return m
    if kind == 3:
        return math.atan(m) * (180.0 / math.pi)
    if kind == 2:
        return b
    return b + m * (lr.p - 1) if kind == 0 else b + m * lr.p


def ma(p: int, kind: int) -> Sma | Ema:
    """The block of TA-Lib MA type 0 (SMA) or 1 (EMA)."""
    return Sma(p) if kind == 0 else Ema(p, 2.0 / (p + 1))


# re-exported validators so streaming constructors check parameters like the batch wrappers
period = c.period
real = c.real
matype = c.matype
