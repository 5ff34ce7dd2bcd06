"""Opportunity sizing: each optimiser equals the brute-force maximum over integer sizes."""
from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tradecore._fast.book import L2Book
from tradecore.mev.amm import v2
from tradecore.mev.amm.v3 import Q96, V3Pool, get_sqrt_ratio_at_tick
from tradecore.mev.sizing import (cex_dex_size, v2_backrun_size, v2_sandwich_size, v3_backrun_size)

R = st.integers(min_value=500, max_value=4000)


def _two_pool(x, a_in, a_out, b_in, b_out):
    y = v2.get_amount_out(x, a_in, a_out)
    return v2.get_amount_out(y, b_in, b_out) if y else 0


@settings(max_examples=25, deadline=None)
@given(R, R, R, R)
def test_v2_backrun_closed_form_equals_brute_force_when_reserves_are_small(a_in, a_out, b_in, b_out):
    s = v2_backrun_size(a_in, a_out, b_in, b_out)
    brute = max([0] + [_two_pool(x, a_in, a_out, b_in, b_out) - x for x in range(1, 3 * max(a_in, b_out))])
    assert s.profit == brute
    if s.profit > 0:
        assert _two_pool(s.amount_in, a_in, a_out, b_in, b_out) - s.amount_in == s.profit


def test_v2_backrun_is_zero_when_prices_agree_within_fees():
    assert v2_backrun_size(10**21, 2 * 10**24, 2 * 10**24, 10**21).profit == 0


def test_v2_backrun_finds_the_cycle_when_a_victim_moved_one_pool():
    # pool A after a large victim buy of the token: token cheap on B relative to A
    s = v2_backrun_size(10**21, 2 * 10**24, 19 * 10**23, 10**21)
    assert s.profit > 0
    around = [_two_pool(x, 10**21, 2 * 10**24, 19 * 10**23, 10**21) - x for x in
              (s.amount_in - 10**15, s.amount_in + 10**15)]
    assert all(p <= s.profit for p in around)


def _legs(x, v, r_in, r_out):
    y1 = v2.get_amount_out(x, r_in, r_out) if x else 0
    y2 = v2.get_amount_out(v, r_in + x, r_out - y1)
    z = v2.get_amount_out(y1, r_out - y1 - y2, r_in + x + v) if y1 else 0
    return y1, y2, z


@settings(max_examples=20, deadline=None)
@given(R, R, st.integers(min_value=10, max_value=600), st.integers(min_value=80, max_value=99))
def test_v2_sandwich_size_equals_brute_force_when_victim_slippage_binds(r_in, r_out, v, pct):
    m = v2.get_amount_out(v, r_in, r_out) * pct // 100
    assume(m >= 1)              # a zero minimum is no slippage bound (test below)
    s = v2_sandwich_size(v, m, r_in, r_out)
    feasible = [x for x in range(0, 4 * r_in) if _legs(x, v, r_in, r_out)[1] >= m]
    assert s.max_frontrun == max(feasible)
    assert s.profit == max(_legs(x, v, r_in, r_out)[2] - x for x in feasible)
    assert s.victim_out >= m


def test_v2_sandwich_size_ends_when_the_victim_has_no_minimum():
    """Regression: a zero minimum output used to double the search bound forever."""
    s = v2_sandwich_size(500, 0, 10**6, 2 * 10**6)
    assert s.max_frontrun >= 1 << 100 and s.victim_out >= 0
    assert s.profit == _legs(s.frontrun_in, 500, 10**6, 2 * 10**6)[2] - s.frontrun_in


def test_v2_sandwich_refuses_when_victim_already_fails_its_minimum():
    with pytest.raises(ValueError, match="already fails"):
        v2_sandwich_size(100, 10**9, 10**6, 10**6)


def test_v3_backrun_bounded_search_equals_brute_force_on_a_small_range():
    pool_a = V3Pool(get_sqrt_ratio_at_tick(-200), -200, 10**6, 3000, 10, {})
    pool_b = V3Pool(Q96, 0, 10**6, 500, 10, {})

    def back(y):
        b0, b1 = pool_b.swap(True, y)  # token0 back into pool B for token1
        return -b1
    s = v3_backrun_size(pool_a, False, back, 3000)   # token1 -> token0 on A (cheap token0)

    def profit(x):
        a0, a1 = pool_a.swap(False, x)
        return back(-a0) - x if -a0 > 0 else -x
    brute = max([0] + [profit(x) for x in range(1, 3001)])
    assert s.profit == brute and s.profit > 0


def _book(bids, asks):
    b = L2Book(0.01, 0.0001)
    for p, q in bids:
        b.apply(0, p, q)
    for p, q in asks:
        b.apply(1, p, q)
    return b


def test_cex_dex_sizes_the_dex_buy_when_the_pool_is_cheaper_than_the_bids():
    # pool: 1000 ETH / 1,900,000 USDC (1900 USDC/ETH); book bids at 2000 and 1990
    book = _book([(2000.0, 5.0), (1990.0, 10.0)], [(2001.0, 5.0)])
    res = cex_dex_size(book, 1000 * 10**18, 1_900_000 * 10**6, 18, 6, Fraction(1, 1000), Fraction(5))
    assert res.direction == "buy_dex_sell_cex" and res.lots > 0
    lot = Fraction(1, 10**4)

    def edge(n):  # brute force over every lot count the bids can absorb
        base = n * 10**14
        paid = v2.get_amount_in(base, 1_900_000 * 10**6, 1000 * 10**18)
        left, got = n, Fraction(0)
        for p, q in ((Fraction(2000), 50000), (Fraction(1990), 100000)):
            t = min(left, q)
            got += p * t * lot
            left -= t
        return got * Fraction(999, 1000) - Fraction(paid, 10**6) - 5
    best = max(range(1, 150001, 50), key=edge)
    best = max(range(max(1, best - 60), min(150000, best + 60) + 1), key=edge)
    assert res.edge == pytest.approx(float(edge(best)), abs=1e-9)
    assert res.base_raw == res.lots * 10**14


def test_cex_dex_reports_none_when_fees_and_gas_eat_the_edge():
    book = _book([(1899.0, 5.0)], [(1901.0, 5.0)])
    res = cex_dex_size(book, 1000 * 10**18, 1_900_000 * 10**6, 18, 6, Fraction(1, 1000), Fraction(5))
    assert res.direction == "none" and res.edge == 0.0
