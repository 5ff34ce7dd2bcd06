"""The consolidated multi-venue book: symbol mapping, best across venues kept incrementally
(checked against a brute-force recomputation after every update of real recordings), the
fee-adjusted merged ladder, the cross-venue spread, and exclusion of invalid books."""
from __future__ import annotations

import heapq
import itertools
from decimal import ROUND_FLOOR, Decimal

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from datafiles import sample_file
from tradecore.book import L2Book
from tradecore.book.consolidated import (CROSSED, INVALID, ConsolidatedBook, ConsolidatedBooks,
                                         SymbolMap, canonical_symbol)
from tradecore.data.capture import REST, WS, read_capture
from tradecore.verify import normalizer_for

BINANCE = "hbt_spot_btcusdt_20240808.gz"
COINBASE = "cf_coinbase_advanced_20260809_btc_eth.jsonl.gz"
OKX = "cf_okx_20220513_books_3inst.jsonl"

_records: dict[str, list] = {}


def records(name: str) -> list:
    if name not in _records:
        _records[name] = list(read_capture(sample_file(name)))
    return _records[name]


# -- brute force ----------------------------------------------------------------------------

def exact_price(book: L2Book, ticks: int) -> Decimal:
    """The exact decimal price of a tick, from the book's own grid text (independent of the
    consolidated book's integer scaling)."""
    return Decimal(book._tick_text()) * ticks


def brute_best(books: dict[str, L2Book]) -> tuple[dict, dict]:
    """{venue: exact best bid} and {venue: exact best ask} of the venues that count: valid,
    not crossed."""
    bids, asks = {}, {}
    for venue, book in books.items():
        if not book.valid or book.is_crossed():
            continue
        b, a = book.best_ticks(0), book.best_ticks(1)
        if b is not None:
            bids[venue] = exact_price(book, b[0])
        if a is not None:
            asks[venue] = exact_price(book, a[0])
    return bids, asks


def assert_best_matches(cb: ConsolidatedBook, books: dict[str, L2Book]) -> tuple:
    bids, asks = brute_best(books)
    got = []
    for side, tops, pick in ((0, bids, max), (1, asks, min)):
        k = cb.best_key(side)
        if not tops:
            assert k is None
            got.append(None)
            continue
        venue, key = k
        want = pick(tops.values())
        assert Decimal(key).scaleb(-18) == want, (side, venue, key, tops)
        assert tops[venue] == want             # the named venue really quotes that price
        got.append(venue)
    return tuple(got)


def brute_ladder(books: dict[str, L2Book], side: int, n: int, fees: dict | None) -> list:
    rows = []
    for order, (venue, book) in enumerate(books.items()):
        if not book.valid or book.is_crossed():
            continue
        bps = 0.0 if fees is None else fees[venue]
        mult = (1 - bps / 10000) if side == 0 else (1 + bps / 10000)
        prices = book.depth(1 << 30)[side]
        ticks = book.depth_ticks(side, 1 << 30)
        for (p, q), (t, _) in zip(prices.tolist(), ticks.tolist()):
            exact = exact_price(book, t)
            adj = p * mult
            rows.append(((-adj, -exact, order) if side == 0 else (adj, exact, order),
                         (adj, q, venue, p)))
    return [r[1] for r in heapq.nsmallest(n, rows, key=lambda r: r[0])]


def brute_spread(books: dict[str, L2Book], fees: dict | None):
    best = None
    for a, b in itertools.permutations(books, 2):      # sell on a, buy on b
        ba, bb = books[a], books[b]
        if not ba.valid or not bb.valid or ba.is_crossed() or bb.is_crossed():
            continue
        bid, ask = ba.best_bid(), bb.best_ask()
        if bid is None or ask is None:
            continue
        fa = 0.0 if fees is None else fees[a]
        fb = 0.0 if fees is None else fees[b]
        edge = bid[0] * (1 - fa / 10000) - ask[0] * (1 + fb / 10000)
        if best is None or edge > best[0]:
            best = (edge, a, b)
    return best


# -- replay ---------------------------------------------------------------------------------

def interleave(streams, aligned: bool = True):
    """Merge (venue, records) streams by receive time; aligned: by time since each stream's
    first record (the recordings are of different days; this only orders them plausibly)."""
    def tagged(venue, recs):
        t0 = recs[0].ts_ns if aligned else 0
        for i, r in enumerate(recs):
            yield r.ts_ns - t0, venue, i, r
    return heapq.merge(*(tagged(v, r) for v, r in streams))


def replay_consolidated(streams, symbols: SymbolMap, canonical: str, check_every: int = 1,
                        skip=None, aligned: bool = True):
    """Replay real recordings through their normalizers into a ConsolidatedBooks; after
    every update of `canonical` compare the best across venues with brute force. Returns the
    view, the live books per venue, the normalizers and the (bid venue, ask venue) seen."""
    view = ConsolidatedBooks(symbols)
    live: dict[str, L2Book] = {}
    seen: list[tuple] = []
    norms = {}
    count = itertools.count()

    for venue, _ in streams:
        norm = normalizer_for(venue.split("#")[0])

        def on_book(key, book, venue=venue, base=view.on_book_for(venue)):
            base(key, book)
            if symbols.canonical(venue, key[1]) != canonical:
                return
            live[venue] = book
            if next(count) % check_every == 0:
                seen.append(assert_best_matches(view[canonical], live))
        norm.on_book = on_book
        norms[venue] = norm

    for _, venue, i, rec in interleave(streams, aligned):
        if skip is not None and skip(venue, i, rec):
            continue
        norm = norms[venue]
        if rec.kind == WS:
            norm.on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            norm.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    return view, live, norms, seen


def coinbase_binance():
    # BTC-USD and BTCUSDT are different instruments (and these recordings are two years
    # apart): mapped together here only to prove the mechanics on real books.
    symbols = SymbolMap({("coinbase", "BTC-USD"): "BTC/USDT"})
    streams = [("binance", records(BINANCE)), ("coinbase", records(COINBASE))]
    return streams, symbols


# -- symbols --------------------------------------------------------------------------------

@pytest.mark.parametrize("venue, symbol, want", [
    ("binance", "BTCUSDT", "BTC/USDT"),
    ("binance", "btcusdt", "BTC/USDT"),
    ("binance", "BTCFDUSD", "BTC/FDUSD"),
    ("binance", "XRPBUSD", "XRP/BUSD"),
    ("binance", "BTCTUSD", "BTC/TUSD"),
    ("binance", "USDCUSDT", "USDC/USDT"),
    ("binance", "ETHBTC", "ETH/BTC"),
    ("binance", "LRCBTC", "LRC/BTC"),
    ("binance", "BLZETH", "BLZ/ETH"),
    ("binance", "RUNEEUR", "RUNE/EUR"),
    ("binance", "NKNUSDT", "NKN/USDT"),
    ("binance", "DOGEBTC", "DOGE/BTC"),
    ("binance_usdm", "BTCUSDT", "BTC/USDT:USDT"),
    ("binance", "BTCUSDT_240329", "BTC/USDT:USDT-240329"),
    ("binance", "BTCUSD_PERP", "BTC/USD:BTC"),
    ("binance_coinm", "BTCUSD_240329", "BTC/USD:BTC-240329"),
    ("kraken", "XBT/USDT", "BTC/USDT"),
    ("kraken", "XBT/CHF", "BTC/CHF"),
    ("kraken", "XDG/USD", "DOGE/USD"),
    ("kraken", "ADA/XBT", "ADA/BTC"),
    ("kraken", "ETH/CHF", "ETH/CHF"),
    ("kraken", "XXBTZUSD", "BTC/USD"),
    ("kraken", "XETHZEUR", "ETH/EUR"),
    ("kraken", "XBTUSDT", "BTC/USDT"),
    ("kraken", "BTC/USD", "BTC/USD"),              # WebSocket v2 uses the common tickers
    ("okx", "BTC-USDT", "BTC/USDT"),
    ("okx", "BTC-USDT-SWAP", "BTC/USDT:USDT"),
    ("okx", "UNI-USD-SWAP", "UNI/USD:UNI"),
    ("okx", "BTC-USD-220527", "BTC/USD:BTC-220527"),
    ("okx", "BTC-USD-220325-40000-C", "BTC/USD:BTC-220325-40000-C"),
    ("coinbase", "BTC-USD", "BTC/USD"),
    ("coinbase", "BTC-USDT", "BTC/USDT"),
    ("coinbase", "DASH-BTC", "DASH/BTC"),
    ("bitstamp", "btc/usd", "BTC/USD"),
])
def test_canonical_symbol_maps_when_venue_conventions_differ(venue, symbol, want):
    assert canonical_symbol(venue, symbol) == want


@pytest.mark.parametrize("venue, symbol", [
    ("binance", "BTCXYZ"), ("binance", "USDT"), ("binance", "BTCUSDT_NEXT"),
    ("okx", "BTC"), ("okx", "BTC-USD-WEEKLY"), ("coinbase", "BTC-PERP-INTX"),
    ("kraken", "PI_XBTUSD"), ("somewhere", "BTCUSD"), ("binance", ""),
])
def test_canonical_symbol_raises_when_symbol_cannot_be_read(venue, symbol):
    with pytest.raises(ValueError):
        canonical_symbol(venue, symbol)


def test_symbol_map_uses_entry_when_metadata_overrides_rule():
    m = SymbolMap({("binance", "BTCUSDT"): "BTC/USDT:USDT"})
    assert m.canonical("binance", "BTCUSDT") == "BTC/USDT:USDT"
    assert m.canonical("kraken", "XBT/USDT") == "BTC/USDT"
    m.add("kraken", "XBT/USDT", "X")
    assert m.canonical("kraken", "XBT/USDT") == "X"


def test_unmapped_symbol_is_counted_when_no_rule_reads_it():
    view = ConsolidatedBooks()
    book = synthetic_book("0.01", [(100, 1)], [(101, 1)])
    assert view.update("binance", "NOTAPAIR", book) is None
    assert view.unmapped[("binance", "NOTAPAIR")] == 1
    assert view.books == {}


# -- real recordings ------------------------------------------------------------------------

def test_best_across_venues_matches_brute_force_when_replaying_coinbase_and_binance():
    streams, symbols = coinbase_binance()
    view, live, norms, seen = replay_consolidated(streams, symbols, "BTC/USDT")
    cb = view["BTC/USDT"]
    assert set(cb.venues) == {"binance", "coinbase"}
    assert len(seen) == 3448 + 1 + 400      # Binance diffs + its snapshot sync + Coinbase
    # Coinbase's 2026 BTC (~65k) bids above Binance's 2024 asks (~61.8k): each venue holds
    # one side, which proves both are in the view (and makes a huge, fake, "arbitrage")
    assert {b for b, _ in seen} | {a for _, a in seen} == {"binance", "coinbase"}
    assert seen[-1] == ("coinbase", "binance")
    spread = cb.cross_venue_spread()
    assert (spread.sell_venue, spread.buy_venue) == ("coinbase", "binance")
    assert spread.edge > 0
    assert "ETH/USD" in view.books                  # the other Coinbase product has its own
    assert cb.excluded() == {}


def test_best_switches_venue_when_one_recording_is_replayed_as_two_lagged_venues():
    # The same real Binance stream as two "venues", one 1.5 s behind: real prices that move,
    # so the best bid and ask change hands and tie often (same grid: the exact tick path).
    recs = records(BINANCE)
    lagged = [type(r)(r.ts_ns + 1_500_000_000, r.kind, r.conn, r.payload, r.src, r.line)
              for r in recs]
    symbols = SymbolMap({("binance#lag", "BTCUSDT"): "BTC/USDT"})
    streams = [("binance", recs), ("binance#lag", lagged)]

    view, live, norms, seen = replay_consolidated(streams, symbols, "BTC/USDT",
                                                  aligned=False)
    bid_switches = sum(1 for x, y in zip(seen, seen[1:]) if x[0] != y[0])
    ask_switches = sum(1 for x, y in zip(seen, seen[1:]) if x[1] != y[1])
    assert len(seen) == 2 * (3448 + 1)      # every applied diff, and the snapshot sync
    assert bid_switches > 50 and ask_switches > 50, (bid_switches, ask_switches)   # 108, 80
    cb = view["BTC/USDT"]
    fees = {"binance": 10.0, "binance#lag": 7.5}
    for f in (None, fees):
        want = brute_spread(live, f)
        got = cb.cross_venue_spread(f)
        assert (got.sell_venue, got.buy_venue) == want[1:]
        assert got.edge == pytest.approx(want[0], rel=1e-12, abs=1e-9)


def test_best_across_venues_matches_brute_force_when_binance_and_okx_both_quote_btc_usdt():
    # no symbol entries: "BTCUSDT" and "BTC-USDT" meet under BTC/USDT by the venues' rules
    streams = [("binance", records(BINANCE)), ("okx", records(OKX))]
    view, live, norms, seen = replay_consolidated(streams, SymbolMap(), "BTC/USDT")
    assert set(view["BTC/USDT"].venues) == {"binance", "okx"}
    assert {b for b, _ in seen} | {a for _, a in seen} == {"binance", "okx"}
    assert {"BTC/USD:BTC-220527", "UNI/USD:UNI"} <= set(view.books)


@pytest.fixture(scope="module")
def replayed_coinbase_binance():
    streams, symbols = coinbase_binance()
    view, live, _, _ = replay_consolidated(streams, symbols, "BTC/USDT", check_every=50)
    return view["BTC/USDT"], live


def test_ladder_matches_brute_force_when_fees_differ_by_venue(replayed_coinbase_binance):
    cb, live = replayed_coinbase_binance
    for fees in (None, {"binance": 10.0, "coinbase": 60.0}, {"binance": 0.0, "coinbase": 0.0}):
        for side in (0, 1):
            full = brute_ladder(live, side, 1 << 30, fees)      # every level of both books
            for n in (1, 5, 37, 400, 1 << 20):
                got = cb.ladder(side, n, fees)
                want = full[:n]
                assert len(got) == min(n, len(full))
                assert [(g.venue, g.raw_price, g.size) for g in got] == \
                       [(w[2], w[3], w[1]) for w in want]
                assert [g.price for g in got] == pytest.approx([w[0] for w in want], rel=1e-15)
                prices = [g.price for g in got]
                assert prices == sorted(prices, reverse=(side == 0))
    # the whole books merged: both venues' levels, interleaved where their prices overlap
    whole = cb.ladder(0, 1 << 20)
    assert len(whole) == live["binance"].bid_count + live["coinbase"].bid_count
    venues = [lv.venue for lv in whole]
    assert venues[0] == "coinbase" and venues[-1] == "coinbase" and "binance" in venues


def test_ladder_orders_by_adjusted_price_when_fees_reorder_venues():
    a = synthetic_book("0.01", [(10000, 100)], [(10010, 100)])    # bid 100.00, ask 100.10
    b = synthetic_book("0.1", [(999, 5)], [(1002, 5)])            # bid 99.9, ask 100.2
    cb = ConsolidatedBook("X/Y")
    cb.update("a", a)
    cb.update("b", b)
    assert [lv.venue for lv in cb.ladder(1, 2)] == ["a", "b"]
    fees = {"a": 20.0, "b": 0.0}     # a's ask costs 100.10 * 1.002 = 100.3002 > 100.2
    lad = cb.ladder(1, 2, fees)
    assert [lv.venue for lv in lad] == ["b", "a"]
    assert lad[1].price == pytest.approx(100.3002) and lad[1].raw_price == 100.1
    assert [lv.venue for lv in cb.ladder(0, 2, fees)] == ["b", "a"]   # 99.8 < 99.9
    with pytest.raises(ValueError, match="no taker fee for venue 'b'"):
        cb.ladder(0, 2, {"a": 1.0})


def test_exclude_venue_when_a_real_gap_invalidates_its_book():
    # drop one real Binance depth diff: the normalizer sees the gap and marks the book
    # invalid without calling on_book; the view must notice on its next read
    streams, symbols = coinbase_binance()
    dropped = []

    def skip(venue, i, rec):
        if venue == "binance" and b"depthUpdate" in rec.payload[:80] and i > 20000 \
                and not dropped:
            dropped.append(i)
            return True
        return False
    # compare only up to the gap (brute force sees the invalid book as excluded too)
    view, live, norms, seen = replay_consolidated(streams, symbols, "BTC/USDT", skip=skip)
    assert norms["binance"].stats.gaps == 1
    assert not live["binance"].valid
    cb = view["BTC/USDT"]
    assert cb.best_ask().venue == "coinbase"
    assert cb.best_bid().venue == "coinbase"
    assert cb.excluded() == {"binance": INVALID}
    assert cb.view()["venues"]["binance"]["excluded"] == INVALID
    assert cb.cross_venue_spread() is None           # one venue left
    assert all(lv.venue == "coinbase" for lv in cb.ladder(1, 50))
    assert_best_matches(cb, live)


def test_exclude_venue_when_its_book_is_marked_invalid_and_updated():
    a = synthetic_book("0.01", [(10000, 1)], [(10010, 1)])
    b = synthetic_book("0.01", [(9990, 1)], [(10020, 1)])
    cb = ConsolidatedBook("X/Y")
    cb.update("a", a)
    cb.update("b", b)
    assert cb.best_bid().venue == "a"
    a.valid = False
    assert cb.update("a", a) is True
    assert cb.best_bid() == ("b", 99.9, 1e-8)
    assert cb.view()["excluded"] == {"a": INVALID}
    a.valid = True
    cb.update("a", a)
    assert cb.best_bid().venue == "a" and cb.excluded() == {}


def test_exclude_venue_when_its_own_book_is_crossed():
    a = synthetic_book("0.01", [(10030, 1)], [(10010, 1)])        # bid 100.30 >= ask 100.10
    b = synthetic_book("0.01", [(9990, 1)], [(10020, 1)])
    cb = ConsolidatedBook("X/Y")
    cb.update("a", a)
    cb.update("b", b)
    assert cb.excluded() == {"a": CROSSED}
    assert cb.best_bid().venue == "b" and cb.best_ask().venue == "b"


def test_suspend_excludes_venue_when_told_until_resumed():
    a = synthetic_book("0.01", [(10000, 1)], [(10010, 1)])
    b = synthetic_book("0.01", [(9990, 1)], [(10020, 1)])
    cb = ConsolidatedBook("X/Y")
    cb.update("a", a)
    cb.update("b", b)
    cb.suspend("a", "stale")
    assert cb.best_bid().venue == "b" and cb.excluded() == {"a": "stale"}
    a.apply_ticks(0, 10005, 1)
    cb.update("a", a)                                             # still suspended
    assert cb.best_bid().venue == "b"
    cb.resume("a")
    assert cb.best_bid() == ("a", 100.05, 1e-8) and cb.excluded() == {}


def test_update_reports_change_when_best_moves_only():
    a = synthetic_book("0.01", [(10000, 1)], [(10010, 1)])
    b = synthetic_book("0.01", [(9990, 1)], [(10020, 1)])
    cb = ConsolidatedBook("X/Y")
    assert cb.update("a", a) is True
    assert cb.update("b", b) is False               # b is behind on both sides
    b.apply_ticks(1, 10015, 1)
    assert cb.update("b", b) is False
    b.apply_ticks(1, 10005, 1)
    assert cb.update("b", b) is True
    assert cb.best_ask() == ("b", 100.05, 1e-8)
    a.apply_ticks(0, 10000, 2)                      # size at the best changes
    assert cb.update("a", a) is True


def test_equal_prices_compare_exactly_when_grids_differ():
    # 100.1 on a 0.1 grid, 100.10 on 0.01, 100.100 on 0.005: one price, three grids
    books = {"p1": synthetic_book("0.1", [(1001, 1)], [(1003, 1)]),
             "p2": synthetic_book("0.01", [(10010, 1)], [(10025, 1)]),
             "p3": synthetic_book("0.005", [(20020, 1)], [(20049, 1)])}
    cb = ConsolidatedBook("X/Y")
    for v, b in books.items():
        cb.update(v, b)
    assert cb.best_key(0) == ("p1", 100_100_000_000_000_000_000)   # tie: first keeps it
    assert cb.best_key(1) == ("p3", 100_245_000_000_000_000_000)
    books["p1"].apply_ticks(0, 1001, 0)
    books["p1"].apply_ticks(0, 1000, 1)
    cb.update("p1", books["p1"])
    assert cb.best_key(0) == ("p2", 100_100_000_000_000_000_000)   # re-scan: first in order


# -- random updates, random grids -----------------------------------------------------------

GRIDS = ["0.01", "0.5", "0.001", "1", "0.25"]          # each venue's tick

op = st.tuples(
    st.integers(0, len(GRIDS) - 1),                     # venue
    st.sampled_from(["level"] * 14 + ["clear_side", "invalid", "valid", "valid",
                                      "invalid_quiet", "suspend", "resume", "crossed"]),
    st.integers(0, 1),                                  # side
    st.integers(0, 4),                                  # distance from the touch, x 0.25
    st.sampled_from([0, 0, 1, 2, 3]),                   # lots (0 removes)
)


@settings(max_examples=70, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, min_size=40, max_size=100),
       st.lists(st.floats(0, 50), min_size=len(GRIDS), max_size=len(GRIDS)))
def test_incremental_best_matches_brute_force_when_updates_are_random(ops, fee_list):
    books = {f"v{i}": L2Book(t, "1") for i, t in enumerate(GRIDS)}
    fees = {f"v{i}": f for i, f in enumerate(fee_list)}
    suspended: set[str] = set()
    cb = ConsolidatedBook("X/Y")
    for v, b in books.items():
        cb.update(v, b)
    for vi, kind, side, off, lots in ops:
        v = f"v{vi}"
        book = books[v]
        tick = GRIDS[vi]
        if kind in ("level", "crossed"):
            # bids at or below 100, asks at or above 100.25, so books mostly stay uncrossed
            # and venues overlap; "crossed" puts a bid among the asks. Floored onto the grid.
            if kind == "crossed":
                side = 0
            x4 = (400 - off if side == 0 else 401 + off) + (4 if kind == "crossed" else 0)
            price = Decimal(x4) / 4
            ticks = int((price / Decimal(tick)).to_integral_value(rounding=ROUND_FLOOR))
            book.apply_ticks(side, ticks, lots)
        elif kind == "clear_side":
            for t, _ in book.depth_ticks(side, 100).tolist():
                book.apply_ticks(side, t, 0)
        elif kind in ("invalid", "invalid_quiet"):
            book.valid = False
        elif kind == "valid":
            book.valid = True
        elif kind == "suspend":
            cb.suspend(v, "test")
            suspended.add(v)
            continue
        elif kind == "resume":
            cb.resume(v)
            suspended.discard(v)
            continue
        if kind != "invalid_quiet":          # a normalizer invalidates without on_book
            cb.update(v, book)
        counted = {k: b for k, b in books.items() if k not in suspended}
        assert_best_matches(cb, counted)
        want = brute_spread(counted, fees)
        got = cb.cross_venue_spread(fees)
        if want is None:
            assert got is None
        else:
            assert got.edge == pytest.approx(want[0], rel=1e-12, abs=1e-9)
        for s in (0, 1):
            assert [(lv.venue, lv.raw_price) for lv in cb.ladder(s, 6, fees)] == \
                   [(w[2], w[3]) for w in brute_ladder(counted, s, 6, fees)]


# -- helpers --------------------------------------------------------------------------------

def synthetic_book(tick: str, bids, asks, lot: str = "0.00000001") -> L2Book:
    b = L2Book(tick, lot)
    for t, q in bids:
        b.apply_ticks(0, t, q)
    for t, q in asks:
        b.apply_ticks(1, t, q)
    b.valid = True
    return b


def test_use_configured_fees_when_called_without_fees():
    view = ConsolidatedBooks(fees_bps={"binance": 10.0, "okx": 8.0})
    view.update("binance", "BTCUSDT", synthetic_book("0.01", [(10000, 1)], [(10010, 1)]))
    view.update("okx", "BTC-USDT", synthetic_book("0.1", [(1002, 1)], [(1003, 1)]))
    cb = view["BTC/USDT"]
    s = cb.cross_venue_spread()                   # sell on okx at 100.2, buy binance 100.1
    assert (s.sell_venue, s.buy_venue) == ("okx", "binance")
    assert s.bid_adj == pytest.approx(100.2 * (1 - 8e-4))
    assert s.ask_adj == pytest.approx(100.1 * (1 + 10e-4))
    assert s.edge == pytest.approx(100.2 * 0.9992 - 100.1 * 1.001) and s.edge < 0
    raw = cb.cross_venue_spread({"binance": 0.0, "okx": 0.0})
    assert raw.edge == pytest.approx(0.1) and raw.edge_bps == pytest.approx(0.1 / 100.1 * 1e4)
    assert cb.ladder(1, 1)[0].price == pytest.approx(100.1 * 1.001)
