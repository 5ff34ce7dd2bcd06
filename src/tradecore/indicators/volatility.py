"""Volatility: true range, ATR, NATR, Keltner and Donchian channels, historical volatility
(close-to-close, Parkinson, Garman-Klass).

Historical volatilities are per bar unless ``periods_per_year`` is given (then multiplied by
its square root: 365*24 for hourly crypto candles, for instance).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from tradecore.indicators import _core as c
from tradecore.indicators._core import NAN
from tradecore.indicators.overlap import _ema_k
from tradecore.indicators.trend import _wilder_atr


@njit(cache=True)
def _trange(h: np.ndarray, lo: np.ndarray, cl: np.ndarray) -> tuple[np.ndarray, bool]:
    """True range and the fused gap flag (c.run); views instead of ``cl[i - 1]`` (Numba
    guards a computed index against negative values, which stops vectorisation)."""
    n = h.size
    out = c.nan_prefixed(n, 1)
    if n == 0:
        return out, True
    bad = not ((h[0] + lo[0] + cl[0]) * 0.0 == 0.0)
    h1 = h[1:]
    l1 = lo[1:]
    c1 = cl[1:]
    pc = cl[:n - 1]
    o = out[1:]
    for j in range(n - 1):
        a = h1[j]
        b = l1[j]
        q = pc[j]
        bad |= not ((a + b + c1[j]) * 0.0 == 0.0)
        o[j] = (a if a > q else q) - (b if b < q else q)
    return out, not bad


@njit(cache=True)
def _natr(h: np.ndarray, lo: np.ndarray, cl: np.ndarray, p: int) -> tuple[np.ndarray, bool]:
    return _wilder_atr(h, lo, cl, p, True)


@njit(cache=True)
def _keltner(h: np.ndarray, lo: np.ndarray, cl: np.ndarray, p: int, mult: float, ap: int):
    mid = _ema_k(cl, p)
    band = mult * _wilder_atr(h, lo, cl, ap)[0]
    return mid + band, mid, mid - band


@njit(cache=True)
def _donchian(h: np.ndarray, lo: np.ndarray, p: int):
    up = c.rolling_max(h, p)
    dn = c.rolling_min(lo, p)
    return up, (up + dn) / 2.0, dn


@njit(cache=True)
def _hv_close(cl: np.ndarray, p: int, scale: float) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last p log returns."""
    n = cl.size
    out = np.full(n, NAN)
    if n <= p:
        return out
    r = np.full(n, NAN)
    for i in range(1, n):
        r[i] = math.log(cl[i] / cl[i - 1])
    var = c.rolling_var(r, p)
    for i in range(p, n):
        out[i] = math.sqrt(var[i] * p / (p - 1)) * scale
    return out


@njit(cache=True)
def _hv_parkinson(h: np.ndarray, lo: np.ndarray, p: int, scale: float) -> np.ndarray:
    n = h.size
    x = np.empty(n)
    for i in range(n):
        u = math.log(h[i] / lo[i])
        x[i] = u * u
    m = _mean_nonneg(x, p)
    return np.sqrt(m / (4.0 * math.log(2.0))) * scale


@njit(cache=True)
def _hv_garman_klass(o: np.ndarray, h: np.ndarray, lo: np.ndarray, cl: np.ndarray, p: int,
                     scale: float) -> np.ndarray:
    n = h.size
    x = np.empty(n)
    k = 2.0 * math.log(2.0) - 1.0
    for i in range(n):
        u = math.log(h[i] / lo[i])
        v = math.log(cl[i] / o[i])
        x[i] = 0.5 * u * u - k * v * v
    m = _mean_nonneg(x, p)
    return np.sqrt(m) * scale


@njit(cache=True)
def _mean_nonneg(x: np.ndarray, p: int) -> np.ndarray:
    """Rolling mean of per-bar variance terms, clamped at 0; exactly 0 when every term of
    the window is 0 (counted, so a drifting running sum cannot leave a residue)."""
    n = x.size
    out = np.full(n, NAN)
    total = 0.0
    nonzero = 0
    for i in range(n):
        total += x[i]
        nonzero += x[i] != 0.0
        if i >= p:
            total -= x[i - p]
            nonzero -= x[i - p] != 0.0
        if nonzero == 0:
            total = 0.0
        if i >= p - 1:
            m = total / p
            out[i] = m if m > 0.0 else 0.0
    return out


def _hlc(high, low, close):
    return c.inputs(high=high, low=low, close=close)


def _scale(periods_per_year: float) -> float:
    return math.sqrt(c.real("periods_per_year", periods_per_year, 0.0, lo_open=True))


def trange(high, low, close) -> np.ndarray:
    """True range: max(high, prev close) - min(low, prev close)."""
    return c.run(_trange, _hlc(high, low, close), 1, fused=True)


def atr(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """Average true range (Wilder), seeded with the mean of the first timeperiod ranges."""
    return c.run(_wilder_atr, _hlc(high, low, close), 1, (c.period("timeperiod", timeperiod, 1),),
                 fused=True)


def natr(high, low, close, timeperiod: int = 14) -> np.ndarray:
    """ATR as a percentage of the close."""
    return c.run(_natr, _hlc(high, low, close), 1, (c.period("timeperiod", timeperiod, 1),),
                 fused=True)


def keltner(high, low, close, timeperiod: int = 20, multiplier: float = 2.0,
            atr_period: int = 10):
    """Keltner channel (upper, middle, lower): EMA(close) +/- multiplier * ATR. Not in TA-Lib."""
    params = (c.period("timeperiod", timeperiod), c.real("multiplier", multiplier),
              c.period("atr_period", atr_period, 1))
    return c.run(_keltner, _hlc(high, low, close), 3, params)


def donchian(high, low, timeperiod: int = 20):
    """Donchian channel (upper, middle, lower): highest high, midpoint, lowest low."""
    return c.run(_donchian, c.inputs(high=high, low=low), 3, (c.period("timeperiod", timeperiod, 1),))


def hv_close(close, timeperiod: int = 20, periods_per_year: float = 1.0) -> np.ndarray:
    """Close-to-close volatility: sample stdev of log returns * sqrt(periods_per_year)."""
    (cl,) = c.inputs(close=close)
    c.positive("close", cl)
    return c.run(_hv_close, (cl,), 1, (c.period("timeperiod", timeperiod), _scale(periods_per_year)))


def hv_parkinson(high, low, timeperiod: int = 20, periods_per_year: float = 1.0) -> np.ndarray:
    """Parkinson range volatility: sqrt(mean(ln(high/low)^2) / (4 ln 2))."""
    h, lo = c.inputs(high=high, low=low)
    c.positive("high", h)
    c.positive("low", lo)
    return c.run(_hv_parkinson, (h, lo), 1,
                 (c.period("timeperiod", timeperiod, 1), _scale(periods_per_year)))


def hv_garman_klass(open, high, low, close, timeperiod: int = 20,  # noqa: A002
                    periods_per_year: float = 1.0) -> np.ndarray:
    """Garman-Klass volatility: sqrt(mean(0.5 ln(h/l)^2 - (2 ln 2 - 1) ln(c/o)^2)), the mean
    clamped at 0."""
    arrays = c.inputs(open=open, high=high, low=low, close=close)
    for name, a in zip(("open", "high", "low", "close"), arrays):
        c.positive(name, a)
    return c.run(_hv_garman_klass, arrays, 1,
                 (c.period("timeperiod", timeperiod, 1), _scale(periods_per_year)))


__all__ = ["trange", "atr", "natr", "keltner", "donchian", "hv_close", "hv_parkinson",
           "hv_garman_klass"]
