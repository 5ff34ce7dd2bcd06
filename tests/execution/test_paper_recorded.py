"""The paper venue over a real recording: Binance spot BTCUSDT, 2024-08-08 (REST snapshot +
depth@100ms + trades, bundled sample), replayed through the Binance normalizer with a SimClock
set to each record's local receive time.

The book's grid (0.01 / 0.00000001, from the text) differs from the instrument's lot
(0.00001): every conversion between them is exercised on real levels.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest

from datafiles import sample_file
from tradecore.core.clock import SimClock
from tradecore.core.events import BUY, SELL
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderType, Side, TimeInForce
from tradecore.data.capture import REST, WS, read_capture
from tradecore.execution.fill_model import LatencyModel, PowerProbQueue, RiskAverseQueue
from tradecore.execution.paper import PaperVenue
from tradecore.verify import normalizer_for

from test_paper import Recorder

SPOT = "hbt_spot_btcusdt_20240808.gz"
SYM = "BTCUSDT"
INST = Instrument("binance", SYM, "0.01", "0.00001", min_qty="0.00001", min_notional="5",
                  maker_fee=0.0002, taker_fee=0.0005)
_RECORDS: list = []


def records() -> list:
    if not _RECORDS:
        _RECORDS.extend(read_capture(sample_file(SPOT)))
    return _RECORDS


def replay(venue: PaperVenue, clock: SimClock,
           on_book: Callable[[int, object], None] | None = None, log: list | None = None) -> None:
    """Feed the recording; on_book(i, book) runs after the venue saw the i-th book update."""
    norm = normalizer_for("binance")
    n = [0]

    def book_cb(key, book):
        venue.on_book(key[1], book)
        if log is not None:
            log.append((clock.time_ns(), "book", book.top_ticks()))
        if on_book is not None:
            on_book(n[0], book)
        n[0] += 1

    def trade_cb(t):
        venue.on_trade(t.symbol, t)
        if log is not None:
            log.append((clock.time_ns(), "trade", t))

    norm.on_book = book_cb
    norm.on_trade = trade_cb
    for r in records():
        clock.advance_to(max(r.ts_ns, clock.time_ns()))
        if r.kind == WS:
            norm.on_frame(r.payload, r.conn, r.ts_ns)
        elif r.kind == REST:
            norm.on_rest(r.payload, r.conn, r.ts_ns, r.src)
    clock.run_all()


def make(latency=LatencyModel(order_ns=2_000_000, ack_ns=1_000_000), queue=None):
    clock = SimClock(0)
    venue = PaperVenue("binance", clock, {SYM: INST}, latency, queue)
    rec = Recorder(clock)
    venue.set_listener(rec)
    return clock, venue, rec


@pytest.mark.parametrize("size_lots", [3, 50_000, 300_000])
def test_market_order_fills_walk_the_real_book_at_arrival(size_lots):
    clock, venue, rec = make()
    expected: list = []

    def at_book(i, book):
        if i != 500:
            return
        arrival = clock.time_ns() + 2_000_000

        def snapshot():          # runs just before the order arrives (same time, earlier timer)
            rem = size_lots
            for t, lots in book.depth_ticks(1, 1000).tolist():
                take = min(lots // 1000, rem)           # book lot 1e-8, instrument lot 1e-5
                if take:
                    expected.append((t, take))
                rem -= take
                if rem == 0:
                    break
            expected.append(book.fill_price(1, size_lots * 1e-5))
        clock.call_at(arrival, snapshot)
        venue.submit(Order("m", "binance", SYM, Side.BUY, OrderType.MARKET, size_lots))

    replay(venue, clock, at_book)
    fills = rec.fills("m")
    assert [(f.price, f.qty) for f in fills] == expected[:-1]
    avg = sum(f.price * f.qty for f in fills) / sum(f.qty for f in fills) / 100
    assert avg == pytest.approx(expected[-1], rel=1e-6)
    assert all(f.liquidity == "taker" for f in fills)
    assert sum(f.fee for f in fills) == pytest.approx(avg * size_lots * 1e-5 * 0.0005)


def _passive(queue=None, latency=LatencyModel(order_ns=2_000_000, ack_ns=1_000_000)):
    """A 0.5 BTC bid and a 0.5 BTC ask joined at the touch at the 200th book update."""
    clock, venue, rec = make(latency, queue)
    log: list = []
    placed = {}

    def at_book(i, book):
        if i == 200:
            bt, _, at, _ = book.top_ticks()
            placed["bid"], placed["ask"] = bt, at
            placed["ts"] = clock.time_ns()
            venue.submit(Order("b", "binance", SYM, Side.BUY, OrderType.LIMIT, 50_000, price=bt))
            venue.submit(Order("s", "binance", SYM, Side.SELL, OrderType.LIMIT, 50_000,
                               price=at))
    replay(venue, clock, at_book, log)
    return rec, log, placed


def test_resting_orders_fill_only_on_trades_or_crossing_book_of_the_recording():
    rec, log, placed = _passive()
    fills = rec.fills()
    assert fills, "the recording moves through both prices: the orders must fill"
    for f in fills:
        assert f.liquidity == "maker" and f.ts_ns > placed["ts"]
        assert f.price == (placed["bid"] if f.side == Side.BUY else placed["ask"])
        assert f.fee == pytest.approx(INST.notional(f.price, f.qty) * 0.0002)
        # at that instant the recording printed a trade at/through the price from the other
        # side, or the book's opposite side reached it
        why = []
        for ts, kind, x in log:
            if ts != f.ts_ns:
                continue
            if kind == "trade":
                px = INST.ticks(x.price.rstrip("0"))
                if f.side == Side.BUY and x.aggressor == SELL and px <= f.price:
                    why.append(kind)
                if f.side == Side.SELL and x.aggressor == BUY and px >= f.price:
                    why.append(kind)
            elif x is not None and (x[2] <= f.price if f.side == Side.BUY else x[0] >= f.price):
                why.append(kind)
        assert why, f"no market event explains {f}"
    for cid in ("b", "s"):
        assert sum(f.qty for f in rec.fills(cid)) <= 50_000


def test_first_passive_fill_needs_the_queue_ahead_to_trade_first():
    rec, log, placed = _passive()
    first = rec.fills("b")[0]
    # sell-initiated volume at our bid between arrival and the first fill (no trade-through,
    # no crossing before it): it must exceed nothing less than zero, and if the fill came from
    # trades at our price, at least one such trade printed
    at_price = [x for ts, k, x in log if k == "trade" and placed["ts"] < ts <= first.ts_ns
                and x.aggressor == SELL and INST.ticks(x.price.rstrip("0")) == placed["bid"]]
    through = [x for ts, k, x in log if k == "trade" and placed["ts"] < ts <= first.ts_ns
               and x.aggressor == SELL and INST.ticks(x.price.rstrip("0")) < placed["bid"]]
    crossed = [x for ts, k, x in log if k == "book" and placed["ts"] < ts <= first.ts_ns
               and x is not None and x[2] <= placed["bid"]]
    assert at_price or through or crossed


def test_prob_queue_fills_no_later_than_risk_averse_on_the_recording():
    ra, _, _ = _passive(RiskAverseQueue())
    pr, _, _ = _passive(PowerProbQueue(3))
    for cid in ("b", "s"):
        a, p = ra.fills(cid), pr.fills(cid)
        assert p and a
        assert p[0].ts_ns <= a[0].ts_ns


def test_recording_replayed_twice_gives_identical_fills():
    lat = LatencyModel(order_ns=2_000_000, ack_ns=1_000_000, jitter_ns=500_000, seed=11)
    a, _, _ = _passive(latency=lat)
    b, _, _ = _passive(latency=lat)
    assert a.events == b.events and a.fills()


def _at_book_500(submit: Callable[[PaperVenue, object], None], latency=LatencyModel()):
    """Run the recording; at the 500th book update call submit(venue, book); return the
    recorder and the (best bid, best ask) ticks and depth when the orders arrived."""
    clock, venue, rec = make(latency)
    seen: dict = {}

    def at_book(i, book):
        if i == 500:
            seen["top"] = book.top_ticks()
            seen["asks"] = book.depth_ticks(1, 50).tolist()
            seen["bids"] = book.depth_ticks(0, 50).tolist()
            submit(venue, book)
    replay(venue, clock, at_book)
    return rec, seen


def test_ioc_limit_on_real_book_takes_levels_up_to_its_price_then_expires():
    def submit(venue, book):
        at = book.top_ticks()[2]
        venue.submit(Order("i", "binance", SYM, Side.BUY, OrderType.LIMIT, 10_000_000,
                           price=at + 3, tif=TimeInForce.IOC))
    rec, seen = _at_book_500(submit)
    at = seen["top"][2]
    want = [(t, q // 1000) for t, q in seen["asks"] if t <= at + 3 and q // 1000 > 0]
    assert [(f.price, f.qty) for f in rec.fills("i")] == want
    assert rec.kinds("i")[-1] == "expired"


def test_fok_on_real_book_fills_whole_when_depth_allows_and_nothing_otherwise():
    def submit(venue, book):
        bt = book.top_ticks()[0]
        venue.submit(Order("ok", "binance", SYM, Side.SELL, OrderType.LIMIT, 1_000,
                           price=bt - 5, tif=TimeInForce.FOK))
        venue.submit(Order("no", "binance", SYM, Side.SELL, OrderType.LIMIT, 10_000_000,
                           price=bt - 5, tif=TimeInForce.FOK))
    rec, seen = _at_book_500(submit)
    assert sum(f.qty for f in rec.fills("ok")) == 1_000
    assert rec.kinds("no") == ["accepted", "expired"]


def test_post_only_on_real_book_rejected_at_the_ask_accepted_at_the_bid():
    def submit(venue, book):
        bt, _, at, _ = book.top_ticks()
        venue.submit(Order("x", "binance", SYM, Side.BUY, OrderType.LIMIT, 100, price=at,
                           post_only=True))
        venue.submit(Order("y", "binance", SYM, Side.BUY, OrderType.LIMIT, 100, price=bt,
                           post_only=True))
    rec, _ = _at_book_500(submit)
    assert rec.kinds("x") == ["rejected"]
    assert rec.kinds("y")[0] == "accepted"


def test_stop_on_real_trades_fires_at_the_first_trade_through_its_trigger():
    log: list = []

    def submit(venue, book):
        bt = book.top_ticks()[0]
        venue.submit(Order("sl", "binance", SYM, Side.SELL, OrderType.STOP_MARKET, 1_000,
                           trigger_price=bt - 200))     # 2 USDT under the bid
    clock, venue, rec = make(LatencyModel())
    placed: dict = {}

    def at_book(i, book):
        if i == 500:
            placed["ts"] = clock.time_ns()
            placed["trigger"] = book.top_ticks()[0] - 200
            submit(venue, book)
    replay(venue, clock, at_book, log)
    first = next(ts for ts, k, x in log if k == "trade" and ts > placed["ts"]
                 and INST.ticks(x.price.rstrip("0").rstrip(".")) <= placed["trigger"])
    trig = [e for e in rec.events if e[1] == "triggered"]
    assert trig and trig[0][3] == first
    assert sum(f.qty for f in rec.fills("sl")) == 1_000


def test_gtd_on_real_data_expires_at_its_time_when_unfilled():
    def submit(venue, book):
        bt = book.top_ticks()[0]
        venue.submit(Order("g", "binance", SYM, Side.BUY, OrderType.LIMIT, 100,
                           price=bt - 100_000, tif=TimeInForce.GTD,
                           expire_ns=book.ts_ns + 30_000_000_000))
    rec, _ = _at_book_500(submit)
    assert rec.kinds("g") == ["accepted", "expired"]
