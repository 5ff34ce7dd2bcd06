"""The `mev inspect` command contract: one JSON line per block with exact integers."""
from __future__ import annotations

import json

from datafiles import shared_file
from tradecore.mev.cli import main

KEYS = {"block_number", "swaps", "arbitrages", "sandwiches", "liquidations", "jit_liquidity"}


def test_inspect_json_prints_one_exact_line_per_block_when_given_two_files(capsys):
    a = shared_file("mev/mev_inspect_py/blocks/12775690.json.gz")
    b = shared_file("mev/mev_inspect_rs/tx/11117996_0xddbf97f7.data.json.gz")
    assert main(["inspect", "--json", str(a), str(b)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(x) for x in lines)
    assert KEYS <= set(first) and first["block_number"] == 12775690
    (s,) = first["sandwiches"]
    assert s["profit_amount"] == 49991481915322274 and len(s["sandwiched_swaps"]) == 4
    assert {"sandwicher_address", "frontrun_swap", "backrun_swap", "profit_token_address"} <= set(s)
    (arb,) = second["arbitrages"]
    assert arb["profit_amount"] == 9196963592118237 and arb["error"] is None


def test_inspect_reports_file_and_field_when_a_block_is_malformed(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"block_number": 5, "traces": [{"type": "call", "action": {}}]}))
    good = shared_file("mev/mev_inspect_rs/tx/11204208_0xeef0edcc.data.json.gz")
    assert main(["inspect", "--json", str(bad), str(good)]) == 1
    out = capsys.readouterr()
    assert "bad.json: traces[0].trace_address: missing" in out.err
    assert len(out.out.splitlines()) == 1  # the good file is still inspected


def test_inspect_prints_a_table_when_json_is_not_asked(capsys):
    main(["inspect", str(shared_file("mev/mev_inspect_py/blocks/12914944.json.gz"))])
    out = capsys.readouterr().out
    assert out.startswith("block 12914944  swaps 51  arbitrages 2")
    assert "profit 53560707941943273628" in out
