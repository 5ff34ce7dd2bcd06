"""Cross-exchange arbitrage: one instrument on several venues, buy where it is cheap and sell
where it is dear, after taker fees, sized by depth and inventory.

Per book change: the compiled detector re-checks the pairs that include the changed venue
(_fast/arb.pyx). An opportunity becomes two IOC limit orders sent together, each priced at the
worst level the detector walked (so each fills at most the walked depth, never worse). Then:

* both legs filled in full: done; the group's realized PnL is counted;
* one leg filled more than the other (partial fill, a miss, a risk denial after the first leg):
  the excess is *unwound* on the venue of the over-filled leg with a reduce-direction market
  order (sell what was bought, buy back what was sold), counted as `leg_imbalance`; the
  strategy then waits `cooldown_ms` before it takes another opportunity ("failed leg" cool-down).

Every opportunity seen is counted as taken or skipped with the reason: `skip_in_flight` (legs of
the previous one still open), `skip_cooldown`, `skip_stale_book`, `skip_risk_state` (the gate is
not ACTIVE), `skip_risk_denied:<REASON>` (the first leg was denied), `skip_inventory` (the
detector found nothing once balances were applied). `skip_edge` is not counted per book change
(it is the normal case); `checks` counts the re-checks.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradecore._fast.arb import CrossVenueDetector
from tradecore.core.orders import OrderEvent, OrderStatus, OrderType, Side, TimeInForce
from tradecore.strategies.arb.legs import LegGroup, ioc_leg, may_take
from tradecore.strategies.base import BookKey, Strategy

_NO_WAKE = 2**63 - 1
# enum members as module constants (a class-attribute lookup of an enum member is ~190 ns on
# Python 3.11; these are on the tick-to-order path)
_BUY, _SELL, _IOC, _DENIED = Side.BUY, Side.SELL, TimeInForce.IOC, OrderStatus.DENIED
_LIMIT = OrderType.LIMIT

DEFAULTS: dict[str, Any] = {
    "venues": [],             # [[venue, symbol], ...] the same instrument on each venue
    "max_qty": 1.0,           # base units per opportunity
    "min_edge": 0.0,          # quote currency, after fees
    "min_edge_bps": 1.0,      # relative to the buy cost
    "depth": 20,              # levels walked per side
    "cooldown_ms": 5_000,     # after a failed leg
    "stale_ms": 5_000,        # a book not updated for this long is not traded
    "use_balances": True,     # cap sizes by the free balances the engine reports
}


class CrossExchangeArbitrage(Strategy):

    def __init__(self, strategy_id: str, config: Mapping[str, Any] | None = None) -> None:
        cfg = {**DEFAULTS, **(config or {})}
        unknown = set(cfg) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"{strategy_id}: unknown setting(s) {sorted(unknown)}; expected "
                             f"{sorted(DEFAULTS)}")
        venues = [tuple(v) for v in cfg["venues"]]
        if len(venues) < 2 or any(len(v) != 2 for v in venues):
            raise ValueError(f"{strategy_id}: venues must list >= 2 [venue, symbol] pairs, "
                             f"got {cfg['venues']!r}")
        for key in ("max_qty", "min_edge", "min_edge_bps", "cooldown_ms", "stale_ms"):
            if not isinstance(cfg[key], (int, float)) or cfg[key] < 0:
                raise ValueError(f"{strategy_id}: {key} must be a number >= 0, got {cfg[key]!r}")
        super().__init__(strategy_id, cfg)
        self.books = tuple(venues)              # type: ignore[assignment]
        self.index: dict[BookKey, int] = {v: i for i, v in enumerate(venues)}
        self.det = CrossVenueDetector(len(venues))
        self.det.max_qty = float(cfg["max_qty"])
        self.det.min_edge = float(cfg["min_edge"])
        self.det.min_edge_bps = float(cfg["min_edge_bps"])
        self.det.depth = int(cfg["depth"])
        self._bound: list[object] = [None] * len(venues)
        self._slot_of: dict[object, int] = {}      # bound book object -> venue index
        self._inst: list = [None] * len(venues)     # Instrument per venue index (on_start)
        self._balances_dirty = bool(cfg["use_balances"])
        self.group: LegGroup | None = None
        self.cooldown_until = 0
        self.stale_ns = int(cfg["stale_ms"] * 1_000_000)
        self.realized = 0.0
        self.edges_expected = 0.0

    def on_start(self) -> None:
        for (venue, symbol), i in self.index.items():
            # fails at start, not on the first trade
            self._inst[i] = self.ctx.instrument(venue, symbol)

    # -- market data ---------------------------------------------------------------------------
    def on_book(self, venue: str, symbol: str, book: Any) -> None:
        i = self._slot_of.get(book)         # a bound book, by identity: no key to build
        if i is None:
            i = self.index.get((venue, symbol))
            if i is None:
                return
            self._bind(i, book)             # first sight, or a resync's new book object
        c = self.counters                   # count() inlined: this runs on every change
        c["checks"] = c.get("checks", 0) + 1
        if self._balances_dirty:
            self._apply_balances()
        d = self.det
        if not d.check(i):
            return
        c["seen"] = c.get("seen", 0) + 1
        now = self._time_ns()
        bound = self._bound
        opp = d.orders()                    # one call for what _take reads (arb.pxd)
        if not may_take(self, now, (bound[opp[0]], bound[opp[1]])):
            return
        self._take(now, opp)

    def _bind(self, i: int, book: Any) -> None:
        inst = self._inst[i]
        self.det.set_venue(i, book, inst.taker_fee, inst.lot_size, inst.tick_size)
        old = self._bound[i]
        if old is not None:
            self._slot_of.pop(old, None)
        self._bound[i] = book
        self._slot_of[book] = i

    # -- gated replay (strategies/base.py) --------------------------------------------------
    def replay_rule(self, venue: str, symbol: str) -> tuple | None:
        i = self.index.get((venue, symbol))
        return None if i is None else ("cross", self.det, i)

    def replay_wake_ns(self, venue: str, symbol: str, book: Any) -> int | None:
        """When the tops do not cross after fees, on_book only counts `checks` (the replay
        counts the skipped calls), so the rule holds once the book is bound and no balance
        re-read is pending (that read must happen at the same call as per message)."""
        i = self.index.get((venue, symbol))
        if i is None or self._bound[i] is not book or self._balances_dirty:
            return None
        return _NO_WAKE

    def _apply_balances(self) -> None:
        """Balances change only with fills (and at start): re-read them then, not per book."""
        self._balances_dirty = False
        for (venue, symbol), i in self.index.items():
            inst = self.ctx.instrument(venue, symbol)
            base = self.ctx.free_balance(venue, inst.base) if inst.base else float("inf")
            quote = self.ctx.free_balance(venue, inst.quote) if inst.quote else float("inf")
            self.det.set_inventory(i, min(max(base, 0.0), 1e300), min(max(quote, 0.0), 1e300))

    # -- execution -----------------------------------------------------------------------------
    def _take(self, now: int, opp: tuple) -> None:
        # lots and ticks as Instrument.lots_near / ticks_near give them, computed by the
        # detector (set_venue got each instrument's lot and tick); no lots when the two
        # venues' lot counts are not the same quantity (arb.pxd)
        bv_i, sv_i, bq, sq, buy_px, sell_px, edge = opp
        if bq <= 0 or sq <= 0:
            self.count("skip_lot_mismatch")
            return
        bi, si = self._inst[bv_i], self._inst[sv_i]
        (bv, bs), (sv, ss) = self.books[bv_i], self.books[sv_i]
        # the first leg leaves before the second is even built: its bytes are what the
        # tick-to-order figure measures, and every microsecond of it is exposure to the move
        # ioc_leg(self, bv, bs, _BUY, bq, buy_px, "arb-buy") inlined: a frame fewer
        sent = self.submit(self._new_order(self._next_id(), bv, bs, _BUY, _LIMIT, bq, buy_px, 0,
                                           _IOC, False, False, 0, 0, self.strategy_id, "",
                                           "arb-buy"))
        group = LegGroup(now, edge)
        self.group = group
        group.add(sent, bi)
        if sent.status == _DENIED:
            self.count(f"skip_risk_denied:{sent.deny_reason.name}")
            self.group = None
            return
        sent2 = self.submit(ioc_leg(self, sv, ss, _SELL, sq, sell_px, "arb-sell"))
        group.add(sent2, si)
        self.count("taken")
        self.edges_expected += edge
        if sent2.status == _DENIED:
            self.count(f"leg_denied:{sent2.deny_reason.name}")
        self._maybe_finish()

    def on_order_event(self, event: OrderEvent) -> None:
        if event.fill is not None and self.config["use_balances"]:
            self._balances_dirty = True
        g = self.group
        if g is None or g.on_event(event, self.ctx.instrument) is None:
            return
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        g = self.group
        if g is None or not g.done:
            return
        self.group = None
        legs = list(g.legs.values())
        if g.complete:
            self.count("complete")
            self.realized += g.realized()
            return
        self.count("failed_leg")
        self.cooldown_until = self.ctx.clock.time_ns() + self.config["cooldown_ms"] * 1_000_000
        # unwind the excess of the over-filled leg where it was filled
        by_side = {int(leg.order.side): leg for leg in legs}
        b, s = by_side.get(int(Side.BUY)), by_side.get(int(Side.SELL))
        bought = b.filled_base if b else 0.0
        sold = s.filled_base if s else 0.0
        if bought > sold + 1e-12 and b is not None:
            self._unwind(b.order.venue, b.order.symbol, Side.SELL, bought - sold)
        elif sold > bought + 1e-12 and s is not None:
            self._unwind(s.order.venue, s.order.symbol, Side.BUY, sold - bought)
        self.realized += g.realized()

    def _unwind(self, venue: str, symbol: str, side: Side, qty: float) -> None:
        inst = self.ctx.instrument(venue, symbol)
        lots = inst.round_lots(qty)
        if lots <= 0:
            self.count("unwind_dust")
            return
        o = self.submit(self.order(venue, symbol, side, lots, type=OrderType.MARKET,
                                   tif=TimeInForce.IOC, tag="arb-unwind"))
        self.count("leg_imbalance")
        if o.status == OrderStatus.DENIED:
            self.count(f"unwind_denied:{o.deny_reason.name}")
