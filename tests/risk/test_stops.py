"""Protective stops: each stop type fires by itself at its level for the current position, on
book and on trade events, once; re-arms when its exit fails; resizes its native order after
partial fills; disappears with its position."""
from __future__ import annotations

import pytest

from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderEvent, OrderStatus, OrderType, Side
from tradecore.risk.stops import PROTECTION_STRATEGY, ProtectionManager, StopKind

INST = Instrument("v", "BTCUSDT", tick="0.01", lot="0.001")
S = OrderStatus


class Port:
    """The engine as protection sees it: positions, and orders that are accepted (or denied
    when `deny` holds) and whose cancels are recorded."""

    def __init__(self, lots: int = 0, avg: float = 0.0) -> None:
        self.lots, self.avg = lots, avg
        self.sent: list[Order] = []
        self.canceled: list[str] = []
        self.deny = False
        self.now = 0

    def time_ns(self) -> int:
        return self.now

    def submit(self, o: Order) -> Order:
        self.sent.append(o)
        o.status = S.DENIED if self.deny else S.SUBMITTED
        return o

    def cancel(self, cid: str) -> None:
        self.canceled.append(cid)

    def position_lots(self, venue, symbol) -> int:
        return self.lots

    def avg_entry_price(self, venue, symbol) -> float:
        return self.avg


def pm(lots=1000, avg=100.0):
    port = Port(lots, avg)
    return ProtectionManager(port, {INST.key: INST}), port


def ev(o: Order, status: OrderStatus) -> OrderEvent:
    return OrderEvent(o.client_order_id, status, 1)


# -- attaching ----------------------------------------------------------------------------------

def test_attach_raises_when_no_position():
    m, _ = pm(lots=0)
    with pytest.raises(ValueError, match="no position"):
        m.attach("v", "BTCUSDT", stop_loss=9000)


def test_attach_raises_when_take_profit_below_stop_for_long():
    m, _ = pm()
    with pytest.raises(ValueError, match="must be above the stop-loss"):
        m.attach("v", "BTCUSDT", stop_loss=10500, take_profit=9500)


def test_attach_raises_when_nothing_given_or_both_level_and_offset():
    m, _ = pm()
    with pytest.raises(ValueError, match="no stop"):
        m.attach("v", "BTCUSDT")
    with pytest.raises(ValueError, match="not both"):
        m.attach("v", "BTCUSDT", stop_loss=9000, stop_offset=10)


def test_attach_by_offset_from_average_entry():
    m, _ = pm(lots=-500, avg=100.0)                  # short at 100.00
    p = m.attach("v", "BTCUSDT", stop_offset=200, tp_offset=300)
    assert (p.direction, p.stop_ticks, p.tp_ticks) == (-1, 10200, 9700)


# -- firing -------------------------------------------------------------------------------------

def test_stop_loss_fires_reduce_only_market_for_position_when_bid_reaches_level():
    m, port = pm(lots=1000)
    m.attach("v", "BTCUSDT", stop_loss=9900)
    m.on_market("v", "BTCUSDT", 9901, 9902)
    assert port.sent == []
    m.on_market("v", "BTCUSDT", 9900, 9902)
    (o,) = port.sent
    assert (o.side, o.type, o.qty, o.reduce_only, o.tag, o.strategy_id) == (
        Side.SELL, OrderType.MARKET, 1000, True, "stop-loss", PROTECTION_STRATEGY)


def test_short_stop_compares_with_ask_and_buys():
    m, port = pm(lots=-300)
    m.attach("v", "BTCUSDT", stop_loss=10100)
    m.on_market("v", "BTCUSDT", 10100, 10099)        # bid at the level: irrelevant for a short
    assert port.sent == []
    m.on_market("v", "BTCUSDT", 10099, 10101)
    assert port.sent[0].side is Side.BUY and port.sent[0].qty == 300


def test_take_profit_fires_on_trade_through_level():
    m, port = pm()
    m.attach("v", "BTCUSDT", stop_loss=9000, take_profit=11000)
    m.on_trade("v", "BTCUSDT", 10999)
    m.on_trade("v", "BTCUSDT", 11005)
    assert [o.tag for o in port.sent] == ["take-profit"]


def test_trailing_stop_follows_best_price_then_fires():
    m, port = pm(lots=-1000)                          # short: trails the lowest ask
    p = m.attach("v", "BTCUSDT", trail_ticks=50)
    for ask in (10000, 9900, 9800, 9840):
        m.on_market("v", "BTCUSDT", ask - 1, ask)
    assert p.trail_ref == 9800 and port.sent == []
    m.on_market("v", "BTCUSDT", 9849, 9850)
    assert port.sent[0].tag == "trailing-stop" and port.sent[0].side is Side.BUY


def test_fires_once_while_exit_working():
    m, port = pm()
    m.attach("v", "BTCUSDT", stop_loss=9900)
    for _ in range(5):
        m.on_market("v", "BTCUSDT", 9800, 9801)
    assert len(port.sent) == 1


def test_rearms_and_fires_again_for_rest_when_exit_expires_partly_filled():
    m, port = pm(lots=1000)
    m.attach("v", "BTCUSDT", stop_loss=9900)
    m.on_market("v", "BTCUSDT", 9800, 9801)
    port.lots = 400                                   # 600 filled, the rest expired
    m.on_position("v", "BTCUSDT", 400)
    m.on_order_event(ev(port.sent[0], S.EXPIRED))
    m.on_market("v", "BTCUSDT", 9800, 9801)              # within the retry interval
    assert len(port.sent) == 1
    port.now = 1_000_000_000
    m.on_market("v", "BTCUSDT", 9800, 9801)
    assert [o.qty for o in port.sent] == [1000, 400]
    assert m.problems and "EXPIRED" in m.problems[0]


def test_exit_denied_stays_armed_retries_each_interval_and_reports_once():
    m, port = pm()
    m.attach("v", "BTCUSDT", stop_loss=9900)
    port.deny = True
    for t in range(0, 5_000_000_000, 100_000_000):        # 50 book events over 5 s
        port.now = t
        m.on_market("v", "BTCUSDT", 9800, 9801)
    assert len(port.sent) == 5                             # one try per second, not 50
    assert len(m.problems) == 1                            # one report for the streak
    port.deny = False
    port.now = 5_000_000_000
    m.on_market("v", "BTCUSDT", 9800, 9801)
    assert len(port.sent) == 6 and port.sent[-1].status is S.SUBMITTED


def test_retry_interval_validated():
    with pytest.raises(ValueError, match="retry_interval_ns"):
        ProtectionManager(Port(), {INST.key: INST}, retry_interval_ns=-1)


def test_removed_and_silent_when_position_closes():
    m, port = pm()
    m.attach("v", "BTCUSDT", stop_loss=9900)
    port.lots = 0
    m.on_position("v", "BTCUSDT", 0)
    m.on_market("v", "BTCUSDT", 9000, 9001)
    assert port.sent == [] and m.by_key == {}


def test_removed_when_position_flips():
    m, port = pm()
    m.attach("v", "BTCUSDT", stop_loss=9900)
    port.lots = -200
    m.on_position("v", "BTCUSDT", -200)
    m.on_market("v", "BTCUSDT", 9000, 9001)
    assert port.sent == []


def test_fire_uses_position_at_that_moment_after_partial_take_profit():
    m, port = pm(lots=1000)
    m.attach("v", "BTCUSDT", stop_loss=9900)
    port.lots = 350
    m.on_position("v", "BTCUSDT", 350)
    m.on_market("v", "BTCUSDT", 9850, 9851)
    assert port.sent[0].qty == 350


# -- native orders ------------------------------------------------------------------------------

def test_native_stop_placed_resized_after_cancel_confirmed_and_cancelled_on_close():
    m, port = pm(lots=1000)
    m.attach("v", "BTCUSDT", stop_loss=9900, take_profit=11000, native=True)
    (n1,) = port.sent                                  # one native: the stop-loss
    assert (n1.type, n1.trigger_price, n1.qty, n1.reduce_only) == (
        OrderType.STOP_MARKET, 9900, 1000, True)
    port.lots = 600
    m.on_position("v", "BTCUSDT", 600)
    assert port.canceled == [n1.client_order_id] and len(port.sent) == 1   # not two at once
    m.on_order_event(ev(n1, S.CANCELED))
    n2 = port.sent[-1]
    assert n2.type is OrderType.STOP_MARKET and n2.qty == 600
    port.lots = 0
    m.on_position("v", "BTCUSDT", 0)
    assert port.canceled[-1] == n2.client_order_id and m.by_key == {}


def test_native_trailing_stop_when_only_trail_given():
    m, port = pm(lots=1000)
    m.attach("v", "BTCUSDT", trail_ticks=75, native=True)
    assert port.sent[0].type is OrderType.TRAILING_STOP and port.sent[0].trail_ticks == 75


def test_local_fire_cancels_native_and_retries_exit_when_native_gone():
    m, port = pm(lots=1000)
    m.attach("v", "BTCUSDT", stop_loss=9900, native=True)
    n1 = port.sent[0]
    port.deny = True                       # the gate still counts the native's lots
    m.on_market("v", "BTCUSDT", 9800, 9801)
    assert port.canceled == [n1.client_order_id]
    port.deny = False
    m.on_order_event(ev(n1, S.CANCELED))
    ex = port.sent[-1]
    assert ex.type is OrderType.MARKET and ex.tag == "stop-loss" and ex.status is S.SUBMITTED
    assert m.by_key[("v", "BTCUSDT")].fired[-1][0] is StopKind.STOP_LOSS


def test_attach_again_replaces_and_cancels_old_native():
    m, port = pm(lots=1000)
    m.attach("v", "BTCUSDT", stop_loss=9900, native=True)
    m.attach("v", "BTCUSDT", stop_loss=9950, native=True)
    assert port.canceled == [port.sent[0].client_order_id]
    assert port.sent[1].trigger_price == 9950
