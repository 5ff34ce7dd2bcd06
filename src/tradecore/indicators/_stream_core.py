"""Building blocks of the streaming indicators: plain Python objects with __slots__ that
repeat, operation for operation, the arithmetic of the primitive batch kernels in _core, so
that a streaming indicator returns the batch value at every bar (tests check it).

Conventions shared with the batch kernels:

* a NaN given to a building block is the warm-up of an upstream block: it is ignored (NaN
  out, no state change). Gaps in the raw input are handled one level up, by resetting.
* everything is O(1) per update (amortised O(1) for the blocks that recompute their sums
  exactly every ``p`` bars, and for the monotonic deques).

Numba jitclasses are not used: they cannot be cached (ANCHORS §4) and a call from Python to
a jitted method costs more than these few float operations.
"""
from __future__ import annotations

import math
from collections import deque

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
    """c.sma: the rolling sum divided by p."""

    __slots__ = ()

    def update(self, x: float) -> float:
        return RollingSum.update(self, x) / self.p


class Ema:
    """c.ema: seeded with the SMA of the p values ending ``skip`` bars after the earliest
    seed, then prev = ((x - prev) * k) + prev."""

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
            prev = ((x - self.prev) * self.k) + self.prev
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
        m = self.s1 / p
        v = self.s2 / p - m * m
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
            for lag in range(p):
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


def ma(p: int, kind: int) -> Sma | Ema:
    """The block of TA-Lib MA type 0 (SMA) or 1 (EMA)."""
    return Sma(p) if kind == 0 else Ema(p, 2.0 / (p + 1))


# re-exported validators so streaming constructors check parameters like the batch wrappers
period = c.period
real = c.real
matype = c.matype
