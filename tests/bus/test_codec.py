"""The bus encoding: every message kind survives encode -> decode unchanged (property tests),
and anything that is not a whole, valid message is refused with the field that is wrong."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from tradecore.bus.codec import (BookMsg, BusDecodeError, CancelCmd, Done, EventMsg, ExecEnd,
                                 FeedEnd, OrderState, Ready, RiskMsg, StaleMsg, SubmitCmd,
                                 TradeMsg, decode, encode)
from tradecore.core.events import Trade
from tradecore.core.orders import (DenyReason, Fill, Order, OrderEvent, OrderStatus, OrderType,
                                   Side, TimeInForce)

u64 = st.integers(0, 2**64 - 1)
i64 = st.integers(-2**63, 2**63 - 1)
pos = st.integers(1, 2**62)
text = st.text(max_size=40)
name = st.from_regex(r"[A-Za-z0-9_\-]{1,20}", fullmatch=True)


@st.composite
def levels(draw, snapshot: bool):
    ticks = draw(st.lists(pos, max_size=30, unique=True))
    lots = draw(st.lists(st.integers(1 if snapshot else 0, 2**62), min_size=len(ticks),
                         max_size=len(ticks)))
    return np.array(list(zip(ticks, lots)), dtype=np.int64).reshape(-1, 2)


@st.composite
def books(draw):
    snap = draw(st.booleans())
    return BookMsg(snap, draw(name), draw(name), draw(u64), draw(u64), draw(i64), draw(i64),
                   draw(i64), draw(st.booleans()), draw(text), draw(text),
                   draw(levels(snap)), draw(levels(snap)))


@st.composite
def orders(draw):
    o = Order(draw(text), draw(text), draw(text), draw(st.sampled_from(Side)),
              draw(st.sampled_from(OrderType)), draw(i64), draw(i64), draw(i64),
              draw(st.sampled_from(TimeInForce)), draw(st.booleans()), draw(st.booleans()),
              draw(i64), draw(i64), draw(text), draw(text), draw(text))
    o.ts_created_ns = draw(i64)
    return o


@st.composite
def events(draw):
    fill = draw(st.none() | st.builds(
        Fill, text, text, text, st.sampled_from(Side), i64, i64,
        st.floats(allow_nan=False), text, text, i64))
    ev = OrderEvent(draw(text), draw(st.sampled_from(OrderStatus)), draw(i64), fill, draw(text))
    state = OrderState(int(draw(st.sampled_from(OrderStatus))), draw(i64),
                       draw(st.floats(allow_nan=False)), draw(st.floats(allow_nan=False)),
                       int(draw(st.sampled_from(DenyReason))), draw(i64), draw(text), draw(text))
    return EventMsg(draw(u64), draw(i64), draw(text), ev, state)


messages = st.one_of(
    books(),
    st.builds(TradeMsg, u64, i64, st.builds(Trade, text, text, text, text, st.sampled_from([1, -1]),
                                            text, i64, i64, st.booleans())),
    st.builds(StaleMsg, text, text, u64, u64, i64, text),
    st.builds(FeedEnd, u64, i64),
    st.builds(SubmitCmd, text, u64, orders()),
    st.builds(CancelCmd, text, u64, text, text),
    st.builds(Done, text, u64, st.integers(0, 2**32 - 1), u64),
    events(),
    st.builds(Ready, u64, st.integers(0, 2**32 - 1), i64, u64, st.booleans(),
              st.lists(text, max_size=5).map(tuple)),
    st.builds(RiskMsg, u64, i64, st.integers(0, 255), text),
    st.builds(ExecEnd, i64, u64),
)


def _same(a, b) -> None:
    assert type(a) is type(b)
    if isinstance(a, BookMsg):
        for f in BookMsg.__dataclass_fields__:
            x, y = getattr(a, f), getattr(b, f)
            if isinstance(x, np.ndarray):
                assert np.array_equal(x, y) and y.shape == (len(x), 2)
            else:
                assert x == y, f
    elif isinstance(a, SubmitCmd):
        assert (a.node, a.cmd_seq) == (b.node, b.cmd_seq)
        for f in Order.__dataclass_fields__:
            assert getattr(a.order, f) == getattr(b.order, f), f
    else:
        assert a == b


@settings(deadline=None)
@given(messages)
def test_decode_returns_the_message_when_encoded(m):
    _same(m, decode(encode(m)))


@settings(deadline=None)
@given(messages, st.data())
def test_decode_raises_when_the_message_is_cut_short(m, data):
    buf = encode(m)
    cut = data.draw(st.integers(0, len(buf) - 1))
    with pytest.raises(BusDecodeError):
        decode(buf[:cut])


@settings(deadline=None)
@given(messages)
def test_decode_raises_when_bytes_are_left_over(m):
    with pytest.raises(BusDecodeError, match="left over"):
        decode(encode(m) + b"\x00")


@settings(deadline=None)
@given(st.binary(max_size=200))
def test_decode_raises_only_bus_decode_error_when_given_garbage(buf):
    try:
        decode(buf)
    except BusDecodeError:
        pass


@pytest.mark.parametrize("buf, says", [
    (b"", "at least 4"),
    (b"XX\x01\x01", "magic"),
    (b"TC\x09\x01", "version 9"),
    (b"TC\x01\x63", "kind 99"),
    (b"TC\x01\x01" + b"\x00" * 10, "book header cut short"),
])
def test_decode_names_what_is_wrong_when_the_header_is_bad(buf, says):
    with pytest.raises(BusDecodeError, match=says):
        decode(buf)


def test_decode_refuses_a_snapshot_level_with_zero_lots():
    m = BookMsg(True, "v", "s", 1, 1, 0, 0, 0, True, "0.01", "0.001",
                np.array([[100, 0]], dtype=np.int64), np.zeros((0, 2), dtype=np.int64))
    with pytest.raises(BusDecodeError, match="0 lots"):
        decode(encode(m))


def test_decode_refuses_an_unknown_order_status():
    m = CancelCmd("n", 1, "s", "c")
    buf = bytearray(encode(m))
    buf[3] = 20                      # an EVENT header over a cancel body
    with pytest.raises(BusDecodeError, match="event"):
        decode(bytes(buf))
