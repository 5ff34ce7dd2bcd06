"""Candlestick patterns: bar for bar equal to TA-Lib on real candles and on pattern-rich random
candles, the hand-built textbook examples, the tweezer (not in TA-Lib) against its docstring,
live == batch, and clear errors."""
from __future__ import annotations

import csv
import gzip

import numpy as np
import pytest
import talib

from datafiles import shared_file
from tradecore.indicators import patterns as P

REAL = ["ohlcv/binance_BTCUSDT_1h_20170817_20240421.csv.gz",
        "ohlcv/binance_ETHBTC_1m_20210426_20210526.csv.gz",
        "ohlcv/bitstamp_BTCUSD_1d_20141128_20200117.csv",
        "ohlcv/kraken_XBTUSDC_1m_20230101_20230331.csv.gz"]
TALIB_PATTERNS = P.pattern_names(include_non_talib=False)
_cache: dict[str, tuple[np.ndarray, ...]] = {}


def load_ohlc(rel: str) -> tuple[np.ndarray, ...]:
    if rel not in _cache:
        path = shared_file(rel)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt") as f:
            rows = list(csv.DictReader(f))
        _cache[rel] = tuple(np.array([float(r[k]) for r in rows])
                            for k in ("open", "high", "low", "close"))
    return _cache[rel]


def rich_candles(seed: int, n: int = 4000) -> tuple[np.ndarray, ...]:
    """Random candles on a coarse price grid, so that the ties TA-Lib's conditions care about
    (equal closes, bodies sharing an end, shadow-less bars, gaps) happen often."""
    rng = np.random.default_rng(seed)
    step = rng.choice([-3, -2, -1, 0, 1, 2, 3], size=n, p=[.1, .15, .15, .2, .15, .15, .1])
    c = 200.0 + np.cumsum(step)
    o = np.r_[c[0], c[:-1]] + rng.choice([-4, -2, -1, 0, 0, 1, 2, 4], size=n)
    h = np.maximum(o, c) + rng.choice([0, 0, 1, 2, 5], size=n)
    lo = np.minimum(o, c) - rng.choice([0, 0, 1, 2, 5], size=n)
    return o, h, lo, c


def test_there_are_at_least_20_patterns_and_all_61_of_talibs_are_checked_against_it():
    assert len(P.pattern_names()) >= 20
    assert all(hasattr(talib, nm.upper()) for nm in TALIB_PATTERNS)
    assert len(TALIB_PATTERNS) == 61
    assert set(TALIB_PATTERNS) == {f.lower() for f in talib.get_function_groups()["Pattern Recognition"]}


def test_every_talib_pattern_fires_somewhere_in_the_checked_data():
    """So that each equality above compares signals, not only zeros: every pattern fires on the
    real or the random candles, or has a hand-built example below."""
    fired = {nm: 0 for nm in TALIB_PATTERNS}
    series = [load_ohlc(r) for r in REAL] + [rich_candles(s) for s in range(3)]
    for o, h, lo, c in series:
        for nm in TALIB_PATTERNS:
            fired[nm] += np.count_nonzero(getattr(talib, nm.upper())(o, h, lo, c))
    silent = {nm for nm, k in fired.items() if k == 0}
    assert silent <= set(EXAMPLES), silent


@pytest.mark.parametrize("rel", REAL)
def test_every_pattern_equals_talib_bar_for_bar_when_run_on_real_candles(rel):
    o, h, lo, c = load_ohlc(rel)
    fired = 0
    for nm in TALIB_PATTERNS:
        ours = getattr(P, nm)(o, h, lo, c)
        ref = getattr(talib, nm.upper())(o, h, lo, c)
        assert ours.dtype == np.int32
        bad = np.nonzero(ours != ref)[0]
        assert bad.size == 0, f"{nm} on {rel}: differs at bars {bad[:10]}"
        fired += np.count_nonzero(ref)
    assert fired > 1000  # the comparison is not a comparison of zeros


@pytest.mark.parametrize("seed", range(3))
def test_every_pattern_equals_talib_when_run_on_pattern_rich_random_candles(seed):
    o, h, lo, c = rich_candles(seed)
    for nm in TALIB_PATTERNS:
        ours = getattr(P, nm)(o, h, lo, c)
        ref = getattr(talib, nm.upper())(o, h, lo, c)
        bad = np.nonzero(ours != ref)[0]
        assert bad.size == 0, f"{nm} seed {seed}: differs at bars {bad[:10]}"


def test_penetration_parameter_changes_the_result_like_talib():
    o, h, lo, c = load_ohlc(REAL[0])
    for nm in ("cdlmorningstar", "cdleveningstar", "cdldarkcloudcover", "cdlabandonedbaby",
               "cdlmathold"):
        for pen in (0.0, 0.1, 0.9):
            ours = getattr(P, nm)(o, h, lo, c, penetration=pen)
            ref = getattr(talib, nm.upper())(o, h, lo, c, penetration=pen)
            assert np.array_equal(ours, ref), (nm, pen)


# -- hand-built examples -------------------------------------------------------------------------

WARM = [(100.0, 101.5, 99.5, 101.0), (101.0, 101.5, 99.5, 100.0)] * 6  # body 1, range 2


def build(*bars):
    rows = WARM + list(bars)
    return tuple(np.array(x) for x in zip(*rows))


EXAMPLES = {
    # name: (bars after the warm-up, expected value at the last bar)
    "cdldoji": ([(100.0, 101.0, 99.0, 100.05)], 100),
    "cdlhammer": ([(101.0, 101.5, 99.5, 100.0), (99.6, 99.95, 97.0, 99.9)], 100),
    "cdlengulfing": ([(100.5, 101.0, 99.8, 100.0), (99.9, 101.2, 99.7, 100.8)], 100),
    "cdlmorningstar": ([(104.0, 104.2, 99.9, 100.0), (99.0, 99.5, 98.5, 99.2),
                        (99.5, 103.5, 99.4, 103.0)], 100),
    "cdleveningstar": ([(100.0, 104.1, 99.8, 104.0), (104.8, 105.5, 104.5, 105.0),
                        (104.5, 104.6, 100.5, 101.0)], -100),
    "cdlabandonedbaby": ([(120.0, 121.0, 99.0, 100.0), (95.0, 96.0, 94.0, 95.05),
                          (100.0, 116.0, 97.0, 115.0)], 100),
    "cdlkicking": ([(110.0, 110.0, 100.0, 100.0), (112.0, 122.0, 112.0, 122.0)], 100),
    "cdl3blackcrows": ([(100.0, 106.0, 99.9, 105.0), (105.5, 105.6, 102.0, 102.05),
                        (104.0, 104.1, 99.0, 99.05), (101.0, 101.1, 96.0, 96.05)], -100),
    "cdl3whitesoldiers": ([(100.0, 103.05, 99.5, 103.0), (102.0, 106.05, 101.5, 106.0),
                           (105.0, 109.05, 104.5, 109.0)], 100),
    "cdlconcealbabyswall": ([(110.0, 110.05, 105.0, 105.05), (104.5, 104.55, 100.0, 100.05),
                             (99.0, 100.5, 97.8, 98.0), (100.8, 101.0, 96.5, 97.0)], 100),
    "cdlupsidegap2crows": ([(100.0, 104.1, 99.9, 104.0), (105.5, 105.6, 104.9, 105.0),
                            (106.0, 106.1, 104.4, 104.5)], -100),
    # long black with a long lower shadow, a smaller black inside it with a lower shadow, a
    # small black marubozu inside the second: never happens in the recorded data
    "cdl3starsinsouth": ([(104.0, 104.2, 97.0, 101.0), (102.5, 102.8, 99.0, 101.5),
                          (101.0, 101.05, 100.45, 100.5)], 100),
}


def test_hikkake_reports_the_setup_then_its_confirmation_within_three_bars_like_talib():
    # inside bar (lower high, higher low), a bar breaking out upwards on both ends (-100),
    # then a close below the inside bar's low two bars later confirms it (-200)
    o, h, lo, c = build((100.0, 101.5, 99.5, 101.0), (101.0, 101.2, 100.0, 100.2),
                        (100.5, 101.4, 100.3, 101.3), (101.2, 101.5, 100.4, 100.9),
                        (100.8, 100.9, 99.0, 99.2))
    ours = P.cdlhikkake(o, h, lo, c)
    assert list(ours[-3:]) == [-100, 0, -200]
    assert np.array_equal(ours, talib.CDLHIKKAKE(o, h, lo, c))
    # the same bars live, one at a time: the confirmation needs the state of bars before
    s = P.PatternStream(["cdlhikkake"])
    assert [int(s.update(*bar)[0]) for bar in zip(o, h, lo, c)][-3:] == [-100, 0, -200]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_pattern_fires_on_its_textbook_example_when_built_by_hand(name):
    bars, expected = EXAMPLES[name]
    o, h, lo, c = build(*bars)
    ours = getattr(P, name)(o, h, lo, c)
    assert ours[-1] == expected
    assert getattr(talib, name.upper())(o, h, lo, c)[-1] == expected  # the example is right


def test_tweezer_bottom_when_a_black_then_white_bar_share_their_low():
    o, h, lo, c = build((101.0, 101.2, 98.0, 98.5), (98.6, 101.5, 98.02, 101.0))
    assert P.cdltweezer(o, h, lo, c)[-1] == 100


def test_tweezer_top_when_a_white_then_black_bar_share_their_high():
    o, h, lo, c = build((100.0, 103.0, 99.8, 102.5), (102.4, 103.03, 99.5, 100.0))
    assert P.cdltweezer(o, h, lo, c)[-1] == -100


@pytest.mark.parametrize("bars", [
    # same low but the same colour: not a tweezer
    [(101.0, 101.2, 98.0, 98.5), (99.5, 99.6, 98.0, 98.7)],
    # opposite colours but lows 1.0 apart (Equal is 5% of the ~2.0 average range = 0.1)
    [(101.0, 101.2, 98.0, 98.5), (98.6, 101.5, 99.0, 101.0)],
    # shared low, but the first bar's low is not below the bar before it (no swing)
    [(101.0, 101.2, 99.9, 100.0), (100.0, 101.0, 99.5, 99.6), (99.7, 101.5, 99.51, 101.0)],
])
def test_no_tweezer_when_a_condition_of_the_definition_fails(bars):
    o, h, lo, c = build(*bars)
    assert P.cdltweezer(o, h, lo, c)[-1] == 0


def test_tweezer_fires_on_real_candles_only_where_its_definition_holds():
    o, h, lo, c = load_ohlc(REAL[0])
    got = P.cdltweezer(o, h, lo, c)
    assert np.count_nonzero(got) > 100
    rb = np.abs(c - o)
    col = np.where(c >= o, 1, -1)
    rng = h - lo
    for i in np.nonzero(got)[0][:300]:
        short = rb[i - 11:i - 1].mean(), rb[i - 10:i].mean()
        equal = 0.05 * rng[i - 6:i - 1].mean()
        assert rb[i - 1] > short[0] - 1e-9 and rb[i] > short[1] - 1e-9
        assert col[i] == -col[i - 1]
        if got[i] == -100:
            assert col[i - 1] == 1 and abs(h[i] - h[i - 1]) <= equal + 1e-9 and h[i - 1] > h[i - 2]
        else:
            assert col[i - 1] == -1 and abs(lo[i] - lo[i - 1]) <= equal + 1e-9
            assert lo[i - 1] < lo[i - 2]


# -- live, causality, errors ---------------------------------------------------------------------

def test_stream_equals_batch_at_every_bar_when_fed_real_candles():
    o, h, lo, c = (x[:3000] for x in load_ohlc(REAL[1]))
    names = P.pattern_names()
    batch = P.patterns(names, o, h, lo, c)
    s = P.PatternStream(names)
    for i in range(len(o)):
        assert np.array_equal(s.update(o[i], h[i], lo[i], c[i]), batch[i]), i
    assert np.count_nonzero(batch) > 1000


def test_values_up_to_bar_t_do_not_change_when_later_bars_change():
    o, h, lo, c = (x.copy() for x in load_ohlc(REAL[0]))
    names = P.pattern_names()
    before = P.patterns(names, o, h, lo, c)
    t = 20000
    rng = np.random.default_rng(1)
    for x in (o, h, lo, c):
        x[t + 1:] *= rng.uniform(0.9, 1.1, size=len(x) - t - 1)
    after = P.patterns(names, o, h, lo, c)
    assert np.array_equal(before[:t + 1], after[:t + 1])
    assert not np.array_equal(before[t + 1:], after[t + 1:])


def test_bad_input_raises_a_clear_error():
    o = np.ones(20)
    with pytest.raises(ValueError, match="low has 19 bars but open has 20"):
        P.cdldoji(o, o, o[:-1], o)
    with pytest.raises(ValueError, match="1-D"):
        P.cdldoji(o.reshape(4, 5), o, o, o)
    with pytest.raises(ValueError, match="unknown pattern"):
        P.patterns(["cdlnotapattern"], o, o, o, o)
    with pytest.raises(ValueError, match="penetration must be >= 0"):
        P.cdlmorningstar(o, o, o, o, penetration=-0.1)


def test_short_series_give_zeros_like_talib():
    o, h, lo, c = build()
    for n in (0, 1, 3, 11):
        for nm in TALIB_PATTERNS:
            ours = getattr(P, nm)(o[:n], h[:n], lo[:n], c[:n])
            assert np.array_equal(ours, getattr(talib, nm.upper())(o[:n], h[:n], lo[:n], c[:n]))
