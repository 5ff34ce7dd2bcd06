"""The order state machine: every allowed transition works, every other one is an error that
changes nothing."""
from __future__ import annotations

import itertools

import pytest

from tradecore.core.orders import TERMINAL, Order, OrderStatus, OrderType, Side
from tradecore.execution.state import ALLOWED, InvalidTransition, can_transition, transition

S = OrderStatus
ALLOWED_PAIRS = [(a, b) for a, nxt in ALLOWED.items() for b in sorted(nxt)]
FORBIDDEN_PAIRS = [(a, b) for a, b in itertools.product(S, S) if b not in ALLOWED[a]]


def _order(status: OrderStatus) -> Order:
    o = Order("c1", "test", "BTCUSDT", Side.BUY, OrderType.LIMIT, 10, 100)
    o.status = status
    o.ts_last_ns = 5
    return o


def test_table_covers_every_status():
    assert set(ALLOWED) == set(S)


@pytest.mark.parametrize(("a", "b"), ALLOWED_PAIRS, ids=lambda s: s.name)
def test_transition_moves_status_when_allowed(a, b):
    o = _order(a)
    transition(o, b, ts_ns=9)
    assert o.status is b and o.ts_last_ns == 9
    assert can_transition(a, b)


@pytest.mark.parametrize(("a", "b"), FORBIDDEN_PAIRS, ids=lambda s: s.name)
def test_transition_raises_and_changes_nothing_when_forbidden(a, b):
    o = _order(a)
    with pytest.raises(InvalidTransition) as e:
        transition(o, b, ts_ns=9)
    assert o.status is a and o.ts_last_ns == 5
    assert e.value.client_order_id == "c1"
    assert e.value.current is a and e.value.requested is b
    assert f"{a.name} -> {b.name}" in str(e.value) and "'c1'" in str(e.value)


def test_terminal_statuses_allow_nothing():
    for t in TERMINAL:
        assert ALLOWED[t] == frozenset()


def test_denied_only_reachable_from_initialized():
    assert [a for a, nxt in ALLOWED.items() if S.DENIED in nxt] == [S.INITIALIZED]


def test_accepted_cannot_be_rejected():
    # a venue that "rejects" an order it had accepted must be seen, not absorbed
    assert not can_transition(S.ACCEPTED, S.REJECTED)


def test_forbidden_sample_includes_the_classic_mistakes():
    for a, b in [(S.FILLED, S.CANCELED), (S.CANCELED, S.PARTIALLY_FILLED),
                 (S.INITIALIZED, S.ACCEPTED), (S.REJECTED, S.ACCEPTED),
                 (S.FILLED, S.PARTIALLY_FILLED), (S.EXPIRED, S.FILLED)]:
        assert (a, b) in FORBIDDEN_PAIRS
