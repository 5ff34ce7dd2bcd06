"""The data-quality monitor: crossed books, staleness on a fake clock, outliers against the
median of venues, FeedStats gaps and resyncs, and clock skew measured on the real recordings'
exchange vs local receive timestamps."""
from __future__ import annotations

from datetime import datetime, timezone

import orjson
import pytest

from datafiles import sample_file
from tradecore.book import L2Book
from tradecore.book.consolidated import ConsolidatedBooks
from tradecore.data.capture import REST, WS, read_capture
from tradecore.data.quality import (ALL, CHECKSUM_FAILURE, CROSSED, FRESH, GAP, OUTLIER,
                                    OUTLIER_CLEARED, RESYNC, SKEW_HIGH, SKEW_NEGATIVE, SKEW_OK,
                                    STALE, UNCROSSED, QualityConfig, QualityEvent,
                                    QualityMonitor, suspend_on_events)
from tradecore.venues.base import FeedStats
from tradecore.verify import normalizer_for

S = 1_000_000_000
MS = 1_000_000
T0 = 1_700_000_000 * S


class FakeClock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def book(bid: str | None, ask: str | None, tick: str = "0.01") -> L2Book:
    b = L2Book(tick, "0.0001")
    if bid is not None:
        b.apply_levels(0, [(bid, "1")])
    if ask is not None:
        b.apply_levels(1, [(ask, "1")])
    return b


def monitor(**cfg) -> tuple[QualityMonitor, list[QualityEvent], FakeClock]:
    clock = FakeClock()
    m = QualityMonitor(QualityConfig(**cfg), clock=clock)
    events: list[QualityEvent] = []
    m.subscribe(events.append)
    return m, events, clock


def kinds(events):
    return [(e.venue, e.symbol, e.kind) for e in events]


# -- crossed books --------------------------------------------------------------------------

def test_emit_crossed_once_when_a_book_crosses_and_uncrossed_when_it_recovers():
    m, events, _ = monitor()
    b = book("100.00", "100.10")
    m.on_book("kraken", ("ws", "XBT/USD"), b, T0)
    assert events == []
    b.apply_levels(0, [("100.20", "1")])             # bid 100.20 >= ask 100.10: crossed pair
    assert b.is_crossed()
    m.on_book("kraken", ("ws", "XBT/USD"), b, T0 + 1)
    m.on_book("kraken", ("ws", "XBT/USD"), b, T0 + 2)
    assert kinds(events) == [("kraken", "XBT/USD", CROSSED)]
    assert events[0].conn == "ws" and events[0].ts == T0 + 1
    assert "100.2" in events[0].detail
    b.apply_levels(0, [("100.20", "0")])
    m.on_book("kraken", ("ws", "XBT/USD"), b, T0 + 3)
    assert kinds(events)[-1] == ("kraken", "XBT/USD", UNCROSSED)
    c = m.counters["kraken"]
    assert (c.crossed, c.crossed_updates, c.book_updates) == (1, 2, 4)


def test_emit_crossed_when_bid_equals_ask():
    m, events, _ = monitor()
    m.on_book("okx", ("ws", "BTC-USDT"), book("100.00", "100.00"), T0)
    assert kinds(events) == [("okx", "BTC-USDT", CROSSED)]


# -- staleness ------------------------------------------------------------------------------

def test_emit_stale_when_fake_clock_passes_the_book_limit_and_fresh_on_next_update():
    m, events, clock = monitor(stale_book_s=2.0, stale_conn_s=5.0)
    b = book("100.00", "100.10")
    m.on_book("binance", ("ws", "BTCUSDT"), b, T0)
    m.on_book("binance", ("ws", "ETHUSDT"), b, T0 + 1 * S)
    m.tick(T0 + 2 * S)                               # exactly at the limit: not yet
    assert events == []
    m.tick(T0 + 2 * S + 1)
    assert kinds(events) == [("binance", "BTCUSDT", STALE)]
    assert m.is_stale("binance", "ws", "BTCUSDT") and not m.is_stale("binance", "ws", "ETHUSDT")
    m.tick(T0 + 2 * S + 2)                           # no repeat while still stale
    assert len(events) == 1
    clock.now = T0 + 3 * S + 1
    m.tick()                                         # the injected clock
    assert kinds(events)[-1] == ("binance", "ETHUSDT", STALE)
    m.on_book("binance", ("ws", "BTCUSDT"), b, T0 + 4 * S)
    assert kinds(events)[-1] == ("binance", "BTCUSDT", FRESH)
    assert "4.000 s" in events[-1].detail
    m.tick(T0 + 9 * S + 1)                           # connection silent for more than 5 s
    assert ("binance", ALL, STALE) in kinds(events)
    assert m.counters["binance"].stale_books == 3 and m.counters["binance"].stale_conns == 1


def test_use_override_when_book_or_connection_has_its_own_limit():
    m, events, _ = monitor(stale_book_s=60.0, stale_conn_s=60.0,
                           stale_book_overrides={("binance", "BTCUSDT"): 1.0,
                                                 ("binance", "ws2", "ETHUSDT"): 3.0},
                           stale_conn_overrides={("binance", "ws2"): 2.0})
    b = book("1.00", "1.01")
    for key in (("ws", "BTCUSDT"), ("ws", "ETHUSDT"), ("ws2", "ETHUSDT")):
        m.on_book("binance", key, b, T0)
    m.tick(T0 + int(2.5 * S))
    assert sorted((e.symbol, e.conn) for e in events) == [("*", "ws2"), ("BTCUSDT", "ws")]
    m.tick(T0 + int(3.5 * S))
    assert ("ETHUSDT", "ws2") in [(e.symbol, e.conn) for e in events]
    assert ("ETHUSDT", "ws") not in [(e.symbol, e.conn) for e in events]


def test_emit_stale_when_an_expected_book_never_arrives():
    m, events, clock = monitor(stale_book_s=5.0, stale_conn_s=30.0)
    m.expect("coinbase", "ws", "BTC-USD")
    clock.now += 5 * S + 1
    m.tick()
    assert kinds(events) == [("coinbase", "BTC-USD", STALE)]


# -- outliers -------------------------------------------------------------------------------

def test_flag_outlier_when_one_venue_mid_deviates_from_the_median():
    m, events, _ = monitor(outlier_bps=50.0)
    books = {"binance": ("BTCUSDT", book("100.00", "100.02")),
             "okx": ("BTC-USDT", book("100.01", "100.03")),
             "kraken": ("XBT/USDT", book("100.02", "100.04"))}
    for venue, (sym, b) in books.items():
        m.on_book(venue, ("ws", sym), b, T0)
    assert events == []
    bad = books["kraken"][1]
    bad.apply_levels(1, [("100.04", "0"), ("101.00", "1")])
    bad.apply_levels(0, [("100.02", "0"), ("100.98", "1")])          # mid 100.99: ~97 bps
    m.on_book("kraken", ("ws", "XBT/USDT"), bad, T0 + 1)
    assert kinds(events) == [("kraken", "XBT/USDT", OUTLIER)]        # only the bad one
    assert "bps from the median" in events[0].detail
    m.on_book("okx", ("ws", "BTC-USDT"), books["okx"][1], T0 + 2)    # still out: no repeat
    assert len(events) == 1
    bad.apply_levels(1, [("101.00", "0"), ("100.05", "1")])
    bad.apply_levels(0, [("100.98", "0"), ("100.03", "1")])
    m.on_book("kraken", ("ws", "XBT/USDT"), bad, T0 + 3)
    assert kinds(events)[-1] == ("kraken", "XBT/USDT", OUTLIER_CLEARED)
    assert m.counters["kraken"].outliers == 1 and m.counters["okx"].outliers == 0


def test_flag_nobody_when_only_two_venues_disagree():
    m, events, _ = monitor(outlier_bps=10.0)
    m.on_book("binance", ("ws", "BTCUSDT"), book("100.00", "100.02"), T0)
    m.on_book("okx", ("ws", "BTC-USDT"), book("110.00", "110.02"), T0)
    assert events == []                         # two venues: no telling which is wrong
    m2, events2, _ = monitor(outlier_bps=10.0, outlier_min_venues=2)
    m2.on_book("binance", ("ws", "BTCUSDT"), book("100.00", "100.02"), T0)
    m2.on_book("okx", ("ws", "BTC-USDT"), book("110.00", "110.02"), T0)
    assert {e.venue for e in events2 if e.kind == OUTLIER} == {"binance", "okx"}


def test_leave_stale_venue_out_of_the_median_when_checking_outliers():
    m, events, _ = monitor(outlier_bps=50.0, stale_book_s=1.0, stale_conn_s=100.0)
    m.on_book("binance", ("ws", "BTCUSDT"), book("100.00", "100.02"), T0)
    m.on_book("okx", ("ws", "BTC-USDT"), book("100.00", "100.02"), T0 + 2 * S)
    m.on_book("kraken", ("ws", "XBT/USDT"), book("100.01", "100.03"), T0 + 2 * S)
    m.tick(T0 + 2 * S + 1)                      # binance is stale: two fresh venues left
    assert ("binance", "BTCUSDT", STALE) in kinds(events)
    m.on_book("kraken", ("ws", "XBT/USDT"), book("105.00", "105.02"), T0 + 2 * S + 2)
    assert not any(e.kind == OUTLIER for e in events)


# -- feed statistics ------------------------------------------------------------------------

def test_count_gap_and_resync_when_feed_stats_grow():
    m, events, _ = monitor()
    s = FeedStats()
    m.watch("okx", s)
    m.tick(T0)
    assert events == []
    s.gaps += 2
    s.checksums_bad += 1
    m.tick(T0 + S)
    s.resyncs += 1
    m.tick(T0 + 2 * S)
    assert kinds(events) == [("okx", ALL, GAP), ("okx", ALL, CHECKSUM_FAILURE),
                             ("okx", ALL, RESYNC)]
    assert events[0].detail == "2 sequence gap(s) (2 in this feed)"
    c = m.counters["okx"]
    assert (c.gaps, c.checksum_failures, c.resyncs) == (2, 1, 1)
    m.on_feed_stats("okx", FeedStats(gaps=1), T0 + 3 * S)      # a new normalizer: from zero
    assert m.counters["okx"].gaps == 3


def test_count_gap_and_go_stale_when_a_real_binance_diff_is_dropped():
    # One diff lost halfway through the real recording: the normalizer counts the gap and
    # marks the book invalid; it waits for a snapshot the recording never brings, so the book
    # stops updating and the monitor sees the connection (10 s) and then the book (60 s) go
    # silent: three events that tell risk not to trust BTCUSDT.
    norm = normalizer_for("binance")
    m, events, _ = monitor()
    m.watch("binance", norm.stats)
    norm.on_book = m.book_callback("binance")
    dropped = False
    for i, rec in enumerate(read_capture(sample_file("hbt_spot_btcusdt_20240808.gz"))):
        if rec.kind == WS and not dropped and i > 20000 and b"depthUpdate" in rec.payload[:80]:
            dropped = True                        # lose one real diff: a real sequence gap
            continue
        if rec.kind == WS:
            norm.on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            norm.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
        m.tick(rec.ts_ns)                         # the recording's clock drives the ticks
    m.tick(rec.ts_ns)
    assert norm.stats.gaps == 1
    assert kinds(events) == [("binance", ALL, GAP), ("binance", ALL, STALE),
                             ("binance", "BTCUSDT", STALE)]
    last = norm.books[("ws", "BTCUSDT")].ts_ns       # the last diff applied before the gap
    gap_ts, conn_ts, book_ts = (e.ts for e in events)
    assert last < gap_ts < last + 1 * S
    assert 10 * S < conn_ts - last < 11 * S and 60 * S < book_ts - last < 61 * S
    assert m.counters["binance"].gaps == 1
    assert m.counters["binance"].crossed == 0


# -- clock skew -----------------------------------------------------------------------------

def _iso_ns(text: str) -> int:
    """RFC 3339 with up to nanoseconds ("2026-08-09T21:05:48.483587501Z") to ns."""
    head, _, frac = text.rstrip("Z").partition(".")
    sec = datetime.fromisoformat(head).replace(tzinfo=timezone.utc).timestamp()
    return int(sec) * S + int(frac.ljust(9, "0")[:9])


def _exchange_ns(venue: str, payload: bytes) -> int:
    """The exchange's event time of a book message (0 if it has none)."""
    msg = orjson.loads(payload)
    if venue == "binance":                       # depth diff: E, event time in ms
        d = msg.get("data", msg)
        return d["E"] * MS if d.get("e") == "depthUpdate" else 0
    if venue == "coinbase":                      # Advanced Trade: message timestamp
        return _iso_ns(msg["timestamp"]) if msg.get("channel") == "l2_data" else 0
    if venue == "okx":                           # books: data[0].ts in ms
        if isinstance(msg, dict) and "data" in msg and msg.get("arg", {}).get(
                "channel", "").startswith("books"):
            return int(msg["data"][0]["ts"]) * MS
        return 0
    raise AssertionError(venue)


def replay_skew(venue: str, name: str, m: QualityMonitor) -> int:
    """Replay a real recording, feeding every book change with its exchange time."""
    norm = normalizer_for(venue)
    current = [0]
    n = [0]

    def on_book(key, b):
        n[0] += 1
        m.on_book(venue, key, b, b.ts_ns, current[0])
    norm.on_book = on_book
    for rec in read_capture(sample_file(name)):
        if rec.kind == WS:
            current[0] = _exchange_ns(venue, rec.payload)
            norm.on_frame(rec.payload, rec.conn, rec.ts_ns)
        elif rec.kind == REST:
            current[0] = 0
            norm.on_rest(rec.payload, rec.conn, rec.ts_ns, rec.src)
    return n[0]


def test_flag_negative_skew_when_replaying_binance_depth_event_times():
    # The hftbacktest capture host's clock ran ~1.27 s behind Binance: every depth diff
    # "arrives" 1.266-1.275 s before its event time E. Latency cannot be negative, so this
    # is clock skew, and the monitor must say so once.
    m, events, _ = monitor()
    n = replay_skew("binance", "hbt_spot_btcusdt_20240808.gz", m)
    s = m.skew["binance"]
    assert n == 3448 + 1 and s.samples == 3448    # the snapshot sync carries no event time
    assert -1.276 * S < s.min_ns < s.ewma_ns < s.max_ns < -1.26 * S
    assert s.ewma_ns == pytest.approx(-1.272 * S, abs=5 * MS)
    assert s.max_ns == pytest.approx(-1.2656 * S, abs=1 * MS)
    assert s.negative_samples == s.samples and s.high_samples == 0
    assert kinds(events) == [("binance", ALL, SKEW_NEGATIVE)]
    assert "EWMA -127" in events[0].detail
    assert m.counters["binance"].skew_alerts == 1
    assert m.as_dict()["venues"]["binance"]["skew"]["state"] == SKEW_NEGATIVE


def test_measure_skew_when_replaying_coinbase_and_okx_book_times():
    # Coinbase l2_data messages arrive ~16 ms before their `timestamp` (the capture clock is
    # behind by at least that); OKX books ~124 ms after `ts` (latency to that host): the one
    # is flagged negative at the 10 ms default tolerance, the other is within 500 ms.
    m, events, _ = monitor()
    replay_skew("coinbase", "cf_coinbase_advanced_20260809_btc_eth.jsonl.gz", m)
    replay_skew("okx", "cf_okx_20220513_books_3inst.jsonl", m)
    cb, okx = m.skew["coinbase"], m.skew["okx"]
    assert cb.samples == 775 and okx.samples == 290
    assert -40 * MS < cb.ewma_ns < -5 * MS
    assert cb.max_ns > 250 * MS                   # the two snapshot messages came late
    assert 80 * MS < okx.ewma_ns < 250 * MS and okx.min_ns > 100 * MS
    assert ("coinbase", ALL, SKEW_NEGATIVE) in kinds(events)
    assert okx.state == SKEW_OK
    assert not [e for e in events if e.venue == "okx"]


def test_flag_high_skew_when_updates_lag_beyond_the_limit_and_ok_when_back():
    m, events, _ = monitor(skew_high_ms=100.0, skew_min_samples=5, skew_alpha=0.5)
    b = book("1.00", "1.01")
    t = T0
    for lag in [10] * 5 + [400] * 5 + [10] * 10:
        t += S
        m.on_book("okx", ("ws", "BTC-USDT"), b, t, t - lag * MS)
    assert [e.kind for e in events] == [SKEW_HIGH, SKEW_OK]
    s = m.skew["okx"]
    assert s.max_ns == 400 * MS and s.min_ns == 10 * MS and s.high_samples == 5


# -- subscribers, config, and the consolidated book ----------------------------------------

def test_deliver_only_chosen_kinds_when_subscribing_with_a_filter():
    m = QualityMonitor(clock=FakeClock())
    got: list[QualityEvent] = []
    unsubscribe = m.subscribe(got.append, kinds=[STALE])
    m.on_book("okx", ("ws", "BTC-USDT"), book("100.00", "99.00"), T0)       # crossed
    m.tick(T0 + 61 * S)                         # the connection (10 s) and the book (60 s)
    assert kinds(got) == [("okx", ALL, STALE), ("okx", "BTC-USDT", STALE)]
    unsubscribe()
    m.on_book("okx", ("ws", "BTC-USDT"), book("100.00", "99.00"), T0 + 62 * S)
    assert len(got) == 2
    with pytest.raises(ValueError, match="unknown event kinds"):
        m.subscribe(got.append, kinds=["nope"])


def test_count_subscriber_error_when_a_callback_raises():
    m = QualityMonitor(clock=FakeClock())
    events: list[QualityEvent] = []

    def boom(ev):
        raise RuntimeError("subscriber bug")
    m.subscribe(boom)
    m.subscribe(events.append)
    m.on_book("okx", ("ws", "BTC-USDT"), book("100.00", "99.00"), T0)
    assert m.subscriber_errors == 1
    assert [e.kind for e in events] == [CROSSED]      # the others still hear it


@pytest.mark.parametrize("key, value", [
    ("stale_book_s", 0), ("stale_conn_s", -1.0), ("outlier_bps", "50"),
    ("skew_alpha", 1.5), ("outlier_min_venues", 1), ("skew_min_samples", 0),
    ("stale_book_overrides", {"binance": 0}),
])
def test_reject_config_when_a_value_is_out_of_range(key, value):
    with pytest.raises(ValueError, match=key):
        QualityConfig(**{key: value})


def test_suspend_venue_in_consolidated_view_when_its_book_goes_stale():
    view = ConsolidatedBooks()
    m, events, _ = monitor(stale_book_s=1.0, stale_conn_s=100.0)
    m.subscribe(suspend_on_events(view))
    fast, slow = book("100.00", "100.05"), book("100.01", "100.04")
    for venue, sym, b, t in (("binance", "BTCUSDT", fast, T0), ("okx", "BTC-USDT", slow, T0)):
        view.update(venue, sym, b)
        m.on_book(venue, ("ws", sym), b, t)
    cb = view["BTC/USDT"]
    assert cb.best_bid().venue == "okx"
    m.on_book("binance", ("ws", "BTCUSDT"), fast, T0 + S)
    m.tick(T0 + int(1.5 * S))                       # okx has been silent 1.5 s
    assert cb.best_bid().venue == "binance" and cb.excluded() == {"okx": "stale"}
    view.update("okx", "BTC-USDT", slow)
    m.on_book("okx", ("ws", "BTC-USDT"), slow, T0 + 2 * S)   # fresh again: back in
    assert cb.best_bid().venue == "okx" and cb.excluded() == {}
