"""EWMA correlation of the traded symbols, clusters of correlated symbols, cluster limits.

Why: a long BTC and a long ETH position are mostly one bet (hourly correlation ~0.8), so
per-symbol limits let the book hold twice the risk it means to. Symbols whose returns correlate
strongly are grouped into clusters and the gate limits the signed sum of a cluster's exposures
(tradecore.risk.gate, CLUSTER_EXPOSURE).

Covariance is RiskMetrics' exponentially weighted estimate with zero mean (the mean of short-
horizon returns is noise next to their variance), with normalised weights:
    N_t = lam N_{t-1} + r_t r_t^T,   W_t = lam W_{t-1} + 1,   S_t = N_t / W_t.
Once W has converged (W -> 1 / (1 - lam)) this is RiskMetrics' S_t = lam S_{t-1} + (1 - lam)
r_t r_t^T; normalising instead of seeding S_1 = r_1 r_1^T keeps the first bars from weighing
too much (with lam near 1 a seed would dominate for thousands of bars), and lam -> 1 gives the
zero-mean sample covariance. lam = 0.94 is RiskMetrics' choice for daily data; use more for finer
bars (the half-life is ln 0.5 / ln lam bars). `ewma_cov_batch` computes the same matrix from a
whole (T, k) array in one weighted product; tests require both to agree.

Clusters are the connected components of the graph with an edge between i and j when
|corr_ij| >= threshold (single linkage: A~B and B~C puts A, B, C together even if A and C are
less correlated, which is the conservative side for a limit). Each member's sign is its
correlation sign relative to the cluster's first member, propagated along the edges found, so a
negatively correlated member offsets rather than adds.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from tradecore.risk.limits import ClusterLimit

__all__ = ["EwmaCovariance", "ewma_cov_batch", "cov_to_corr", "find_clusters",
           "cluster_limits", "push_clusters"]


def _check_lam(lam: float) -> float:
    if not isinstance(lam, (int, float)) or not 0.0 < lam < 1.0:
        raise ValueError(f"lam = {lam!r}: expected a decay factor in (0, 1)")
    return float(lam)


class EwmaCovariance:
    """Incremental EWMA covariance of k return series (one `update` per bar, all symbols)."""

    def __init__(self, k: int, lam: float = 0.94) -> None:
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k = {k!r}: expected the number of symbols, >= 1")
        self.k = k
        self.lam = _check_lam(lam)
        self._num = np.zeros((k, k))
        self._w = 0.0
        self.n = 0

    def update(self, r: Sequence[float] | np.ndarray) -> None:
        """One bar's returns of every symbol, in a fixed order (NaN is an error: align the
        bars first; a missing bar is not a zero return)."""
        r = np.asarray(r, dtype=np.float64)
        if r.shape != (self.k,) or not np.all(np.isfinite(r)):
            raise ValueError(f"returns {r!r}: expected {self.k} finite numbers")
        self._num *= self.lam
        self._num += np.outer(r, r)
        self._w = self.lam * self._w + 1.0
        self.n += 1

    @property
    def cov(self) -> np.ndarray:
        """The current estimate (zeros before the first update)."""
        return self._num / self._w if self._w else np.zeros((self.k, self.k))

    @property
    def corr(self) -> np.ndarray:
        return cov_to_corr(self.cov)


def ewma_cov_batch(returns: np.ndarray, lam: float = 0.94) -> np.ndarray:
    """The EWMA covariance after all T rows of returns (T, k), equal to T incremental updates:
    row t (1-based) weighs lam^(T-t), and the weights are normalised to sum to 1."""
    lam = _check_lam(lam)
    r = np.asarray(returns, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] < 1 or not np.all(np.isfinite(r)):
        raise ValueError(f"returns of shape {r.shape}: expected a finite (T >= 1, k) array")
    t = r.shape[0]
    w = lam ** np.arange(t - 1, -1, -1, dtype=np.float64)
    return (r * (w / w.sum())[:, None]).T @ r


def cov_to_corr(cov: np.ndarray) -> np.ndarray:
    """Correlation from covariance; a series with zero variance correlates 0 with the others."""
    d = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        c = cov / np.outer(d, d)
    c[~np.isfinite(c)] = 0.0
    np.fill_diagonal(c, 1.0)
    return np.clip(c, -1.0, 1.0)


def find_clusters(corr: np.ndarray, threshold: float,
                  min_size: int = 2) -> list[tuple[list[int], list[int]]]:
    """[(member indexes ascending, signs)] of the components with >= min_size members."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold = {threshold!r}: expected a correlation in (0, 1]")
    k = corr.shape[0]
    seen = [False] * k
    out = []
    for start in range(k):
        if seen[start]:
            continue
        seen[start] = True
        sign = {start: 1}
        queue = deque([start])
        while queue:
            i = queue.popleft()
            for j in range(k):
                if not seen[j] and j != i and abs(corr[i, j]) >= threshold:
                    seen[j] = True
                    sign[j] = sign[i] * (1 if corr[i, j] >= 0 else -1)
                    queue.append(j)
        if len(sign) >= min_size:
            members = sorted(sign)
            out.append((members, [sign[m] for m in members]))
    return out


def cluster_limits(keys: Sequence[tuple[str, str]], corr: np.ndarray, threshold: float,
                   limit: float) -> list[ClusterLimit]:
    """ClusterLimits (one limit for every cluster) for the symbols `keys` in corr's order."""
    if len(keys) != corr.shape[0]:
        raise ValueError(f"{len(keys)} keys for a {corr.shape[0]}x{corr.shape[0]} matrix")
    return [ClusterLimit(tuple(keys[m] for m in members), tuple(signs), limit)
            for members, signs in find_clusters(corr, threshold)]


def push_clusters(gate, keys: Sequence[tuple[str, str]], corr: np.ndarray, threshold: float,
                  limit: float) -> list[ClusterLimit]:
    """Compute the clusters and replace the gate's (gate.set_cluster_limits)."""
    cl = cluster_limits(keys, corr, threshold, limit)
    gate.set_cluster_limits(cl)
    return cl
