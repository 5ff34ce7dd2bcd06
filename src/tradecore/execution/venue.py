"""The contract between the execution engine and a venue (paper, simulator, live exchange).

A venue takes orders synchronously (`submit` and `cancel` return at once; nothing is awaited on
the order path) and answers later through the listener, from the event loop's thread: in live
mode when the exchange's reply or user-data event arrives, in paper/backtest when the latency
model's timer fires on the Clock. The execution engine is the only listener; it turns the
answers into validated state transitions.

A venue never changes an `Order` object itself: the OMS owns order state.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from tradecore.core.orders import Fill, Order, OrderStatus, OrderType, Side


class VenueListener(Protocol):
    def on_order_accepted(self, client_order_id: str, venue_order_id: str, ts_ns: int) -> None: ...
    def on_order_rejected(self, client_order_id: str, reason: str, ts_ns: int) -> None: ...
    def on_order_canceled(self, client_order_id: str, reason: str, ts_ns: int) -> None: ...
    def on_order_expired(self, client_order_id: str, ts_ns: int) -> None: ...
    def on_order_triggered(self, client_order_id: str, ts_ns: int) -> None: ...
    def on_cancel_rejected(self, client_order_id: str, reason: str, ts_ns: int) -> None: ...
    def on_fill(self, fill: Fill) -> None: ...


@dataclass(frozen=True, slots=True)
class VenueOrderState:
    """What the venue says about one of its orders (reconciliation after a restart)."""
    client_order_id: str
    venue_order_id: str
    symbol: str
    side: Side
    type: OrderType
    qty: int
    price: int
    filled_qty: int
    status: OrderStatus


class VenueClient(ABC):
    """One venue's order entry. `name` is the venue id used in Order.venue and Instrument.venue."""

    name: str

    @abstractmethod
    def set_listener(self, listener: VenueListener) -> None: ...

    @abstractmethod
    def submit(self, order: Order) -> None:
        """Hand the order to the venue. Must not raise for venue-side problems: those come back
        as on_order_rejected."""

    @abstractmethod
    def cancel(self, order: Order) -> None:
        """Ask the venue to cancel; the answer is on_order_canceled or on_cancel_rejected."""

    @abstractmethod
    async def open_orders(self) -> list[VenueOrderState]:
        """Every order the venue has open now (reconciliation)."""

    @abstractmethod
    async def fills_since(self, ts_ns: int) -> list[Fill]:
        """Every fill of ours with ts_ns >= ts_ns (fills missed while down)."""
