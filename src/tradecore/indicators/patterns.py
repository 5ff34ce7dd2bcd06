"""Candlestick patterns, bar for bar equal to TA-Lib's CDL* functions (plus a tweezer, which
TA-Lib lacks).

Each pattern returns an int32 array, one value per bar: +100 bullish, -100 bearish, 0 none (a few
patterns grade a weaker form with +-80, as TA-Lib does: engulfing and harami when the bodies
share an end). A pattern is reported on the bar that completes it, so it only uses that bar and
the ones before it.

How TA-Lib measures "long", "short", "near"... (its candle settings, ta_global.c):

    setting          range measured           period  factor
    BodyLong         real body |c - o|        10      1.0
    BodyVeryLong     real body                10      3.0
    BodyShort        real body                10      1.0
    BodyDoji         high - low               10      0.1
    ShadowLong       real body                0       1.0
    ShadowVeryLong   real body                0       2.0
    ShadowShort      upper + lower shadow     10      1.0   (then / 2: the average per shadow)
    ShadowVeryShort  high - low               10      0.1
    Near             high - low               5       0.2
    Far              high - low               5       0.6
    Equal            high - low               5       0.05

The threshold of a setting for candle j is factor * (sum of the range over the `period` candles
before j) / period, or factor * (the range of candle j itself) when the period is 0 (so
"ShadowLong" means "longer than this candle's own body"). TA-Lib keeps each sum as a running
total (add the newest range, subtract the oldest) started at the pattern's first computable bar
(its lookback: the largest period used plus the pattern's length minus one), so floating-point
rounding depends on where the series starts. We keep the same running totals, started at the same
bar, with the same operations in the same order: the thresholds are then the same doubles and the
comparisons (`<` vs `<=` exactly as in ta_CDL*.c) give the same answers bar for bar. A consequence
for live use: a pattern stream must start at the same bar as the batch it is compared with
(`PatternStream` does).

Design: every pattern is a short condition, one branch of one Numba function (`_eval_all`), and
one driver (`_run`) keeps the running totals and loops bars. The batch functions and
`PatternStream` call the same driver, so the live values equal the batch values by construction.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

# -- candle settings ----------------------------------------------------------------------------
REALBODY, HIGHLOW, SHADOWS = 0, 1, 2
(BODYLONG, BODYVERYLONG, BODYSHORT, BODYDOJI, SHADOWLONG, SHADOWVERYLONG, SHADOWSHORT,
 SHADOWVERYSHORT, NEAR, FAR, EQUAL) = range(11)
# (range kind, period, factor), TA-Lib's defaults (TA_RestoreCandleDefaultSettings)
SETTINGS = np.array([
    (REALBODY, 10, 1.0),   # BodyLong
    (REALBODY, 10, 3.0),   # BodyVeryLong
    (REALBODY, 10, 1.0),   # BodyShort
    (HIGHLOW, 10, 0.1),    # BodyDoji
    (REALBODY, 0, 1.0),    # ShadowLong
    (REALBODY, 0, 2.0),    # ShadowVeryLong
    (SHADOWS, 10, 1.0),    # ShadowShort
    (HIGHLOW, 10, 0.1),    # ShadowVeryShort
    (HIGHLOW, 5, 0.2),     # Near
    (HIGHLOW, 5, 0.6),     # Far
    (HIGHLOW, 5, 0.05),    # Equal
], dtype=np.float64)

MAX_SPECS = 9


class _P:
    """One pattern's table entry: its code in `_eval_all`, the (setting, candle offset) averages its
    condition reads (candle offset k = the candle i-k of the pattern completed at bar i), the
    number of candles, and TA-Lib's lookback when it differs from max(period) + candles - 1."""

    def __init__(self, code: int, candles: int, specs: Sequence[tuple[int, int]],
                 lookback: int | None = None, penetration: float = 0.0,
                 state_bars: int = 0):
        self.code = code
        self.candles = candles
        self.specs = list(specs)
        periods = [int(SETTINGS[s, 1]) for s, _ in specs] or [0]
        self.lookback = (max(periods) + candles - 1) if lookback is None else lookback
        self.penetration = penetration
        # A pattern with state (hikkake: a setup "confirmed" up to 3 bars later) runs its state
        # machine from `state_bars` bars before its first output, as TA-Lib does, and TA-Lib
        # starts its running totals there too.
        self.state_from = self.lookback - state_bars
        self.tot_start = self.state_from


SVS = SHADOWVERYSHORT
_TABLE: dict[str, _P] = {
    "cdldoji": _P(1, 1, [(BODYDOJI, 0)]),
    "cdldragonflydoji": _P(2, 1, [(BODYDOJI, 0), (SVS, 0)]),
    "cdlgravestonedoji": _P(3, 1, [(BODYDOJI, 0), (SVS, 0)]),
    "cdllongleggeddoji": _P(4, 1, [(BODYDOJI, 0), (SHADOWLONG, 0)]),
    "cdlrickshawman": _P(5, 1, [(BODYDOJI, 0), (SHADOWLONG, 0), (NEAR, 0)]),
    "cdlhammer": _P(6, 2, [(BODYSHORT, 0), (SHADOWLONG, 0), (SVS, 0), (NEAR, 1)]),
    "cdlhangingman": _P(7, 2, [(BODYSHORT, 0), (SHADOWLONG, 0), (SVS, 0), (NEAR, 1)]),
    "cdlinvertedhammer": _P(8, 2, [(BODYSHORT, 0), (SHADOWLONG, 0), (SVS, 0)]),
    "cdlshootingstar": _P(9, 2, [(BODYSHORT, 0), (SHADOWLONG, 0), (SVS, 0)]),
    "cdlengulfing": _P(10, 2, [], lookback=2),
    "cdlharami": _P(11, 2, [(BODYLONG, 1), (BODYSHORT, 0)]),
    "cdlharamicross": _P(12, 2, [(BODYLONG, 1), (BODYDOJI, 0)]),
    "cdlpiercing": _P(13, 2, [(BODYLONG, 1), (BODYLONG, 0)]),
    "cdldarkcloudcover": _P(14, 2, [(BODYLONG, 1)], penetration=0.5),
    "cdlmorningstar": _P(15, 3, [(BODYLONG, 2), (BODYSHORT, 1), (BODYSHORT, 0)], penetration=0.3),
    "cdleveningstar": _P(16, 3, [(BODYLONG, 2), (BODYSHORT, 1), (BODYSHORT, 0)], penetration=0.3),
    "cdlmorningdojistar": _P(17, 3, [(BODYLONG, 2), (BODYDOJI, 1), (BODYSHORT, 0)],
                             penetration=0.3),
    "cdleveningdojistar": _P(18, 3, [(BODYLONG, 2), (BODYDOJI, 1), (BODYSHORT, 0)],
                             penetration=0.3),
    "cdl3whitesoldiers": _P(19, 3, [(SVS, 2), (SVS, 1), (SVS, 0), (NEAR, 2), (NEAR, 1), (FAR, 2),
                                    (FAR, 1), (BODYSHORT, 0)]),
    "cdl3blackcrows": _P(20, 4, [(SVS, 2), (SVS, 1), (SVS, 0)]),
    "cdlmarubozu": _P(21, 1, [(BODYLONG, 0), (SVS, 0)]),
    "cdlclosingmarubozu": _P(22, 1, [(BODYLONG, 0), (SVS, 0)]),
    "cdlspinningtop": _P(23, 1, [(BODYSHORT, 0)]),
    "cdlhighwave": _P(24, 1, [(BODYSHORT, 0), (SHADOWVERYLONG, 0)]),
    "cdllongline": _P(25, 1, [(BODYLONG, 0), (SHADOWSHORT, 0)]),
    "cdlshortline": _P(26, 1, [(BODYSHORT, 0), (SHADOWSHORT, 0)]),
    "cdlbelthold": _P(27, 1, [(BODYLONG, 0), (SVS, 0)]),
    "cdltakuri": _P(28, 1, [(BODYDOJI, 0), (SVS, 0), (SHADOWVERYLONG, 0)]),
    "cdl3inside": _P(29, 3, [(BODYLONG, 2), (BODYSHORT, 1)]),
    "cdl3outside": _P(30, 3, []),
    "cdlabandonedbaby": _P(31, 3, [(BODYLONG, 2), (BODYDOJI, 1), (BODYSHORT, 0)],
                           penetration=0.3),
    "cdlkicking": _P(32, 2, [(SVS, 1), (SVS, 0), (BODYLONG, 1), (BODYLONG, 0)]),
    "cdlkickingbylength": _P(33, 2, [(SVS, 1), (SVS, 0), (BODYLONG, 1), (BODYLONG, 0)]),
    "cdldojistar": _P(34, 2, [(BODYLONG, 1), (BODYDOJI, 0)]),
    "cdl2crows": _P(35, 3, [(BODYLONG, 2)]),
    "cdlhomingpigeon": _P(36, 2, [(BODYLONG, 1), (BODYSHORT, 0)]),
    "cdlmatchinglow": _P(37, 2, [(EQUAL, 1)]),
    "cdlonneck": _P(38, 2, [(EQUAL, 1), (BODYLONG, 1)]),
    "cdlinneck": _P(39, 2, [(EQUAL, 1), (BODYLONG, 1)]),
    "cdlthrusting": _P(40, 2, [(EQUAL, 1), (BODYLONG, 1)]),
    "cdlcounterattack": _P(41, 2, [(EQUAL, 1), (BODYLONG, 1), (BODYLONG, 0)]),
    "cdlsticksandwich": _P(42, 3, [(EQUAL, 2)]),
    "cdlseparatinglines": _P(44, 2, [(EQUAL, 1), (BODYLONG, 0), (SVS, 0)]),
    "cdlgapsidesidewhite": _P(45, 3, [(NEAR, 1), (EQUAL, 1)]),
    "cdlupsidegap2crows": _P(46, 3, [(BODYLONG, 2), (BODYSHORT, 1)]),
    "cdltasukigap": _P(47, 3, [(NEAR, 1)]),
    "cdlidentical3crows": _P(48, 3, [(SVS, 2), (SVS, 1), (SVS, 0), (EQUAL, 2), (EQUAL, 1)]),
    "cdlunique3river": _P(49, 3, [(BODYLONG, 2), (BODYSHORT, 0)]),
    "cdltristar": _P(50, 3, [(BODYDOJI, 2)]),
    "cdl3linestrike": _P(51, 4, [(NEAR, 3), (NEAR, 2)]),
    "cdlladderbottom": _P(52, 5, [(SVS, 1)]),
    "cdlxsidegap3methods": _P(53, 3, []),
    "cdlconcealbabyswall": _P(54, 4, [(SVS, 3), (SVS, 2), (SVS, 1)]),
    "cdltweezer": _P(43, 2, [(EQUAL, 1), (BODYSHORT, 1), (BODYSHORT, 0)]),
    "cdl3starsinsouth": _P(55, 3, [(BODYLONG, 2), (SHADOWLONG, 2), (SVS, 1), (BODYSHORT, 0),
                                   (SVS, 0)]),
    "cdladvanceblock": _P(56, 3, [(SHADOWSHORT, 2), (SHADOWSHORT, 1), (SHADOWSHORT, 0),
                                  (SHADOWLONG, 0), (NEAR, 2), (NEAR, 1), (FAR, 2), (FAR, 1),
                                  (BODYLONG, 2)]),
    "cdlhikkake": _P(57, 3, [], lookback=5, state_bars=3),
    "cdlhikkakemod": _P(58, 4, [(NEAR, 2)], lookback=10, state_bars=3),
    "cdlbreakaway": _P(59, 5, [(BODYLONG, 4)]),
    "cdlmathold": _P(60, 5, [(BODYLONG, 4), (BODYSHORT, 3), (BODYSHORT, 2), (BODYSHORT, 1)],
                     penetration=0.5),
    "cdlrisefall3methods": _P(61, 5, [(BODYLONG, 4), (BODYSHORT, 3), (BODYSHORT, 2),
                                      (BODYSHORT, 1), (BODYLONG, 0)]),
    "cdlstalledpattern": _P(62, 3, [(BODYLONG, 2), (BODYLONG, 1), (SVS, 1), (NEAR, 2),
                                    (BODYSHORT, 0), (NEAR, 1)]),
}

# Patterns TA-Lib does not have (tested on constructed candles against their docstrings).
NOT_IN_TALIB = frozenset({"cdltweezer"})


# -- kernels -----------------------------------------------------------------------------------

@njit(cache=True)
def _ranges(o, h, l, c):
    """Per bar, the three ranges the settings measure: real body, high-low, sum of shadows.
    Precomputed once, so the hot loop indexes R[kind, j] instead of branching on a runtime kind
    (which Numba compiled ~15x slower)."""
    m = o.shape[0]
    R = np.empty((3, m))
    for j in range(m):
        top = c[j] if c[j] >= o[j] else o[j]
        bot = o[j] if c[j] >= o[j] else c[j]
        R[0, j] = abs(c[j] - o[j])
        R[1, j] = h[j] - l[j]
        R[2, j] = (h[j] - top) + (bot - l[j])
    return R


@njit(cache=True)
def _color(o, c, j):
    return 1 if c[j] >= o[j] else -1


@njit(cache=True)
def _rb(o, c, j):
    return abs(c[j] - o[j])


@njit(cache=True)
def _us(o, h, c, j):
    return h[j] - (c[j] if c[j] >= o[j] else o[j])


@njit(cache=True)
def _ls(o, l, c, j):
    return (o[j] if c[j] >= o[j] else c[j]) - l[j]


@njit(cache=True)
def _rbgapup(o, c, j2, j1):
    return min(o[j2], c[j2]) > max(o[j1], c[j1])


@njit(cache=True)
def _rbgapdown(o, c, j2, j1):
    return max(o[j2], c[j2]) < min(o[j1], c[j1])


@njit(cache=True)
def _eval_all(codes, lookback, stfrom, pen, smap, av, oa, ha, la, ca, base, j0, j1, out, row0,  # noqa
              pst):
    """Every pattern of `codes` at absolute bars [j0, j1) (rows row0.. of out). Pattern p at
    bar i reads the thresholds av[smap[p, :], i - j0] (table order). Inside, o, h, l, c are the
    5-tuples of bars i-4 .. i (before the first bars they hold wrapped-around values that no
    pattern reads: its lookback is longer), so every pattern is one branch on plain values;
    one call covers a whole chunk of bars, since a call per bar cost more than the patterns.
    `pst[2p], pst[2p+1]` is the state of a stateful pattern p (hikkake: the bar of the last
    unconfirmed setup and its sign), carried from bar to bar and between calls; such a
    pattern runs from bar stfrom[p], before its first output bar lookback[p]."""
    i = 4
    for ii in range(j0, j1):
        li = ii - base
        r = ii - j0
        o = (oa[li - 4], oa[li - 3], oa[li - 2], oa[li - 1], oa[li])
        h = (ha[li - 4], ha[li - 3], ha[li - 2], ha[li - 1], ha[li])
        l = (la[li - 4], la[li - 3], la[li - 2], la[li - 1], la[li])
        c = (ca[li - 4], ca[li - 3], ca[li - 2], ca[li - 1], ca[li])
        for p in range(codes.shape[0]):
            if ii < stfrom[p]:
                out[row0 + r, p] = 0
                continue
            code = codes[p]
            pen_ = pen[p]
            a = (av[smap[p, 0], r], av[smap[p, 1], r], av[smap[p, 2], r], av[smap[p, 3], r],
                 av[smap[p, 4], r], av[smap[p, 5], r], av[smap[p, 6], r], av[smap[p, 7], r],
                 av[smap[p, 8], r])
            res = 0
            for _once in range(1):  # `break` = the pattern's answer is in res
                if code == 1:  # doji
                    res = 100 if _rb(o, c, i) <= a[0] else 0
                    break
                if code == 2:  # dragonfly doji
                    ok = _rb(o, c, i) <= a[0] and _us(o, h, c, i) < a[1] and _ls(o, l, c, i) > a[1]
                    res = 100 if ok else 0
                    break
                if code == 3:  # gravestone doji
                    ok = _rb(o, c, i) <= a[0] and _ls(o, l, c, i) < a[1] and _us(o, h, c, i) > a[1]
                    res = 100 if ok else 0
                    break
                if code == 4:  # long legged doji
                    ok = _rb(o, c, i) <= a[0] and (_ls(o, l, c, i) > a[1] or _us(o, h, c, i) > a[1])
                    res = 100 if ok else 0
                    break
                if code == 5:  # rickshaw man
                    mid = l[i] + (h[i] - l[i]) / 2
                    ok = (_rb(o, c, i) <= a[0] and _ls(o, l, c, i) > a[1] and _us(o, h, c, i) > a[1]
                          and min(o[i], c[i]) <= mid + a[2] and max(o[i], c[i]) >= mid - a[2])
                    res = 100 if ok else 0
                    break
                if code == 6:  # hammer
                    ok = (_rb(o, c, i) < a[0] and _ls(o, l, c, i) > a[1] and _us(o, h, c, i) < a[2]
                          and min(c[i], o[i]) <= l[i - 1] + a[3])
                    res = 100 if ok else 0
                    break
                if code == 7:  # hanging man
                    ok = (_rb(o, c, i) < a[0] and _ls(o, l, c, i) > a[1] and _us(o, h, c, i) < a[2]
                          and min(c[i], o[i]) >= h[i - 1] - a[3])
                    res = -100 if ok else 0
                    break
                if code == 8:  # inverted hammer
                    ok = (_rb(o, c, i) < a[0] and _us(o, h, c, i) > a[1] and _ls(o, l, c, i) < a[2]
                          and _rbgapdown(o, c, i, i - 1))
                    res = 100 if ok else 0
                    break
                if code == 9:  # shooting star
                    ok = (_rb(o, c, i) < a[0] and _us(o, h, c, i) > a[1] and _ls(o, l, c, i) < a[2]
                          and _rbgapup(o, c, i, i - 1))
                    res = -100 if ok else 0
                    break
                if code == 10:  # engulfing
                    c0, c1 = _color(o, c, i), _color(o, c, i - 1)
                    bull = c0 == 1 and c1 == -1 and (
                        (c[i] >= o[i - 1] and o[i] < c[i - 1])
                        or (c[i] > o[i - 1] and o[i] <= c[i - 1]))
                    bear = c0 == -1 and c1 == 1 and (
                        (o[i] >= c[i - 1] and c[i] < o[i - 1])
                        or (o[i] > c[i - 1] and c[i] <= o[i - 1]))
                    if bull or bear:
                        if o[i] != c[i - 1] and c[i] != o[i - 1]:
                            res = c0 * 100
                            break
                        res = c0 * 80
                        break
                    res = 0
                    break
                if code == 11 or code == 12:  # harami, harami cross (2nd candle short / doji)
                    if _rb(o, c, i - 1) > a[0] and _rb(o, c, i) <= a[1]:
                        hi0, lo0 = max(c[i], o[i]), min(c[i], o[i])
                        hi1, lo1 = max(c[i - 1], o[i - 1]), min(c[i - 1], o[i - 1])
                        if hi0 < hi1 and lo0 > lo1:
                            res = -_color(o, c, i - 1) * 100
                            break
                        if hi0 <= hi1 and lo0 >= lo1:
                            res = -_color(o, c, i - 1) * 80
                            break
                    res = 0
                    break
                if code == 13:  # piercing
                    ok = (_color(o, c, i - 1) == -1 and _rb(o, c, i - 1) > a[0]
                          and _color(o, c, i) == 1
                          and _rb(o, c, i) > a[1] and o[i] < l[i - 1] and c[i] < o[i - 1]
                          and c[i] > c[i - 1] + _rb(o, c, i - 1) * 0.5)
                    res = 100 if ok else 0
                    break
                if code == 14:  # dark cloud cover
                    ok = (_color(o, c, i - 1) == 1 and _rb(o, c, i - 1) > a[0]
                          and _color(o, c, i) == -1
                          and o[i] > h[i - 1] and c[i] > o[i - 1]
                          and c[i] < c[i - 1] - _rb(o, c, i - 1) * pen_)
                    res = -100 if ok else 0
                    break
                if code == 15:  # morning star
                    ok = (_color(o, c, i - 2) == -1 and _color(o, c, i) == 1
                          and _rbgapdown(o, c, i - 1, i - 2)
                          and c[i] > c[i - 2] + _rb(o, c, i - 2) * pen_
                          and _rb(o, c, i - 2) > a[0] and _rb(o, c, i - 1) <= a[1]
                          and _rb(o, c, i) > a[2])
                    res = 100 if ok else 0
                    break
                if code == 16:  # evening star
                    ok = (_color(o, c, i - 2) == 1 and _color(o, c, i) == -1
                          and _rbgapup(o, c, i - 1, i - 2)
                          and c[i] < c[i - 2] - _rb(o, c, i - 2) * pen_
                          and _rb(o, c, i - 2) > a[0] and _rb(o, c, i - 1) <= a[1]
                          and _rb(o, c, i) > a[2])
                    res = -100 if ok else 0
                    break
                if code == 17:  # morning doji star
                    ok = (_rb(o, c, i - 2) > a[0] and _color(o, c, i - 2) == -1
                          and _rb(o, c, i - 1) <= a[1] and _rbgapdown(o, c, i - 1, i - 2)
                          and _rb(o, c, i) > a[2] and _color(o, c, i) == 1
                          and c[i] > c[i - 2] + _rb(o, c, i - 2) * pen_)
                    res = 100 if ok else 0
                    break
                if code == 18:  # evening doji star
                    ok = (_rb(o, c, i - 2) > a[0] and _color(o, c, i - 2) == 1
                          and _rb(o, c, i - 1) <= a[1] and _rbgapup(o, c, i - 1, i - 2)
                          and _rb(o, c, i) > a[2] and _color(o, c, i) == -1
                          and c[i] < c[i - 2] - _rb(o, c, i - 2) * pen_)
                    res = -100 if ok else 0
                    break
                if code == 19:  # three white soldiers
                    ok = (_color(o, c, i - 2) == 1 and _us(o, h, c, i - 2) < a[0]
                          and _color(o, c, i - 1) == 1 and _us(o, h, c, i - 1) < a[1]
                          and _color(o, c, i) == 1 and _us(o, h, c, i) < a[2]
                          and c[i] > c[i - 1] and c[i - 1] > c[i - 2]
                          and o[i - 1] > o[i - 2] and o[i - 1] <= c[i - 2] + a[3]
                          and o[i] > o[i - 1] and o[i] <= c[i - 1] + a[4]
                          and _rb(o, c, i - 1) > _rb(o, c, i - 2) - a[5]
                          and _rb(o, c, i) > _rb(o, c, i - 1) - a[6]
                          and _rb(o, c, i) > a[7])
                    res = 100 if ok else 0
                    break
                if code == 20:  # three black crows
                    ok = (_color(o, c, i - 3) == 1
                          and _color(o, c, i - 2) == -1 and _ls(o, l, c, i - 2) < a[0]
                          and _color(o, c, i - 1) == -1 and _ls(o, l, c, i - 1) < a[1]
                          and _color(o, c, i) == -1 and _ls(o, l, c, i) < a[2]
                          and o[i - 1] < o[i - 2] and o[i - 1] > c[i - 2]
                          and o[i] < o[i - 1] and o[i] > c[i - 1]
                          and h[i - 3] > c[i - 2]
                          and c[i - 2] > c[i - 1] and c[i - 1] > c[i])
                    res = -100 if ok else 0
                    break
                if code == 21:  # marubozu
                    ok = _rb(o, c, i) > a[0] and _us(o, h, c, i) < a[1] and _ls(o, l, c, i) < a[1]
                    res = _color(o, c, i) * 100 if ok else 0
                    break
                if code == 22:  # closing marubozu
                    col = _color(o, c, i)
                    ok = _rb(o, c, i) > a[0] and (
                        (col == 1 and _us(o, h, c, i) < a[1])
                        or (col == -1 and _ls(o, l, c, i) < a[1]))
                    res = col * 100 if ok else 0
                    break
                if code == 23:  # spinning top
                    rb = _rb(o, c, i)
                    ok = rb < a[0] and _us(o, h, c, i) > rb and _ls(o, l, c, i) > rb
                    res = _color(o, c, i) * 100 if ok else 0
                    break
                if code == 24:  # high wave
                    ok = _rb(o, c, i) < a[0] and _us(o, h, c, i) > a[1] and _ls(o, l, c, i) > a[1]
                    res = _color(o, c, i) * 100 if ok else 0
                    break
                if code == 25:  # long line
                    ok = _rb(o, c, i) > a[0] and _us(o, h, c, i) < a[1] and _ls(o, l, c, i) < a[1]
                    res = _color(o, c, i) * 100 if ok else 0
                    break
                if code == 26:  # short line
                    ok = _rb(o, c, i) < a[0] and _us(o, h, c, i) < a[1] and _ls(o, l, c, i) < a[1]
                    res = _color(o, c, i) * 100 if ok else 0
                    break
                if code == 27:  # belt hold
                    col = _color(o, c, i)
                    ok = _rb(o, c, i) > a[0] and (
                        (col == 1 and _ls(o, l, c, i) < a[1])
                        or (col == -1 and _us(o, h, c, i) < a[1]))
                    res = col * 100 if ok else 0
                    break
                if code == 28:  # takuri
                    ok = _rb(o, c, i) <= a[0] and _us(o, h, c, i) < a[1] and _ls(o, l, c, i) > a[2]
                    res = 100 if ok else 0
                    break
                if code == 29:  # three inside up/down
                    c2, c0 = _color(o, c, i - 2), _color(o, c, i)
                    ok = (_rb(o, c, i - 2) > a[0] and _rb(o, c, i - 1) <= a[1]
                          and max(c[i - 1], o[i - 1]) < max(c[i - 2], o[i - 2])
                          and min(c[i - 1], o[i - 1]) > min(c[i - 2], o[i - 2])
                          and ((c2 == 1 and c0 == -1 and c[i] < o[i - 2])
                               or (c2 == -1 and c0 == 1 and c[i] > o[i - 2])))
                    res = -c2 * 100 if ok else 0
                    break
                if code == 30:  # three outside up/down
                    c1, c2 = _color(o, c, i - 1), _color(o, c, i - 2)
                    ok = ((c1 == 1 and c2 == -1 and c[i - 1] > o[i - 2] and o[i - 1] < c[i - 2]
                           and c[i] > c[i - 1])
                          or (c1 == -1 and c2 == 1 and o[i - 1] > c[i - 2] and c[i - 1] < o[i - 2]
                              and c[i] < c[i - 1]))
                    res = c1 * 100 if ok else 0
                    break
                if code == 31:  # abandoned baby
                    c2, c0 = _color(o, c, i - 2), _color(o, c, i)
                    ok = (_rb(o, c, i - 2) > a[0] and _rb(o, c, i - 1) <= a[1]
                          and _rb(o, c, i) > a[2]
                          and ((c2 == 1 and c0 == -1 and c[i] < c[i - 2] - _rb(o, c, i - 2) * pen_
                                and l[i - 1] > h[i - 2] and h[i] < l[i - 1])
                               or (c2 == -1 and c0 == 1
                                   and c[i] > c[i - 2] + _rb(o, c, i - 2) * pen_
                                   and h[i - 1] < l[i - 2] and l[i] > h[i - 1])))
                    res = c0 * 100 if ok else 0
                    break
                if code == 32 or code == 33:  # kicking, kicking by length
                    c1, c0 = _color(o, c, i - 1), _color(o, c, i)
                    ok = (c1 == -c0 and _rb(o, c, i - 1) > a[2]
                          and _us(o, h, c, i - 1) < a[0] and _ls(o, l, c, i - 1) < a[0]
                          and _rb(o, c, i) > a[3] and _us(o, h, c, i) < a[1]
                          and _ls(o, l, c, i) < a[1]
                          and ((c1 == -1 and l[i] > h[i - 1]) or (c1 == 1 and h[i] < l[i - 1])))
                    if not ok:
                        res = 0
                        break
                    if code == 32:
                        res = c0 * 100
                        break
                    res = (c0 if _rb(o, c, i) > _rb(o, c, i - 1) else c1) * 100
                    break
                if code == 34:  # doji star
                    c1 = _color(o, c, i - 1)
                    ok = (_rb(o, c, i - 1) > a[0] and _rb(o, c, i) <= a[1]
                          and ((c1 == 1 and _rbgapup(o, c, i, i - 1))
                               or (c1 == -1 and _rbgapdown(o, c, i, i - 1))))
                    res = -c1 * 100 if ok else 0
                    break
                if code == 35:  # two crows
                    ok = (_color(o, c, i - 2) == 1 and _rb(o, c, i - 2) > a[0]
                          and _color(o, c, i - 1) == -1 and _rbgapup(o, c, i - 1, i - 2)
                          and _color(o, c, i) == -1 and o[i] < o[i - 1] and o[i] > c[i - 1]
                          and c[i] > o[i - 2] and c[i] < c[i - 2])
                    res = -100 if ok else 0
                    break
                if code == 36:  # homing pigeon
                    ok = (_color(o, c, i - 1) == -1 and _color(o, c, i) == -1
                          and _rb(o, c, i - 1) > a[0] and _rb(o, c, i) <= a[1]
                          and o[i] < o[i - 1] and c[i] > c[i - 1])
                    res = 100 if ok else 0
                    break
                if code == 37:  # matching low
                    ok = (_color(o, c, i - 1) == -1 and _color(o, c, i) == -1
                          and c[i] <= c[i - 1] + a[0] and c[i] >= c[i - 1] - a[0])
                    res = 100 if ok else 0
                    break
                if code == 38:  # on neck
                    ok = (_color(o, c, i - 1) == -1 and _rb(o, c, i - 1) > a[1]
                          and _color(o, c, i) == 1
                          and o[i] < l[i - 1] and c[i] <= l[i - 1] + a[0]
                          and c[i] >= l[i - 1] - a[0])
                    res = -100 if ok else 0
                    break
                if code == 39:  # in neck
                    ok = (_color(o, c, i - 1) == -1 and _rb(o, c, i - 1) > a[1]
                          and _color(o, c, i) == 1
                          and o[i] < l[i - 1] and c[i] <= c[i - 1] + a[0] and c[i] >= c[i - 1])
                    res = -100 if ok else 0
                    break
                if code == 40:  # thrusting
                    ok = (_color(o, c, i - 1) == -1 and _rb(o, c, i - 1) > a[1]
                          and _color(o, c, i) == 1
                          and o[i] < l[i - 1] and c[i] > c[i - 1] + a[0]
                          and c[i] <= c[i - 1] + _rb(o, c, i - 1) * 0.5)
                    res = -100 if ok else 0
                    break
                if code == 41:  # counterattack
                    c0 = _color(o, c, i)
                    ok = (_color(o, c, i - 1) == -c0 and _rb(o, c, i - 1) > a[1]
                          and _rb(o, c, i) > a[2]
                          and c[i] <= c[i - 1] + a[0] and c[i] >= c[i - 1] - a[0])
                    res = c0 * 100 if ok else 0
                    break
                if code == 42:  # stick sandwich
                    ok = (_color(o, c, i - 2) == -1 and _color(o, c, i - 1) == 1
                          and _color(o, c, i) == -1
                          and l[i - 1] > c[i - 2] and c[i] <= c[i - 2] + a[0]
                          and c[i] >= c[i - 2] - a[0])
                    res = 100 if ok else 0
                    break
                if code == 44:  # separating lines
                    c0 = _color(o, c, i)
                    ok = (_color(o, c, i - 1) == -c0 and o[i] <= o[i - 1] + a[0]
                          and o[i] >= o[i - 1] - a[0] and _rb(o, c, i) > a[1]
                          and ((c0 == 1 and _ls(o, l, c, i) < a[2])
                               or (c0 == -1 and _us(o, h, c, i) < a[2])))
                    res = c0 * 100 if ok else 0
                    break
                if code == 45:  # up/down-gap side-by-side white lines
                    up = _rbgapup(o, c, i - 1, i - 2) and _rbgapup(o, c, i, i - 2)
                    dn = _rbgapdown(o, c, i - 1, i - 2) and _rbgapdown(o, c, i, i - 2)
                    ok = ((up or dn) and _color(o, c, i - 1) == 1 and _color(o, c, i) == 1
                          and _rb(o, c, i) >= _rb(o, c, i - 1) - a[0]
                          and _rb(o, c, i) <= _rb(o, c, i - 1) + a[0]
                          and o[i] >= o[i - 1] - a[1] and o[i] <= o[i - 1] + a[1])
                    if ok:
                        res = 100 if _rbgapup(o, c, i - 1, i - 2) else -100
                    break
                if code == 46:  # upside gap two crows
                    ok = (_color(o, c, i - 2) == 1 and _rb(o, c, i - 2) > a[0]
                          and _color(o, c, i - 1) == -1 and _rb(o, c, i - 1) <= a[1]
                          and _rbgapup(o, c, i - 1, i - 2) and _color(o, c, i) == -1
                          and o[i] > o[i - 1] and c[i] < c[i - 1] and c[i] > c[i - 2])
                    res = -100 if ok else 0
                    break
                if code == 47:  # tasuki gap
                    c1, c0 = _color(o, c, i - 1), _color(o, c, i)
                    near = abs(_rb(o, c, i - 1) - _rb(o, c, i)) < a[0]
                    ok = ((_rbgapup(o, c, i - 1, i - 2) and c1 == 1 and c0 == -1
                           and o[i] < c[i - 1] and o[i] > o[i - 1] and c[i] < o[i - 1]
                           and c[i] > max(c[i - 2], o[i - 2]) and near)
                          or (_rbgapdown(o, c, i - 1, i - 2) and c1 == -1 and c0 == 1
                              and o[i] < o[i - 1] and o[i] > c[i - 1] and c[i] > o[i - 1]
                              and c[i] < min(c[i - 2], o[i - 2]) and near))
                    res = c1 * 100 if ok else 0
                    break
                if code == 48:  # identical three crows
                    ok = (_color(o, c, i - 2) == -1 and _ls(o, l, c, i - 2) < a[0]
                          and _color(o, c, i - 1) == -1 and _ls(o, l, c, i - 1) < a[1]
                          and _color(o, c, i) == -1 and _ls(o, l, c, i) < a[2]
                          and c[i - 2] > c[i - 1] and c[i - 1] > c[i]
                          and o[i - 1] <= c[i - 2] + a[3] and o[i - 1] >= c[i - 2] - a[3]
                          and o[i] <= c[i - 1] + a[4] and o[i] >= c[i - 1] - a[4])
                    res = -100 if ok else 0
                    break
                if code == 49:  # unique three river
                    ok = (_rb(o, c, i - 2) > a[0] and _color(o, c, i - 2) == -1
                          and _color(o, c, i - 1) == -1 and c[i - 1] > c[i - 2]
                          and o[i - 1] <= o[i - 2] and l[i - 1] < l[i - 2]
                          and _rb(o, c, i) < a[1] and _color(o, c, i) == 1 and o[i] > l[i - 1])
                    res = 100 if ok else 0
                    break
                if code == 50:  # tristar (all three doji measured against candle i-2's average)
                    if (_rb(o, c, i - 2) <= a[0] and _rb(o, c, i - 1) <= a[0]
                            and _rb(o, c, i) <= a[0]):
                        if (_rbgapup(o, c, i - 1, i - 2)
                                and max(o[i], c[i]) < max(o[i - 1], c[i - 1])):
                            res = -100
                        if (_rbgapdown(o, c, i - 1, i - 2)
                                and min(o[i], c[i]) > min(o[i - 1], c[i - 1])):
                            res = 100
                    break
                if code == 51:  # three-line strike
                    c1 = _color(o, c, i - 1)
                    ok = (_color(o, c, i - 3) == _color(o, c, i - 2)
                          and _color(o, c, i - 2) == c1 and _color(o, c, i) == -c1
                          and o[i - 2] >= min(o[i - 3], c[i - 3]) - a[0]
                          and o[i - 2] <= max(o[i - 3], c[i - 3]) + a[0]
                          and o[i - 1] >= min(o[i - 2], c[i - 2]) - a[1]
                          and o[i - 1] <= max(o[i - 2], c[i - 2]) + a[1]
                          and ((c1 == 1 and c[i - 1] > c[i - 2] and c[i - 2] > c[i - 3]
                                and o[i] > c[i - 1] and c[i] < o[i - 3])
                               or (c1 == -1 and c[i - 1] < c[i - 2] and c[i - 2] < c[i - 3]
                                   and o[i] < c[i - 1] and c[i] > o[i - 3])))
                    res = c1 * 100 if ok else 0
                    break
                if code == 52:  # ladder bottom
                    ok = (_color(o, c, i - 4) == -1 and _color(o, c, i - 3) == -1
                          and _color(o, c, i - 2) == -1
                          and o[i - 4] > o[i - 3] and o[i - 3] > o[i - 2]
                          and c[i - 4] > c[i - 3] and c[i - 3] > c[i - 2]
                          and _color(o, c, i - 1) == -1 and _us(o, h, c, i - 1) > a[0]
                          and _color(o, c, i) == 1 and o[i] > o[i - 1] and c[i] > h[i - 1])
                    res = 100 if ok else 0
                    break
                if code == 53:  # upside/downside gap three methods
                    c2 = _color(o, c, i - 2)
                    ok = (c2 == _color(o, c, i - 1) and _color(o, c, i - 1) == -_color(o, c, i)
                          and o[i] < max(c[i - 1], o[i - 1]) and o[i] > min(c[i - 1], o[i - 1])
                          and c[i] < max(c[i - 2], o[i - 2]) and c[i] > min(c[i - 2], o[i - 2])
                          and ((c2 == 1 and _rbgapup(o, c, i - 1, i - 2))
                               or (c2 == -1 and _rbgapdown(o, c, i - 1, i - 2))))
                    res = c2 * 100 if ok else 0
                    break
                if code == 54:  # concealing baby swallow
                    ok = (_color(o, c, i - 3) == -1 and _color(o, c, i - 2) == -1
                          and _color(o, c, i - 1) == -1 and _color(o, c, i) == -1
                          and _ls(o, l, c, i - 3) < a[0] and _us(o, h, c, i - 3) < a[0]
                          and _ls(o, l, c, i - 2) < a[1] and _us(o, h, c, i - 2) < a[1]
                          and _rbgapdown(o, c, i - 1, i - 2) and _us(o, h, c, i - 1) > a[2]
                          and h[i - 1] > c[i - 2] and h[i] > h[i - 1] and l[i] < l[i - 1])
                    res = 100 if ok else 0
                    break
                if code == 55:  # three stars in the south
                    ok = (_color(o, c, i - 2) == -1 and _color(o, c, i - 1) == -1
                          and _color(o, c, i) == -1
                          and _rb(o, c, i - 2) > a[0] and _ls(o, l, c, i - 2) > a[1]
                          and _rb(o, c, i - 1) < _rb(o, c, i - 2)
                          and o[i - 1] > c[i - 2] and o[i - 1] <= h[i - 2]
                          and l[i - 1] < c[i - 2] and l[i - 1] >= l[i - 2]
                          and _ls(o, l, c, i - 1) > a[2]
                          and _rb(o, c, i) < a[3] and _ls(o, l, c, i) < a[4]
                          and _us(o, h, c, i) < a[4]
                          and l[i] > l[i - 1] and h[i] < h[i - 1])
                    res = 100 if ok else 0
                    break
                if code == 56:  # advance block
                    rb2, rb1, rb0 = _rb(o, c, i - 2), _rb(o, c, i - 1), _rb(o, c, i)
                    ok = (_color(o, c, i - 2) == 1 and _color(o, c, i - 1) == 1
                          and _color(o, c, i) == 1
                          and c[i] > c[i - 1] and c[i - 1] > c[i - 2]
                          and o[i - 1] > o[i - 2] and o[i - 1] <= c[i - 2] + a[4]
                          and o[i] > o[i - 1] and o[i] <= c[i - 1] + a[5]
                          and rb2 > a[8] and _us(o, h, c, i - 2) < a[0]
                          and ((rb1 < rb2 - a[6] and rb0 < rb1 + a[5])
                               or rb0 < rb1 - a[7]
                               or (rb0 < rb1 and rb1 < rb2
                                   and (_us(o, h, c, i) > a[2] or _us(o, h, c, i - 1) > a[1]))
                               or (rb0 < rb1 and _us(o, h, c, i) > a[3])))
                    res = -100 if ok else 0
                    break
                if code == 57 or code == 58:  # hikkake, modified hikkake (stateful)
                    pidx = pst[2 * p]
                    pres = pst[2 * p + 1]
                    inside_out = ((h[i] < h[i - 1] and l[i] < l[i - 1])
                                  or (h[i] > h[i - 1] and l[i] > l[i - 1]))
                    if code == 57:
                        setup = h[i - 1] < h[i - 2] and l[i - 1] > l[i - 2] and inside_out
                    else:
                        setup = (h[i - 2] < h[i - 3] and l[i - 2] > l[i - 3]
                                 and h[i - 1] < h[i - 2] and l[i - 1] > l[i - 2]
                                 and ((h[i] < h[i - 1] and l[i] < l[i - 1]
                                       and c[i - 2] <= l[i - 2] + a[0])
                                      or (h[i] > h[i - 1] and l[i] > l[i - 1]
                                          and c[i - 2] >= h[i - 2] - a[0])))
                    if setup:
                        pres = 100.0 if h[i] < h[i - 1] else -100.0
                        pidx = float(ii)
                        res = int(pres)
                    elif ii <= pidx + 3 and pres != 0.0:
                        k = i - (ii - int(pidx) + 1)   # bar pidx - 1 (the inside bar)
                        if (pres > 0 and c[i] > h[k]) or (pres < 0 and c[i] < l[k]):
                            res = int(pres) + (100 if pres > 0 else -100)
                            pidx = 0.0
                    pst[2 * p] = pidx
                    pst[2 * p + 1] = pres
                    break
                if code == 59:  # breakaway
                    c4, c3, c1, c0 = (_color(o, c, i - 4), _color(o, c, i - 3),
                                      _color(o, c, i - 1), _color(o, c, i))
                    ok = (c4 == c3 and c3 == c1 and c1 == -c0 and _rb(o, c, i - 4) > a[0]
                          and ((c4 == -1 and _rbgapdown(o, c, i - 3, i - 4)
                                and h[i - 2] < h[i - 3] and l[i - 2] < l[i - 3]
                                and h[i - 1] < h[i - 2] and l[i - 1] < l[i - 2]
                                and c[i] > o[i - 3] and c[i] < c[i - 4])
                               or (c4 == 1 and _rbgapup(o, c, i - 3, i - 4)
                                   and h[i - 2] > h[i - 3] and l[i - 2] > l[i - 3]
                                   and h[i - 1] > h[i - 2] and l[i - 1] > l[i - 2]
                                   and c[i] < o[i - 3] and c[i] > c[i - 4])))
                    res = c0 * 100 if ok else 0
                    break
                if code == 60:  # mat hold
                    floor = c[i - 4] - _rb(o, c, i - 4) * pen_
                    lo2, lo1 = min(o[i - 2], c[i - 2]), min(o[i - 1], c[i - 1])
                    ok = (_color(o, c, i - 4) == 1 and _color(o, c, i - 3) == -1
                          and _color(o, c, i) == 1 and _rbgapup(o, c, i - 3, i - 4)
                          and lo2 < c[i - 4] and lo1 < c[i - 4] and lo2 > floor and lo1 > floor
                          and max(c[i - 2], o[i - 2]) < o[i - 3]
                          and max(c[i - 1], o[i - 1]) < max(c[i - 2], o[i - 2])
                          and o[i] > c[i - 1] and c[i] > max(max(h[i - 3], h[i - 2]), h[i - 1])
                          and _rb(o, c, i - 4) > a[0] and _rb(o, c, i - 3) < a[1]
                          and _rb(o, c, i - 2) < a[2] and _rb(o, c, i - 1) < a[3])
                    res = 100 if ok else 0
                    break
                if code == 61:  # rising/falling three methods
                    c4 = _color(o, c, i - 4)
                    f = float(c4)
                    ok = (c4 == -_color(o, c, i - 3)
                          and _color(o, c, i - 3) == _color(o, c, i - 2)
                          and _color(o, c, i - 2) == _color(o, c, i - 1)
                          and _color(o, c, i - 1) == -_color(o, c, i)
                          and min(o[i - 3], c[i - 3]) < h[i - 4] and max(o[i - 3], c[i - 3]) > l[i - 4]
                          and min(o[i - 2], c[i - 2]) < h[i - 4] and max(o[i - 2], c[i - 2]) > l[i - 4]
                          and min(o[i - 1], c[i - 1]) < h[i - 4] and max(o[i - 1], c[i - 1]) > l[i - 4]
                          and c[i - 2] * f < c[i - 3] * f and c[i - 1] * f < c[i - 2] * f
                          and o[i] * f > c[i - 1] * f and c[i] * f > c[i - 4] * f
                          and _rb(o, c, i - 4) > a[0] and _rb(o, c, i - 3) < a[1]
                          and _rb(o, c, i - 2) < a[2] and _rb(o, c, i - 1) < a[3]
                          and _rb(o, c, i) > a[4])
                    res = 100 * c4 if ok else 0
                    break
                if code == 62:  # stalled pattern
                    rb0 = _rb(o, c, i)
                    ok = (_color(o, c, i - 2) == 1 and _color(o, c, i - 1) == 1
                          and _color(o, c, i) == 1
                          and c[i] > c[i - 1] and c[i - 1] > c[i - 2]
                          and _rb(o, c, i - 2) > a[0] and _rb(o, c, i - 1) > a[1]
                          and _us(o, h, c, i - 1) < a[2]
                          and o[i - 1] > o[i - 2] and o[i - 1] <= c[i - 2] + a[3]
                          and rb0 < a[4] and o[i] >= c[i - 1] - rb0 - a[5])
                    res = -100 if ok else 0
                    break
                if code == 43:  # tweezer (ours)
                    c1, c0 = _color(o, c, i - 1), _color(o, c, i)
                    if not (_rb(o, c, i - 1) > a[1] and _rb(o, c, i) > a[2] and c1 == -c0):
                        res = 0
                        break
                    if c1 == 1 and abs(h[i] - h[i - 1]) <= a[0] and h[i - 1] > h[i - 2]:
                        res = -100
                        break
                    if c1 == -1 and abs(l[i] - l[i - 1]) <= a[0] and l[i - 1] < l[i - 2]:
                        res = 100
                        break
                    res = 0
                    break
                res = 0
            out[row0 + r, p] = res if ii >= lookback[p] else 0


CHUNK = 256


@njit(cache=True)
def _run(codes, lookback, stfrom, pen, smap, ukind, uperiod, ufactor, uk, ulb,
         o, h, l, c, base, i0, i1, tot, out, out_row0):
    """Patterns `codes` over absolute bars [i0, i1).

    The price arrays hold bars from absolute index `base` on (batch: base 0 and all bars; live:
    a short trailing window). The running totals are kept per distinct (setting, candle offset,
    lookback): patterns that share one (all the doji family's BodyDoji at bar i, say) share the
    total, which is the same double either way since it starts at the same bar. `tot[u]` is the
    state carried between calls (then, from tot[nu], two slots per pattern for the stateful
    ones). Bars go in chunks: first every threshold of the chunk, then
    every pattern of the chunk. out[out_row0 + (i - i0), p] receives the values."""
    nu = ukind.shape[0]
    av = np.zeros((nu + 1, CHUNK))      # row nu stays 0: the slot unused specs point at
    pst = tot[nu:]
    R = _ranges(o, h, l, c)
    for j0 in range(i0, i1, CHUNK):
        j1 = min(j0 + CHUNK, i1)
        for u in range(nu):
            lb = ulb[u]
            kind = ukind[u]
            period = uperiod[u]
            k = uk[u]
            f = ufactor[u]
            for i in range(max(j0, lb), j1):
                li = i - base
                if period == 0:
                    x = f * R[kind, li - k]
                else:
                    if i == lb:  # TA-Lib starts its running totals at the lookback bar
                        t = 0.0
                        for m in range(li - k - period, li - k):
                            t += R[kind, m]
                        tot[u] = t
                    x = f * (tot[u] / period)
                    tot[u] += R[kind, li - k] - R[kind, li - k - period]
                av[u, i - j0] = x / 2.0 if kind == 2 else x   # x / 1.0 == x exactly
        _eval_all(codes, lookback, stfrom, pen, smap, av, o, h, l, c, base, j0, j1, out,
                  out_row0 + j0 - i0, pst)
    return out


# -- public API --------------------------------------------------------------------------------

def _as_ohlc(open_, high, low, close) -> tuple[np.ndarray, ...]:
    arrs = []
    for name, x in (("open", open_), ("high", high), ("low", low), ("close", close)):
        a = np.ascontiguousarray(x, dtype=np.float64)
        if a.ndim != 1:
            raise ValueError(f"{name} must be a 1-D array of prices, got shape {a.shape}")
        arrs.append(a)
    n = arrs[0].shape[0]
    for name, a in zip(("high", "low", "close"), arrs[1:]):
        if a.shape[0] != n:
            raise ValueError(f"{name} has {a.shape[0]} bars but open has {n}; all four "
                             f"price arrays must have the same length")
    return tuple(arrs)


class _Plan:
    """The arrays `_run` needs for a list of patterns (with their penetration overrides)."""

    def __init__(self, names: Sequence[str], penetrations: Sequence[float] | None = None):
        unknown = [nm for nm in names if nm not in _TABLE]
        if unknown:
            raise ValueError(f"unknown pattern(s) {unknown}; known: {sorted(_TABLE)}")
        if penetrations is not None and len(penetrations) != len(names):
            raise ValueError(f"{len(penetrations)} penetrations for {len(names)} patterns")
        m = len(names)
        self.names = list(names)
        self.codes = np.array([_TABLE[nm].code for nm in names], dtype=np.int64)
        self.lookback = np.array([_TABLE[nm].lookback for nm in names], dtype=np.int64)
        self.stfrom = np.array([_TABLE[nm].state_from for nm in names], dtype=np.int64)
        self.pen = np.zeros(m, dtype=np.float64)
        uniq: dict[tuple[int, int, int], int] = {}
        for nm in names:
            e = _TABLE[nm]
            for st, k in e.specs:
                uniq.setdefault((st, k, e.tot_start), len(uniq))
        nu = len(uniq)
        self.smap = np.full((m, MAX_SPECS), nu, dtype=np.int64)
        for p, nm in enumerate(names):
            e = _TABLE[nm]
            for s, (st, k) in enumerate(e.specs):
                self.smap[p, s] = uniq[(st, k, e.tot_start)]
            pn = e.penetration if penetrations is None else float(penetrations[p])
            if not (pn >= 0.0):
                raise ValueError(f"{nm}: penetration must be >= 0, got {pn}")
            self.pen[p] = pn
        keys = sorted(uniq, key=uniq.__getitem__)
        self.ukind = np.array([int(SETTINGS[st, 0]) for st, _, _ in keys], dtype=np.int64)
        self.uperiod = np.array([int(SETTINGS[st, 1]) for st, _, _ in keys], dtype=np.int64)
        self.ufactor = np.array([SETTINGS[st, 2] for st, _, _ in keys], dtype=np.float64)
        self.uk = np.array([k for _, k, _ in keys], dtype=np.int64)
        self.ulb = np.array([lb for _, _, lb in keys], dtype=np.int64)
        self.nstate = nu + 2 * m + 1
        self.window = int(self.lookback.max()) + 2 if m else 4

    def new_state(self) -> np.ndarray:
        return np.zeros(self.nstate, dtype=np.float64)

    def run_into(self, o, h, l, c, base: int, i0: int, i1: int, tot: np.ndarray,
                 out: np.ndarray, out_row0: int = 0) -> None:
        _run(self.codes, self.lookback, self.stfrom, self.pen, self.smap, self.ukind, self.uperiod,
             self.ufactor, self.uk, self.ulb, o, h, l, c, base, i0, i1, tot, out, out_row0)

    def run(self, o, h, l, c) -> np.ndarray:
        n = o.shape[0]
        out = np.zeros((n, len(self.names)), dtype=np.int32)
        self.run_into(o, h, l, c, 0, 0, n, self.new_state(), out)
        return out


def patterns(names: Sequence[str], open_, high, low, close,
             penetrations: Sequence[float] | None = None) -> np.ndarray:
    """Several patterns at once: int32 matrix [n_bars x len(names)]."""
    o, h, l, c = _as_ohlc(open_, high, low, close)
    return _Plan(names, penetrations).run(o, h, l, c)


def _one(name: str, open_, high, low, close, penetration: float | None = None) -> np.ndarray:
    o, h, l, c = _as_ohlc(open_, high, low, close)
    pens = None if penetration is None else [penetration]
    return np.ascontiguousarray(_Plan([name], pens).run(o, h, l, c)[:, 0])


class PatternStream:
    """Live patterns: `update(o, h, l, c)` returns the values of the new bar, equal to the batch
    functions' values at that bar for the same series from its first bar (same running totals,
    same code). Keeps only a short window of bars."""

    def __init__(self, names: Sequence[str], penetrations: Sequence[float] | None = None):
        self._plan = _Plan(names, penetrations)
        self.names = self._plan.names
        w = self._plan.window
        self._w = w
        self._buf = np.zeros((4, 2 * w), dtype=np.float64)
        self._len = 0          # bars in the buffer
        self._n = 0            # bars seen
        self._tot = self._plan.new_state()
        self._row = np.zeros((1, len(self.names)), dtype=np.int32)

    def update(self, open_: float, high: float, low: float, close: float) -> np.ndarray:
        if self._len == self._buf.shape[1]:      # slide: keep the last w bars
            self._buf[:, :self._w] = self._buf[:, self._len - self._w:self._len]
            self._len = self._w
        b = self._buf
        j = self._len
        b[0, j], b[1, j], b[2, j], b[3, j] = open_, high, low, close
        self._len += 1
        base = self._n - j
        self._plan.run_into(b[0], b[1], b[2], b[3], base, self._n, self._n + 1, self._tot,
                            self._row)
        self._n += 1
        return self._row[0].copy()


def pattern_names(include_non_talib: bool = True) -> list[str]:
    """All pattern function names, TA-Lib's naming (lower case)."""
    return [nm for nm in _TABLE if include_non_talib or nm not in NOT_IN_TALIB]


# -- one function per pattern (TA-Lib names and argument order) ------------------------------

def cdldoji(open_, high, low, close) -> np.ndarray:
    """Doji: real body <= BodyDoji (10% of the average high-low range of the 10 previous bars).
    +100."""
    return _one("cdldoji", open_, high, low, close)


def cdldragonflydoji(open_, high, low, close) -> np.ndarray:
    """Dragonfly doji: doji body, upper shadow < ShadowVeryShort, lower shadow >
    ShadowVeryShort. +100."""
    return _one("cdldragonflydoji", open_, high, low, close)


def cdlgravestonedoji(open_, high, low, close) -> np.ndarray:
    """Gravestone doji: doji body, lower shadow < ShadowVeryShort, upper shadow >
    ShadowVeryShort. +100."""
    return _one("cdlgravestonedoji", open_, high, low, close)


def cdllongleggeddoji(open_, high, low, close) -> np.ndarray:
    """Long-legged doji: doji body and either shadow longer than the body (ShadowLong). +100."""
    return _one("cdllongleggeddoji", open_, high, low, close)


def cdlrickshawman(open_, high, low, close) -> np.ndarray:
    """Rickshaw man: long-legged doji with both shadows long and the body near (Near) the
    middle of the range. +100."""
    return _one("cdlrickshawman", open_, high, low, close)


def cdlhammer(open_, high, low, close) -> np.ndarray:
    """Hammer: short body (BodyShort), lower shadow longer than the body, very short upper
    shadow, body at or near (Near of the previous bar) the previous bar's low. +100 (no
    trend filter, as TA-Lib)."""
    return _one("cdlhammer", open_, high, low, close)


def cdlhangingman(open_, high, low, close) -> np.ndarray:
    """Hanging man: hammer shape with the body at or near (Near) the previous bar's high. -100."""
    return _one("cdlhangingman", open_, high, low, close)


def cdlinvertedhammer(open_, high, low, close) -> np.ndarray:
    """Inverted hammer: short body, upper shadow longer than the body, very short lower shadow,
    body gapping down from the previous body. +100."""
    return _one("cdlinvertedhammer", open_, high, low, close)


def cdlshootingstar(open_, high, low, close) -> np.ndarray:
    """Shooting star: inverted-hammer shape with the body gapping up from the previous body.
    -100."""
    return _one("cdlshootingstar", open_, high, low, close)


def cdlengulfing(open_, high, low, close) -> np.ndarray:
    """Engulfing: the body of bar i, of the opposite colour, covers the body of bar i-1. +-100,
    or +-80 when the two bodies share an end."""
    return _one("cdlengulfing", open_, high, low, close)


def cdlharami(open_, high, low, close) -> np.ndarray:
    """Harami: long body (BodyLong) then a short body (BodyShort) inside it. Sign opposite to
    the first bar's colour; +-100 strictly inside, +-80 when sharing an end."""
    return _one("cdlharami", open_, high, low, close)


def cdlharamicross(open_, high, low, close) -> np.ndarray:
    """Harami cross: harami whose second bar is a doji (BodyDoji). +-100 / +-80 as cdlharami."""
    return _one("cdlharamicross", open_, high, low, close)


def cdlpiercing(open_, high, low, close) -> np.ndarray:
    """Piercing: long black bar, then a long white bar opening below its low and closing above
    its body's midpoint but below its open. +100."""
    return _one("cdlpiercing", open_, high, low, close)


def cdldarkcloudcover(open_, high, low, close, penetration: float = 0.5) -> np.ndarray:
    """Dark cloud cover: long white bar, then a black bar opening above its high and closing
    below close - penetration x body but above its open. -100."""
    return _one("cdldarkcloudcover", open_, high, low, close, penetration)


def cdlmorningstar(open_, high, low, close, penetration: float = 0.3) -> np.ndarray:
    """Morning star: long black bar, short body gapping down, white bar (not short) closing
    above close(i-2) + penetration x body(i-2). +100."""
    return _one("cdlmorningstar", open_, high, low, close, penetration)


def cdleveningstar(open_, high, low, close, penetration: float = 0.3) -> np.ndarray:
    """Evening star: long white bar, short body gapping up, black bar (not short) closing below
    close(i-2) - penetration x body(i-2). -100."""
    return _one("cdleveningstar", open_, high, low, close, penetration)


def cdlmorningdojistar(open_, high, low, close, penetration: float = 0.3) -> np.ndarray:
    """Morning doji star: morning star whose middle bar is a doji. +100."""
    return _one("cdlmorningdojistar", open_, high, low, close, penetration)


def cdleveningdojistar(open_, high, low, close, penetration: float = 0.3) -> np.ndarray:
    """Evening doji star: evening star whose middle bar is a doji. -100."""
    return _one("cdleveningdojistar", open_, high, low, close, penetration)


def cdl3whitesoldiers(open_, high, low, close) -> np.ndarray:
    """Three white soldiers: three white bars with very short upper shadows, higher closes,
    each opening within or near the previous body, none far shorter than the previous, the
    last not short. +100."""
    return _one("cdl3whitesoldiers", open_, high, low, close)


def cdl3blackcrows(open_, high, low, close) -> np.ndarray:
    """Three black crows: a white bar, then three black bars with very short lower shadows,
    each opening within the previous body and closing lower, the first closing below the
    white bar's high. -100."""
    return _one("cdl3blackcrows", open_, high, low, close)


def cdlmarubozu(open_, high, low, close) -> np.ndarray:
    """Marubozu: long body, both shadows very short. +-100 by colour."""
    return _one("cdlmarubozu", open_, high, low, close)


def cdlclosingmarubozu(open_, high, low, close) -> np.ndarray:
    """Closing marubozu: long body with a very short shadow on the closing end. +-100 by
    colour."""
    return _one("cdlclosingmarubozu", open_, high, low, close)


def cdlspinningtop(open_, high, low, close) -> np.ndarray:
    """Spinning top: short body with both shadows longer than the body. +-100 by colour."""
    return _one("cdlspinningtop", open_, high, low, close)


def cdlhighwave(open_, high, low, close) -> np.ndarray:
    """High wave: short body with both shadows very long (more than twice the body). +-100 by
    colour."""
    return _one("cdlhighwave", open_, high, low, close)


def cdllongline(open_, high, low, close) -> np.ndarray:
    """Long line: long body with short shadows (ShadowShort). +-100 by colour."""
    return _one("cdllongline", open_, high, low, close)


def cdlshortline(open_, high, low, close) -> np.ndarray:
    """Short line: short body with short shadows. +-100 by colour."""
    return _one("cdlshortline", open_, high, low, close)


def cdlbelthold(open_, high, low, close) -> np.ndarray:
    """Belt hold: long body with a very short shadow on the opening end. +-100 by colour."""
    return _one("cdlbelthold", open_, high, low, close)


def cdltakuri(open_, high, low, close) -> np.ndarray:
    """Takuri: doji body, very short upper shadow, lower shadow more than twice the body
    (ShadowVeryLong). +100."""
    return _one("cdltakuri", open_, high, low, close)


def cdl3inside(open_, high, low, close) -> np.ndarray:
    """Three inside up/down: harami (long then short inside), then a third bar of the opposite
    colour to the first closing beyond the first bar's open. Sign opposite to the first
    bar's colour."""
    return _one("cdl3inside", open_, high, low, close)


def cdl3outside(open_, high, low, close) -> np.ndarray:
    """Three outside up/down: engulfing of bar i-2 by bar i-1, then bar i closing further in
    the engulfing direction. Sign of bar i-1's colour."""
    return _one("cdl3outside", open_, high, low, close)


def cdlabandonedbaby(open_, high, low, close, penetration: float = 0.3) -> np.ndarray:
    """Abandoned baby: long bar, doji gapping away (shadows do not overlap), then a bar (not
    short) of the opposite colour gapping back and closing penetration x body into the
    first. Sign of the last bar's colour."""
    return _one("cdlabandonedbaby", open_, high, low, close, penetration)


def cdlkicking(open_, high, low, close) -> np.ndarray:
    """Kicking: two marubozu of opposite colours with a gap between them (up after black, down
    after white). Sign of the second bar's colour."""
    return _one("cdlkicking", open_, high, low, close)


def cdlkickingbylength(open_, high, low, close) -> np.ndarray:
    """Kicking by length: kicking, with the sign of the longer marubozu."""
    return _one("cdlkickingbylength", open_, high, low, close)


def cdldojistar(open_, high, low, close) -> np.ndarray:
    """Doji star: long body, then a doji gapping away in the body's direction. Sign opposite to
    the first bar's colour."""
    return _one("cdldojistar", open_, high, low, close)


def cdl2crows(open_, high, low, close) -> np.ndarray:
    """Two crows: long white bar, black bar gapping up, black bar opening inside the second
    body and closing inside the first. -100."""
    return _one("cdl2crows", open_, high, low, close)


def cdlhomingpigeon(open_, high, low, close) -> np.ndarray:
    """Homing pigeon: long black bar, then a short black body inside it. +100."""
    return _one("cdlhomingpigeon", open_, high, low, close)


def cdlmatchinglow(open_, high, low, close) -> np.ndarray:
    """Matching low: two black bars whose closes are equal within Equal (5% of the 5-bar
    average range). +100."""
    return _one("cdlmatchinglow", open_, high, low, close)


def cdlonneck(open_, high, low, close) -> np.ndarray:
    """On-neck: long black bar, then a white bar opening below its low and closing at its low
    (within Equal). -100."""
    return _one("cdlonneck", open_, high, low, close)


def cdlinneck(open_, high, low, close) -> np.ndarray:
    """In-neck: long black bar, then a white bar opening below its low and closing at or just
    above its close (within Equal). -100."""
    return _one("cdlinneck", open_, high, low, close)


def cdlthrusting(open_, high, low, close) -> np.ndarray:
    """Thrusting: long black bar, then a white bar opening below its low and closing above its
    close (by more than Equal) but not above the body's midpoint. -100."""
    return _one("cdlthrusting", open_, high, low, close)


def cdlcounterattack(open_, high, low, close) -> np.ndarray:
    """Counterattack: two long bars of opposite colours with equal closes (within Equal). Sign
    of the second bar's colour."""
    return _one("cdlcounterattack", open_, high, low, close)


def cdlsticksandwich(open_, high, low, close) -> np.ndarray:
    """Stick sandwich: black, white (low above the first close), black closing equal (within
    Equal) to the first close. +100."""
    return _one("cdlsticksandwich", open_, high, low, close)


def cdltweezer(open_, high, low, close) -> np.ndarray:
    """Tweezer (not in TA-Lib; our definition). Bars i-1 and i have opposite colours and bodies
    longer than BodyShort (the average body of their 10 previous bars). Tweezer top (-100):
    bar i-1 white, its high above bar i-2's high, and |high(i) - high(i-1)| <= Equal(i-1)
    (5% of the average high-low range of the 5 bars before i-1). Tweezer bottom (+100): bar
    i-1 black, its low below bar i-2's low, and |low(i) - low(i-1)| <= Equal(i-1)."""
    return _one("cdltweezer", open_, high, low, close)


def cdlseparatinglines(open_, high, low, close) -> np.ndarray:
    """Separating lines: opposite colour to the previous bar, same open (within Equal), a long
    body with a very short shadow on the opening end (a belt hold). Sign of the bar's
    colour."""
    return _one("cdlseparatinglines", open_, high, low, close)


def cdlgapsidesidewhite(open_, high, low, close) -> np.ndarray:
    """Up/down-gap side-by-side white lines: two white bars of about the same size (within
    Near) and open (within Equal), both gapping away from the bar before them. +100 after an
    upward gap, -100 after a downward one."""
    return _one("cdlgapsidesidewhite", open_, high, low, close)


def cdlupsidegap2crows(open_, high, low, close) -> np.ndarray:
    """Upside gap two crows: long white bar, short black bar gapping up, black bar engulfing it
    and closing above the first bar's close. -100."""
    return _one("cdlupsidegap2crows", open_, high, low, close)


def cdltasukigap(open_, high, low, close) -> np.ndarray:
    """Tasuki gap: a gap, a bar in the gap's direction, then an opposite bar of about the same
    size (within Near) opening inside its body and closing inside the gap. Sign of the
    middle bar's colour."""
    return _one("cdltasukigap", open_, high, low, close)


def cdlidentical3crows(open_, high, low, close) -> np.ndarray:
    """Identical three crows: three black bars with very short lower shadows and falling
    closes, each opening at (within Equal) the previous close. -100."""
    return _one("cdlidentical3crows", open_, high, low, close)


def cdlunique3river(open_, high, low, close) -> np.ndarray:
    """Unique three river: long black bar, black harami-like bar with a lower low, then a short
    white bar opening above that low. +100."""
    return _one("cdlunique3river", open_, high, low, close)


def cdltristar(open_, high, low, close) -> np.ndarray:
    """Tristar: three doji (all against the average at the first one); -100 when the middle
    gaps up and the third is not higher, +100 when it gaps down and the third is not lower."""
    return _one("cdltristar", open_, high, low, close)


def cdl3linestrike(open_, high, low, close) -> np.ndarray:
    """Three-line strike: three bars of one colour with closes in its direction, each opening
    within or near (Near) the previous body, then a bar of the other colour opening beyond
    the third close and closing beyond the first open. Sign of the three bars' colour."""
    return _one("cdl3linestrike", open_, high, low, close)


def cdlladderbottom(open_, high, low, close) -> np.ndarray:
    """Ladder bottom: three black bars with lower opens and closes, a black bar with an upper
    shadow, then a white bar opening above its body and closing above its high. +100."""
    return _one("cdlladderbottom", open_, high, low, close)


def cdlxsidegap3methods(open_, high, low, close) -> np.ndarray:
    """Upside/downside gap three methods: two bars of one colour with a body gap between them
    in that direction, then an opposite bar opening in the second body and closing in the
    first. Sign of the first bar's colour."""
    return _one("cdlxsidegap3methods", open_, high, low, close)


def cdlconcealbabyswall(open_, high, low, close) -> np.ndarray:
    """Concealing baby swallow: two black marubozu, a black bar gapping down whose upper shadow
    reaches into the second body, then a black bar engulfing it, shadows included. +100."""
    return _one("cdlconcealbabyswall", open_, high, low, close)


def cdl3starsinsouth(open_, high, low, close) -> np.ndarray:
    """Three stars in the south: three black bars. The first long (BodyLong) with a long lower
    shadow (longer than its body); the second smaller, opening above the first close within
    its range, trading below that close but not below the first low, with a lower shadow
    (ShadowVeryShort); the third a small (BodyShort) marubozu (both shadows very short) inside
    the second bar's range. +100."""
    return _one("cdl3starsinsouth", open_, high, low, close)


def cdladvanceblock(open_, high, low, close) -> np.ndarray:
    """Advance block: three white bars with higher closes, each opening within or near (Near)
    the previous body; the first long with a short upper shadow (ShadowShort); the advance
    weakening: the second far (Far) smaller than the first and the third not longer than the
    second, or the third far smaller than the second, or shrinking bodies with an upper
    shadow that is not short on the second or third, or a smaller third with a long upper
    shadow (ShadowLong). -100."""
    return _one("cdladvanceblock", open_, high, low, close)


def cdlbreakaway(open_, high, low, close) -> np.ndarray:
    """Breakaway: a long bar, a bar of the same colour whose body gaps away from it, a bar
    with lower highs and lows (higher, after a white first bar), a fourth of the first
    colour continuing so, then a bar of the other colour closing inside the gap between the
    first two bodies. Sign of the last bar's colour."""
    return _one("cdlbreakaway", open_, high, low, close)


def cdlhikkake(open_, high, low, close) -> np.ndarray:
    """Hikkake: an inside bar (lower high, higher low than the bar before), then a bar breaking
    out of it on both ends in one direction: +100 when that bar has a lower high and lower low
    (a false breakdown), -100 for a higher high and higher low. A close beyond the inside
    bar's high (after +100) or low (after -100) within the next 3 bars confirms it: +200 /
    -200 on the confirming bar (once; a new setup replaces the one waiting). Stateful, as in
    TA-Lib: the state machine starts 3 bars before the first output."""
    return _one("cdlhikkake", open_, high, low, close)


def cdlhikkakemod(open_, high, low, close) -> np.ndarray:
    """Modified hikkake: two nested inside bars, the first closing near (Near) its low (+) or
    its high (-), then a bar breaking out downwards (+100) or upwards (-100); confirmed as
    cdlhikkake (+200 / -200 within 3 bars, against the second inside bar's high or low)."""
    return _one("cdlhikkakemod", open_, high, low, close)


def cdlmathold(open_, high, low, close, penetration: float = 0.5) -> np.ndarray:
    """Mat hold: a long white bar, a small black body gapping up, two more small bodies falling
    and holding within the first body (penetrating it by less than penetration x its
    length), then a white bar opening above the previous close and closing above the highest
    high of the three reaction bars. +100."""
    return _one("cdlmathold", open_, high, low, close, penetration)


def cdlrisefall3methods(open_, high, low, close) -> np.ndarray:
    """Rising/falling three methods: a long bar, three small bodies of the other colour moving
    against it and holding within its range, then a long bar of the first colour opening
    beyond the previous close and closing beyond the first close. Sign of the first bar's
    colour."""
    return _one("cdlrisefall3methods", open_, high, low, close)


def cdlstalledpattern(open_, high, low, close) -> np.ndarray:
    """Stalled pattern: three white bars with higher closes; the first two long, the second
    with a very short upper shadow and opening within or near the first body; the third small
    (BodyShort) and riding on the second's shoulder (opening at or above its close minus the
    third body minus Near). -100."""
    return _one("cdlstalledpattern", open_, high, low, close)
