"""Trend indicators: Wilder's directional movement (+DM, -DM, +DI, -DI, DX, ADX, ADXR),
Aroon, Parabolic SAR, Supertrend and Ichimoku.

The DM/DI family follows TA-Lib's arithmetic (Wilder *sums* for DM and TR, DI = 100*DM/TR,
ADX seeded with the mean of the first ``timeperiod`` DX values). A degenerate DI or DX (no
true range, or no directional movement) is 0 where TA-Lib compares against 1e-8.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from tradecore.indicators import _core as c
from tradecore.indicators._core import NAN


# -- kernels --------------------------------------------------------------------------------

@njit(cache=True)
def _dm(h: np.ndarray, lo: np.ndarray, i: int) -> tuple[float, float]:
    diff_p = h[i] - h[i - 1]
    diff_m = lo[i - 1] - lo[i]
    plus = diff_p if (diff_p > 0 and diff_p > diff_m) else 0.0
    minus = diff_m if (diff_m > 0 and diff_p < diff_m) else 0.0
    return plus, minus


@njit(cache=True)
def _dm_sums(h: np.ndarray, lo: np.ndarray, p: int, minus: bool) -> np.ndarray:
    """TA-Lib PLUS_DM / MINUS_DM: the sum of the first p-1 DMs, then Wilder's
    ``prev - prev/p + dm`` (valid from index p-1)."""
    n = h.size
    out = c.nan_prefixed(n, p - 1)
    if n < p:
        return out
    sp = 0.0
    for i in range(1, p):
        a, b = _dm(h, lo, i)
        sp += b if minus else a
    out[p - 1] = sp
    inv = 1.0 / p  # a multiply instead of a divide in the recurrence: 5x faster
    for i in range(p, n):
        a, b = _dm(h, lo, i)
        sp = sp - sp * inv + (b if minus else a)
        out[i] = sp
    return out


@njit(cache=True)
def _di(h: np.ndarray, lo: np.ndarray, cl: np.ndarray, p: int, which: int) -> np.ndarray:
    """+DI (which 0), -DI (1) or DX (2), valid from index p; only that one is stored."""
    n = h.size
    out = c.nan_prefixed(n, p)
    if n <= p:
        return out
    sp = 0.0
    sm = 0.0
    st = 0.0
    for i in range(1, p):
        a, b = _dm(h, lo, i)
        sp += a
        sm += b
        st += max(h[i], cl[i - 1]) - min(lo[i], cl[i - 1])
    inv = 1.0 / p
    for i in range(p, n):
        a, b = _dm(h, lo, i)
        tr = max(h[i], cl[i - 1]) - min(lo[i], cl[i - 1])
        sp = sp - sp * inv + a
        sm = sm - sm * inv + b
        st = st - st * inv + tr
        if st != 0.0:
            pl = 100.0 * (sp / st)
            mi = 100.0 * (sm / st)
        else:
            pl = 0.0
            mi = 0.0
        if which == 0:
            out[i] = pl
        elif which == 1:
            out[i] = mi
        else:
            t = mi + pl
            out[i] = 100.0 * (abs(mi - pl) / t) if t != 0.0 else 0.0
    return out


@njit(cache=True)
def _adx(h: np.ndarray, lo: np.ndarray, cl: np.ndarray, p: int) -> np.ndarray:
    dx = _di(h, lo, cl, p, 2)
    n = h.size
    out = dx  # ADX written over DX in place: each DX is read before its slot is reused
    if n < 2 * p:
        return c.nan_prefixed(n, n)
    total = 0.0
    for i in range(p, 2 * p):
        total += dx[i]
    prev = total / p
    out[:2 * p - 1] = NAN
    out[2 * p - 1] = prev
    inv = 1.0 / p
    for i in range(2 * p, n):
        prev = ((prev * (p - 1)) + dx[i]) * inv
        out[i] = prev
    return out


@njit(cache=True)
def _adxr(h: np.ndarray, lo: np.ndarray, cl: np.ndarray, p: int) -> np.ndarray:
    a = _adx(h, lo, cl, p)
    out = np.full(h.size, NAN)
    for i in range(3 * p - 2, h.size):
        out[i] = (a[i] + a[i - (p - 1)]) / 2.0
    return out


@njit(cache=True)
def _pdi(h, lo, cl, p):
    return _di(h, lo, cl, p, 0)


@njit(cache=True)
def _mdi(h, lo, cl, p):
    return _di(h, lo, cl, p, 1)


@njit(cache=True)
def _dx(h, lo, cl, p):
    return _di(h, lo, cl, p, 2)


@njit(cache=True)
def _pdm(h, lo, p):
    return _dm_sums(h, lo, p, False)


@njit(cache=True)
def _mdm(h, lo, p):
    return _dm_sums(h, lo, p, True)


@njit(cache=True)
def _aroon_core(h: np.ndarray, lo: np.ndarray, p: int, osc: bool):
    """Aroon down/up (or the oscillator) from the index of the highest high and the lowest
    low of the last p+1 bars (the latest on ties), tracked as c._rolling_max/_rolling_min
    do (rescan only when the extreme leaves the window), both in one pass, writing only the
    outputs; and the fused gap flag (c.run)."""
    n = h.size
    w = p + 1
    down = c.nan_prefixed(n, p)
    up = c.nan_prefixed(n, p) if not osc else down
    factor = 100.0 / p
    hi_i = -1
    hi = 0.0
    lo_i = -1
    lw = 0.0
    z = 0.0
    for i in range(n):
        a = h[i]
        b = lo[i]
        z += (a + b) * 0.0
        trailing = i - w + 1
        if hi_i < trailing or hi_i < 0:
            hi_i = trailing if trailing > 0 else 0
            hi = h[hi_i]
            for j in range(hi_i + 1, i + 1):
                if h[j] >= hi:
                    hi = h[j]
                    hi_i = j
        elif a >= hi:
            hi = a
            hi_i = i
        if lo_i < trailing or lo_i < 0:
            lo_i = trailing if trailing > 0 else 0
            lw = lo[lo_i]
            for j in range(lo_i + 1, i + 1):
                if lo[j] <= lw:
                    lw = lo[j]
                    lo_i = j
        elif b <= lw:
            lw = b
            lo_i = i
        if i >= p:
            if osc:
                down[i] = factor * (hi_i - lo_i)
            else:
                down[i] = factor * (p - (i - lo_i))
                up[i] = factor * (p - (i - hi_i))
    return down, up, z == 0.0


@njit(cache=True)
def _aroon(h: np.ndarray, lo: np.ndarray, p: int):
    return _aroon_core(h, lo, p, False)


@njit(cache=True)
def _aroonosc(h: np.ndarray, lo: np.ndarray, p: int):
    down, _, ok = _aroon_core(h, lo, p, True)
    return down, ok


@njit(cache=True)
def _sar(h: np.ndarray, lo: np.ndarray, acc: float, maximum: float) -> np.ndarray:
    """TA-Lib's Parabolic SAR: the first trend is short when bar 1 has a -DM, the first SAR
    is the extreme of bar 0, and the SAR never enters the last two bars' range."""
    n = h.size
    out = np.full(n, NAN)
    if n < 2:
        return out
    if acc > maximum:
        acc = maximum
    af = acc
    _, m = _dm(h, lo, 1)
    is_long = not (m > 0)
    if is_long:
        ep = h[1]
        sar = lo[0]
    else:
        ep = lo[1]
        sar = h[0]
    new_low = lo[1]
    new_high = h[1]
    for today in range(1, n):
        prev_low = new_low
        prev_high = new_high
        new_low = lo[today]
        new_high = h[today]
        if is_long:
            if new_low <= sar:
                is_long = False
                sar = ep
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
                out[today] = sar
                af = acc
                ep = new_low
                sar = sar + af * (ep - sar)
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
            else:
                out[today] = sar
                if new_high > ep:
                    ep = new_high
                    af += acc
                    if af > maximum:
                        af = maximum
                sar = sar + af * (ep - sar)
                if sar > prev_low:
                    sar = prev_low
                if sar > new_low:
                    sar = new_low
        else:
            if new_high >= sar:
                is_long = True
                sar = ep
                if sar > prev_low:
                    sar = prev_low
                if sar > new_low:
                    sar = new_low
                out[today] = sar
                af = acc
                ep = new_high
                sar = sar + af * (ep - sar)
                if sar > prev_low:
                    sar = prev_low
                if sar > new_low:
                    sar = new_low
            else:
                out[today] = sar
                if new_low < ep:
                    ep = new_low
                    af += acc
                    if af > maximum:
                        af = maximum
                sar = sar + af * (ep - sar)
                if sar < prev_high:
                    sar = prev_high
                if sar < new_high:
                    sar = new_high
    return out


@njit(cache=True)
def _wilder_atr(h: np.ndarray, lo: np.ndarray, cl: np.ndarray, p: int,
                natr: bool = False) -> tuple[np.ndarray, bool]:
    """TA-Lib's ATR: SMA of the first p true ranges (bars 1..p), then Wilder smoothing; and
    the fused gap flag (c.run). With ``natr`` the output is NATR, ATR as a percentage of the
    close (0 for a zero close), in the same pass."""
    n = h.size
    out = c.nan_prefixed(n, p)
    if n <= p:
        return out, False
    z = 0.0
    total = 0.0
    for i in range(1, p + 1):
        total += max(h[i], cl[i - 1]) - min(lo[i], cl[i - 1])
        z += (h[i] + lo[i] + cl[i]) * 0.0
    z += (h[0] + lo[0] + cl[0]) * 0.0
    prev = total / p
    if natr:
        out[p] = (prev / cl[p]) * 100.0 if cl[p] != 0.0 else 0.0
    else:
        out[p] = prev
    # (prev*(p-1) + tr)/p as fma(prev, keep, tr*inv), TA-Lib's own FMA build's form: the
    # loop-carried chain is one fused multiply-add (c.fma; streamk.WilderAtr uses C's fma)
    # instead of a multiply and an add, or multiply, add, divide as in TA-Lib's source.
    # Views instead of ``cl[i - 1]``: Numba guards computed indices against negative values.
    inv = 1.0 / p
    keep = (p - 1) / p
    h1 = h[p + 1:]
    l1 = lo[p + 1:]
    c1 = cl[p + 1:]
    pc = cl[p:n - 1]
    o = out[p + 1:]
    for j in range(n - p - 1):
        a = h1[j]
        b = l1[j]
        q = pc[j]
        z += (a + b + c1[j]) * 0.0
        tr = (a if a > q else q) - (b if b < q else q)
        prev = c.fma(prev, keep, tr * inv)
        if natr:
            cj = c1[j]
            o[j] = (prev / cj) * 100.0 if cj != 0.0 else 0.0
        else:
            o[j] = prev
    return out, z == 0.0


@njit(cache=True)
def _supertrend(h: np.ndarray, lo: np.ndarray, cl: np.ndarray, p: int, mult: float):
    """Bands hl2 +/- mult*ATR that only tighten while the trend lasts; the trend flips when
    the close crosses the active band. The first valid bar starts in an up-trend."""
    n = h.size
    atr = _wilder_atr(h, lo, cl, p)[0]
    st = np.full(n, NAN)
    direction = np.full(n, NAN)
    if n <= p:
        return st, direction
    up_band = 0.0
    dn_band = 0.0
    d = 1.0
    for i in range(p, n):
        mid = (h[i] + lo[i]) / 2.0
        bu = mid + mult * atr[i]
        bl = mid - mult * atr[i]
        if i == p:
            up_band = bu
            dn_band = bl
        else:
            up_band = bu if (bu < up_band or cl[i - 1] > up_band) else up_band
            dn_band = bl if (bl > dn_band or cl[i - 1] < dn_band) else dn_band
            if d > 0 and cl[i] < dn_band:
                d = -1.0
            elif d < 0 and cl[i] > up_band:
                d = 1.0
        direction[i] = d
        st[i] = dn_band if d > 0 else up_band
    return st, direction


@njit(cache=True)
def _ichimoku(h: np.ndarray, lo: np.ndarray, tenkan_p: int, kijun_p: int, senkou_p: int,
              disp: int):
    n = h.size
    tenkan = (c.rolling_max(h, tenkan_p) + c.rolling_min(lo, tenkan_p)) / 2.0
    kijun = (c.rolling_max(h, kijun_p) + c.rolling_min(lo, kijun_p)) / 2.0
    span_b = (c.rolling_max(h, senkou_p) + c.rolling_min(lo, senkou_p)) / 2.0
    span_a = (tenkan + kijun) / 2.0
    senkou_a = np.full(n, NAN)
    senkou_b = np.full(n, NAN)
    if disp < n:
        senkou_a[disp:] = span_a[:n - disp]
        senkou_b[disp:] = span_b[:n - disp]
    return tenkan, kijun, senkou_a, senkou_b


# -- public batch functions -----------------------------------------------------------------

def _hlc(high, low, close):
    return c.inputs(high=high, low=low, close=close)


def plus_dm(high, low, timeperiod: int = 14) -> np.ndarray:
    """Wilder-smoothed sum of +DM."""
    return c.run(_pdm, c.inputs(high=high, low=low), 1, (c.period("timeperiod", timeperiod),))


def minus_dm(high, low, timeperiod: int = 14) -> np.ndarray:
    """Wilder-smoothed sum of -DM."""
    return c.run(_mdm, c.inputs(high=high, low=low), 1, (c.period("timeperiod", timeperiod),))


def plus_di(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """+DI = 100 * smoothed +DM / smoothed true range."""
    return c.run(_pdi, _hlc(high, low, close), 1, (c.period("timeperiod", timeperiod),))


def minus_di(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """-DI = 100 * smoothed -DM / smoothed true range."""
    return c.run(_mdi, _hlc(high, low, close), 1, (c.period("timeperiod", timeperiod),))


def dx(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """Directional movement index 100*|+DI - -DI| / (+DI + -DI)."""
    return c.run(_dx, _hlc(high, low, close), 1, (c.period("timeperiod", timeperiod),))


def adx(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """Average directional movement index (Wilder average of DX)."""
    return c.run(_adx, _hlc(high, low, close), 1, (c.period("timeperiod", timeperiod),))


def adxr(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """ADX rating: mean of ADX now and timeperiod-1 bars ago."""
    return c.run(_adxr, _hlc(high, low, close), 1, (c.period("timeperiod", timeperiod),))


def aroon(high, low, timeperiod: int = 14) -> tuple[np.ndarray, np.ndarray]:
    """Aroon (aroondown, aroonup) over the last timeperiod+1 bars."""
    return c.run(_aroon, c.inputs(high=high, low=low), 2, (c.period("timeperiod", timeperiod),),
                 fused=True)


def aroonosc(high, low, timeperiod: int = 14) -> np.ndarray:
    """Aroon oscillator: aroonup - aroondown."""
    return c.run(_aroonosc, c.inputs(high=high, low=low), 1,
                 (c.period("timeperiod", timeperiod),), fused=True)


def sar(high, low, acceleration: float = 0.02, maximum: float = 0.2) -> np.ndarray:
    """Parabolic SAR (TA-Lib's variant)."""
    params = (c.real("acceleration", acceleration), c.real("maximum", maximum))
    return c.run(_sar, c.inputs(high=high, low=low), 1, params)


def supertrend(high, low, close, timeperiod: int = 10,
               multiplier: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Supertrend (supertrend, direction +1/-1) on TA-Lib's ATR. Not in TA-Lib."""
    params = (c.period("timeperiod", timeperiod, 1), c.real("multiplier", multiplier))
    return c.run(_supertrend, _hlc(high, low, close), 2, params)


def ichimoku(high, low, tenkan_period: int = 9, kijun_period: int = 26,
             senkou_period: int = 52, displacement: int = 26):
    """Ichimoku (tenkan, kijun, senkou_a, senkou_b) as known at each bar: the senkou spans
    at bar i are the values computed ``displacement`` bars earlier (what a chart plots at
    i). The chikou span is the close plotted backwards, not a causal value, so it is left
    out. Not in TA-Lib."""
    params = (c.period("tenkan_period", tenkan_period, 1), c.period("kijun_period", kijun_period, 1),
              c.period("senkou_period", senkou_period, 1),
              c.period("displacement", displacement, 0))
    return c.run(_ichimoku, c.inputs(high=high, low=low), 4, params)


__all__ = ["plus_dm", "minus_dm", "plus_di", "minus_di", "dx", "adx", "adxr", "aroon",
           "aroonosc", "sar", "supertrend", "ichimoku"]
