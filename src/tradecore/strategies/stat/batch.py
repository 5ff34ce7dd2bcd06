"""The batch pipeline of one pair (research, backtests): hedge -> spread -> z -> signals -> PnL.

Validates its input once (finite, positive prices, equal lengths) and then runs the Numba kernels
(kernels.py); the live classes (incremental.py) reproduce `hedge`, `spread`, `z`, `pos` and
`reason` bar by bar.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tradecore.strategies.stat import kernels as K
from tradecore.strategies.stat.params import PairParams


@dataclass(frozen=True, slots=True)
class PairSignals:
    alpha: np.ndarray
    beta: np.ndarray
    spread: np.ndarray
    z: np.ndarray
    pos: np.ndarray           # int8, spread position after each bar
    reason: np.ndarray        # int8, kernels.R_*


@dataclass(frozen=True, slots=True)
class Backtest:
    equity: np.ndarray        # cumulative PnL after fees, quote currency, per bar
    trades: np.ndarray        # rows of kernels.TRADE_COLS
    notional: float
    fee_y: float
    fee_x: float
    lag: int

    @property
    def n_trades(self) -> int:
        return int(self.trades.shape[0])

    @property
    def net_pnl(self) -> float:
        return float(self.equity[-1]) if self.equity.size else 0.0

    @property
    def fees(self) -> float:
        return float(self.trades[:, 11].sum()) if self.n_trades else 0.0

    @property
    def gross_pnl(self) -> float:
        return float(self.trades[:, 10].sum()) if self.n_trades else 0.0

    def summary(self) -> dict:
        t = self.trades
        wins = int((t[:, 12] > 0).sum()) if self.n_trades else 0
        reasons = {K.REASONS[int(r)] if r >= 0 else "end_of_data": int((t[:, 13] == r).sum())
                   for r in np.unique(t[:, 13])} if self.n_trades else {}
        return {"trades": self.n_trades, "gross_pnl": self.gross_pnl, "fees": self.fees,
                "net_pnl": self.net_pnl, "win_rate": wins / self.n_trades if self.n_trades else 0,
                "exits": reasons,
                "max_drawdown": float(np.max(np.maximum.accumulate(np.r_[0.0, self.equity])
                                             - np.r_[0.0, self.equity]))}


def _log_prices(p: np.ndarray, what: str) -> np.ndarray:
    a = np.ascontiguousarray(p, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{what}: expected a 1-d array of prices, got shape {a.shape}")
    bad = ~np.isfinite(a) | (a <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{what}: price {float(a[i])!r} at index {i} is not finite and positive")
    return K.log_prices(a)


def pair_signals(py: np.ndarray, px: np.ndarray, params: PairParams) -> PairSignals:
    """Hedge ratio, spread, z-score and signals for prices py (leg y) and px (leg x)."""
    y = _log_prices(py, "leg y")
    x = _log_prices(px, "leg x")
    if x.shape != y.shape:
        raise ValueError(f"legs differ in length: y {y.shape[0]}, x {x.shape[0]} (align first)")
    if params.hedge == "ols":
        alpha, beta = K.rolling_ols(x, y, params.window, params.ols_recompute)
    else:
        alpha, beta, _, _ = K.kalman_hedge(x, y, params.delta, params.ve, params.window)
    s = K.spread(x, y, beta)
    z = K.rolling_zscore(s, params.z_window, params.z_recompute)
    pos, why = K.signals(z, float(params.entry_z), float(params.exit_z), float(params.stop_z),
                         params.max_bars)
    return PairSignals(alpha, beta, s, z, pos, why)


def backtest_pair(py: np.ndarray, px: np.ndarray, params: PairParams, *, notional: float,
                  fee_y: float, fee_x: float, lag: int = 1) -> tuple[PairSignals, Backtest]:
    """Signals, then the spread traded with fills at the close `lag` bars after each signal."""
    if not (notional > 0) or fee_y < 0 or fee_x < 0 or lag < 0:
        raise ValueError(f"backtest_pair: need notional > 0, fees >= 0, lag >= 0; got notional "
                         f"{notional}, fees {fee_y}/{fee_x}, lag {lag}")
    sig = pair_signals(py, px, params)
    eq, trades = K.backtest(np.ascontiguousarray(py, dtype=np.float64),
                            np.ascontiguousarray(px, dtype=np.float64), sig.pos, sig.reason,
                            sig.beta, float(notional), float(fee_y), float(fee_x), int(lag))
    return sig, Backtest(eq, trades, float(notional), float(fee_y), float(fee_x), int(lag))
