"""Test doubles for the OMS tests: a gate with the contract's methods and a scriptable venue.

FakeGate implements only what the contract names, with simple rules (reconciling, HALTED,
REDUCING, a max order quantity, a scripted deny) so the engine's handling of each verdict can be
tested without the compiled gate; the integration tests use the real RiskGate when present.
FakeVenue records what the engine sends and lets a test answer like a venue would.
"""
from __future__ import annotations

from collections import Counter

from tradecore.core.clock import SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import DenyReason, Fill, Order, Side, TradingState
from tradecore.execution.venue import VenueClient, VenueOrderState

BTC = Instrument("test", "BTCUSDT", tick="0.01", lot="0.001", base="BTC", quote="USDT",
                 maker_fee=0.0, taker_fee=0.001)
ETH = Instrument("test", "ETHUSDT", tick="0.01", lot="0.01", base="ETH", quote="USDT")
INSTRUMENTS = {BTC.key: BTC, ETH.key: ETH}


class FakeGate:
    def __init__(self, max_qty: int = 10**9) -> None:
        self.state = TradingState.ACTIVE
        self.state_reason = ""
        self.reconciling = False
        self.max_qty = max_qty
        self.denials: Counter = Counter()
        self.deny_ids: dict[str, DenyReason] = {}
        self.open_ids: set[str] = set()
        self.done_ids: list[str] = []
        self.fills: list[Fill] = []
        self.positions: dict[tuple[str, str], int] = {}
        self.balances: dict[tuple[str, str], float] = {}
        self.mids: dict[tuple[str, str], float] = {}
        self.cancel_checks = 0

    def add_instrument(self, inst, limits=None) -> None:
        return None

    def update_mid(self, venue, symbol, mid, ts_ns) -> None:
        self.mids[(venue, symbol)] = mid

    def check(self, o: Order) -> DenyReason:
        r = DenyReason.NONE
        if self.reconciling:
            r = DenyReason.RECONCILING
        elif self.state is TradingState.HALTED:
            r = DenyReason.HALTED
        elif self.state is TradingState.REDUCING and not o.reduce_only:
            r = DenyReason.REDUCING_ONLY
        elif o.client_order_id in self.deny_ids:
            r = self.deny_ids[o.client_order_id]
        elif o.qty > self.max_qty:
            r = DenyReason.MAX_ORDER_QTY
        if r:
            self.denials[r] += 1
        return r

    def check_cancel(self, o: Order) -> DenyReason:
        self.cancel_checks += 1
        return DenyReason.NONE

    def on_order_open(self, o: Order) -> None:
        self.open_ids.add(o.client_order_id)

    def on_order_done(self, o: Order) -> None:
        self.open_ids.discard(o.client_order_id)
        self.done_ids.append(o.client_order_id)

    def on_fill(self, f: Fill) -> None:
        self.fills.append(f)
        k = (f.venue, f.symbol)
        self.positions[k] = self.positions.get(k, 0) + int(f.side) * f.qty

    def set_position(self, venue, symbol, lots) -> None:
        self.positions[(venue, symbol)] = lots

    def set_balance(self, venue, asset, free) -> None:
        self.balances[(venue, asset)] = free

    def set_state(self, state, reason) -> None:
        self.state = TradingState(state)
        self.state_reason = reason


class FakeVenue(VenueClient):
    """Records submits and cancels; the test answers through `listener`."""

    def __init__(self, name: str = "test") -> None:
        self.name = name
        self.listener = None
        self.submitted: list[Order] = []
        self.canceled: list[str] = []
        self.venue_open: list[VenueOrderState] = []
        self.venue_fills: list[Fill] = []
        self._n = 0
        self._trade = 0

    def set_listener(self, listener) -> None:
        self.listener = listener

    def submit(self, order: Order) -> None:
        self.submitted.append(order)

    def cancel(self, order: Order) -> None:
        self.canceled.append(order.client_order_id)

    async def open_orders(self) -> list[VenueOrderState]:
        return list(self.venue_open)

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        return [f for f in self.venue_fills if f.ts_ns >= ts_ns]

    # -- scripting ------------------------------------------------------------------------
    def ack(self, cid: str, ts: int = 1) -> None:
        self._n += 1
        self.listener.on_order_accepted(cid, f"V{self._n}", ts)

    def make_fill(self, o: Order, qty: int, price: int, fee: float = 0.0, ts: int = 2,
                  trade_id: str | None = None) -> Fill:
        self._trade += 1
        return Fill(o.client_order_id, self.name, o.symbol, o.side, qty, price, fee, "taker",
                    trade_id or f"T{self._trade}", ts)

    def fill(self, o: Order, qty: int, price: int, fee: float = 0.0, ts: int = 2) -> Fill:
        f = self.make_fill(o, qty, price, fee, ts)
        self.listener.on_fill(f)
        return f


def make_engine(gate=None, venue=None, journal=None, clock=None):
    from tradecore.execution.engine import ExecutionEngine
    from tradecore.execution.journal import NullJournal
    gate = gate or FakeGate()
    venue = venue or FakeVenue()
    clock = clock or SimClock(1_000)
    eng = ExecutionEngine(gate, {venue.name: venue}, journal or NullJournal(), clock,
                          INSTRUMENTS)
    return eng, gate, venue, clock


def order(cid: str, side: Side = Side.BUY, qty: int = 1000, price: int = 0, **kw) -> Order:
    from tradecore.core.orders import OrderType
    typ = kw.pop("type", OrderType.LIMIT if price else OrderType.MARKET)
    return Order(cid, kw.pop("venue", "test"), kw.pop("symbol", "BTCUSDT"), side, typ, qty,
                 price, **kw)


__all__ = ["BTC", "ETH", "INSTRUMENTS", "FakeGate", "FakeVenue", "make_engine", "order"]
