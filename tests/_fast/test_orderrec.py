"""The compiled order-record readers against their Python references: the spec check
(execution/oms.check_spec) and the journal's intent line (orjson, execution/journal.py)."""
from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradecore._fast.orderrec import INTENT_FIELDS
from tradecore._fast.slots import SlotLayout
from tradecore.core.orders import Order, OrderType, Side, TimeInForce
from tradecore.execution.oms import OrderSpecError, check_spec
from tradecore.execution.order_layout import ORDER_LAYOUT, spec_plain_ok, write_intent

NOW = 1_700_000_000_000_000_000

ints = st.one_of(st.integers(-3, 3), st.integers(-2**70, 2**70), st.just(NOW + 1))
odd = st.one_of(st.none(), st.floats(-5, 5), st.just(True), st.just("1"))
text = st.one_of(st.text(max_size=12), st.sampled_from(["", "x-1", 'a"b', "a\\b", "é", "a\nb"]))


@st.composite
def orders(draw, plain: bool = False):
    def num(s=ints):
        return draw(s if plain else st.one_of(s, s, s, odd))
    return Order(draw(text), draw(text), draw(text),
                 draw(st.sampled_from(list(Side)) if plain else
                      st.one_of(st.sampled_from(list(Side)), st.just(1), odd)),
                 draw(st.sampled_from(list(OrderType)) if plain else
                      st.one_of(st.sampled_from(list(OrderType)), st.just(1))),
                 num(), num(), num(),
                 draw(st.sampled_from(list(TimeInForce)) if plain else
                      st.one_of(st.sampled_from(list(TimeInForce)), st.just(3))),
                 draw(st.booleans() if plain else st.one_of(st.booleans(), st.just(0))),
                 draw(st.booleans()), num(), num(), draw(text), draw(text), draw(text),
                 ts_created_ns=num())


PRICED = {OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT}
TRIGGERED = {OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT,
             OrderType.TAKE_PROFIT_LIMIT}


@st.composite
def near_valid_orders(draw):
    """A well-formed order of every type and TIF, then (half the time) one field broken."""
    t = draw(st.sampled_from(list(OrderType)))
    tif = draw(st.sampled_from(list(TimeInForce)))
    pos = st.integers(1, 2**63 - 1)
    o = Order(draw(st.text("abc-1", min_size=1, max_size=8)), "binance", "BTCUSDT",
              draw(st.sampled_from(list(Side))), t, draw(pos),
              draw(pos) if t in PRICED else 0, draw(pos) if t in TRIGGERED else 0, tif,
              draw(st.booleans()) if t is OrderType.LIMIT and tif in (
                  TimeInForce.GTC, TimeInForce.GTD) else False,
              draw(st.booleans()),
              draw(st.integers(NOW + 1, 2**63 - 1)) if tif is TimeInForce.GTD else 0,
              draw(pos) if t is OrderType.TRAILING_STOP else 0)
    if draw(st.booleans()):
        field = draw(st.sampled_from(["qty", "price", "trigger_price", "trail_ticks",
                                      "expire_ns", "post_only", "client_order_id"]))
        setattr(o, field, draw(st.one_of(st.integers(-2, 2), st.just(NOW), st.just(True),
                                         st.just(""), st.just(2**63))))
    return o


@given(near_valid_orders())
@settings(max_examples=4000, deadline=None)
def test_plain_ok_when_orders_are_near_valid_agrees_with_the_reference(o):
    plain = all(type(v) is int and -2**63 <= v < 2**63 for v in
                (o.qty, o.price, o.trigger_price, o.trail_ticks, o.expire_ns)) and \
        type(o.post_only) is bool and type(o.client_order_id) is str
    if plain:
        assert spec_plain_ok(o, NOW) == reference_ok(o)
    else:                                    # not plain: never accepted by the compiled check
        assert not spec_plain_ok(o, NOW)


def reference_ok(o: Order) -> bool:
    try:
        check_spec(o, NOW)
    except (OrderSpecError, TypeError, KeyError, IndexError, AttributeError):
        return False
    return True


@given(orders())
@settings(max_examples=3000, deadline=None)
def test_plain_ok_when_it_accepts_the_reference_accepts_too(o):
    if spec_plain_ok(o, NOW):
        assert reference_ok(o)


@given(orders(plain=True))
@settings(max_examples=3000, deadline=None)
def test_plain_ok_when_the_order_is_plain_agrees_with_the_reference(o):
    in_range = all(isinstance(v, int) and -2**63 <= v < 2**63 for v in
                   (o.qty, o.price, o.trigger_price, o.trail_ticks, o.expire_ns))
    if in_range and o.client_order_id:
        assert spec_plain_ok(o, NOW) == reference_ok(o)


def orjson_line(o: Order) -> bytes:
    return orjson.dumps(["I"] + [getattr(o, f) for f in INTENT_FIELDS],
                        option=orjson.OPT_APPEND_NEWLINE)


@given(orders(), st.integers(0, 40))
@settings(max_examples=3000, deadline=None)
def test_intent_line_when_written_is_orjsons_bytes_else_nothing_is_written(o, pos):
    buf = bytearray(b"\xee" * 2048)
    end = write_intent(buf, pos, o)
    if end < 0:
        assert buf == bytearray(b"\xee" * 2048)          # refused: not a byte changed
        return
    assert bytes(buf[pos:end]) == orjson_line(o)
    assert buf[:pos] == b"\xee" * pos and buf[end:] == b"\xee" * (2048 - end)


def test_intent_line_when_a_string_needs_escapes_or_is_not_ascii_is_refused():
    base = dict(client_order_id="c", venue="v", symbol="S", side=Side.BUY,
                type=OrderType.LIMIT, qty=1, price=1)
    for tag in ('a"b', "a\\b", "a\nb", "é", "\x7f"):
        assert write_intent(bytearray(512), 0, Order(**base, tag=tag)) == -1
    assert write_intent(bytearray(512), 0, Order(**base, tag="ok")) > 0


def test_intent_line_when_the_buffer_has_no_room_is_refused():
    o = Order("c", "v", "S", Side.BUY, OrderType.LIMIT, 1, 1)
    n = len(orjson_line(o))
    assert write_intent(bytearray(n), 0, o) == n
    assert write_intent(bytearray(n), 1, o) == -1
    with pytest.raises(BufferError):
        write_intent(b"read-only bytes" * 20, 0, o)


def test_slot_layout_when_the_class_or_field_is_not_a_slot_refuses():
    @dataclass
    class Plain:
        a: int = 0

    @dataclass(slots=True)
    class Slotted:
        a: int = 0

    with pytest.raises(TypeError, match="not a slot"):
        SlotLayout(Plain, ["a"])
    with pytest.raises(TypeError, match="not a slot"):
        SlotLayout(Slotted, ["b"])
    lay = SlotLayout(Slotted, ["a"])
    assert lay.read(Slotted(7), 0) == 7
    with pytest.raises(TypeError, match="expected a"):
        lay.read(Plain(), 0)
    unset = object.__new__(Slotted)
    with pytest.raises(AttributeError, match="not set"):
        lay.read(unset, 0)
    assert ORDER_LAYOUT.n == len(Order.__slots__)


@given(st.lists(st.tuples(st.sampled_from(["binance", "kraken", 'b"x']),
                          st.sampled_from(["BTCUSDT", "ETHUSDT", "é"]),
                          st.sampled_from(["xarb", "pairs"]), st.integers(1, 10**6)),
                min_size=1, max_size=20))
@settings(max_examples=300, deadline=None)
def test_intent_line_when_strings_repeat_between_orders_writes_each_like_orjson(rows):
    """The writer remembers the last string object of each field (venue, symbol, ... repeat
    from order to order) and copies it without re-checking: the bytes stay orjson's."""
    from tradecore._fast.orderrec import IntentLine
    line = IntentLine(ORDER_LAYOUT, Side, OrderType, TimeInForce).write
    for venue, symbol, sid, n in rows:
        o = Order(f"c{n}", venue, symbol, Side.SELL, OrderType.LIMIT, n, n + 1, strategy_id=sid)
        buf = bytearray(600)
        end = line(buf, 0, o)
        if venue == 'b"x' or symbol == "é":
            assert end == -1
        else:
            assert bytes(buf[:end]) == orjson_line(o)


def test_intent_line_when_a_string_is_over_200_characters_is_refused():
    o = Order("c", "v", "S", Side.BUY, OrderType.LIMIT, 1, 1, tag="t" * 201)
    assert write_intent(bytearray(4096), 0, o) == -1
    o.tag = "t" * 200
    assert write_intent(bytearray(4096), 0, o) > 0


# -- the order maker and the id sequence ------------------------------------------------------

anything = st.one_of(st.none(), ints, odd, text, st.sampled_from(list(Side)), st.booleans())


@settings(max_examples=300)
@given(st.lists(anything, min_size=16, max_size=16))
def test_order_maker_when_given_any_sixteen_values_makes_what_the_class_makes(values):
    import gc
    import sys
    from tradecore.execution.order_layout import new_order
    made, ref = new_order(*values), Order(*values)
    assert type(made) is Order and made == ref
    assert [getattr(made, n) for n in ORDER_LAYOUT.names] == \
        [getattr(ref, n) for n in ORDER_LAYOUT.names]
    assert gc.is_tracked(made) and sys.getrefcount(made) == sys.getrefcount(ref)
    made.qty = 7                                  # an ordinary instance: fields assignable
    assert made.qty == 7


def test_order_maker_when_the_class_cannot_be_made_by_slots_refuses():
    from dataclasses import field
    from tradecore._fast.orderrec import OrderMaker

    @dataclass(slots=True)
    class Post:
        a: int

        def __post_init__(self):
            self.a += 1

    @dataclass(slots=True)
    class Factory:
        a: int
        b: list = field(default_factory=list)

    with pytest.raises(TypeError, match="__post_init__"):
        OrderMaker(SlotLayout(Post, ["a"]), [None])
    with pytest.raises(TypeError, match="default_factory"):
        OrderMaker(SlotLayout(Factory, ["a", "b"]), [None, None])
    with pytest.raises(TypeError, match="every field"):
        OrderMaker(SlotLayout(Order, ["venue", "client_order_id"]), [None, None])
    with pytest.raises(TypeError, match="defaults"):
        OrderMaker(ORDER_LAYOUT, [None])


@given(st.text(max_size=20), st.integers(1, 2**62), st.integers(1, 30))
def test_order_ids_when_drawn_are_the_f_string_sequence(prefix, start, k):
    from tradecore._fast.orderrec import OrderIds
    ids = OrderIds(prefix, start)
    assert [ids.next() for _ in range(k)] == [f"{prefix}{n}" for n in range(start, start + k)]
    assert ids.last == start + k - 1


def test_strategy_when_bound_to_the_node_makes_orders_and_ids_in_c_as_unbound_in_python():
    from tradecore.bench.tick_to_order import bench_config
    from tradecore.engine import TradingNode
    from tradecore.execution.order_layout import new_order
    from tradecore.strategies.base import Strategy
    node = TradingNode(bench_config())
    s = node.strategies[0]
    assert s._new_order is new_order
    bound = [s.order("binance", "BTCUSDT", Side.BUY, 5, price=100, tag="t") for _ in range(2)]
    free = Strategy(s.strategy_id)
    free._time_ns = node.clock.time_ns              # unbound: Order and the f-string ids
    free._id_prefix = s._id_prefix
    from tradecore.strategies.base import _python_ids
    free._next_id = _python_ids(s._id_prefix)
    plain = [free.order("binance", "BTCUSDT", Side.BUY, 5, price=100, tag="t") for _ in range(2)]
    assert bound == plain and bound[1].client_order_id.endswith("-2")
