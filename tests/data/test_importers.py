"""Importers: captures through the normalizers, Tardis CSV, Kraken REST trades; bad input."""
from __future__ import annotations

import gzip
from decimal import Decimal

import pytest

from tradecore.data import store
from tradecore.data.importers import (ImportFormatError, import_capture,
                                      import_kraken_rest_trades, import_tardis)
from tradecore.data.replay import book_levels, iter_batches, replay_books, trades
from tradecore.verify import normalizer_for, replay

from datafiles import sample_file, shared_file

HEADER = "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
# a snapshot, deltas (two rows share a timestamp: one batch), a tiny amount in scientific
# notation as Tardis writes it, then a second snapshot that replaces the book
BOOK_CSV = HEADER + """\
deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,ask,6421.5,18640
deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,ask,6422,1190
deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,bid,6421,500
deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,bid,6420.5,7
deribit,BTC-PERPETUAL,1585699200300000,1585699200400001,false,ask,6421.5,0
deribit,BTC-PERPETUAL,1585699200300000,1585699200400001,false,bid,6421,650
deribit,BTC-PERPETUAL,1585699200350000,1585699200450002,false,bid,6421.5,1e-7
deribit,BTC-PERPETUAL,1585699201000000,1585699201100000,true,ask,6430,10
deribit,BTC-PERPETUAL,1585699201000000,1585699201100000,true,bid,6429.5,20
deribit,BTC-PERPETUAL,1585699201200000,1585699201300000,false,ask,6430,15
"""
TRADES_CSV = """exchange,symbol,timestamp,local_timestamp,id,side,price,amount
bitmex,XBTUSD,1583020803145000,1583020803307160,ccc3c1fa,sell,8531.5,2152
bitmex,XBTUSD,1583020803276000,1583020803336743,b46c84da,buy,8531.50,1
bitmex,XBTUSD,1583020803276000,1583020803336743,cd770a93,unknown,8532,0.00000001
"""


def _write(tmp_path, name: str, text: str, gz: bool = False):
    p = tmp_path / name
    if gz:
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


def test_tardis_import_round_trips_when_book_and_trades_csv(tmp_path):
    root = tmp_path / "store"
    book_csv = _write(tmp_path, "deribit_incremental_book_L2.csv.gz", BOOK_CSV, gz=True)
    trades_csv = _write(tmp_path, "bitmex_trades.csv", TRADES_CSV)
    r = import_tardis(root, [book_csv, trades_csv])
    assert (r.book_rows, r.trade_rows) == (10, 3)
    batches = list(iter_batches(root, "deribit", "BTC-PERPETUAL"))
    assert [(b.is_snapshot, len(b.bids) + len(b.asks)) for b in batches] == \
        [(True, 4), (False, 2), (False, 1), (True, 2), (False, 1)]
    assert batches[0].ts_local_ns == 1585699200355684000
    assert batches[0].ts_exchange_ns == 1585699200245000000
    assert batches[2].bids == [("6421.5", "0.0000001")]        # exact, no exponent
    # the book before the second snapshot, and at the end (the snapshot replaced it)
    mid = replay_books(root, "deribit", "BTC-PERPETUAL", until_ns=1585699200450002000)
    # (texts on the book's grid: the lot is at least 1e-8)
    assert book_levels(mid) == {"bids": [("6421.5", "0.00000010"), ("6421.0", "650.00000000"),
                                         ("6420.5", "7.00000000")],
                                "asks": [("6422.0", "1190.00000000")]}
    end = replay_books(root, "deribit", "BTC-PERPETUAL")
    assert book_levels(end) == {"bids": [("6429.5", "20.00000000")],
                                "asks": [("6430.0", "15.00000000")]}
    t = trades(root, "bitmex", "XBTUSD").to_pylist()
    assert [(x["price"], x["size"], x["aggressor"], x["trade_id"]) for x in t] == [
        ("8531.5", "2152", -1, "ccc3c1fa"), ("8531.50", "1", 1, "b46c84da"),
        ("8532", "0.00000001", 0, "cd770a93")]
    assert t[0]["ts_exchange_ns"] == 1583020803145000000
    assert t[0]["ts_local_ns"] == 1583020803307160000
    assert not list(root.glob(".import-*"))                     # staging removed


def test_tardis_import_reads_shared_samples_when_present(tmp_path):
    book_csv = shared_file("tardis/deribit_incremental_book_L2_BTC-PERPETUAL.csv")
    trades_csv = shared_file("tardis/bitmex_trades_XBTUSD.csv")
    r = import_tardis(tmp_path, [book_csv, trades_csv])
    assert (r.book_rows, r.trade_rows) == (15, 10)
    book = replay_books(tmp_path, "deribit", "BTC-PERPETUAL")
    assert book.ask_count == 15 and book.best_ask() == (6421.5, 18640.0)
    assert trades(tmp_path, "bitmex", "XBTUSD").num_rows == 10


def test_tardis_import_takes_venue_and_symbol_when_columns_absent(tmp_path):
    p = _write(tmp_path, "t.csv", "id,side,price,amount,timestamp\n1,buy,10.5,2,1000\n")
    with pytest.raises(ImportFormatError, match=r"t\.csv:1: no 'exchange' column"):
        import_tardis(tmp_path / "s", [p])
    import_tardis(tmp_path / "s", [p], venue="bitmex", symbol="XBTUSD")
    t = trades(tmp_path / "s", "bitmex", "XBTUSD").to_pylist()
    assert t[0]["ts_local_ns"] == t[0]["ts_exchange_ns"] == 1_000_000


BAD_ROWS = [
    ("deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,ask,6421.5\n",
     "expected 8 fields, got 7"),
    ("deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,yes,ask,6421.5,1\n",
     "is_snapshot 'yes' is not true/false"),
    ("deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,offer,6421.5,1\n",
     "side 'offer' is not bid/ask"),
    ("deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,ask,-6421.5,1\n",
     "price '-6421.5' is not a non-negative decimal number"),
    ("deribit,BTC-PERPETUAL,1585699200245000,1585699200355684,true,ask,6421.5,NaN\n",
     "amount 'NaN' is not a non-negative decimal number"),
    ("deribit,BTC-PERPETUAL,1.5e15,1585699200355684,true,ask,6421.5,1\n",
     "timestamp '1.5e15' is not integer microseconds"),
]


@pytest.mark.parametrize("row,reason", BAD_ROWS, ids=[r for _, r in BAD_ROWS])
def test_import_names_file_and_line_when_csv_row_malformed(tmp_path, row, reason):
    p = _write(tmp_path, "book.csv", BOOK_CSV + row)     # the bad row is line 12
    root = tmp_path / "store"
    with pytest.raises(ImportFormatError) as e:
        import_tardis(root, [p])
    assert str(e.value).startswith(f"{p}:12: ") and reason in str(e.value)
    assert store.files(root, store.BOOK) == []            # all or nothing
    assert not list(root.glob(".import-*"))


def test_import_names_file_when_tardis_kind_unknown(tmp_path):
    quotes = _write(tmp_path, "huobi_quotes.csv",
                    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,"
                    "bid_amount\nhuobi,BTC-USD,1,2,3,4,5,6\n")
    with pytest.raises(ImportFormatError, match=r"huobi_quotes\.csv:1: unknown Tardis data "
                                                r"type: columns are neither"):
        import_tardis(tmp_path / "s", [quotes])
    with pytest.raises(ImportFormatError, match=r"empty\.csv:1: empty file"):
        import_tardis(tmp_path / "s", [_write(tmp_path, "empty.csv", "")])
    with pytest.raises(ImportFormatError, match=r"missing\.csv: no such file"):
        import_tardis(tmp_path / "s", [tmp_path / "missing.csv"])


def test_store_names_the_kinds_when_kind_unknown(tmp_path):
    with pytest.raises(store.StoreError, match="unknown store kind 'quotes'; expected one of "
                                               "book, trades"):
        store.files(tmp_path, "quotes")


def test_capture_import_equals_live_books_when_kraken_and_okx_captures(tmp_path):
    for venue, name in (("kraken", "cf_kraken_spot_20210417_5pairs.jsonl"),
                        ("okx", "cf_okx_20220513_books_3inst.jsonl")):
        live = normalizer_for(venue)
        replay(live, [sample_file(name)])
        r = import_capture(tmp_path, venue, [sample_file(name)])
        assert r.book_rows == live.stats.levels and r.trade_rows == live.stats.trades
        for (conn, symbol), book in live.books.items():
            assert book_levels(replay_books(tmp_path, venue, symbol, conn=conn)) == \
                book_levels(book), f"{venue} {symbol}"


def _with_bad_line(tmp_path):
    src = sample_file("cf_okx_20220513_books_3inst.jsonl").read_text().splitlines()
    return _write(tmp_path, "okx.jsonl", "\n".join(src[:50] + ["garbage line"] + src[50:]) + "\n")


def test_capture_import_counts_problems_when_lines_unreadable(tmp_path):
    r = import_capture(tmp_path / "s", "okx", [_with_bad_line(tmp_path)])
    assert r.problems.get("unreadable_capture_line") == 1
    assert any("okx.jsonl:51: expected '<ns> <message>'" in d for d in r.details)
    assert r.book_rows > 0


def test_capture_import_continues_when_a_line_is_unreadable(tmp_path):
    whole = import_capture(tmp_path / "a", "okx",
                           [sample_file("cf_okx_20220513_books_3inst.jsonl")])
    r = import_capture(tmp_path / "b", "okx", [_with_bad_line(tmp_path)])
    assert r.book_rows == whole.book_rows


def test_kraken_rest_import_keeps_exact_times_when_trades_json(tmp_path):
    doc = ('{"error":[],"result":{"XBTUSDT":[["105433.60000","0.00027625",1762795433.9717445,'
           '"b","l","",10218208],["105410.10000","0.00005000",1762795457.8467374,"s","m","",'
           '10218209]],"last":"1762795457846737400"}}')
    p = _write(tmp_path, "trades.json.gz", doc, gz=True)
    r = import_kraken_rest_trades(tmp_path / "s", p)
    assert r.trade_rows == 2
    t = trades(tmp_path / "s", "kraken", "XBTUSDT").to_pylist()
    assert [(x["ts_exchange_ns"], x["price"], x["aggressor"], x["trade_id"], x["backfilled"])
            for x in t] == [(1762795433971744500, "105433.60000", 1, "10218208", True),
                            (1762795457846737400, "105410.10000", -1, "10218209", True)]
    bad = _write(tmp_path, "bad.json", doc.replace('"s","m"', '"x","m"'))
    with pytest.raises(ImportFormatError, match=r"bad\.json: result\.XBTUSDT\[1\]: side 'x'"):
        import_kraken_rest_trades(tmp_path / "s2", bad)
    err = _write(tmp_path, "err.json", '{"error":["EGeneral:Too many requests"]}')
    with pytest.raises(ImportFormatError, match=r"err\.json: no 'result' object"):
        import_kraken_rest_trades(tmp_path / "s2", err)
    assert Decimal("1762795433.9717445") * 10**9 == 1762795433971744500
