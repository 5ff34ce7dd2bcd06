"""OkxNormalizer on the real OKX v5 recordings (books-l2-tbt and books) and on malformed input."""
from __future__ import annotations

import orjson
import pytest

from tradecore._fast.checksum import okx_checksum, okx_checksum_text
from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.okx import OkxNormalizer
from tradecore.venues.okx.checksum_ref import book_levels, okx_checksum_of_book, okx_checksum_ref


def _replay(records, normalizer: OkxNormalizer) -> None:
    for r in records:
        normalizer.on_frame(r.payload, r.conn, r.ts_ns)


# -- the recordings -----------------------------------------------------------------------------

@pytest.mark.parametrize("fixture,expected", [("okx_tbt_records", 2013),
                                              ("okx_books_records", 290)])
def test_all_checksums_match_when_replaying_recorded_books(fixture, expected, request) -> None:
    records = request.getfixturevalue(fixture)
    n = OkxNormalizer()
    _replay(records, n)
    assert n.stats.checksums_ok == expected
    assert n.stats.checksums_bad == 0 and n.stats.gaps == 0
    assert not n.stats.errors and n.unrecovered() == []
    assert n.stats.messages == len(records)
    for book in n.books.values():
        assert book.valid and not book.is_crossed()


@pytest.mark.parametrize("fixture", ["okx_tbt_records", "okx_books_records"])
def test_rebuilt_text_equals_received_text_when_replaying(fixture, request, text_book) -> None:
    # OKX hashes its own trimmed strings; the compiled checksum rebuilds them from ticks and
    # lots. An independent book of the received strings proves the rebuilt text is the same
    # bytes, and that the reference checksum over the received text is OKX's.
    n = OkxNormalizer()
    texts: dict[str, object] = {}
    checked = 0
    for r in request.getfixturevalue(fixture):
        n.on_frame(r.payload, r.conn, r.ts_ns)
        msg = orjson.loads(r.payload)
        if "action" not in msg:
            continue
        inst = msg["arg"]["instId"]
        if msg["action"] == "snapshot":
            texts[inst] = text_book()
        tb = texts[inst]
        for entry in msg["data"]:
            for side, name in ((0, "bids"), (1, "asks")):
                for lv in entry[name]:
                    tb.set(side, lv[0], lv[1])
            bids, asks = tb.top(0, 25), tb.top(1, 25)
            assert okx_checksum_ref(bids, asks) == entry["checksum"]
            book = n.books[(r.conn, inst)]
            parts = [f"{p}:{q}" for i in range(25) for p, q in
                     ([bids[i]] if i < len(bids) else []) + ([asks[i]] if i < len(asks) else [])]
            assert okx_checksum_text(book) == ":".join(parts).encode()
            assert okx_checksum(book) == okx_checksum_of_book(book) == entry["checksum"]
            checked += 1
    assert checked == {"okx_tbt_records": 2013, "okx_books_records": 290}[fixture]


def test_one_sided_book_checksum_matches_when_option_has_no_bids(okx_tbt_records) -> None:
    n = OkxNormalizer()
    _replay(okx_tbt_records, n)
    book = n.books[("ws.1", "ETH-USD-220624-20000-C")]
    assert book.bid_count == 0 and book.ask_count > 0 and book.valid


def test_trades_normalize_to_exact_text_when_recorded(okx_books_records) -> None:
    trades: list[Trade] = []
    n = OkxNormalizer(on_trade=trades.append)
    _replay(okx_books_records, n)
    assert len(trades) == n.stats.trades == 74
    first = next(r for r in okx_books_records if b'"channel":"trades"' in r.payload
                 and b'"data"' in r.payload)
    assert trades[0] == Trade("okx", "BTC-USD-220527", "30218.8", "1", BUY, "7849",
                              1652459199958000000, first.ts_ns)
    assert {t.aggressor for t in trades} == {BUY, SELL}


# -- checksum failure, sequence gaps and resync -------------------------------------------------

def _snapshot_frame(book, inst: str, channel: str = "books", seq: int | None = None) -> bytes:
    """An OKX snapshot frame holding a book's current levels, with their checksum."""
    entry = {"asks": [[p, q, "0", "1"] for p, q in book_levels(book, 1, 400)],
             "bids": [[p, q, "0", "1"] for p, q in book_levels(book, 0, 400)],
             "ts": "1", "checksum": okx_checksum_of_book(book)}
    if seq is not None:
        entry |= {"seqId": seq, "prevSeqId": -1}
    return orjson.dumps({"arg": {"channel": channel, "instId": inst}, "action": "snapshot",
                         "data": [entry]})


def test_book_invalid_when_update_level_corrupted_then_snapshot_resyncs(okx_books_records) -> None:
    inst, key = "BTC-USDT", ("ws.1", "BTC-USDT")
    updates = [i for i, r in enumerate(okx_books_records)
               if b'"instId":"BTC-USDT"},"action":"update"' in r.payload]
    bad_at, resync_at = updates[10], updates[20]
    clean, n = OkxNormalizer(), OkxNormalizer()
    for i, r in enumerate(okx_books_records):
        clean.on_frame(r.payload, r.conn, r.ts_ns)
        payload = r.payload
        if i == bad_at:
            msg = orjson.loads(payload)
            entry = msg["data"][0]
            lv = (entry["bids"] or entry["asks"])[0]
            lv[1] = "0" if lv[1] != "0" else "7"
            payload = orjson.dumps(msg)
        if i == resync_at:
            n.on_frame(_snapshot_frame(clean.books[key], inst), r.conn, r.ts_ns)
            assert n.books[key].valid and n.stats.resyncs == 1 and n.unrecovered() == []
            continue
        n.on_frame(payload, r.conn, r.ts_ns)
        if i == bad_at:
            assert n.stats.checksums_bad == 1 and n.stats.errors["checksum_mismatch"] == 1
            assert not n.books[key].valid and n.unrecovered() == [key]
    assert n.stats.checksums_bad == 1
    assert n.stats.errors["dropped_book_invalid"] == 20 - 10 - 1
    # the injected snapshot's checksum counts once; every later update matched again
    assert n.stats.checksums_ok == clean.stats.checksums_ok - (20 - 10 + 1) + 1
    assert n.books[key].valid and n.unrecovered() == []


BOOK = {"arg": {"channel": "books", "instId": "BTC-USDT"}}
KEY = ("ws", "BTC-USDT")


def _frame(action: str, bids: list, asks: list, **extra) -> bytes:
    """A books frame whose checksum is the reference checksum of the levels it leaves."""
    return orjson.dumps(BOOK | {"action": action, "data": [{"bids": bids, "asks": asks,
                                                             "ts": "1", **extra}]})


SNAP = _frame("snapshot", [["100", "2", "0", "1"], ["99.5", "1.25", "0", "1"]],
              [["100.5", "1", "0", "1"]], seqId=10, prevSeqId=-1,
              checksum=okx_checksum_ref([("100", "2"), ("99.5", "1.25")], [("100.5", "1")]))


def test_gap_invalidates_when_prev_seq_id_skips_then_snapshot_resyncs() -> None:
    n = OkxNormalizer()
    n.on_frame(SNAP)
    ok = okx_checksum_ref([("100", "3"), ("99.5", "1.25")], [("100.5", "1")])
    n.on_frame(_frame("update", [["100", "3", "0", "1"]], [], seqId=11, prevSeqId=10,
                      checksum=ok))
    assert n.stats.checksums_ok == 2 and n.books[KEY].seq == 11
    n.on_frame(_frame("update", [["100", "4", "0", "1"]], [], seqId=13, prevSeqId=12,
                      checksum=ok))
    assert n.stats.gaps == 1 and n.stats.errors["sequence_gap"] == 1
    assert not n.books[KEY].valid and n.unrecovered() == [KEY]
    assert n.books[KEY].best_bid() == (100.0, 3.0)              # the gapped update not applied
    n.on_frame(_frame("update", [["100", "5", "0", "1"]], [], seqId=14, prevSeqId=13))
    assert n.stats.errors["dropped_book_invalid"] == 1
    n.on_frame(SNAP)
    assert n.books[KEY].valid and n.stats.resyncs == 1 and n.unrecovered() == []


def test_no_change_update_accepted_when_seq_id_repeats() -> None:
    # OKX: an update without changes has seqId == prevSeqId
    n = OkxNormalizer()
    n.on_frame(SNAP)
    n.on_frame(_frame("update", [], [], seqId=10, prevSeqId=10,
                      checksum=okx_checksum_ref([("100", "2"), ("99.5", "1.25")],
                                                [("100.5", "1")])))
    assert n.stats.checksums_ok == 2 and not n.stats.errors


def test_shallow_channel_kept_apart_when_books5_and_books_share_instrument() -> None:
    n = OkxNormalizer()
    n.on_frame(SNAP)
    n.on_frame(orjson.dumps({"arg": {"channel": "books5", "instId": "BTC-USDT"},
                             "data": [{"bids": [["90", "1", "0", "1"]], "asks": [],
                                       "instId": "BTC-USDT", "ts": "1"}]}))
    assert n.books[KEY].best_bid() == (100.0, 2.0)
    assert n.books[("ws", "BTC-USDT@books5")].best_bid() == (90.0, 1.0)
    assert not n.stats.errors


def test_events_counted_when_subscribe_or_pong() -> None:
    n = OkxNormalizer()
    n.on_frame(b'{"event":"subscribe","arg":{"channel":"books","instId":"BTC-USDT"}}')
    n.on_frame(b"pong")
    n.on_frame(b'{"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"last":"1"}]}')
    assert n.stats.messages == 3 and not n.stats.errors


MALFORMED = [
    ("truncated_json", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"upd', "bad_json"),
    ("not_object", b'[1,2]', "bad_message"),
    ("data_not_list", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
                      b'"data":{"bids":[]}}', "bad_message"),
    ("bad_action", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"merge",'
                   b'"data":[{"bids":[]}]}', "bad_message"),
    ("levels_not_list", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
                        b'"data":[{"bids":"100","asks":[],"checksum":1}]}', "bad_level"),
    ("price_is_number", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
                        b'"data":[{"bids":[[100,"1","0","1"]],"asks":[],"checksum":1}]}',
     "bad_level"),
    ("checksum_is_text", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
                         b'"data":[{"bids":[],"asks":[],"checksum":"1"}]}', "bad_level"),
    ("nan_size", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
                 b'"data":[{"bids":[["100","NaN","0","1"]],"asks":[],"checksum":1}]}',
     "bad_level"),
    ("negative_size", b'{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update",'
                      b'"data":[{"bids":[],"asks":[["101","-1","0","1"]],"checksum":1}]}',
     "bad_level"),
    ("unknown_channel", b'{"arg":{"channel":"bookz","instId":"BTC-USDT"},"data":[]}',
     "unknown_channel"),
    ("update_before_snapshot", b'{"arg":{"channel":"books","instId":"ETH-USDT"},'
                               b'"action":"update","data":[{"bids":[["1","1","0","1"]],'
                               b'"asks":[],"checksum":1}]}', "update_before_snapshot"),
    ("error_event", b'{"event":"error","code":"60012","msg":"Invalid request"}',
     "exchange_error"),
    ("unknown_event", b'{"event":"surprise"}', "unknown_event"),
    ("trade_bad_side", b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":'
                       b'"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"up","ts":"1"}]}',
     "bad_trade"),
    ("trade_px_number", b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":'
                        b'"BTC-USDT","tradeId":"1","px":1.5,"sz":"1","side":"buy","ts":"1"}]}',
     "bad_trade"),
    ("trade_bad_ts", b'{"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"instId":'
                     b'"BTC-USDT","tradeId":"1","px":"1","sz":"1","side":"buy","ts":"x"}]}',
     "bad_trade"),
]


RESYNC_CASES = frozenset(['truncated_json', 'levels_not_list', 'price_is_number', 'checksum_is_text', 'nan_size', 'negative_size'])


@pytest.mark.parametrize("frame,reason", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_problem_counted_and_book_unchanged_when_frame_malformed(frame: bytes, reason: str,
                                                                request) -> None:
    problems = []
    trades = []
    n = OkxNormalizer(on_problem=problems.append, on_trade=trades.append)
    n.on_frame(SNAP)
    before = [d.tolist() for d in n.books[KEY].depth(100)]
    n.on_frame(frame)                                          # must not raise
    resync = request.node.callspec.id in RESYNC_CASES
    extra = {"unreadable_frame", "dropped_update"} if resync else set()
    assert n.stats.errors[reason] == 1
    assert set(n.stats.errors) <= {reason} | extra
    assert [p.reason for p in problems][0] == reason
    assert [d.tolist() for d in n.books[KEY].depth(100)] == before
    # a frame that may have been a book update leaves the book unchanged but invalid: the
    # checksum covers only the top levels, so a lost deeper update would go unnoticed
    assert n.books[KEY].valid is not resync and not trades
    assert n.unrecovered() == ([KEY] if resync else [])
    assert n.stats.checksums_ok == 1 and n.stats.checksums_bad == 0


def test_book_invalid_when_snapshot_malformed() -> None:
    n = OkxNormalizer()
    n.on_frame(_frame("snapshot", [["100", "-2", "0", "1"]], [], checksum=0))
    assert n.stats.errors["bad_snapshot"] == 1 and n.unrecovered() == [KEY]
    n.on_frame(SNAP)
    assert n.books[KEY].valid and n.stats.resyncs == 1
