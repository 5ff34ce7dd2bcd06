"""Smart order routing: the split against a brute-force search over every allocation on small
random books (hypothesis), fees that move the split, minimums, balances, lot grids, limit
prices, and a split of a real Binance book across two venues with different fees."""
from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from datafiles import sample_file
from tradecore.book import L2Book
from tradecore.core.instrument import Instrument
from tradecore.core.orders import OrderType, Side, TimeInForce
from tradecore.data.capture import REST, WS, read_capture
from tradecore.execution.router import SmartOrderRouter, VenueBook, child_orders
from tradecore.verify import normalizer_for


def book_of(levels: list[tuple[str, str]], side: int, tick="0.01", lot="0.1") -> L2Book:
    b = L2Book(tick, lot)
    b.apply_levels(side, [list(lv) for lv in levels])
    b.valid = True
    return b


def inst(venue, tick="0.01", lot="0.1", fee=0.0, min_qty="0", min_notional="0"):
    return Instrument(venue, "X", tick, lot, min_qty=min_qty, min_notional=min_notional,
                      taker_fee=fee)


# -- brute force ----------------------------------------------------------------------------

def brute(side: Side, want: Fraction, venues: list[dict]) -> tuple[Fraction, Fraction]:
    """Try every allocation: (most base units routed, then best fee-adjusted cost)."""
    best = None
    caps = [sum(q for _, q in v["levels"]) for v in venues]
    for alloc in itertools.product(*[range(c + 1) for c in caps]):
        qty = sum(x * v["lot"] for x, v in zip(alloc, venues))
        if qty > want:
            continue
        cost = Fraction(0)
        ok = True
        for x, v in zip(alloc, venues):
            if x == 0:
                continue
            notional, left = Fraction(0), x
            for p, q in v["levels"]:
                t = min(q, left)
                notional += p * t * v["lot"]
                left -= t
            if x < v["min_lots"] or notional < v["min_notional"]:
                ok = False
                break
            adj = notional * (1 + v["fee"]) if side == Side.BUY else notional * (1 - v["fee"])
            if v["balance"] is not None:
                if side == Side.BUY and adj > v["balance"]:
                    ok = False
                    break
                if side == Side.SELL and x * v["lot"] > v["balance"]:
                    ok = False
                    break
            cost += adj
        if not ok:
            continue
        score = (qty, -cost if side == Side.BUY else cost)
        if best is None or score > best[0]:
            best = (score, qty, cost)
    return best[1], best[2]


venue_st = st.fixed_dictionaries({
    "prices": st.lists(st.integers(100, 110), min_size=1, max_size=3, unique=True),
    "lots": st.lists(st.integers(1, 4), min_size=3, max_size=3),
    "fee": st.sampled_from(["0", "0.001", "0.0025", "0.01"]),
    "min_qty": st.sampled_from(["0", "0.2", "0.3"]),
    "min_notional": st.sampled_from(["0", "25"]),
    "balance": st.one_of(st.none(), st.integers(1, 80)),
})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vs=st.lists(venue_st, min_size=1, max_size=3), side=st.sampled_from([Side.BUY,
                                                                            Side.SELL]),
       want_lots=st.integers(1, 14), limit=st.one_of(st.none(), st.integers(100, 110)))
def test_split_is_optimal_when_venues_share_a_lot_grid(vs, side, want_lots, limit):
    lot = Fraction(1, 10)
    venues, ref = [], []
    for i, v in enumerate(vs):
        prices = sorted(v["prices"], reverse=side == Side.SELL)
        levels = [(str(p), str(Decimal(q) / 10)) for p, q in zip(prices, v["lots"])]
        book = book_of(levels, 1 if side == Side.BUY else 0)
        bal = None if v["balance"] is None else (v["balance"] * 10 if side == Side.BUY
                                                  else Decimal(v["balance"]) / 10)
        venues.append(VenueBook(inst(f"v{i}", fee=float(v["fee"]), min_qty=v["min_qty"],
                                     min_notional=v["min_notional"]), book, bal))
        usable = [(Fraction(p), q) for p, q in zip(prices, v["lots"])
                  if limit is None or (p <= limit if side == Side.BUY else p >= limit)]
        ref.append({"levels": usable, "lot": lot, "fee": Fraction(Decimal(v["fee"])),
                    "min_lots": int(Fraction(Decimal(v["min_qty"])) / lot),
                    "min_notional": Fraction(Decimal(v["min_notional"])),
                    "balance": None if bal is None else Fraction(Decimal(bal))})
    plan = SmartOrderRouter().route(side, Decimal(want_lots) / 10, venues, limit_price=limit)
    qty, cost = brute(side, Fraction(want_lots, 10), ref)
    assert plan.qty == qty
    assert plan.cost == cost
    assert plan.qty <= plan.wanted
    for c in plan.children:
        assert c.lots > 0


# -- behaviour ------------------------------------------------------------------------------

def test_buy_splits_across_venues_when_the_second_level_is_worse_than_the_other_touch():
    a = VenueBook(inst("a"), book_of([("100.00", "1.0"), ("101.00", "5.0")], 1))
    b = VenueBook(inst("b"), book_of([("100.50", "2.0"), ("102.00", "5.0")], 1))
    plan = SmartOrderRouter().route(Side.BUY, "2.5", [a, b])
    assert {(c.venue, c.lots) for c in plan.children} == {("a", 10), ("b", 15)}
    assert plan.notional == Fraction(100) + Fraction(1005, 10) * Fraction(15, 10)


def test_fees_move_the_split_to_the_cheaper_venue_after_fees():
    a = VenueBook(inst("a", fee=0.002), book_of([("100.00", "5.0")], 1))
    b = VenueBook(inst("b", fee=0.0), book_of([("100.10", "5.0")], 1))
    plan = SmartOrderRouter().route(Side.BUY, "1", [a, b])
    assert [(c.venue, c.lots) for c in plan.children] == [("b", 10)]
    sell = SmartOrderRouter().route(Side.SELL, "1", [
        VenueBook(inst("a", fee=0.002), book_of([("100.10", "5.0")], 0)),
        VenueBook(inst("b", fee=0.0), book_of([("100.00", "5.0")], 0))])
    assert [c.venue for c in sell.children] == ["b"]


def test_venue_skipped_when_its_share_would_be_below_its_minimum():
    a = VenueBook(inst("a"), book_of([("100.00", "1.0"), ("104.00", "5.0")], 1))
    b = VenueBook(inst("b", min_qty="1.0"), book_of([("101.00", "5.0")], 1))
    # 1.3: a 1.0 @100 + b 0.3 @101 would be best, but b's minimum is 1.0; a alone costs
    # 131.2, a 0.3 + b 1.0 costs 131
    plan = SmartOrderRouter().route(Side.BUY, "1.3", [a, b])
    assert {(c.venue, c.lots) for c in plan.children} == {("a", 3), ("b", 10)}


def test_balance_caps_a_venue_share():
    a = VenueBook(inst("a"), book_of([("100.00", "5.0")], 1), balance=150)
    b = VenueBook(inst("b"), book_of([("100.50", "5.0")], 1))
    plan = SmartOrderRouter().route(Side.BUY, "2", [a, b])
    assert {(c.venue, c.lots) for c in plan.children} == {("a", 15), ("b", 5)}


def test_limit_price_leaves_the_rest_unrouted():
    a = VenueBook(inst("a"), book_of([("100.00", "1.0"), ("101.00", "5.0")], 1))
    plan = SmartOrderRouter().route(Side.BUY, "3", [a], limit_price="100.50")
    assert plan.qty == 1 and plan.wanted == 3


def test_children_respect_each_venue_lot_grid():
    a = VenueBook(inst("a", lot="0.1"), book_of([("100.00", "0.5")], 1, lot="0.01"))
    b = VenueBook(inst("b", lot="0.01"), book_of([("100.20", "5.00")], 1, lot="0.01"))
    plan = SmartOrderRouter().route(Side.BUY, "0.57", [a, b])
    got = {c.venue: c.qty for c in plan.children}
    assert got == {"a": Fraction(1, 2), "b": Fraction(7, 100)}


def test_child_orders_are_ioc_limits_at_the_worst_planned_level():
    a = VenueBook(inst("a"), book_of([("100.00", "1.0"), ("101.00", "5.0")], 1))
    plan = SmartOrderRouter().route(Side.BUY, "2", [a])
    [o] = child_orders(plan, "p1", strategy_id="s")
    assert (o.client_order_id, o.type, o.tif, o.price, o.qty, o.parent_id) == \
        ("p1-1", OrderType.LIMIT, TimeInForce.IOC, 10100, 20, "p1")


@pytest.mark.parametrize("qty,msg", [("0", "must be > 0"), ("abc", "not a decimal")])
def test_bad_parent_quantity_raises(qty, msg):
    a = VenueBook(inst("a"), book_of([("100.00", "1.0")], 1))
    with pytest.raises(ValueError, match=msg):
        SmartOrderRouter().route(Side.BUY, qty, [a])


def test_real_book_split_matches_brute_force_on_two_fee_tiers():
    """The Binance BTCUSDT book at its 300th update, seen as two venues with different fees
    and the second venue's prices 0.02 higher: the router's split is the cheapest of all
    splits in steps of one lot across the top levels."""
    norm = normalizer_for("binance")
    books: list[L2Book] = []

    def grab(key, book):
        if len(books) == 0 and book.valid:
            n_seen.append(1)
            if len(n_seen) == 300:
                books.append(book)
    n_seen: list = []
    norm.on_book = grab
    for r in read_capture(sample_file("hbt_spot_btcusdt_20240808.gz")):
        if books:
            break
        if r.kind == WS:
            norm.on_frame(r.payload, r.conn, r.ts_ns)
        elif r.kind == REST:
            norm.on_rest(r.payload, r.conn, r.ts_ns, r.src)
    real = books[0]
    asks = real.depth_ticks(1, 3).tolist()
    # a coarse lot (0.1 BTC) keeps the brute force small: levels in whole 0.1s
    lv_a = [(f"{t / 100:.2f}", f"{max(1, q // 10_000_000) / 10:.1f}") for t, q in asks]
    lv_b = [(f"{(t + 2) / 100:.2f}", q) for (t, _), (_, q) in zip(asks, lv_a)]
    ia = Instrument("a", "BTCUSDT", "0.01", "0.1", taker_fee=0.001)
    ib = Instrument("b", "BTCUSDT", "0.01", "0.1", taker_fee=0.0007)
    va = VenueBook(ia, book_of(lv_a, 1))
    vb = VenueBook(ib, book_of(lv_b, 1))
    want = Fraction(sum(int(Decimal(q) * 10) for _, q in lv_a + lv_b), 10) / 2
    plan = SmartOrderRouter().route(Side.BUY, Decimal(want.numerator) / want.denominator,
                                    [va, vb])
    ref = [{"levels": [(Fraction(Decimal(p)), int(Decimal(q) * 10)) for p, q in lv],
            "lot": Fraction(1, 10), "fee": Fraction(Decimal(str(fee))), "min_lots": 0,
            "min_notional": 0, "balance": None}
           for lv, fee in ((lv_a, 0.001), (lv_b, 0.0007))]
    qty, cost = brute(Side.BUY, want, ref)
    assert (plan.qty, plan.cost) == (qty, cost)
