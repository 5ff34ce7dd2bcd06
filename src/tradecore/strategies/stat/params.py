"""The settings of a pair's signal, shared by the batch pipeline, the live classes and the strategy.

One dataclass for both modes is what keeps them computing the same thing: a backtest and a live
strategy built from the same PairParams produce the same hedge ratios, z-scores and positions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

HEDGES = ("ols", "kalman")

#: below this variance (of log prices / of the spread) a window carries no information
VAR_EPS = 1e-18

# reasons per bar (the batch signals' `reason` array; PairsSignal returns the same codes). Here,
# not in kernels.py, so that the live path (incremental, strategy) does not import Numba.
R_NONE = 0
R_ENTER = 1          # entered (position -sign(z))
R_EXIT = 2           # z came back to the exit band (or crossed it)
R_STOP = 3           # divergence stop: z moved further away, past stop_z
R_TIME = 4           # time stop: max_bars bars in the trade
R_SKIP_STOP = 5      # flat and |z| >= entry_z but also >= stop_z: not entered (already diverged)
REASONS = ("none", "enter", "exit", "stop", "time", "skip_beyond_stop")


@dataclass(frozen=True, slots=True)
class PairParams:
    """hedge: "ols" (rolling OLS over `window` bars) or "kalman" (Chan's filter with `delta`,
    `ve`; its first `window` bars are warm-up). z_window: bars of the z-score's rolling mean/std.
    entry_z > exit_z, stop_z > entry_z; max_bars: time stop in bars (0 = none).
    recompute_every: bars between exact recomputes of the running sums (0 = the window)."""
    hedge: str = "ols"
    window: int = 168
    z_window: int = 168
    entry_z: float = 2.0
    exit_z: float = 0.5
    stop_z: float = 4.0
    max_bars: int = 168
    delta: float = 1e-4
    ve: float = 1e-3
    recompute_every: int = 0

    def __post_init__(self) -> None:
        if self.hedge not in HEDGES:
            raise ValueError(f"PairParams.hedge: {self.hedge!r}, expected one of {HEDGES}")
        for name in ("window", "z_window"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 2:
                raise ValueError(f"PairParams.{name}: {v!r}, expected an int >= 2")
        if not isinstance(self.max_bars, int) or self.max_bars < 0:
            raise ValueError(f"PairParams.max_bars: {self.max_bars!r}, expected an int >= 0")
        if not isinstance(self.recompute_every, int) or self.recompute_every < 0:
            raise ValueError(f"PairParams.recompute_every: {self.recompute_every!r}, "
                             "expected an int >= 0 (0 = the window)")
        for name in ("entry_z", "exit_z", "stop_z", "delta", "ve"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ValueError(f"PairParams.{name}: {v!r}, expected a finite number")
        if not (0 <= self.exit_z < self.entry_z < self.stop_z):
            raise ValueError(f"PairParams: need 0 <= exit_z < entry_z < stop_z, got exit "
                             f"{self.exit_z}, entry {self.entry_z}, stop {self.stop_z}")
        if not (0 < self.delta < 1) or self.ve <= 0:
            raise ValueError(f"PairParams: need 0 < delta < 1 and ve > 0, got delta "
                             f"{self.delta}, ve {self.ve}")

    @property
    def ols_recompute(self) -> int:
        return self.recompute_every or self.window

    @property
    def z_recompute(self) -> int:
        return self.recompute_every or self.z_window
