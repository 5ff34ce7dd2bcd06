"""The feature pipeline: a declarative feature set computed as one matrix (training) or one row
per bar (live), identical in both modes and never looking ahead.

A feature set is a list of families with parameters, e.g.

    FeatureSet([("returns", {"lags": [1, 5, 20]}), ("rsi", {"periods": [14]}), "patterns",
                ("book", {"levels": [1, 5]}), ("trade_flow", {"windows": [1, 20]})])

(a bare name takes the family's defaults; a dict entry {"family": "rsi", "periods": [14]} works
too). Unknown families, unknown parameters and bad values raise ValueError naming the entry, the
key and what was expected. `DEFAULT_FEATURES` gives 149 columns (`CANDLE_FEATURES`, the
same without the book and trade families, 135).

Inputs per bar (a mapping of arrays for `batch`, of scalars for `LiveFeatures.update`):
  open, high, low, close, volume                         always
  ts_ns (int64, bar open time, ns since epoch)           family "pivots"
  buy_volume, sell_volume (taker volume in the bar)      family "trade_flow" (`aggregate_trades`)
  bid_px, bid_sz, ask_px, ask_sz ([n, depth] / [depth])  family "book" (`book_levels(L2Book)`):
      the book at the bar's close, best level first

Why one code path: every family is a Numba kernel `kernel(X, ts, base, i0, i1, params, state,
out, col0)` that computes rows for absolute bars [i0, i1) from the inputs X[field, bar] (bars
held from absolute index `base` on), carrying running state (EMAs, running sums) in `state`.
`batch` calls it once over all bars; `LiveFeatures.update` calls it for the one new bar with the
state carried over and a short trailing window of inputs. Same code, same floating-point
operations in the same order: the live row equals the batch row exactly (tests check equality at
every bar, not closeness). A kernel reads only X[:, j] with j <= i for row i, so rows never use
later bars (tests perturb the inputs after bar t and check rows <= t do not move).

Values are NaN until a feature's window is full.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numba import njit

from tradecore.indicators import patterns as _pat

# fields of X (LOGC = log(close), computed once per bar so returns cost a subtraction)
O, H, L, C, V, BUY, SELL, LOGC = range(8)
BOOK0 = 8
NAN = np.nan


# -- kernels -----------------------------------------------------------------------------------
# Each: rows for absolute bars [i0, i1); local index li = i - base; out row = i - i0.

@njit(cache=True)
def _k_returns(X, ts, base, i0, i1, P, S, out, col0):
    lc = X[LOGC]
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        for j in range(P.shape[0]):
            lag = int(P[j])
            out[r, col0 + j] = lc[li] - lc[li - lag] if i >= lag else NAN


@njit(cache=True)
def _k_realized_vol(X, ts, base, i0, i1, P, S, out, col0):
    """sqrt(sum of squared 1-bar log returns over the last w bars); S[j] = running sum."""
    lc = X[LOGC]
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        ret = lc[li] - lc[li - 1] if i >= 1 else 0.0
        for j in range(P.shape[0]):
            w = int(P[j])
            if i >= 1:
                S[j] += ret * ret
            if i >= w + 1:
                old = lc[li - w] - lc[li - w - 1]
                S[j] -= old * old
            out[r, col0 + j] = np.sqrt(max(S[j], 0.0)) if i >= w else NAN


@njit(cache=True)
def _k_sma_dist(X, ts, base, i0, i1, P, S, out, col0):
    """close / SMA(w) - 1; S[j] = running sum of the last w closes."""
    c = X[C]
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        for j in range(P.shape[0]):
            w = int(P[j])
            S[j] += c[li]
            if i >= w:
                S[j] -= c[li - w]
            out[r, col0 + j] = c[li] / (S[j] / w) - 1.0 if i >= w - 1 else NAN


@njit(cache=True)
def _k_ema_dist(X, ts, base, i0, i1, P, S, out, col0):
    """close / EMA(span) - 1, alpha = 2 / (span + 1), seeded with the first close; NaN for the
    first span - 1 bars."""
    c = X[C]
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        for j in range(P.shape[0]):
            span = P[j]
            if i == 0:
                S[j] = c[li]
            else:
                a = 2.0 / (span + 1.0)
                S[j] = S[j] + a * (c[li] - S[j])
            out[r, col0 + j] = c[li] / S[j] - 1.0 if i >= int(span) - 1 else NAN


@njit(cache=True)
def _k_zscore(X, ts, base, i0, i1, P, S, out, col0):
    """(close - EW mean) / EW std, alpha = 2 / (span + 1), seeded with the first close
    (exponentially weighted: O(1) per bar with no running sum to drift); NaN for the first
    span - 1 bars, 0 while the variance is 0. S[2j], S[2j+1] = EW mean, EW variance."""
    c = X[C]
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        x = c[li]
        for j in range(P.shape[0]):
            span = P[j]
            if i == 0:
                S[2 * j] = x
                S[2 * j + 1] = 0.0
            else:
                a = 2.0 / (span + 1.0)
                d = x - S[2 * j]
                S[2 * j] += a * d
                S[2 * j + 1] = (1.0 - a) * (S[2 * j + 1] + a * d * d)
            if i < int(span) - 1:
                out[r, col0 + j] = NAN
            else:
                sd = np.sqrt(S[2 * j + 1])
                out[r, col0 + j] = (x - S[2 * j]) / sd if sd > 0.0 else 0.0


@njit(cache=True)
def _k_candle(X, ts, base, i0, i1, P, S, out, col0):
    """Shape of the bar, relative to its close: range, body, shadows, close location, gap."""
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        o, h, l, c = X[O, li], X[H, li], X[L, li], X[C, li]
        rng = h - l
        out[r, col0 + 0] = rng / c
        out[r, col0 + 1] = (c - o) / c
        out[r, col0 + 2] = (h - max(o, c)) / c
        out[r, col0 + 3] = (min(o, c) - l) / c
        out[r, col0 + 4] = ((c - l) - (h - c)) / rng if rng > 0.0 else 0.0
        out[r, col0 + 5] = o / X[C, li - 1] - 1.0 if i >= 1 else NAN


@njit(cache=True)
def _k_rsi(X, ts, base, i0, i1, P, S, out, col0):
    """Wilder RSI: the first average gain/loss is the mean of the first p changes, then
    avg = (avg * (p - 1) + x) / p. S[3j..3j+2] = avg gain, avg loss (or sums while seeding)."""
    c = X[C]
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        d = c[li] - c[li - 1] if i >= 1 else 0.0
        g = d if d > 0.0 else 0.0
        lo = -d if d < 0.0 else 0.0
        for j in range(P.shape[0]):
            p = int(P[j])
            if i >= 1:
                if i <= p:
                    S[2 * j] += g
                    S[2 * j + 1] += lo
                    if i == p:
                        S[2 * j] /= p
                        S[2 * j + 1] /= p
                else:
                    S[2 * j] = (S[2 * j] * (p - 1) + g) / p
                    S[2 * j + 1] = (S[2 * j + 1] * (p - 1) + lo) / p
            if i < p:
                out[r, col0 + j] = NAN
            else:
                tot = S[2 * j] + S[2 * j + 1]
                out[r, col0 + j] = 100.0 * S[2 * j] / tot if tot > 0.0 else 50.0


@njit(cache=True)
def _k_atr(X, ts, base, i0, i1, P, S, out, col0):
    """Wilder ATR(p) / close: first ATR = mean true range of bars 1..p, then Wilder smoothing."""
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        tr = 0.0
        if i >= 1:
            pc = X[C, li - 1]
            tr = max(X[H, li] - X[L, li], max(abs(X[H, li] - pc), abs(X[L, li] - pc)))
        for j in range(P.shape[0]):
            p = int(P[j])
            if i >= 1:
                if i <= p:
                    S[j] += tr
                    if i == p:
                        S[j] /= p
                else:
                    S[j] = (S[j] * (p - 1) + tr) / p
            out[r, col0 + j] = S[j] / X[C, li] if i >= p else NAN


@njit(cache=True)
def _k_volume(X, ts, base, i0, i1, P, S, out, col0):
    """log1p(volume); per window w: volume z-score and close / VWAP(w) - 1.
    S[3j..3j+2] = running sums of volume, volume**2 and price*volume (typical price)."""
    v = X[V]
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        out[r, col0] = np.log1p(v[li])
        tp = (X[H, li] + X[L, li] + X[C, li]) / 3.0
        for j in range(P.shape[0]):
            w = int(P[j])
            S[3 * j] += v[li]
            S[3 * j + 1] += v[li] * v[li]
            S[3 * j + 2] += tp * v[li]
            if i >= w:
                lo = li - w
                vo = v[lo]
                S[3 * j] -= vo
                S[3 * j + 1] -= vo * vo
                S[3 * j + 2] -= (X[H, lo] + X[L, lo] + X[C, lo]) / 3.0 * vo
            zc = col0 + 1 + 2 * j
            if i < w - 1:
                out[r, zc] = NAN
                out[r, zc + 1] = NAN
                continue
            m = S[3 * j] / w
            var = S[3 * j + 1] / w - m * m
            sd = np.sqrt(var) if var > 0.0 else 0.0
            out[r, zc] = (v[li] - m) / sd if sd > 1e-9 * m else 0.0
            out[r, zc + 1] = X[C, li] / (S[3 * j + 2] / S[3 * j]) - 1.0 if S[3 * j] > 0.0 \
                else 0.0


@njit(cache=True)
def _k_pivots(X, ts, base, i0, i1, P, S, out, col0):
    """close / level - 1 for the pivot levels of the previous completed period (P[0] = period
    in ns, P[1] = kind). S = [period id, cur high, cur low, cur close, prev H, prev L, prev C]."""
    period = np.int64(P[0])
    kind = int(P[1])
    nl = 9 if kind == 2 else 7
    lv = np.empty((1, 9))
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        pid = ts[li] // period
        if i == 0 or pid != np.int64(S[0]):
            if i > 0:
                S[4], S[5], S[6] = S[1], S[2], S[3]
            else:
                S[4], S[5], S[6] = NAN, NAN, NAN
            S[0] = pid
            S[1], S[2] = X[H, li], X[L, li]
        else:
            S[1] = max(S[1], X[H, li])
            S[2] = min(S[2], X[L, li])
        S[3] = X[C, li]
        if np.isnan(S[4]):
            for j in range(nl):
                out[r, col0 + j] = NAN
            continue
        H_, L_, C_ = S[4], S[5], S[6]
        p = (H_ + L_ + C_) / 3.0
        rg = H_ - L_
        lv[0, 0] = p
        if kind == 0:
            lv[0, 1] = 2.0 * p - L_
            lv[0, 2] = p + rg
            lv[0, 3] = H_ + 2.0 * (p - L_)
            lv[0, 4] = 2.0 * p - H_
            lv[0, 5] = p - rg
            lv[0, 6] = L_ - 2.0 * (H_ - p)
        elif kind == 1:
            lv[0, 1] = p + 0.382 * rg
            lv[0, 2] = p + 0.618 * rg
            lv[0, 3] = p + rg
            lv[0, 4] = p - 0.382 * rg
            lv[0, 5] = p - 0.618 * rg
            lv[0, 6] = p - rg
        else:
            lv[0, 1] = C_ + rg * 1.1 / 12.0
            lv[0, 2] = C_ + rg * 1.1 / 6.0
            lv[0, 3] = C_ + rg * 1.1 / 4.0
            lv[0, 4] = C_ + rg * 1.1 / 2.0
            lv[0, 5] = C_ - rg * 1.1 / 12.0
            lv[0, 6] = C_ - rg * 1.1 / 6.0
            lv[0, 7] = C_ - rg * 1.1 / 4.0
            lv[0, 8] = C_ - rg * 1.1 / 2.0
        for j in range(nl):
            out[r, col0 + j] = X[C, li] / lv[0, j] - 1.0


@njit(cache=True)
def _k_fractals(X, ts, base, i0, i1, P, S, out, col0):
    """Distance to the last CONFIRMED fractal swing high / low (n bars each side: a swing at j is
    confirmed at bar j + n) and bars since it was confirmed. S = [last up, bar, last down, bar]."""
    n = int(P[0])
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        if i == 0:
            S[0], S[1], S[2], S[3] = NAN, -1.0, NAN, -1.0
        if i >= 2 * n:
            j = li - n
            up = True
            dn = True
            for k in range(1, n + 1):
                if not (X[H, j] > X[H, j - k] and X[H, j] > X[H, j + k]):
                    up = False
                if not (X[L, j] < X[L, j - k] and X[L, j] < X[L, j + k]):
                    dn = False
            if up:
                S[0], S[1] = X[H, j], float(i)
            if dn:
                S[2], S[3] = X[L, j], float(i)
        c = X[C, li]
        out[r, col0 + 0] = c / S[0] - 1.0 if S[1] >= 0.0 else NAN
        out[r, col0 + 1] = c / S[2] - 1.0 if S[3] >= 0.0 else NAN
        out[r, col0 + 2] = i - S[1] if S[1] >= 0.0 else NAN
        out[r, col0 + 3] = i - S[3] if S[3] >= 0.0 else NAN


@njit(cache=True)
def _book_rows(bpx, bsz, apx, asz, levels, rows):
    """The book inputs X holds, from [bars x depth] arrays: best bid px, sz, best ask px, sz,
    then per level count n in `levels` the bid and ask size summed over the top n levels
    (NaN levels, where a side is thinner, count 0), summed in level order. Batch and live both
    call this, so the sums are the same doubles."""
    for i in range(bpx.shape[0]):
        rows[0, i] = bpx[i, 0]
        rows[1, i] = bsz[i, 0]
        rows[2, i] = apx[i, 0]
        rows[3, i] = asz[i, 0]
        sb = 0.0
        sa = 0.0
        d = 0
        for q in range(levels.shape[0]):
            while d < levels[q]:
                b = bsz[i, d]
                a = asz[i, d]
                if b == b:
                    sb += b
                if a == a:
                    sa += a
                d += 1
            rows[4 + 2 * q, i] = sb
            rows[5 + 2 * q, i] = sa


@njit(cache=True)
def _k_book(X, ts, base, i0, i1, P, S, out, col0):
    """Book at each bar's close (X rows from `_book_rows`). P = [q of each imbalance level in
    the set's level list..., -1, rv windows...]. Columns: spread (bps of mid), microprice - mid
    (bps), imbalance over the top n levels ((bid qty - ask qty) / (bid qty + ask qty)), Cont's
    order-flow imbalance at the top normalised by the mean top depth, log mid return, realized
    vol of mid returns per window. S = [prev bid px, bid sz, ask px, ask sz, rv sums...]."""
    k = 0
    while P[k] >= 0.0:
        k += 1
    nlev = k
    nrv = P.shape[0] - k - 1
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        bp, bs, ap, asz = X[BOOK0, li], X[BOOK0 + 1, li], X[BOOK0 + 2, li], X[BOOK0 + 3, li]
        mid = 0.5 * (bp + ap)
        out[r, col0 + 0] = (ap - bp) / mid * 1e4
        tq = bs + asz
        micro = (bp * asz + ap * bs) / tq if tq > 0.0 else mid
        out[r, col0 + 1] = (micro / mid - 1.0) * 1e4
        for q in range(nlev):
            row = BOOK0 + 4 + 2 * int(P[q])
            sb = X[row, li]
            sa = X[row + 1, li]
            out[r, col0 + 2 + q] = (sb - sa) / (sb + sa) if sb + sa > 0.0 else 0.0
        c = col0 + 2 + nlev
        if i == 0:
            out[r, c] = NAN
            out[r, c + 1] = NAN
        else:
            pbp, pbs, pap, pas = S[0], S[1], S[2], S[3]
            e = 0.0
            if bp >= pbp:
                e += bs
            if bp <= pbp:
                e -= pbs
            if ap <= pap:
                e -= asz
            if ap >= pap:
                e += pas
            den = 0.5 * (bs + asz + pbs + pas)
            out[r, c] = e / den if den > 0.0 else 0.0
            out[r, c + 1] = np.log(mid / (0.5 * (pbp + pap)))
        for q in range(nrv):
            w = int(P[k + 1 + q])
            if i >= 1:
                x = np.log(mid / (0.5 * (S[0] + S[2])))
                S[4 + q] += x * x
            if i >= w + 1:
                lo = li - w
                m1 = 0.5 * (X[BOOK0, lo] + X[BOOK0 + 2, lo])
                m0 = 0.5 * (X[BOOK0, lo - 1] + X[BOOK0 + 2, lo - 1])
                x = np.log(m1 / m0)
                S[4 + q] -= x * x
            out[r, c + 2 + q] = np.sqrt(max(S[4 + q], 0.0)) if i >= w else NAN
        S[0], S[1], S[2], S[3] = bp, bs, ap, asz


@njit(cache=True)
def _k_trade_flow(X, ts, base, i0, i1, P, S, out, col0):
    """Order-flow imbalance from trades over the last w bars: (buy - sell) / (buy + sell) of
    taker volume (0 when no trade). S[2j], S[2j+1] = running buy and sell sums."""
    b = X[BUY]
    s = X[SELL]
    for i in range(i0, i1):
        li = i - base
        r = i - i0
        for j in range(P.shape[0]):
            w = int(P[j])
            S[2 * j] += b[li]
            S[2 * j + 1] += s[li]
            if i >= w:
                S[2 * j] -= b[li - w]
                S[2 * j + 1] -= s[li - w]
            tot = S[2 * j] + S[2 * j + 1]
            if i < w - 1:
                out[r, col0 + j] = NAN
            else:
                out[r, col0 + j] = (S[2 * j] - S[2 * j + 1]) / tot if tot > 1e-12 else 0.0


# -- families ----------------------------------------------------------------------------------

def _int_list(fam: str, key: str, v: Any, lo: int = 1) -> list[int]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = [v]
    if (not isinstance(v, (list, tuple)) or not v
            or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in v)):
        raise ValueError(f"feature {fam!r}: {key!r} must be a non-empty list of integers, "
                         f"got {v!r}")
    bad = [x for x in v if x < lo]
    if bad:
        raise ValueError(f"feature {fam!r}: {key!r} values must be >= {lo}, got {bad}")
    if len(set(v)) != len(v):
        raise ValueError(f"feature {fam!r}: {key!r} has duplicates: {v!r}")
    return [int(x) for x in v]


class _Family:
    """A feature family: validated parameters, column names, inputs needed, history (bars of
    inputs the kernel reads back, counting the current one) and the kernel."""
    name = ""
    defaults: dict[str, Any] = {}
    needs: tuple[str, ...] = ()

    def __init__(self, params: Mapping[str, Any]):
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            raise ValueError(f"feature {self.name!r}: unknown parameter(s) {unknown}; "
                             f"expected some of {sorted(self.defaults)}")
        self.p = {**self.defaults, **params}
        self.setup()

    def setup(self) -> None:
        raise NotImplementedError

    def state(self) -> np.ndarray:
        return np.zeros(max(self.nstate, 1))

    def run(self, X, ts, base, i0, i1, S, out, col0) -> None:
        self.kernel(X, ts, base, i0, i1, self.P, S, out, col0)

    def step(self, X, ts, base, i, S, row, col0) -> None:
        """Live: the row of absolute bar i (the last bar held in X)."""
        self.run(X, ts, base, i, i + 1, S, row, col0)


class _Lags(_Family):
    key = "windows"
    prefix = ""
    state_per = 1

    def setup(self) -> None:
        ws = _int_list(self.name, self.key, self.p[self.key])
        self.P = np.array(ws, dtype=np.float64)
        self.columns = [f"{self.prefix}_{w}" for w in ws]
        self.history = max(ws) + 2
        self.nstate = self.state_per * len(ws)


class Returns(_Lags):
    name, key, prefix = "returns", "lags", "ret"
    defaults = {"lags": [1, 2, 3, 5, 10, 20, 30, 60, 120, 240]}
    kernel = staticmethod(_k_returns)


class RealizedVol(_Lags):
    name, prefix = "realized_vol", "rv"
    defaults = {"windows": [5, 10, 20, 30, 60, 120, 240]}
    kernel = staticmethod(_k_realized_vol)


class SmaDist(_Lags):
    name, prefix = "sma_dist", "sma_dist"
    defaults = {"windows": [5, 10, 20, 50, 100, 200]}
    kernel = staticmethod(_k_sma_dist)


class EmaDist(_Lags):
    name, key, prefix = "ema_dist", "spans", "ema_dist"
    defaults = {"spans": [5, 10, 20, 50, 100, 200]}
    kernel = staticmethod(_k_ema_dist)

    def setup(self) -> None:
        super().setup()
        self.history = 2


class ZScore(_Lags):
    name, key, prefix, state_per = "zscore", "spans", "zscore", 2
    defaults = {"spans": [20, 60, 240]}
    kernel = staticmethod(_k_zscore)

    def setup(self) -> None:
        super().setup()
        self.history = 2


class Rsi(_Lags):
    name, key, prefix, state_per = "rsi", "periods", "rsi", 2
    defaults = {"periods": [7, 14, 28]}
    kernel = staticmethod(_k_rsi)

    def setup(self) -> None:
        super().setup()
        self.history = 2


class Atr(_Lags):
    name, key, prefix = "atr", "periods", "atr"
    defaults = {"periods": [14, 50]}
    kernel = staticmethod(_k_atr)

    def setup(self) -> None:
        super().setup()
        self.history = 2


class TradeFlow(_Lags):
    name, prefix, state_per = "trade_flow", "ofi_trades", 2
    defaults = {"windows": [1, 5, 20, 60]}
    needs = ("buy_volume", "sell_volume")
    kernel = staticmethod(_k_trade_flow)


class Volume(_Lags):
    name, state_per = "volume", 3
    defaults = {"windows": [20, 60]}
    kernel = staticmethod(_k_volume)

    def setup(self) -> None:
        super().setup()
        ws = [int(w) for w in self.P]
        self.columns = ["log_volume"] + [c for w in ws for c in (f"volume_z_{w}",
                                                                   f"vwap_dist_{w}")]


class Candle(_Family):
    name = "candle"
    defaults: dict[str, Any] = {}
    kernel = staticmethod(_k_candle)

    def setup(self) -> None:
        self.P = np.zeros(1)
        self.columns = ["hl_range", "body", "upper_shadow", "lower_shadow", "close_location",
                        "gap"]
        self.history = 2
        self.nstate = 0


class Pivots(_Family):
    name = "pivots"
    defaults = {"kind": "classic", "period_s": 86400}
    needs = ("ts_ns",)
    kernel = staticmethod(_k_pivots)

    def setup(self) -> None:
        from tradecore.indicators.levels import PIVOT_KINDS, PIVOT_NAMES
        kind, per = self.p["kind"], self.p["period_s"]
        if kind not in PIVOT_KINDS:
            raise ValueError(f"feature 'pivots': 'kind' must be one of {PIVOT_KINDS}, "
                             f"got {kind!r}")
        if not isinstance(per, (int, np.integer)) or isinstance(per, bool) or per <= 0:
            raise ValueError(f"feature 'pivots': 'period_s' must be a positive integer number "
                             f"of seconds, got {per!r}")
        self.P = np.array([per * 1_000_000_000, PIVOT_KINDS.index(kind)], dtype=np.float64)
        self.columns = [f"piv_{kind}_{nm}" for nm in PIVOT_NAMES[kind]]
        self.history = 1
        self.nstate = 7


class Fractals(_Family):
    name = "fractals"
    defaults = {"n": 2}
    kernel = staticmethod(_k_fractals)

    def setup(self) -> None:
        n = self.p["n"]
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"feature 'fractals': 'n' must be an integer >= 1, got {n!r}")
        self.P = np.array([n], dtype=np.float64)
        self.columns = [f"fractal{n}_{c}" for c in ("up_dist", "down_dist", "up_age",
                                                     "down_age")]
        self.history = 2 * n + 1
        self.nstate = 4


class Book(_Family):
    name = "book"
    defaults = {"levels": [1, 3, 5, 10], "rv_windows": [20, 60]}
    needs = ("bid_px", "bid_sz", "ask_px", "ask_sz")
    kernel = staticmethod(_k_book)

    def setup(self) -> None:
        lv = _int_list(self.name, "levels", self.p["levels"])
        rv = _int_list(self.name, "rv_windows", self.p["rv_windows"])
        self.depth = max(lv)
        self._lv, self._rv = lv, rv
        self.columns = (["spread_bps", "microprice_bps"] + [f"imbalance_{n}" for n in lv]
                        + ["ofi_book", "mid_ret"] + [f"mid_rv_{w}" for w in rv])
        self.history = max(rv) + 2
        self.nstate = 4 + len(rv)

    def bind_levels(self, levels: list[int]) -> None:
        """Index this family's level counts in the feature set's sorted level list."""
        self.P = np.array([levels.index(n) for n in self._lv] + [-1] + self._rv,
                          dtype=np.float64)


class Patterns(_Family):
    name = "patterns"
    defaults = {"names": "all"}

    def setup(self) -> None:
        names = self.p["names"]
        if names == "all":
            names = _pat.pattern_names()
        if isinstance(names, str) or not isinstance(names, (list, tuple)) or not names:
            raise ValueError(f"feature 'patterns': 'names' must be 'all' or a non-empty list of "
                             f"pattern names, got {names!r}")
        unknown = [nm for nm in names if nm not in _pat.pattern_names()]
        if unknown:
            raise ValueError(f"feature 'patterns': unknown pattern(s) {unknown}; known: "
                             f"{_pat.pattern_names()}")
        self.plan = _pat._Plan(list(names))
        self.columns = list(names)
        self.history = self.plan.window
        self.nstate = 0

    def state(self) -> np.ndarray:
        return self.plan.new_state()

    def run(self, X, ts, base, i0, i1, S, out, col0) -> None:
        buf = np.zeros((i1 - i0, len(self.columns)), dtype=np.int32)
        self.plan.run_into(X[O], X[H], X[L], X[C], base, i0, i1, S, buf)
        out[:, col0:col0 + len(self.columns)] = buf


class TA(_Family):
    """Any indicator of the indicator catalogue (tradecore.indicators.catalog: TA-Lib names,
    parameters and output order): batch mode calls its batch function, live mode its
    streaming object, whose `update` returns the batch value of the same bar. `scale`:
    "none" (raw value) or "close" (value / close - 1, for price-like outputs such as bbands).
    Columns: ta_<name>[_<param values>][_o<k> for multi-output indicators]."""
    name = "ta"
    defaults = {"name": None, "params": {}, "scale": "none"}
    _FIELDS = {"open": O, "high": H, "low": L, "close": C, "volume": V}

    def setup(self) -> None:
        from tradecore.indicators.catalog import BY_NAME
        nm, params, scale = self.p["name"], self.p["params"], self.p["scale"]
        if nm not in BY_NAME:
            raise ValueError(f"feature 'ta': 'name' must be an indicator of the catalogue, got "
                             f"{nm!r}; known: {sorted(BY_NAME)}")
        if not isinstance(params, Mapping):
            raise ValueError(f"feature 'ta' ({nm}): 'params' must be a dict, got {params!r}")
        if scale not in ("none", "close"):
            raise ValueError(f"feature 'ta' ({nm}): 'scale' must be 'none' or 'close', "
                             f"got {scale!r}")
        self.spec = BY_NAME[nm]
        bad_in = [k for k in self.spec.inputs if k not in self._FIELDS and k != "timestamps"]
        if bad_in:
            raise ValueError(f"feature 'ta' ({nm}): inputs {bad_in} are not bar fields")
        self.params = dict(params)
        try:   # validates the parameters and finds the number of outputs
            probe = self._batch(np.full((BOOK0, 64), 100.0) + np.arange(64.0),
                                np.arange(64, dtype=np.int64) * 60_000_000_000)
            self.spec.stream(**self.params)
        except (TypeError, ValueError) as e:
            raise ValueError(f"feature 'ta' ({nm}): bad params {self.params!r}: {e}") from e
        k = len(probe)
        tag = "_".join(str(v) for v in self.params.values())
        base = f"ta_{nm}" + (f"_{tag}" if tag else "") + ("_rel" if scale == "close" else "")
        self.columns = [base] if k == 1 else [f"{base}_o{j}" for j in range(k)]
        self.history = 1
        self.nstate = 0
        if "timestamps" in self.spec.inputs:
            self.needs = ("ts_ns",)

    def _batch(self, X, ts) -> list[np.ndarray]:
        args = [ts if k == "timestamps" else X[self._FIELDS[k]] for k in self.spec.inputs]
        res = self.spec.func(*args, **self.params)
        return list(res) if isinstance(res, tuple) else [res]

    def state(self):  # the streaming object is the state
        return self.spec.stream(**self.params)

    def _put(self, vals, close, out, rows, col0) -> None:
        for j, v in enumerate(vals):
            v = np.asarray(v, dtype=np.float64)
            out[rows, col0 + j] = v / close - 1.0 if self.p["scale"] == "close" else v

    def run(self, X, ts, base, i0, i1, S, out, col0) -> None:
        if not (base == 0 and i0 == 0 and i1 == X.shape[1]):
            raise ValueError("the 'ta' family runs over whole series (batch) or one bar (step)")
        self._put(self._batch(X, ts), X[C], out, slice(None), col0)

    def step(self, X, ts, base, i, S, row, col0) -> None:
        li = i - base
        args = [int(ts[li]) if k == "timestamps" else X[self._FIELDS[k], li]
                for k in self.spec.inputs]
        res = S.update(*args)
        self._put(res if isinstance(res, tuple) else (res,), X[C, li], row, 0, col0)


FAMILIES: dict[str, type[_Family]] = {f.name: f for f in (
    Returns, RealizedVol, SmaDist, EmaDist, ZScore, Candle, Rsi, Atr, Volume, Pivots, Fractals,
    Patterns, Book, TradeFlow, TA)}

DEFAULT_FEATURES: list[Any] = [
    "returns", "realized_vol", "sma_dist", "ema_dist", "zscore", "candle", "rsi", "atr",
    "volume", ("pivots", {"kind": "classic"}), ("pivots", {"kind": "camarilla"}), "fractals",
    "patterns", "book", "trade_flow",
    ("ta", {"name": "macd"}), ("ta", {"name": "bbands", "scale": "close"}),
    ("ta", {"name": "stoch"}), ("ta", {"name": "adx"}), ("ta", {"name": "cci"}),
    ("ta", {"name": "willr"}), ("ta", {"name": "mfi"}), ("ta", {"name": "natr"}),
]
# The candle-only set: everything that needs nothing beyond OHLCV and the bar time.
CANDLE_FEATURES: list[Any] = [e for e in DEFAULT_FEATURES if e not in ("book", "trade_flow")]


def _parse(entry: Any, k: int) -> _Family:
    if isinstance(entry, str):
        fam, params = entry, {}
    elif isinstance(entry, Mapping):
        if "family" not in entry:
            raise ValueError(f"feature entry #{k} {dict(entry)!r} has no 'family' key")
        fam = entry["family"]
        params = {kk: vv for kk, vv in entry.items() if kk != "family"}
    elif isinstance(entry, (tuple, list)) and len(entry) == 2 and isinstance(entry[1], Mapping):
        fam, params = entry
    else:
        raise ValueError(f"feature entry #{k} must be a family name, (name, params) or a dict "
                         f"with 'family'; got {entry!r}")
    if fam not in FAMILIES:
        raise ValueError(f"feature entry #{k}: unknown family {fam!r}; known: "
                         f"{sorted(FAMILIES)}")
    return FAMILIES[fam](dict(params))


class FeatureSet:
    """A validated list of feature families (see the module docstring)."""

    def __init__(self, config: Sequence[Any] = tuple(DEFAULT_FEATURES)):
        if isinstance(config, (str, Mapping)) or not isinstance(config, Sequence):
            raise ValueError(f"a feature set config is a list of entries, got {config!r}")
        if not config:
            raise ValueError("a feature set config needs at least one entry")
        self.families = [_parse(e, k) for k, e in enumerate(config)]
        names: list[str] = []
        for f in self.families:
            names += f.columns
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"feature set produces duplicate columns {dup}: two entries of the "
                             f"same family with overlapping parameters")
        self.names = names
        books = [f for f in self.families if isinstance(f, Book)]
        self.levels = sorted({n for f in books for n in f._lv})
        self.depth = max(self.levels, default=0)
        self._levels = np.array(self.levels, dtype=np.int64)
        self.nx = BOOK0 + (4 + 2 * len(self.levels) if books else 0)
        for f in books:
            f.bind_levels(self.levels)
        self.needs = sorted({n for f in self.families for n in f.needs})
        self.history = max(f.history for f in self.families)
        self._cols = []
        c = 0
        for f in self.families:
            self._cols.append(c)
            c += len(f.columns)

    def __len__(self) -> int:
        return len(self.names)

    # -- inputs ------------------------------------------------------------------------------
    def _inputs(self, candles: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        get = _getter(candles)
        cols = []
        n = None
        for f in ("open", "high", "low", "close", "volume"):
            a = np.asarray(get(f), dtype=np.float64)
            if a.ndim != 1:
                raise ValueError(f"candles[{f!r}] must be 1-D, got shape {a.shape}")
            if n is None:
                n = a.shape[0]
            elif a.shape[0] != n:
                raise ValueError(f"candles[{f!r}] has {a.shape[0]} bars, open has {n}")
            cols.append(a)
        assert n is not None
        for f in ("buy_volume", "sell_volume"):
            if f in self.needs:
                a = np.asarray(get(f), dtype=np.float64)
                if a.shape != (n,):
                    raise ValueError(f"candles[{f!r}] must have shape ({n},), got {a.shape}")
                cols.append(a)
            else:
                cols.append(np.zeros(n))
        X = np.empty((self.nx, n))
        for j, a in enumerate(cols):
            X[j] = a
        _check_prices(X[:5], "candles")
        _check_flow(X[BUY:SELL + 1], "candles")
        X[LOGC] = np.log(X[C])
        if self.depth:
            sides = []
            for f in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
                a = np.asarray(get(f), dtype=np.float64)
                if a.ndim != 2 or a.shape[0] != n or a.shape[1] < self.depth:
                    raise ValueError(f"candles[{f!r}] must have shape ({n}, >= {self.depth}) "
                                     f"(bars x book levels, best first), got {a.shape}")
                if f.endswith("_px") and n and np.isnan(a[:, 0]).any():
                    raise ValueError(f"candles[{f!r}] has no best level (NaN) at bars "
                                     f"{np.nonzero(np.isnan(a[:, 0]))[0][:5].tolist()}: the "
                                     f"book features need both sides at every bar")
                sides.append(a)
            _book_rows(*sides, self._levels, X[BOOK0:])
        if "ts_ns" in self.needs:
            ts = np.asarray(get("ts_ns"), dtype=np.int64)
            if ts.shape != (n,):
                raise ValueError(f"candles['ts_ns'] must have shape ({n},), got {ts.shape}")
        else:
            ts = np.zeros(n, dtype=np.int64)
        return X, ts

    # -- modes -------------------------------------------------------------------------------
    def batch(self, candles: Mapping[str, Any]) -> tuple[np.ndarray, list[str]]:
        """All rows at once: (float64 matrix [n_bars x n_features], column names)."""
        X, ts = self._inputs(candles)
        n = X.shape[1]
        out = np.empty((n, len(self.names)))
        for f, c0 in zip(self.families, self._cols):
            f.run(X, ts, 0, 0, n, f.state(), out, c0)
        return out, list(self.names)

    def live(self) -> LiveFeatures:
        """A fresh live computer: feed it the same bars, from the first, to get the same rows."""
        return LiveFeatures(self)


class LiveFeatures:
    """One row per new bar, equal to the batch row at that bar (see the module docstring).
    Holds a trailing window of inputs (the longest history any family reads) and the
    families' running state."""

    def __init__(self, fs: FeatureSet):
        self.fs = fs
        self.names = list(fs.names)
        self._w = fs.history
        self._X = np.zeros((fs.nx, 2 * self._w))
        self._ts = np.zeros(2 * self._w, dtype=np.int64)
        self._len = 0
        self.n = 0
        self._state = [f.state() for f in fs.families]
        self._row = np.empty((1, len(fs.names)))

    def update(self, bar: Mapping[str, Any]) -> np.ndarray:
        """Add one closed bar (a mapping of scalars; book fields as 1-D arrays of levels) and
        return its feature row (a new float64 array)."""
        fs = self.fs
        get = _getter(bar)
        vals = [float(get(f)) for f in ("open", "high", "low", "close", "volume")]
        vals += [float(get(f)) if f in fs.needs else 0.0 for f in ("buy_volume", "sell_volume")]
        book = []
        if fs.depth:
            for f in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
                a = np.asarray(get(f), dtype=np.float64)
                if a.ndim != 1 or a.shape[0] < fs.depth:
                    raise ValueError(f"bar[{f!r}] must be 1-D with >= {fs.depth} levels, "
                                     f"got shape {a.shape}")
                if f.endswith("_px") and not np.isfinite(a[0]):
                    raise ValueError(f"bar[{f!r}] has no best level: the book features need "
                                     f"both sides at every bar")
                book.append(np.ascontiguousarray(a[None, :fs.depth]))
        ts = int(get("ts_ns")) if "ts_ns" in fs.needs else 0
        _check_prices(np.array(vals[:5])[:, None], "bar")
        _check_flow(np.array(vals[BUY:SELL + 1])[:, None], "bar")
        if self._len == self._X.shape[1]:          # slide: keep the last w bars
            self._X[:, :self._w] = self._X[:, self._len - self._w:self._len]
            self._ts[:self._w] = self._ts[self._len - self._w:self._len]
            self._len = self._w
        j = self._len
        self._X[:LOGC, j] = vals
        self._X[LOGC, j] = np.log(vals[C])
        if book:
            _book_rows(*book, fs._levels, self._X[BOOK0:, j:j + 1])
        self._ts[j] = ts
        self._len += 1
        base = self.n - j
        for f, c0, S in zip(fs.families, fs._cols, self._state):
            f.step(self._X, self._ts, base, self.n, S, self._row, c0)
        self.n += 1
        return self._row[0].copy()


def _check_prices(ohlcv: np.ndarray, what: str) -> None:
    """Prices must be finite and > 0 with low <= open, close <= high; volume finite >= 0."""
    o, h, l, c, v = ohlcv
    bad = ~(np.isfinite(ohlcv).all(axis=0) & (l > 0) & (l <= o) & (l <= c) & (o <= h) & (c <= h)
            & (v >= 0))
    if bad.any():
        k = np.nonzero(bad)[0][:5].tolist()
        raise ValueError(f"{what}: bad bar(s) at {k} (need finite prices > 0, low <= open/close "
                         f"<= high, volume >= 0): o={o[k].tolist()} h={h[k].tolist()} "
                         f"l={l[k].tolist()} c={c[k].tolist()} v={v[k].tolist()}")


def _check_flow(bs: np.ndarray, what: str) -> None:
    """Taker buy and sell volumes must be finite and >= 0."""
    bad = ~(np.isfinite(bs).all(axis=0) & (bs >= 0).all(axis=0))
    if bad.any():
        k = np.nonzero(bad)[0][:5].tolist()
        raise ValueError(f"{what}: bad buy_volume/sell_volume at bar(s) {k} (need finite "
                         f">= 0): buy={bs[0, k].tolist()} sell={bs[1, k].tolist()}")


def _getter(src: Any):
    def get(name: str):
        try:
            return src[name]
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"input has no field {name!r} (needed by this feature set)") from e
    return get


# -- helpers to build the book and trade inputs --------------------------------------------------

def book_levels(book: Any, depth: int) -> dict[str, np.ndarray]:
    """The top `depth` levels of an L2Book (tradecore.book.L2Book) as the four 1-D arrays a bar
    needs (bid_px, bid_sz, ask_px, ask_sz), NaN-padded when the book is thinner."""
    bids, asks = book.depth(depth)
    out = {}
    for side, arr in (("bid", bids), ("ask", asks)):
        px = np.full(depth, np.nan)
        sz = np.full(depth, np.nan)
        k = min(len(arr), depth)
        if k:
            px[:k] = arr[:k, 0]
            sz[:k] = arr[:k, 1]
        out[f"{side}_px"] = px
        out[f"{side}_sz"] = sz
    return out


def aggregate_trades(bar_ts_ns, trade_ts_ns, qty, is_buy, bar_ns: int) -> tuple[np.ndarray,
                                                                                  np.ndarray]:
    """Taker buy and sell volume per bar: a trade at time t counts in the bar whose open time
    b satisfies b <= t < b + bar_ns (bars given by their open times, ascending)."""
    bts = np.asarray(bar_ts_ns, dtype=np.int64)
    tts = np.asarray(trade_ts_ns, dtype=np.int64)
    q = np.asarray(qty, dtype=np.float64)
    buy = np.asarray(is_buy, dtype=bool)
    if not (tts.shape == q.shape == buy.shape):
        raise ValueError(f"trade arrays differ in length: ts {tts.shape}, qty {q.shape}, "
                         f"is_buy {buy.shape}")
    k = np.searchsorted(bts, tts, side="right") - 1
    ok = (k >= 0) & (tts < bts[np.clip(k, 0, None)] + bar_ns)
    bv = np.bincount(k[ok & buy], weights=q[ok & buy], minlength=len(bts))
    sv = np.bincount(k[ok & ~buy], weights=q[ok & ~buy], minlength=len(bts))
    return bv[:len(bts)], sv[:len(bts)]


def warmup() -> float:
    """Compile (first run) or load from Numba's cache (later runs) every kernel of the pattern
    and feature modules by running the default set, batch and live, on 300 synthetic bars;
    returns the seconds spent. Call it at start-up, never on the live path (the first compile
    of the pattern kernel takes ~30 s)."""
    import time
    t0 = time.perf_counter()
    n, depth = 300, 10
    rng = np.random.default_rng(0)
    c = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    o = np.r_[c[0], c[:-1]]
    d: dict[str, np.ndarray] = {
        "open": o, "close": c, "high": np.maximum(o, c) * 1.001,
        "low": np.minimum(o, c) * 0.999, "volume": rng.uniform(1.0, 2.0, n),
        "ts_ns": np.arange(n, dtype=np.int64) * 3_600_000_000_000,
        "buy_volume": np.ones(n), "sell_volume": np.ones(n),
        "bid_px": (c - 0.01)[:, None] - 0.01 * np.arange(depth),
        "ask_px": (c + 0.01)[:, None] + 0.01 * np.arange(depth),
        "bid_sz": np.ones((n, depth)), "ask_sz": np.ones((n, depth))}
    fs = FeatureSet(DEFAULT_FEATURES)
    fs.batch(d)
    live = fs.live()
    for i in range(5):
        live.update({k: v[i] for k, v in d.items()})
    return time.perf_counter() - t0
