"""The compiled order-frame encoders (_fast/wire.pyx) against their plain-Python references
(venues/binance/execution._encode_order_session_py, _encode_order_py and _Grid): the same
bytes, the same refusals, for any order shape, grid, size, price and id, signed or not."""
from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore._fast.wire import BinanceSessionPlace
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderType, Side, TimeInForce
from tradecore.venues.binance.execution import (UnsupportedOrder, _codec, _encode_order_py,
                                                _encode_order_session_py, _Grid, _signer,
                                                encode_order, encode_order_session,
                                                session_encoder)

STEPS = ["0.01", "0.00001", "0.1", "1", "10", "0.00000001", "0.5", "0.25", "5", "100",
         "0.0025", "1000"]
INT64 = 2**63 - 1


def _encoder(step: str) -> BinanceSessionPlace:
    g = _Grid(step)
    return BinanceSessionPlace(g.m, g.k, g.m, g.k, {}, UnsupportedOrder)


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(STEPS), st.integers(-10**12, 10**15))
def test_grid_text_equals_the_python_grid_when_any_step_and_count(step, n):
    enc = _encoder(step)
    ref = _Grid(step)._text(n)
    assert enc.price_text(n) == ref
    assert enc.qty_text(n) == ref
    assert Decimal(ref) == n * Decimal(step)


def test_grid_text_raises_overflow_when_the_value_does_not_fit_64_bits():
    enc = _encoder("1000")
    with pytest.raises(OverflowError, match="does not fit"):
        enc.price_text(INT64 // 10)
    assert enc.qty_text(INT64 // 1000) == str(INT64 // 1000 * 1000)


def test_grid_text_writes_the_extremes_when_int64_min_and_max():
    enc = _encoder("0.00000001")
    assert enc.price_text(INT64) == _Grid("0.00000001")._text(INT64)
    assert enc.price_text(-INT64 - 1) == _Grid("0.00000001")._text(-INT64 - 1)


_COID = st.text(st.sampled_from("aZ09.:/_-# é\n\"x"), min_size=0, max_size=40)


# any order of any shape on any grid, with any timestamp and receive window
_ANY_ORDER = dict(
    coid=_COID | st.from_regex(r"[A-Za-z0-9._:/-]{1,36}", fullmatch=True),
    side=st.sampled_from([Side.BUY, Side.SELL]),
    typ=st.sampled_from(list(OrderType)), tif=st.sampled_from(list(TimeInForce)),
    post_only=st.booleans(), reduce_only=st.booleans(),
    qty=st.integers(-5, 10**12), price=st.integers(0, 10**12),
    trigger=st.integers(0, 10**12), tick=st.sampled_from(STEPS),
    lot=st.sampled_from(STEPS), ts=st.integers(0, 2**62), rw=st.integers(0, 60_000))


@settings(max_examples=3000, deadline=None)
@given(**_ANY_ORDER)
def test_session_frame_equals_the_python_reference_when_any_order(
        coid, side, typ, tif, post_only, reduce_only, qty, price, trigger, tick, lot, ts, rw):
    inst = Instrument("binance", "ETHBTC", tick=tick, lot=lot, base="ETH", quote="BTC")
    o = Order(coid, "binance", "ETHBTC", side, typ, qty, price, trigger, tif, post_only,
              reduce_only)
    # an Order is read by slot offset, anything else by attribute: both give the reference's
    duck = SimpleNamespace(**{f: getattr(o, f) for f in o.__slots__})
    enc = session_encoder(inst)
    try:
        ref = _encode_order_session_py(o, inst, ts, rw)
    except UnsupportedOrder as e:
        for x in (o, duck):
            with pytest.raises(UnsupportedOrder) as got:
                enc(x, ts, rw)
            assert str(got.value) == str(e)
        return
    assert encode_order_session(o, inst, ts, rw) == ref
    assert enc(duck, ts, rw) == ref


def test_session_frame_refuses_a_quantity_whose_text_overflows_and_changes_nothing():
    inst = Instrument("binance", "BTCUSDT", tick="0.01", lot="100", base="BTC", quote="USDT")
    o = Order("big-1", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, INT64 // 10, 100)
    with pytest.raises(UnsupportedOrder, match="does not fit in 64 bits"):
        encode_order_session(o, inst, 1, 5000)
    ok = Order("ok-1", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 3, 100)
    assert encode_order_session(ok, inst, 1, 5000) == _encode_order_session_py(ok, inst, 1, 5000)


def test_encoder_construction_rejects_a_bad_shape_table_with_its_key():
    with pytest.raises(ValueError, match="shape 17"):
        BinanceSessionPlace(1, 2, 1, 5, {17: (True, False, "not bytes")}, UnsupportedOrder)
    with pytest.raises(ValueError, match="shape 3"):
        BinanceSessionPlace(1, 2, 1, 5, {3: 42}, UnsupportedOrder)
    with pytest.raises(ValueError, match="mantissas"):
        BinanceSessionPlace(0, 2, 1, 5, {}, UnsupportedOrder)


def test_session_encoder_is_encode_order_session_bound_to_one_instrument():
    from tradecore.venues.binance.execution import session_encoder
    inst = Instrument("binance", "BTCUSDT", tick="0.01", lot="0.00001", base="BTC", quote="USDT")
    enc = session_encoder(inst)
    o = Order("leg-7", "binance", "BTCUSDT", Side.SELL, OrderType.LIMIT, 1234, 6_000_001,
              tif=TimeInForce.IOC)
    assert enc(o, 1_700_000_000_000, 5000) == encode_order_session(o, inst, 1_700_000_000_000,
                                                                   5000)
    with pytest.raises(UnsupportedOrder, match="quantity 0 lots"):
        enc(Order("leg-8", "binance", "BTCUSDT", Side.SELL, OrderType.LIMIT, 0, 1), 1, 5000)


@settings(max_examples=3000, deadline=None)
@given(**_ANY_ORDER, key=st.text(st.sampled_from("aZ09-é\"&="), min_size=0, max_size=64),
       secret=st.binary(min_size=0, max_size=80))
def test_signed_frame_equals_the_python_reference_when_any_order_and_key(
        coid, side, typ, tif, post_only, reduce_only, qty, price, trigger, tick, lot, ts, rw,
        key, secret):
    inst = Instrument("binance", "ETHBTC", tick=tick, lot=lot, base="ETH", quote="BTC")
    o = Order(coid, "binance", "ETHBTC", side, typ, qty, price, trigger, tif, post_only,
              reduce_only)
    duck = SimpleNamespace(**{f: getattr(o, f) for f in o.__slots__})
    signed = _codec(inst).signed
    try:
        ref = _encode_order_py(o, inst, key, secret, ts, rw)
    except UnsupportedOrder as e:
        with pytest.raises(UnsupportedOrder) as got:
            encode_order(o, inst, key, secret, ts, rw)
        assert str(got.value) == str(e)
        with pytest.raises(UnsupportedOrder) as got:
            signed(duck, ts, rw, key.encode(), _signer(secret))
        assert str(got.value) == str(e)
        return
    assert encode_order(o, inst, key, secret, ts, rw) == ref
    assert signed(duck, ts, rw, key.encode(), _signer(secret)) == ref


def test_signed_frame_refuses_an_overlong_api_key_and_an_encoder_without_its_texts():
    inst = Instrument("binance", "BTCUSDT", tick="0.01", lot="0.00001", base="BTC",
                      quote="USDT")
    o = Order("k-1", "binance", "BTCUSDT", Side.BUY, OrderType.LIMIT, 3, 100)
    with pytest.raises(ValueError, match="api key of 129 bytes"):
        encode_order(o, inst, "k" * 129, b"s", 1, 5000)
    bare = BinanceSessionPlace(1, 2, 1, 5, {}, UnsupportedOrder)
    with pytest.raises(RuntimeError, match="set_signed"):
        bare.signed(o, 1, 5000, b"k", _signer(b"s"))
    with pytest.raises(ValueError, match="shape 17"):
        bare.set_signed({17: (True, False, "IOC", b"LIMIT")}, b"BTCUSDT")
