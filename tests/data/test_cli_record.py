"""`tradecore import` and `tradecore candles` as registered by cli_record.add_parsers."""
from __future__ import annotations

import argparse

from tradecore.data import cli_record

from datafiles import sample_file

TRADES_CSV = """exchange,symbol,timestamp,local_timestamp,id,side,price,amount
bitmex,XBTUSD,1583020803145000,1583020803307160,a,sell,8531.5,2152
bitmex,XBTUSD,1583020803276000,1583020803336743,b,buy,8532,1
bitmex,XBTUSD,1583020863276000,1583020863336743,c,buy,8540,10
"""


def _run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="tradecore")
    cli_record.add_parsers(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    return args.func(args)


def test_cli_imports_and_prints_candles_when_tardis_trades_given(tmp_path, capsys):
    csv_file = tmp_path / "bitmex_trades.csv"
    csv_file.write_text(TRADES_CSV)
    store = tmp_path / "store"
    assert _run(["import", "--tardis", "--out", str(store), str(csv_file)]) == 0
    assert "3 trades" in capsys.readouterr().out
    assert _run(["candles", "--store", str(store), "--venue", "bitmex", "--symbol", "XBTUSD",
                 "--interval", "1m"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "open_time_ns,datetime_utc,open,high,low,close,volume,vwap,trades",
        "1583020800000000000,2020-03-01T00:00:00Z,8531.5,8532.0,8531.5,8532.0,2153,"
        "8531.500232234,2",
        "1583020860000000000,2020-03-01T00:01:00Z,8540.0,8540.0,8540.0,8540.0,10,"
        "8540.000000000,1"]
    assert _run(["candles", "--store", str(store), "--venue", "bitmex", "--symbol", "XBTUSD",
                 "--start", "2020-03-01T00:01:00Z", "--json"]) == 0
    assert capsys.readouterr().out.count("\n") == 1


def test_cli_imports_capture_when_venue_given(tmp_path, capsys):
    store = tmp_path / "store"
    assert _run(["import", "--venue", "okx", "--out", str(store),
                 str(sample_file("cf_okx_20220513_books_3inst.jsonl"))]) == 0
    assert "book rows" in capsys.readouterr().out
    assert _run(["import", "--out", str(store),
                 str(sample_file("cf_okx_20220513_books_3inst.jsonl"))]) == 2
    assert "captures need --venue" in capsys.readouterr().err


def test_cli_import_names_file_and_line_when_input_bad(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(TRADES_CSV + "bitmex,XBTUSD,1,2,d,sideways,1,1\n")
    assert _run(["import", "--tardis", "--out", str(tmp_path / "s"), str(bad)]) == 1
    assert f"{bad}:5: side 'sideways' is not buy/sell/unknown" in capsys.readouterr().err
