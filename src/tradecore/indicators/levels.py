"""Support and resistance: pivot points, fractal swings, clustered levels, volume profile.

Every function here is causal as returned: a value placed at bar i is computed only from bars
<= i. Where a definition needs later bars (a fractal needs n bars after its peak), the value is
placed at the bar where it becomes known, never at the peak itself.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

PIVOT_KINDS = ("classic", "fibonacci", "camarilla")
PIVOT_NAMES = {
    "classic": ("p", "r1", "r2", "r3", "s1", "s2", "s3"),
    "fibonacci": ("p", "r1", "r2", "r3", "s1", "s2", "s3"),
    "camarilla": ("p", "r1", "r2", "r3", "r4", "s1", "s2", "s3", "s4"),
}


def _f64(name: str, x) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {a.shape}")
    return a


def _same_len(**arrays: np.ndarray) -> int:
    lens = {k: v.shape[0] for k, v in arrays.items()}
    if len(set(lens.values())) > 1:
        raise ValueError(f"arrays must have the same length, got {lens}")
    return next(iter(lens.values()))


# -- pivots ------------------------------------------------------------------------------------

@njit(cache=True)
def _pivot_levels(kind, h, l, c, out):
    """out[j, :] = the levels of (h[j], l[j], c[j]); kind 0 classic, 1 fibonacci, 2 camarilla."""
    for j in range(h.shape[0]):
        H, L, C = h[j], l[j], c[j]
        p = (H + L + C) / 3.0
        r = H - L
        out[j, 0] = p
        if kind == 0:
            out[j, 1] = 2.0 * p - L
            out[j, 2] = p + r
            out[j, 3] = H + 2.0 * (p - L)
            out[j, 4] = 2.0 * p - H
            out[j, 5] = p - r
            out[j, 6] = L - 2.0 * (H - p)
        elif kind == 1:
            out[j, 1] = p + 0.382 * r
            out[j, 2] = p + 0.618 * r
            out[j, 3] = p + r
            out[j, 4] = p - 0.382 * r
            out[j, 5] = p - 0.618 * r
            out[j, 6] = p - r
        else:
            out[j, 1] = C + r * 1.1 / 12.0
            out[j, 2] = C + r * 1.1 / 6.0
            out[j, 3] = C + r * 1.1 / 4.0
            out[j, 4] = C + r * 1.1 / 2.0
            out[j, 5] = C - r * 1.1 / 12.0
            out[j, 6] = C - r * 1.1 / 6.0
            out[j, 7] = C - r * 1.1 / 4.0
            out[j, 8] = C - r * 1.1 / 2.0


def _kind_index(kind: str) -> int:
    if kind not in PIVOT_KINDS:
        raise ValueError(f"pivot kind must be one of {PIVOT_KINDS}, got {kind!r}")
    return PIVOT_KINDS.index(kind)


def pivots(high, low, close, kind: str = "classic") -> dict[str, np.ndarray]:
    """Pivot levels of each bar from the PREVIOUS bar's high H, low L and close C (row 0 is NaN).

    With P = (H + L + C) / 3 and R = H - L:
      classic:   R1 = 2P - L, R2 = P + R, R3 = H + 2(P - L); S1 = 2P - H, S2 = P - R,
                 S3 = L - 2(H - P)
      fibonacci: R1/R2/R3 = P + 0.382R / 0.618R / 1.0R; S1/S2/S3 = P - the same
      camarilla: R1..R4 = C + 1.1R/12, /6, /4, /2; S1..S4 = C - the same; P as above.
    Feed daily bars for the usual daily pivots, or use `period_pivots` on intraday bars.
    """
    k = _kind_index(kind)
    h, l, c = _f64("high", high), _f64("low", low), _f64("close", close)
    n = _same_len(high=h, low=l, close=c)
    names = PIVOT_NAMES[kind]
    lv = np.full((n, len(names)), np.nan)
    if n > 1:
        _pivot_levels(k, h[:-1], l[:-1], c[:-1], lv[1:])
    return {nm: lv[:, j].copy() for j, nm in enumerate(names)}


@njit(cache=True)
def _period_hlc(ts, h, l, c, period):
    """Per bar, the high/low/close of the last COMPLETED period (NaN until one completes)."""
    n = ts.shape[0]
    ph = np.full(n, np.nan)
    pl = np.full(n, np.nan)
    pc = np.full(n, np.nan)
    cur = -1
    ch = 0.0
    cl = 0.0
    cc = 0.0
    lh = np.nan
    ll = np.nan
    lc = np.nan
    for i in range(n):
        pid = ts[i] // period
        if pid != cur:
            if cur != -1:
                lh, ll, lc = ch, cl, cc
            cur = pid
            ch, cl = h[i], l[i]
        else:
            ch = max(ch, h[i])
            cl = min(cl, l[i])
        cc = c[i]
        ph[i], pl[i], pc[i] = lh, ll, lc
    return ph, pl, pc


def period_pivots(ts_ns, high, low, close, kind: str = "classic",
                  period_ns: int = 86_400_000_000_000) -> dict[str, np.ndarray]:
    """Pivot levels on intraday bars from the previous completed period (default: the previous
    UTC day, periods aligned to the epoch). A bar sees only periods that ended before it began,
    so its levels never depend on its own or later bars. NaN during the first period."""
    k = _kind_index(kind)
    if period_ns <= 0:
        raise ValueError(f"period_ns must be > 0, got {period_ns}")
    ts = np.ascontiguousarray(ts_ns, dtype=np.int64)
    h, l, c = _f64("high", high), _f64("low", low), _f64("close", close)
    n = _same_len(ts_ns=ts, high=h, low=l, close=c)
    if n > 1 and np.any(np.diff(ts) < 0):
        raise ValueError("ts_ns must be non-decreasing")
    ph, pl, pc = _period_hlc(ts, h, l, c, np.int64(period_ns))
    names = PIVOT_NAMES[kind]
    lv = np.empty((n, len(names)))
    _pivot_levels(k, ph, pl, pc, lv)
    return {nm: lv[:, j].copy() for j, nm in enumerate(names)}


# -- fractals ----------------------------------------------------------------------------------

@njit(cache=True)
def _fractals(h, l, n):
    m = h.shape[0]
    up = np.full(m, np.nan)
    down = np.full(m, np.nan)
    for i in range(2 * n, m):
        j = i - n  # candidate peak, confirmed at bar i
        is_up = True
        is_dn = True
        for k in range(1, n + 1):
            if not (h[j] > h[j - k] and h[j] > h[j + k]):
                is_up = False
            if not (l[j] < l[j - k] and l[j] < l[j + k]):
                is_dn = False
        if is_up:
            up[i] = h[j]
        if is_dn:
            down[i] = l[j]
    return up, down


def fractals(high, low, n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Bill Williams fractals: a swing high at bar j when high[j] is strictly greater than the
    highs of the n bars before AND the n bars after it (swing low: low[j] strictly below).

    Look-ahead: the swing at j is only known once bar j + n has closed, so it is returned at bar
    i = j + n (`up[i] = high[i - n]`), NaN elsewhere. Never read `up` shifted back by n in a
    feature: that is the future leaking in.
    """
    if n < 1:
        raise ValueError(f"n (bars each side) must be >= 1, got {n}")
    h, l = _f64("high", high), _f64("low", low)
    _same_len(high=h, low=l)
    return _fractals(h, l, n)


# -- clustered levels ---------------------------------------------------------------------------

LEVEL_DTYPE = np.dtype([("price", "f8"), ("touches", "i8"), ("strength", "f8"),
                        ("first_bar", "i8"), ("last_bar", "i8"), ("highs", "i8"),
                        ("lows", "i8")])


@njit(cache=True)
def _cluster(prices, bars, is_high, tol, last_bar, halflife):
    """Greedy 1-D clustering of sorted swing prices: a point joins the current cluster when it
    lies within tol * cluster mean of the mean, else it opens a new cluster."""
    order = np.argsort(prices, kind="mergesort")
    m = prices.shape[0]
    price = np.empty(m)
    touches = np.zeros(m, np.int64)
    strength = np.zeros(m)
    first = np.empty(m, np.int64)
    last = np.empty(m, np.int64)
    highs = np.zeros(m, np.int64)
    lows = np.zeros(m, np.int64)
    total = np.zeros(m)
    nc = -1
    for r in range(m):
        q = order[r]
        x = prices[q]
        if nc < 0 or abs(x - total[nc] / touches[nc]) > tol * (total[nc] / touches[nc]):
            nc += 1
            first[nc] = bars[q]
            last[nc] = bars[q]
        total[nc] += x
        touches[nc] += 1
        first[nc] = min(first[nc], bars[q])
        last[nc] = max(last[nc], bars[q])
        strength[nc] += 0.5 ** ((last_bar - bars[q]) / halflife)
        if is_high[q]:
            highs[nc] += 1
        else:
            lows[nc] += 1
    nc += 1
    for k in range(nc):
        price[k] = total[k] / touches[k]
    return price[:nc], touches[:nc], strength[:nc], first[:nc], last[:nc], highs[:nc], lows[:nc]


def cluster_levels(high, low, n: int = 2, tolerance: float = 0.002, min_touches: int = 2,
                   halflife: float = 500.0) -> np.ndarray:
    """Support/resistance levels from clustered swing points, strongest first.

    Definition:
      * swing points: the fractal highs and lows of `fractals(high, low, n)`, each dated at its
        peak bar j (known at j + n; every point here is confirmed by the last bar);
      * clusters: the swing prices sorted ascending; each joins the current cluster when it is
        within `tolerance` (a fraction, 0.002 = 0.2 %) of the cluster's running mean price, else
        it starts a new cluster;
      * price: the mean of the cluster's swing prices;
      * touches: the number of swing points in the cluster (highs + lows: a level that was
        resistance and later support counts both);
      * strength: the recency-weighted touch count, sum over touches of
        0.5 ** ((last bar - touch bar) / halflife): each touch counts 1 when fresh and half
        after `halflife` bars.
    Only clusters with touches >= min_touches are returned, as a LEVEL_DTYPE array sorted by
    strength (descending).
    """
    if n < 1:
        raise ValueError(f"n (bars each side) must be >= 1, got {n}")
    if not (tolerance >= 0.0):
        raise ValueError(f"tolerance must be >= 0 (a fraction of price), got {tolerance}")
    if min_touches < 1:
        raise ValueError(f"min_touches must be >= 1, got {min_touches}")
    if not (halflife > 0.0):
        raise ValueError(f"halflife must be > 0 bars, got {halflife}")
    h, l = _f64("high", high), _f64("low", low)
    m = _same_len(high=h, low=l)
    up, down = _fractals(h, l, n)
    iu = np.nonzero(~np.isnan(up))[0]
    idn = np.nonzero(~np.isnan(down))[0]
    prices = np.concatenate([up[iu], down[idn]])
    bars = np.concatenate([iu - n, idn - n]).astype(np.int64)
    is_high = np.concatenate([np.ones(len(iu), np.bool_), np.zeros(len(idn), np.bool_)])
    out = np.zeros(0, dtype=LEVEL_DTYPE)
    if prices.size == 0:
        return out
    cols = _cluster(prices, bars, is_high, float(tolerance), np.int64(m - 1), float(halflife))
    out = np.zeros(cols[0].shape[0], dtype=LEVEL_DTYPE)
    for name, col in zip(LEVEL_DTYPE.names, cols):
        out[name] = col
    out = out[out["touches"] >= min_touches]
    return out[np.argsort(-out["strength"], kind="mergesort")]


# -- volume profile -----------------------------------------------------------------------------

class VolumeProfile(NamedTuple):
    poc: float            # point of control: centre of the bin with the most volume
    val: float            # value area low (bottom edge of its lowest bin)
    vah: float            # value area high (top edge of its highest bin)
    edges: np.ndarray     # bin edges, len(hist) + 1
    hist: np.ndarray      # volume per price bin


@njit(cache=True)
def _profile(h, l, v, lo, width, bins):
    hist = np.zeros(bins)
    for i in range(h.shape[0]):
        if v[i] <= 0.0:
            continue
        a = (l[i] - lo) / width
        b = (h[i] - lo) / width
        if b - a <= 0.0:       # a bar with no range: all its volume at its price
            if a < 0.0 or a > bins:
                continue
            hist[min(int(a), bins - 1)] += v[i]
            continue
        ka = min(max(int(a), 0), bins - 1)
        kb = min(max(int(b), 0), bins - 1)
        for k in range(ka, kb + 1):
            ov = min(b, k + 1.0) - max(a, float(k))  # the bar's range inside bin k
            if ov > 0.0:
                hist[k] += v[i] * ov / (b - a)
    return hist


@njit(cache=True)
def _value_area(hist, share):
    """Expand from the POC bin to the neighbour with more volume until `share` of the total is
    inside (ties go up)."""
    poc = int(np.argmax(hist))
    total = hist.sum()
    lo = poc
    hi = poc
    acc = hist[poc]
    nb = hist.shape[0]
    while acc < share * total and (lo > 0 or hi < nb - 1):
        up = hist[hi + 1] if hi < nb - 1 else -1.0
        dn = hist[lo - 1] if lo > 0 else -1.0
        if up >= dn:
            hi += 1
            acc += up
        else:
            lo -= 1
            acc += dn
    return poc, lo, hi


def volume_profile(high, low, volume, bins: int = 50, value_area: float = 0.70,
                   price_range: tuple[float, float] | None = None) -> VolumeProfile:
    """Volume by price over the given bars.

    Each bar's volume is spread uniformly over its [low, high] range across `bins` equal price
    bins spanning [min low, max high] (or `price_range`: volume outside it is dropped); a bar
    with high == low puts all its volume in its price's bin. POC (point of control) is the
    centre of the bin with the most volume (the lowest such bin on ties). The value area is
    grown from the POC bin, one bin at a time toward the neighbour with more volume (up on
    ties), until it holds >= `value_area` of the total volume; VAL/VAH are its lower/upper bin
    edges.
    """
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if not (0.0 < value_area <= 1.0):
        raise ValueError(f"value_area must be in (0, 1], got {value_area}")
    h, l, v = _f64("high", high), _f64("low", low), _f64("volume", volume)
    n = _same_len(high=h, low=l, volume=v)
    if n == 0:
        raise ValueError("volume_profile needs at least one bar")
    if np.any(h < l):
        raise ValueError(f"high < low at bars {np.nonzero(h < l)[0][:5].tolist()}")
    lo, hi = (float(l.min()), float(h.max())) if price_range is None else price_range
    if not hi > lo:
        hi = lo + 1.0  # all bars at one price: one bin holds everything
    width = (hi - lo) / bins
    edges = lo + width * np.arange(bins + 1)
    hist = _profile(h, l, v, lo, width, bins)
    if hist.sum() <= 0.0:
        raise ValueError("the bars have no volume: a volume profile is undefined")
    poc, a, b = _value_area(hist, value_area)
    return VolumeProfile(poc=float(edges[poc] + width / 2), val=float(edges[a]),
                         vah=float(edges[b + 1]), edges=edges, hist=hist)
