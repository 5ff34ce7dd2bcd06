"""Swap/liquidation decoding against the full mev-inspect-py output on all 20 shared blocks
(reference_output.json.gz: secondary, but it lists every swap with its trace address)."""
from __future__ import annotations

import pytest

from mevdata import inspected, reference_output

BLOCKS = ["10921991", "11930296", "11935012", "12412732", "12498502", "12775690", "12914944", "13179291",
          "13207907", "13234998", "13244807", "13323642", "13370850", "13404932", "13601096", "13666184",
          "13666312", "14621812", "14659109", "15049646"]
# the reference decodes Bancor's convertByPath; tradecore does not decode Bancor (not in scope)
BANCOR_ONLY = {"13207907": 1}


def _key(s: dict) -> tuple:
    return (s["transaction_hash"], tuple(s["trace_address"]))


def _strip_abi(s: dict) -> dict:
    # Curve pools get per-pool ABI names in the reference (from its pool address list); we name
    # them all "CurvePool"
    return {k: v for k, v in s.items() if not (k == "abi_name" and s["protocol"] == "curve")}


@pytest.mark.parametrize("bn", BLOCKS)
def test_swaps_equal_the_reference_when_decoding_strictly(bn):
    ref = reference_output()[bn]
    r = inspected(f"mev_inspect_py/blocks/{bn}.json.gz", strict_abi=True)
    mine = {_key(s.to_json()): _strip_abi(s.to_json()) for s in r.swaps}
    theirs = {_key(s): _strip_abi(s) for s in ref["swaps"]}
    missing = [k for k in theirs if k not in mine]
    assert len(missing) == BANCOR_ONLY.get(bn, 0)
    assert all(theirs[k]["protocol"] == "bancor" for k in missing)
    assert all(k in theirs for k in mine)
    for k in mine:
        ours, ref = dict(mine[k]), dict(theirs[k])
        # a swap under a reverted frame: the reference keeps only the frame's own error (None);
        # we mark it "Reverted" since its effects were undone
        if ref["error"] is None and ours["error"] == "Reverted":
            ours["error"] = None
        assert ours == ref


@pytest.mark.parametrize("bn", BLOCKS)
def test_arbitrages_and_liquidations_equal_the_reference_when_decoding_strictly(bn):
    ref = reference_output()[bn]
    r = inspected(f"mev_inspect_py/blocks/{bn}.json.gz", strict_abi=True)
    assert [a.to_json() for a in r.arbitrages] == ref["arbitrages"]  # none contains such a swap
    assert [l.to_json() for l in r.liquidations] == ref["liquidations"]


@pytest.mark.parametrize("bn", BLOCKS)
def test_evm_decoding_finds_a_superset_of_the_strict_swaps(bn):
    strict = {_key(s.to_json()) for s in inspected(f"mev_inspect_py/blocks/{bn}.json.gz", strict_abi=True).swaps}
    lenient = {_key(s.to_json()) for s in inspected(f"mev_inspect_py/blocks/{bn}.json.gz").swaps}
    assert strict <= lenient


def test_unpadded_callback_data_swaps_are_found_when_decoding_as_the_evm_does():
    # tx 0x79fa828c... of block 15049646 passes V3 swap callback bytes without ABI padding;
    # eth_abi (and so mev-inspect-py) rejects the call, the pool executed it
    lenient = inspected("mev_inspect_py/blocks/15049646.json.gz")
    strict = inspected("mev_inspect_py/blocks/15049646.json.gz", strict_abi=True)
    h = "0x79fa828c222c3b21c002c7939d8cd613e7476c90bba26622da6790ed05d59ba2"
    assert [s.trace_address for s in strict.swaps if s.transaction_hash == h] == [(0, 2, 0, 2, 1)]
    assert sorted(s.trace_address for s in lenient.swaps if s.transaction_hash == h) == [(0,), (0, 2, 0), (0, 2, 0, 2, 1)]


def test_unknown_calls_are_counted_not_decoded_when_selector_is_not_in_the_table():
    r = inspected("mev_inspect_py/blocks/12775690.json.gz")
    assert r.classified.unknown_calls > 0
    assert r.to_json()["unknown_calls"] == r.classified.unknown_calls


def test_reverted_frames_give_no_liquidation_when_the_transaction_reverted():
    r = inspected("mev_inspect_py/blocks/15049646.json.gz")
    assert r.liquidations == []


def test_swaps_under_a_reverted_frame_carry_the_revert_when_their_own_frame_shows_no_error():
    r = inspected("mev_inspect_py/blocks/11935012.json.gz")
    errs = {s.trace_address: s.error for s in r.swaps
            if s.transaction_hash.startswith("0xebf73bee")}
    assert errs == {(3,): "Reverted", (4,): "Out of gas"}
    strict = inspected("mev_inspect_py/blocks/11935012.json.gz", strict_abi=True)
    assert not any(s.error is None and s.transaction_hash.startswith("0xebf73bee") for s in strict.swaps)
