"""Binance: snapshot + diff sync as documented, gaps, resync and the bookTicker oracle, on the
real recordings."""
from __future__ import annotations

import gzip
from decimal import Decimal

import orjson
import pytest

from datafiles import sample_file, shared_file
from tradecore._fast.fixed import format_units
from tradecore.data.capture import REST, WS, read_capture
from tradecore.venues.binance.normalize import BinanceNormalizer
from tradecore.verify import replay, verify_books


def _replay(files, norm=None, skip=None):
    norm = norm or BinanceNormalizer()
    for path in files:
        for rec in read_capture(path):
            if skip and skip(rec):
                continue
            if rec.kind == WS:
                norm.on_frame(rec.payload, rec.conn, rec.ts_ns)
            elif rec.kind == REST:
                norm.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    return norm


def _levels_text(book, side):
    return [(Decimal(format_units(int(t) * book.tick_units, book.price_decimals)),
             Decimal(format_units(int(q) * book.lot_units, book.size_decimals)))
            for t, q in book.depth_ticks(side, 1 << 40)]


def _snapshot_bytes(book, last_id: int) -> bytes:
    def side(s):
        return [[format_units(int(t) * book.tick_units, book.price_decimals),
                 format_units(int(q) * book.lot_units, book.size_decimals)]
                for t, q in book.depth_ticks(s, 1 << 40)]
    return orjson.dumps({"lastUpdateId": last_id, "bids": side(0), "asks": side(1)})


def test_sync_matches_every_book_ticker_when_replaying_bundled_spot_recording():
    n = _replay([sample_file("hbt_spot_btcusdt_20240808.gz")])
    assert n.stats.gaps == 0
    assert n.stats.top_checks_ok == 564          # the reference implementation's count
    assert n.stats.top_checks_bad == 0
    assert n.unrecovered() == []
    assert dict(n.stats.errors) == {}


@pytest.mark.parametrize("files, checks", [
    (["binance/hbt_spot_btcusdt_20240808.gz", "binance/hbt_spot_btcusdt_20240809.gz"], 1072),
    (["binance/hbt_usdm_btcusdt_20240808.gz"], 629),
    (["binance/hbt_coinm_btcusd_perp_20240808.gz"], 1124),
])
def test_sync_follows_each_markets_rule_when_replaying_shared_recordings(files, checks):
    r = verify_books("binance", [shared_file(f) for f in files])
    assert r["gaps"] == 0 and r["top_checks_bad"] == 0 and r["unrecovered"] == []
    assert r["top_checks_ok"] == checks
    assert r["ok"]


@pytest.mark.parametrize("name", ["cf_spot_20211012_4sym.jsonl", "cf_usdm_20210722_4sym.jsonl"])
def test_each_symbol_syncs_when_snapshots_arrive_after_diffs(name):
    r = verify_books("binance", [sample_file(name)])
    assert len(r["books"]) == 4
    assert r["gaps"] == 0 and r["unrecovered"] == [] and r["errors"] == {}
    assert r["top_checks_ok"] > 0 and r["top_checks_bad"] == 0


def test_final_book_equals_plain_python_replay_when_replaying_spot_recording():
    path = sample_file("hbt_spot_btcusdt_20240808.gz")
    n = _replay([path])
    # independent replay: dicts of Decimal, the documented rules, nothing shared with the code
    bids, asks, last = {}, {}, None
    pending = []
    for line in gzip.open(path, "rb"):
        msg = orjson.loads(line.split(b" ", 1)[1])
        if "lastUpdateId" in msg:
            last = msg["lastUpdateId"]
            bids = {Decimal(p): Decimal(q) for p, q in msg["bids"]}
            asks = {Decimal(p): Decimal(q) for p, q in msg["asks"]}
            continue
        d = msg["data"]
        if d.get("e") != "depthUpdate":
            continue
        pending.append(d)
        if last is None:
            continue
        for d in pending:
            if d["u"] <= last:
                continue
            for side, book in (("b", bids), ("a", asks)):
                for p, q in d[side]:
                    if Decimal(q) == 0:
                        book.pop(Decimal(p), None)
                    else:
                        book[Decimal(p)] = Decimal(q)
            last = d["u"]
        pending = []
    book = n.books[("ws", "BTCUSDT")]
    assert _levels_text(book, 0) == sorted(bids.items(), reverse=True)
    assert _levels_text(book, 1) == sorted(asks.items())


def test_gap_is_detected_and_resync_recovers_when_one_diff_is_dropped():
    path = sample_file("hbt_spot_btcusdt_20240808.gz")
    records = list(read_capture(path))
    depth = [i for i, r in enumerate(records) if b"@depth" in r.payload[:40]]
    drop = depth[len(depth) // 2]
    full = BinanceNormalizer()
    gapped = BinanceNormalizer()
    resync_at = depth[len(depth) // 2 + 20]
    for i, rec in enumerate(records):
        for norm in (full, gapped):
            if norm is gapped and i == drop:
                continue
            if rec.kind == WS:
                norm.on_frame(rec.payload, rec.conn, rec.ts_ns)
            else:
                norm.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
        if i == depth[len(depth) // 2 + 1]:           # the next diff shows the break
            assert gapped.stats.gaps == 1
            assert not gapped.books[("ws", "BTCUSDT")].valid
            assert gapped.unrecovered() == [("ws", "BTCUSDT")]
        if i == resync_at:
            # the exchange answers a new REST snapshot: here, the uninterrupted book's state
            ref = full.books[("ws", "BTCUSDT")]
            gapped.on_rest(_snapshot_bytes(ref, ref.seq), "rest", rec.ts_ns)
            assert gapped.books[("ws", "BTCUSDT")].valid
    assert gapped.stats.resyncs == 1 and gapped.unrecovered() == []
    a, b = full.books[("ws", "BTCUSDT")], gapped.books[("ws", "BTCUSDT")]
    for side in (0, 1):
        assert (a.depth_ticks(side, 5000) == b.depth_ticks(side, 5000)).all()
    assert gapped.stats.top_checks_bad == 0


def test_gap_without_snapshot_fails_verification_when_recording_has_no_resync(tmp_path):
    src = sample_file("hbt_spot_btcusdt_20240808.gz")
    lines = gzip.open(src, "rb").read().splitlines(keepends=True)
    depth = [i for i, ln in enumerate(lines) if b"@depth" in ln[:80]]
    del lines[depth[100]]
    out = tmp_path / "gapped.gz"
    out.write_bytes(gzip.compress(b"".join(lines)))
    r = verify_books("binance", [out])
    assert r["gaps"] == 1 and r["unrecovered"] == ["ws/BTCUSDT"] and not r["ok"]


def _synced():
    n = BinanceNormalizer()
    n.on_frame(b'{"stream":"x@depth","data":{"e":"depthUpdate","E":1,"s":"XUSDT","U":9,'
               b'"u":11,"b":[["100.00","1.0"]],"a":[["101.00","2.0"]]}}')
    n.on_rest(b'{"lastUpdateId":10,"bids":[["99.00","5.0"]],"asks":[["102.00","1.0"]]}',
              url="https://api.binance.com/api/v3/depth?symbol=XUSDT&limit=1000")
    return n, n.books[("ws", "XUSDT")]


def _diff(U, u, b=b'[["100.00","3.0"]]', a=b"[]", sym=b"XUSDT"):
    return (b'{"stream":"x@depth","data":{"e":"depthUpdate","E":1,"s":"' + sym + b'","U":'
            + str(U).encode() + b',"u":' + str(u).encode() + b',"b":' + b + b',"a":' + a + b"}}")


def test_buffered_diff_straddling_snapshot_is_applied_when_snapshot_arrives_late():
    n, book = _synced()
    assert book.best_bid() == (100.0, 1.0) and book.best_ask() == (101.0, 2.0)
    assert book.seq == 11 and book.valid


def test_duplicate_diff_is_dropped_and_counted_when_replayed_twice():
    n, book = _synced()
    n.on_frame(_diff(12, 12))
    before = book.depth_ticks(0, 10).tolist()
    n.on_frame(_diff(12, 12, b=b'[["100.00","9.0"]]'))
    assert n.stats.errors["stale_update"] == 1
    assert book.depth_ticks(0, 10).tolist() == before and book.valid


@pytest.mark.parametrize("frame, reason", [
    (b'{"stream":"x@depth","data":{"e":"depthUpdate","s":"XUSDT","U":12,"u":1', "malformed_frame"),
    (b"not json at all", "malformed_frame"),
    (b'[1,2,3]', "malformed_frame"),
    (b'{"stream":"x@depth","data":{"e":"depthUpdate","s":"XUSDT","U":"a","u":12,"b":[],"a":[]}}',
     "malformed_frame"),
    (b'{"stream":"x@depth","data":{"e":"depthUpdate","s":"XUSDT","U":12,"u":12,"a":[]}}',
     "malformed_frame"),
    (b'{"stream":"x@trade","data":{"e":"trade","s":"XUSDT","t":1,"p":5,"q":"1","T":1,"m":true}}',
     "bad_schema"),
    (b'{"stream":"x@trade","data":{"e":"trade","s":"XUSDT","t":1,"p":"5","q":"-1","T":1,'
     b'"m":true}}', "bad_schema"),
])
def test_bad_frame_is_counted_and_book_unchanged_when_schema_is_wrong(frame, reason):
    n, book = _synced()
    before = (book.depth_ticks(0, 10).tolist(), book.depth_ticks(1, 10).tolist(), book.seq)
    n.on_frame(frame)
    assert n.stats.errors[reason] == 1
    assert (book.depth_ticks(0, 10).tolist(), book.depth_ticks(1, 10).tolist(), book.seq) == before
    assert book.valid


@pytest.mark.parametrize("levels, why", [
    (b'[["100.00","NaN"]]', "size is not a plain decimal"),
    (b'[["100.00","-1"]]', "size is negative"),
    (b'[["100.0000000000000001","1"]]', "finer than any grid the book can hold"),
    (b'[["abc","1"]]', "price is not a plain decimal"),
])
def test_bad_level_invalidates_book_without_applying_when_diff_is_in_sequence(levels, why):
    del why  # the case's name
    # the exchange's sequence moves on even though we cannot apply this diff, so the book must
    # be marked invalid (and resynced) rather than silently miss an update
    n, book = _synced()
    before = (book.depth_ticks(0, 10).tolist(), book.depth_ticks(1, 10).tolist())
    n.on_frame(_diff(12, 12, b=b'[["100.00","7.0"]]', a=levels))
    assert n.stats.errors["bad_level"] == 1
    assert not book.valid and n.unrecovered() == [("ws", "XUSDT")]
    assert (book.depth_ticks(0, 10).tolist(), book.depth_ticks(1, 10).tolist()) == before


def test_finer_price_regrids_book_when_grid_was_inferred_from_snapshot():
    n, book = _synced()
    n.on_frame(_diff(12, 12, b=b'[["100.005","2.5"]]'))
    book = n.books[("ws", "XUSDT")]
    assert book.valid and book.best_bid() == (100.005, 2.5)
    assert book.depth(5)[0].tolist() == [[100.005, 2.5], [100.0, 1.0], [99.0, 5.0]]


def test_depth_for_unsubscribed_symbol_is_a_problem_when_symbols_are_given():
    n = BinanceNormalizer(symbols=["XUSDT"])
    n.on_frame(_diff(1, 2, sym=b"OTHER"))
    assert n.stats.errors["unknown_symbol"] == 1 and n.books == {}


def test_trades_normalize_to_exact_text_when_replaying_recording():
    trades = []
    n = BinanceNormalizer(on_trade=trades.append)
    _replay([sample_file("hbt_spot_btcusdt_20240808.gz")], n)
    assert len(trades) == 9757
    t = trades[0]
    assert t.venue == "binance" and t.symbol == "BTCUSDT"
    assert t.price == "61837.63000000" and t.size == "0.02000000"
    assert t.aggressor == -1                       # "m": true, the buyer was the maker
    assert t.trade_id == "3735683259" and t.ts_exchange_ns == 1723161255342 * 1_000_000


def test_futures_rule_applies_when_snapshot_arrives_before_any_diff():
    n = BinanceNormalizer()
    n.on_rest(b'{"lastUpdateId":10,"bids":[["99.0","5"]],"asks":[["102.0","1"]]}',
              url="https://fapi.binance.com/fapi/v1/depth?symbol=XUSDT")
    for U, u, pu in ((8, 12, 7), (13, 15, 12), (16, 20, 15)):
        n.on_frame(b'{"stream":"x@depth","data":{"e":"depthUpdate","E":1,"s":"XUSDT","U":%d,'
                   b'"u":%d,"pu":%d,"b":[["100.0","%d"]],"a":[]}}' % (U, u, pu, u))
    book = n.books[("ws", "XUSDT")]
    assert n.stats.gaps == 0 and book.valid and book.seq == 20
    assert book.best_bid() == (100.0, 20.0)


def test_levels_hook_sees_snapshot_and_every_applied_diff_when_set():
    seen = []
    n = BinanceNormalizer(on_levels=lambda key, ts, seq, levels, snap: seen.append(
        (key, seq, levels, snap)))
    _replay([sample_file("hbt_spot_btcusdt_20240808.gz")], n)
    assert seen[0][3] is True and seen[0][1] == 50093239218 and len(seen[0][2]) == 2000
    diffs = [s for s in seen if not s[3]]
    assert sum(len(s[2]) for s in diffs) + 2000 == n.stats.levels
    assert all(a[1] < b[1] for a, b in zip(diffs, diffs[1:]))


def test_verify_reads_on_after_an_unreadable_line_when_a_capture_is_damaged(tmp_path):
    src = sample_file("hbt_spot_btcusdt_20240808.gz")
    lines = gzip.open(src, "rb").read().splitlines(keepends=True)
    lines.insert(100, b"this is not a capture line\n")
    out = tmp_path / "damaged.gz"
    out.write_bytes(gzip.compress(b"".join(lines)))
    r = verify_books("binance", [out])
    assert r["errors"] == {"unreadable_capture_line": 1}
    assert r["top_checks_ok"] == 564 and r["ok"]


def test_book_callback_fires_after_a_snapshot_sync_when_set():
    seen = []
    n = BinanceNormalizer(on_book=lambda key, book: seen.append((key, book.seq)))
    n.on_frame(_diff(9, 11))
    n.on_rest(b'{"lastUpdateId":10,"bids":[["99.00","5.0"]],"asks":[["102.00","1.0"]]}',
              url="https://api.binance.com/api/v3/depth?symbol=XUSDT&limit=1000")
    assert seen == [(("ws", "XUSDT"), 11)]


def test_on_frame_when_hooks_and_stats_are_set_after_construction_uses_them_in_the_steady_state():
    """The steady state is compiled (jsonscan.FramePath, bound as the instance's on_frame):
    hooks and a stats object assigned later (as the engine and the recorder do) are the ones
    it calls and counts into, and a hook that drops the connection does not disturb it."""
    from tradecore.venues.base import FeedStats
    n = BinanceNormalizer()
    n.on_frame(_diff(9, 11))
    n.on_rest(b'{"lastUpdateId":10,"bids":[["99.00","5.0"]],"asks":[["102.00","1.0"]]}',
              url="https://api.binance.com/api/v3/depth?symbol=XUSDT&limit=1000")
    stats, books, levels = FeedStats(), [], []
    n.stats = stats
    n.on_book = lambda key, book: books.append((key, book.seq))
    n.on_levels = lambda key, ts, seq, lv, snap: levels.append((seq, lv, snap))
    n.on_frame(_diff(12, 12), "ws", 5)                                # the steady state
    n.on_frame(_diff(13, 14, b'[["99.00","0"]]', b'[["101.50","2.5"]]'), "ws", 6)
    assert books == [(("ws", "XUSDT"), 12), (("ws", "XUSDT"), 14)]
    assert levels == [(12, [(0, "100.00", "3.0")], False),
                      (14, [(0, "99.00", "0"), (1, "101.50", "2.5")], False)]
    assert (stats.messages, stats.levels) == (2, 3)
    assert n.on_book is not None and n.stats is stats
    n.on_book = lambda key, book: n.drop_connection("ws")
    n.on_frame(_diff(15, 15), "ws", 7)
    assert stats.messages == 3 and n.books == {}
    n.on_book = None
    n.on_frame(_diff(16, 16), "ws", 8)         # a new book for the connection, waiting
    assert n.waiting_for_snapshot("ws") == ["XUSDT"] and stats.messages == 4


def test_consumers_read_the_whole_diff_when_large_diffs_defer_their_far_levels():
    """The fast path applies a large diff's far levels after the book's consumers (L2Book's
    deferred levels); what a consumer reads meanwhile, on the real recording, equals what it
    reads from a normalizer that applies every level first, and nothing is left pending."""
    path = sample_file("hbt_spot_btcusdt_20240808.gz")
    seen: dict[bool, list] = {True: [], False: []}
    deferred = [0, 0]                      # consumer calls with levels pending; still after reads

    def consumer(defers: bool):
        def on_book(key, book):
            pending = book.pending
            # the detectors' default depth (strategies/arb/cross.py), then deeper reads
            reads = (book.top_ticks(), book.depth_ticks(0, 20).tolist(),
                     book.depth_ticks(1, 20).tolist())
            if defers and pending:
                deferred[0] += 1
                deferred[1] += book.pending > 0   # those walks stayed above the fence
            seen[defers].append(reads + (book.depth_ticks(0, 64).tolist(),
                                         book.depth_ticks(1, 64).tolist(),
                                         book.fill_price(0, 0.5), book.bid_count))
        return on_book

    norms = {}
    for defers in (True, False):
        n = BinanceNormalizer()
        n._scan.defer_far = defers
        n.on_book = consumer(defers)
        norms[defers] = n
    for rec in read_capture(path):
        for n in norms.values():
            if rec.kind == WS:
                n.on_frame(rec.payload, rec.conn, rec.ts_ns)
                assert all(b.pending == 0 for b in n.books.values())
            elif rec.kind == REST:
                n.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    assert len(seen[True]) == len(seen[False]) > 3000
    assert seen[True] == seen[False]
    assert deferred[0] >= 100              # the recording's large diffs did defer
    assert deferred[1] >= 0.9 * deferred[0]
