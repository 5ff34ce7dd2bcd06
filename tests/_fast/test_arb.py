"""The compiled arbitrage detectors against the brute-force references, on random books."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore._fast.arb import CrossVenueDetector, TriangularDetector
from tradecore._fast.book import L2Book
from tradecore.strategies.arb.reference import Leg, cross_best, tri_cycle

TICK, LOT = "0.01", "0.001"


def make_book(bids: list[tuple[int, int]], asks: list[tuple[int, int]],
              tick: str = TICK, lot: str = LOT) -> L2Book:
    """A book from (ticks, lots) pairs."""
    b = L2Book(tick, lot)
    t, q = float(tick), float(lot)
    td = len(tick.split(".")[1]) if "." in tick else 0
    qd = len(lot.split(".")[1]) if "." in lot else 0
    b.apply_sides([(f"{p * t:.{td}f}", f"{s * q:.{qd}f}") for p, s in bids],
                  [(f"{p * t:.{td}f}", f"{s * q:.{qd}f}") for p, s in asks])
    b.valid = True
    return b


def levels(book: L2Book, depth: int) -> tuple[list, list]:
    bids, asks = book.depth(depth)
    return [tuple(r) for r in bids.tolist()], [tuple(r) for r in asks.tolist()]


@st.composite
def venue_book(draw, centre: int):
    """A valid book around `centre` ticks: bids strictly below asks."""
    mid = centre + draw(st.integers(-60, 60))
    spread = draw(st.integers(1, 20))
    nb = draw(st.integers(1, 8))
    na = draw(st.integers(1, 8))
    bid_ticks = sorted({mid - draw(st.integers(0, 40)) for _ in range(nb)}, reverse=True)
    ask_ticks = sorted({mid + spread + draw(st.integers(0, 40)) for _ in range(na)})
    bids = [(t, draw(st.integers(1, 5000))) for t in bid_ticks]
    asks = [(t, draw(st.integers(1, 5000))) for t in ask_ticks]
    return make_book(bids, asks)


@given(st.data(), st.integers(2, 4), st.floats(0.0, 0.003), st.sampled_from([0.001, 0.01, 0.1]),
       st.floats(0.01, 20.0), st.booleans())
@settings(max_examples=300, deadline=None)
def test_cross_venue_equals_reference_when_books_are_random(data, n, fee, lot, max_qty,
                                                            limited):
    books = [data.draw(venue_book(1_000_000)) for _ in range(n)]
    fees = [fee * (i + 1) / n for i in range(n)]
    lots = [lot if i % 2 else 0.001 for i in range(n)]
    det = CrossVenueDetector(n)
    det.max_qty = max_qty
    base = [data.draw(st.floats(0.0, 10.0)) if limited else math.inf for _ in range(n)]
    quote = [data.draw(st.floats(0.0, 50_000.0)) if limited else math.inf for _ in range(n)]
    for i, b in enumerate(books):
        det.set_venue(i, b, fees[i], lots[i])
        det.set_inventory(i, min(base[i], 1e300), min(quote[i], 1e300))
    changed = data.draw(st.integers(0, n - 1))
    got = det.check(changed)
    ref = cross_best([levels(b, det.depth) for b in books], fees, lots, max_qty=max_qty,
                     base_avail=base, quote_avail=quote, only=changed)
    assert got == (ref is not None)
    if ref is not None:
        assert (det.buy_venue, det.sell_venue) == (ref.buy_venue, ref.sell_venue)
        assert det.qty == pytest.approx(ref.qty, rel=1e-9)
        assert det.edge == pytest.approx(ref.edge, rel=1e-7, abs=1e-9)
        assert det.buy_limit == ref.buy_limit and det.sell_limit == ref.sell_limit
        assert det.qty <= max_qty + 1e-12
        assert det.qty <= base[det.sell_venue] + 1e-9
        assert det.buy_cost <= quote[det.buy_venue] * (1 + 1e-9) + 1e-9


@given(st.data(), st.sampled_from([("0.01", "0.001"), ("0.1", "0.00001"), ("0.5", "0.25"),
                                    ("0.00000001", "1"), ("1", "0.1")]),
       st.floats(0.01, 20.0))
@settings(max_examples=300, deadline=None)
def test_grid_fields_equal_instrument_rounding_when_books_are_random(data, grid, max_qty):
    """buy_lots/sell_lots/buy_price_ticks/sell_price_ticks are what Instrument.lots_near and
    ticks_near (up for the buy, down for the sell) give for qty and the limits."""
    from tradecore.core.instrument import Instrument
    tick, lot = grid
    insts = [Instrument(f"v{i}", "BTCUSDT", tick=tick, lot=lot) for i in range(2)]
    books = [data.draw(venue_book(1_000_000)) for _ in range(2)]
    det = CrossVenueDetector(2)
    det.max_qty = max_qty
    for i, b in enumerate(books):
        det.set_venue(i, b, 0.0, insts[i].lot_size, insts[i].tick_size)
    if not det.check(data.draw(st.integers(0, 1))):
        return
    bi, si = insts[det.buy_venue], insts[det.sell_venue]
    bq, sq = bi.lots_near(det.qty), si.lots_near(det.qty)
    same = bq * bi.lot_size == sq * si.lot_size
    assert (det.buy_lots, det.sell_lots) == ((bq, sq) if same else (0, 0))
    assert det.buy_price_ticks == bi.ticks_near(det.buy_limit, up=True)
    assert det.sell_price_ticks == si.ticks_near(det.sell_limit)
    # orders(): the same figures in one call
    assert det.orders() == (det.buy_venue, det.sell_venue, det.buy_lots, det.sell_lots,
                            det.buy_price_ticks, det.sell_price_ticks, det.edge)


def test_grid_lots_are_zero_when_the_legs_would_differ_in_quantity():
    """0.3 base is 3 lots of 0.1 (3 x 0.1 = 0.30000000000000004 as doubles) and 1 lot of 0.3:
    not provably the same quantity, so no lots (the strategy skips: lot mismatch)."""
    a = make_book([(9_990, 1000)], [(10_000, 1000)])
    b = make_book([(10_100, 1000)], [(10_110, 1000)])
    det = CrossVenueDetector(2)
    det.max_qty = 0.3
    det.set_venue(0, a, 0.0, 0.1, 0.01)
    det.set_venue(1, b, 0.0, 0.3, 0.01)
    assert det.check(0)
    assert det.qty == pytest.approx(0.3)
    assert det.buy_lots == det.sell_lots == 0
    assert det.buy_price_ticks == 10_000 and det.sell_price_ticks == 10_100


def test_grid_fields_are_zero_when_set_venue_had_no_tick():
    a = make_book([(9_990, 1000)], [(10_000, 1000)])
    b = make_book([(10_100, 1000)], [(10_110, 1000)])
    det = CrossVenueDetector(2)
    det.set_venue(0, a, 0.0, 0.001)
    det.set_venue(1, b, 0.0, 0.001)
    assert det.check(0)
    assert det.buy_lots == det.sell_lots == 1000
    assert det.buy_price_ticks == det.sell_price_ticks == 0
    with pytest.raises(ValueError, match="tick must be >= 0"):
        det.set_venue(0, a, 0.0, 0.001, -0.01)


def test_check_finds_nothing_when_fees_eat_the_crossing():
    a = make_book([(9_990, 1000)], [(10_000, 1000)])      # 99.90 / 100.00
    b = make_book([(10_005, 1000)], [(10_010, 1000)])     # bid 100.05 on b
    det = CrossVenueDetector(2)
    det.set_venue(0, a, 0.001, 0.001)                      # 100.00 * 1.001 = 100.10
    det.set_venue(1, b, 0.001, 0.001)                      # 100.05 * 0.999 = 99.95
    assert not det.check(0)
    det.set_venue(0, a, 0.0, 0.001)
    det.set_venue(1, b, 0.0, 0.001)
    assert det.check(1)
    assert (det.buy_venue, det.sell_venue) == (0, 1)
    assert det.qty == pytest.approx(1.0)
    assert det.edge == pytest.approx(0.05)


def test_check_walks_depth_when_the_top_is_thin():
    a = make_book([(9_900, 1000)], [(10_000, 100), (10_001, 500), (10_010, 900)])
    b = make_book([(10_005, 300), (10_002, 1000)], [(10_100, 1000)])
    det = CrossVenueDetector(2)
    det.set_venue(0, a, 0.0, 0.001)
    det.set_venue(1, b, 0.0, 0.001)
    assert det.check(0)
    # 0.1 @100.00 and 0.5 @100.01 bought; 0.3 @100.05 and 0.3 @100.02 sold; 100.10 > 100.02 stops
    assert det.qty == pytest.approx(0.6)
    assert det.buy_limit == pytest.approx(100.01)
    assert det.sell_limit == pytest.approx(100.02)
    assert det.edge == pytest.approx(0.3 * 100.05 + 0.3 * 100.02 - 0.1 * 100.0 - 0.5 * 100.01)


def test_check_ignores_invalid_books():
    a = make_book([(9_990, 1000)], [(10_000, 1000)])
    b = make_book([(10_050, 1000)], [(10_060, 1000)])
    b.valid = False
    det = CrossVenueDetector(2)
    det.set_venue(0, a, 0.0, 0.001)
    det.set_venue(1, b, 0.0, 0.001)
    assert not det.check(0)


def test_set_venue_rejects_bad_fee_with_the_reason():
    det = CrossVenueDetector(2)
    with pytest.raises(ValueError, match="taker_fee"):
        det.set_venue(0, make_book([(1, 1)], [(2, 1)]), 1.5, 0.001)
    with pytest.raises(IndexError):
        det.set_venue(5, None, 0.0, 0.001)


# -- triangular -------------------------------------------------------------------------------
USDT, BTC, ETH = 0, 1, 2


def tri_books(draw, btc: int, eth: int, ethbtc_skew: int):
    """BTCUSDT around btc ticks of 0.01, ETHUSDT around eth ticks of 0.01, ETHBTC near the
    implied cross (ticks of 0.00001) shifted by ethbtc_skew ticks."""
    def side_levels(mid, spread, step):
        bids = [(mid - i * step, draw(st.integers(1, 4000))) for i in range(draw(st.integers(1, 6)))]
        asks = [(mid + spread + i * step, draw(st.integers(1, 4000)))
                for i in range(draw(st.integers(1, 6)))]
        return bids, asks
    b1 = make_book(*side_levels(btc, draw(st.integers(1, 30)), draw(st.integers(1, 20))),
                   tick="0.01", lot="0.00001")
    b2 = make_book(*side_levels(eth, draw(st.integers(1, 10)), draw(st.integers(1, 5))),
                   tick="0.01", lot="0.0001")
    cross = round(eth / btc * 100_000) + ethbtc_skew
    b3 = make_book(*side_levels(cross, draw(st.integers(1, 5)), draw(st.integers(1, 3))),
                   tick="0.00001", lot="0.0001")
    return b1, b2, b3


@given(st.data(), st.integers(-200, 200), st.floats(0.0, 0.001), st.floats(10.0, 1e6))
@settings(max_examples=300, deadline=None)
def test_triangular_equals_reference_when_books_are_random(data, skew, fee, max_start):
    b1, b2, b3 = tri_books(data.draw, 6_000_000, 300_000, skew)
    det = TriangularDetector(3)
    det.set_market(0, b1, BTC, USDT, fee, 0.00001)
    det.set_market(1, b2, ETH, USDT, fee, 0.0001)
    det.set_market(2, b3, ETH, BTC, fee, 0.0001)
    assert det.build(USDT) == 2           # the triangle, both ways round
    det.max_start = max_start
    market = data.draw(st.integers(0, 2))
    got = det.check(market)
    best = None
    books = [b1, b2, b3]
    lots = [0.00001, 0.0001, 0.0001]
    for c in range(det.n_cycles):
        legs = []
        for m, buy in det.cycle_legs(c):
            bids, asks = levels(books[m], det.depth)
            legs.append(Leg(asks if buy else bids, buy, fee, lots[m]))
        r = tri_cycle(legs, max_start)
        if r is not None and r[1] - r[0] > 0 and (best is None or r[1] - r[0] > best[1][1] - best[1][0]):
            best = (c, r)
    assert got == (best is not None)
    if best is not None:
        c, (s, e, sizes, limits) = best
        assert det.cycle == c
        assert det.start_amount == pytest.approx(s, rel=1e-7)
        assert det.end_amount == pytest.approx(e, rel=1e-7)
        assert det.edge == pytest.approx(e - s, rel=1e-6, abs=1e-9)
        assert det.leg_qty == pytest.approx(tuple(sizes), rel=1e-7)
        assert det.leg_limit == pytest.approx(tuple(limits), rel=1e-12)
        assert det.start_amount <= max_start * (1 + 1e-9)


def test_triangular_finds_the_mispriced_cross():
    # BTC 60000, ETH 3000 -> fair ETHBTC 0.05; ETHBTC bid at 0.0502: buy ETH with USDT, sell it
    # for BTC, sell BTC for USDT
    b1 = make_book([(6_000_000, 100_000)], [(6_000_100, 100_000)], "0.01", "0.00001")
    b2 = make_book([(299_990, 100_000)], [(300_000, 100_000)], "0.01", "0.0001")
    b3 = make_book([(5_020, 10_000)], [(5_030, 10_000)], "0.00001", "0.0001")
    det = TriangularDetector(3)
    det.set_market(0, b1, BTC, USDT, 0.0, 0.00001)
    det.set_market(1, b2, ETH, USDT, 0.0, 0.0001)
    det.set_market(2, b3, ETH, BTC, 0.0, 0.0001)
    det.build(USDT)
    assert det.check(2)
    legs = det.cycle_legs(det.cycle)
    assert legs == [(1, True), (2, False), (0, False)]
    # ETHBTC depth (1 ETH) binds: 3000 USDT -> 1 ETH -> 0.0502 BTC -> 3012 USDT
    assert det.leg_qty[0] == pytest.approx(1.0)
    assert det.edge == pytest.approx(0.0502 * 60000 - 3000, rel=1e-9)
    det.set_market(2, b3, ETH, BTC, 0.002, 0.0001)   # 0.2 % on one leg: 0.4 % > edge 0.4 %? no
    assert not det.check(2) or det.edge > 0


def test_triangular_only_reevaluates_cycles_of_the_changed_market():
    b = [make_book([(100, 10)], [(101, 10)]) for _ in range(4)]
    det = TriangularDetector(4)
    det.set_market(0, b[0], BTC, USDT, 0.0, 0.001)
    det.set_market(1, b[1], ETH, USDT, 0.0, 0.001)
    det.set_market(2, b[2], ETH, BTC, 0.0, 0.001)
    det.set_market(3, b[3], 3, 4, 0.0, 0.001)         # unrelated market
    det.build(USDT)
    before = det.checks
    det.check(3)
    assert det.checks == before
    det.check(2)
    assert det.checks == before + 2


def test_check_ends_when_the_caps_leave_only_float_dust():
    """Regression: a cap a few ulps above what the levels fill used to loop forever (the
    remaining step did not move the filled size)."""
    a = make_book([(9_000, 1000)], [(10_000, 100), (10_001, 200)])
    b = make_book([(10_050, 300), (10_049, 1000)], [(10_100, 1000)])
    det = CrossVenueDetector(2)
    det.set_venue(0, a, 0.0, 0.001)
    det.set_venue(1, b, 0.0, 0.001)
    for cap in (0.1 + 0.2, 0.30000000000000004, 0.3 + 1e-16, 0.3 - 1e-16):
        det.max_qty = cap
        assert det.check(0)
        assert det.qty == pytest.approx(0.3, abs=0.001)
    det.max_qty = 10.0
    det.set_inventory(0, 1e300, 0.1 * 100.00 + 0.2 * 100.01 + 5e-324)   # quote dust
    assert det.check(0)
