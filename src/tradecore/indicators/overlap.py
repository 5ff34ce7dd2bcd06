"""Overlap studies (moving averages and bands) and TA-Lib's price transforms.

Names, argument names, defaults and output order are TA-Lib's (lower case); `hma` is not in
TA-Lib. Every function returns NaN during warm-up and restarts after a NaN gap (see _core).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from tradecore.indicators import _core as c
from tradecore.indicators._core import NAN


# -- kernels --------------------------------------------------------------------------------

@njit(cache=True)
def _ema_k(x: np.ndarray, p: int) -> np.ndarray:
    return c.ema(x, p, 2.0 / (p + 1), 0)


@njit(cache=True)
def _dema(x: np.ndarray, p: int) -> np.ndarray:
    return c.ema_cascade(x, p, 2.0 / (p + 1), 2, 0, np.zeros(4))


@njit(cache=True)
def _tema(x: np.ndarray, p: int) -> np.ndarray:
    return c.ema_cascade(x, p, 2.0 / (p + 1), 3, 1, np.zeros(4))


@njit(cache=True)
def _trima(x: np.ndarray, p: int) -> tuple[np.ndarray, bool]:
    """A triangular average is an SMA of an SMA: (p+1)/2 twice when p is odd, p/2 and p/2+1
    when it is even (TA-Lib's weights 1..m..1). Two block-structured c.window_sum passes
    (faster than one pass juggling two recomputation schedules and a ring); with the fused
    gap flag of the inner one, which reads every input."""
    if p % 2 == 1:
        a = (p + 1) // 2
        b = a
    else:
        a = p // 2
        b = a + 1
    inner, ok = c.window_sum(x, a, True)
    return c.window_sum(inner, b, True)[0], ok


@njit(cache=True)
def _kama(x: np.ndarray, p: int) -> tuple[np.ndarray, bool]:
    """TA-Lib's KAMA: efficiency ratio over ``p`` changes, fast 2 / slow 30 constants; and
    the fused gap flag (c.run)."""
    n = x.size
    out = c.nan_prefixed(n, p)
    if n <= p:
        return out, False
    const_max = 2.0 / (30.0 + 1.0)
    const_diff = 2.0 / (2.0 + 1.0) - const_max
    sum_roc1 = 0.0
    for i in range(p):
        sum_roc1 += abs(x[i] - x[i + 1])
    prev = x[p - 1]
    z = sum_roc1 - sum_roc1       # x[0..p] are in this sum
    for today in range(p, n):
        z += x[today] - x[today]
        if today > p:
            sum_roc1 -= abs(x[today - p - 1] - x[today - p])
            sum_roc1 += abs(x[today] - x[today - 1])
        period_roc = x[today] - x[today - p]
        if sum_roc1 <= period_roc or sum_roc1 == 0.0:
            er = 1.0
        else:
            er = abs(period_roc / sum_roc1)
        sc = er * const_diff + const_max
        sc *= sc
        prev = ((x[today] - prev) * sc) + prev
        out[today] = prev
    return out, z == 0.0


@njit(cache=True)
def _t3(x: np.ndarray, p: int, vfactor: float) -> np.ndarray:
    """Tillson's T3: six cascaded EMAs, each seeded with the SMA of its first ``p`` inputs."""
    a2 = vfactor * vfactor
    c1 = -a2 * vfactor
    c2 = 3.0 * (a2 - c1)
    c3 = -6.0 * a2 - 3.0 * (vfactor - c1)
    c4 = 1.0 + 3.0 * vfactor - c1 + 3.0 * a2
    return c.ema_cascade(x, p, 2.0 / (p + 1), 6, 2, np.array([c1, c2, c3, c4]))


@njit(cache=True)
def _hma(x: np.ndarray, p: int) -> np.ndarray:
    half = c.wma(x, p // 2)
    full = c.wma(x, p)
    return c.wma(2.0 * half - full, int(np.sqrt(p)))


@njit(cache=True)
def _midpoint(x: np.ndarray, p: int) -> np.ndarray:
    return c.midpoint_window(x, p)


@njit(cache=True)
def _midprice(high: np.ndarray, low: np.ndarray, p: int) -> np.ndarray:
    return c.midprice_window(high, low, p)


def _ma(x: np.ndarray, p: int, kind: int) -> np.ndarray:
    """TA-Lib MA of type 0 (SMA) or 1 (EMA) over a series that may start with warm-up NaN."""
    return c.sma(x, p) if kind == 0 else _ema_k(x, p)


@njit(cache=True)
def _bands(x: np.ndarray, mid: np.ndarray, p: int, up: float, dn: float):
    """Upper and lower band around ``mid``, written in place of the variance array (three
    arrays in all, each fresh array costing page faults)."""
    upper = c.rolling_var(x, p)
    lower = np.empty(x.size)
    for i in range(x.size):
        sd = np.sqrt(upper[i])
        upper[i] = mid[i] + up * sd
        lower[i] = mid[i] - dn * sd
    return upper, mid, lower


@njit(cache=True)
def _bbands_sma(x: np.ndarray, p: int, up: float, dn: float):
    """Bollinger Bands around the SMA in one pass: c.sma's running sum and c.rolling_var's
    anchored sums share their exact-recomputation schedule (every p bars from bar p-1), so
    one countdown drives both, with the same operations as the two kernels run apart; and
    the fused gap flag (c.run)."""
    n = x.size
    upper = c.nan_prefixed(n, p - 1)
    mid = c.nan_prefixed(n, p - 1)
    lower = c.nan_prefixed(n, p - 1)
    if n < p:
        return upper, mid, lower, False
    ok = c.finite_upto(x, p - 1)
    inv_p = 1.0 / p   # the SMA's mean, as c.window_sum, and the variance's means, as c.rolling_var
    total = 0.0
    anchor = 0.0
    s1 = 0.0
    s2 = 0.0
    changes = 0
    z = 0.0
    countdown = 0
    for i in range(p - 1, n):
        v = x[i]
        z += v - v
        if countdown == 0:
            countdown = p - 1
            total = 0.0
            anchor = x[i - p + 1]
            s1 = 0.0
            s2 = 0.0
            changes = 0
            for j in range(i - p + 1, i + 1):
                w = x[j]
                total += w
                d = w - anchor
                s1 += d
                s2 += d * d
                if j > i - p + 1 and w != x[j - 1]:
                    changes += 1
        else:
            countdown -= 1
            total += v
            w = x[i - p]
            dn_ = v - anchor
            do = w - anchor
            s1 += dn_ - do
            s2 += dn_ * dn_ - do * do
            changes += int(v != x[i - 1]) - int(x[i - p + 1] != w)
        m_ = total * inv_p
        total -= x[i - p + 1]
        if changes == 0:
            r = 0.0
        else:
            m = s1 * inv_p
            r = s2 * inv_p - m * m
            r = r if r > 0.0 else 0.0
        sd = np.sqrt(r)
        mid[i] = m_
        upper[i] = m_ + up * sd
        lower[i] = m_ - dn * sd
    return upper, mid, lower, ok and z == 0.0


def _bbands(x: np.ndarray, p: int, up: float, dn: float, kind: int):
    if kind == 0:
        return _bbands_sma(x, p, up, dn)
    u, m, lo = _bands(x, _ma(x, p, kind), p, up, dn)
    return u, m, lo, True   # unfused: the gap test ran before (see bbands)


# -- public batch functions -----------------------------------------------------------------

def sma(real, timeperiod: int = 30) -> np.ndarray:
    """Simple moving average."""
    (x,) = c.inputs(real=real)
    return c.run(c.window_sum, (x,), 1, (c.period("timeperiod", timeperiod), True), fused=True)


def ema(real, timeperiod: int = 30) -> np.ndarray:
    """Exponential moving average, k = 2/(timeperiod+1), seeded with the first SMA."""
    (x,) = c.inputs(real=real)
    p = c.period("timeperiod", timeperiod)
    return c.run(c.ema_fused, (x,), 1, (p, 2.0 / (p + 1), 0), fused=True)


def wma(real, timeperiod: int = 30) -> np.ndarray:
    """Linearly weighted moving average (weight 1 for the oldest bar, timeperiod for the newest)."""
    (x,) = c.inputs(real=real)
    return c.run(c.wma_fused, (x,), 1, (c.period("timeperiod", timeperiod),), fused=True)


def dema(real, timeperiod: int = 30) -> np.ndarray:
    """Double EMA: 2*EMA - EMA(EMA)."""
    (x,) = c.inputs(real=real)
    return c.run(_dema, (x,), 1, (c.period("timeperiod", timeperiod),), fused=True)


def tema(real, timeperiod: int = 30) -> np.ndarray:
    """Triple EMA: 3*EMA - 3*EMA(EMA) + EMA(EMA(EMA))."""
    (x,) = c.inputs(real=real)
    return c.run(_tema, (x,), 1, (c.period("timeperiod", timeperiod),), fused=True)


def trima(real, timeperiod: int = 30) -> np.ndarray:
    """Triangular moving average."""
    (x,) = c.inputs(real=real)
    return c.run(_trima, (x,), 1, (c.period("timeperiod", timeperiod),), fused=True)


def kama(real, timeperiod: int = 30) -> np.ndarray:
    """Kaufman adaptive moving average."""
    (x,) = c.inputs(real=real)
    return c.run(_kama, (x,), 1, (c.period("timeperiod", timeperiod),), fused=True)


def t3(real, timeperiod: int = 5, vfactor: float = 0.7) -> np.ndarray:
    """Tillson T3 moving average."""
    (x,) = c.inputs(real=real)
    return c.run(_t3, (x,), 1, (c.period("timeperiod", timeperiod),
                                c.real("vfactor", vfactor, 0.0, 1.0)), fused=True)


def hma(real, timeperiod: int = 30) -> np.ndarray:
    """Hull moving average: WMA(2*WMA(p//2) - WMA(p), floor(sqrt(p))). Not in TA-Lib."""
    (x,) = c.inputs(real=real)
    return c.run(_hma, (x,), 1, (c.period("timeperiod", timeperiod),))


def midpoint(real, timeperiod: int = 14) -> np.ndarray:
    """(highest + lowest) / 2 of ``real`` over the period."""
    (x,) = c.inputs(real=real)
    return c.run(_midpoint, (x,), 1, (c.period("timeperiod", timeperiod),), fused=True)


def midprice(high, low, timeperiod: int = 14) -> np.ndarray:
    """(highest high + lowest low) / 2 over the period."""
    arrays = c.inputs(high=high, low=low)
    return c.run(_midprice, arrays, 1, (c.period("timeperiod", timeperiod),), fused=True)


def bbands(real, timeperiod: int = 20, nbdevup: float = 2.0, nbdevdn: float = 2.0,
           matype: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bollinger Bands (upperband, middleband, lowerband): MA +/- nbdev * population stddev."""
    (x,) = c.inputs(real=real)
    params = (c.period("timeperiod", timeperiod), c.real("nbdevup", nbdevup, -3e37),
              c.real("nbdevdn", nbdevdn, -3e37), c.matype("matype", matype))
    if params[3] == 1 and not np.isfinite(np.add.reduce(x)):   # the EMA path is not fused:
        return c.run(lambda *a: _bbands(*a)[:3], (x,), 3, params)  # gap test first
    return c.run(_bbands, (x,), 3, params, fused=True)


# Price transforms: one fused loop each (gap flag included, see c.run): numpy array
# expressions would allocate a temporary per operator, and a separate finiteness pass over
# four inputs costs more than TA-Lib's whole AVGPRICE. A non-finite input makes the sum
# non-finite, so testing the output tests the inputs.

@njit(cache=True)
def _avgprice(o, h, lo, cl):
    out = np.empty(cl.size)
    z = 0.0
    for i in range(cl.size):
        v = (o[i] + h[i] + lo[i] + cl[i]) / 4.0
        out[i] = v
        z += v - v
    return out, z == 0.0


@njit(cache=True)
def _medprice(h, lo):
    out = np.empty(h.size)
    z = 0.0
    for i in range(h.size):
        v = (h[i] + lo[i]) / 2.0
        out[i] = v
        z += v - v
    return out, z == 0.0


@njit(cache=True)
def _typprice(h, lo, cl):
    out = np.empty(h.size)
    z = 0.0
    for i in range(h.size):
        v = (h[i] + lo[i] + cl[i]) / 3.0
        out[i] = v
        z += v - v
    return out, z == 0.0


@njit(cache=True)
def _wclprice(h, lo, cl):
    out = np.empty(h.size)
    z = 0.0
    for i in range(h.size):
        v = (h[i] + lo[i] + cl[i] * 2.0) / 4.0
        out[i] = v
        z += v - v
    return out, z == 0.0


def avgprice(open, high, low, close) -> np.ndarray:  # noqa: A002 (TA-Lib's argument name)
    """(open + high + low + close) / 4."""
    return c.run(_avgprice, c.inputs(open=open, high=high, low=low, close=close), 1,
                 fused=True)


def medprice(high, low) -> np.ndarray:
    """(high + low) / 2."""
    return c.run(_medprice, c.inputs(high=high, low=low), 1, fused=True)


def typprice(high, low, close) -> np.ndarray:
    """(high + low + close) / 3."""
    return c.run(_typprice, c.inputs(high=high, low=low, close=close), 1, fused=True)


def wclprice(high, low, close) -> np.ndarray:
    """(high + low + 2*close) / 4."""
    return c.run(_wclprice, c.inputs(high=high, low=low, close=close), 1, fused=True)


__all__ = ["sma", "ema", "wma", "dema", "tema", "trima", "kama", "t3", "hma", "midpoint",
           "midprice", "bbands", "avgprice", "medprice", "typprice", "wclprice"]
