"""The gated replay against the per-message replay and the paper run, on the bundled real
recordings: the same order events (ids, statuses, times, fills), positions and PnL, for the
cross-exchange strategy (trading, with zero fees), the default paper config (cross-exchange +
PairsTrading, which trades), and a quoting strategy that keeps orders resting on the paper
venue (every change then goes through)."""
from __future__ import annotations

import asyncio

import pytest

from tradecore.backtest.events import compile_captures
from tradecore.backtest.fast_replay import replay_events
from tradecore.backtest.gated_replay import GateStats, replay_events_gated
from tradecore.config import load
from tradecore.core.orders import OrderStatus, Side, TimeInForce
from tradecore.engine import TradingNode
from tradecore.strategies.base import Strategy

FEEDS = [["binance", "BTCUSDT"], ["binance_usdm", "BTCUSDT"]]
ZERO_FEES = {
    "run": {"mode": "backtest"},
    "instruments": {"binance:BTCUSDT": {"maker_fee": 0.0, "taker_fee": 0.0},
                    "binance_usdm:BTCUSDT": {"maker_fee": 0.0, "taker_fee": 0.0}},
    "strategies": [{"id": "xarb", "kind": "cross_exchange",
                    "settings": {"venues": FEEDS, "max_qty": 0.05, "min_edge_bps": 0.5,
                                 "cooldown_ms": 1000}}],
}
DEFAULT = {"run": {"mode": "backtest"}}


@pytest.fixture(scope="module")
def log():
    cfg = load(None, DEFAULT)
    return compile_captures({f.venue: (f.exchange, f.capture) for f in cfg.feeds})


def record(node: TradingNode) -> list[tuple]:
    seen: list[tuple] = []
    node.listeners.append(lambda o, ev: seen.append(
        (ev.client_order_id, ev.status.name, ev.ts_ns,
         None if ev.fill is None else (ev.fill.trade_id, ev.fill.qty, ev.fill.price))))
    return seen


def outcome(node: TradingNode) -> dict:
    s = node.summary()
    pos = {k: (p.lots, p.realized_pnl) for k, p in node.exec.portfolio.positions.items()}
    return {"pos": pos, **{k: s[k] for k in ("orders", "fills", "denied", "denials",
                                              "realized_pnl", "unrealized_pnl", "fees",
                                              "equity", "book_updates", "trades",
                                              "trading_state")}}


def both(cfg_overrides: dict, log, add=None):
    runs = []
    for gated in (False, True):
        node = TradingNode(load(None, cfg_overrides))
        if add is not None:
            node.add_strategy(add())
        ev = record(node)
        st = GateStats()
        if gated:
            replay_events_gated(node, log, stats=st)
        else:
            replay_events(node, log)
        runs.append((node, ev, st))
    return runs


def counters_without_skips(node: TradingNode) -> dict:
    return {s.strategy_id: {k: v for k, v in s.counters.items()
                            if k not in ("checks", "replay_skipped_on_book")}
            for s in node.strategies}


def test_gated_replay_gives_the_per_message_orders_and_fills_when_the_cross_strategy_trades(log):
    (a, ea, _), (b, eb, st) = both(ZERO_FEES, log)
    assert ea and ea == eb
    assert any(e[3] is not None for e in ea)                 # something filled
    assert outcome(a) == outcome(b)
    assert counters_without_skips(a) == counters_without_skips(b)
    xa = a.strategies[0].counters
    xb = b.strategies[0].counters
    assert xa["checks"] == xb["checks"] + xb.get("replay_skipped_on_book", 0)
    assert st.skipped_books > 0 and st.skipped_trades > 0    # it did skip


def test_gated_replay_gives_the_per_message_orders_and_fills_of_the_default_config(log):
    (a, ea, _), (b, eb, st) = both(DEFAULT, log)
    assert ea and ea == eb                                   # PairsTrading trades here
    assert outcome(a) == outcome(b)
    assert counters_without_skips(a) == counters_without_skips(b)
    assert st.skipped_books > st.delivered_books


def test_gated_replay_equals_the_paper_run_over_the_captures(log):
    paper = TradingNode(load(None, {**ZERO_FEES, "run": {"mode": "paper"}}))
    ep = record(paper)
    asyncio.run(paper.run_replay_paced(0.0))
    node = TradingNode(load(None, ZERO_FEES))
    eg = record(node)
    replay_events_gated(node, log)
    assert ep and ep == eg
    assert outcome(paper)["pos"] == outcome(node)["pos"]
    assert paper.summary()["realized_pnl"] == node.summary()["realized_pnl"]


class Quoter(Strategy):
    """Test strategy: rests a GTC buy 3 ticks under the bid and a sell 3 ticks over the ask,
    re-quotes after each fill or expiry, and trades public trades through the paper venue's
    queue model. It declares the "top" rule, but its resting orders make the paper venue
    busy, so the gate must deliver every change while they rest."""

    def __init__(self) -> None:
        super().__init__("quoter", {})
        self.books = (("binance", "BTCUSDT"),)
        self.open: set[str] = set()
        self.quotes = 0

    def replay_rule(self, venue, symbol):
        return ("top",)

    def replay_wake_ns(self, venue, symbol, book):
        return None if not self.open and self.quotes < 40 else 2**63 - 1

    def on_book(self, venue, symbol, book):
        if self.open or self.quotes >= 40:
            return
        top = book.top_ticks()
        if top is None:
            return
        inst = self.ctx.instrument(venue, symbol)
        bid, ask = top[0] - 3, top[2] + 3
        for side, px in ((Side.BUY, bid), (Side.SELL, ask)):
            o = self.submit(self.order(venue, symbol, side, inst.lots_near(0.001), price=px,
                                       tif=TimeInForce.GTC, tag="quote"))
            if o.status != OrderStatus.DENIED:
                self.open.add(o.client_order_id)
        self.quotes += 1

    def on_order_event(self, event):
        if event.status in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED,
                            OrderStatus.EXPIRED):
            self.open.discard(event.client_order_id)


def test_gated_replay_delivers_every_change_while_paper_orders_rest(log):
    (a, ea, _), (b, eb, st) = both(DEFAULT, log, add=Quoter)
    assert any(e[0].startswith("quoter") and e[3] is not None for e in ea)   # quotes filled
    assert ea == eb
    assert outcome(a) == outcome(b)
    assert counters_without_skips(a) == counters_without_skips(b)
    assert st.delivered_trades > 0


def test_gated_replay_refuses_a_node_without_a_sim_clock(log):
    from tradecore.core.clock import LiveClock
    node = TradingNode(load(None, DEFAULT), clock=LiveClock())
    with pytest.raises(TypeError, match="SimClock"):
        replay_events_gated(node, log)


def test_gated_replay_shows_a_recorder_the_per_message_equity_after_every_message(log):
    """on_record reads the node (the run recorder samples equity): the deferred marks and mids
    are made current before each call, so it sees what the per-message replay shows it."""
    seen = []
    for gated in (False, True):
        node = TradingNode(load(None, DEFAULT))
        eq: list[tuple[int, float, int]] = []
        rec = lambda ts, node=node, eq=eq: eq.append((ts, node.equity(), node.clock.time_ns()))
        (replay_events_gated if gated else replay_events)(node, log, on_record=rec)
        seen.append(eq)
    assert len(seen[0]) == log.n_messages
    assert seen[0] == seen[1]
    assert len({e for _, e, _ in seen[0]}) > 100           # the equity moves with the marks
