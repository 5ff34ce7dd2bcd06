"""Positions and balances from fills: hand-computed partial fills, flips and fees, and the
identity between the PnL view and the cash view on random fill sequences."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from _oms_fakes import BTC, INSTRUMENTS
from tradecore.core.orders import Fill, Side
from tradecore.execution.portfolio import Portfolio, Position, UnknownInstrument


def fill(side: Side, lots: int, ticks: int, fee: float = 0.0, tid: str = "t") -> Fill:
    return Fill("c", "test", "BTCUSDT", side, lots, ticks, fee, "taker", tid, 1)


def test_add_then_partial_close_realizes_against_average_when_long():
    p = Position(BTC)
    p.apply(1, 2000, 10000, 0.2)          # buy 2 BTC @ 100.00
    p.apply(1, 1000, 10300, 0.1)          # buy 1 BTC @ 103.00 -> avg 101
    assert p.lots == 3000 and p.avg_price == pytest.approx(101.0, abs=1e-12)
    r = p.apply(-1, 1500, 10500, 0.15)    # sell 1.5 @ 105: (105-101)*1.5 = 6, less its fee
    assert r == pytest.approx(6.0 - 0.15, abs=1e-12)
    assert p.lots == 1500 and p.avg_price == pytest.approx(101.0, abs=1e-12)
    assert p.realized_pnl == pytest.approx(5.55, abs=1e-12)
    assert p.fees == pytest.approx(0.45, abs=1e-12)
    assert p.gross_realized_pnl == pytest.approx(6.0, abs=1e-12)


def test_fill_crossing_zero_closes_then_opens_at_fill_price():
    p = Position(BTC)
    p.apply(1, 1500, 10100, 0.0)          # long 1.5 @ 101
    r = p.apply(-1, 2500, 9900, 0.25)     # sell 2.5 @ 99: close 1.5 (-3.0), open short 1 @ 99
    assert r == pytest.approx(-3.0 - 0.25, abs=1e-12)
    assert p.lots == -1000 and p.avg_price == pytest.approx(99.0, abs=1e-12)
    assert p.unrealized_pnl(97.0) == pytest.approx(2.0, abs=1e-12)   # short gains as it falls
    r = p.apply(1, 1000, 9800, 0.0)       # buy back 1 @ 98: +1.0
    assert r == pytest.approx(1.0, abs=1e-12)
    assert p.lots == 0 and p.avg_price == 0.0 and p.unrealized_pnl(50.0) == 0.0
    assert p.realized_pnl == pytest.approx(-2.25, abs=1e-12)


def test_rebate_increases_realized_when_fee_negative():
    p = Position(BTC)
    p.apply(1, 1000, 10000, -0.01)
    assert p.realized_pnl == pytest.approx(0.01) and p.fees == pytest.approx(-0.01)


def test_apply_raises_and_changes_nothing_when_quantity_not_positive():
    p = Position(BTC)
    with pytest.raises(ValueError, match="must be > 0"):
        p.apply(1, 0, 10000, 0.0)
    assert p.lots == 0 and p.n_fills == 0


def test_balances_and_equity_follow_fills_when_round_trip():
    pf = Portfolio(INSTRUMENTS)
    pf.set_balance("test", "USDT", 1000.0)
    for f in [fill(Side.BUY, 2000, 10000, 0.2, "a"), fill(Side.BUY, 1000, 10300, 0.1, "b"),
              fill(Side.SELL, 1500, 10500, 0.15, "c"), fill(Side.SELL, 2500, 9900, 0.25, "d"),
              fill(Side.BUY, 1000, 9800, 0.0, "e")]:
        pf.apply_fill(f)
    assert pf.lots("test", "BTCUSDT") == 0
    assert pf.balance("test", "BTC") == pytest.approx(0.0, abs=1e-12)
    assert pf.balance("test", "USDT") == pytest.approx(1003.3, abs=1e-9)
    assert pf.realized_pnl() == pytest.approx(3.3, abs=1e-12)
    assert pf.fees() == pytest.approx(0.7, abs=1e-12)
    assert pf.equity("USDT") == pytest.approx(1003.3, abs=1e-9)


def test_equity_raises_when_a_balance_has_no_mark():
    pf = Portfolio(INSTRUMENTS)
    pf.apply_fill(fill(Side.BUY, 1000, 10000))
    with pytest.raises(ValueError, match="test:BTC"):
        pf.equity("USDT")
    pf.mark("test", "BTCUSDT", 101.0)
    assert pf.equity("USDT") == pytest.approx(-100.0 + 101.0)


def test_position_raises_when_instrument_unknown():
    with pytest.raises(UnknownInstrument, match="nope:XYZ"):
        Portfolio(INSTRUMENTS).position("nope", "XYZ")


fills_st = st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]),
                              st.integers(1, 5000), st.integers(5000, 15000),
                              st.floats(-0.05, 0.5, allow_nan=False)), min_size=1, max_size=40)


@settings(max_examples=200, deadline=None)
@given(fills_st, st.integers(5000, 15000))
def test_pnl_view_equals_cash_view_when_fills_random(seq, mark_ticks):
    """realized (net of fees) + unrealized == change of the spot account's value: two
    independent bookkeepings of the same fills must agree."""
    pf = Portfolio(INSTRUMENTS)
    pf.set_balance("test", "USDT", 0.0)
    net = 0
    for i, (side, lots, ticks, fee) in enumerate(seq):
        pf.apply_fill(fill(side, lots, ticks, fee, str(i)))
        net += int(side) * lots
    assert pf.lots("test", "BTCUSDT") == net               # exact, in lots
    mark = BTC.price(mark_ticks)
    pf.mark("test", "BTCUSDT", mark)
    pnl = pf.realized_pnl() + pf.unrealized_pnl()
    assert pf.equity("USDT") == pytest.approx(pnl, abs=1e-6)
