"""Performance metrics of a run: pure functions over numpy arrays.

Every definition is written out in its docstring (and in docs/reports.md) because "Sharpe" or
"max drawdown duration" means different things in different tools. The return-based ratios follow
empyrical (Quantopian), which quantstats also follows, so figures can be compared with theirs:

* returns are simple returns `r_t = E_t / E_{t-1} - 1`, one per period;
* `periods_per_year` is an argument (crypto trades every day: 365 for daily returns);
* the risk-free rate is an *annual* rate, turned into a per-period rate by compounding,
  `rf_p = (1 + rf) ** (1 / periods_per_year) - 1` (empyrical takes the per-period rate directly;
  with `risk_free=0`, the default, both agree exactly);
* standard deviations are sample standard deviations (`ddof=1`), as in empyrical/quantstats;
* the Sortino downside deviation is empyrical's: `sqrt(mean(min(r - target, 0) ** 2))` over *all*
  periods (periods above the target count as zeros), not the std of the negative returns only;
* a metric that is not defined for the input (no periods, zero volatility, no losing trade...)
  is `nan` or `inf`, never a made-up 0: reports map both to null (results.py).

Money is float quote currency, times int64 ns since the epoch.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = [
    "NS_PER_SECOND", "NS_PER_DAY", "NS_PER_YEAR", "DAYS_PER_YEAR",
    "simple_returns", "period_closes", "period_returns", "daily_returns", "monthly_returns",
    "total_return", "cagr", "annualized_return", "annualized_volatility", "sharpe_ratio",
    "downside_deviation", "sortino_ratio", "drawdown_series", "max_drawdown",
    "max_drawdown_duration", "calmar_ratio", "profit_factor", "expectancy", "win_rate",
    "average_win", "average_loss", "trade_count", "turnover", "exposure", "total_fees",
    "latency_percentiles", "LATENCY_QUANTILES",
]

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND
DAYS_PER_YEAR = 365                      # crypto trades every calendar day
NS_PER_YEAR = DAYS_PER_YEAR * NS_PER_DAY
LATENCY_QUANTILES = (50.0, 90.0, 99.0, 99.9)


# --------------------------------------------------------------------------- input checking

def _floats(x, what: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-d array, got shape {a.shape}")
    return a


def _equity(equity, what: str = "equity") -> np.ndarray:
    e = _floats(equity, what)
    if e.size and not np.all(np.isfinite(e)):
        i = int(np.flatnonzero(~np.isfinite(e))[0])
        raise ValueError(f"{what}: non-finite value {e[i]!r} at index {i}")
    if e.size and np.any(e <= 0):
        i = int(np.flatnonzero(e <= 0)[0])
        raise ValueError(f"{what}: equity must be > 0 for returns to be defined, "
                         f"got {e[i]!r} at index {i}")
    return e


def _timestamps(ts_ns, n: int, what: str = "ts_ns") -> np.ndarray:
    t = np.asarray(ts_ns)
    if t.ndim != 1 or t.size != n:
        raise ValueError(f"{what}: expected {n} timestamps, got shape {t.shape}")
    if t.size and not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"{what}: expected int64 ns since the epoch, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=False)
    if t.size > 1 and np.any(np.diff(t) < 0):
        i = int(np.flatnonzero(np.diff(t) < 0)[0])
        raise ValueError(f"{what}: timestamps must not decrease, "
                         f"{t[i + 1]} follows {t[i]} at index {i + 1}")
    return t


def _check_ppy(periods_per_year: float) -> float:
    if not (periods_per_year > 0 and math.isfinite(periods_per_year)):
        raise ValueError(f"periods_per_year must be a positive number, got {periods_per_year!r}")
    return float(periods_per_year)


# --------------------------------------------------------------------------- resampling

def simple_returns(equity) -> np.ndarray:
    """`r[i] = equity[i+1] / equity[i] - 1` (n - 1 returns for n samples)."""
    e = _equity(equity)
    if e.size < 2:
        return np.empty(0)
    return e[1:] / e[:-1] - 1.0


def period_closes(ts_ns, equity, period_ns: int = NS_PER_DAY, origin_ns: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Equity at the close of each period an irregular equity series spans.

    Periods are `[origin + k*period, origin + (k+1)*period)`; with the default origin 0 and a
    one-day period they are UTC calendar days. The close of a period is the last sample inside
    it; a period without samples (the engine recorded nothing, e.g. nothing happened) closes at
    the previous close: equity is a level that persists, so it is forward-filled, never
    interpolated. Returns (period start ns, close), one row per period from the first sample's
    period to the last sample's, both included."""
    e = _equity(equity)
    t = _timestamps(ts_ns, e.size)
    if period_ns <= 0:
        raise ValueError(f"period_ns must be > 0, got {period_ns}")
    if e.size == 0:
        return np.empty(0, np.int64), np.empty(0)
    bucket = (t - origin_ns) // period_ns
    first, last = int(bucket[0]), int(bucket[-1])
    n = last - first + 1
    # last sample of each bucket: the index before the next bucket starts
    is_last = np.append(bucket[1:] != bucket[:-1], True)
    idx_of_bucket = np.full(n, -1, np.int64)
    idx_of_bucket[bucket[is_last] - first] = np.flatnonzero(is_last)
    # forward-fill buckets with no sample (the first bucket always has one)
    np.maximum.accumulate(idx_of_bucket, out=idx_of_bucket)
    starts = origin_ns + (np.arange(n, dtype=np.int64) + first) * period_ns
    return starts, e[idx_of_bucket]


def period_returns(ts_ns, equity, period_ns: int = NS_PER_DAY, origin_ns: int = 0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Simple returns per period (see `period_closes`), one per period spanned.

    The first period's return is measured from the first equity sample (the run's opening
    equity), not from the close of a period before the run: so a run of three days yields three
    daily returns and their compounded product equals the total return exactly.
    Returns (period start ns, return)."""
    starts, closes = period_closes(ts_ns, equity, period_ns, origin_ns)
    if closes.size == 0:
        return starts, closes
    prev = np.concatenate(([_equity(equity)[0]], closes[:-1]))
    return starts, closes / prev - 1.0


def daily_returns(ts_ns, equity) -> tuple[np.ndarray, np.ndarray]:
    """UTC calendar-day returns of an irregular equity series (`period_returns` with one day)."""
    return period_returns(ts_ns, equity, NS_PER_DAY, 0)


def monthly_returns(ts_ns, equity) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Calendar-month (UTC) returns: (year, month 1-12, return), one row per month spanned.

    Same rules as `period_returns`: the first month's return runs from the first sample, the
    last month's to the last sample, so partial months at either end are partial returns (the
    report says so). Months without samples carry the previous close (return 0)."""
    e = _equity(equity)
    t = _timestamps(ts_ns, e.size)
    if e.size == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    # months since 1970-01
    month = t.astype("datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    first, last = int(month[0]), int(month[-1])
    n = last - first + 1
    is_last = np.append(month[1:] != month[:-1], True)
    idx = np.full(n, -1, np.int64)
    idx[month[is_last] - first] = np.flatnonzero(is_last)
    np.maximum.accumulate(idx, out=idx)
    closes = e[idx]
    prev = np.concatenate(([e[0]], closes[:-1]))
    m = np.arange(first, last + 1, dtype=np.int64)
    return 1970 + m // 12, m % 12 + 1, closes / prev - 1.0


# --------------------------------------------------------------------------- return metrics

def total_return(equity) -> float:
    """`E_last / E_first - 1`; nan for fewer than two samples."""
    e = _equity(equity)
    return float(e[-1] / e[0] - 1.0) if e.size >= 2 else math.nan


def cagr(ts_ns, equity) -> float:
    """Compound annual growth rate over wall-clock time:
    `(E_last / E_first) ** (1 / years) - 1`, `years = (t_last - t_first) / 365 days`.

    nan when the run has no duration. Annualising a run of a few weeks extrapolates wildly;
    the report shows it next to the total return and the run's length for that reason."""
    e = _equity(equity)
    t = _timestamps(ts_ns, e.size)
    if e.size < 2 or t[-1] == t[0]:
        return math.nan
    years = (t[-1] - t[0]) / NS_PER_YEAR
    return float((e[-1] / e[0]) ** (1.0 / years) - 1.0)


def annualized_return(returns, periods_per_year: float) -> float:
    """empyrical's `annual_return`: `prod(1 + r) ** (periods_per_year / n) - 1`; nan if n = 0,
    -1 if the compounded growth is <= 0 (a return of -100 % or worse: everything lost)."""
    r = _floats(returns, "returns")
    ppy = _check_ppy(periods_per_year)
    if r.size == 0:
        return math.nan
    growth = float(np.prod(1.0 + r))
    if growth <= 0:
        return -1.0
    return growth ** (ppy / r.size) - 1.0


def annualized_volatility(returns, periods_per_year: float) -> float:
    """`std(r, ddof=1) * sqrt(periods_per_year)` (sample std); nan for fewer than 2 returns."""
    r = _floats(returns, "returns")
    ppy = _check_ppy(periods_per_year)
    if r.size < 2:
        return math.nan
    return float(np.std(r, ddof=1) * math.sqrt(ppy))


def _per_period_rf(risk_free: float, ppy: float) -> float:
    return (1.0 + risk_free) ** (1.0 / ppy) - 1.0


def sharpe_ratio(returns, periods_per_year: float, risk_free: float = 0.0) -> float:
    """`mean(r - rf_p) / std(r - rf_p, ddof=1) * sqrt(periods_per_year)`.

    `risk_free` is annual, `rf_p = (1 + risk_free) ** (1 / periods_per_year) - 1`. nan for fewer
    than 2 returns or zero volatility (a constant series has no risk-adjusted return)."""
    r = _floats(returns, "returns")
    ppy = _check_ppy(periods_per_year)
    if r.size < 2:
        return math.nan
    x = r - _per_period_rf(risk_free, ppy)
    sd = float(np.std(x, ddof=1))
    if sd == 0.0 or not math.isfinite(sd):
        return math.nan
    return float(np.mean(x) / sd * math.sqrt(ppy))


def downside_deviation(returns, target: float = 0.0) -> float:
    """Per-period downside deviation, empyrical's: `sqrt(mean(min(r - target, 0) ** 2))`.

    The mean runs over all periods (population form, n in the denominator): periods above the
    target count as zero shortfall. nan for no returns."""
    r = _floats(returns, "returns")
    if r.size == 0:
        return math.nan
    short = np.minimum(r - target, 0.0)
    return float(math.sqrt(np.mean(short * short)))


def sortino_ratio(returns, periods_per_year: float, risk_free: float = 0.0) -> float:
    """`mean(r - rf_p) / downside_deviation(r, rf_p) * sqrt(periods_per_year)` (empyrical's
    `sortino_ratio` with `required_return = rf_p`). `risk_free` is annual (see `sharpe_ratio`).

    No period below the target: +inf when the mean excess return is positive (no downside at
    all), nan otherwise; nan for fewer than 2 returns."""
    r = _floats(returns, "returns")
    ppy = _check_ppy(periods_per_year)
    if r.size < 2:
        return math.nan
    rf = _per_period_rf(risk_free, ppy)
    mean = float(np.mean(r - rf))
    dd = downside_deviation(r, rf)
    if dd == 0.0:
        return math.inf if mean > 0 else math.nan
    return mean / dd * math.sqrt(ppy)


def drawdown_series(equity) -> np.ndarray:
    """`E_t / max(E_0..E_t) - 1`: 0 at a new high, negative below it (the underwater curve)."""
    e = _equity(equity)
    if e.size == 0:
        return np.empty(0)
    return e / np.maximum.accumulate(e) - 1.0


def max_drawdown(equity) -> float:
    """Deepest drawdown as a negative fraction, `min_t(E_t / max_{s<=t} E_s - 1)` (empyrical's
    sign convention: -0.25 is a 25 % fall from a peak). 0 for a curve that never falls; nan for
    no samples."""
    dd = drawdown_series(equity)
    return float(dd.min()) if dd.size else math.nan


def max_drawdown_duration(ts_ns, equity) -> tuple[int, bool]:
    """Longest time spent below a previous peak, in ns, and whether that spell recovered.

    A spell starts at the sample that set the peak and ends at the first later sample whose
    equity is back at or above the peak (recovered), or at the last sample (not recovered; its
    duration so far counts). Durations are wall-clock time from the timestamps, not sample counts,
    so irregular sampling cannot distort them. (0, True) when equity never falls below a peak."""
    e = _equity(equity)
    t = _timestamps(ts_ns, e.size)
    if e.size == 0:
        return 0, True
    peak = np.maximum.accumulate(e)
    at_peak = e >= peak                       # samples that are (or equal) a running high
    # timestamp of the most recent at-peak sample, for every sample
    last_peak_idx = np.maximum.accumulate(np.where(at_peak, np.arange(e.size), 0))
    under = ~at_peak
    if not under.any():
        return 0, True
    best, best_recovered = 0, True
    # spells: maximal runs of underwater samples; each ends at the next at-peak sample (if any)
    starts = np.flatnonzero(under & ~np.concatenate(([False], under[:-1])))
    ends = np.flatnonzero(under & ~np.concatenate((under[1:], [False])))
    for s, en in zip(starts, ends):
        t_peak = t[last_peak_idx[s]]
        recovered = bool(en + 1 < e.size)
        t_end = t[en + 1] if recovered else t[en]
        d = int(t_end - t_peak)
        if d > best:
            best, best_recovered = d, recovered
    return best, best_recovered


def calmar_ratio(annual_return: float, max_dd: float) -> float:
    """`annual_return / |max_drawdown|` (empyrical's `calmar_ratio`, which uses its annual
    return over the whole series rather than a 36-month window). nan when there was no
    drawdown or either input is undefined."""
    if not (math.isfinite(annual_return) and math.isfinite(max_dd)) or max_dd >= 0:
        return math.nan
    return annual_return / abs(max_dd)


# --------------------------------------------------------------------------- trade metrics

def profit_factor(pnl) -> float:
    """`sum(winning pnl) / |sum(losing pnl)|` over round trips (net of fees).

    +inf with wins and no losses; nan with no wins and no losses (no trades, or all flat)."""
    p = _floats(pnl, "pnl")
    gains = float(p[p > 0].sum())
    losses = float(-p[p < 0].sum())
    if losses == 0.0:
        return math.inf if gains > 0 else math.nan
    return gains / losses


def expectancy(pnl) -> float:
    """Mean PnL per round trip (quote currency, net of fees): `win_rate * avg_win +
    (1 - win_rate) * avg_loss` written as the plain mean. nan with no trades."""
    p = _floats(pnl, "pnl")
    return float(p.mean()) if p.size else math.nan


def win_rate(pnl) -> float:
    """Fraction of round trips with pnl > 0 (a trade at exactly 0 is not a win). nan with none."""
    p = _floats(pnl, "pnl")
    return float(np.count_nonzero(p > 0) / p.size) if p.size else math.nan


def average_win(pnl) -> float:
    """Mean pnl of the winning round trips (pnl > 0); nan without wins."""
    p = _floats(pnl, "pnl")
    w = p[p > 0]
    return float(w.mean()) if w.size else math.nan


def average_loss(pnl) -> float:
    """Mean pnl of the losing round trips (pnl < 0; a negative number); nan without losses."""
    p = _floats(pnl, "pnl")
    w = p[p < 0]
    return float(w.mean()) if w.size else math.nan


def trade_count(pnl) -> int:
    """Number of round trips."""
    return int(_floats(pnl, "pnl").size)


def turnover(notionals, equity) -> float:
    """Traded notional over mean equity: `sum(|notional of each fill|) / mean(E)`.

    1.0 means the run traded its capital once (a full round trip of the whole account is 2.0).
    Not annualised: the report shows it next to the run's length. nan without equity samples."""
    n = _floats(notionals, "notionals")
    e = _equity(equity)
    if e.size == 0:
        return math.nan
    return float(np.abs(n).sum() / e.mean())


def exposure(intervals_ns, start_ns: int, end_ns: int) -> float:
    """Fraction of the run's wall-clock time with at least one position open.

    `intervals_ns` is an (n, 2) array of [open, close) times (one row per round trip); overlapping
    intervals (two strategies, two symbols) count once, so this is time in the market, not
    notional exposure. Intervals are clipped to [start, end]. nan for a run without duration."""
    iv = np.asarray(intervals_ns, dtype=np.int64).reshape(-1, 2)
    if end_ns <= start_ns:
        return math.nan
    if iv.size == 0:
        return 0.0
    if np.any(iv[:, 1] < iv[:, 0]):
        i = int(np.flatnonzero(iv[:, 1] < iv[:, 0])[0])
        raise ValueError(f"intervals_ns: row {i} closes ({iv[i, 1]}) before it opens ({iv[i, 0]})")
    iv = np.clip(iv, start_ns, end_ns)
    iv = iv[np.argsort(iv[:, 0], kind="stable")]
    # merged union: a new block starts where an interval opens after every earlier one closed
    ends_so_far = np.maximum.accumulate(iv[:, 1])
    new_block = np.concatenate(([True], iv[1:, 0] > ends_so_far[:-1]))
    block_id = np.cumsum(new_block) - 1
    block_start = iv[new_block, 0]
    block_end = np.zeros(block_start.size, np.int64)
    np.maximum.at(block_end, block_id, iv[:, 1])
    covered = int((block_end - block_start).sum())
    return covered / (end_ns - start_ns)


def total_fees(fees) -> float:
    """Sum of fees paid (quote currency; rebates are negative fees and reduce it)."""
    return float(_floats(fees, "fees").sum())


# --------------------------------------------------------------------------- latency

def latency_percentiles(samples_ns, quantiles=LATENCY_QUANTILES) -> dict[str, float]:
    """p50/p90/p99/p99.9 (and count, mean, max) of latency samples in ns.

    Percentiles use numpy's default linear interpolation between order statistics (type 7,
    as pandas/Excel). With few samples the high percentiles are interpolations near the maximum,
    so `count` is reported beside them. Values are nan without samples."""
    s = _floats(samples_ns, "samples_ns")
    out: dict[str, float] = {"count": int(s.size)}
    for q in quantiles:
        key = "p" + (f"{q:g}".replace(".", "_"))
        out[key] = float(np.percentile(s, q)) if s.size else math.nan
    out["mean"] = float(s.mean()) if s.size else math.nan
    out["max"] = float(s.max()) if s.size else math.nan
    return out
