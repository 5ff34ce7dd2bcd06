"""The Order record's slot layout, for the compiled readers on the order path (_fast/slots.pxd,
_fast/orderrec.pxd): the spec check in oms.add and the journal's intent line.

The execution layer uses these two kernels directly (DESIGN.md draws execution -> risk, core):
they read the order record, which is this layer's, and they are ~2k instructions a submit
cheaper than the Python they stand in for (docs/execution.md, "compiled order record")."""
from __future__ import annotations

from dataclasses import MISSING, fields

from tradecore._fast.orderrec import IntentLine, OrderIds, OrderMaker, OrderSpec
from tradecore._fast.slots import SlotLayout
from tradecore.core.orders import Order, OrderType, Side, TimeInForce

ORDER_LAYOUT = SlotLayout(Order, [f.name for f in fields(Order)])
# plain_ok(order, now_ns): True only for a well-formed order of the plain shape; False: ask
# oms.check_spec, the reference, which accepts or explains
ORDER_SPEC = OrderSpec(ORDER_LAYOUT, OrderType, TimeInForce, Side)
spec_plain_ok = ORDER_SPEC.plain_ok
# write(buf, pos, order): the intent line at buf[pos:], its end; -1: orjson's path writes it
write_intent = IntentLine(ORDER_LAYOUT, Side, OrderType, TimeInForce).write


def intent_line() -> IntentLine:
    """A writer of its own (a journal's: it counts what it wrote)."""
    return IntentLine(ORDER_LAYOUT, Side, OrderType, TimeInForce)
# new_order(<Order's first sixteen fields>): Order(...) of the same values, made in C
new_order = OrderMaker(ORDER_LAYOUT, [None if f.default is MISSING else f.default
                                      for f in fields(Order)]).new


def order_ids(prefix: str):
    """prefix + "1", prefix + "2", ... made in C (a strategy's order ids: engine.py)."""
    return OrderIds(prefix).next
