"""Labels without look-ahead, time splits with purging and an embargo, walk-forward folds.

A sample is the bar t: its features use bars <= t (features.py) and its label uses bars
t+1 .. t1 (t1 = the bar where the label's outcome is known). Label i therefore "lives" on the
interval [t_i, t1_i]; a training sample whose interval overlaps the test period leaks the test
period's prices into training. Purging drops those; the embargo additionally drops training
samples that start within `embargo` bars after a test period, because features with long
windows are serially correlated with the test period's end (de Prado, AFML ch. 7).

In forward-only splits (`time_split`, `walk_forward_folds`) every training sample precedes the
blocks it is evaluated on, so only purging removes anything there; the embargo acts in
`purged_kfold`, where training blocks also follow the test block.

Samples whose label is not known yet (the last `horizon` bars) get NaN labels and t1 = -1 and
are never used for training or evaluation.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from tradecore.ml.features import Candles, FeatureSource

__all__ = ["forward_returns", "triple_barrier", "Dataset", "make_dataset", "purge_mask",
           "time_split", "walk_forward_folds", "purged_kfold", "Split"]


def forward_returns(close: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Log return from close t to close t+horizon, and t1 = t+horizon (NaN / -1 at the end)."""
    if horizon < 1:
        raise ValueError(f"forward_returns: horizon must be >= 1 bar, got {horizon}")
    c = np.asarray(close, dtype=np.float64)
    n = len(c)
    y = np.full(n, np.nan)
    t1 = np.full(n, -1, dtype=np.int64)
    if n > horizon:
        y[:-horizon] = np.log(c[horizon:] / c[:-horizon])
        t1[:-horizon] = np.arange(horizon, n)
    return y, t1


@nb.njit(cache=True)
def _triple_barrier(c, h, l, vol, horizon, k_up, k_dn, y, t1):  # pragma: no cover - numba
    n = c.shape[0]
    for t in range(n):
        y[t] = np.nan
        t1[t] = -1
        if t + horizon >= n or not (vol[t] > 0.0):
            continue
        up = c[t] * math.exp(k_up * vol[t])
        dn = c[t] * math.exp(-k_dn * vol[t])
        lab = 0.0
        end = t + horizon
        for s in range(t + 1, t + horizon + 1):
            hit_up = h[s] >= up
            hit_dn = l[s] <= dn
            if hit_up and hit_dn:
                # both inside one bar: the order is unknown; the close decides, pessimistically 0
                lab = 1.0 if c[s] >= up else (-1.0 if c[s] <= dn else 0.0)
                end = s
                break
            if hit_up:
                lab = 1.0
                end = s
                break
            if hit_dn:
                lab = -1.0
                end = s
                break
        else:
            r = math.log(c[end] / c[t])
            lab = 1.0 if r > 0.0 else (-1.0 if r < 0.0 else 0.0)
        y[t] = lab
        t1[t] = end


def triple_barrier(candles: Candles, vol: np.ndarray, horizon: int, k_up: float = 1.0,
                   k_dn: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """+1 / -1 when the high / low first crosses close_t * exp(+-k * vol_t) within `horizon`
    bars, else the sign of the return at the vertical barrier. `vol` must be known at t (a
    feature column, e.g. rolling volatility); NaN vol gives a NaN label. t1 is the bar the label
    is decided on. A bar touching both barriers is decided by its close (else 0)."""
    if horizon < 1 or not (k_up > 0 and k_dn > 0):
        raise ValueError(f"triple_barrier: horizon >= 1 and k_up, k_dn > 0 expected, got "
                         f"{horizon}, {k_up}, {k_dn}")
    n = len(candles)
    y = np.empty(n)
    t1 = np.empty(n, dtype=np.int64)
    v = np.nan_to_num(np.asarray(vol, dtype=np.float64), nan=0.0)
    _triple_barrier(candles.close.astype(np.float64), candles.high.astype(np.float64),
                    candles.low.astype(np.float64), v, int(horizon), float(k_up), float(k_dn),
                    y, t1)
    return y, t1


@dataclass
class Dataset:
    """Rows usable for training: complete features and a known label."""
    X: np.ndarray              # (n, f) float64
    y: np.ndarray              # (n,) the target (class 0/1, class index, or return)
    fwd: np.ndarray            # (n,) simple return from close t to close t+1 (for backtests)
    t0: np.ndarray             # (n,) bar index of the sample in the candles
    t1: np.ndarray             # (n,) bar index where the label is known
    ts_ns: np.ndarray          # (n,) timestamp of bar t0
    names: tuple[str, ...]
    task: str                  # "binary" | "multiclass" | "regression"

    def take(self, idx: np.ndarray) -> "Dataset":
        return Dataset(self.X[idx], self.y[idx], self.fwd[idx], self.t0[idx], self.t1[idx],
                       self.ts_ns[idx], self.names, self.task)

    def __len__(self) -> int:
        return len(self.y)


def make_dataset(candles: Candles, features: FeatureSource, *, label: str = "forward",
                 horizon: int = 1, threshold: float = 0.0, task: str = "binary",
                 barrier_k: float = 1.0, vol_column: str | None = None) -> Dataset:
    """Features and labels aligned on bar t, warm-up and unknown-label rows dropped.

    label="forward": the forward log return over `horizon`; task "binary" -> 1 if it exceeds
    `threshold`, "regression" -> the return itself. label="triple_barrier": task "binary" ->
    1 for the upper barrier, "multiclass" -> class 0/1/2 for -1/0/+1."""
    X = features.batch(candles)
    names = tuple(features.names)
    if label == "forward":
        r, t1 = forward_returns(candles.close, horizon)
        if task == "binary":
            y = np.where(np.isnan(r), np.nan, (r > threshold).astype(np.float64))
        elif task == "regression":
            y = r
        else:
            raise ValueError(f"make_dataset: label 'forward' supports task binary|regression, "
                             f"got {task!r}")
    elif label == "triple_barrier":
        col = vol_column or next((nm for nm in names if nm.startswith("vol_")), None)
        if col is None or col not in names:
            raise ValueError(f"make_dataset: triple_barrier needs a volatility feature column, "
                             f"got vol_column={vol_column!r}, names={names}")
        vol = X[:, names.index(col)] * math.sqrt(horizon)
        lab, t1 = triple_barrier(candles, vol, horizon, barrier_k, barrier_k)
        if task == "binary":
            y = np.where(np.isnan(lab), np.nan, (lab > 0).astype(np.float64))
        elif task == "multiclass":
            y = lab + 1.0
        else:
            raise ValueError(f"make_dataset: label 'triple_barrier' supports task "
                             f"binary|multiclass, got {task!r}")
    else:
        raise ValueError(f"make_dataset: label must be 'forward' or 'triple_barrier', got "
                         f"{label!r}")
    c = candles.close
    fwd = np.full(len(c), np.nan)
    fwd[:-1] = c[1:] / c[:-1] - 1.0
    ok = np.all(np.isfinite(X), axis=1) & np.isfinite(y) & (t1 >= 0) & np.isfinite(fwd)
    idx = np.flatnonzero(ok)
    return Dataset(X[idx], y[idx], fwd[idx], idx.astype(np.int64), t1[idx],
                   candles.ts_ns[idx], names, task)


def purge_mask(t0: np.ndarray, t1: np.ndarray, test_start: int, test_end: int,
               embargo: int = 0) -> np.ndarray:
    """True for samples that may train a model tested on bars [test_start, test_end]:
    outside the test period, label interval [t0, t1] not overlapping it (purging), and not
    starting within `embargo` bars after it (embargo)."""
    if test_end < test_start or embargo < 0:
        raise ValueError(f"purge_mask: need test_start <= test_end and embargo >= 0, got "
                         f"{test_start}, {test_end}, {embargo}")
    overlaps = (t0 <= test_end) & (t1 >= test_start)
    embargoed = (t0 > test_end) & (t0 <= test_end + embargo)
    return ~overlaps & ~embargoed


@dataclass(frozen=True)
class Split:
    train: np.ndarray          # row indices into the Dataset
    val: np.ndarray
    test: np.ndarray


def time_split(ds: Dataset, val_frac: float = 0.15, test_frac: float = 0.15,
               embargo: int = 0) -> Split:
    """Chronological train | val | test with purging between them (each later block is the
    "test" of the blocks before it)."""
    if not (0 < val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(f"time_split: fractions must be in (0,1) and sum < 1, got "
                         f"val={val_frac}, test={test_frac}")
    n = len(ds)
    n_test = int(round(n * test_frac))
    n_val = int(round(n * val_frac))
    i_val, i_test = n - n_test - n_val, n - n_test
    if i_val <= 0:
        raise ValueError(f"time_split: {n} samples leave no training data")
    idx = np.arange(n)
    test = idx[i_test:]
    val_all = idx[i_val:i_test]
    train_all = idx[:i_val]
    if len(test):
        keep = purge_mask(ds.t0[val_all], ds.t1[val_all], int(ds.t0[test[0]]),
                          int(ds.t0[test[-1]]), embargo)
        val_all = val_all[keep]
    vs, ve = int(ds.t0[i_val]), int(ds.t0[i_test - 1])
    keep = purge_mask(ds.t0[train_all], ds.t1[train_all], vs, ve, embargo)
    return Split(train_all[keep], val_all, test)


def walk_forward_folds(ds: Dataset, n_folds: int, *, min_train_frac: float = 0.4,
                       val_frac: float = 0.15, embargo: int = 0,
                       max_train: int | None = None) -> list[Split]:
    """Expanding-window walk-forward: the data after the first `min_train_frac` is cut into
    `n_folds` consecutive test blocks; fold k trains on everything before block k (the last
    `val_frac` of it for early stopping), purged against the validation and test blocks.
    `max_train` caps the training window (rolling instead of expanding)."""
    if n_folds < 1 or not 0 < min_train_frac < 1:
        raise ValueError(f"walk_forward_folds: n_folds >= 1 and 0 < min_train_frac < 1 "
                         f"expected, got {n_folds}, {min_train_frac}")
    n = len(ds)
    start = int(n * min_train_frac)
    bounds = np.linspace(start, n, n_folds + 1).astype(int)
    folds = []
    for k in range(n_folds):
        a, b = bounds[k], bounds[k + 1]
        if b <= a:
            continue
        test = np.arange(a, b)
        pre = np.arange(0, a)
        keep = purge_mask(ds.t0[pre], ds.t1[pre], int(ds.t0[a]), int(ds.t0[b - 1]), embargo)
        pre = pre[keep]
        if max_train is not None and len(pre) > max_train:
            pre = pre[-max_train:]
        nv = max(1, int(len(pre) * val_frac))
        val, train = pre[-nv:], pre[:-nv]
        keep = purge_mask(ds.t0[train], ds.t1[train], int(ds.t0[val[0]]),
                          int(ds.t0[val[-1]]), embargo)
        folds.append(Split(train[keep], val, test))
    return folds


def purged_kfold(ds: Dataset, k: int, embargo: int = 0) -> list[Split]:
    """k contiguous test blocks; each trains on all other samples, purged against the test
    block and embargoed after it (AFML 7.4). `val` is empty: use it for model selection, not for
    a trading backtest (training data follow the test period)."""
    if k < 2 or k > len(ds):
        raise ValueError(f"purged_kfold: need 2 <= k <= {len(ds)} samples, got k={k}")
    bounds = np.linspace(0, len(ds), k + 1).astype(int)
    idx = np.arange(len(ds))
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        test = idx[a:b]
        keep = purge_mask(ds.t0, ds.t1, int(ds.t0[a]), int(ds.t0[b - 1]), embargo)
        out.append(Split(idx[keep], idx[:0], test))
    return out
