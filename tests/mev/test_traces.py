"""Malformed and truncated inputs: a clear error naming the file and the field, nothing read."""
from __future__ import annotations

import gzip
import json

import pytest

from mevdata import block
from tradecore.mev.inspect import inspect_block
from tradecore.mev.traces import MalformedBlockError, load_block, parse_block


def _good_trace() -> dict:
    return {"action": {"from": "0x" + "11" * 20, "callType": "call", "gas": "0x0", "input": "0x",
                       "to": "0x" + "22" * 20, "value": "0x5"},
            "block_number": 1, "result": {"gasUsed": "0x0", "output": "0x"}, "subtraces": 0,
            "trace_address": [], "transaction_hash": "0x" + "ab" * 32, "transaction_position": 0,
            "type": "call", "error": None}


def test_load_block_raises_naming_file_when_gzip_is_truncated(tmp_path):
    src = block("mev_inspect_py/blocks/12775690.json.gz").path
    raw = open(src, "rb").read()
    bad = tmp_path / "cut.json.gz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MalformedBlockError, match=r"cut\.json\.gz: \(gzip\): truncated"):
        load_block(bad)


def test_load_block_raises_naming_file_when_json_is_cut(tmp_path):
    bad = tmp_path / "cut.json"
    bad.write_text(json.dumps({"block_number": 1, "traces": [_good_trace()]})[:-7])
    with pytest.raises(MalformedBlockError, match=r"cut\.json: \(json\)"):
        load_block(bad)


@pytest.mark.parametrize("mutate,field", [
    (lambda t: t["action"].pop("to"), r"traces\[0\]\.action\.to: missing"),
    (lambda t: t["action"].update(to="0x12"), r"traces\[0\]\.action\.to: expected a 20-byte"),
    (lambda t: t["action"].update(value="lots"), r"traces\[0\]\.action\.value: expected a hex quantity"),
    (lambda t: t.update(trace_address="0,1"), r"traces\[0\]\.trace_address: expected a list of ints"),
    (lambda t: t.update(type="jump"), r"traces\[0\]\.type: expected call/create/suicide/reward"),
    (lambda t: t.pop("transaction_hash"), r"traces\[0\]\.transaction_hash: missing"),
])
def test_parse_block_names_the_field_when_a_trace_is_malformed(mutate, field):
    t = _good_trace()
    mutate(t)
    with pytest.raises(MalformedBlockError, match=r"blk\.json: " + field):
        parse_block({"block_number": 1, "traces": [t]}, "blk.json")


def test_parse_block_rejects_unknown_top_level_shape():
    with pytest.raises(MalformedBlockError, match=r"x\.json: \$: expected a block object"):
        parse_block({"hello": 1}, "x.json")


def test_load_block_reads_gzip_and_plain_json_alike(tmp_path):
    obj = {"block_number": 7, "traces": [_good_trace()], "receipts": []}
    (tmp_path / "a.json").write_text(json.dumps(obj))
    (tmp_path / "a.json.gz").write_bytes(gzip.compress(json.dumps(obj).encode()))
    a, b = load_block(tmp_path / "a.json"), load_block(tmp_path / "a.json.gz")
    assert a.block_number == b.block_number == 7 and a.traces == b.traces


def test_plain_eth_call_is_a_transfer_and_nothing_else_when_inspected():
    blk = parse_block({"block_number": 7, "traces": [_good_trace()]})
    r = inspect_block(blk)
    assert r.to_json()["transfers"] == 1 and r.swaps == [] and r.classified.unknown_calls == 0


def test_rs_fixture_loads_traces_and_logs_when_camel_case():
    b = block("mev_inspect_rs/block_11017338.data.json.gz")
    assert (b.block_number, len(b.traces), len(b.logs)) == (11017338, 1115, 280)
