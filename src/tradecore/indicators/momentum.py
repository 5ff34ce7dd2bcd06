"""Momentum oscillators: RSI, CMO, stochastics, Williams %R, CCI, MFI, rate of change,
momentum, TRIX, Ultimate Oscillator, APO/PPO, MACD, balance of power.

TA-Lib's conventions are kept where they define the number (Wilder smoothing for RSI and
CMO, the late seed of MACD's fast EMA, 0 for a degenerate window); TA-Lib's absolute
thresholds (1e-8, or 1.0 of money flow in MFI) are replaced by exact zero tests, because an
absolute threshold is wrong for low-priced instruments (docs/indicators.md).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from tradecore.indicators import _core as c
from tradecore.indicators._core import NAN, NOISE_RTOL
from tradecore.indicators.overlap import _ma


# Prices are decimals: typical prices that differ by less than this (relative) are the same
# decimal price rounded two ways, so MFI counts them as no change (docs/indicators.md).
TIE_RTOL = 1e-12


# -- kernels --------------------------------------------------------------------------------

@njit(cache=True)
def _rsi_like(x: np.ndarray, p: int, cmo: bool) -> tuple[np.ndarray, bool]:
    """RSI (or CMO) from TA-Lib's Wilder recurrence of average gain and loss, in one pass;
    and the fused gap flag (c.run) at no cost per bar: every value enters a difference that
    enters the average gain or loss, and a non-finite average never becomes finite again
    (NaN stays NaN, inf times or plus a finite value stays inf, inf - inf is NaN), so the
    inputs were all finite iff both averages end finite (RSI 1.35x -> 1.2x TA-Lib: a
    separate finiteness pass was a tenth of the time)."""
    n = x.size
    s = c.first_valid(x)
    out = c.nan_prefixed(n, s + p)
    if n - s <= p:
        return out, False
    g = 0.0
    lo = 0.0
    for i in range(s + 1, s + p + 1):
        d = x[i] - x[i - 1]
        if d < 0:
            lo -= d
        else:
            g += d
    g /= p
    lo /= p
    inv = 1.0 / p
    for i in range(s + p, n):
        if i > s + p:
            lo *= p - 1
            g *= p - 1
            d = x[i] - x[i - 1]
            if d < 0:
                lo -= d
            else:
                g += d
            lo *= inv
            g *= inv
        t = g + lo
        if t == 0.0:
            out[i] = 0.0
        elif cmo:
            out[i] = 100.0 * ((g - lo) / t)
        else:
            out[i] = 100.0 * (g / t)
    return out, s == 0 and g - g == 0.0 and lo - lo == 0.0


@njit(cache=True)
def _rsi(x: np.ndarray, p: int) -> np.ndarray:
    return _rsi_like(x, p, False)[0]


@njit(cache=True)
def _rsi_fused(x: np.ndarray, p: int) -> tuple[np.ndarray, bool]:
    return _rsi_like(x, p, False)


@njit(cache=True)
def _cmo_fused(x: np.ndarray, p: int) -> tuple[np.ndarray, bool]:
    return _rsi_like(x, p, True)


@njit(cache=True)
def _fastk(high: np.ndarray, low: np.ndarray, close: np.ndarray, p: int):
    return c.high_low_window(high, low, close, p, 1)


@njit(cache=True)
def _mask_until(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` with NaN wherever ``b`` is NaN, in place: multi-output indicators start all
    outputs at the same bar, as TA-Lib does (``b``'s NaN are its warm-up prefix)."""
    for i in range(a.size):
        if b[i] == b[i]:
            break
        a[i] = NAN
    return a


@njit(cache=True)
def _ma_k(x: np.ndarray, p: int, kind: int) -> np.ndarray:
    return c.sma(x, p) if kind == 0 else c.ema(x, p, 2.0 / (p + 1), 0)


@njit(cache=True)
def _stoch(h, lo, cl, fk: int, sk: int, skt: int, sd: int, sdt: int):
    fastk, ok = _fastk(h, lo, cl, fk)
    slowk = _ma_k(fastk, sk, skt)
    slowd = _ma_k(slowk, sd, sdt)
    return _mask_until(slowk, slowd), slowd, ok


@njit(cache=True)
def _stochf(h, lo, cl, fk: int, fd: int, fdt: int):
    fastk, ok = _fastk(h, lo, cl, fk)
    fastd = _ma_k(fastk, fd, fdt)
    return _mask_until(fastk, fastd), fastd, ok


@njit(cache=True)
def _stochrsi(x, p: int, fk: int, fd: int, fdt: int):
    r = _rsi(x, p)
    k, d, _ = _stochf(r, r, r, fk, fd, fdt)
    return k, d, c.finite_upto(x, x.size)


@njit(cache=True)
def _willr(high: np.ndarray, low: np.ndarray, close: np.ndarray, p: int):
    return c.high_low_window(high, low, close, p, 2)


@njit(cache=True)
def _cci(high: np.ndarray, low: np.ndarray, close: np.ndarray, p: int) -> np.ndarray:
    """Mean absolute deviation has no O(1) update: O(p) per bar, as in TA-Lib.

    Each window's sum and deviation are additions in a fixed order, one dependent chain of
    p additions each; the windows of four consecutive bars are summed in the same loop
    (four independent chains in flight instead of one; every sum still adds the same
    values in the same order, so the same floats). Measured CCI 1.4x -> 1.1x TA-Lib."""
    n = close.size
    out = c.nan_prefixed(n, p - 1)
    tp = np.empty(n)
    z = 0.0        # the fused gap flag (c.run)
    for i in range(n):
        v = (high[i] + low[i] + close[i]) / 3.0
        tp[i] = v
        z += v - v
    i = p - 1
    while i + 3 < n:
        b = i - p + 1
        t0 = t1 = t2 = t3 = 0.0
        for j in range(b, b + p):
            t0 += tp[j]
            t1 += tp[j + 1]
            t2 += tp[j + 2]
            t3 += tp[j + 3]
        a0 = t0 / p
        a1 = t1 / p
        a2 = t2 / p
        a3 = t3 / p
        d0 = d1 = d2 = d3 = 0.0
        for j in range(b, b + p):
            d0 += abs(tp[j] - a0)
            d1 += abs(tp[j + 1] - a1)
            d2 += abs(tp[j + 2] - a2)
            d3 += abs(tp[j + 3] - a3)
        out[i] = _cci_value(tp[i] - a0, d0, a0, p)
        out[i + 1] = _cci_value(tp[i + 1] - a1, d1, a1, p)
        out[i + 2] = _cci_value(tp[i + 2] - a2, d2, a2, p)
        out[i + 3] = _cci_value(tp[i + 3] - a3, d3, a3, p)
        i += 4
    while i < n:
        total = 0.0
        for j in range(i - p + 1, i + 1):
            total += tp[j]
        avg = total / p
        dev = 0.0
        for j in range(i - p + 1, i + 1):
            dev += abs(tp[j] - avg)
        out[i] = _cci_value(tp[i] - avg, dev, avg, p)
        i += 1
    return out, z == 0.0


@njit(cache=True, inline="always")
def _cci_value(num: float, dev: float, avg: float, p: int) -> float:
    """CCI from the deviation of the newest typical price from the mean, the window's
    summed absolute deviation and its mean; 0 for a window without deviation (below
    NOISE_RTOL of the price)."""
    if num != 0.0 and dev > NOISE_RTOL * abs(avg) * p:
        return num / (0.015 * (dev / p))
    return 0.0


@njit(cache=True)
def _mfi(high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray,
         p: int) -> np.ndarray:
    """Money flow index over ``p`` flows; a window without flow in either direction is 0
    (counted exactly, so no drifting float sum decides it)."""
    n = close.size
    out = np.full(n, NAN)
    if n <= p:
        return out
    pos = np.zeros(n)
    neg = np.zeros(n)
    prev = (high[0] + low[0] + close[0]) / 3.0
    for i in range(1, n):
        tp = (high[i] + low[i] + close[i]) / 3.0
        flow = tp * volume[i]
        tol = TIE_RTOL * abs(prev)
        if tp - prev > tol:
            pos[i] = flow
        elif prev - tp > tol:
            neg[i] = flow
        prev = tp
    ps = 0.0
    ns = 0.0
    npos = 0
    nneg = 0
    for i in range(1, n):
        if i > p:
            ps -= pos[i - p]
            ns -= neg[i - p]
            npos -= pos[i - p] != 0.0
            nneg -= neg[i - p] != 0.0
        ps += pos[i]
        ns += neg[i]
        npos += pos[i] != 0.0
        nneg += neg[i] != 0.0
        if npos == 0:
            ps = 0.0
        if nneg == 0:
            ns = 0.0
        if i >= p:
            t = ps + ns
            out[i] = 100.0 * (ps / t) if t > 0.0 else 0.0
    return out


@njit(cache=True)
def _roc_family(x: np.ndarray, p: int, kind: int) -> tuple[np.ndarray, bool]:
    """0 mom, 1 roc, 2 rocp, 3 rocr, 4 rocr100 (a zero base gives 0, as TA-Lib), and the
    fused gap flag (c.run).

    One loop per kind (a kind test per bar costs more than the arithmetic), over views that
    start at the right offsets: Numba guards an index like ``x[i - p]`` against negative
    values, and the guard stops the loop from being vectorised (twice slower)."""
    n = x.size
    out = c.nan_prefixed(n, p)
    bad = not c.finite_upto(x, p)
    if n <= p:
        return out, not bad
    cur = x[p:]
    base = x[:n - p]
    o = out[p:]
    m = n - p
    if kind == 0:
        for j in range(m):
            v = cur[j]
            bad |= not (v - v == 0.0)
            o[j] = v - base[j]
    elif kind == 1:
        for j in range(m):
            v = cur[j]
            b = base[j]
            bad |= not (v - v == 0.0)
            o[j] = ((v / b) - 1.0) * 100.0 if b != 0.0 else 0.0
    elif kind == 2:
        for j in range(m):
            v = cur[j]
            b = base[j]
            bad |= not (v - v == 0.0)
            o[j] = (v - b) / b if b != 0.0 else 0.0
    elif kind == 3:
        for j in range(m):
            v = cur[j]
            b = base[j]
            bad |= not (v - v == 0.0)
            o[j] = v / b if b != 0.0 else 0.0
    else:
        for j in range(m):
            v = cur[j]
            b = base[j]
            bad |= not (v - v == 0.0)
            o[j] = (v / b) * 100.0 if b != 0.0 else 0.0
    return out, not bad


@njit(cache=True)
def _trix(x: np.ndarray, p: int) -> np.ndarray:
    return c.ema_cascade(x, p, 2.0 / (p + 1), 3, 3, np.zeros(4))


@njit(cache=True, inline="always")
def _uo_window(tot_a: float, tot_b: float, acc_a: float, acc_b: float, cd: int, u: float,
               v: float, old_u: float, old_v: float, p: int):
    """One window of the Ultimate Oscillator at one bar: its sums of buying pressure and
    true range with c.rolling_sum's arithmetic, and the state for the next bar.

    c.rolling_sum recomputes the window exactly every p bars (0.0 plus its values, oldest
    first) and otherwise adds the new term; the windows it recomputes are consecutive
    blocks of p bars, so the exact sum is accumulated here as the block's terms arrive
    (``acc``: the same additions in the same order, the same float) on a chain of its own,
    instead of a loop over a ring every p bars. ``cd`` counts the bars left in the block.
    Selects, not branches: the block end is a period-p pattern per window. ``old_*`` is the
    term leaving the window after this bar (any value before the window is full: the block
    end then replaces the running sum)."""
    acc_a += u
    acc_b += v
    cd -= 1
    hit = cd == 0
    ra = acc_a if hit else tot_a + u
    rb = acc_b if hit else tot_b + v
    acc_a = 0.0 if hit else acc_a
    acc_b = 0.0 if hit else acc_b
    cd = p if hit else cd
    return ra, rb, ra - old_u, rb - old_v, acc_a, acc_b, cd


@njit(cache=True)
def _ultosc(high: np.ndarray, low: np.ndarray, close: np.ndarray, p1: int, p2: int,
            p3: int) -> tuple[np.ndarray, bool]:
    """Three running window sums of buying pressure and true range (c.rolling_sum's
    arithmetic: see _uo_window) over one ring of the last p3 terms, the three windows in
    scalars; and the fused gap flag (c.run). Periods sorted, p3 largest. The ring has a
    power-of-two size, so a slot is ``bar & mask`` (no wrap-around test per access)."""
    n = close.size
    out = c.nan_prefixed(n, p3)
    if n <= p3:
        return out, False
    size = 1
    while size < p3:
        size *= 2
    mask = size - 1
    ru = np.zeros(size)
    rv = np.zeros(size)
    t1a = t1b = t2a = t2b = t3a = t3b = 0.0
    q1a = q1b = q2a = q2b = q3a = q3b = 0.0
    cd1 = p1
    cd2 = p2
    cd3 = p3
    z = (high[0] + low[0] + close[0]) * 0.0
    for i in range(1, n):
        pc = close[i - 1]
        hi = high[i]
        lo = low[i]
        cl = close[i]
        z += (hi + lo + cl) * 0.0
        tl = lo if lo < pc else pc
        u = cl - tl
        v = (hi if hi > pc else pc) - tl
        ru[i & mask] = u
        rv[i & mask] = v
        k1 = (i - p1 + 1) & mask
        k2 = (i - p2 + 1) & mask
        k3 = (i - p3 + 1) & mask
        r1a, r1b, t1a, t1b, q1a, q1b, cd1 = _uo_window(t1a, t1b, q1a, q1b, cd1, u, v,
                                                       ru[k1], rv[k1], p1)
        r2a, r2b, t2a, t2b, q2a, q2b, cd2 = _uo_window(t2a, t2b, q2a, q2b, cd2, u, v,
                                                       ru[k2], rv[k2], p2)
        r3a, r3b, t3a, t3b, q3a, q3b, cd3 = _uo_window(t3a, t3b, q3a, q3b, cd3, u, v,
                                                       ru[k3], rv[k3], p3)
        if i < p3:
            continue
        val = 0.0
        if r1b != 0.0:
            val += 4.0 * (r1a / r1b)
        if r2b != 0.0:
            val += 2.0 * (r2a / r2b)
        if r3b != 0.0:
            val += r3a / r3b
        out[i] = 100.0 * (val / 7.0)
    return out, z == 0.0


@njit(cache=True)
def _po_ema(x: np.ndarray, fast: int, slow: int, ppo: bool) -> tuple[np.ndarray, bool]:
    """APO (or PPO) with EMAs in one pass: both EMAs exactly as c.ema (each seeded with the
    SMA of its first p values at bar p-1), the difference (or its percentage of the slow
    EMA, 0 when that is 0) written from bar slow-1; and the fused gap flag (c.run).
    One output array instead of three."""
    if slow < fast:
        fast, slow = slow, fast
    n = x.size
    out = c.nan_prefixed(n, slow - 1)
    if n < slow:
        return out, False
    kf = 2.0 / (fast + 1)
    ks = 2.0 / (slow + 1)
    total = 0.0
    for i in range(fast):
        total += x[i]
    fe = total / fast
    for i in range(fast, slow):
        fe = c.fma(x[i] - fe, kf, fe)
    total = 0.0
    for i in range(slow):
        total += x[i]
    se = total / slow
    z = total - total
    for i in range(slow - 1, n):
        if i >= slow:
            v = x[i]
            z += v - v
            fe = c.fma(v - fe, kf, fe)
            se = c.fma(v - se, ks, se)
        if ppo:
            out[i] = ((fe - se) / se) * 100.0 if se != 0.0 else 0.0
        else:
            out[i] = fe - se
    return out, z == 0.0


def _po(x, fast: int, slow: int, kind: int):
    if slow < fast:
        fast, slow = slow, fast
    return _ma(x, fast, kind), _ma(x, slow, kind)


def _apo(x, fast: int, slow: int, kind: int):
    f, s = _po(x, fast, slow, kind)
    return f - s


@njit(cache=True)
def _ppo_from(f: np.ndarray, s: np.ndarray) -> np.ndarray:
    out = np.full(f.size, NAN)
    for i in range(f.size):
        if s[i] == s[i]:
            out[i] = ((f[i] - s[i]) / s[i]) * 100.0 if s[i] != 0.0 else 0.0
    return out


def _ppo(x, fast: int, slow: int, kind: int):
    return _ppo_from(*_po(x, fast, slow, kind))


@njit(cache=True)
def _macd_k(x: np.ndarray, fast: int, slow: int, signal: int, kf: float, ks: float):
    """TA-Lib's MACD: both EMAs start at bar slow-1 (the fast one seeded with the SMA of its
    last ``fast`` values there), the signal is an EMA of the MACD line. One pass, the same
    arithmetic as c.ema chained (three output arrays and nothing else: fresh arrays cost
    page faults)."""
    if slow < fast:
        fast, slow = slow, fast
        kf, ks = ks, kf
    n = x.size
    first = slow - 1
    out_first = first + signal - 1
    m_out = c.nan_prefixed(n, out_first)
    s_out = c.nan_prefixed(n, out_first)
    h_out = c.nan_prefixed(n, out_first)
    if out_first >= n:
        return m_out, s_out, h_out, False
    total = 0.0
    for i in range(first - fast + 1, first + 1):
        total += x[i]
    fe = total / fast
    total = 0.0
    for i in range(0, first + 1):
        total += x[i]
    se = total / slow
    k = 2.0 / (signal + 1)
    z = total - total              # the gap flag (c.run): x[0..first] are in this sum
    # warm-up: the signal EMA's seed, the SMA of the first `signal` MACD values
    t = 0.0
    for i in range(first, out_first + 1):
        if i > first:
            v = x[i]
            z += v - v
            fe = c.fma(v - fe, kf, fe)
            se = c.fma(v - se, ks, se)
        t += fe - se
    sig = t / signal
    m = fe - se
    m_out[out_first] = m
    s_out[out_first] = sig
    h_out[out_first] = m - sig
    for i in range(out_first + 1, n):
        v = x[i]
        z += v - v
        fe = c.fma(v - fe, kf, fe)
        se = c.fma(v - se, ks, se)
        m = fe - se
        sig = c.fma(m - sig, k, sig)
        m_out[i] = m
        s_out[i] = sig
        h_out[i] = m - sig
    return m_out, s_out, h_out, z == 0.0


def _macd(x, fast: int, slow: int, signal: int):
    return _macd_k(x, fast, slow, signal, 2.0 / (fast + 1), 2.0 / (slow + 1))


def _macdfix(x, signal: int):
    return _macd_k(x, 12, 26, signal, 0.15, 0.075)


@njit(cache=True)
def _bop(o: np.ndarray, h: np.ndarray, lo: np.ndarray, cl: np.ndarray) -> tuple[np.ndarray, bool]:
    out = np.empty(cl.size)
    bad = False
    for i in range(cl.size):
        r = h[i] - lo[i]
        d = cl[i] - o[i]
        bad |= not ((r + d) * 0.0 == 0.0)   # NaN iff an input is not finite (or r+d overflows)
        out[i] = d / r if r > 0.0 else 0.0
    return out, not bad


# -- public batch functions -----------------------------------------------------------------

def _one(real):
    return c.inputs(real=real)


def rsi(real, timeperiod: int = 14) -> np.ndarray:
    """Relative strength index (Wilder). A window without any change gives 0, as TA-Lib."""
    return c.run(_rsi_fused, _one(real), 1, (c.period("timeperiod", timeperiod),), fused=True)


def cmo(real, timeperiod: int = 14) -> np.ndarray:
    """Chande momentum oscillator with TA-Lib's Wilder-smoothed gains and losses."""
    return c.run(_cmo_fused, _one(real), 1, (c.period("timeperiod", timeperiod),), fused=True)


def stoch(high, low, close, fastk_period: int = 5, slowk_period: int = 3,
          slowk_matype: int = 0, slowd_period: int = 3, slowd_matype: int = 0):
    """Slow stochastic (slowk, slowd)."""
    arrays = c.inputs(high=high, low=low, close=close)
    params = (c.period("fastk_period", fastk_period, 1), c.period("slowk_period", slowk_period, 1),
              c.matype("slowk_matype", slowk_matype), c.period("slowd_period", slowd_period, 1),
              c.matype("slowd_matype", slowd_matype))
    return c.run(_stoch, arrays, 2, params, fused=True)


def stochf(high, low, close, fastk_period: int = 5, fastd_period: int = 3,
           fastd_matype: int = 0):
    """Fast stochastic (fastk, fastd)."""
    arrays = c.inputs(high=high, low=low, close=close)
    params = (c.period("fastk_period", fastk_period, 1), c.period("fastd_period", fastd_period, 1),
              c.matype("fastd_matype", fastd_matype))
    return c.run(_stochf, arrays, 2, params, fused=True)


def stochrsi(real, timeperiod: int = 14, fastk_period: int = 5, fastd_period: int = 3,
             fastd_matype: int = 0):
    """Fast stochastic of the RSI (fastk, fastd)."""
    params = (c.period("timeperiod", timeperiod), c.period("fastk_period", fastk_period, 1),
              c.period("fastd_period", fastd_period, 1), c.matype("fastd_matype", fastd_matype))
    return c.run(_stochrsi, _one(real), 2, params, fused=True)


def willr(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """Williams %R in [-100, 0]."""
    arrays = c.inputs(high=high, low=low, close=close)
    return c.run(_willr, arrays, 1, (c.period("timeperiod", timeperiod),), fused=True)


def cci(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """Commodity channel index (typical price against its mean absolute deviation)."""
    arrays = c.inputs(high=high, low=low, close=close)
    return c.run(_cci, arrays, 1, (c.period("timeperiod", timeperiod),), fused=True)


def mfi(high, low, close, volume, timeperiod: int = 14) -> np.ndarray:
    """Money flow index. A window with no money flow (zero volume or no price change) is 0."""
    arrays = c.inputs(high=high, low=low, close=close, volume=volume)
    return c.run(_mfi, arrays, 1, (c.period("timeperiod", timeperiod),))


def mom(real, timeperiod: int = 10) -> np.ndarray:
    """real - real[timeperiod bars ago]."""
    return c.run(_roc_family, _one(real), 1, (c.period("timeperiod", timeperiod, 1), 0),
                 fused=True)


def roc(real, timeperiod: int = 10) -> np.ndarray:
    """Rate of change in percent: (real/prev - 1) * 100; 0 when prev is 0."""
    return c.run(_roc_family, _one(real), 1, (c.period("timeperiod", timeperiod, 1), 1),
                 fused=True)


def rocp(real, timeperiod: int = 10) -> np.ndarray:
    """Rate of change as a fraction: (real - prev) / prev."""
    return c.run(_roc_family, _one(real), 1, (c.period("timeperiod", timeperiod, 1), 2),
                 fused=True)


def rocr(real, timeperiod: int = 10) -> np.ndarray:
    """Rate of change ratio: real / prev."""
    return c.run(_roc_family, _one(real), 1, (c.period("timeperiod", timeperiod, 1), 3),
                 fused=True)


def rocr100(real, timeperiod: int = 10) -> np.ndarray:
    """Rate of change ratio times 100."""
    return c.run(_roc_family, _one(real), 1, (c.period("timeperiod", timeperiod, 1), 4),
                 fused=True)


def trix(real, timeperiod: int = 30) -> np.ndarray:
    """One-bar rate of change (percent) of a triple EMA."""
    return c.run(_trix, _one(real), 1, (c.period("timeperiod", timeperiod, 1),),
                 fused=True)


def ultosc(high, low, close, timeperiod1: int = 7, timeperiod2: int = 14,
           timeperiod3: int = 28) -> np.ndarray:
    """Ultimate oscillator; the periods are sorted, the shortest weighs 4, as in TA-Lib."""
    arrays = c.inputs(high=high, low=low, close=close)
    ps = sorted((c.period("timeperiod1", timeperiod1, 1), c.period("timeperiod2", timeperiod2, 1),
                 c.period("timeperiod3", timeperiod3, 1)))
    return c.run(_ultosc, arrays, 1, tuple(ps), fused=True)


def apo(real, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> np.ndarray:
    """Absolute price oscillator: MA(fast) - MA(slow)."""
    params = (c.period("fastperiod", fastperiod), c.period("slowperiod", slowperiod),
              c.matype("matype", matype))
    if params[2] == 1:
        return c.run(_po_ema, _one(real), 1, (params[0], params[1], False), fused=True)
    return c.run(_apo, _one(real), 1, params)


def ppo(real, fastperiod: int = 12, slowperiod: int = 26, matype: int = 1) -> np.ndarray:
    """Percentage price oscillator: (MA(fast) - MA(slow)) / MA(slow) * 100."""
    params = (c.period("fastperiod", fastperiod), c.period("slowperiod", slowperiod),
              c.matype("matype", matype))
    if params[2] == 1:
        return c.run(_po_ema, _one(real), 1, (params[0], params[1], True), fused=True)
    return c.run(_ppo, _one(real), 1, params)


def macd(real, fastperiod: int = 12, slowperiod: int = 26, signalperiod: int = 9):
    """MACD (macd, macdsignal, macdhist)."""
    params = (c.period("fastperiod", fastperiod), c.period("slowperiod", slowperiod),
              c.period("signalperiod", signalperiod, 1))
    return c.run(_macd, _one(real), 3, params, fused=True)


def macdfix(real, signalperiod: int = 9):
    """MACD with TA-Lib's fixed 12/26 constants 0.15 and 0.075 (macd, macdsignal, macdhist)."""
    return c.run(_macdfix, _one(real), 3, (c.period("signalperiod", signalperiod, 1),),
                 fused=True)


def bop(open, high, low, close) -> np.ndarray:  # noqa: A002 (TA-Lib's argument name)
    """Balance of power: (close - open) / (high - low); 0 for a bar without range."""
    return c.run(_bop, c.inputs(open=open, high=high, low=low, close=close), 1, fused=True)


__all__ = ["rsi", "cmo", "stoch", "stochf", "stochrsi", "willr", "cci", "mfi", "mom", "roc",
           "rocp", "rocr", "rocr100", "trix", "ultosc", "apo", "ppo", "macd", "macdfix", "bop"]
