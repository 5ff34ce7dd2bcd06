"""Statistics over a rolling window: variance, standard deviation, z-score, linear
regression (value, slope, intercept, angle, forecast), correlation, beta, and TA-Lib's
MAX/MIN/SUM.

Variance, regression and correlation keep their sums on anchored values and recompute them
exactly every ``timeperiod`` bars (_core): TA-Lib's raw sums of squares lose about
eps*price^2 to cancellation, which is the documented source of the (tiny) differences.
`max`, `min` and `sum` shadow the builtins inside this module on purpose (TA-Lib's names).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from tradecore.indicators import _core as c
from tradecore.indicators._core import NAN


@njit(cache=True)
def _zscore(x: np.ndarray, p: int) -> np.ndarray:
    out = c.sma(x, p)  # the mean, turned into the z-score in place
    var = c.rolling_var(x, p)
    for i in range(p - 1, x.size):
        sd = np.sqrt(var[i])
        out[i] = (x[i] - out[i]) / sd if sd > 0.0 else 0.0
    return out


@njit(cache=True)
def _linreg(x: np.ndarray, p: int, kind: int):
    return c.linreg_fused(x, p, kind)


@njit(cache=True)
def _correl(x: np.ndarray, y: np.ndarray, p: int) -> np.ndarray:
    """Pearson correlation of the last p pairs; 0 when either window is constant.

    Sums of anchored values, updated per bar and recomputed exactly every p bars. The next
    window's exact sums (anchored at its oldest pair, added oldest first, as a loop over the
    window would) are accumulated as its values arrive, on chains of their own: the
    recomputation costs no loop (as in c.rolling_var_fused; same floats as the loop)."""
    n = x.size
    out = c.nan_prefixed(n, p - 1)   # every later bar is written: no NaN-filling pass
    ax = 0.0
    ay = 0.0
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    syy = 0.0
    sxy = 0.0
    # a window is constant iff its series last changed at its oldest bar or earlier (lx,
    # ly: the last bar that differs from its predecessor; pvx, pvy: the previous values, in
    # registers): a compare and a select per series and bar instead of counting changes in
    # and out of the window (the same test as streamk.Correl's counts, the same outputs;
    # as c.rolling_var_fused)
    lx = 0
    ly = 0
    pvx = 0.0
    pvy = 0.0
    nax = 0.0      # the next window's anchors and its sums so far
    nay = 0.0
    bsx = 0.0
    bsy = 0.0
    bsxx = 0.0
    bsyy = 0.0
    bsxy = 0.0
    # unsigned indices on the per-bar path: no Numba wrap-around select per access
    up = np.uint64(p)
    z = 0.0        # the fused gap flag (c.run): every value enters a recomputed sum
    countdown = 0  # bars until the next exact recomputation (a modulo per bar is slow)
    for i in range(p - 1, n):
        ui = np.uint64(i)
        vx = x[ui]
        vy = y[ui]
        lx = i if vx != pvx else lx
        ly = i if vy != pvy else ly
        pvx = vx
        pvy = vy
        if countdown == 0:
            countdown = p - 1
            z += (sx + sy) * 0.0
            if i == p - 1:
                ax = x[0]
                ay = y[0]
                for j in range(0, p):
                    dx = x[j] - ax
                    dy = y[j] - ay
                    sx += dx
                    sy += dy
                    sxx += dx * dx
                    syy += dy * dy
                    sxy += dx * dy
                lx = 0
                ly = 0
                for j in range(1, p):
                    if x[j] != x[j - 1]:
                        lx = j
                    if y[j] != y[j - 1]:
                        ly = j
            else:
                ax = nax
                ay = nay
                dx = vx - ax
                dy = vy - ay
                sx = bsx + dx
                sy = bsy + dy
                sxx = bsxx + dx * dx
                syy = bsyy + dy * dy
                sxy = bsxy + dx * dy
            if i + 1 < n:
                nax = x[i + 1]
                nay = y[i + 1]
            bsx = bsy = bsxx = bsyy = bsxy = 0.0
        else:
            countdown -= 1
            dx = vx - ax
            dy = vy - ay
            ox = x[ui - up] - ax
            oy = y[ui - up] - ay
            sx += dx - ox
            sy += dy - oy
            sxx += dx * dx - ox * ox
            syy += dy * dy - oy * oy
            sxy += dx * dy - ox * oy
            ex = vx - nax
            ey = vy - nay
            bsx += ex
            bsy += ey
            bsxx += ex * ex
            bsyy += ey * ey
            bsxy += ex * ey
        den = (sxx - (sx * sx) / p) * (syy - (sy * sy) / p)
        oldest = i - p + 1
        if lx <= oldest or ly <= oldest or den <= 0.0:
            out[ui] = 0.0
        else:
            out[ui] = (sxy - (sx * sy) / p) / math.sqrt(den)
    return out, n >= p and z == 0.0 and (sx + sy) * 0.0 == 0.0


@njit(cache=True)
def _beta(x: np.ndarray, y: np.ndarray, p: int) -> np.ndarray:
    """TA-Lib's BETA: regression slope of real1's one-bar returns on real0's over the last p
    returns (a return from a zero price is 0); 0 when real0's returns are all 0."""
    n = x.size
    out = np.full(n, NAN)
    if n <= p:
        return out
    rx = np.zeros(n)
    ry = np.zeros(n)
    for i in range(1, n):
        rx[i] = (x[i] - x[i - 1]) / x[i - 1] if x[i - 1] != 0.0 else 0.0
        ry[i] = (y[i] - y[i - 1]) / y[i - 1] if y[i - 1] != 0.0 else 0.0
    s_xx = 0.0
    s_x = 0.0
    s_xy = 0.0
    s_y = 0.0
    moving = 0
    for i in range(1, n):
        s_xx += rx[i] * rx[i]
        s_x += rx[i]
        s_xy += rx[i] * ry[i]
        s_y += ry[i]
        moving += rx[i] != 0.0
        if i > p:
            o = i - p
            s_xx -= rx[o] * rx[o]
            s_x -= rx[o]
            s_xy -= rx[o] * ry[o]
            s_y -= ry[o]
            moving -= rx[o] != 0.0
        if i >= p:
            den = p * s_xx - s_x * s_x
            out[i] = (p * s_xy - s_x * s_y) / den if (moving > 0 and den != 0.0) else 0.0
    return out


@njit(cache=True)
def _max(x: np.ndarray, p: int):
    return c.extreme_fused(x, p, True)


@njit(cache=True)
def _min(x: np.ndarray, p: int):
    return c.extreme_fused(x, p, False)


def _one(real):
    return c.inputs(real=real)


def var(real, timeperiod: int = 5, nbdev: float = 1.0) -> np.ndarray:
    """Population variance; ``nbdev`` is accepted and ignored, as in TA-Lib."""
    c.real("nbdev", nbdev, -3e37)
    return c.run(c.rolling_var_fused, _one(real), 1, (c.period("timeperiod", timeperiod, 1), 0, 1.0),
                 fused=True)


def stddev(real, timeperiod: int = 5, nbdev: float = 1.0) -> np.ndarray:
    """Population standard deviation times nbdev."""
    params = (c.period("timeperiod", timeperiod), 1, c.real("nbdev", nbdev, -3e37))
    return c.run(c.rolling_var_fused, _one(real), 1, params, fused=True)


def zscore(real, timeperiod: int = 20) -> np.ndarray:
    """(real - SMA) / population stddev over the window; 0 for a constant window. Not in
    TA-Lib."""
    return c.run(_zscore, _one(real), 1, (c.period("timeperiod", timeperiod),))


def linearreg(real, timeperiod: int = 14) -> np.ndarray:
    """Least-squares line of the window, evaluated at its newest bar."""
    return c.run(_linreg, _one(real), 1, (c.period("timeperiod", timeperiod), 0), fused=True)


def linearreg_slope(real, timeperiod: int = 14) -> np.ndarray:
    """Slope of the least-squares line, per bar."""
    return c.run(_linreg, _one(real), 1, (c.period("timeperiod", timeperiod), 1), fused=True)


def linearreg_intercept(real, timeperiod: int = 14) -> np.ndarray:
    """The least-squares line at the oldest bar of the window (TA-Lib's intercept)."""
    return c.run(_linreg, _one(real), 1, (c.period("timeperiod", timeperiod), 2), fused=True)


def linearreg_angle(real, timeperiod: int = 14) -> np.ndarray:
    """atan(slope) in degrees."""
    return c.run(_linreg, _one(real), 1, (c.period("timeperiod", timeperiod), 3), fused=True)


def tsf(real, timeperiod: int = 14) -> np.ndarray:
    """Time series forecast: the least-squares line one bar after the window."""
    return c.run(_linreg, _one(real), 1, (c.period("timeperiod", timeperiod), 4), fused=True)


def correl(real0, real1, timeperiod: int = 30) -> np.ndarray:
    """Pearson correlation of the two series over the window."""
    arrays = c.inputs(real0=real0, real1=real1)
    return c.run(_correl, arrays, 1, (c.period("timeperiod", timeperiod, 1),), fused=True)


def beta(real0, real1, timeperiod: int = 5) -> np.ndarray:
    """Beta of real1's returns on real0's returns (TA-Lib's BETA)."""
    arrays = c.inputs(real0=real0, real1=real1)
    return c.run(_beta, arrays, 1, (c.period("timeperiod", timeperiod, 1),))


def max(real, timeperiod: int = 30) -> np.ndarray:  # noqa: A001 (TA-Lib's MAX)
    """Highest value over the window."""
    return c.run(_max, _one(real), 1, (c.period("timeperiod", timeperiod),), fused=True)


def min(real, timeperiod: int = 30) -> np.ndarray:  # noqa: A001 (TA-Lib's MIN)
    """Lowest value over the window."""
    return c.run(_min, _one(real), 1, (c.period("timeperiod", timeperiod),), fused=True)


def sum(real, timeperiod: int = 30) -> np.ndarray:  # noqa: A001 (TA-Lib's SUM)
    """Sum over the window."""
    return c.run(c.window_sum, _one(real), 1, (c.period("timeperiod", timeperiod), False),
                 fused=True)


__all__ = ["var", "stddev", "zscore", "linearreg", "linearreg_slope", "linearreg_intercept",
           "linearreg_angle", "tsf", "correl", "beta", "max", "min", "sum"]
