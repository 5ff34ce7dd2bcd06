"""KrakenNormalizer on the real Kraken spot v1 recording and on malformed input."""
from __future__ import annotations

from collections import Counter

import orjson
import pytest

from tradecore._fast.checksum import kraken_checksum
from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.kraken import KrakenNormalizer
from tradecore.venues.kraken.checksum_ref import book_levels, kraken_checksum_ref

BOOK_CONN = "ws.50"


def _replay(records, normalizer: KrakenNormalizer) -> None:
    for r in records:
        normalizer.on_frame(r.payload, r.conn, r.ts_ns)


# -- the recording ------------------------------------------------------------------------------

def test_all_checksums_match_when_replaying_recorded_book(kraken_records) -> None:
    per_pair: Counter = Counter()
    n = KrakenNormalizer()
    for r in kraken_records:
        before = n.stats.checksums_ok
        n.on_frame(r.payload, r.conn, r.ts_ns)
        if n.stats.checksums_ok > before:
            per_pair[orjson.loads(r.payload)[-1]] += 1
    assert n.stats.checksums_ok == 2617
    assert n.stats.checksums_bad == 0
    assert per_pair == {"XMR/USD": 846, "SC/EUR": 818, "ADA/XBT": 347, "ETH/CHF": 317,
                        "XBT/CHF": 289}
    assert not n.stats.errors and n.unrecovered() == []
    assert n.stats.messages == len(kraken_records)
    for book in n.books.values():
        assert book.valid and not book.is_crossed()
        assert book.bid_count <= 1000 and book.ask_count <= 1000


def test_wire_decimals_are_rescaled_when_book_tick_is_coarser_than_wire(kraken_records) -> None:
    # ADA/XBT prints 9 decimals but every price sits on 1e-8: the book's grid is the coarser
    # one and the checksum text must still be built at 9 decimals
    n = KrakenNormalizer()
    _replay(kraken_records, n)
    key = (BOOK_CONN, "ADA/XBT")
    assert n.wire_decimals(key) == (9, 8)
    assert n.books[key].price_decimals < 9
    assert n.wire_decimals((BOOK_CONN, "XBT/CHF")) == (5, 8)


def test_reference_checksum_matches_when_built_from_received_text(kraken_records,
                                                                  text_book) -> None:
    # an independent book of the exchange's own strings: the reference checksum over it must
    # equal Kraken's, and the compiled checksum over the normalizer's book must equal both
    n = KrakenNormalizer()
    texts: dict[str, object] = {}
    checked = 0
    for r in kraken_records:
        n.on_frame(r.payload, r.conn, r.ts_ns)
        msg = orjson.loads(r.payload)
        if not (isinstance(msg, list) and msg[-2].startswith("book-")):
            continue
        pair, parts = msg[-1], msg[1:-2]
        if "as" in parts[0]:
            texts[pair] = tb = text_book()
        tb = texts[pair]
        for part in parts:
            for side, name in ((1, "as"), (0, "bs"), (1, "a"), (0, "b")):
                for lv in part.get(name, []):
                    tb.set(side, lv[0], lv[1])
        tb.truncate(1000)
        if "c" in parts[-1]:
            expected = int(parts[-1]["c"])
            assert kraken_checksum_ref(tb.top(1, 10), tb.top(0, 10)) == expected
            key = (BOOK_CONN, pair)
            book = n.books[key]
            pd, sd = n.wire_decimals(key)
            assert kraken_checksum(book, pd, sd) == expected
            assert book_levels(book, 1, 10, pd, sd) == tb.top(1, 10)
            checked += 1
    assert checked == 2617


def test_trades_normalize_to_exact_text_when_recorded(kraken_records) -> None:
    trades: list[Trade] = []
    n = KrakenNormalizer(on_trade=trades.append)
    _replay(kraken_records, n)
    assert len(trades) == n.stats.trades == 10
    assert trades[0] == Trade("kraken", "XMR/USD", "354.11000000", "0.89594024", SELL, "",
                              1618678142557535000, trades[0].ts_local_ns)
    assert trades[1].aggressor == BUY and trades[1].price == "354.55000000"
    first = next(r for r in kraken_records if b',"trade","' in r.payload)
    assert trades[0].ts_local_ns == first.ts_ns
    assert {t.symbol for t in trades} == {"XMR/USD", "SC/EUR"}


# -- checksum failure and resync ----------------------------------------------------------------

def _snapshot_frame(book, pair: str, depth: int, pd: int, sd: int) -> bytes:
    """A Kraken snapshot frame holding a book's current levels as Kraken prints them."""
    asks, bids = ([[p, q, "0.0"] for p, q in book_levels(book, side, depth, pd, sd)]
                  for side in (1, 0))
    return orjson.dumps([0, {"as": asks, "bs": bids}, f"book-{depth}", pair])


def test_book_invalid_when_update_level_corrupted_then_snapshot_resyncs(kraken_records) -> None:
    pair, key = "XMR/USD", (BOOK_CONN, "XMR/USD")
    updates = [i for i, r in enumerate(kraken_records)
               if r.payload.endswith(b'"XMR/USD"]') and b'"c":' in r.payload]
    bad_at, resync_at = updates[100], updates[120]
    clean, n = KrakenNormalizer(), KrakenNormalizer()
    for i, r in enumerate(kraken_records):
        clean.on_frame(r.payload, r.conn, r.ts_ns)
        payload = r.payload
        if i == bad_at:
            msg = orjson.loads(payload)
            side = "a" if "a" in msg[1] else "b"
            p, q = msg[1][side][0][:2]
            msg[1][side][0][1] = "0.00000000" if q != "0.00000000" else "1.00000000"
            payload = orjson.dumps(msg)
        if i == resync_at:
            # re-inject a snapshot of the exchange's true state at this point
            pd, sd = clean.wire_decimals(key)
            n.on_frame(_snapshot_frame(clean.books[key], pair, 1000, pd, sd), BOOK_CONN, r.ts_ns)
            assert n.books[key].valid and n.stats.resyncs == 1 and n.unrecovered() == []
            continue          # the true state already includes this update
        n.on_frame(payload, r.conn, r.ts_ns)
        if i == bad_at:
            assert n.stats.checksums_bad == 1
            assert n.stats.errors["checksum_mismatch"] == 1
            assert not n.books[key].valid and n.unrecovered() == [key]
    assert n.stats.checksums_bad == 1
    assert n.stats.errors["dropped_book_invalid"] == 120 - 100 - 1
    # every XMR/USD update after the resync matched again
    assert n.stats.checksums_ok == clean.stats.checksums_ok - (120 - 100 + 1)
    assert n.books[key].valid and n.unrecovered() == []
    assert n.books[key].depth(1000)[0].tolist() == clean.books[key].depth(1000)[0].tolist()


# -- synthetic frames ---------------------------------------------------------------------------

SNAP = orjson.dumps([1, {"as": [["101.00000", "1.00000000", "1"], ["102.00000", "3.00000000", "1"]],
                         "bs": [["100.00000", "2.00000000", "1"], ["99.00000", "4.00000000", "1"]]},
                     "book-10", "XBT/USD"])
KEY = ("ws", "XBT/USD")


def _with_checksum(normalizer_snapshot: bytes, update: list) -> bytes:
    """An update frame carrying the checksum of the book it should produce (via a scratch
    normalizer with the checksum left out)."""
    scratch = KrakenNormalizer()
    scratch.on_frame(normalizer_snapshot)
    scratch.on_frame(orjson.dumps(update))
    book = scratch.books[KEY]
    update[-3]["c"] = str(kraken_checksum_ref(book_levels(book, 1, 10, 5, 8),
                                              book_levels(book, 0, 10, 5, 8)))
    return orjson.dumps(update)


def test_both_sides_apply_when_update_has_two_dicts() -> None:
    n = KrakenNormalizer()
    n.on_frame(SNAP)
    frame = _with_checksum(SNAP, [1, {"a": [["101.00000", "0.00000000", "2"]]},
                                  {"b": [["100.50000", "5.00000000", "2", "r"]]}, "book-10",
                                  "XBT/USD"])
    n.on_frame(frame)
    assert n.stats.checksums_ok == 1 and not n.stats.errors
    assert n.books[KEY].best_ask() == (102.0, 3.0)
    assert n.books[KEY].best_bid() == (100.5, 5.0)


def test_book_truncated_to_depth_when_update_adds_levels() -> None:
    n = KrakenNormalizer()
    n.on_frame(SNAP)
    asks = [[f"{90 + i}.00000", "1.00000000", "2"] for i in range(0, 9)]   # better than 101
    frame = _with_checksum(SNAP, [1, {"a": asks}, "book-10", "XBT/USD"])
    n.on_frame(frame)
    book = n.books[KEY]
    assert book.ask_count == 10 and book.best_ask() == (90.0, 1.0)
    assert book.depth(10)[1][-1, 0] == 101.0           # 102 fell out of the 10-level book
    assert n.stats.checksums_ok == 1


def test_status_messages_ignored_when_heartbeat_or_subscription() -> None:
    n = KrakenNormalizer()
    for msg in ({"event": "heartbeat"}, {"event": "systemStatus", "status": "online"},
                {"event": "subscriptionStatus", "status": "subscribed", "pair": "XBT/USD"},
                [5, {"a": ["1", 0, "1"]}, "ticker", "XBT/USD"]):
        n.on_frame(orjson.dumps(msg))
    assert n.stats.messages == 4 and not n.stats.errors


MALFORMED = [
    ("truncated_json", b'[1,{"a":[["101.00000","1.0', "bad_json"),
    ("not_array", b"42", "bad_message"),
    ("too_short", b'[1,"book-10","XBT/USD"]', "bad_message"),
    ("levels_not_list", b'[1,{"a":"101.00000","c":"1"},"book-10","XBT/USD"]', "bad_level"),
    ("level_is_object", b'[1,{"a":[{"0":"101.00000"}],"c":"1"},"book-10","XBT/USD"]',
     "bad_level"),
    ("price_is_number", b'[1,{"a":[[101.0,"1.00000000","1"]],"c":"1"},"book-10","XBT/USD"]',
     "bad_level"),
    ("checksum_is_number", b'[1,{"a":[["101.00000","1.00000000","1"]],"c":1},"book-10",'
                           b'"XBT/USD"]', "bad_message"),
    ("nan_size", b'[1,{"a":[["101.00000","NaN","1"]],"c":"1"},"book-10","XBT/USD"]',
     "bad_level"),
    ("negative_size", b'[1,{"b":[["100.00000","-1.00000000","1"]],"c":"1"},"book-10",'
                      b'"XBT/USD"]', "bad_level"),
    ("zero_price", b'[1,{"b":[["0.00000","1.00000000","1"]],"c":"1"},"book-10","XBT/USD"]',
     "bad_level"),
    ("price_off_wire_grid", b'[1,{"a":[["101.000001","1.00000000","1"]],"c":"1"},"book-10",'
                            b'"XBT/USD"]', "off_grid"),
    ("unknown_channel", b'[1,{"a":[]},"bookz","XBT/USD"]', "unknown_channel"),
    ("bad_depth", b'[1,{"a":[]},"book-x","XBT/USD"]', "bad_message"),
    ("update_before_snapshot", b'[2,{"a":[["1.00000","1.00000000","1"]],"c":"1"},"book-10",'
                               b'"ETH/USD"]', "update_before_snapshot"),
    ("trade_bad_side", b'[3,[["101.0","1.0","1618678142.5","x","l",""]],"trade","XBT/USD"]',
     "bad_trade"),
    ("trade_bad_time", b'[3,[["101.0","1.0","soon","b","l",""]],"trade","XBT/USD"]',
     "bad_trade"),
    ("trade_not_list", b'[3,{"p":"1"},"trade","XBT/USD"]', "bad_trade"),
    ("unknown_event", b'{"event":"surprise"}', "unknown_event"),
    ("error_event", b'{"event":"error","errorMessage":"Currency pair not supported"}',
     "exchange_error"),
    ("subscription_error", b'{"event":"subscriptionStatus","status":"error","pair":"X/Y",'
                           b'"errorMessage":"no"}', "subscription_error"),
]


RESYNC_CASES = frozenset(['truncated_json', 'levels_not_list', 'level_is_object', 'price_is_number', 'checksum_is_number', 'nan_size', 'negative_size', 'zero_price', 'price_off_wire_grid'])


@pytest.mark.parametrize("frame,reason", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_problem_counted_and_book_unchanged_when_frame_malformed(frame: bytes, reason: str,
                                                                request) -> None:
    problems = []
    trades = []
    n = KrakenNormalizer(on_problem=problems.append, on_trade=trades.append)
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
    assert n.stats.checksums_ok == n.stats.checksums_bad == 0


def test_book_invalid_and_updates_dropped_when_snapshot_malformed() -> None:
    n = KrakenNormalizer()
    n.on_frame(b'[1,{"as":[["101.00000","-1.00000000","1"]],"bs":[]},"book-10","XBT/USD"]')
    assert n.stats.errors["bad_snapshot"] == 1 and n.unrecovered() == [KEY]
    n.on_frame(b'[1,{"a":[["101.00000","1.00000000","1"]],"c":"1"},"book-10","XBT/USD"]')
    assert n.stats.errors["dropped_book_invalid"] == 1
    n.on_frame(SNAP)
    assert n.unrecovered() == [] and n.stats.resyncs == 1 and n.books[KEY].valid


def test_metadata_decimals_used_when_precisions_given() -> None:
    n = KrakenNormalizer(precisions={"XBT/USD": (6, 8)})
    n.on_frame(SNAP)                       # prints 5 decimals: fewer than the pair's 6 is fine
    assert n.wire_decimals(KEY) == (6, 8) and n.books[KEY].valid
    n.on_frame(b'[1,{"a":[["101.0000001","1.00000000","1"]],"c":"1"},"book-10","XBT/USD"]')
    assert n.stats.errors == {"off_grid": 1}
    strict = KrakenNormalizer(precisions={"XBT/USD": (4, 8)})
    strict.on_frame(SNAP)                  # 5 decimals where AssetPairs says 4: corrupt
    assert strict.stats.errors == {"off_grid": 1} and strict.unrecovered() == [KEY]
