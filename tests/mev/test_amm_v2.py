"""Uniswap V2 quotes: bit-exact on every V2 swap logged in block 11017338, and the compiled
kernel equal to the Python reference everywhere (hypothesis)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mevdata import block
from tradecore._fast import amm as fast
from tradecore.mev.amm import v2
from tradecore.mev.logs import v2_swap_events


def _legs(e):
    r0, r1 = e.reserves_before
    if e.amount0_in and not e.amount1_in:
        return e.amount0_in, e.amount1_out, r0, r1
    return e.amount1_in, e.amount0_out, r1, r0


def test_every_logged_v2_swap_follows_from_its_reserves_when_recomputed_exactly():
    events = v2_swap_events(block("mev_inspect_rs/block_11017338.data.json.gz"))
    assert len(events) == 40 and len({e.pair for e in events}) == 25
    exact_in = exact_out = 0
    for e in events:
        a_in, a_out, r_in, r_out = _legs(e)
        if v2.get_amount_out(a_in, r_in, r_out) == a_out:
            exact_in += 1
            assert fast.v2_get_amount_out(a_in, r_in, r_out) == a_out
        else:
            # exact-output router calls: the input is what getAmountIn asks for
            assert v2.get_amount_in(a_out, r_in, r_out) == a_in
            assert fast.v2_get_amount_in(a_out, r_in, r_out) == a_in
            exact_out += 1
    assert (exact_in, exact_out) == (35, 5)


def test_reserves_chain_when_a_pair_trades_twice_in_the_block():
    events = v2_swap_events(block("mev_inspect_rs/block_11017338.data.json.gz"))
    last: dict[str, tuple[int, int]] = {}
    chained = 0
    for e in events:
        if e.pair in last:
            assert e.reserves_before == last[e.pair]
            chained += 1
        last[e.pair] = (e.reserve0_after, e.reserve1_after)
    assert chained > 0


U117 = st.integers(min_value=1, max_value=(1 << 117) - 1)
HUGE = st.integers(min_value=1, max_value=1 << 300)


@settings(max_examples=3000, deadline=None)
@given(U117, U117, U117)
def test_compiled_amount_out_equals_python_when_operands_fit_117_bits(a, r_in, r_out):
    assert fast.v2_get_amount_out(a, r_in, r_out) == v2.get_amount_out(a, r_in, r_out)
    assert fast.last_call_was_compiled()


@settings(max_examples=2000, deadline=None)
@given(U117, U117, U117)
def test_compiled_amount_in_equals_python_when_reserve_out_exceeds_output(o, r_in, r_out):
    if r_out <= o:
        r_out, o = o + 1, r_out if r_out < o + 1 else 1
    assert fast.v2_get_amount_in(o, r_in, r_out) == v2.get_amount_in(o, r_in, r_out)


@settings(max_examples=500, deadline=None)
@given(HUGE, HUGE, HUGE)
def test_compiled_amount_out_falls_back_exactly_when_operands_exceed_the_bound(a, r_in, r_out):
    assert fast.v2_get_amount_out(a, r_in, r_out) == v2.get_amount_out(a, r_in, r_out)


@settings(max_examples=500, deadline=None)
@given(U117, U117, U117, st.sampled_from([(997, 1000), (998, 1000), (9975, 10000), (1, 1)]))
def test_compiled_amount_out_equals_python_when_fee_differs(a, r_in, r_out, fee):
    assert fast.v2_get_amount_out_fee(a, r_in, r_out, *fee) == v2.get_amount_out(a, r_in, r_out, *fee)


@pytest.mark.parametrize("args,exc", [((0, 1, 1), ValueError), ((-5, 10, 10), ValueError), ((5, 0, 10), ValueError),
                                      ((5, 10, -1), ValueError), ((1.5, 10, 10), TypeError)])
def test_amount_out_refuses_when_inputs_are_not_positive_ints(args, exc):
    with pytest.raises(exc):
        fast.v2_get_amount_out(*args)
    with pytest.raises((ValueError, TypeError)):
        v2.get_amount_out(*args)


def test_amount_in_refuses_when_output_drains_the_reserve():
    with pytest.raises(ValueError, match="reserve_out > amount_out"):
        fast.v2_get_amount_in(10, 100, 10)
