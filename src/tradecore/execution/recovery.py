"""Restart after a crash: rebuild from the journal, then reconcile with each venue.

Two steps, and the risk gate's `reconciling` flag is True from the first line of the first to the
last line of the second, so every new order is denied with DenyReason.RECONCILING meanwhile:

1. `replay()` reads the journal front to back into a fresh engine, through the same OMS code the
   live path uses (every transition validated again; nothing is written while replaying):
   orders and their states, fills (so positions, average prices, fees and realized PnL are
   exactly what they were), balances, the last trading state (a HALTED process comes back
   HALTED, latched when the kill switch halted it) and the protections attached to positions
   (with their native orders still working). The gate then gets positions (`set_position`),
   balances, open orders (`on_order_open`) and the trading state.
2. `reconcile()` asks each venue for its open orders and for its fills since the earliest moment
   a missed fill could have (the oldest open order's creation, or the last journaled fill):
   - fills we have not seen (by venue and trade id) are applied once, through the engine, so
     they are journaled, booked and published like live ones;
   - venue orders the journal does not know are adopted (journaled, then tracked) or, with
     `unknown_orders="cancel"`, adopted and cancelled at once (so the cancel is tracked too);
   - journal orders the venue still has are brought up to date (acknowledged, venue id);
   - every order the venue has open (ours or adopted) is handed to the live client's optional
     `track(order, venue_order_id, filled_lots)`, so its later fills, cancels and expiry reach
     the engine although this process never sent it;
   - journal orders still open here but not open at the venue: if the venue client offers
     `order_status(client_order_id)` (optional, async, returns a VenueOrderState or None) its
     answer decides; otherwise the order is recorded CANCELED (EXPIRED for IOC/FOK/market) with
     the reason "not open at venue on reconcile". Its fills were applied in the step above, so
     nothing it traded is lost; an order that never reached the venue (killed between the
     intent record and the send) ends here too.
   - a venue order reporting more filled quantity than the fills we know is a Problem (fills
     the venue did not return): it is reported, never guessed;
   - restored protections meet the reconciled positions: dropped with their native orders
     where the position closed while we were down, resized where it changed;
   - GTD orders still working get their expiry timers back.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tradecore.core.orders import (Fill, Order, OrderStatus, OrderType, Side, TimeInForce,
                                   TradingState)
from tradecore.execution.journal import read_journal
from tradecore.execution.oms import ExecutionError, LateFill, UnknownOrder
from tradecore.execution.state import InvalidTransition
from tradecore.execution.venue import VenueOrderState
from tradecore.risk.stops import PROTECTION_STRATEGY, Protection

__all__ = ["Recovery", "RecoveryReport"]

S = OrderStatus


@dataclass
class RecoveryReport:
    records: int = 0
    orders: int = 0
    open_after_replay: int = 0
    fills_replayed: int = 0
    torn_tail: bytes = b""
    trading_state: TradingState = TradingState.ACTIVE
    missed_fills: list[str] = field(default_factory=list)      # trade ids applied at reconcile
    adopted: list[str] = field(default_factory=list)
    canceled_unknown: list[str] = field(default_factory=list)
    closed_missing: list[tuple[str, str]] = field(default_factory=list)   # (cid, final status)
    protections: int = 0
    problems: list[str] = field(default_factory=list)


class Recovery:
    def __init__(self, engine, journal_path: str | Path, unknown_orders: str = "cancel") -> None:
        if unknown_orders not in ("adopt", "cancel"):
            raise ValueError(f"unknown_orders {unknown_orders!r}: expected 'adopt' or 'cancel'")
        self.engine = engine
        self.path = Path(journal_path)
        self.unknown_orders = unknown_orders
        self.report = RecoveryReport()

    async def run(self) -> RecoveryReport:
        self.replay()
        await self.reconcile()
        return self.report

    # -- 1. the journal -----------------------------------------------------------------
    def replay(self) -> RecoveryReport:
        eng, rep = self.engine, self.report
        gate = eng.gate
        gate.reconciling = True
        oms, pf = eng.oms, eng.portfolio
        journal, oms.journal = oms.journal, None
        state, state_reason = TradingState.ACTIVE, ""
        prots: dict[tuple[str, str], Protection] = {}
        try:
            res = read_journal(self.path)
            # the Journal cut a torn last record off when it opened the file; a reader that
            # got here first (no Journal open) sees it itself
            rep.torn_tail = getattr(journal, "dropped_tail", b"") or res.torn_tail
            if res.torn_tail:
                rep.problems.append(f"dropped a torn final journal line: {res.torn_tail[:80]!r}")
            for rec in res.records:
                k = rec[0]
                if k == "I":
                    (_, cid, venue, symbol, side, typ, qty, price, trig, tif, post, reduce,
                     exp, trail, strat, parent, tag, ts) = rec
                    oms.replay_intent(Order(cid, venue, symbol, Side(side), OrderType(typ), qty,
                                            price, trig, TimeInForce(tif), post, reduce, exp,
                                            trail, strat, parent, tag, ts_created_ns=ts))
                elif k == "T":
                    _, cid, status, ts, vid, reason = rec
                    oms.replay_transition(cid, S(status), ts, vid, reason)
                elif k == "F":
                    (_, cid, venue, symbol, side, qty, price, fee, liq, tid, ts) = rec
                    f = Fill(cid, venue, symbol, Side(side), qty, price, fee, liq, tid, ts)
                    try:
                        applied = oms.apply_fill(f) is not None
                    except (UnknownOrder, LateFill):
                        applied = True          # booked live without an order: book it again
                    if applied:
                        pf.apply_fill(f)
                        rep.fills_replayed += 1
                elif k == "R":
                    state, state_reason = TradingState(rec[1]), rec[2]
                elif k == "B":
                    pf.set_balance(rec[1], rec[2], rec[3])
                elif k == "P":
                    _, venue, symbol, d, stop, tp, trail, native, _ts = rec
                    prots[(venue, symbol)] = Protection(venue, symbol, d, stop, tp, trail,
                                                        native=native)
                elif k == "X":
                    prots.pop((rec[1], rec[2]), None)
            rep.records = len(res.records)
        finally:
            oms.journal = journal
        rep.orders = len(oms.orders)
        rep.open_after_replay = len(oms.open)
        rep.trading_state = state
        for (venue, symbol), p in pf.positions.items():
            gate.set_position(venue, symbol, p.lots)
        for (venue, asset), amount in pf.balances.items():
            gate.set_balance(venue, asset, amount)
        for o in oms.open.values():
            gate.on_order_open(o)
        for key, p in prots.items():
            eng.protection.restore(p, [o for o in oms.open.values()
                                       if (o.venue, o.symbol) == key
                                       and o.strategy_id == PROTECTION_STRATEGY])
        rep.protections = len(prots)
        eng._risk_state = state                   # restoring it is not a new change to record
        if state is TradingState.HALTED and state_reason.startswith("kill switch") and hasattr(
                gate, "latch_halt"):
            gate.latch_halt(state_reason)          # held HALTED until KillSwitch.rearm()
        elif state != gate.state:
            gate.set_state(state, state_reason or "recovered from journal")
        return rep

    # -- 2. the venues --------------------------------------------------------------------
    async def reconcile(self) -> RecoveryReport:
        eng, rep = self.engine, self.report
        try:
            for name, venue in eng.venues.items():
                await self._reconcile_venue(name, venue)
            # restored protections meet the reconciled positions: dropped (and their native
            # orders cancelled) where the position closed while we were down, resized where
            # it changed
            for (venue, symbol) in list(eng.protection.by_key):
                eng.protection.on_position(venue, symbol, eng.portfolio.lots(venue, symbol))
            # GTD orders still working get their expiry timers back (due ones fire at once)
            for o in list(eng.oms.open.values()):
                if o.tif is TimeInForce.GTD and o.status is not S.PENDING_CANCEL:
                    eng.oms.arm_gtd(o)
        finally:
            eng.gate.reconciling = False
        return rep

    async def _reconcile_venue(self, name: str, venue) -> None:
        eng, rep, oms = self.engine, self.report, self.engine.oms
        mine = [o for o in oms.open.values() if o.venue == name]
        since = min([o.ts_created_ns for o in mine] + [oms.last_fill_ts_ns or 0])
        venue_open = await venue.open_orders()
        fills = await venue.fills_since(since)
        for f in sorted(fills, key=lambda f: f.ts_ns):
            if f.venue != name or oms.trade_seen(f.venue, f.trade_id):
                continue
            eng.on_fill(f)
            if oms.trade_seen(f.venue, f.trade_id):
                rep.missed_fills.append(f.trade_id)
        now = eng.clock.time_ns()
        vmap = {s.client_order_id: s for s in venue_open}
        track = getattr(venue, "track", None)     # live clients follow earlier orders
        for s in venue_open:
            o = oms.get(s.client_order_id)
            if o is None:
                self._unknown(name, s, now, track)
                continue
            if track is not None:
                track(o, s.venue_order_id, s.filled_qty)
            if o.status is S.SUBMITTED:
                eng.on_order_accepted(o.client_order_id, s.venue_order_id, now)
            elif s.venue_order_id and not o.venue_order_id:
                o.venue_order_id = s.venue_order_id
            if s.filled_qty > o.filled_qty:
                rep.problems.append(f"{name} reports {s.filled_qty} lots filled for "
                                    f"{o.client_order_id}, fills known sum to {o.filled_qty}")
        status_of = getattr(venue, "order_status", None)
        for o in [o for o in oms.open.values() if o.venue == name]:
            if o.client_order_id in vmap:
                continue
            final = None
            if status_of is not None:
                st: VenueOrderState | None = await status_of(o.client_order_id)
                final = st.status if st is not None else None
            self._close_missing(o, final, now)

    def _unknown(self, name: str, s: VenueOrderState, now: int, track=None) -> None:
        eng, rep = self.engine, self.report
        o = Order(s.client_order_id, name, s.symbol, s.side, s.type, s.qty,
                  price=s.price if s.type in (OrderType.LIMIT, OrderType.STOP_LIMIT,
                                              OrderType.TAKE_PROFIT_LIMIT) else 0,
                  strategy_id="adopted", tag="adopted", venue_order_id=s.venue_order_id,
                  ts_created_ns=now)
        o.filled_qty = s.filled_qty
        status = S.PARTIALLY_FILLED if s.filled_qty else S.ACCEPTED
        eng.oms.adopt(o, status, now)
        eng.gate.on_order_open(o)
        if track is not None:
            track(o, s.venue_order_id, s.filled_qty)
        rep.adopted.append(o.client_order_id)
        if self.unknown_orders == "cancel":
            eng.cancel(o.client_order_id)
            rep.canceled_unknown.append(o.client_order_id)

    def _close_missing(self, o: Order, final: OrderStatus | None, now: int) -> None:
        eng, rep = self.engine, self.report
        cid = o.client_order_id
        reason = "not open at venue on reconcile"
        try:
            if final is S.REJECTED and o.status in (S.SUBMITTED, S.TRIGGERED):
                eng.on_order_rejected(cid, reason, now)
            elif final is S.EXPIRED:
                eng.on_order_expired(cid, now)
            elif final is S.FILLED and o.filled_qty < o.qty:
                rep.problems.append(f"{cid}: venue says FILLED, fills known sum to "
                                    f"{o.filled_qty} of {o.qty} lots")
                eng.on_order_canceled(cid, reason + " (filled at venue, fills missing)", now)
            else:
                eng.on_order_canceled(cid, reason, now)
        except (ExecutionError, InvalidTransition) as e:
            rep.problems.append(str(e))
        rep.closed_missing.append((cid, o.status.name))
