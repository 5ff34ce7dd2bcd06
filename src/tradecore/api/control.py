"""What an operator may read and change on a running node, independent of HTTP.

The server maps requests onto these methods; tests call them directly too. Every change is
validated completely before anything is applied, and applied in one synchronous step on the
event loop's thread (the engine's callbacks run on that same thread, so no frame ever sees half
a change):

* risk limits: the new RiskLimits / SymbolLimits are rebuilt with `dataclasses.replace` (their
  __post_init__ validates every field); any refusal leaves every limit as it was. Fields the
  compiled kernel fixes when a symbol is added (spot, leverage) and the gate's sizing
  (capacity, default_symbol) are refused while running: they need a restart.
* strategy settings: a copy of the strategy is constructed with the merged settings (the
  strategy classes validate in __init__); settings that change what it subscribes to are
  refused; then the running strategy takes the new settings and detector parameters.
* stop/start a strategy: a stopped strategy is removed from the node's book and trade
  subscriptions (no on_book, on_trade or on_book_stale calls) and its open orders are
  cancelled; events of orders it already sent still reach it so a half-done leg group can
  finish its unwind. Start puts it back in its subscriptions.
* kill switch: risk.breakers.KillSwitch wired to the execution engine (cancel all, optionally
  flatten; the gate stays HALTED until re-armed).
"""
from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from tradecore.core.orders import Fill, Order, OrderStatus, TradingState
from tradecore.risk.breakers import KillSwitch
from tradecore.risk.limits import RiskLimits, SymbolLimits

__all__ = ["ApiError", "Control"]

log = logging.getLogger("tradecore.api.control")

# RiskLimits fields that can change while running (applied to the kernel by _apply_portfolio)
PORTFOLIO_RUNTIME = ("max_gross_notional", "max_net_notional", "max_orders_per_sec",
                     "order_burst", "max_cancels_per_sec", "cancel_burst", "require_balance")
SYMBOL_RUNTIME = ("max_order_lots", "max_order_notional", "max_position_lots", "max_notional",
                  "price_band", "max_mid_age_ns")
SYMBOL_FIXED = ("spot", "leverage")

# per strategy class: settings that change its subscriptions (restart needed), and the
# detector attributes its __init__ derives from settings (copied to the running detector)
RUNTIME_SETTINGS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "CrossExchangeArbitrage": (("venues",), ("max_qty", "min_edge", "min_edge_bps", "depth")),
    "TriangularArbitrage": (("venue", "symbols", "start"), ("max_start", "min_edge", "depth")),
}

_SECRET_WORDS = ("key", "secret", "token", "password", "passphrase", "credential")


class ApiError(Exception):
    """A refused request: HTTP status and the reason (shown to the caller)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def redact(obj: Any) -> Any:
    """A copy of a config mapping with anything that looks like a secret masked."""
    if isinstance(obj, Mapping):
        return {k: ("***" if any(w in str(k).lower() for w in _SECRET_WORDS) else redact(v))
                for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def order_dict(o: Order) -> dict[str, Any]:
    return {"client_order_id": o.client_order_id, "venue": o.venue, "symbol": o.symbol,
            "side": o.side.name, "type": o.type.name, "qty": o.qty, "price": o.price,
            "trigger_price": o.trigger_price, "tif": o.tif.name, "reduce_only": o.reduce_only,
            "strategy_id": o.strategy_id, "tag": o.tag, "status": OrderStatus(o.status).name,
            "filled_qty": o.filled_qty, "avg_fill_price": o.avg_fill_price, "fees": o.fees,
            "venue_order_id": o.venue_order_id, "deny_reason": o.deny_reason.name,
            "reason_text": o.reason_text, "ts_created_ns": o.ts_created_ns,
            "ts_last_ns": o.ts_last_ns}


def fill_dict(f: Fill, inst=None) -> dict[str, Any]:
    d = {"client_order_id": f.client_order_id, "venue": f.venue, "symbol": f.symbol,
         "side": f.side.name, "qty": f.qty, "price": f.price, "fee": f.fee,
         "liquidity": f.liquidity, "trade_id": f.trade_id, "ts_ns": f.ts_ns}
    if inst is not None:
        d["price_quote"] = f.price * inst.tick_size
        d["qty_base"] = f.qty * inst.lot_size
    return d


def _check_int64(where: str, changes: Mapping) -> None:
    """The kernel stores counts and times as int64: refuse what would overflow it."""
    for k, v in changes.items():
        if isinstance(v, int) and not isinstance(v, bool) and not -2**62 < v < 2**62:
            raise ApiError(400, f"{where}.{k} = {v}: out of range (|value| < 2**62)")


def _limits_dict(lim) -> dict[str, Any]:
    return {f.name: getattr(lim, f.name) for f in dataclasses.fields(lim)
            if not isinstance(getattr(lim, f.name), SymbolLimits)}


class Control:
    """Reads and changes of one node (see the module docstring for the rules)."""

    def __init__(self, node, *, kill_switch: KillSwitch | None = None) -> None:
        self.node = node
        self.gate = node.gate
        self.kill_switch = kill_switch or KillSwitch(node.gate, node.clock)
        if kill_switch is None:
            node.exec.attach_kill_switch(self.kill_switch)
        self.stopped: set[str] = set()
        self._subs: dict[str, tuple[list, list]] = {}   # where each strategy was subscribed
        self.symbol_limits: dict[tuple[str, str], SymbolLimits] = {}
        for key in node.instruments:
            raw = node.cfg.symbol_limits.get(f"{key[0]}:{key[1]}")
            self.symbol_limits[key] = (SymbolLimits(**raw) if raw is not None
                                       else self.gate.limits.default_symbol)
        self.change_listeners: list[Callable[[str, dict], None]] = []

    def _changed(self, what: str, data: dict) -> None:
        for fn in self.change_listeners:
            fn(what, data)

    # -- reading ---------------------------------------------------------------------------
    def strategy(self, sid: str):
        for s in self.node.strategies:
            if s.strategy_id == sid:
                return s
        raise ApiError(404, f"no strategy {sid!r}; running: "
                            f"{[s.strategy_id for s in self.node.strategies]}")

    def config(self) -> dict[str, Any]:
        """The running configuration: the file as loaded (secrets masked) and the values in
        force now (they differ after runtime changes)."""
        return {"source": self.node.cfg.source, "mode": self.node.cfg.mode,
                "file": redact(self.node.cfg.raw),
                "effective": {"risk": self.risk_limits(),
                              "strategies": self.strategies()}}

    def risk_limits(self) -> dict[str, Any]:
        return {"portfolio": _limits_dict(self.gate.limits),
                "symbols": {f"{v}:{s}": _limits_dict(lim)
                            for (v, s), lim in self.symbol_limits.items()}}

    def strategies(self) -> list[dict[str, Any]]:
        return [{"id": s.strategy_id, "kind": type(s).__name__,
                 "running": s.strategy_id not in self.stopped,
                 "settings": redact(s.config), "counters": dict(s.counters),
                 "trading_state": self.gate.strategy_state(s.strategy_id).name}
                for s in self.node.strategies]

    def state(self) -> dict[str, Any]:
        ks = self.kill_switch
        return {"trading_state": TradingState(self.gate.state).name,
                "reason": self.gate.state_reason,
                "kill_switch": {"armed": ks.armed,
                                "tripped": None if ks.tripped is None else {
                                    "reason": ks.tripped.reason, "ts_ns": ks.tripped.ts_ns},
                                "trips": len(ks.trips)},
                "reconciling": self.gate.reconciling}

    def orders(self, status: str = "all", limit: int = 200) -> list[dict[str, Any]]:
        oms = self.node.exec.oms
        if status == "open":
            src = list(oms.open.values())
        elif status == "all":
            src = list(oms.orders.values())
        else:
            try:
                want = OrderStatus[status.upper()]
            except KeyError:
                raise ApiError(400, f"status {status!r}: expected open, all or one of "
                                    f"{[s.name.lower() for s in OrderStatus]}") from None
            src = [o for o in oms.orders.values() if o.status == want]
        return [order_dict(o) for o in src[-limit:]][::-1]

    def positions(self) -> list[dict[str, Any]]:
        out = []
        for (v, s), p in list(self.node.exec.portfolio.positions.items()):
            lim = self.symbol_limits.get((v, s))
            notional = abs(p.qty) * p.mark
            out.append({"venue": v, "symbol": s, "lots": p.lots, "qty": p.qty,
                        "avg_price": p.avg_price, "mark": p.mark,
                        "realized_pnl": p.realized_pnl, "unrealized_pnl": p.unrealized_pnl(),
                        "fees": p.fees, "notional": notional,
                        "max_position_lots": lim.max_position_lots if lim else 0,
                        "max_notional": lim.max_notional if lim else 0.0})
        return out

    def fills(self, limit: int = 200) -> list[dict[str, Any]]:
        insts = self.node.instruments
        fs = [f for lst in self.node.exec.oms.fills.values() for f in lst]
        fs.sort(key=lambda f: f.ts_ns)
        return [fill_dict(f, insts.get((f.venue, f.symbol))) for f in fs[-limit:]][::-1]

    def balances(self) -> list[dict[str, Any]]:
        return [{"venue": v, "asset": a, "amount": amt, "free_in_gate": self.gate.balance(v, a)}
                for (v, a), amt in sorted(self.node.exec.portfolio.balances.items())]

    def pnl(self) -> dict[str, Any]:
        p = self.node.exec.portfolio
        gross = sum(abs(ps.qty) * ps.mark for ps in p.positions.values())
        net = sum(ps.qty * ps.mark for ps in p.positions.values())
        lim = self.gate.limits
        return {"ts_ns": self.node.clock.time_ns(), "equity": self.node.equity(),
                "initial_equity": self.node.initial_equity, "realized": p.realized_pnl(),
                "unrealized": p.unrealized_pnl(), "fees": p.fees(),
                "gross_exposure": gross, "net_exposure": net,
                "max_gross_notional": lim.max_gross_notional,
                "max_net_notional": lim.max_net_notional, "quote": self.node.cfg.quote}

    def top_of_book(self) -> list[dict[str, Any]]:
        out = []
        now = self.node.clock.time_ns()
        for (v, s), b in list(self.node.books.items()):
            bid, ask = b.best_bid(), b.best_ask()
            row = {"venue": v, "symbol": s, "ts_ns": b.ts_ns, "valid": bool(b.valid),
                   "age_s": max(0, now - b.ts_ns) / 1e9 if b.ts_ns else None,
                   "bid": None, "bid_size": None, "ask": None, "ask_size": None}
            if bid is not None:
                row.update(bid=bid[0], bid_size=bid[1])
            if ask is not None:
                row.update(ask=ask[0], ask_size=ask[1])
            out.append(row)
        return out

    # -- risk limits -----------------------------------------------------------------------
    def update_risk_limits(self, body: Any) -> dict[str, Any]:
        """body: {"portfolio": {field: value}, "symbols": {"venue:symbol": {field: value}}}.
        Everything is validated first; nothing is applied unless all of it is valid."""
        if not isinstance(body, Mapping) or not body or set(body) - {"portfolio", "symbols"}:
            raise ApiError(400, "body: expected an object with 'portfolio' and/or 'symbols'")
        port = body.get("portfolio", {})
        syms = body.get("symbols", {})
        if not isinstance(port, Mapping) or not isinstance(syms, Mapping):
            raise ApiError(400, "portfolio and symbols must be objects")
        _check_int64("portfolio", port)
        bad = set(port) - set(PORTFOLIO_RUNTIME)
        if bad:
            raise ApiError(400, f"portfolio: {sorted(bad)} cannot be changed while running; "
                                f"changeable: {list(PORTFOLIO_RUNTIME)}")
        try:
            new_port = dataclasses.replace(self.gate.limits, **port)
        except (TypeError, ValueError) as e:
            raise ApiError(400, f"portfolio: {e}") from None
        new_syms: dict[tuple[str, str], SymbolLimits] = {}
        for name, changes in syms.items():
            v, sep, s = str(name).partition(":")
            key = (v, s)
            if not sep or key not in self.symbol_limits:
                raise ApiError(400, f"symbols: {name!r} is not a configured instrument; "
                                    f"expected one of "
                                    f"{[f'{a}:{b}' for a, b in self.symbol_limits]}")
            if not isinstance(changes, Mapping):
                raise ApiError(400, f"symbols.{name}: expected an object of SymbolLimits fields")
            _check_int64(f"symbols.{name}", changes)
            fixed = set(changes) & set(SYMBOL_FIXED)
            if fixed:
                raise ApiError(400, f"symbols.{name}: {sorted(fixed)} are fixed while running "
                                    f"(restart with a new config)")
            unknown = set(changes) - set(SYMBOL_RUNTIME)
            if unknown:
                raise ApiError(400, f"symbols.{name}: unknown field(s) {sorted(unknown)}; "
                                    f"expected {list(SYMBOL_RUNTIME)}")
            try:
                new_syms[key] = dataclasses.replace(self.symbol_limits[key], **changes)
            except (TypeError, ValueError) as e:
                raise ApiError(400, f"symbols.{name}: {e}") from None
        # all valid: apply in one step
        self._apply_portfolio(self.gate.limits, new_port)
        for key, lim in new_syms.items():
            self.gate.add_instrument(self.node.instruments[key], lim)
            self.symbol_limits[key] = lim
        out = self.risk_limits()
        log.warning("risk limits changed: %s", {"portfolio": dict(port),
                                                "symbols": {k: dict(v) for k, v in syms.items()}})
        self._changed("risk_limits", out)
        return out

    def _apply_portfolio(self, old: RiskLimits, new: RiskLimits) -> None:
        k = self.gate.kernel
        k.set_portfolio_limits(new.max_gross_notional, new.max_net_notional)
        # re-setting a throttle restarts its schedule: only when its settings changed
        if (old.max_orders_per_sec, old.order_burst) != (new.max_orders_per_sec,
                                                         new.order_burst):
            k.set_order_rate(RiskLimits.period_ns(new.max_orders_per_sec), new.order_burst)
        if (old.max_cancels_per_sec, old.cancel_burst) != (new.max_cancels_per_sec,
                                                           new.cancel_burst):
            k.set_cancel_rate(RiskLimits.period_ns(new.max_cancels_per_sec), new.cancel_burst)
        k.require_balance = new.require_balance
        self.gate.limits = new

    # -- strategies ------------------------------------------------------------------------
    def update_strategy(self, sid: str, changes: Any) -> dict[str, Any]:
        s = self.strategy(sid)
        if not isinstance(changes, Mapping) or not changes:
            raise ApiError(400, "body: expected a non-empty object of settings")
        kind = type(s).__name__
        if kind not in RUNTIME_SETTINGS:
            raise ApiError(409, f"strategy {sid!r} ({kind}) has no runtime-changeable settings")
        structural, det_attrs = RUNTIME_SETTINGS[kind]
        fixed = sorted(set(changes) & set(structural))
        if fixed:
            raise ApiError(400, f"strategy {sid!r}: {fixed} change its subscriptions and need a "
                                f"restart")
        merged = {**s.config, **changes}
        try:
            copy = type(s)(sid, merged)         # the class validates its settings
        except (ValueError, TypeError, OverflowError) as e:
            raise ApiError(400, f"strategy {sid!r}: {e}") from None
        # apply: settings read at run time, then the detector's derived parameters
        s.config.clear()
        s.config.update(copy.config)
        for a in det_attrs:
            setattr(s.det, a, getattr(copy.det, a))
        log.warning("strategy %s settings changed: %s", sid, dict(changes))
        out = next(x for x in self.strategies() if x["id"] == sid)
        self._changed("strategy", out)
        return out

    def stop_strategy(self, sid: str) -> dict[str, Any]:
        s = self.strategy(sid)
        if sid in self.stopped:
            raise ApiError(409, f"strategy {sid!r} is already stopped")
        node = self.node
        book_keys = [k for k, lst in node.book_subs.items() if s in lst]
        trade_keys = [k for k, lst in node.trade_subs.items() if s in lst]
        # replace the lists (never mutate one a callback could be iterating)
        for k in book_keys:
            node.book_subs[k] = [x for x in node.book_subs[k] if x is not s]
        for k in trade_keys:
            node.trade_subs[k] = [x for x in node.trade_subs[k] if x is not s]
        self._subs[sid] = (book_keys, trade_keys)
        self.stopped.add(sid)
        cancelled = 0
        for o in node.exec.oms.open_orders():
            if o.strategy_id == sid:
                node.exec.cancel(o.client_order_id)
                cancelled += 1
        log.warning("strategy %s stopped (%d open orders cancelled)", sid, cancelled)
        out = next(x for x in self.strategies() if x["id"] == sid)
        out["cancelled_orders"] = cancelled
        self._changed("strategy", out)
        return out

    def start_strategy(self, sid: str) -> dict[str, Any]:
        s = self.strategy(sid)
        if sid not in self.stopped:
            raise ApiError(409, f"strategy {sid!r} is already running")
        book_keys, trade_keys = self._subs.pop(sid)
        node = self.node
        for k in book_keys:
            node.book_subs[k] = [*node.book_subs[k], s]
        for k in trade_keys:
            node.trade_subs[k] = [*node.trade_subs[k], s]
        self.stopped.discard(sid)
        log.warning("strategy %s started", sid)
        out = next(x for x in self.strategies() if x["id"] == sid)
        self._changed("strategy", out)
        return out

    # -- kill switch -----------------------------------------------------------------------
    def kill(self, flatten: bool = False, reason: str = "operator") -> dict[str, Any]:
        if not isinstance(flatten, bool):
            raise ApiError(400, f"flatten: expected true or false, got {flatten!r}")
        if not isinstance(reason, str) or len(reason) > 200:
            raise ApiError(400, "reason: expected a string of at most 200 characters")
        self.kill_switch.trip(flatten=flatten, reason=reason or "operator")
        return self.state()

    def rearm(self, reason: str = "operator") -> dict[str, Any]:
        if not isinstance(reason, str) or len(reason) > 200:
            raise ApiError(400, "reason: expected a string of at most 200 characters")
        if self.kill_switch.armed:
            raise ApiError(409, "the kill switch is not tripped")
        self.kill_switch.rearm(reason or "operator")
        return self.state()
