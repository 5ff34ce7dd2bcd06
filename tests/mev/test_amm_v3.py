"""Uniswap V3 math: TickMath constants, ticks of real logged prices, SwapMath reproducing real
logged swaps exactly, and the swap loop across initialized ticks."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datafiles import shared_file
from tradecore.mev.amm.v3 import (MAX_SQRT_RATIO, MAX_TICK, MIN_SQRT_RATIO, MIN_TICK, Q96, V3Pool,
                                  compute_swap_step, get_amount0_delta, get_amount1_delta,
                                  get_sqrt_ratio_at_tick, get_tick_at_sqrt_ratio, next_sqrt_price_from_input)


def _v3_events():
    cases = json.loads(shared_file("mev/mev_inspect_js/classifier_uniswap_v3.json").read_text())["cases"]
    return [(c["case_id"], call["input"]["pool"]["address"], call["input"]["event"]["values"])
            for c in cases for call in c["calls"] if "sqrtPriceX96" in call["input"]["event"]["values"]]


def test_sqrt_ratio_matches_tickmath_constants_when_at_the_bounds():
    assert get_sqrt_ratio_at_tick(MIN_TICK) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(MAX_TICK) == MAX_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(0) == Q96
    with pytest.raises(ValueError):
        get_sqrt_ratio_at_tick(MAX_TICK + 1)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=MIN_TICK, max_value=MAX_TICK - 1))
def test_tick_at_sqrt_ratio_inverts_sqrt_ratio_when_between_ticks(tick):
    p = get_sqrt_ratio_at_tick(tick)
    assert get_tick_at_sqrt_ratio(p) == tick
    assert get_tick_at_sqrt_ratio(get_sqrt_ratio_at_tick(tick + 1) - 1) == tick


def test_tick_of_each_logged_v3_price_equals_the_logged_tick():
    events = _v3_events()
    assert len(events) == 8
    for _, _, v in events:
        assert get_tick_at_sqrt_ratio(int(v["sqrtPriceX96"])) == v["tick"]


def _reproduce(a0: int, a1: int, post: int, liq: int) -> int | None:
    """A fee tier and pre-swap price for which computeSwapStep gives exactly the logged post
    price and amounts (an exact-input swap inside one tick range), or None."""
    zf = a0 > 0
    amt_in, amt_out = (a0, -a1) if zf else (a1, -a0)
    limit = MIN_SQRT_RATIO + 1 if zf else MAX_SQRT_RATIO - 1
    for fee in (100, 500, 3000, 10000):
        less_fee = amt_in * (10**6 - fee) // 10**6
        lo, hi = (post, MAX_SQRT_RATIO - 1) if zf else (MIN_SQRT_RATIO, post)
        while lo < hi:  # the next price grows with the start price: bisect to the logged one
            m = (lo + hi) // 2
            if next_sqrt_price_from_input(m, liq, less_fee, zf) >= post:
                hi = m
            else:
                lo = m + 1
        for pre in range(lo, lo + 64):
            if next_sqrt_price_from_input(pre, liq, less_fee, zf) != post:
                break
            nxt, a_in, a_out, f = compute_swap_step(pre, limit, liq, amt_in, fee)
            if nxt == post and a_out == amt_out and a_in + f == amt_in:
                return fee
    return None


def test_swap_step_reproduces_logged_v3_swaps_exactly_when_no_tick_is_crossed():
    fees = {pool[:10]: _reproduce(int(v["amount0"]), int(v["amount1"]), int(v["sqrtPriceX96"]), int(v["liquidity"]))
            for _, pool, v in _v3_events()}
    # the fee tiers the pools really have (0.3 % USDC/WETH 0x8ad599c3, 1 % pools, ...)
    assert fees == {"0x19f83460": 3000, "0x8ad599c3": 3000, "0x69d91b94": 3000, "0x41b53672": 10000,
                    "0x3ce42ef6": 3000, "0xcc2bd4f3": 3000, "0x2519042a": 10000,
                    # 0x88e6a0c2 (0.05 % USDC/WETH) moved from tick ~199512 to 199507 through the
                    # initialized tick 199510: liquidity changed mid-swap, one step cannot match
                    "0x88e6a0c2": None}


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=-50_000, max_value=50_000), st.integers(min_value=10**15, max_value=10**27),
       st.integers(min_value=1, max_value=10**24), st.booleans(), st.sampled_from([500, 3000, 10000]))
def test_single_range_swap_equals_one_swap_step_when_no_tick_is_initialized(tick, liq, amount, zf, fee):
    p = get_sqrt_ratio_at_tick(tick)
    pool = V3Pool(p, tick, liq, fee, 10, {})
    lim = get_sqrt_ratio_at_tick(tick - 2000) if zf else get_sqrt_ratio_at_tick(tick + 2000)
    a0, a1 = pool.swap(zf, amount, lim)
    # amounts conserve: pool receives what the trader pays, never more out than the curve allows
    paid, got = (a0, -a1) if zf else (a1, -a0)
    assert 0 < paid <= amount and got >= 0
    # the trader never receives more than the fee-free curve gives between the two prices
    p_end = get_sqrt_ratio_at_tick(tick - 2000) if zf and paid < amount else None
    if p_end is not None:
        assert got <= get_amount1_delta(p_end, p, liq, False)


def test_swap_crossing_initialized_ticks_changes_liquidity_when_price_leaves_the_range():
    liq = 10**18
    pool = V3Pool(Q96, 0, liq, 3000, 60, {-600: liq, 600: -liq, -1200: 5 * liq, 1200: -5 * liq})
    p600 = get_sqrt_ratio_at_tick(-600)
    # exactly enough (fee included) to reach tick -600 uses only the inner liquidity
    need = get_amount0_delta(p600, Q96, liq, True)
    need_gross = -(-need * 10**6 // (10**6 - 3000))
    a0, a1 = pool.swap(True, need_gross, commit=True)
    assert a0 == need_gross and -a1 == get_amount1_delta(p600, Q96, liq, False)
    assert pool.sqrt_price_x96 == p600 and pool.tick == -601 and pool.liquidity == 0
    # continuing down crosses -600 downward: liquidity of that tick is removed (liquidityNet = +L)
    pool2 = V3Pool(Q96, 0, liq, 3000, 60, {-600: liq, 600: -liq, -1200: 5 * liq, 1200: -5 * liq})
    b0, b1 = pool2.swap(True, 10**17, get_sqrt_ratio_at_tick(-1100), commit=True)
    assert pool2.liquidity == 0 and pool2.sqrt_price_x96 == get_sqrt_ratio_at_tick(-1100)
    assert (b0, b1) == (a0, a1)  # nothing more to trade between -600 and -1100: same fill


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10**12, max_value=10**21), st.booleans())
def test_exact_output_swap_pays_at_least_what_exact_input_needs_for_that_output(amount, zf):
    liq = 10**22
    mk = lambda: V3Pool(Q96, 0, liq, 3000, 60, {-6000: liq, 6000: -liq})  # noqa: E731
    a0, a1 = mk().swap(zf, amount)
    out = -(a1 if zf else a0)
    if out <= 0:
        return
    b0, b1 = mk().swap(zf, -out)
    assert -(b1 if zf else b0) == out
    assert (b0 if zf else b1) <= amount
