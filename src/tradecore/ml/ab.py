"""A/B tests of models: route signals to a champion or a challenger, or shadow the challenger;
compare them with a significance test; decide to promote or keep.

Routing (`ABRouter`):
* by symbol: symbols listed in `challenger_symbols` always go to the challenger;
* by share: otherwise a deterministic pseudo-random draw per signal (splitmix64 of a seeded
  counter: reproducible in replays) sends `share` of the signals to the challenger;
* shadow: the champion trades every signal; the challenger predicts the same rows and its
  predictions are only logged.
Every prediction is recorded with its model id (`log`), so each one is traceable.

Comparison (`compare`): per-signal PnL after fees of both models. When both were evaluated on the
same bars (shadow mode, replay) the test is paired: a t-test on the differences and a bootstrap of
their mean (the t p-value uses the normal approximation, sound from ~30 signals; the bootstrap
needs no distributional assumption). Unpaired traffic splits use Welch's t (normal approx.) and a
two-proportion z-test on hit rates. `binomial_test` is exact (hit rate against 50%).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from tradecore.ml.evaluate import positions_from_probs

__all__ = ["ABRouter", "RouteDecision", "signal_pnl", "compare", "binomial_test",
           "paired_test", "welch_test", "decide", "replay_compare", "compare_logged"]

_M64 = (1 << 64) - 1


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@dataclass(frozen=True)
class RouteDecision:
    model: Any                 # the model whose prediction trades
    role: str                  # "champion" | "challenger"
    shadow: Any = None         # a model that predicts without trading (shadow mode)


@dataclass
class ABRouter:
    champion: Any
    challenger: Any = None
    share: float = 0.0
    challenger_symbols: Sequence[str] = ()
    shadow: bool = False
    seed: int = 0
    log: list[tuple[str, int, str, float, bool]] = field(default_factory=list)
    _n: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.share <= 1.0:
            raise ValueError(f"ABRouter: share must be in [0, 1], got {self.share!r}")
        if self.challenger is None and (self.share or self.challenger_symbols or self.shadow):
            raise ValueError("ABRouter: a share, challenger symbols or shadow mode need a "
                             "challenger model")
        if self.shadow and (self.share or self.challenger_symbols):
            raise ValueError("ABRouter: shadow mode sends no traffic to the challenger; "
                             "share and challenger_symbols must be empty")
        self._symbols = frozenset(self.challenger_symbols)

    def route(self, symbol: str) -> RouteDecision:
        if self.challenger is None:
            return RouteDecision(self.champion, "champion")
        if self.shadow:
            return RouteDecision(self.champion, "champion", self.challenger)
        if symbol in self._symbols:
            return RouteDecision(self.challenger, "challenger")
        self._n += 1
        u = _splitmix((self.seed << 32) ^ self._n) / float(1 << 64)
        if u < self.share:
            return RouteDecision(self.challenger, "challenger")
        return RouteDecision(self.champion, "champion")

    def record(self, symbol: str, ts_ns: int, model_id: str, prob: float, shadow: bool) -> None:
        self.log.append((symbol, ts_ns, model_id, prob, shadow))


def signal_pnl(probs: np.ndarray, fwd: np.ndarray, *, enter: float = 0.55, exit: float = 0.5,
               fee: float = 0.001, long_only: bool = False) -> np.ndarray:
    """Per-bar net return of trading the model's signal (position * fwd - fee * |change|)."""
    pos = positions_from_probs(probs, enter, exit, long_only)
    prev = np.concatenate([[0.0], pos[:-1]])
    return pos * np.asarray(fwd, np.float64) - fee * np.abs(pos - prev)


def _norm_sf(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def paired_test(a: np.ndarray, b: np.ndarray, n_boot: int = 2000,
                seed: int = 0) -> dict[str, float]:
    """H0: mean(b - a) = 0 on paired samples. Two-sided p (normal approx. of t) and a bootstrap
    p-value and 95% interval of the mean difference."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"paired_test: need two equal-length samples of >= 2, got {a.shape}, "
                         f"{b.shape}")
    d = b - a
    m, sd = float(d.mean()), float(d.std(ddof=1))
    t = m / (sd / math.sqrt(d.size)) if sd > 0 else (0.0 if m == 0 else math.copysign(math.inf, m))
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    centred = boots - m
    p_boot = float((np.abs(centred) >= abs(m)).mean())
    return {"n": int(d.size), "mean_diff": m, "t": t, "p_value": 2 * _norm_sf(abs(t)),
            "p_bootstrap": p_boot, "ci95": (float(np.quantile(boots, 0.025)),
                                             float(np.quantile(boots, 0.975)))}


def welch_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.size < 2 or b.size < 2:
        raise ValueError(f"welch_test: need >= 2 samples each, got {a.size}, {b.size}")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    m = float(b.mean() - a.mean())
    se = math.sqrt(va + vb)
    t = m / se if se > 0 else 0.0
    return {"n_a": int(a.size), "n_b": int(b.size), "mean_diff": m, "t": t,
            "p_value": 2 * _norm_sf(abs(t))}


def binomial_test(k: int, n: int, p0: float = 0.5) -> float:
    """Exact two-sided binomial p-value (sum of outcomes no more likely than k)."""
    if not 0 <= k <= n or n == 0 or not 0 < p0 < 1:
        raise ValueError(f"binomial_test: need 0 <= k <= n, n > 0, 0 < p0 < 1; got {k}, {n}, "
                         f"{p0}")
    lp = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1)
          + i * math.log(p0) + (n - i) * math.log1p(-p0) for i in range(n + 1)]
    ref = lp[k] + 1e-9
    return float(min(1.0, sum(math.exp(x) for x in lp if x <= ref)))


def compare(pnl_champion: np.ndarray, pnl_challenger: np.ndarray, *, paired: bool,
            seed: int = 0) -> dict[str, Any]:
    a, b = np.asarray(pnl_champion, np.float64), np.asarray(pnl_challenger, np.float64)
    out: dict[str, Any] = {
        "champion": {"n": int(a.size), "mean": float(a.mean()), "total": float(a.sum()),
                     "hit_rate": float((a[a != 0] > 0).mean()) if np.any(a != 0) else math.nan},
        "challenger": {"n": int(b.size), "mean": float(b.mean()), "total": float(b.sum()),
                       "hit_rate": float((b[b != 0] > 0).mean()) if np.any(b != 0) else math.nan},
        "paired": paired}
    out["test"] = paired_test(a, b, seed=seed) if paired else welch_test(a, b)
    traded = b[b != 0]
    if traded.size:
        out["challenger"]["hit_rate_p"] = binomial_test(int((traded > 0).sum()), int(traded.size))
    return out


def decide(result: dict[str, Any], alpha: float = 0.05, min_n: int = 100) -> str:
    """"promote" when the challenger is better with p < alpha on enough signals, "reject" when
    it is significantly worse, else "keep testing"."""
    t = result["test"]
    n = t.get("n", min(t.get("n_a", 0), t.get("n_b", 0)))
    if n < min_n:
        return "keep testing"
    if t["p_value"] < alpha:
        return "promote" if t["mean_diff"] > 0 else "reject"
    return "keep testing"


def replay_compare(champion, challenger, X: np.ndarray, fwd: np.ndarray, *, enter: float = 0.55,
                   exit: float = 0.5, fee: float = 0.001, long_only: bool = False) -> dict[str, Any]:
    """Both models on the same replayed feature rows (shadow evaluation): paired comparison of
    their signals' per-bar PnL after fees."""
    pa = champion.predict(X).reshape(len(X), -1)[:, -1]
    pb = challenger.predict(X).reshape(len(X), -1)[:, -1]
    kw = dict(enter=enter, exit=exit, fee=fee, long_only=long_only)
    res = compare(signal_pnl(pa, fwd, **kw), signal_pnl(pb, fwd, **kw), paired=True)
    res["champion"]["model_id"] = getattr(champion, "model_id", "")
    res["challenger"]["model_id"] = getattr(challenger, "model_id", "")
    res["decision"] = decide(res)
    return res


def compare_logged(log: Sequence[tuple[str, int, str, float, bool]], symbol: str,
                   ts_ns: np.ndarray, close: np.ndarray, champion_id: str, challenger_id: str,
                   *, enter: float = 0.55, exit: float = 0.5, fee: float = 0.001,
                   long_only: bool = False) -> dict[str, Any]:
    """Compare two models from the router's live prediction log (symbol, ts, model id, P(up),
    shadow) and the symbol's closes: each model's signal is traded on the bars it predicted,
    earning close[t+1]/close[t] - 1. Paired when both predicted the same bars (shadow mode),
    else Welch on the per-bar PnL of the bars each model was routed."""
    ts_ns = np.asarray(ts_ns, np.int64)
    close = np.asarray(close, np.float64)
    fwd = np.full(len(close), np.nan)
    fwd[:-1] = close[1:] / close[:-1] - 1.0
    where = {int(t): i for i, t in enumerate(ts_ns)}
    per: dict[str, dict[int, float]] = {champion_id: {}, challenger_id: {}}
    for sym, ts, mid, prob, _shadow in log:
        if sym == symbol and mid in per and int(ts) in where:
            per[mid][int(ts)] = prob
    ts_a, ts_b = sorted(per[champion_id]), sorted(per[challenger_id])
    paired = ts_a == ts_b

    def pnl(tss, probs):
        idx = np.array([where[t] for t in tss], dtype=np.int64)
        ok = np.isfinite(fwd[idx])
        return signal_pnl(np.asarray(probs)[ok], fwd[idx][ok], enter=enter, exit=exit, fee=fee,
                          long_only=long_only)

    a = pnl(ts_a, [per[champion_id][t] for t in ts_a])
    b = pnl(ts_b, [per[challenger_id][t] for t in ts_b])
    res = compare(a, b, paired=paired)
    res["champion"]["model_id"], res["challenger"]["model_id"] = champion_id, challenger_id
    res["decision"] = decide(res)
    return res
