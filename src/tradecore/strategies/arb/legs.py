"""Multi-leg execution bookkeeping shared by the arbitrage strategies.

A `LegGroup` is the set of orders one opportunity sends together (IOC by default). It follows
each leg's fills from the order events and, once every leg is terminal, tells the strategy what
each leg really did, so that it can apply its imbalance rule (hedge or unwind what did not
match). A group in which any leg did not fill in full is a *failed* group: the strategy starts
its cool-down.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tradecore.core.instrument import Instrument
from tradecore.core.orders import (TERMINAL, Order, OrderEvent, OrderType, TimeInForce,
                                   TradingState)

InstrumentOf = Callable[[str, str], Instrument]
# enum members as module constants: `TradingState.ACTIVE` is a ~190 ns class-attribute lookup on
# Python 3.11, a module global ~30 ns (this is on the tick-to-order path)
_ACTIVE = TradingState.ACTIVE
_LIMIT, _IOC = OrderType.LIMIT, TimeInForce.IOC


def ioc_leg(strategy, venue: str, symbol: str, side, lots: int, ticks: int, tag: str) -> Order:
    """An IOC limit order of the strategy: what Strategy.order(venue, symbol, side, lots,
    price=ticks, tif=IOC, tag=tag) builds, made positionally (the keyword call and its checks
    cost ~1 us on the tick-to-order path) by the strategy's order maker and id sequence (the
    context's compiled ones: Strategy.bind). `side` must be a Side member. ts_created_ns is
    left 0: the OMS stamps it at submit, which follows at once (one clock read fewer)."""
    return strategy._new_order(strategy._next_id(), venue, symbol, side, _LIMIT, lots, ticks,
                               0, _IOC, False, False, 0, 0, strategy.strategy_id, "", tag)


@dataclass(slots=True)
class Leg:
    order: Order
    filled: int = 0              # lots
    notional: float = 0.0        # quote, fees excluded
    fees: float = 0.0
    done: bool = False

    @property
    def avg_price(self) -> float:
        return 0.0 if not self.filled else self.notional / self.filled_base

    @property
    def filled_base(self) -> float:
        return self.filled * self._lot

    _lot: float = 0.0


@dataclass(slots=True)
class LegGroup:
    """The orders of one opportunity, by client order id."""
    opened_ns: int
    expected_edge: float
    legs: dict[str, Leg] = field(default_factory=dict)

    def add(self, order: Order, inst: Instrument) -> Leg:
        leg = Leg(order, _lot=inst.lot_size)
        leg.done = order.is_terminal        # denied at submit: terminal at once
        self.legs[order.client_order_id] = leg
        return leg

    def on_event(self, ev: OrderEvent, inst_of: InstrumentOf) -> Leg | None:
        """Apply an order event; the leg it belonged to, or None."""
        leg = self.legs.get(ev.client_order_id)
        if leg is None:
            return None
        if ev.fill is not None:
            f = ev.fill
            inst = inst_of(leg.order.venue, leg.order.symbol)
            leg.filled += f.qty
            leg.notional += inst.price(f.price) * inst.qty(f.qty)
            leg.fees += f.fee
        if ev.status in TERMINAL:
            leg.done = True
        return leg

    @property
    def done(self) -> bool:
        return all(leg.done for leg in self.legs.values())

    @property
    def complete(self) -> bool:
        """Every leg filled in full."""
        return all(leg.filled == leg.order.qty for leg in self.legs.values())

    def realized(self) -> float:
        """Quote PnL of the group's fills: sells minus buys minus fees (meaningful for a
        complete cross-venue pair; a triangle's legs are in different currencies)."""
        total = 0.0
        for leg in self.legs.values():
            total += -int(leg.order.side) * leg.notional - leg.fees
        return total


def may_take(strategy, now: int, books) -> bool:
    """The checks both arbitrage strategies make between seeing an opportunity and taking it,
    in this order; a refusal is counted on the strategy with its reason. `strategy` has
    `group`, `cooldown_until`, `stale_ns` (its stale_ms setting in ns), `ctx` and `count`;
    `books` are the books the legs would trade on."""
    if strategy.group is not None:
        strategy.count("skip_in_flight")
        return False
    if now < strategy.cooldown_until:
        strategy.count("skip_cooldown")
        return False
    if strategy._ctx.trading_state() is not _ACTIVE:  # bound: skip the `ctx` property;
        strategy.count("skip_risk_state")             # a member: compared by identity
        return False
    stale = strategy.stale_ns
    if stale:
        for b in books:                   # a loop, not any(<generator>): no frame per check
            if b is not None and now - b.ts_ns > stale:
                strategy.count("skip_stale_book")
                return False
    return True
