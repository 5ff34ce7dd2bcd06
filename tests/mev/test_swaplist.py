"""Every mev-inspect-js case (sandwiches, arbitrages, JIT sandwiches, liquidations): the
expected value of each assertion, with {"$ref": "swaps[i]"} resolved to the input object."""
from __future__ import annotations

import re

import pytest

from mevdata import js_cases
from tradecore.mev import swaplist as sl

FILES = ["sandwiches", "arbitrages", "jit_sandwiches", "liquidations"]
CALL = {
    "getSandwiches": lambda i: sl.get_sandwiches(i["swaps"], i["deposits"], i["withdrawals"]),
    "getArbitrages": lambda i: sl.get_arbitrages(i["swaps"]),
    "getJitSandwiches": lambda i: sl.get_jit_sandwiches(i["swaps"], i["deposits"], i["withdrawals"]),
    "getLiquidations": lambda i: sl.get_liquidations(i["repayments"], i["seizures"]),
}


def _resolve(v, inp):
    if isinstance(v, dict):
        if set(v) == {"$ref"}:
            name, idx = v["$ref"].rstrip("]").split("[")
            return inp[name][int(idx)]
        return {k: _resolve(x, inp) for k, x in v.items()}
    if isinstance(v, list):
        return [_resolve(x, inp) for x in v]
    return v


def _as_strings(v):
    # the fixtures write big integers as decimal strings; ours are ints
    if isinstance(v, dict):
        return {k: _as_strings(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_as_strings(x) for x in v]
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    return v


def _at(res, path: str):
    for idx, name in re.findall(r"\[(\d+)\]|\.(\w+)", path):
        res = res[int(idx)] if idx else (len(res) if name == "length" else res[name])
    return res


def _cases():
    try:
        return [pytest.param(c, id=c["case_id"]) for f in FILES for c in js_cases(f)]
    except BaseException:
        return [pytest.param(None, id="js-cases-absent")]


@pytest.mark.parametrize("case", _cases())
def test_swaplist_detector_matches_mev_inspect_js_when_given_the_case_input(case):
    if case is None:
        pytest.skip("mev_inspect_js cases absent")
    inp = case["input"]
    result = CALL[case["function"]](inp)
    for exp in case["expected"]:
        got = _at(result, exp["path"]) if exp["path"] else result
        assert _as_strings(got) == _as_strings(_resolve(exp["value"], inp))


def test_js_profit_truncates_at_1e36_when_legs_are_equal():
    # sand-06: exact difference is ...501, the library's fixed-point ratio gives ...500
    front = {"amountIn": "754870400637081426352", "amountOut": "888975983124675556"}
    back = {"amountIn": "888975983124675556", "amountOut": "785608054456497020853"}
    assert 785608054456497020853 - 754870400637081426352 == 30737653819415594501
    assert sl.js_sandwich_profit(front, back) == 30737653819415594500


PARSERS = {
    "uniswapV2.swap.parse": sl.parse_univ2_swap,
    "uniswapV3.swap.parse": sl.parse_univ3_swap,
    "uniswapV3.liquidityDeposit.parse": sl.parse_univ3_deposit,
    "uniswapV3.liquidityWithdrawal.parse": sl.parse_univ3_withdrawal,
}


def _classifier_calls():
    try:
        return [pytest.param(call, id=f"{c['case_id']}-{k}") for f in ("classifier_uniswap_v2", "classifier_uniswap_v3")
                for c in js_cases(f) for k, call in enumerate(c["calls"])]
    except BaseException:
        return [pytest.param(None, id="js-cases-absent")]


@pytest.mark.parametrize("call", _classifier_calls())
def test_event_decoder_matches_mev_inspect_js_classifier_when_given_the_logged_event(call):
    if call is None:
        pytest.skip("mev_inspect_js cases absent")
    i = call["input"]
    got = PARSERS[call["function"]](i["pool"], i["event"], i["transfers"])
    for exp in call["expected"]:
        assert exp["path"] == ""
        assert _as_strings(got) == _as_strings(exp["value"])
