"""RiskGate: every denial the gate produces (one test each), the reduce rule, trading states,
reconciliation, open-order/fill/balance bookkeeping and counting.

Grids are Binance spot's (BTCUSDT tick 0.01, lot 0.00001; ETHUSDT tick 0.01, lot 0.0001), the
BTC mid is the recorded 2024-08-08 book's (61837.635); the default test order buys 1000 lots
(0.01 BTC) at 61837.00, ~618 USDT.
"""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from _riskkit import BTC, BTC_MID, ETH, T0, make_gate, order

from tradecore.core.instrument import Instrument
from tradecore.core.orders import DenyReason as D
from tradecore.core.orders import Fill, OrderType, Side, TradingState
from tradecore.risk.limits import ClusterLimit, RiskLimits, SymbolLimits

BUY, SELL = Side.BUY, Side.SELL


def fill(o, qty: int, price: int | None = None, fee: float = 0.0) -> Fill:
    return Fill(o.client_order_id, o.venue, o.symbol, o.side, qty,
                o.price if price is None else price, fee, "taker", f"t-{o.client_order_id}-{qty}",
                T0)


def long_position(g, lots: int, symbol: str = "BTCUSDT") -> None:
    g.set_position("binance", symbol, lots)


# -------------------------------------------------------------------------------------------------
# passing

def test_check_passes_when_order_is_within_every_limit():
    g = make_gate(RiskLimits(max_gross_notional=10_000, max_net_notional=10_000,
                             max_orders_per_sec=10, order_burst=5),
                  SymbolLimits(max_order_lots=10_000, max_order_notional=5_000,
                               max_position_lots=100_000, max_notional=10_000))
    g.set_balance("binance", "USDT", 1_000.0)
    assert g.check(order()) is D.NONE
    assert g.passed == 1 and sum(g.denials.values()) == 0


# -------------------------------------------------------------------------------------------------
# one test per denial reason

def test_check_denies_reconciling_when_recovery_has_not_finished():
    g = make_gate()
    g.reconciling = True
    assert g.check(order()) is D.RECONCILING
    g.reconciling = False
    assert g.check(order()) is D.NONE


def test_check_denies_unknown_instrument_when_symbol_was_never_added():
    g = make_gate()
    assert g.check(order(symbol="SOLUSDT")) is D.UNKNOWN_INSTRUMENT
    assert g.check(order(venue="kraken")) is D.UNKNOWN_INSTRUMENT


def test_check_denies_halted_when_state_is_halted():
    g = make_gate()
    g.set_state(TradingState.HALTED, "test")
    long_position(g, 5000)
    assert g.check(order(SELL, 1000)) is D.HALTED        # even an exit
    assert g.check_cancel(order()) is D.NONE             # cancels still pass


def test_check_denies_reducing_only_when_state_is_reducing_and_order_adds_exposure():
    g = make_gate()
    g.set_state(TradingState.REDUCING, "test")
    assert g.check(order(BUY, 1000)) is D.REDUCING_ONLY           # flat: nothing reduces
    long_position(g, 3000)
    assert g.check(order(BUY, 1000)) is D.REDUCING_ONLY           # same side
    assert g.check(order(SELL, 4000)) is D.REDUCING_ONLY          # would flip to short
    assert g.check(order(SELL, 3000)) is D.NONE                   # closes exactly


def test_check_denies_bad_quantity_when_qty_is_not_positive_or_below_the_minimum():
    g = make_gate()
    assert g.check(order(qty=0)) is D.BAD_QUANTITY
    assert g.check(order(qty=-5)) is D.BAD_QUANTITY
    g.add_instrument(Instrument("binance", "BIGMIN", "0.01", "0.001", "B", "USDT",
                                   min_qty="0.01"))                   # min 10 lots
    g.update_mid("binance", "BIGMIN", 100.0, T0)
    assert g.check(order(qty=9, price=10_000, symbol="BIGMIN")) is D.BAD_QUANTITY
    assert g.check(order(qty=10, price=10_000, symbol="BIGMIN")) is D.NONE


def test_check_denies_bad_price_when_priced_order_has_no_price_or_stop_has_no_trigger():
    g = make_gate()
    assert g.check(order(price=0)) is D.BAD_PRICE
    assert g.check(order(type=OrderType.STOP_MARKET, price=0, trigger_price=0)) is D.BAD_PRICE
    assert g.check(order(type=OrderType.STOP_LIMIT, trigger_price=6_100_000,
                         price=0)) is D.BAD_PRICE


def test_check_denies_price_band_when_limit_is_too_far_from_mid():
    g = make_gate(btc=SymbolLimits(price_band=0.05))
    edge = int(BTC_MID * 1.05 * 100) - 1          # just inside +5 %
    assert g.check(order(price=edge)) is D.NONE
    assert g.check(order(price=int(BTC_MID * 1.06 * 100))) is D.PRICE_BAND
    assert g.check(order(SELL, price=int(BTC_MID * 0.90 * 100))) is D.PRICE_BAND
    assert g.check(order(type=OrderType.STOP_MARKET, price=0,
                         trigger_price=int(BTC_MID * 0.5 * 100))) is D.PRICE_BAND


def test_check_denies_no_market_data_when_symbol_has_no_mid_yet():
    g = make_gate()
    g.add_instrument(Instrument("binance", "SOLUSDT", "0.01", "0.01", "SOL", "USDT"))
    assert g.check(order(symbol="SOLUSDT", qty=10, price=15_000)) is D.NO_MARKET_DATA


def test_check_denies_stale_market_data_when_mid_is_older_than_max_age():
    g = make_gate(btc=SymbolLimits(max_mid_age_ns=2_000_000_000))
    g.clock.advance_to(T0 + 2_000_000_000)
    assert g.check(order()) is D.NONE
    g.clock.advance_to(T0 + 2_000_000_001)
    assert g.check(order()) is D.STALE_MARKET_DATA
    g.update_mid("binance", "BTCUSDT", BTC_MID, T0 + 2_000_000_001)
    assert g.check(order()) is D.NONE


def test_check_denies_max_order_qty_when_qty_is_over_the_symbol_limit():
    g = make_gate(btc=SymbolLimits(max_order_lots=5_000))
    assert g.check(order(qty=5_000)) is D.NONE
    assert g.check(order(qty=5_001)) is D.MAX_ORDER_QTY


def test_check_denies_max_order_notional_when_value_is_over_the_limit():
    g = make_gate(btc=SymbolLimits(max_order_notional=1_000.0))
    assert g.check(order(qty=1_000)) is D.NONE                    # 618.37
    assert g.check(order(qty=2_000)) is D.MAX_ORDER_NOTIONAL      # 1236.74
    # a market order is valued at the mid
    assert g.check(order(qty=2_000, price=0, type=OrderType.MARKET)) is D.MAX_ORDER_NOTIONAL


def test_check_denies_min_notional_when_value_is_under_the_venue_minimum():
    g = make_gate()
    assert g.check(order(qty=8)) is D.MIN_NOTIONAL                # 4.95 < 5
    assert g.check(order(qty=9)) is D.NONE                        # 5.57


def test_check_denies_max_position_when_position_plus_working_buys_would_exceed_it():
    g = make_gate(btc=SymbolLimits(max_position_lots=10_000))
    long_position(g, 6_000)
    working = order(BUY, 3_000)
    g.on_order_open(working)
    assert g.check(order(BUY, 1_000)) is D.NONE                   # 6000 + 3000 + 1000
    assert g.check(order(BUY, 1_001)) is D.MAX_POSITION
    g.on_order_done(working)
    assert g.check(order(BUY, 4_000)) is D.NONE


def test_check_denies_max_symbol_exposure_when_position_value_would_exceed_it():
    g = make_gate(btc=SymbolLimits(max_notional=3_000.0))         # ~0.0485 BTC at the mid
    long_position(g, 4_000)                                       # 0.04 BTC ~ 2473
    assert g.check(order(BUY, 800)) is D.NONE                     # 0.048 ~ 2968
    assert g.check(order(BUY, 900)) is D.MAX_SYMBOL_EXPOSURE      # 0.049 ~ 3030


def test_check_denies_max_gross_exposure_when_portfolio_gross_would_exceed_it():
    g = make_gate(RiskLimits(max_gross_notional=5_000.0))
    long_position(g, 5_000)                                       # 3092 BTC long
    g.set_position("binance", "ETHUSDT", -6_000)                  # 1502 ETH short
    assert g.check(order(BUY, 300)) is D.NONE                     # +186 -> 4780
    assert g.check(order(BUY, 1_000)) is D.MAX_GROSS_EXPOSURE     # +618 -> 5213


def test_check_denies_max_net_exposure_when_portfolio_net_would_exceed_it():
    g = make_gate(RiskLimits(max_net_notional=2_000.0))
    long_position(g, 5_000)                                       # +3092
    g.set_position("binance", "ETHUSDT", -6_000)                  # -1502: net +1590
    assert g.check(order(BUY, 600)) is D.NONE                     # +371 -> 1961
    assert g.check(order(BUY, 1_000)) is D.MAX_NET_EXPOSURE       # +618 -> 2208
    assert g.check(order(SELL, 1_000, symbol="ETHUSDT", price=250_000)) is D.NONE


def test_check_denies_cluster_exposure_when_correlated_positions_together_exceed_the_limit():
    g = make_gate()
    long_position(g, 3_000)                                       # 1855 BTC
    g.set_position("binance", "ETHUSDT", 6_000)                   # 1502 ETH: each alone small
    g.set_cluster_limits([ClusterLimit((BTC.key, ETH.key), (1, 1), 4_000.0)])
    # 1855 + 1502 = 3357 together; lots are valued at the mid
    assert g.check(order(BUY, 1_000)) is D.NONE                   # + 618 -> 3976
    assert g.check(order(BUY, 1_100)) is D.CLUSTER_EXPOSURE       # + 680 -> 4038
    # negatively correlated members offset each other: 1855 - 1502 + 680 = 1033
    g.set_cluster_limits([ClusterLimit((BTC.key, ETH.key), (1, -1), 4_000.0)])
    assert g.check(order(BUY, 1_100)) is D.NONE


def test_check_denies_insufficient_balance_when_free_quote_does_not_cover_a_buy():
    g = make_gate()
    g.set_balance("binance", "USDT", 600.0)
    assert g.check(order(BUY, 1_000)) is D.INSUFFICIENT_BALANCE   # 618.37 * 1.001
    g.set_balance("binance", "USDT", 620.0)
    assert g.check(order(BUY, 1_000)) is D.NONE
    g.set_balance("binance", "BTC", 0.005)
    assert g.check(order(SELL, 1_000)) is D.INSUFFICIENT_BALANCE  # sells 0.01 BTC


def test_check_denies_insufficient_balance_when_balance_is_required_but_never_set():
    g = make_gate(RiskLimits(require_balance=True))
    assert g.check(order()) is D.INSUFFICIENT_BALANCE


def test_check_denies_order_rate_when_burst_is_used_up():
    g = make_gate(RiskLimits(max_orders_per_sec=10, order_burst=3))
    assert [g.check(order()) for _ in range(4)] == [D.NONE] * 3 + [D.ORDER_RATE]
    g.clock.advance_to(T0 + 100_000_000)                          # one period later
    assert g.check(order()) is D.NONE
    assert g.check(order()) is D.ORDER_RATE


def test_check_denies_cancel_rate_when_cancels_come_faster_than_allowed():
    g = make_gate(RiskLimits(max_cancels_per_sec=2, cancel_burst=2))
    o = order()
    assert [g.check_cancel(o) for _ in range(3)] == [D.NONE, D.NONE, D.CANCEL_RATE]
    g.clock.advance_to(T0 + 500_000_000)
    assert g.check_cancel(o) is D.NONE


def test_check_denies_reduce_only_violation_when_reduce_only_order_would_open_or_flip():
    g = make_gate()
    assert g.check(order(SELL, 1_000, reduce_only=True)) is D.REDUCE_ONLY_VIOLATION   # flat
    long_position(g, 2_000)
    assert g.check(order(SELL, 2_001, reduce_only=True)) is D.REDUCE_ONLY_VIOLATION   # flip
    assert g.check(order(SELL, 2_000, reduce_only=True)) is D.NONE


# -------------------------------------------------------------------------------------------------
# the reduce rule

def test_reduces_when_working_exits_already_cover_the_position_is_false():
    g = make_gate()
    long_position(g, 3_000)
    exit1 = order(SELL, 2_000)
    assert g.reduces(exit1)
    g.on_order_open(exit1)
    assert g.reduces(order(SELL, 1_000))
    assert not g.reduces(order(SELL, 1_001))       # 2000 working + 1001 > 3000


def test_check_passes_reducing_market_order_when_there_is_no_market_data():
    g = make_gate(btc=SymbolLimits(max_mid_age_ns=1_000))
    long_position(g, 2_000)
    g.clock.advance_to(T0 + 10_000)                                # the mid is stale
    assert g.check(order(SELL, 2_000, price=0, type=OrderType.MARKET)) is D.NONE
    assert g.check(order(SELL, 2_000)) is D.STALE_MARKET_DATA     # a limit exit still checks
    assert g.check(order(BUY, 10, price=0, type=OrderType.MARKET)) is D.STALE_MARKET_DATA


def test_check_skips_exposure_limits_when_order_reduces():
    g = make_gate(RiskLimits(max_gross_notional=1_000.0), SymbolLimits(max_position_lots=100))
    long_position(g, 5_000)                                        # far over both limits
    assert g.check(order(BUY, 10)) is D.MAX_POSITION
    assert g.check(order(SELL, 1_000)) is D.NONE


# -------------------------------------------------------------------------------------------------
# states, strategies, kill latch, counters

def test_set_state_when_kill_switch_latch_is_held_refuses_to_leave_halted():
    g = make_gate()
    g.latch_halt("kill switch")
    with pytest.raises(RuntimeError, match="rearm"):
        g.set_state(TradingState.ACTIVE, "operator")
    assert g.state is TradingState.HALTED
    g.release_latch()
    g.set_state(TradingState.ACTIVE, "operator")
    assert g.check(order()) is D.NONE


def test_set_state_when_state_changes_tells_listeners_once():
    g = make_gate()
    seen = []
    g.on_state_change(lambda s, r: seen.append((s, r)))
    g.set_state(TradingState.REDUCING, "drawdown")
    g.set_state(TradingState.REDUCING, "drawdown again")
    assert seen == [(TradingState.REDUCING, "drawdown")]


def test_check_when_strategy_is_held_reducing_denies_only_that_strategys_new_exposure():
    g = make_gate()
    g.set_strategy_state("mm", TradingState.REDUCING, "strategy drawdown")
    assert g.check(order(strategy_id="mm")) is D.REDUCING_ONLY
    assert g.check(order(strategy_id="arb")) is D.NONE
    g.set_strategy_state("mm", TradingState.HALTED, "worse")
    assert g.check(order(strategy_id="mm")) is D.HALTED
    g.set_strategy_state("mm", TradingState.ACTIVE, "reset")
    assert g.check(order(strategy_id="mm")) is D.NONE


def test_denials_when_orders_are_denied_counts_each_reason():
    g = make_gate()
    g.check(order(qty=0))
    g.check(order(qty=0))
    g.check(order(symbol="NOPE"))
    g.check(order())
    d = g.denials
    assert d[D.BAD_QUANTITY] == 2 and d[D.UNKNOWN_INSTRUMENT] == 1
    assert sum(d.values()) == 3 and g.passed == 1 and D.NONE not in d


def test_check_method_of_the_class_gives_the_same_answer_as_the_instance_fast_path():
    from tradecore.risk.gate import RiskGate
    g = make_gate(btc=SymbolLimits(max_order_lots=10))
    for o in (order(), order(qty=5), order(qty=0), order(symbol="X")):
        assert RiskGate.check(g, o) is g.check(o)


# -------------------------------------------------------------------------------------------------
# bookkeeping: open orders, fills, balances, modify

def test_on_fill_when_buy_fills_moves_position_working_lots_and_balances():
    g = make_gate()
    g.set_balance("binance", "USDT", 1_000.0)
    g.set_balance("binance", "BTC", 0.0)
    o = order(BUY, 1_000)
    g.on_order_open(o)
    assert g.open_lots("binance", "BTCUSDT") == (1_000, 0)
    assert g.balance("binance", "USDT") == pytest.approx(1_000 - 618.37 * 1.001)
    g.on_fill(fill(o, 400, fee=0.1))
    assert g.position("binance", "BTCUSDT") == 400
    assert g.open_lots("binance", "BTCUSDT") == (600, 0)
    assert g.balance("binance", "BTC") == pytest.approx(0.004)
    g.on_order_done(o)                                    # cancelled: the rest is released
    assert g.open_lots("binance", "BTCUSDT") == (0, 0)
    assert g.balance("binance", "USDT") == pytest.approx(1_000 - 0.004 * 61837.0 - 0.1)


def test_on_order_open_when_called_twice_counts_the_order_once():
    g = make_gate()
    o = order(SELL, 500)
    g.on_order_open(o)
    g.on_order_open(o)
    assert g.open_lots("binance", "BTCUSDT") == (0, 500)


def test_check_modify_when_order_is_enlarged_counts_only_the_new_size():
    g = make_gate(btc=SymbolLimits(max_position_lots=3_000))
    o = order(BUY, 2_000)
    g.on_order_open(o)
    assert g.check(order(BUY, 1_500)) is D.MAX_POSITION           # 2000 working + 1500
    assert g.check_modify(o, 3_000, o.price) is D.NONE            # replaces its own 2000
    assert g.check_modify(o, 3_001, o.price) is D.MAX_POSITION


def test_check_modify_when_balance_is_tight_counts_the_orders_own_reservation_as_free():
    g = make_gate()
    g.set_balance("binance", "USDT", 700.0)
    o = order(BUY, 1_000)                                         # holds back ~619
    g.on_order_open(o)
    assert g.check(order(BUY, 100)) is D.NONE                     # 81 left; needs 61.9
    assert g.check(order(BUY, 200)) is D.INSUFFICIENT_BALANCE     # needs 123.8
    assert g.check_modify(o, 1_100, o.price) is D.NONE            # 680.9 <= 700
    assert g.check_modify(o, 1_200, o.price) is D.INSUFFICIENT_BALANCE
    assert g.balance("binance", "USDT") == pytest.approx(700.0 - 618.37 * 1.001)


def test_set_cluster_limits_when_a_member_is_unknown_raises_and_changes_nothing():
    g = make_gate()
    g.set_cluster_limits([ClusterLimit((BTC.key, ETH.key), (1, 1), 1e9)])
    with pytest.raises(KeyError, match="SOLUSDT"):
        g.set_cluster_limits([ClusterLimit((BTC.key, ("binance", "SOLUSDT")), (1, 1), 1.0)])
    assert g.kernel.symbol(g.index(*ETH.key))["cluster"] == 0


def test_add_instrument_when_grid_changes_raises():
    g = make_gate()
    with pytest.raises(ValueError, match="grid changed"):
        g.add_instrument(Instrument("binance", "BTCUSDT", "0.1", "0.00001", "BTC", "USDT"))


# -------------------------------------------------------------------------------------------------
# pulled mids (pending_mids: noted per book change, given to the kernel at the next read)

def test_pending_mid_reaches_check_modify_and_mid_when_noted_after_the_last_push():
    g = make_gate(btc=SymbolLimits(price_band=0.05))
    far = int(BTC_MID * 1.5 * 100)
    g.pending_mids[("binance", "BTCUSDT")] = (BTC_MID * 1.5, T0 + 1)
    assert g.mid("binance", "BTCUSDT") == (BTC_MID * 1.5, T0 + 1)
    assert not g.pending_mids
    g.pending_mids[("binance", "BTCUSDT")] = (BTC_MID, T0 + 2)
    assert g.check_modify(order(), 1000, far) is D.PRICE_BAND      # judged against BTC_MID


def test_update_mid_wins_over_an_older_pending_mid_when_pushed_after_it():
    g = make_gate()
    g.pending_mids[("binance", "BTCUSDT")] = (1.0, T0 + 1)
    g.pending_mids[("binance", "UNKNOWN")] = (2.0, T0 + 1)       # not a gate symbol: dropped
    g.update_mid("binance", "BTCUSDT", BTC_MID, T0 + 2)
    assert g.mid("binance", "BTCUSDT") == (BTC_MID, T0 + 2)
    assert not g.pending_mids


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["BTCUSDT", "ETHUSDT", "UNKNOWN"]),
                          st.floats(1e-6, 1e9), st.integers(0, 2**62)), max_size=6))
def test_compiled_flush_mids_equals_the_python_reference_when_any_pending_mids(notes):
    """gate.flush_mids (the kernel's loop, bound per instance) against RiskGate.flush_mids
    (the method: the Python reference) on the same notes."""
    from tradecore.risk.gate import RiskGate
    compiled, reference = make_gate(), make_gate()
    for g in (compiled, reference):
        for sym, mid, ts in notes:
            g.pending_mids[("binance", sym)] = (mid, ts)
    compiled.flush_mids()
    RiskGate.flush_mids(reference)
    assert not compiled.pending_mids and not reference.pending_mids
    for sym in ("BTCUSDT", "ETHUSDT"):
        assert compiled.mid("binance", sym) == reference.mid("binance", sym)


@given(st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(-5, 3_000_000),
                          st.integers(0, 9_000_000), st.sampled_from(list(OrderType)),
                          st.sampled_from(["BTCUSDT", "ETHUSDT", "XRPUSDT"]),
                          st.booleans(), st.sampled_from(["s1", "s2"])),
                min_size=1, max_size=30))
@settings(max_examples=200, deadline=None)
def test_check_when_the_order_is_read_by_slot_offsets_answers_as_by_attributes(specs):
    """The kernel reads an Order by its slots' offsets (_fast/slots.pxd) and anything else by
    attribute: two identical gates, one given Orders and one the same fields as a plain
    object, give the same answers in the same order (rate limits and counts included)."""
    from types import SimpleNamespace

    from tradecore.risk.limits import RiskLimits as RL
    lim = RL(max_orders_per_sec=50, order_burst=7, max_gross_notional=5_000)
    a, b = make_gate(lim, SymbolLimits(max_order_lots=2_000_000)), make_gate(
        lim, SymbolLimits(max_order_lots=2_000_000))
    a.set_strategy_state("s2", TradingState.REDUCING, "test")
    b.set_strategy_state("s2", TradingState.REDUCING, "test")
    for side, qty, price, otype, sym, red, sid in specs:
        o = order(side, qty, price, symbol=sym, type=otype, reduce_only=red, strategy_id=sid)
        duck = SimpleNamespace(**{f: getattr(o, f) for f in o.__slots__})
        assert a.check(o) is b.check(duck)
    assert a.denials == b.denials and a.passed == b.passed
