"""The Binance depth scanner (tradecore._fast.jsonscan): prices and sizes are read while the frame
is scanned and staged from the scanned digits (apply_to). That fused path must give exactly what
staging every level from its text gives (apply_text_to, the book's parse_fixed path) and what
the plain-Python reference gives (orjson + L2Book.apply_sides): the same book, or the same
problem code with the book unchanged. The scanned fields must equal orjson's reading of the
frame, on random frames and on every depth frame of the real recordings."""
from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from datafiles import sample_file, shared_file
from tradecore._fast.book import L2Book, reason_text
from tradecore._fast.jsonscan import DepthScanner, DepthSync, ScanResult, SyncResult

DEPTH, OTHER, MALFORMED = (int(ScanResult.SCAN_DEPTH), int(ScanResult.SCAN_OTHER),
                           int(ScanResult.SCAN_MALFORMED))
examples = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# -------------------------------------------------------------------------------------------------
# number texts: what Binance sends, and everything odd a wire can carry instead

digits = st.text("0123456789", min_size=1, max_size=21)
plain = st.one_of(
    digits,
    st.builds(lambda i, f: f"{i}.{f}", digits, digits),
    # trailing zeros beyond any grid, as Binance spot pads to 8 decimals
    st.builds(lambda i, f, z: f"{i}.{f}{'0' * z}", st.text("0123456789", min_size=1, max_size=6),
              st.text("0123456789", max_size=8), st.integers(0, 14)),
)
odd = st.sampled_from(["", ".", "5.", ".5", "-1", "-0", "+1", "+", "1e5", "1E-2", "NaN", "inf",
                       " 1", "1 ", "1.2.3", "0x10", "1,5", "\u0661", "1\u00a0", "12\\u0033",
                       "99999999999999999999", "0.0000000000000000001", "1" * 40, "00000.10"])
numbers = st.one_of(plain, plain, plain, odd)
grids = st.tuples(
    st.integers(0, 12), st.sampled_from([1, 2, 5, 10, 25, 100, 1000]),    # price decimals, units
    st.integers(0, 12), st.sampled_from([1, 2, 5, 10, 1000]),             # size decimals, units
)


def grid_text(decimals: int, units: int) -> str:
    s = str(units).rjust(decimals + 1, "0")
    return s if decimals == 0 else s[:-decimals] + "." + s[-decimals:]


def frame_of(bids: list, asks: list, *, wrapped: bool = True, pretty: bool = False) -> bytes:
    """A depthUpdate with the level texts as given (json-encoded, so escapes stay escapes)."""
    data = {"e": "depthUpdate", "E": 1723161255708, "s": "XUSDT", "U": 11, "u": 12,
            "b": [[p, q] for p, q in bids], "a": [[p, q] for p, q in asks]}
    if wrapped:
        data = {"stream": "xusdt@depth@100ms", "data": data}
    return json.dumps(data, indent=1 if pretty else None,
                      separators=None if pretty else (",", ":")).encode()


def book_state(book: L2Book) -> tuple:
    return (book.depth_ticks(0, 10_000).tolist(), book.depth_ticks(1, 10_000).tolist())


def new_book(grid: tuple) -> L2Book:
    pd, pu, sd, su = grid
    book = L2Book(grid_text(pd, pu), grid_text(sd, su))
    book.apply_ticks(0, 1, 1)                   # a level that a bad batch must not disturb
    return book


# -------------------------------------------------------------------------------------------------
# fused staging == text staging == plain-Python reference

def _three_ways(frame: bytes, grid: tuple, bids: list, asks: list) -> None:
    sc = DepthScanner()
    assert sc.scan(frame) == DEPTH, sc.error
    fused, text, ref = new_book(grid), new_book(grid), new_book(grid)
    before = book_state(fused)
    code = sc.apply_to(fused)
    err = sc.error
    assert sc.apply_text_to(text) == code
    assert sc.error == err
    try:
        ref.apply_sides(bids, asks)
        ref_ok = True
    except ValueError:
        ref_ok = False
    assert (code == 0) == ref_ok, (code, reason_text(code))
    assert book_state(fused) == book_state(text) == book_state(ref)
    if code:
        assert book_state(fused) == before
        assert err.startswith("level ")


@examples
@given(grid=grids, bids=st.lists(st.tuples(numbers, numbers), max_size=6),
       asks=st.lists(st.tuples(numbers, numbers), max_size=6))
def test_apply_to_when_levels_are_random_text_matches_text_path_and_python_reference(grid, bids,
                                                                                     asks):
    _three_ways(frame_of(bids, asks), grid, bids, asks)


@examples
@given(grid=grids, bids=st.lists(st.tuples(plain, plain), min_size=1, max_size=8),
       asks=st.lists(st.tuples(plain, plain), max_size=8))
def test_apply_to_when_levels_are_plain_decimals_matches_text_path_and_python_reference(grid, bids,
                                                                                        asks):
    _three_ways(frame_of(bids, asks), grid, bids, asks)


@examples
@given(grid=grids, data=st.data())
def test_apply_to_when_levels_sit_on_the_grid_stages_exact_ticks_and_lots(grid, data):
    pd, pu, sd, su = grid
    ticks = data.draw(st.lists(st.integers(1, 10**15 // pu // 10), min_size=1, max_size=8))
    lots = data.draw(st.lists(st.integers(0, 10**15 // su // 10), min_size=len(ticks),
                              max_size=len(ticks)))
    pad = data.draw(st.integers(0, 4))
    bids = [(grid_text(pd, t * pu) + ("0" * pad if pd else ""),
             grid_text(sd, q * su)) for t, q in zip(ticks, lots)]
    book = new_book(grid)
    sc = DepthScanner()
    assert sc.scan(frame_of(bids, [])) == DEPTH
    assert sc.apply_to(book) == 0
    want = {t: q for t, q in zip(ticks, lots)}
    want.setdefault(1, 1)
    assert dict(map(tuple, book.depth_ticks(0, 10_000).tolist())) == \
        {t: q for t, q in want.items() if q}


@examples
@given(grid=grids, bids=st.lists(st.tuples(numbers, numbers), max_size=4),
       asks=st.lists(st.tuples(numbers, numbers), max_size=4))
def test_scan_when_frame_has_whitespace_reads_the_same_levels_as_compact(grid, bids, asks):
    compact, pretty = DepthScanner(), DepthScanner()
    assert compact.scan(frame_of(bids, asks)) == DEPTH
    assert pretty.scan(frame_of(bids, asks, wrapped=False, pretty=True)) == DEPTH
    assert pretty.level_texts() == compact.level_texts()
    a, b = new_book(grid), new_book(grid)
    assert compact.apply_to(a) == pretty.apply_to(b)
    assert book_state(a) == book_state(b)


@pytest.mark.parametrize("price, size, reason", [
    ("100.01", "1", "price is off the tick grid"),
    ("100.00", "0.000000012", "size is off the lot grid"),
    ("100.0000000000000001", "1", "price has more decimals than the book's precision"),
    ("100.00", "0.0000000001", "size has more decimals than the book's precision"),
    ("100.00", "-1", "size is negative"),
    ("0.00", "1", "price is not positive"),
    ("1e2", "1", "price is not a plain decimal number"),
    ("100.00", "", "size is not a plain decimal number"),
    ("99999999999999999999", "1", "price is too large"),
])
def test_apply_to_when_a_level_is_bad_returns_the_books_reason_and_changes_nothing(price, size,
                                                                                   reason):
    book = L2Book("0.05", "0.000000005")
    book.apply_ticks(0, 1_000, 5)
    before = book_state(book)
    sc = DepthScanner()
    assert sc.scan(frame_of([("99.00", "1.5"), (price, size)], [])) == DEPTH
    code = sc.apply_to(book)
    assert reason_text(code) == reason
    assert sc.error == "level 1"
    assert book_state(book) == before


# -------------------------------------------------------------------------------------------------
# scanned fields == orjson's reading

@examples
@given(bids=st.lists(st.tuples(numbers, numbers), max_size=5),
       asks=st.lists(st.tuples(numbers, numbers), max_size=5), wrapped=st.booleans(),
       pretty=st.booleans())
def test_scan_when_frame_is_a_random_depth_update_reads_what_orjson_reads(bids, asks, wrapped,
                                                                         pretty):
    frame = frame_of(bids, asks, wrapped=wrapped, pretty=pretty)
    d = orjson.loads(frame)
    d = d.get("data", d)
    sc = DepthScanner()
    assert sc.scan(frame) == DEPTH
    assert (sc.symbol, sc.first_id, sc.last_id, sc.event_ms, sc.prev_last_id) == \
        (d["s"], d["U"], d["u"], d["E"], -1)
    # level_texts are the raw text between the quotes (escapes kept as sent)
    raw = [(0, json.dumps(p)[1:-1], json.dumps(q)[1:-1]) for p, q in d["b"]] + \
          [(1, json.dumps(p)[1:-1], json.dumps(q)[1:-1]) for p, q in d["a"]]
    assert sc.level_texts() == raw


@settings(max_examples=300, deadline=None)
@given(junk=st.binary(max_size=200))
def test_scan_when_frame_is_garbage_never_reads_a_depth_update(junk):
    sc = DepthScanner()
    assert sc.scan(junk) in (OTHER, MALFORMED)
    assert sc.level_count == 0 or sc.scan(junk) == MALFORMED


def _check_recorded(frames: list[bytes]) -> None:
    assert frames
    sc = DepthScanner()
    fused = text = None
    for frame in frames:
        d = orjson.loads(frame)["data"]
        assert sc.scan(frame) == DEPTH, sc.error
        assert (sc.symbol, sc.first_id, sc.last_id, sc.prev_last_id) == \
            (d["s"], d["U"], d["u"], d.get("pu", -1))
        assert sc.level_texts() == [(0, p, q) for p, q in d["b"]] + \
            [(1, p, q) for p, q in d["a"]]
        if fused is None:
            from tradecore.venues.base import grid_of
            tick, lot = grid_of([p for p, _ in d["b"] + d["a"]], [q for _, q in d["b"] + d["a"]])
            fused, text = L2Book(tick, lot), L2Book(tick, lot)
        code = sc.apply_to(fused)
        assert sc.apply_text_to(text) == code
        assert fused.top_ticks() == text.top_ticks()
        for cut in (1, len(frame) // 2, len(frame) - 1):       # truncated on the wire
            assert DepthScanner().scan(frame[:cut]) == MALFORMED
    assert book_state(fused) == book_state(text)


def test_scan_and_apply_when_replaying_bundled_spot_depth_frames_agree_with_orjson_and_text():
    _check_recorded(_hbt_frames(sample_file("hbt_spot_btcusdt_20240808.gz")))


def test_scan_and_apply_when_replaying_shared_usdm_depth_frames_agree_with_orjson_and_text():
    _check_recorded(_hbt_frames(shared_file("binance/hbt_usdm_btcusdt_20240808.gz")))


def _hbt_frames(path) -> list[bytes]:
    from tradecore.data.capture import WS, read_capture
    return [r.payload for r in read_capture(path)
            if r.kind == WS and b'"depthUpdate"' in r.payload[:80]]


# -------------------------------------------------------------------------------------------------
# scan_sync: the one-call steady state

def _synced(last_u: int = 11) -> tuple[DepthSync, L2Book]:
    book = L2Book("0.01", "0.00000001")
    sync = DepthSync()
    sync.start(book, last_u)
    return sync, book


def test_scan_sync_when_frame_is_the_books_next_diff_applies_it():
    sync, book = _synced()
    sc = DepthScanner()
    r = sc.scan_sync(frame_of([("100.00", "2.5")], [("101.00", "1")]), sync, b"XUSDT", 7)
    assert r == int(SyncResult.SYNC_APPLIED)
    assert book.best_bid() == (100.0, 2.5) and book.best_ask() == (101.0, 1.0)
    assert (book.seq, book.ts_ns, sync.last_u) == (12, 7, 12)


@pytest.mark.parametrize("frame, symbol, kind", [
    (frame_of([("100.00", "1")], []), b"YUSDT", DEPTH),
    (frame_of([("100.00", "1")], []), b"XUSD", DEPTH),
    (b'{"stream":"xusdt@trade","data":{"e":"trade","s":"XUSDT","p":"1","q":"1"}}', b"XUSDT",
     OTHER),
    (b'{"e":"depthUpdate","s":"XUSDT","U":1', b"XUSDT", MALFORMED),
])
def test_scan_sync_when_frame_is_not_this_books_diff_routes_it_and_leaves_book(frame, symbol,
                                                                             kind):
    sync, book = _synced()
    before = book_state(book)
    sc = DepthScanner()
    assert sc.scan_sync(frame, sync, symbol, 7) == sc.routed + kind
    assert book_state(book) == before and sync.last_u == 11


def test_scan_sync_when_diff_has_a_bad_level_reports_it_and_changes_nothing():
    sync, book = _synced()
    book.apply_ticks(0, 9_000, 5)
    before = book_state(book)
    sc = DepthScanner()
    r = sc.scan_sync(frame_of([("100.00", "1"), ("100.001", "1")], []), sync, b"XUSDT", 7)
    assert r == int(SyncResult.SYNC_BAD_LEVEL)
    assert reason_text(sync.last_code) == "price has more decimals than the book's precision"
    assert book_state(book) == before and sync.last_u == 11


# -------------------------------------------------------------------------------------------------
# scan_sync's fused staging (levels converted into the synced book while the frame is read) ==
# staging every level from its text == the plain-Python reference

APPLIED, BAD_LEVEL = int(SyncResult.SYNC_APPLIED), int(SyncResult.SYNC_BAD_LEVEL)


def _fused_three_ways(frame: bytes, grid: tuple, bids: list, asks: list) -> None:
    fused, text, ref = new_book(grid), new_book(grid), new_book(grid)
    before = book_state(fused)
    sync = DepthSync()
    sync.start(fused, 11)
    sc = DepthScanner()
    r = sc.scan_sync(frame, sync, b"XUSDT", 5)
    plain = DepthScanner()
    assert plain.scan(frame) == DEPTH
    # the fused scan keeps the same spans (level_texts: the recorder's and the errors' input)
    assert sc.level_count == plain.level_count
    assert sc.level_texts() == plain.level_texts()
    code = plain.apply_text_to(text)
    try:
        ref.apply_sides(bids, asks)
        ref_ok = True
    except ValueError:
        ref_ok = False
    assert (code == 0) == ref_ok, (code, reason_text(code))
    assert book_state(fused) == book_state(text) == book_state(ref)
    if code:
        assert (r, sync.last_code, sc.error) == (BAD_LEVEL, code, plain.error)
        assert book_state(fused) == before and sync.last_u == 11
    else:
        assert r == APPLIED and sync.last_u == 12


@examples
@given(grid=grids, bids=st.lists(st.tuples(numbers, numbers), max_size=6),
       asks=st.lists(st.tuples(numbers, numbers), max_size=6), wrapped=st.booleans())
def test_scan_sync_when_levels_are_random_text_matches_text_path_and_python_reference(
        grid, bids, asks, wrapped):
    _fused_three_ways(frame_of(bids, asks, wrapped=wrapped), grid, bids, asks)


@examples
@given(grid=grids, bids=st.lists(st.tuples(plain, plain), min_size=1, max_size=8),
       asks=st.lists(st.tuples(plain, plain), max_size=8), wrapped=st.booleans())
def test_scan_sync_when_levels_are_plain_decimals_matches_text_path_and_python_reference(
        grid, bids, asks, wrapped):
    _fused_three_ways(frame_of(bids, asks, wrapped=wrapped), grid, bids, asks)


# Binance's shapes on Binance's grids: 1..15 integer digits, decimals padded to 8 (spot) or
# not (futures), values on and off the grid, exponents and signs among them
binance_grids = st.tuples(st.integers(0, 8), st.sampled_from([1, 5, 10, 25]),
                          st.integers(0, 8), st.sampled_from([1, 10]))
binance_numbers = st.one_of(
    st.builds(lambda i, f, pad: f"{i}.{f}".ljust(len(str(i)) + 1 + pad, "0") if pad else
              f"{i}.{f}", st.integers(0, 10**15 - 1), st.text("0123456789", min_size=1,
                                                               max_size=9),
              st.sampled_from([0, 8, 10])),
    st.integers(0, 10**16).map(str),
    st.sampled_from(["1e3", "-1.5", "+2.0", "0.1E1", "1.", ".1", "1.2.3", "0x1"]),
)


@examples
@given(grid=binance_grids, bids=st.lists(st.tuples(binance_numbers, binance_numbers), min_size=1,
                                         max_size=8),
       asks=st.lists(st.tuples(binance_numbers, binance_numbers), max_size=8),
       wrapped=st.booleans())
def test_scan_sync_when_numbers_have_binance_shapes_matches_text_path_and_python_reference(
        grid, bids, asks, wrapped):
    _fused_three_ways(frame_of(bids, asks, wrapped=wrapped), grid, bids, asks)


def _joined(levels: list, seps: list, inner: list) -> str:
    """A JSON array of levels with the given separators between levels and inside them."""
    out = []
    for n, (p, q) in enumerate(levels):
        out.append(f"[{json.dumps(p)}{inner[n % len(inner)]}{json.dumps(q)}]")
    text = ""
    for n, lv in enumerate(out):
        text += (seps[n % len(seps)] if n else "") + lv
    return f"[{text}]"


def on_grid(decimals: int, units: int, pad: bool):
    """Texts of values on a grid (what a feed sends nearly always), with Binance spot's
    padding to 8 decimals or without; 1..7 integer digits mostly."""
    def text(n: int) -> str:
        t = grid_text(decimals, n * units)
        if pad:
            t = (t if "." in t else t + ".").ljust(len(t.split(".")[0]) + 9, "0")
        return t
    return st.integers(0, 10**(7 + decimals) // units).map(text)


@examples
@given(grid=binance_grids, pad=st.booleans(), data=st.data(),
       seps=st.lists(st.sampled_from([",", ",", ",", ", ", ",\n "]), min_size=1, max_size=4),
       inner=st.lists(st.sampled_from([",", ",", ",", ", "]), min_size=1, max_size=3),
       wrapped=st.booleans())
def test_scan_sync_when_long_frames_mix_shapes_and_separators_matches_text_path_and_reference(
        grid, pad, data, seps, inner, wrapped):
    """Long arrays, mostly of values on the book's grid: the straight loop (_levels_fast)
    takes the usual levels and hands the first other one (an odd or off-grid number,
    whitespace inside a level) to the general loop; whitespace between levels it reads
    itself. Same book, same problem, same spans either way."""
    pd, pu, sd, su = grid
    number = st.one_of(*[on_grid(pd, pu, pad)] * 12, binance_numbers)
    size = st.one_of(*[on_grid(sd, su, pad)] * 12, binance_numbers)
    bids = data.draw(st.lists(st.tuples(number, size), min_size=1, max_size=40))
    asks = data.draw(st.lists(st.tuples(number, size), max_size=40))
    body = (f'{{"e":"depthUpdate","E":1723161255708,"s":"XUSDT","U":11,"u":12,'
            f'"b":{_joined(bids, seps, inner)},"a":{_joined(asks, seps, inner)}}}')
    if wrapped:
        body = f'{{"stream":"xusdt@depth@100ms","data":{body}}}'
    frame = body.encode()
    assert orjson.loads(frame)                  # the test's frame is JSON
    _fused_three_ways(frame, grid, bids, asks)


def test_scan_sync_when_diff_is_another_books_stages_nothing_there_and_on_depth_applies_it():
    """The fused staging is for the hinted book only: a frame routed elsewhere (another
    symbol) is applied to its own book from the spans, on that book's grid."""
    sync, book = _synced()
    other = L2Book("0.5", "0.001")
    other_sync = DepthSync()
    other_sync.start(other, 11)
    before = book_state(book)
    sc = DepthScanner()
    frame = frame_of([("100.50", "2.000")], [("101.00000000", "0.0010")])
    assert sc.scan_sync(frame, sync, b"YUSDT", 7) == sc.routed + DEPTH
    assert other_sync.on_depth(sc, 7) == APPLIED
    assert book_state(book) == before
    assert other.best_bid() == (100.5, 2.0) and other.best_ask() == (101.0, 0.001)


def _check_recorded_fused(frames: list[bytes]) -> None:
    """Every recorded diff through scan_sync (the sync told it is the next one) gives the book
    that staging the same levels from their text gives."""
    assert frames
    sc, plain = DepthScanner(), DepthScanner()
    d = orjson.loads(frames[0])["data"]
    from tradecore.venues.base import grid_of
    tick, lot = grid_of([p for p, _ in d["b"] + d["a"]], [q for _, q in d["b"] + d["a"]])
    fused, text = L2Book(tick, lot), L2Book(tick, lot)
    sync = DepthSync()
    sync.start(fused, 0)
    symbol = d["s"].encode()
    for frame in frames:
        assert plain.scan(frame) == DEPTH
        futures = plain.prev_last_id >= 0
        sync.first, sync.last_u = True, plain.first_id - (0 if futures else 1)
        assert sc.scan_sync(frame, sync, symbol, 1) == APPLIED, sc.error
        assert plain.apply_text_to(text) == 0
        assert fused.top_ticks() == text.top_ticks()
    assert book_state(fused) == book_state(text)


def test_scan_sync_when_replaying_bundled_spot_depth_frames_agrees_with_text_path():
    _check_recorded_fused(_hbt_frames(sample_file("hbt_spot_btcusdt_20240808.gz")))


def test_scan_sync_when_replaying_shared_usdm_depth_frames_agrees_with_text_path():
    _check_recorded_fused(_hbt_frames(shared_file("binance/hbt_usdm_btcusdt_20240808.gz")))


# -- the whole-level reader (tc_level_sse2) against the two number reads it stands in for ----

def _number_text(draw_int: int, k: int, kf: int) -> str:
    digits = str(draw_int).rjust(k + kf, "0")[-(k + kf):]
    return digits[:k] + ("." + digits[k:] if kf else "")


level_numbers = st.one_of(
    st.builds(_number_text, st.integers(0, 10**16), st.integers(1, 8), st.integers(0, 9)),
    st.builds(lambda a, b: f"{a}.{b}", st.integers(0, 10**7), st.integers(0, 10**8)),
    st.sampled_from(["0.00000000", "0.0", "1.", ".5", "1e3", "-1.5", "", "12345678.1",
                     "1.123456789", "0.10000000", "9999999.99999999"]),
)


def _level_frame(p: str, q: str, tail: str) -> bytes:
    return f'["{p}","{q}"]{tail}'.encode().ljust(48, b" ")


@settings(max_examples=3000, deadline=None)
@given(p=level_numbers, q=level_numbers, p_e=st.integers(0, 8), s_e=st.integers(0, 8),
       p_max=st.integers(1, 10), s_max=st.integers(1, 10),
       tail=st.sampled_from([",[", "]", ",", " ", "", ',["1.0","2.0"]']))
def test_whole_level_reader_when_given_any_level_takes_a_subset_with_the_same_values(
        p, q, p_e, s_e, p_max, s_max, tail):
    from tradecore._fast.jsonscan import _level_both
    frame = _level_frame(p, q, tail)
    sse, scalar = _level_both(frame, 0, p_e, p_max, s_e, s_max)
    if sse is not None:
        assert sse == scalar
    # it declines only what the number reads decline, or a level longer than its 32 bytes
    if scalar is not None:
        assert (sse is not None) == (scalar[3] + 1 <= 31)


def test_whole_level_reader_when_levels_are_binance_shaped_takes_them():
    from tradecore._fast.jsonscan import _level_both
    spot = _level_frame("61234.56000000", "0.01234000", ",[")
    assert _level_both(spot, 0, 2, 16, 5, 10) == ((6123456, 1234, 16, 29), (6123456, 1234, 16, 29))
    usdm = _level_frame("61234.50", "12.345", "]")
    assert _level_both(usdm, 0, 1, 17, 3, 15) == ((612345, 12345, 10, 19), (612345, 12345, 10, 19))
    # 32 bytes exactly: still taken; one more and the number reads take it alone
    edge = _level_frame("161234.56000000", "0.01234000", "")
    assert _level_both(edge, 0, 2, 16, 5, 10)[0] == (16123456, 1234, 17, 30)
    longer = _level_frame("161234.56000000", "10.01234000", "")
    sse, scalar = _level_both(longer, 0, 2, 16, 5, 10)
    assert sse is None and scalar == (16123456, 1001234, 17, 31)


def test_whole_level_reader_when_frame_is_short_or_not_a_level_raises_and_says_why():
    from tradecore._fast.jsonscan import _level_both
    with pytest.raises(ValueError, match="40 bytes"):
        _level_both(b'["1.0","2.0"]', 0, 2, 7, 3, 7)
    with pytest.raises(ValueError, match="decimals"):
        _level_both(_level_frame("1.0", "2.0", ""), 0, 9, 7, 3, 7)


def test_frame_path_when_built_reserves_room_so_the_largest_recorded_diffs_do_not_grow_it():
    """The scanner of a FramePath, and every book a DepthSync starts, have room for a
    RESERVE_FRAME_BYTES frame from the start: replaying the bundled frames (the largest
    34.5 KB) grows neither on the path. Reserving changes no result."""
    from tradecore._fast.jsonscan import FramePath
    sc = DepthScanner()
    FramePath(sc, lambda *a: None, lambda *a: None)
    room = sc.reserve(0)
    assert room >= 65536 // 9
    book = L2Book(tick_size=0.01, lot_size=0.00001, window=1 << 16)
    sync = DepthSync()
    sync.start(book, 0)
    stage_room = book.stage_reserve(0)
    assert stage_room >= 65536 // 9
    big = b'{"e":"depthUpdate","E":1,"s":"BTCUSDT","U":1,"u":2,"b":[' + b",".join(
        b'["%d.00","1.00000"]' % (60000 - i) for i in range(2000)) + b'],"a":[]}'
    assert len(big) > 34_000
    assert sc.scan(big) == 1 and sc.level_count == 2000
    assert sc.apply_to(book) == 0 and book.bid_count == 2000
    assert sc.reserve(0) == room and book.stage_reserve(0) == stage_room
    with pytest.raises(ValueError, match="frame_bytes -1"):
        sc.reserve(-1)
