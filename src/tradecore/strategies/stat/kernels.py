"""Batch statistics of a pair in Numba: hedge ratio, spread z-score, signals and a spread backtest.

Inputs are log prices `y` (the leg we buy when long the spread) and `x` (the hedge leg), one
value per aligned bar (selection.align_closes). Every quantity at bar t uses bars <= t only, so a
value is known at the close of bar t; the backtest adds the execution lag.

The live classes in incremental.py repeat these loops step by step with the *same* floating-point
operations in the same order, which is why batch and live agree (tests compare them to 1e-9 on
real candles at every bar). Change one and you must change the other.

Running sums and drift. The rolling OLS and the rolling z-score keep running sums (add the new
point, subtract the leaving one): O(1) per bar. Sums of raw log prices (~10) would lose 5-6 digits
to cancellation in `Sxx/n - mean^2` when the window's variance is small, and add/subtract drifts by
~1 ulp of the sums per bar. Both are bounded the same way: every `recompute_every` bars the sums
are recomputed exactly over the current window, in coordinates shifted by the newest point (so the
shifted values are small and the variance is computed without large cancellation). Drift therefore
never accumulates over more than `recompute_every` bars; the amortised cost is O(window /
recompute_every) per bar (default recompute_every = window: O(1)).

Degenerate windows (log-price variance below VAR_EPS, e.g. a stablecoin pinned to one tick) give
NaN hedge ratios and NaN spreads; a NaN spread restarts the z-score window (the z-score is NaN until
`z_window` finite spreads follow). Signals hold their state through NaN z-scores (only the time
stop acts).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from tradecore.strategies.stat.params import (R_ENTER, R_EXIT, R_NONE, R_SKIP_STOP,  # noqa: F401
                                              R_STOP, R_TIME, REASONS, VAR_EPS)


@njit(cache=True)
def log_prices(p):
    """math.log of each price: libm's log, the same function the live classes call (numpy's own
    vectorised log may differ by an ulp, which the OLS's cancellation would amplify)."""
    out = np.empty(p.shape[0])
    for i in range(p.shape[0]):
        out[i] = math.log(p[i])
    return out


# -- rolling OLS -------------------------------------------------------------------------------
@njit(cache=True)
def _ols_from_sums(n, sx, sy, sxx, sxy, cx, cy):
    mx = sx / n
    my = sy / n
    vxx = sxx / n - mx * mx
    if vxx <= VAR_EPS:
        return math.nan, math.nan
    cxy = sxy / n - mx * my
    beta = cxy / vxx
    alpha = (my + cy) - beta * (mx + cx)
    return alpha, beta


@njit(cache=True)
def rolling_ols(x, y, window, recompute_every):
    """alpha[t], beta[t] of y = alpha + beta x over bars (t-window, t]; NaN before the window fills.

    O(1) per bar with running sums of (x - cx, y - cy); exact recompute (and a new shift cx, cy =
    the newest point) every `recompute_every` bars, the first bar included.
    """
    n_bars = x.shape[0]
    alpha = np.full(n_bars, np.nan)
    beta = np.full(n_bars, np.nan)
    cx = 0.0
    cy = 0.0
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    sxy = 0.0
    k = recompute_every
    for t in range(n_bars):
        start = t - window + 1
        if start < 0:
            start = 0
        if k >= recompute_every:
            cx = x[t]
            cy = y[t]
            sx = 0.0
            sy = 0.0
            sxx = 0.0
            sxy = 0.0
            for i in range(start, t + 1):
                dx = x[i] - cx
                dy = y[i] - cy
                sx += dx
                sy += dy
                sxx += dx * dx
                sxy += dx * dy
            k = 1
        else:
            dx = x[t] - cx
            dy = y[t] - cy
            sx += dx
            sy += dy
            sxx += dx * dx
            sxy += dx * dy
            j = t - window
            if j >= 0:
                dx = x[j] - cx
                dy = y[j] - cy
                sx -= dx
                sy -= dy
                sxx -= dx * dx
                sxy -= dx * dy
            k += 1
        n = t - start + 1
        if n >= window:
            a, b = _ols_from_sums(float(n), sx, sy, sxx, sxy, cx, cy)
            alpha[t] = a
            beta[t] = b
    return alpha, beta


# -- Kalman filter hedge ratio -------------------------------------------------------------------
@njit(cache=True)
def kalman_step(state, x, y, vw, ve):
    """One Kalman step on state = [beta, alpha, P00, P01, P11] (P symmetric), in place.

    Returns (forecast error e, its variance Q). See `kalman_hedge` for the model.
    """
    b = state[0]
    a = state[1]
    r00 = state[2] + vw
    r01 = state[3]
    r11 = state[4] + vw
    g0 = x * r00 + r01          # R x'
    g1 = x * r01 + r11
    q = x * g0 + g1 + ve        # x R x' + Ve
    e = y - (b * x + a)
    k0 = g0 / q
    k1 = g1 / q
    state[0] = b + k0 * e
    state[1] = a + k1 * e
    state[2] = r00 - k0 * g0    # P = R - K x R
    state[3] = r01 - k0 * g1
    state[4] = r11 - k1 * g1
    return e, q


@njit(cache=True)
def kalman_hedge(x, y, delta, ve, warmup):
    """Kalman-filter hedge ratio, after E. P. Chan, *Algorithmic Trading: Winning Strategies and
    Their Rationale* (Wiley 2013), ch. 3, "Kalman Filter as Dynamic Linear Regression" (Example
    3.3, KF_beta_EWA_EWC.m).

    Observation y_t = beta_t x_t + alpha_t + eps_t, eps ~ N(0, Ve); state [beta, alpha] follows a
    random walk with covariance Vw = delta / (1 - delta) * I. Start: state 0, P = 0. Chan's loop
    skips the covariance prediction on the first bar (R = 0, so that bar changes nothing); here
    R = P + Vw on every bar, the first included. Returns alpha, beta (posterior after bar t; NaN
    for t < warmup, while the filter is still converging from 0), e (the prior forecast error
    y_t - x_t beta_{t|t-1} - alpha_{t|t-1}) and Q (its variance) for every bar.
    """
    n_bars = x.shape[0]
    alpha = np.full(n_bars, np.nan)
    beta = np.full(n_bars, np.nan)
    err = np.empty(n_bars)
    qv = np.empty(n_bars)
    vw = delta / (1.0 - delta)
    state = np.zeros(5)
    for t in range(n_bars):
        e, q = kalman_step(state, x[t], y[t], vw, ve)
        err[t] = e
        qv[t] = q
        if t >= warmup:
            beta[t] = state[0]
            alpha[t] = state[1]
    return alpha, beta, err, qv


# -- spread and z-score ----------------------------------------------------------------------------
@njit(cache=True)
def spread(x, y, beta):
    """s[t] = y[t] - beta[t] x[t]: the hedged log-price spread (alpha is left to the z-score's
    rolling mean, so a drifting intercept does not move z)."""
    n_bars = x.shape[0]
    s = np.empty(n_bars)
    for t in range(n_bars):
        s[t] = y[t] - beta[t] * x[t]
    return s


@njit(cache=True)
def rolling_zscore(s, window, recompute_every):
    """z[t] = (s[t] - mean) / std over the last `window` finite spreads (population std, ddof=0).

    A NaN spread restarts the window; z is NaN until it holds `window` values, and NaN when the
    window's variance is below VAR_EPS. Same running-sum / shift / exact-recompute scheme as
    rolling_ols.
    """
    n_bars = s.shape[0]
    z = np.full(n_bars, np.nan)
    c = 0.0
    s1 = 0.0
    s2 = 0.0
    k = recompute_every
    start = 0
    for t in range(n_bars):
        v = s[t]
        if not math.isfinite(v):
            start = t + 1
            k = recompute_every
            continue
        lo = t - window + 1
        if lo < start:
            lo = start
        if k >= recompute_every:
            c = v
            s1 = 0.0
            s2 = 0.0
            for i in range(lo, t + 1):
                d = s[i] - c
                s1 += d
                s2 += d * d
            k = 1
        else:
            d = v - c
            s1 += d
            s2 += d * d
            j = t - window
            if j >= start:
                d = s[j] - c
                s1 -= d
                s2 -= d * d
            k += 1
        n = t - lo + 1
        if n >= window:
            m = s1 / n
            var = s2 / n - m * m
            if var > VAR_EPS:
                z[t] = (v - c - m) / math.sqrt(var)
    return z


# -- signals ---------------------------------------------------------------------------------------
@njit(cache=True)
def signal_step(pos, held, z, entry, exit_, stop, max_bars):
    """One bar of the signal rules: (pos, bars held, z) -> (new pos, new bars held, reason).

    pos is the spread position after the bar: +1 long (z low: buy y, sell beta x), -1 short.
    In a trade, checked in this order: divergence stop (z moved further away: pos=-1 and
    z >= stop, pos=+1 and z <= -stop), exit (pos=-1 and z <= exit, pos=+1 and z >= -exit; this is
    |z| <= exit, plus a jump through the band to the other side), time stop (held >= max_bars;
    max_bars <= 0 disables it). A NaN z leaves a trade open (only the time stop acts) and opens
    none. Flat: enter -sign(z) when entry <= |z| < stop. No re-entry on the bar of an exit.
    """
    if pos != 0:
        held += 1
        if math.isfinite(z):
            if (pos < 0 and z >= stop) or (pos > 0 and z <= -stop):
                return 0, 0, R_STOP
            if (pos < 0 and z <= exit_) or (pos > 0 and z >= -exit_):
                return 0, 0, R_EXIT
        if max_bars > 0 and held >= max_bars:
            return 0, 0, R_TIME
        return pos, held, R_NONE
    if not math.isfinite(z):
        return 0, 0, R_NONE
    az = abs(z)
    if az >= entry:
        if az >= stop:
            return 0, 0, R_SKIP_STOP
        return (-1 if z > 0 else 1), 0, R_ENTER
    return 0, 0, R_NONE


@njit(cache=True)
def signals(z, entry, exit_, stop, max_bars):
    """Positions (int8, after each bar's close) and reasons (int8, R_*) for a z-score series."""
    n_bars = z.shape[0]
    pos_out = np.zeros(n_bars, np.int8)
    why = np.zeros(n_bars, np.int8)
    pos = 0
    held = 0
    for t in range(n_bars):
        pos, held, r = signal_step(pos, held, z[t], entry, exit_, stop, max_bars)
        pos_out[t] = pos
        why[t] = r
    return pos_out, why


# -- spread backtest -----------------------------------------------------------------------------
#: columns of the trades array returned by backtest()
TRADE_COLS = ("entry_bar", "exit_bar", "side", "beta", "qty_y", "qty_x", "entry_y", "entry_x",
              "exit_y", "exit_x", "gross_pnl", "fees", "net_pnl", "reason")


@njit(cache=True)
def _trade_row(row, entry_bar, t, side, b_entry, qy, qx, ey, ex, py_t, px_t, gross, fees, why):
    """One closed trade as a row of TRADE_COLS."""
    row[0] = entry_bar
    row[1] = t
    row[2] = side
    row[3] = b_entry
    row[4] = qy
    row[5] = qx
    row[6] = ey
    row[7] = ex
    row[8] = py_t
    row[9] = px_t
    row[10] = gross
    row[11] = fees
    row[12] = gross - fees
    row[13] = why


@njit(cache=True)
def backtest(py, px, pos, why, beta, notional, fee_y, fee_x, lag):
    """Trade the signal on prices py, px (quote currency, not logs); fills at bar t + lag's close.

    On entry the gross notional is split by the hedge ratio known at the signal bar:
    |qty_y| py = notional / (1 + |beta|), |qty_x| px = |beta| notional / (1 + |beta|),
    qty_x of sign -side * sign(beta). Quantities are continuous (the strategy rounds to lots) and
    held unchanged until the exit; a trade is opened only on the bar of its entry signal.
    Fees: fee_* x traded notional on every fill. An open trade at
    the end is closed at the last bar (reason R_TIME is not claimed: reason -1).
    Returns (equity: cumulative marked-to-market PnL after fees at each bar's close, trades: one
    row per trade, columns TRADE_COLS).
    """
    n_bars = py.shape[0]
    equity = np.zeros(n_bars)
    trades = np.zeros((n_bars // 2 + 1, len(TRADE_COLS)))
    n_tr = 0
    realized = 0.0
    cur = 0                     # held spread position
    qy = 0.0
    qx = 0.0
    ey = 0.0
    ex = 0.0
    fees_open = 0.0
    entry_bar = 0
    side = 0
    b_entry = 0.0
    for t in range(n_bars):
        s = t - lag                         # the signal bar filled at this bar
        if s >= 0:
            want = pos[s]
            if cur != 0 and want != cur:    # close
                f = fee_y * abs(qy) * py[t] + fee_x * abs(qx) * px[t]
                gross = qy * (py[t] - ey) + qx * (px[t] - ex)
                realized += gross - f
                _trade_row(trades[n_tr], entry_bar, t, side, b_entry, qy, qx, ey, ex, py[t],
                           px[t], gross, fees_open + f, why[s])
                n_tr += 1
                cur = 0
                qy = 0.0
                qx = 0.0
            if cur == 0 and want != 0 and why[s] == R_ENTER and math.isfinite(beta[s]):
                b = beta[s]
                ny = notional / (1.0 + abs(b))
                side = want
                b_entry = b
                qy = want * ny / py[t]
                qx = -want * b * ny / px[t]
                ey = py[t]
                ex = px[t]
                fees_open = fee_y * abs(qy) * py[t] + fee_x * abs(qx) * px[t]
                realized -= fees_open
                entry_bar = t
                cur = want
        equity[t] = realized + qy * (py[t] - ey) + qx * (px[t] - ex)
    if cur != 0:
        t = n_bars - 1
        f = fee_y * abs(qy) * py[t] + fee_x * abs(qx) * px[t]
        gross = qy * (py[t] - ey) + qx * (px[t] - ex)
        realized += gross - f
        _trade_row(trades[n_tr], entry_bar, t, side, b_entry, qy, qx, ey, ex, py[t], px[t],
                   gross, fees_open + f, -1)
        n_tr += 1
        equity[t] = realized
    return equity, trades[:n_tr].copy()
