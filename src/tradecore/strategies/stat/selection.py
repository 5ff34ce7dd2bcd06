"""Pairs selection over candle closes: align, screen by correlation, test for cointegration.

The statistics are statsmodels' (`coint` for Engle-Granger with MacKinnon p-values, `adfuller`,
`OLS`), called on log closes; nothing here re-implements a test. Research code, not hot path.

Alignment. Candle files of different venues have gaps (outages, minutes without trades, e.g.
Kraken's sparse 1m file, Binance's 2018 maintenance) and differ in span. `align_closes` keeps only
the timestamps present in *every* series (an inner join on the candle open time) and reports how
many candles of each series were dropped, so a gap shows up as a number, never as a silently
forward-filled price (forward filling invents prices at which nobody could trade and flattens the
spread exactly where it is measured).

Screen. Correlation of log *returns* (not of log prices: two trending series have price
correlation near 1 whatever their relation) must reach `min_corr`; the survivors are tested for
cointegration in both orders (y on x and x on y: Engle-Granger is not symmetric) and the order
with the lower p-value is kept. Ranked by that p-value.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
from statsmodels.regression.linear_model import OLS
from statsmodels.tools import add_constant
from statsmodels.tsa.stattools import adfuller, coint

Key = tuple[str, str]          # (venue, symbol)


@dataclass(frozen=True, slots=True)
class Aligned:
    keys: tuple[Key, ...]
    ts_ms: np.ndarray              # common candle open times, ascending
    closes: np.ndarray             # shape (n, len(keys))
    dropped: dict[Key, int]        # candles of each series not in the common set

    def close(self, key: Key) -> np.ndarray:
        return self.closes[:, self.keys.index(key)]


@dataclass(frozen=True, slots=True)
class PairStats:
    """y = alpha + beta x + resid on log closes (y, x: the order with the lower EG p-value)."""
    y: Key
    x: Key
    n: int                          # aligned bars used
    corr_returns: float             # Pearson correlation of log returns
    corr_prices: float              # Pearson correlation of log prices (context only)
    alpha: float
    beta: float
    resid_std: float
    eg_stat: float                  # Engle-Granger t-statistic (statsmodels coint)
    eg_pvalue: float                # MacKinnon approximate p-value
    eg_crit: tuple[float, float, float]   # 1 %, 5 %, 10 % critical values
    adf_stat: float                 # ADF on the OLS residual (statsmodels adfuller, autolag AIC)
    adf_pvalue: float               # NB: ADF p-values ignore that beta was estimated; use eg_pvalue
    adf_lags: int
    half_life: float                # bars; AR(1) on the residual, inf when not mean-reverting
    ar1_phi: float

    @property
    def cointegrated(self) -> bool:
        return self.eg_pvalue < 0.05


def align_closes(series: Mapping[Key, tuple[np.ndarray, np.ndarray]]) -> Aligned:
    """Inner join of {key: (ts_ms, close)} on timestamps. Each series' timestamps must be strictly
    increasing and its closes finite and positive."""
    if len(series) < 2:
        raise ValueError(f"align_closes: need at least 2 series, got {len(series)}")
    keys = tuple(series)
    common: np.ndarray | None = None
    checked: dict[Key, tuple[np.ndarray, np.ndarray]] = {}
    for k in keys:
        ts, cl = (np.asarray(a) for a in series[k])
        ts = ts.astype(np.int64)
        cl = cl.astype(np.float64)
        if ts.ndim != 1 or ts.shape != cl.shape or ts.size == 0:
            raise ValueError(f"align_closes {k}: ts and close must be equal-length non-empty 1-d "
                             f"arrays, got {ts.shape} and {cl.shape}")
        if np.any(np.diff(ts) <= 0):
            i = int(np.flatnonzero(np.diff(ts) <= 0)[0])
            raise ValueError(f"align_closes {k}: timestamps not strictly increasing at index "
                             f"{i + 1} ({ts[i]} then {ts[i + 1]})")
        bad = ~np.isfinite(cl) | (cl <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"align_closes {k}: close {float(cl[i])!r} at index {i} is not finite "
                             "and positive")
        checked[k] = (ts, cl)
        common = ts if common is None else np.intersect1d(common, ts, assume_unique=True)
    assert common is not None
    closes = np.empty((common.size, len(keys)))
    dropped: dict[Key, int] = {}
    for j, k in enumerate(keys):
        ts, cl = checked[k]
        idx = np.searchsorted(ts, common)
        closes[:, j] = cl[idx]
        dropped[k] = int(ts.size - common.size)
    return Aligned(keys, common, closes, dropped)


def half_life(resid: np.ndarray) -> tuple[float, float]:
    """(half-life in bars, phi) of the AR(1) fit resid[t] = c + phi resid[t-1] (statsmodels OLS).

    half-life = -ln 2 / ln(phi) for 0 < phi < 1; inf when phi >= 1 (no mean reversion) and NaN
    when phi <= 0 (alternating, not a decay)."""
    r = np.asarray(resid, dtype=np.float64)
    fit = OLS(r[1:], add_constant(r[:-1])).fit()
    phi = float(fit.params[1])
    if phi >= 1.0:
        return math.inf, phi
    if phi <= 0.0:
        return math.nan, phi
    return -math.log(2.0) / math.log(phi), phi


def pair_stats(y_key: Key, x_key: Key, ly: np.ndarray, lx: np.ndarray, corr_r: float,
               corr_p: float, *, maxlag: int | None = None,
               autolag: str | None = "aic") -> PairStats:
    """Statistics of y on x (log prices). maxlag/autolag go to both coint and adfuller
    (statsmodels' defaults: maxlag 12 (n/100)^(1/4), lag chosen by AIC; on 30 000 one-minute bars
    that is ~50 candidate regressions per test, minutes of CPU: pass a small maxlag there)."""
    fit = OLS(ly, add_constant(lx)).fit()
    alpha, beta = (float(v) for v in fit.params)
    resid = ly - (alpha + beta * lx)
    eg_stat, eg_p, crit = coint(ly, lx, trend="c", maxlag=maxlag, autolag=autolag)
    adf = adfuller(resid, maxlag=maxlag, autolag=autolag.upper() if autolag else None,
                   result_object=False)
    hl, phi = half_life(resid)
    return PairStats(y=y_key, x=x_key, n=int(ly.size), corr_returns=corr_r, corr_prices=corr_p,
                     alpha=alpha, beta=beta, resid_std=float(np.std(resid)),
                     eg_stat=float(eg_stat), eg_pvalue=float(eg_p),
                     eg_crit=(float(crit[0]), float(crit[1]), float(crit[2])),
                     adf_stat=float(adf[0]), adf_pvalue=float(adf[1]), adf_lags=int(adf[2]),
                     half_life=hl, ar1_phi=phi)


@dataclass(frozen=True, slots=True)
class Screened:
    """Every pair considered, with the reason it was dropped (or its statistics)."""
    ranked: list[PairStats]                     # cointegrated at max_pvalue, best first
    rejected: list[tuple[Key, Key, str]]        # (a, b, reason)
    tested: list[PairStats]                     # every pair that passed the correlation screen


def select_pairs(aligned: Aligned, *, min_corr: float = 0.7, max_pvalue: float = 0.05,
                 min_bars: int = 100, pairs: Sequence[tuple[Key, Key]] | None = None,
                 maxlag: int | None = None, autolag: str | None = "aic") -> Screened:
    """Correlation screen, then Engle-Granger in both orders; rank by EG p-value."""
    if not (-1 <= min_corr <= 1) or not (0 < max_pvalue < 1):
        raise ValueError(f"select_pairs: min_corr {min_corr} must be in [-1, 1] and max_pvalue "
                         f"{max_pvalue} in (0, 1)")
    n = aligned.ts_ms.size
    logs = np.log(aligned.closes)
    rets = np.diff(logs, axis=0)
    idx = {k: i for i, k in enumerate(aligned.keys)}
    cand = list(pairs) if pairs is not None else list(combinations(aligned.keys, 2))
    ranked: list[PairStats] = []
    rejected: list[tuple[Key, Key, str]] = []
    tested: list[PairStats] = []
    for a, b in cand:
        if a not in idx or b not in idx:
            raise ValueError(f"select_pairs: pair {a}/{b} is not in the aligned keys "
                             f"{aligned.keys}")
        if n < min_bars:
            rejected.append((a, b, f"only {n} aligned bars (< {min_bars})"))
            continue
        i, j = idx[a], idx[b]
        corr_r = float(np.corrcoef(rets[:, i], rets[:, j])[0, 1])
        corr_p = float(np.corrcoef(logs[:, i], logs[:, j])[0, 1])
        if not (corr_r >= min_corr):
            rejected.append((a, b, f"return correlation {corr_r:.3f} < {min_corr}"))
            continue
        s1 = pair_stats(a, b, logs[:, i], logs[:, j], corr_r, corr_p, maxlag=maxlag,
                        autolag=autolag)
        s2 = pair_stats(b, a, logs[:, j], logs[:, i], corr_r, corr_p, maxlag=maxlag,
                        autolag=autolag)
        best = s1 if s1.eg_pvalue <= s2.eg_pvalue else s2
        tested.append(best)
        if best.eg_pvalue < max_pvalue:
            ranked.append(best)
        else:
            rejected.append((a, b, f"not cointegrated: EG p-value {best.eg_pvalue:.3f} "
                                   f">= {max_pvalue}"))
    ranked.sort(key=lambda s: s.eg_pvalue)
    return Screened(ranked, rejected, tested)


def read_closes(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(ts_ms, close) of a candle CSV in the ../shared/data/ohlcv layout
    (`ts_ms,datetime_utc,open,high,low,close,volume[,...]`, .csv or .csv.gz)."""
    data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(0, 5), dtype=np.float64)
    if data.ndim != 2 or data.shape[0] == 0:
        raise ValueError(f"read_closes: {path} holds no candles")
    return data[:, 0].astype(np.int64), data[:, 1]
