"""Value at Risk and Conditional VaR (expected shortfall): historical, parametric, Monte Carlo.

Batch numerics over arrays, in Numba (`@njit(cache=True)`): these run on a timer or at the end of
a bar, never per order (a Numba call costs ~300 ns of dispatch; the per-order gate is Cython).

Conventions. `returns` are simple per-period returns (0.01 = +1 %). `alpha` is the confidence
level (0.99). Results are losses as positive fractions of the position value: VaR is the loss
exceeded with probability 1 - alpha, CVaR the mean loss given that the loss is at least VaR.
Multiply by the portfolio value for money.

  historical   VaR = the alpha-quantile of the losses (linear interpolation between order
               statistics, numpy's default), CVaR = mean of the losses >= VaR.
  parametric   Gaussian: VaR = -mu + sigma z_a, CVaR = -mu + sigma phi(z_a) / (1 - a).
               Cornish-Fisher (cornish_fisher=True) corrects the quantile for the sample skew S
               and excess kurtosis K: z_cf = z + (z^2-1)S/6 + (z^3-3z)K/24 - (2z^3-5z)S^2/36;
               its CVaR averages the corrected quantile over the tail (midpoint rule, 2000 pts).
  monte carlo  draws n returns from N(mu, cov) (Cholesky of cov, seeded RNG: the same seed gives
               the same answer), takes the portfolio return w.r and the historical VaR/CVaR of it.
Portfolio versions take a (T, k) matrix of returns and weights (fractions of value per asset).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["norm_ppf", "historical_var", "parametric_var", "monte_carlo_var",
           "portfolio_historical_var", "portfolio_parametric_var"]


@njit(cache=True)
def norm_ppf(p: float) -> float:
    """Standard normal quantile: Acklam's rational approximation (rel. error 1.2e-9) polished by
    one Halley step on erfc, which brings it to double precision. Upper-tail p are mirrored to
    the lower tail, where erfc has no cancellation."""
    if p <= 0.0 or p >= 1.0:
        return math.nan
    if p > 0.5:
        return -norm_ppf(1.0 - p)         # 1 - p is exact here; the lower tail is accurate
    a1, a2, a3 = -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02
    a4, a5, a6 = 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00
    b1, b2, b3 = -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02
    b4, b5 = 6.680131188771972e+01, -1.328068155288572e+01
    c1, c2, c3 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00
    c4, c5, c6 = -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00
    d1, d2, d3, d4 = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, \
        3.754408661907416e+00
    plow = 0.02425
    if p < plow:
        q = math.sqrt(-2.0 * math.log(p))
        x = (((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / \
            ((((d1 * q + d2) * q + d3) * q + d4) * q + 1.0)
    elif p <= 1.0 - plow:
        q = p - 0.5
        r = q * q
        x = (((((a1 * r + a2) * r + a3) * r + a4) * r + a5) * r + a6) * q / \
            (((((b1 * r + b2) * r + b3) * r + b4) * r + b5) * r + 1.0)
    else:
        q = math.sqrt(-2.0 * math.log(1.0 - p))
        x = -(((((c1 * q + c2) * q + c3) * q + c4) * q + c5) * q + c6) / \
            ((((d1 * q + d2) * q + d3) * q + d4) * q + 1.0)
    e = 0.5 * math.erfc(-x / math.sqrt(2.0)) - p
    u = e * math.sqrt(2.0 * math.pi) * math.exp(x * x / 2.0)
    return x - u / (1.0 + x * u / 2.0)


@njit(cache=True)
def _tail(losses: np.ndarray, alpha: float) -> tuple[float, float]:
    n = losses.shape[0]
    s = np.sort(losses)
    pos = alpha * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    var = s[lo] + (s[hi] - s[lo]) * (pos - lo)
    total, m = 0.0, 0
    for i in range(n):
        if s[i] >= var:
            total += s[i]
            m += 1
    return var, total / m


@njit(cache=True)
def historical_var(returns: np.ndarray, alpha: float) -> tuple[float, float]:
    """(VaR, CVaR) of the empirical loss distribution -returns."""
    if returns.shape[0] < 2 or not 0.0 < alpha < 1.0:
        return math.nan, math.nan
    return _tail(-returns, alpha)


@njit(cache=True)
def _moments(x: np.ndarray) -> tuple[float, float, float, float]:
    """mean, sample std (ddof=1), skew, excess kurtosis (population moments, as scipy's
    default bias=True)."""
    n = x.shape[0]
    mu = x.mean()
    m2 = m3 = m4 = 0.0
    for v in x:
        d = v - mu
        d2 = d * d
        m2 += d2
        m3 += d2 * d
        m4 += d2 * d2
    m2 /= n
    m3 /= n
    m4 /= n
    sd = math.sqrt(m2 * n / (n - 1))
    if m2 == 0.0:
        return mu, sd, 0.0, 0.0
    return mu, sd, m3 / m2 ** 1.5, m4 / (m2 * m2) - 3.0


@njit(cache=True)
def _cf(z: float, s: float, k: float) -> float:
    return (z + (z * z - 1.0) * s / 6.0 + (z ** 3 - 3.0 * z) * k / 24.0
            - (2.0 * z ** 3 - 5.0 * z) * s * s / 36.0)


@njit(cache=True)
def _parametric(mu: float, sd: float, skew: float, kurt: float, alpha: float,
                cornish_fisher: bool) -> tuple[float, float]:
    q = 1.0 - alpha
    z = norm_ppf(q)                       # left tail quantile (negative)
    if not cornish_fisher:
        var = -mu - sd * z
        cvar = -mu + sd * math.exp(-z * z / 2.0) / math.sqrt(2.0 * math.pi) / q
        return var, cvar
    var = -mu - sd * _cf(z, skew, kurt)
    n = 2000
    acc = 0.0
    for i in range(n):
        u = q * (i + 0.5) / n
        acc += _cf(norm_ppf(u), skew, kurt)
    return var, -mu - sd * acc / n


@njit(cache=True)
def parametric_var(returns: np.ndarray, alpha: float,
                   cornish_fisher: bool = False) -> tuple[float, float]:
    """(VaR, CVaR) from the returns' mean and standard deviation (and, with Cornish-Fisher,
    skew and excess kurtosis)."""
    if returns.shape[0] < 3 or not 0.0 < alpha < 1.0:
        return math.nan, math.nan
    mu, sd, s, k = _moments(returns)
    return _parametric(mu, sd, s, k, alpha, cornish_fisher)


@njit(cache=True)
def portfolio_historical_var(returns: np.ndarray, weights: np.ndarray,
                             alpha: float) -> tuple[float, float]:
    """(VaR, CVaR) of the portfolio return series returns @ weights ((T, k) and (k,))."""
    return historical_var(returns @ weights, alpha)


@njit(cache=True)
def portfolio_parametric_var(mean: np.ndarray, cov: np.ndarray, weights: np.ndarray,
                             alpha: float) -> tuple[float, float]:
    """Gaussian (VaR, CVaR) of a portfolio: mu_p = w.mean, sigma_p = sqrt(w' cov w)."""
    mu = 0.0
    for i in range(weights.shape[0]):
        mu += weights[i] * mean[i]
    v = weights @ (cov @ weights)
    return _parametric(mu, math.sqrt(max(v, 0.0)), 0.0, 0.0, alpha, False)


@njit(cache=True)
def monte_carlo_var(mean: np.ndarray, cov: np.ndarray, weights: np.ndarray, alpha: float,
                    n_sims: int, seed: int) -> tuple[float, float]:
    """(VaR, CVaR) of w.r for r ~ N(mean, cov), n_sims draws from a generator seeded with seed.
    cov must be symmetric positive definite (Cholesky)."""
    k = weights.shape[0]
    chol = np.linalg.cholesky(cov)
    b = chol.T @ weights                  # w.(L z) = (L^T w).z
    mu = 0.0
    for i in range(k):
        mu += weights[i] * mean[i]
    np.random.seed(seed)
    sims = np.empty(n_sims)
    for j in range(n_sims):
        acc = mu
        for i in range(k):
            acc += b[i] * np.random.standard_normal()
        sims[j] = acc
    return historical_var(sims, alpha)
