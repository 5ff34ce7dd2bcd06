"""How good a model is: classification metrics and a backtest of its signal after fees.

Signal backtest (candle-based, one instrument): the prediction at bar t's close sets the position
held from close t to close t+1 (so it earns fwd_t = c[t+1]/c[t] - 1). Hysteresis: go long when
P(up) >= enter, short when P(up) <= 1 - enter (unless long_only), go flat when the prediction
crosses back through `exit` (default 0.5). Each change of position pays `fee` (a fraction of the
traded notional: 0.001 = Binance taker 10 bp) on |new - old| (a flip pays twice). Fills at the
close, no slippage beyond the fee: stated in the report's config.

Buy-and-hold over the same bars (one entry fee and one exit fee) is always computed beside it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np


__all__ = ["log_loss", "accuracy", "auc", "classification_metrics", "SignalBacktest",
           "positions_from_probs", "backtest_signal", "buy_and_hold", "Segment", "segments"]


def log_loss(p: np.ndarray, y: np.ndarray, eps: float = 1e-15) -> float:
    p = np.clip(np.asarray(p, np.float64).ravel(), eps, 1 - eps)
    y = np.asarray(y, np.float64).ravel()
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def accuracy(p: np.ndarray, y: np.ndarray) -> float:
    return float(((np.asarray(p).ravel() >= 0.5) == (np.asarray(y).ravel() > 0.5)).mean())


def auc(p: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney statistic (ties get average ranks)."""
    p = np.asarray(p, np.float64).ravel()
    y = np.asarray(y).ravel() > 0.5
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return math.nan
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sp = p[order]
    i = 0
    while i < len(sp):
        j = i
        while j + 1 < len(sp) and sp[j + 1] == sp[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1.0
        i = j + 1
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


def classification_metrics(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"log_loss": log_loss(p, y), "accuracy": accuracy(p, y), "auc": auc(p, y),
            "base_rate": float(np.mean(np.asarray(y) > 0.5)), "n": int(len(y))}


def positions_from_probs(p: np.ndarray, enter: float | np.ndarray = 0.55, exit: float = 0.5,
                         long_only: bool = False) -> np.ndarray:
    """-1/0/+1 per bar with hysteresis; `enter` may be one value or one per bar (walk-forward
    folds with thresholds chosen on their own validation block)."""
    p = np.asarray(p, np.float64).ravel()
    ent = np.broadcast_to(np.asarray(enter, np.float64), p.shape)
    if ent.size and not (0.5 <= exit <= ent.min() and ent.max() < 1.0):
        raise ValueError(f"positions_from_probs: need 0.5 <= exit <= enter < 1, got "
                         f"exit={exit}, enter in [{ent.min()}, {ent.max()}]")
    pos = np.zeros(len(p))
    cur = 0.0
    for i, q in enumerate(p):
        e = ent[i]
        if q >= e:
            cur = 1.0
        elif not long_only and q <= 1.0 - e:
            cur = -1.0
        elif cur > 0 and q < exit:
            cur = 0.0
        elif cur < 0 and q > 1.0 - exit:
            cur = 0.0
        pos[i] = cur
    return pos


@dataclass
class SignalBacktest:
    ts_ns: np.ndarray          # equity sample times: start, then after each bar (n + 1)
    equity: np.ndarray         # (n + 1,), the last sample after the final exit fee
    pos: np.ndarray            # position held over each bar (-1, 0, +1), (n,)
    close_fee: np.ndarray      # fee fraction for closing the previous position at bar k (n + 1)
    open_fee: np.ndarray       # fee fraction for opening the new position at bar k (n,)
    close: np.ndarray          # close at each decision bar
    fwd: np.ndarray

    def summary(self) -> dict[str, Any]:
        e = self.equity
        changes = int(np.count_nonzero(np.diff(np.concatenate([[0.0], self.pos]))))
        return {"total_return": float(e[-1] / e[0] - 1.0), "bars": int(len(self.pos)),
                "position_changes": changes,
                "fee_fraction_paid": float(self.close_fee.sum() + self.open_fee.sum()),
                "exposure": float(np.mean(self.pos != 0)) if len(self.pos) else math.nan,
                "max_drawdown": float(np.max(1.0 - e / np.maximum.accumulate(e)))}


def backtest_signal(pos: np.ndarray, fwd: np.ndarray, ts_ns: np.ndarray, close: np.ndarray,
                    fee: float = 0.001, start_equity: float = 10_000.0,
                    bar_ns: int | None = None) -> SignalBacktest:
    """Equity of holding `pos[t]` over (t, t+1], net of fees, closed flat after the last bar.

    Fees are multiplicative: at bar k the equity is first reduced by the fee for closing the
    old position, then by the fee for opening the new one (a flip pays both)."""
    pos = np.asarray(pos, np.float64)
    fwd = np.asarray(fwd, np.float64)
    if not (len(pos) == len(fwd) == len(ts_ns) == len(close)) or len(pos) == 0:
        raise ValueError(f"backtest_signal: pos, fwd, ts_ns, close must have the same non-zero "
                         f"length, got {len(pos)}, {len(fwd)}, {len(ts_ns)}, {len(close)}")
    if fee < 0:
        raise ValueError(f"backtest_signal: fee must be >= 0, got {fee}")
    if bar_ns is None:
        bar_ns = int(np.median(np.diff(ts_ns))) if len(ts_ns) > 1 else 3_600_000_000_000
    n = len(pos)
    prev = np.concatenate([[0.0], pos[:-1]])
    changed = pos != prev
    close_fee = np.zeros(n + 1)
    close_fee[:n] = fee * np.abs(prev) * changed
    close_fee[n] = fee * abs(pos[-1])
    open_fee = fee * np.abs(pos) * changed
    growth = (1.0 - close_fee[:n]) * (1.0 - open_fee) * (1.0 + pos * fwd)
    eq = start_equity * np.concatenate([[1.0], np.cumprod(growth)])
    eq[-1] *= 1.0 - close_fee[n]
    ts = np.concatenate([[int(ts_ns[0])], np.asarray(ts_ns, np.int64) + bar_ns])
    return SignalBacktest(ts, eq, pos, close_fee, open_fee, np.asarray(close, np.float64), fwd)


def buy_and_hold(fwd: np.ndarray, ts_ns: np.ndarray, close: np.ndarray, fee: float = 0.001,
                 start_equity: float = 10_000.0) -> SignalBacktest:
    return backtest_signal(np.ones(len(fwd)), fwd, ts_ns, close, fee, start_equity)


class Segment(NamedTuple):
    """One run of constant non-zero position (a round trip, in plain numbers)."""
    side: int
    qty: float                 # base units
    entry_ts_ns: int
    entry_price: float
    exit_ts_ns: int
    exit_price: float
    pnl: float                 # quote currency, net of fees
    fees: float
    end_of_run: bool


def segments(bt: SignalBacktest) -> list[Segment]:
    """One Segment per run of constant non-zero position (a flip closes one and opens one).
    pnl is the equity change from just before the entry fee to just after the exit fee, so the
    segments' pnl sums to the equity change."""
    out: list[Segment] = []
    pos, ts, n = bt.pos, bt.ts_ns, len(bt.pos)
    # equity at each decision bar before any fee; the final mark before the last exit fee
    e_pre = bt.equity[:-1]
    e_end = bt.equity[-1] / (1.0 - bt.close_fee[n]) if bt.close_fee[n] < 1 else bt.equity[-1]
    marks = np.concatenate([e_pre, [e_end]])
    px_exit = np.concatenate([bt.close[1:], [bt.close[-1] * (1.0 + bt.fwd[-1])]])
    i = 0
    while i < n:
        if pos[i] == 0:
            i += 1
            continue
        j = i
        while j + 1 < n and pos[j + 1] == pos[i]:
            j += 1
        v0 = marks[i] * (1.0 - bt.close_fee[i])
        fee_in = v0 * bt.open_fee[i]
        fee_out = marks[j + 1] * bt.close_fee[j + 1]
        v1 = marks[j + 1] * (1.0 - bt.close_fee[j + 1])
        out.append(Segment(int(pos[i]), float((v0 - fee_in) / bt.close[i]), int(ts[i]),
                           float(bt.close[i]), int(ts[j + 1]), float(px_exit[j]),
                           float(v1 - v0), float(fee_in + fee_out), j == n - 1))
        i = j + 1
    return out
