"""Triangular arbitrage on one venue: start -> X -> Y -> start over three markets.

At start the strategy enumerates every 3-cycle of its markets that starts and ends in the
configured currency (both directions); after a change to one book the compiled detector
re-evaluates only the cycles that use that market, walking the three books' depth with taker
fees and lot sizes (_fast/arb.pyx).

Execution assumes pre-funded inventory in every currency of the cycle (the way triangular
arbitrage is run on a real venue: the three legs go out together as IOC limit orders at the
worst walked price of each book, not one after the other, which would be three round trips
slower). After every leg is terminal, whatever did not match is unwound into the start
currency with market orders on the cycle's markets that connect each leftover currency
directly to the start currency; the strategy then cools down. Counters as in cross.py.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradecore._fast.arb import TriangularDetector
from tradecore.core.orders import OrderEvent, OrderStatus, OrderType, Side, TimeInForce
from tradecore.strategies.arb.legs import LegGroup, ioc_leg, may_take
from tradecore.strategies.base import Strategy

# enum members as module constants (a class-attribute lookup of an enum member is ~190 ns on
# Python 3.11; these are on the tick-to-order path)
_BUY, _SELL, _IOC, _DENIED = Side.BUY, Side.SELL, TimeInForce.IOC, OrderStatus.DENIED
_LEG_TAGS = ("tri-leg1", "tri-leg2", "tri-leg3")

DEFAULTS: dict[str, Any] = {
    "venue": "",
    "symbols": [],            # the venue's markets to consider
    "start": "USDT",          # cycles start and end in this currency; edges are in it
    "max_start": 1_000.0,     # start currency per opportunity
    "min_edge": 0.0,          # start currency, after fees
    "depth": 20,
    "cooldown_ms": 5_000,
    "stale_ms": 5_000,
}


class TriangularArbitrage(Strategy):

    def __init__(self, strategy_id: str, config: Mapping[str, Any] | None = None) -> None:
        cfg = {**DEFAULTS, **(config or {})}
        unknown = set(cfg) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"{strategy_id}: unknown setting(s) {sorted(unknown)}; expected "
                             f"{sorted(DEFAULTS)}")
        if not cfg["venue"] or len(cfg["symbols"]) < 3:
            raise ValueError(f"{strategy_id}: needs a venue and >= 3 symbols, got "
                             f"venue={cfg['venue']!r} symbols={cfg['symbols']!r}")
        for key in ("max_start", "min_edge", "cooldown_ms", "stale_ms"):
            if not isinstance(cfg[key], (int, float)) or cfg[key] < 0:
                raise ValueError(f"{strategy_id}: {key} must be a number >= 0, got {cfg[key]!r}")
        super().__init__(strategy_id, cfg)
        self.venue: str = cfg["venue"]
        self.symbols: list[str] = list(cfg["symbols"])
        self.books = tuple((self.venue, s) for s in self.symbols)   # type: ignore[assignment]
        self.index = {s: i for i, s in enumerate(self.symbols)}
        self.det = TriangularDetector(len(self.symbols))
        self.det.max_start = float(cfg["max_start"])
        self.det.min_edge = float(cfg["min_edge"])
        self.det.depth = int(cfg["depth"])
        self.ccy: dict[str, int] = {}
        self._bound: list[object] = [None] * len(self.symbols)
        self.group: LegGroup | None = None
        self.cooldown_until = 0
        self.stale_ns = int(cfg["stale_ms"] * 1_000_000)

    def on_start(self) -> None:
        for s in self.symbols:
            inst = self.ctx.instrument(self.venue, s)
            if not inst.base or not inst.quote:
                raise ValueError(f"{self.strategy_id}: {self.venue}:{s} has no base/quote "
                                 f"currency in its instrument; triangles need them")
            for c in (inst.base, inst.quote):
                self.ccy.setdefault(c, len(self.ccy))
        if self.config["start"] not in self.ccy:
            raise ValueError(f"{self.strategy_id}: start currency {self.config['start']!r} is "
                             f"in none of {self.symbols}")
        for s, i in self.index.items():
            inst = self.ctx.instrument(self.venue, s)
            self.det.set_market(i, None, self.ccy[inst.base], self.ccy[inst.quote],
                                inst.taker_fee, inst.lot_size, inst.qty(inst.min_lots))
        n = self.det.build(self.ccy[self.config["start"]])
        self.state["cycles"] = n
        if n == 0:
            raise ValueError(f"{self.strategy_id}: no 3-cycle through {self.config['start']} "
                             f"in {self.symbols}")

    def on_book(self, venue: str, symbol: str, book: Any) -> None:
        i = self.index.get(symbol)
        if i is None or venue != self.venue:
            return
        if self._bound[i] is not book:
            self.det.set_book(i, book)
            self._bound[i] = book
        self.count("checks")
        if not self.det.check(i):
            return
        self.count("seen")
        now = self.ctx.clock.time_ns()
        legs = self.det.cycle_legs(self.det.cycle)
        if not may_take(self, now, [self._bound[m] for m, _ in legs]):
            return
        self._take(now, legs)

    def _take(self, now: int, legs: list[tuple[int, bool]]) -> None:
        d = self.det
        orders = []
        for k, (m, buy) in enumerate(legs):
            sym = self.symbols[m]
            inst = self.ctx.instrument(self.venue, sym)
            price = inst.ticks_near(d.leg_limit[k], up=buy)
            orders.append((inst, ioc_leg(self, self.venue, sym, _BUY if buy else _SELL,
                                         inst.lots_near(d.leg_qty[k]), price,
                                         _LEG_TAGS[k])))
        if any(o.qty <= 0 for _, o in orders):
            self.count("skip_lot_mismatch")
            return
        group = LegGroup(now, d.edge)
        self.group = group
        for k, (inst, o) in enumerate(orders):
            sent = self.submit(o)
            group.add(sent, inst)
            if sent.status == _DENIED:
                if k == 0:
                    self.count(f"skip_risk_denied:{sent.deny_reason.name}")
                    self.group = None
                    return
                self.count(f"leg_denied:{sent.deny_reason.name}")
        self.count("taken")
        self._maybe_finish()

    def on_order_event(self, event: OrderEvent) -> None:
        g = self.group
        if g is None or g.on_event(event, self.ctx.instrument) is None:
            return
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        g = self.group
        if g is None or not g.done:
            return
        self.group = None
        if g.complete:
            self.count("complete")
            return
        self.count("failed_leg")
        self.cooldown_until = self.ctx.clock.time_ns() + self.config["cooldown_ms"] * 1_000_000
        # what each currency gained or lost from the fills (before fees)
        delta: dict[str, float] = {}
        for leg in g.legs.values():
            inst = self.ctx.instrument(leg.order.venue, leg.order.symbol)
            sgn = int(leg.order.side)
            delta[inst.base] = delta.get(inst.base, 0.0) + sgn * leg.filled_base
            delta[inst.quote] = delta.get(inst.quote, 0.0) - sgn * leg.notional
        start = self.config["start"]
        for c, q in delta.items():
            if c == start or abs(q) <= 0.0:
                continue
            self._unwind(c, q, start)

    def _unwind(self, ccy: str, qty: float, start: str) -> None:
        """Bring a leftover of ccy back to the start currency on a ccy/start market."""
        for s in self.symbols:
            inst = self.ctx.instrument(self.venue, s)
            if inst.base == ccy and inst.quote == start:
                lots = inst.round_lots(abs(qty))
                if lots <= 0:
                    self.count("unwind_dust")
                    return
                side = Side.SELL if qty > 0 else Side.BUY
                o = self.submit(self.order(self.venue, s, side, lots, type=OrderType.MARKET,
                                           tif=TimeInForce.IOC, tag="tri-unwind"))
                self.count("leg_imbalance")
                if o.status == OrderStatus.DENIED:
                    self.count(f"unwind_denied:{o.deny_reason.name}")
                return
        self.count("unwind_no_market")
