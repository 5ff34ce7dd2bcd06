"""Volume indicators: OBV, the accumulation/distribution line, the Chaikin oscillator,
Chaikin money flow, session VWAP and the volume profile.

Zero volume is ordinary data: it adds nothing to OBV/AD, a CMF window without volume is 0,
and VWAP is NaN until the session has traded (there is no price to average yet).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from tradecore.indicators import _core as c
from tradecore.indicators._core import NAN

NS_PER_DAY = 86_400_000_000_000
MAX_PROFILE_BINS = 10_000_000


@njit(cache=True)
def _obv(x: np.ndarray, vol: np.ndarray) -> tuple[np.ndarray, bool]:
    """OBV and the fused gap flag (c.run). The step is selected (+v, -v or 0.0), not
    branched on: price moves are coin flips to a branch predictor. Adding 0.0 leaves the
    sum as it was, so this is the branching sum exactly."""
    n = x.size
    out = np.empty(n)
    if n == 0:
        return out, True
    obv = vol[0]
    prev = x[0]
    out[0] = obv
    z = (prev + obv) * 0.0
    for i in range(1, n):
        xi = x[i]
        v = vol[i]
        z += (xi + v) * 0.0
        step = v if xi > prev else 0.0
        step = -v if xi < prev else step
        obv += step
        out[i] = obv
        prev = xi
    return out, z == 0.0


@njit(cache=True)
def _ad(h: np.ndarray, lo: np.ndarray, cl: np.ndarray, vol: np.ndarray) -> tuple[np.ndarray, bool]:
    """The AD line and the fused gap flag (c.run).

    The flag is one fused multiply-add per bar, z = fma(u, v, z) with u = (q - b) - (a - q)
    (already computed for the line; non-finite iff one of high, low, close is, short of an
    overflow): z stays finite iff every u * v was, i.e. every input was finite. An overflow
    of absurd magnitudes only sends the series down the exact gap path (c.run), never the
    other way. Four additions and a multiply per bar before (ADOSC 1.32-1.44x -> 1.15-1.25x
    TA-Lib: the kernel is bound by floating-point operations, not latency)."""
    out = np.empty(h.size)
    ad = 0.0
    z = 0.0
    for i in range(h.size):
        a = h[i]
        b = lo[i]
        q = cl[i]
        v = vol[i]
        r = a - b
        u = (q - b) - (a - q)
        z = c.fma(u, v, z)
        if r > 0.0:
            ad += (u / r) * v
        out[i] = ad
    return out, z - z == 0.0


@njit(cache=True)
def _adosc(h, lo, cl, vol, fast: int, slow: int) -> tuple[np.ndarray, bool]:
    """TA-Lib's Chaikin oscillator: both EMAs of the AD line start at its first value (not
    at an SMA seed) and are fma(ema, 1-k, k*x), TA-Lib's FMA build's form (one fused
    operation on the loop-carried chain; streamk.ChaikinOsc does the same with C's fma);
    output from bar max(fast, slow)-1. With the fused gap flag (c.run)."""
    n = h.size
    lookback = max(fast, slow) - 1
    out = c.nan_prefixed(n, lookback)
    if n <= lookback:
        return out, False
    fk = 2.0 / (fast + 1)
    sk = 2.0 / (slow + 1)
    fk1 = 1.0 - fk
    sk1 = 1.0 - sk
    ad = 0.0  # the AD line of _ad, accumulated here rather than stored
    z = 0.0
    fe = 0.0
    se = 0.0
    for i in range(n):
        a = h[i]
        b = lo[i]
        q = cl[i]
        v = vol[i]
        r = a - b
        u = (q - b) - (a - q)
        z = c.fma(u, v, z)      # the gap flag as in _ad
        if r > 0.0:
            ad += (u / r) * v
        if i == 0:
            fe = ad
            se = ad
            continue
        fe = c.fma(fe, fk1, fk * ad)
        se = c.fma(se, sk1, sk * ad)
        if i >= lookback:
            out[i] = fe - se
    return out, z - z == 0.0


@njit(cache=True)
def _cmf(h, lo, cl, vol, p: int) -> np.ndarray:
    n = h.size
    out = np.full(n, NAN)
    mfv = np.empty(n)
    for i in range(n):
        r = h[i] - lo[i]
        mfv[i] = (((cl[i] - lo[i]) - (h[i] - cl[i])) / r) * vol[i] if r > 0.0 else 0.0
    sm = 0.0
    sv = 0.0
    traded = 0
    for i in range(n):
        sm += mfv[i]
        sv += vol[i]
        traded += vol[i] != 0.0
        if i >= p:
            sm -= mfv[i - p]
            sv -= vol[i - p]
            traded -= vol[i - p] != 0.0
        if traded == 0:
            sm = 0.0
            sv = 0.0
        if i >= p - 1:
            out[i] = sm / sv if traded > 0 else 0.0
    return out


@njit(cache=True)
def _check_sorted(ts: np.ndarray) -> int:
    for i in range(1, ts.size):
        if ts[i] <= ts[i - 1]:
            return i
    return -1


@njit(cache=True)
def _vwap(h, lo, cl, vol, ts, anchor: int) -> np.ndarray:
    n = h.size
    out = np.full(n, NAN)
    pv = 0.0
    vv = 0.0
    session = 0
    for i in range(n):
        s = ts[i] // anchor
        if i == 0 or s != session:
            session = s
            pv = 0.0
            vv = 0.0
        tp = (h[i] + lo[i] + cl[i]) / 3.0
        pv += tp * vol[i]
        vv += vol[i]
        if vv > 0.0:
            out[i] = pv / vv
    return out


def obv(real, volume) -> np.ndarray:
    """On-balance volume, starting at the first bar's volume as TA-Lib does."""
    return c.run(_obv, c.inputs(real=real, volume=volume), 1, fused=True)


def ad(high, low, close, volume) -> np.ndarray:
    """Chaikin accumulation/distribution line."""
    return c.run(_ad, c.inputs(high=high, low=low, close=close, volume=volume), 1, fused=True)


def adosc(high, low, close, volume, fastperiod: int = 3, slowperiod: int = 10) -> np.ndarray:
    """Chaikin A/D oscillator: EMA(AD, fast) - EMA(AD, slow)."""
    arrays = c.inputs(high=high, low=low, close=close, volume=volume)
    params = (c.period("fastperiod", fastperiod), c.period("slowperiod", slowperiod))
    return c.run(_adosc, arrays, 1, params, fused=True)


def cmf(high, low, close, volume, timeperiod: int = 20) -> np.ndarray:
    """Chaikin money flow: sum(money-flow volume) / sum(volume); 0 for a window without
    volume. Not in TA-Lib."""
    arrays = c.inputs(high=high, low=low, close=close, volume=volume)
    return c.run(_cmf, arrays, 1, (c.period("timeperiod", timeperiod, 1),))


def timestamps_ns(name: str, ts: object, n: int) -> np.ndarray:
    """int64 ns timestamps, strictly increasing, one per bar; ValueError otherwise."""
    a = np.asarray(ts)
    if a.ndim != 1 or a.size != n:
        raise ValueError(f"{name} must be 1-D with one timestamp per bar ({n}), got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be integer ns since the epoch, got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.int64)
    bad = _check_sorted(a)
    if bad >= 0:
        raise ValueError(f"{name} must be strictly increasing: {name}[{bad}]={a[bad]} follows "
                         f"{name}[{bad - 1}]={a[bad - 1]}")
    return a


def vwap(high, low, close, volume, timestamps, anchor_ns: int = NS_PER_DAY) -> np.ndarray:
    """Volume-weighted average typical price since the start of the session, sessions being
    the intervals ``[k*anchor_ns, (k+1)*anchor_ns)`` of ``timestamps`` (UTC days by default).
    Not in TA-Lib."""
    arrays = c.inputs(high=high, low=low, close=close, volume=volume)
    ts = timestamps_ns("timestamps", timestamps, arrays[0].size)
    anchor = c.period("anchor_ns", anchor_ns, 1, 2**62)
    return c.run(_vwap, arrays, 1, (anchor,), aux=(ts,))


@njit(cache=True)
def _profile(x: np.ndarray, vol: np.ndarray, width: float):
    n = x.size
    keys = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if np.isfinite(x[i]) and np.isfinite(vol[i]):
            keys[m] = np.int64(np.floor(x[i] / width))
            m += 1
    if m == 0:
        return np.empty(0), np.empty(0)
    lo = keys[:m].min()
    hi = keys[:m].max()
    acc = np.zeros(hi - lo + 1)
    m = 0
    for i in range(n):
        if np.isfinite(x[i]) and np.isfinite(vol[i]):
            acc[keys[m] - lo] += vol[i]
            m += 1
    levels = (np.arange(lo, hi + 1) * width)
    return levels, acc


def volume_profile(real, volume, bin_width: float) -> tuple[np.ndarray, np.ndarray]:
    """Volume traded per price bin [k*bin_width, (k+1)*bin_width) of ``real``: (bin lower
    edges, volumes), every bin from the lowest to the highest price present (empty bins 0).
    An aggregate, not a series; rows with a non-finite value are left out. Not in TA-Lib."""
    x, v = c.inputs(real=real, volume=volume)
    w = c.real("bin_width", bin_width, 0.0, lo_open=True)
    finite = x[np.isfinite(x)]
    if finite.size and (finite.max() - finite.min()) / w > MAX_PROFILE_BINS:
        raise ValueError(f"bin_width={w} makes more than {MAX_PROFILE_BINS} bins for the price "
                         f"range {finite.min()}..{finite.max()}")
    return _profile(x, v, w)


__all__ = ["obv", "ad", "adosc", "cmf", "vwap", "volume_profile"]
