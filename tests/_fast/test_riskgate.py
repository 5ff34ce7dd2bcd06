"""The compiled risk gate kernel against its plain-Python reference (tradecore.risk.reference):
the same DenyReason for every order over random states, limits and order streams; its enums
mirror core.orders; its throttle never lets more through than the rate allows."""
from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tradecore._fast import riskgate
from tradecore._fast.riskgate import RiskKernel
from tradecore.core.orders import DenyReason, Fill, OrderType, Side, TradingState
from tradecore.risk.limits import ClusterLimit, RiskLimits, SymbolLimits
from tradecore.risk.reference import ReferenceKernel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "risk"))
from _riskkit import BTC, ETH, T0, make_gate, order  # noqa: E402

examples = settings(max_examples=300, deadline=None)


# -------------------------------------------------------------------------------------------------
# the enums the kernel mirrors

def test_kernel_enums_when_compared_with_core_orders_are_equal():
    assert {m.name: m.value for m in DenyReason} == {
        m.name.removeprefix("DENY_"): int(m) for m in riskgate.Deny}
    assert {m.name: m.value for m in TradingState} == {
        m.name.removeprefix("STATE_"): int(m) for m in riskgate.State}
    assert {m.name: m.value for m in OrderType} == {
        m.name.removeprefix("OTYPE_"): int(m) for m in riskgate.OType}
    assert (int(Side.BUY), int(Side.SELL)) == (1, -1)


# -------------------------------------------------------------------------------------------------
# compiled == reference

sym_limits = st.builds(
    SymbolLimits,
    max_order_lots=st.sampled_from([0, 500, 2_000, 10_000]),
    max_order_notional=st.sampled_from([0.0, 300.0, 1_000.0]),
    max_position_lots=st.sampled_from([0, 3_000, 20_000]),
    max_notional=st.sampled_from([0.0, 1_000.0, 5_000.0]),
    price_band=st.sampled_from([0.0, 0.01, 0.05]),
    max_mid_age_ns=st.sampled_from([0, 1_000, 10**9]),
    spot=st.booleans(),
).map(lambda s: s if s.spot else SymbolLimits(**{**_fields(s), "leverage": 5.0}))


def _fields(s: SymbolLimits) -> dict:
    return {f: getattr(s, f) for f in s.__slots__}


risk_limits = st.builds(
    RiskLimits,
    max_gross_notional=st.sampled_from([0.0, 2_000.0, 8_000.0]),
    max_net_notional=st.sampled_from([0.0, 1_500.0, 6_000.0]),
    max_orders_per_sec=st.sampled_from([0.0, 5.0, 1_000.0]),
    order_burst=st.integers(1, 4),
    max_cancels_per_sec=st.sampled_from([0.0, 10.0]),
    cancel_burst=st.integers(1, 3),
    require_balance=st.booleans(),
)

symbols = st.sampled_from(["BTCUSDT"] * 5 + ["ETHUSDT"] * 3 + ["NOPE"])
sides = st.sampled_from([Side.BUY, Side.SELL])
otypes = st.sampled_from([OrderType.LIMIT] * 4 + [OrderType.MARKET] * 2 + list(OrderType))
ticks = st.sampled_from([0] + [250_000, 6_000_000, 6_183_700, 6_300_000, 7_000_000] * 3)
lots = st.one_of(st.integers(-1, 12_000), st.integers(1, 1_500))

new_order = st.builds(lambda s, sd, t, q, p, tr, ro, sid: order(
    sd, q, p, symbol=s, type=t, trigger_price=tr, reduce_only=ro, strategy_id=sid),
    symbols, sides, otypes, lots, ticks, ticks, st.sampled_from([False] * 4 + [True]),
    st.sampled_from(["a", "b"]))

op = st.one_of(
    st.tuples(st.just("check"), new_order),
    st.tuples(st.just("check"), new_order),
    st.tuples(st.just("check"), new_order),
    st.tuples(st.just("cancel"), st.none()),
    st.tuples(st.just("position"), st.tuples(symbols, st.integers(-15_000, 15_000))),
    st.tuples(st.just("open"), new_order),
    st.tuples(st.just("open"), new_order),
    st.tuples(st.just("fill"), st.tuples(st.integers(0, 50), st.integers(1, 3_000),
                                         st.sampled_from([0.0, 0.25]))),
    st.tuples(st.just("done"), st.integers(0, 50)),
    st.tuples(st.just("mid"), st.tuples(symbols, st.sampled_from([0.0, 2504.01, 61837.635,
                                                                    61000.0]))),
    st.tuples(st.just("balance"), st.tuples(st.sampled_from(["USDT", "BTC", "ETH"]),
                                            st.sampled_from([0.0, 50.0, 700.0, 1e6]))),
    st.tuples(st.just("state"), st.sampled_from([TradingState.ACTIVE] * 3 + list(TradingState))),
    st.tuples(st.just("strategy"), st.sampled_from(list(TradingState))),
    st.tuples(st.just("reconciling"), st.sampled_from([False] * 3 + [True])),
    st.tuples(st.just("clock"), st.sampled_from([1, 500, 100_000_000, 2_000_000_000])),
    st.tuples(st.just("cluster"), st.tuples(st.sampled_from([1, -1]),
                                            st.sampled_from([500.0, 3_000.0]))),
)


def _apply(g, kind, arg, opened: list) -> object:
    if kind == "check":
        return g.check(arg)
    if kind == "cancel":
        return g.check_cancel(None)
    if kind == "position":
        if arg[0] != "NOPE":
            g.set_position("binance", arg[0], arg[1])
    elif kind == "open":
        g.on_order_open(arg)
    elif kind == "fill" and opened:
        o = opened[arg[0] % len(opened)]
        px = o.price or o.trigger_price or 6_183_700
        g.on_fill(Fill(o.client_order_id, o.venue, o.symbol, o.side, arg[1], px, arg[2],
                       "taker", f"t{arg}", g.clock.time_ns()))
    elif kind == "done" and opened:
        g.on_order_done(opened[arg % len(opened)])
    elif kind == "mid":
        g.update_mid("binance", arg[0], arg[1], g.clock.time_ns())
    elif kind == "balance":
        g.set_balance("binance", arg[0], arg[1])
    elif kind == "state":
        g.set_state(arg, "test")
    elif kind == "strategy":
        g.set_strategy_state("a", arg, "test")
    elif kind == "reconciling":
        g.reconciling = arg
    elif kind == "clock":
        g.clock.advance_to(g.clock.time_ns() + arg)
    elif kind == "cluster":
        g.set_cluster_limits([ClusterLimit((BTC.key, ETH.key), (1, arg[0]), arg[1])])
    return None


@examples
@given(limits=risk_limits, btc=sym_limits, eth=sym_limits, ops=st.lists(op, max_size=60))
def test_compiled_gate_when_driven_like_the_reference_gives_the_same_reason_every_time(
        limits, btc, eth, ops):
    fast = make_gate(limits, btc, eth)
    ref = make_gate(limits, btc, eth, kernel_factory=ReferenceKernel)
    opened: list = []
    for kind, arg in ops:
        if kind == "open":
            opened.append(arg)
        a, b = _apply(fast, kind, arg, opened), _apply(ref, kind, arg, opened)
        assert a == b, (kind, arg)
        if kind == "check":
            assert type(a) is DenyReason and type(b) is DenyReason
            event(a.name)
    assert fast.denials == ref.denials and fast.passed == ref.passed
    for s in ("BTCUSDT", "ETHUSDT"):
        assert fast.kernel.symbol(fast.index("binance", s)) == \
            ref.kernel.symbol(ref.index("binance", s))
    for asset in ("USDT", "BTC", "ETH"):
        assert fast.balance("binance", asset) == ref.balance("binance", asset)


@examples
@given(limits=risk_limits, btc=sym_limits, pos=st.integers(-20_000, 20_000),
       working=st.integers(0, 8_000), o=new_order, repl=st.integers(0, 3_000))
def test_kernel_check_with_a_replaced_order_equals_the_reference(limits, btc, pos, working, o,
                                                                   repl):
    k, r = RiskKernel(4), ReferenceKernel(4)
    for kern in (k, r):
        kern.set_portfolio_limits(limits.max_gross_notional, limits.max_net_notional)
        kern.add_asset()
        kern.set_balance(0, 700.0)
        i = kern.add_symbol(0.01, 0.00001, min_lots=1, min_notional=5.0, taker_fee=0.001,
                            quote_asset=0, spot=btc.spot, leverage=btc.leverage,
                            max_order_lots=btc.max_order_lots,
                            max_order_notional=btc.max_order_notional,
                            max_position_lots=btc.max_position_lots,
                            max_symbol_notional=btc.max_notional, price_band=btc.price_band,
                            max_mid_age_ns=btc.max_mid_age_ns)
        kern.set_mid(i, 61837.635, T0)
        kern.set_position(i, pos)
        kern.add_open(i, 1, working)
        kern.add_open(i, -1, working // 2)
    rr = min(repl, working if o.side > 0 else working // 2)
    args = (0, int(o.side), int(o.type), o.qty, o.price, o.trigger_price, o.reduce_only, T0, rr)
    assert k.check(*args) == r.check(*args)
    assert k.reduces(0, int(o.side), o.qty, rr) == r.reduces(0, int(o.side), o.qty, rr)


# -------------------------------------------------------------------------------------------------
# throttle

@examples
@given(rate=st.sampled_from([1.0, 10.0, 333.0]), burst=st.integers(1, 5),
       gaps=st.lists(st.integers(0, 400_000_000), min_size=1, max_size=80))
def test_order_rate_when_orders_arrive_at_any_times_never_passes_more_than_burst_plus_rate(
        rate, burst, gaps):
    k = RiskKernel(1)
    k.add_symbol(0.01, 0.001)
    k.set_mid(0, 100.0, 0)
    period = RiskLimits.period_ns(rate)
    k.set_order_rate(period, burst)
    now, passed = T0, []
    for g in gaps:
        now += g
        if k.check(0, 1, 1, 1, 10_000, 0, False, now) == DenyReason.NONE:
            passed.append(now)
    # in any window [t, t + w], at most burst + w / period orders conform
    for i, t in enumerate(passed):
        for j in range(i, len(passed)):
            assert j - i + 1 <= burst + (passed[j] - t) // period


def test_kernel_when_symbols_exceed_capacity_grows_and_keeps_their_state():
    k = RiskKernel(1)
    for n in range(40):
        i = k.add_symbol(0.01, 0.001)
        k.set_mid(i, 100.0 + n, n)
        k.set_position(i, n)
    assert k.n_symbols == 40
    assert [k.symbol(i)["pos"] for i in range(40)] == list(range(40))
    assert k.symbol(39)["mid"] == 139.0
