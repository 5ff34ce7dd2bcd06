"""The one order state machine: which status may follow which, checked on every change.

Every status change of an `Order` goes through `transition`; a change the table does not allow
raises `InvalidTransition` (naming the order, where it was and where it was asked to go) and
leaves the order exactly as it was. Nothing else in the OMS assigns `order.status`.

The table (from -> allowed next statuses):

| from             | to                                                                        |
|------------------|---------------------------------------------------------------------------|
| INITIALIZED      | DENIED, SUBMITTED                                                         |
| SUBMITTED        | ACCEPTED, REJECTED, PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED,  |
|                  | EXPIRED, TRIGGERED                                                        |
| ACCEPTED         | PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED, EXPIRED, TRIGGERED    |
| TRIGGERED        | PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED, EXPIRED, REJECTED     |
| PARTIALLY_FILLED | PARTIALLY_FILLED, FILLED, PENDING_CANCEL, CANCELED, EXPIRED               |
| PENDING_CANCEL   | CANCELED, FILLED, EXPIRED, ACCEPTED, PARTIALLY_FILLED, TRIGGERED          |
| DENIED, FILLED, CANCELED, REJECTED, EXPIRED (terminal) | nothing                             |

Why these and not fewer:
- SUBMITTED -> fills/terminal states directly: an IOC or market order is often answered with
  its fills (or its expiry) before, or instead of, a separate acknowledgement.
- PARTIALLY_FILLED -> PARTIALLY_FILLED: each further partial fill is a (validated) event.
- PENDING_CANCEL -> ACCEPTED / PARTIALLY_FILLED / TRIGGERED: the cancel was rejected, so the
  order goes back to what it was (the OMS remembers which); -> FILLED: the order filled before
  the cancel reached the venue. A partial fill while a cancel is pending keeps PENDING_CANCEL
  (the fill is applied, the status does not change, so no transition is asked for).
- TRIGGERED -> REJECTED: a stop whose child order the venue refused once it triggered.
- ACCEPTED -> REJECTED is not allowed: once a venue has accepted an order, it cancels or
  expires it; a "reject" after that is a venue bug that must be seen, not absorbed.
"""
from __future__ import annotations

from tradecore.core.orders import Order, OrderStatus

__all__ = ["ALLOWED", "FastStatus", "InvalidTransition", "can_transition", "transition"]

S = OrderStatus

ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.INITIALIZED: frozenset({S.DENIED, S.SUBMITTED}),
    S.SUBMITTED: frozenset({S.ACCEPTED, S.REJECTED, S.PARTIALLY_FILLED, S.FILLED,
                            S.PENDING_CANCEL, S.CANCELED, S.EXPIRED, S.TRIGGERED}),
    S.ACCEPTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED,
                           S.EXPIRED, S.TRIGGERED}),
    S.TRIGGERED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL, S.CANCELED,
                            S.EXPIRED, S.REJECTED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.PENDING_CANCEL,
                                   S.CANCELED, S.EXPIRED}),
    S.PENDING_CANCEL: frozenset({S.CANCELED, S.FILLED, S.EXPIRED, S.ACCEPTED,
                                 S.PARTIALLY_FILLED, S.TRIGGERED}),
    S.DENIED: frozenset(),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

# The hot path's lookup: _OK[from][to], indexed by the enums' int values. (Membership of an
# enum member in a set calls Enum.__hash__, a Python function: ~10x slower than indexing.)
_N = max(S) + 1
_OK: tuple[tuple[bool, ...], ...] = tuple(
    tuple(S(b) in ALLOWED[S(a)] for b in range(_N)) for a in range(_N))


# `OrderStatus.ACCEPTED` is an enum member descriptor lookup, ~200 ns on Python 3.11; the same
# members as plain class attributes cost ~40. The OMS and the engine write `S.ACCEPTED` with
# this S on their per-event paths.
FastStatus = type("FastStatus", (), {m.name: m for m in OrderStatus})


class InvalidTransition(Exception):
    """An order was asked to move to a status the state machine does not allow from where it
    is. The order was not changed."""

    def __init__(self, client_order_id: str, current: OrderStatus, requested: OrderStatus,
                 detail: str = "") -> None:
        self.client_order_id = client_order_id
        self.current = OrderStatus(current)
        self.requested = OrderStatus(requested)
        self.detail = detail
        msg = (f"order {client_order_id!r}: invalid transition {self.current.name} -> "
               f"{self.requested.name}")
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return _OK[current][new]


def transition(order: Order, new_status: OrderStatus, ts_ns: int = 0, detail: str = "") -> None:
    """Move `order` to `new_status` (and stamp `ts_last_ns` when ts_ns is given), or raise
    InvalidTransition and change nothing."""
    cur = order.status
    if not _OK[cur][new_status]:
        raise InvalidTransition(order.client_order_id, cur, new_status, detail)
    order.status = new_status
    if ts_ns:
        order.ts_last_ns = ts_ns
