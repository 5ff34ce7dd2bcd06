"""Shared machinery of the batch indicators: input validation, the NaN-gap runner and the
primitive Numba kernels (moving averages, rolling extremes, rolling moments) the families
compose.

Design decisions (see docs/indicators.md):

* A non-finite input (NaN or inf) is a *gap*. The indicator restarts after it: the output is
  NaN at the gap and through a fresh warm-up after it, exactly as if the data after the gap
  were a new series. TA-Lib instead lets one NaN poison every later value of a recursive
  indicator. The streaming objects do the same (a non-finite input resets them).
* Primitive kernels skip the leading NaN of their input: that is the warm-up of an upstream
  kernel (the EMA of an EMA starts where the first EMA becomes valid), never a gap, because
  gaps are cut out by :func:`run` before any kernel sees the data.
* Rolling variance and regression sums are kept on values shifted by an anchor and are
  recomputed exactly from the window every ``timeperiod`` bars (amortised O(1)); a window
  whose values are all equal gives exactly 0 (an exact integer count of changes, not a float
  comparison of a drifting sum).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

MAX_PERIOD = 100_000
NAN = np.nan
# A high-low range (or deviation) below this fraction of the price is rounding noise of
# equal inputs, not a range: prices are decimals, and no tick is 1e-12 of its price. The
# oscillators that divide by a range treat such a window as having none (0, as TA-Lib).
NOISE_RTOL = 1e-12


@intrinsic
def _llvm_fma(typingctx, a, b, addend):
    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        f = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(f, args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@njit(cache=True, inline="always")
def fma(a: float, b: float, addend: float) -> float:
    """``a * b + addend`` rounded once (IEEE 754 fusedMultiplyAdd): one instruction on a CPU
    with FMA (LLVM's ``llvm.fma``; a correctly rounded libm call elsewhere), so the result
    does not depend on the CPU. Used in the loop-carried recurrences (EMA, Wilder's ATR,
    ADOSC): one fused instruction on the chain instead of a multiply and an add, as TA-Lib's
    own FMA build does. The streaming twins use C's ``fma`` (``_fast/streamk``), which is
    the same correctly rounded operation, so streaming = batch stays exact."""
    return _llvm_fma(a, b, addend)


# -- validation -----------------------------------------------------------------------------

def series(name: str, values: object) -> np.ndarray:
    """`values` as a contiguous 1-D float64 array, or ValueError naming the argument."""
    try:
        a = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, could not convert to float64: {exc}") from None
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    return np.ascontiguousarray(a)


def inputs(**named: object) -> tuple[np.ndarray, ...]:
    """Validated float64 series of one common length, in the order given."""
    arrays = tuple(series(k, v) for k, v in named.items())
    names = list(named)
    for k, a in zip(names[1:], arrays[1:]):
        if a.size != arrays[0].size:
            raise ValueError(f"{k} has length {a.size} but {names[0]} has length "
                             f"{arrays[0].size}: all inputs must have the same length")
    return arrays


def period(name: str, value: object, lo: int = 2, hi: int = MAX_PERIOD) -> int:
    """An integer parameter in [lo, hi] (TA-Lib's ranges), or ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def real(name: str, value: object, lo: float = 0.0, hi: float = 3.0e37,
         lo_open: bool = False) -> float:
    """A finite float parameter in [lo, hi] (or (lo, hi] when lo_open), or ValueError."""
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v > hi or v < lo or (lo_open and v == lo):
        interval = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return v


def matype(name: str, value: object) -> int:
    """0 (SMA) or 1 (EMA): the TA-Lib moving-average types this package implements."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value not in (0, 1):
        raise ValueError(f"{name} must be 0 (SMA) or 1 (EMA), got {value!r}; TA-Lib's other "
                         f"MA types are not implemented")
    return int(value)


def positive(name: str, a: np.ndarray) -> None:
    """Log-based indicators need prices > 0 (non-finite values are gaps, not errors)."""
    bad = _first_nonpositive(a)
    if bad >= 0:
        raise ValueError(f"{name} must be > 0 where finite (logarithms), got {a[bad]!r} "
                         f"at index {bad}")


# -- NaN-gap runner -------------------------------------------------------------------------

@njit(cache=True)
def _first_nonpositive(a: np.ndarray) -> int:
    for i in range(a.size):
        if np.isfinite(a[i]) and a[i] <= 0.0:
            return i
    return -1


@njit(cache=True)
def _runs(ok: np.ndarray) -> np.ndarray:
    """[start, end) pairs of the maximal runs of True."""
    out = np.empty((ok.size // 2 + 1, 2), dtype=np.int64)
    k = 0
    i = 0
    n = ok.size
    while i < n:
        if ok[i]:
            j = i
            while j < n and ok[j]:
                j += 1
            out[k, 0] = i
            out[k, 1] = j
            k += 1
            i = j
        else:
            i += 1
    return out[:k]


def run(impl: Callable[..., object], arrays: Sequence[np.ndarray], n_out: int,
        params: Sequence[object] = (), aux: Sequence[np.ndarray] = (), fused: bool = False):
    """Apply ``impl(*arrays, *aux, *params)`` to every gap-free run of rows (all ``arrays``
    finite); NaN elsewhere. The common case (no gap) is one call on the whole arrays.

    A *fused* kernel returns its outputs followed by a flag, True when every input it read
    was finite: the gap test rides along in the kernel's own pass (a separate pass costs
    as much as a whole memory-bound indicator), and only a False flag sends the arrays down
    the gap path below, where the flag is dropped."""
    if fused:
        res = impl(*arrays, *aux, *params)
        if res[-1]:
            return res[0] if n_out == 1 else res[:-1]
    # Unfused: a sum is finite only if every term is (numpy's SIMD sum reads the array at
    # memory speed, about twice as fast as a scalar finiteness loop); a sum that overflows
    # on finite data only sends us down the exact path below, which then finds no gap.
    elif all(np.isfinite(np.add.reduce(a)) for a in arrays):
        return impl(*arrays, *aux, *params)
    n = arrays[0].size
    ok = np.ones(n, dtype=np.bool_)
    for a in arrays:
        ok &= np.isfinite(a)
    outs = [np.full(n, NAN) for _ in range(n_out)]
    for s, e in _runs(ok):
        res = impl(*(a[s:e] for a in arrays), *(x[s:e] for x in aux), *params)
        if fused:
            res = res[0] if n_out == 1 else res[:-1]
        if n_out == 1:
            outs[0][s:e] = res
        else:
            for o, r in zip(outs, res):
                o[s:e] = r
    return outs[0] if n_out == 1 else tuple(outs)


@njit(cache=True, nogil=True, boundscheck=False)
def finite_upto(x: np.ndarray, k: int) -> bool:
    """Every x[:k] finite (x - x is 0.0 for a finite float, NaN otherwise): the part of a
    fused kernel's gap test its main loop does not cover (the warm-up bars)."""
    z = 0.0
    for i in range(min(k, x.size)):
        z += x[i] - x[i]
    return z == 0.0


# -- primitive kernels ----------------------------------------------------------------------

@njit(cache=True)
def nan_prefixed(n: int, k: int) -> np.ndarray:
    """An uninitialised array of n whose first k slots (the warm-up) are NaN: the kernels
    write every later slot, and filling all n with NaN first would cost a second pass."""
    out = np.empty(n)
    out[:max(0, min(n, k))] = NAN
    return out


@njit(cache=True)
def first_valid(x: np.ndarray) -> int:
    for i in range(x.size):
        if not np.isnan(x[i]):
            return i
    return x.size


@njit(cache=True)
def window_sum(x: np.ndarray, p: int, mean: bool) -> tuple[np.ndarray, bool]:
    """TA-Lib's running window sum (add the new value, emit, subtract the trailing one),
    times 1/p when ``mean`` (the SMA; TA-Lib's build evidently does the same: its SMA costs
    what its SUM costs), and the fused gap flag (see :func:`run`).

    The sum is recomputed exactly from the window every ``p`` bars, so that a huge value or
    a long history leaves no residue (a window of zeros averages to exactly 0). The loop
    runs block by block (no per-bar countdown branch), and the recomputed sum is
    accumulated as the block's values arrive (``block``, in the same order as a loop over
    the window, so the same float) on a dependency chain of its own. The gap flag costs no
    pass of its own either: every value enters exactly one recomputed sum (or the last,
    partial block), so they are all finite iff those sums are."""
    s = first_valid(x)
    out = nan_prefixed(x.size, s + p - 1)
    if x.size - s < p:
        return out, False
    # one inlined copy per flag value (no run-time flag inside the loop), on views from the
    # first value (the trailing value is read through a view too: Numba guards a computed
    # index against negative values); measured SUM 1.0x -> 0.75x TA-Lib, same arithmetic
    if mean:
        ok = _window_sum_into(x[s:], p, out[s:], True)
    else:
        ok = _window_sum_into(x[s:], p, out[s:], False)
    return out, s == 0 and ok


@njit(cache=True, inline="always")
def _window_sum_into(x: np.ndarray, p: int, out: np.ndarray, mean: bool) -> bool:
    n = x.size
    inv = 1.0 / p    # the mean multiplies by 1/p: a divide per bar was 40% of SMA's time
    total = 0.0
    for j in range(p):
        total += x[j]
    z = 0.0
    i = p - 1
    while i < n:
        e = min(i + p, n)         # the next exact recomputation is at bar e
        z += total - total
        out[i] = total * inv if mean else total
        xo = x[i - p + 1:]        # the trailing values of bars i, i+1, ...
        total -= xo[0]
        block = 0.0
        for k in range(i + 1, e):
            v = x[k]
            block += v
            total += v
            out[k] = total * inv if mean else total
            total -= xo[k - i]
        if e < n:
            total = block + x[e]  # = the sum of x[e-p+1..e], oldest first
        else:
            z += block - block
        i = e
    return z == 0.0


@njit(cache=True)
def sma(x: np.ndarray, p: int) -> np.ndarray:
    """Simple moving average (:func:`window_sum` / p); leading NaN are an upstream warm-up."""
    return window_sum(x, p, True)[0]


@njit(cache=True)
def ema_fused(x: np.ndarray, p: int, k: float, skip: int) -> tuple[np.ndarray, bool]:
    """EMA seeded with the SMA of the ``p`` values ending ``skip`` bars after the earliest
    possible seed (TA-Lib's MACD seeds its fast EMA late, with skip = slow - fast), and the
    fused gap flag (see :func:`run`)."""
    n = x.size
    s = first_valid(x)
    first = s + p - 1 + skip
    out = nan_prefixed(n, first)
    if first >= n:
        return out, False
    total = 0.0
    for i in range(first - p + 1, first + 1):
        total += x[i]
    prev = total / p
    out[first] = prev
    z = 0.0
    for i in range(first + 1, n):
        v = x[i]
        z += v - v
        prev = fma(v - prev, k, prev)
        out[i] = prev
    return out, s == 0 and z == 0.0 and finite_upto(x, first + 1)


@njit(cache=True)
def ema(x: np.ndarray, p: int, k: float, skip: int) -> np.ndarray:
    """:func:`ema_fused` without the flag (leading NaN are an upstream warm-up)."""
    return ema_fused(x, p, k, skip)[0]


@njit(cache=True)
def ema_cascade(x: np.ndarray, p: int, k: float, levels: int, mode: int,
                coef: np.ndarray) -> tuple[np.ndarray, bool]:
    """``levels`` chained EMAs (each seeded with the SMA of its first ``p`` inputs, exactly as
    :func:`ema` chained) in one pass, combined per bar: mode 0 DEMA, 1 TEMA, 2 T3 (``coef``
    c1..c4), 3 TRIX; and the fused gap flag (see :func:`run`). One read of the input and
    one output instead of one array per level.

    The warm-up (until the last level is seeded) runs a generic loop over the levels; after
    it, one loop per mode keeps every level in a local variable, so the levels' recurrences
    overlap from bar to bar and a bar costs about one EMA's latency, not ``levels`` of them."""
    n = x.size
    out = np.full(n, NAN)
    e = np.zeros(6)            # current value of each level
    cnt = np.zeros(levels, dtype=np.int64)
    buf = np.empty((levels, p))
    prev_trix = NAN
    ok = True
    i = 0
    while i < n:
        v = x[i]
        ok &= v - v == 0.0
        ready = True
        for j in range(levels):
            c_ = cnt[j]
            if c_ >= p:
                e[j] = fma(v - e[j], k, e[j])
            else:
                buf[j, c_] = v
                cnt[j] = c_ + 1
                if c_ + 1 < p:
                    ready = False
                    break
                t = 0.0
                for q in range(p):
                    t += buf[j, q]
                e[j] = t / p
            v = e[j]  # the next level's input: this level's value of this bar
        i += 1
        if not ready:
            continue
        if mode == 0:
            out[i - 1] = 2.0 * e[0] - e[1]
        elif mode == 1:
            out[i - 1] = 3.0 * e[0] - 3.0 * e[1] + e[2]
        elif mode == 2:
            out[i - 1] = coef[0] * e[5] + coef[1] * e[4] + coef[2] * e[3] + coef[3] * e[2]
        else:
            b = prev_trix
            prev_trix = e[2]
            if b == b:
                out[i - 1] = ((e[2] / b) - 1.0) * 100.0 if b != 0.0 else 0.0
        if cnt[levels - 1] >= p and (mode != 3 or prev_trix == prev_trix):
            break              # every level is seeded: the steady loops below take over
    e0, e1, e2, e3, e4, e5 = e[0], e[1], e[2], e[3], e[4], e[5]
    z = 0.0
    if mode == 0:
        for t in range(i, n):
            v = x[t]
            z += v - v
            e0 = fma(v - e0, k, e0)
            e1 = fma(e0 - e1, k, e1)
            out[t] = 2.0 * e0 - e1
    elif mode == 1:
        for t in range(i, n):
            v = x[t]
            z += v - v
            e0 = fma(v - e0, k, e0)
            e1 = fma(e0 - e1, k, e1)
            e2 = fma(e1 - e2, k, e2)
            out[t] = 3.0 * e0 - 3.0 * e1 + e2
    elif mode == 2:
        c0, c1, c2, c3 = coef[0], coef[1], coef[2], coef[3]
        for t in range(i, n):
            v = x[t]
            z += v - v
            e0 = fma(v - e0, k, e0)
            e1 = fma(e0 - e1, k, e1)
            e2 = fma(e1 - e2, k, e2)
            e3 = fma(e2 - e3, k, e3)
            e4 = fma(e3 - e4, k, e4)
            e5 = fma(e4 - e5, k, e5)
            out[t] = c0 * e5 + c1 * e4 + c2 * e3 + c3 * e2
    else:
        for t in range(i, n):
            v = x[t]
            z += v - v
            e0 = fma(v - e0, k, e0)
            e1 = fma(e0 - e1, k, e1)
            b = e2
            e2 = fma(e1 - e2, k, e2)
            out[t] = ((e2 / b) - 1.0) * 100.0 if b != 0.0 else 0.0
    return out, ok and z == 0.0


@njit(cache=True)
def wma_fused(x: np.ndarray, p: int) -> tuple[np.ndarray, bool]:
    """TA-Lib's WMA (weights 1..p kept as a running weighted sum and a running plain sum),
    and the fused gap flag (see :func:`run`).

    Each running sum takes one addition per bar on its loop-carried chain: the plain sum
    adds ``v - trailing`` and the weighted one ``v*p - plain``, each formed off the chain
    (TA-Lib adds and subtracts in two steps, twice the latency; the values agree to
    ~1e-15). The streaming Wma does the same operations."""
    n = x.size
    s = first_valid(x)
    out = nan_prefixed(n, s + p - 1)
    if n - s < p:
        return out, False
    divider = (p * (p + 1)) // 2
    period_sub = 0.0
    period_sum = 0.0
    for j in range(p - 1):
        v = x[s + j]
        period_sub += v
        period_sum += v * (j + 1)
    z = 0.0
    trailing_value = 0.0
    cur = x[s + p - 1:]
    trail = x[s:]
    o = out[s + p - 1:]
    for j in range(n - s - p + 1):
        v = cur[j]
        z += v - v
        period_sub += v - trailing_value
        trailing_value = trail[j]
        vp = v * p
        o[j] = (period_sum + vp) / divider
        period_sum += vp - period_sub
    return out, s == 0 and z == 0.0 and finite_upto(x, p - 1)


@njit(cache=True)
def wma(x: np.ndarray, p: int) -> np.ndarray:
    """:func:`wma_fused` without the flag (leading NaN are an upstream warm-up)."""
    return wma_fused(x, p)[0]


@njit(cache=True)
def rolling_extreme(x: np.ndarray, p: int, want_max: bool) -> tuple[np.ndarray, np.ndarray]:
    """Max (or min) of the last ``p`` values and its index (the latest one on ties).

    Used where the index matters (Aroon); values alone come from the faster, always O(1)
    :func:`rolling_max` / :func:`rolling_min`. TA-Lib's scheme: keep the extreme and its
    index, rescan the window only when the extreme leaves it (measured faster here than a
    monotonic deque, whose branches do not predict); a strictly monotone run costs O(p) per
    bar, as in TA-Lib. The streaming objects use a monotonic deque (O(1) amortised); values
    and indices agree (tests).
    """
    if want_max:
        return _rolling_max(x, p)
    return _rolling_min(x, p)


@njit(cache=True, inline="always")
def _block_max(x: np.ndarray, p: int, out: np.ndarray) -> bool:
    """Rolling max of x (no NaN before its first value) into out[p-1:], by van Herk /
    Gil-Werman, the scheme of TA-Lib 0.6's MAX and MIN: cut the series into blocks of p;
    the window ending at b0+k (k < p-1) is the suffix of the previous block from k+1 plus
    the prefix of the current block up to k, and the one ending at a block's last bar is
    the whole block. Three comparisons per bar whatever the data, no unpredictable branch,
    two p-sized scratch buffers. Returns True when every x was finite.

    Inlined into its callers on purpose (measured): there ``out`` is a fresh allocation
    that LLVM knows aliases nothing, and the combining loop vectorises (MAX 2.3 -> 1.6 ms);
    the direction is a kernel of its own because a run-time flag in the loops cost as much."""
    n = x.size
    suf = np.empty(p)  # suffix extremes of the previous block
    pre = np.empty(p)  # prefix extremes of the current block
    zz = 0.0           # the fused gap flag (see run): one short chain per block
    for b0 in range(0, n, p):
        e = min(b0 + p, n)
        m_ = e - b0
        m = x[b0]
        z = 0.0
        for k in range(m_):
            v = x[b0 + k]
            z += v - v
            m = v if v > m else m
            pre[k] = m
        zz += z
        if b0 > 0:
            for k in range(min(m_, p - 1)):
                a = suf[k + 1]
                b = pre[k]
                out[b0 + k] = a if a > b else b
        if m_ == p:
            out[e - 1] = pre[p - 1]
            if e < n:
                m = x[e - 1]
                suf[p - 1] = m
                for k in range(p - 2, -1, -1):
                    v = x[b0 + k]
                    m = v if v > m else m
                    suf[k] = m
    return zz == 0.0


@njit(cache=True, inline="always")
def _block_min(x: np.ndarray, p: int, out: np.ndarray) -> bool:
    """:func:`_block_max` with every comparison reversed."""
    n = x.size
    suf = np.empty(p)  # suffix extremes of the previous block
    pre = np.empty(p)  # prefix extremes of the current block
    zz = 0.0           # the fused gap flag (see run): one short chain per block
    for b0 in range(0, n, p):
        e = min(b0 + p, n)
        m_ = e - b0
        m = x[b0]
        z = 0.0
        for k in range(m_):
            v = x[b0 + k]
            z += v - v
            m = v if v < m else m
            pre[k] = m
        zz += z
        if b0 > 0:
            for k in range(min(m_, p - 1)):
                a = suf[k + 1]
                b = pre[k]
                out[b0 + k] = a if a < b else b
        if m_ == p:
            out[e - 1] = pre[p - 1]
            if e < n:
                m = x[e - 1]
                suf[p - 1] = m
                for k in range(p - 2, -1, -1):
                    v = x[b0 + k]
                    m = v if v < m else m
                    suf[k] = m
    return zz == 0.0


@njit(cache=True)
def extreme_fused(x: np.ndarray, p: int, want_max: bool) -> tuple[np.ndarray, bool]:
    """Rolling max (or min) values from x's first value on, and the fused gap flag (see
    :func:`run`)."""
    s = first_valid(x)
    out = nan_prefixed(x.size, s + p - 1)
    if x.size - s < p:
        return out, False
    if want_max:
        ok = _block_max(x[s:], p, out[s:])
    else:
        ok = _block_min(x[s:], p, out[s:])
    return out, ok and s == 0


@njit(cache=True)
def rolling_max(x: np.ndarray, p: int) -> np.ndarray:
    """Highest of the last p values (values only; see rolling_extreme for the index)."""
    s = first_valid(x)
    out = nan_prefixed(x.size, s + p - 1)
    if x.size - s >= p:
        _block_max(x[s:], p, out[s:])
    return out


@njit(cache=True)
def rolling_min(x: np.ndarray, p: int) -> np.ndarray:
    """Lowest of the last p values."""
    s = first_valid(x)
    out = nan_prefixed(x.size, s + p - 1)
    if x.size - s >= p:
        _block_min(x[s:], p, out[s:])
    return out


@njit(cache=True, inline="always")
def _hl_osc(a: float, b: float, c: float, mode: int) -> float:
    """Stochastic %K (mode 1) or Williams %R (mode 2) of close c in the range [b, a]; a
    range below NOISE_RTOL of the price is none: 0."""
    if a - b > NOISE_RTOL * max(abs(a), abs(b)):
        if mode == 1:
            return (c - b) / ((a - b) / 100.0)
        return (a - c) / ((a - b) / -100.0)
    return 0.0


@njit(cache=True)
def high_low_window(high: np.ndarray, low: np.ndarray, close: np.ndarray, p: int,
                    mode: int) -> tuple[np.ndarray, bool]:
    """One output from the highest ``high`` and lowest ``low`` of the window, both found by
    the block scheme of :func:`_block_max` in the same pass, so only the output array is
    allocated: mode 0 the midpoint (hh+ll)/2, 1 the stochastic %K, 2 Williams %R (a range
    below NOISE_RTOL of the price is none: 0); and the fused gap flag (see :func:`run`).
    As in _block_max, each block is three short loops (prefixes, combination, suffixes) in
    this one function, where LLVM knows the fresh arrays alias nothing."""
    n0 = high.size
    s = max(first_valid(high), first_valid(low))
    out0 = nan_prefixed(n0, s + p - 1)
    if n0 - s < p:
        return out0, False
    hi = high[s:]
    lo = low[s:]
    cl = close[s:]
    out = out0[s:]
    n = hi.size
    hs = np.empty(p)
    ls = np.empty(p)
    hp = np.empty(p)
    lp = np.empty(p)
    zz = 0.0
    for b0 in range(0, n, p):
        e = min(b0 + p, n)
        m_ = e - b0
        mh = hi[b0]
        ml = lo[b0]
        z = 0.0
        for k in range(m_):
            v = hi[b0 + k]
            w = lo[b0 + k]
            z += (v + w + cl[b0 + k]) * 0.0
            mh = v if v > mh else mh
            ml = w if w < ml else ml
            hp[k] = mh
            lp[k] = ml
        zz += z
        if b0 > 0:
            # windows ending inside the block: suffix of the previous block + prefix; one
            # loop per mode, no per-bar branch on it
            kk = min(m_, p - 1)
            if mode == 0:
                for k in range(kk):
                    u = hs[k + 1]
                    v = hp[k]
                    u = u if u > v else v
                    w = ls[k + 1]
                    v = lp[k]
                    w = w if w < v else v
                    out[b0 + k] = (u + w) / 2.0
            else:
                for k in range(kk):
                    u = hs[k + 1]
                    v = hp[k]
                    u = u if u > v else v
                    w = ls[k + 1]
                    v = lp[k]
                    w = w if w < v else v
                    out[b0 + k] = _hl_osc(u, w, cl[b0 + k], mode)
        if m_ == p:
            if mode == 0:
                out[e - 1] = (hp[p - 1] + lp[p - 1]) / 2.0
            else:
                out[e - 1] = _hl_osc(hp[p - 1], lp[p - 1], cl[e - 1], mode)
        if m_ == p and e < n:
            mh = hi[e - 1]
            ml = lo[e - 1]
            hs[p - 1] = mh
            ls[p - 1] = ml
            for k in range(p - 2, -1, -1):
                v = hi[b0 + k]
                mh = v if v > mh else mh
                w = lo[b0 + k]
                ml = w if w < ml else ml
                hs[k] = mh
                ls[k] = ml
    return out0, s == 0 and zz == 0.0


@njit(cache=True)
def midpoint_window(x: np.ndarray, p: int) -> tuple[np.ndarray, bool]:
    """:func:`high_low_window`'s mode 0 over one series (MIDPOINT): the same blocks and the
    same operations, one load per bar where the three-input kernel made three of the same
    array (LLVM cannot know they alias) and a one-subtraction gap flag (measured MIDPOINT
    1.45x -> 1.2x TA-Lib)."""
    n0 = x.size
    s = first_valid(x)
    out0 = nan_prefixed(n0, s + p - 1)
    if n0 - s < p:
        return out0, False
    xs = x[s:]
    out = out0[s:]
    n = xs.size
    hs = np.empty(p)
    ls = np.empty(p)
    hp = np.empty(p)
    lp = np.empty(p)
    zz = 0.0
    for b0 in range(0, n, p):
        e = min(b0 + p, n)
        m_ = e - b0
        mh = xs[b0]
        ml = mh
        z = 0.0
        for k in range(m_):
            v = xs[b0 + k]
            z += v - v
            mh = v if v > mh else mh
            ml = v if v < ml else ml
            hp[k] = mh
            lp[k] = ml
        zz += z
        if b0 > 0:
            for k in range(min(m_, p - 1)):
                u = hs[k + 1]
                v = hp[k]
                u = u if u > v else v
                w = ls[k + 1]
                v = lp[k]
                w = w if w < v else v
                out[b0 + k] = (u + w) / 2.0
        if m_ == p:
            out[e - 1] = (hp[p - 1] + lp[p - 1]) / 2.0
            if e < n:
                mh = xs[e - 1]
                ml = mh
                hs[p - 1] = mh
                ls[p - 1] = ml
                for k in range(p - 2, -1, -1):
                    v = xs[b0 + k]
                    mh = v if v > mh else mh
                    ml = v if v < ml else ml
                    hs[k] = mh
                    ls[k] = ml
    return out0, s == 0 and zz == 0.0


@njit(cache=True)
def midprice_window(high: np.ndarray, low: np.ndarray, p: int) -> tuple[np.ndarray, bool]:
    """:func:`midpoint_window` over two series (MIDPRICE: highest high, lowest low): two
    loads per bar where :func:`high_low_window` made three (measured MIDPRICE 1.37x ->
    1.25x TA-Lib). MIDPOINT keeps its one-input copy: given the same array twice this
    measured 1.37x against its 1.2x."""
    n0 = high.size
    s = max(first_valid(high), first_valid(low))
    out0 = nan_prefixed(n0, s + p - 1)
    if n0 - s < p:
        return out0, False
    hi = high[s:]
    lo = low[s:]
    out = out0[s:]
    n = hi.size
    hs = np.empty(p)
    ls = np.empty(p)
    hp = np.empty(p)
    lp = np.empty(p)
    zz = 0.0
    for b0 in range(0, n, p):
        e = min(b0 + p, n)
        m_ = e - b0
        mh = hi[b0]
        ml = lo[b0]
        z = 0.0
        for k in range(m_):
            v = hi[b0 + k]
            w = lo[b0 + k]
            z += (v + w) * 0.0
            mh = v if v > mh else mh
            ml = w if w < ml else ml
            hp[k] = mh
            lp[k] = ml
        zz += z
        if b0 > 0:
            for k in range(min(m_, p - 1)):
                u = hs[k + 1]
                v = hp[k]
                u = u if u > v else v
                w = ls[k + 1]
                v = lp[k]
                w = w if w < v else v
                out[b0 + k] = (u + w) / 2.0
        if m_ == p:
            out[e - 1] = (hp[p - 1] + lp[p - 1]) / 2.0
            if e < n:
                mh = hi[e - 1]
                ml = lo[e - 1]
                hs[p - 1] = mh
                ls[p - 1] = ml
                for k in range(p - 2, -1, -1):
                    v = hi[b0 + k]
                    mh = v if v > mh else mh
                    w = lo[b0 + k]
                    ml = w if w < ml else ml
                    hs[k] = mh
                    ls[k] = ml
    return out0, s == 0 and zz == 0.0


@njit(cache=True)
def _rolling_max(x: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    s = first_valid(x)
    val = nan_prefixed(n, s + p - 1)
    idx = np.empty(n, dtype=np.int64)
    idx[:min(n, s + p - 1)] = -1
    best_i = -1
    best = 0.0
    for i in range(s, n):
        v = x[i]
        trailing = i - p + 1
        if best_i < trailing or best_i < s:
            best_i = max(trailing, s)
            best = x[best_i]
            for j in range(best_i + 1, i + 1):
                if x[j] >= best:
                    best = x[j]
                    best_i = j
        elif v >= best:
            best = v
            best_i = i
        if i >= s + p - 1:
            val[i] = best
            idx[i] = best_i
    return val, idx


@njit(cache=True)
def _rolling_min(x: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    n = x.size
    s = first_valid(x)
    val = nan_prefixed(n, s + p - 1)
    idx = np.empty(n, dtype=np.int64)
    idx[:min(n, s + p - 1)] = -1
    best_i = -1
    best = 0.0
    for i in range(s, n):
        v = x[i]
        trailing = i - p + 1
        if best_i < trailing or best_i < s:
            best_i = max(trailing, s)
            best = x[best_i]
            for j in range(best_i + 1, i + 1):
                if x[j] <= best:
                    best = x[j]
                    best_i = j
        elif v <= best:
            best = v
            best_i = i
        if i >= s + p - 1:
            val[i] = best
            idx[i] = best_i
    return val, idx


@njit(cache=True)
def rolling_sum(x: np.ndarray, p: int) -> np.ndarray:
    """Running window sum (:func:`window_sum`)."""
    return window_sum(x, p, False)[0]


@njit(cache=True)
def rolling_var_fused(x: np.ndarray, p: int, kind: int, scale: float) -> tuple[np.ndarray, bool]:
    """Population variance of the last ``p`` values (kind 0), or its square root times
    ``scale`` (kind 1, the standard deviation), and the fused gap flag (see :func:`run`).

    Sums of ``x - anchor`` re-anchored and recomputed exactly every ``p`` bars; exactly 0
    for a window of equal values (decided by the index of the last change, an integer). (A block loop
    as in :func:`window_sum` was measured slower here: at the default p=5 the blocks are
    too short to pay for their set-up.)"""
    n = x.size
    s = first_valid(x)
    out = nan_prefixed(n, s + p - 1)
    if n - s < p:
        return out, False
    # the means multiply by 1/p, as TA-Lib 0.6's VAR does: two divides per bar were a
    # third of the kernel (measured VAR 1.5x -> 1.43x TA-Lib); streamk.RollingVar and the
    # BBANDS kernel do the same operations
    inv = 1.0 / p
    # unsigned indices in the per-bar path: Numba wraps a signed index that may be negative
    # (a compare and a select per access; measured VAR 2.06x -> 1.52x TA-Lib)
    up = np.uint64(p)
    f = s + p - 1           # the first full window, summed here
    anchor = x[s]
    s1 = 0.0
    s2 = 0.0
    # The window is constant iff no value in it differs from its predecessor, i.e. the
    # last bar that changed (``last``) is the window's oldest bar or earlier: one compare
    # with the previous value in a register and a select per bar, instead of counting
    # changes in and out of the window (two more loads, compares and the next window's
    # count). The same test as streamk.RollingVar's count == 0, so the same outputs.
    last = s
    for j in range(s, f + 1):
        d = x[j] - anchor
        s1 += d
        s2 += d * d
        if j > s and x[j] != x[j - 1]:
            last = j
    z = s1 - s1
    m = s1 * inv
    r = s2 * inv - m * m
    out[f] = 0.0 if last <= s else (r if r > 0.0 else 0.0)
    na = x[f + 1] if f + 1 < n else 0.0   # the next window's anchor (its oldest value) and
    b1 = 0.0        # its sums so far, accumulated as its values arrive, in the order of a
    b2 = 0.0        # loop over the window: the recomputation costs no loop
    countdown = p - 1  # bars until the next exact recomputation (a modulo per bar is slow)
    pv = x[f]
    for i in range(f + 1, n):
        ui = np.uint64(i)
        v = x[ui]
        last = i if v != pv else last
        pv = v
        if countdown == 0:
            countdown = p - 1
            anchor = na
            d = v - na
            s1 = b1 + d
            s2 = b2 + d * d
            z += s1 - s1
            na = x[i + 1] if i + 1 < n else 0.0
            b1 = 0.0
            b2 = 0.0
        else:
            countdown -= 1
            w = x[ui - up]
            dn = v - anchor
            do = w - anchor
            s1 += dn - do
            s2 += dn * dn - do * do
            d = v - na
            b1 += d
            b2 += d * d
        m = s1 * inv
        r = s2 * inv - m * m
        r = r if r > 0.0 else 0.0
        out[ui] = r if last > i - p + 1 else 0.0
    if kind == 1:
        # the standard deviation in a pass of its own, which vectorises (a scalar square
        # root per bar inside the loop cost half of STDDEV's time); the same operations
        o = out[s + p - 1:]
        for j in range(o.size):
            o[j] = np.sqrt(o[j]) * scale
    return out, s == 0 and z == 0.0 and s1 - s1 == 0.0


@njit(cache=True)
def rolling_var(x: np.ndarray, p: int) -> np.ndarray:
    """Population variance of the last ``p`` values (:func:`rolling_var_fused`)."""
    return rolling_var_fused(x, p, 0, 1.0)[0]


@njit(cache=True)
def linreg_fit(x: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares line through the last ``p`` values (time 0 = oldest bar of the window):
    (slope per bar, value at the oldest bar)."""
    return linreg(x, p, 1), linreg(x, p, 2)


@njit(cache=True)
def linreg(x: np.ndarray, p: int, kind: int) -> np.ndarray:
    """:func:`linreg_fused` without the flag."""
    return linreg_fused(x, p, kind)[0]


@njit(cache=True)
def linreg_fused(x: np.ndarray, p: int, kind: int) -> tuple[np.ndarray, bool]:
    """One output of the least-squares line through the last ``p`` values: 0 its value at
    the newest bar, 1 the slope per bar, 2 its value at the oldest bar (TA-Lib's intercept),
    3 the angle atan(slope) in degrees, 4 its value one bar after the window (TA-Lib's TSF).
    Sums on anchored values, updated in O(1) and recomputed exactly every ``p`` bars; one
    output array (each fresh array costs page faults). The exact sums of the next window
    (anchored at its oldest value, added oldest first) are accumulated as its values arrive,
    on chains of their own: the recomputation costs no loop over the window (that loop was
    half the kernel's time). The streaming LinReg adds in the same order.

    ``sxy`` weights each value by its lag: 0 for the newest, p-1 for the oldest."""
    # one inlined copy of the kernel per kind: a constant kind, no per-bar branch on it
    if kind == 0:
        return _linreg_impl(x, p, 0)
    if kind == 1:
        return _linreg_impl(x, p, 1)
    if kind == 2:
        return _linreg_impl(x, p, 2)
    if kind == 3:
        return _linreg_impl(x, p, 3)
    return _linreg_impl(x, p, 4)


@njit(cache=True, inline="always")
def _linreg_impl(x: np.ndarray, p: int, kind: int) -> tuple[np.ndarray, bool]:
    n = x.size
    s = first_valid(x)
    out = nan_prefixed(n, s + p - 1)
    if n - s < p:
        return out, False
    z = 0.0       # the fused gap flag (see run): every value enters a recomputed sum
    sum_x = p * (p - 1) * 0.5
    sum_x2 = p * (p - 1) * (2.0 * p - 1.0) / 6.0
    divisor = sum_x * sum_x - p * sum_x2
    deg = 180.0 / np.pi
    anchor = x[s]
    sy = 0.0
    sxy = 0.0
    for j in range(s, s + p):          # the first window, oldest first
        d = x[j] - anchor
        sy += d
        sxy += (p - 1 - (j - s)) * d
    na = 0.0       # the next window's anchor and its sums so far
    bsy = 0.0
    bsxy = 0.0
    countdown = 0  # bars until the next exact recomputation
    for i in range(s + p - 1, n):
        if countdown == 0:
            countdown = p - 1
            if i > s + p - 1:            # the window i-p+1..i, accumulated since then
                d = x[i] - na
                sy = bsy + d
                sxy = bsxy + 0 * d
                anchor = na
            z += sy - sy
            na = x[i + 1] if i + 1 < n else 0.0
            bsy = 0.0
            bsxy = 0.0
        else:
            countdown -= 1
            v = x[i]
            dn = v - anchor
            do = x[i - p] - anchor
            sxy += sy - p * do
            sy += dn - do
            d = v - na
            bsy += d
            bsxy += (countdown + 1) * d
        m = (p * sxy - sum_x * sy) / divisor
        if kind == 1:
            out[i] = m
            continue
        if kind == 3:
            out[i] = np.arctan(m) * deg
            continue
        b = (sy - m * sum_x) / p + anchor
        if kind == 0:
            out[i] = b + m * (p - 1)
        elif kind == 2:
            out[i] = b
        else:
            out[i] = b + m * p
    return out, s == 0 and z == 0.0 and sy - sy == 0.0
