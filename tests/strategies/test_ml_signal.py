"""MLSignalStrategy against a recording fake of the engine, on real candles."""
from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from datafiles import shared_file
from tradecore.core.clock import SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import (DenyReason, Order, OrderStatus, OrderType, Side, TimeInForce,
                                   TradingState)
from tradecore.ml.ab import ABRouter
from tradecore.ml.features import CandleFeatures, load_candles
from tradecore.ml.inference import OnnxModel
from tradecore.ml.mlp import MLP
from tradecore.ml.onnx_export import mlp_to_onnx
from tradecore.strategies.ml_signal import MLSignalStrategy

V, S = "binance", "BTCUSDT"


class FakeContext:
    """Fills every market order at once (positions move), denies when `deny` is set."""

    def __init__(self) -> None:
        self.clock = SimClock(1_000_000_000)
        self.inst = Instrument(V, S, "0.01", "0.00001", "BTC", "USDT", taker_fee=0.001)
        self.orders: list[Order] = []
        self.pos = 0
        self.state = TradingState.ACTIVE
        self.deny = False

    def instrument(self, venue, symbol):
        return self.inst

    def book(self, venue, symbol):
        return None

    def submit(self, order: Order) -> Order:
        if self.deny:
            order.status, order.deny_reason = OrderStatus.DENIED, DenyReason.MAX_POSITION
        else:
            order.status = OrderStatus.FILLED
            self.pos += order.signed_qty
        self.orders.append(order)
        return order

    def cancel(self, client_order_id):
        raise AssertionError("MLSignalStrategy sends IOC market orders and never cancels")

    def position_lots(self, venue, symbol):
        return self.pos

    def position(self, venue, symbol):
        return None

    def open_orders(self, strategy_id):
        return []

    def trading_state(self):
        return self.state

    def free_balance(self, venue, asset):
        return math.inf


class ConstModel:
    """A model whose P(up) follows a script (to test the decision logic exactly)."""

    def __init__(self, probs, model_id="const-1"):
        self.probs = list(probs)
        self.model_id = model_id
        self.warmup_ns = {"run": 1000.0}
        self.rows = []

    def predict_row(self, row):
        self.rows.append(np.array(row))
        return np.array([[self.probs.pop(0)]], dtype=np.float32)


@pytest.fixture(scope="module")
def candles():
    return load_candles(str(shared_file("ohlcv/binance_BTCUSDT_1h_20210426_20210526.csv")))


def _feed(strat, ctx, c, n):
    for i in range(n):
        ctx.clock.advance_to(int(c.ts_ns[i]))
        strat.on_bar(V, S, int(c.ts_ns[i]), c.open[i], c.high[i], c.low[i], c.close[i],
                     c.volume[i])


def test_orders_follow_the_target_position_from_predictions(candles):
    fs = CandleFeatures()
    n = fs.warmup + 6
    model = ConstModel([0.6, 0.58, 0.49, 0.3, 0.45, 0.52])
    ctx = FakeContext()
    st = MLSignalStrategy("ml", {"qty_lots": 100}, model=model, features=fs)
    st.bind(ctx)
    _feed(st, ctx, candles, n)
    # 0.6 long; 0.58 hold; 0.49 flat; 0.3 short; 0.45 hold short; 0.52 flat
    got = [(o.side, o.qty, o.reduce_only) for o in ctx.orders]
    assert got == [(Side.BUY, 100, False), (Side.SELL, 100, True), (Side.SELL, 100, False),
                   (Side.BUY, 100, True)]
    assert all(o.type == OrderType.MARKET and o.tif == TimeInForce.IOC for o in ctx.orders)
    assert all(o.tag == "ml:const-1:champion" for o in ctx.orders)
    assert st.counters["warm-up bar"] == fs.warmup
    assert [p.model_id for p in st.predictions] == ["const-1"] * 6


def test_model_sees_the_same_rows_as_the_batch_features(candles):
    fs = CandleFeatures()
    n = fs.warmup + 50
    model = ConstModel([0.5] * 50)
    ctx = FakeContext()
    st = MLSignalStrategy("ml", model=model, features=fs)
    st.bind(ctx)
    _feed(st, ctx, candles, n)
    np.testing.assert_allclose(np.array(model.rows), fs.batch(candles.slice(0, n))[fs.warmup:],
                               atol=1e-12)


def test_no_new_exposure_when_halted_or_reducing_and_denials_are_counted(candles):
    fs = CandleFeatures()
    ctx = FakeContext()
    st = MLSignalStrategy("ml", model=ConstModel([0.7, 0.7, 0.48, 0.2]), features=fs)
    st.bind(ctx)
    ctx.state = TradingState.HALTED
    _feed(st, ctx, candles, fs.warmup + 1)
    assert ctx.orders == [] and st.counters["skipped: halted"] == 1
    ctx.state = TradingState.ACTIVE
    ctx.deny = True
    _feed_one = lambda i: (ctx.clock.advance_to(int(candles.ts_ns[i])),
                           st.on_bar(V, S, int(candles.ts_ns[i]), candles.open[i],
                                     candles.high[i], candles.low[i], candles.close[i],
                                     candles.volume[i]))
    _feed_one(fs.warmup + 1)
    assert st.counters["denied"] == 1 and ctx.pos == 0
    ctx.deny = False
    ctx.pos = 1
    ctx.state = TradingState.REDUCING
    _feed_one(fs.warmup + 2)                 # 0.48: flat from long -> a reducing sell passes
    assert ctx.orders[-1].side == Side.SELL and ctx.orders[-1].reduce_only and ctx.pos == 0
    _feed_one(fs.warmup + 3)                 # 0.2: short would add exposure
    assert st.counters["skipped: reducing only"] == 1 and ctx.pos == 0


def test_real_onnx_model_drives_orders_on_real_candles(candles):
    fs = CandleFeatures()
    X = fs.batch(candles)[fs.warmup:]
    m = MLP(X.shape[1], (16,), seed=1)
    m.fit_scaler(X)
    om = OnnxModel(mlp_to_onnx(m).SerializeToString(), "mlp-test-1")
    ctx = FakeContext()
    st = MLSignalStrategy("ml", {"enter": 0.5, "exit": 0.5}, model=om, features=fs)
    st.bind(ctx)
    _feed(st, ctx, candles, len(candles))
    probs = np.array([p.prob for p in st.predictions])
    np.testing.assert_allclose(probs, m.predict(X).ravel(), atol=1e-6)
    assert len(ctx.orders) > 0 and all(o.tag.startswith("ml:mlp-test-1") for o in ctx.orders)
    assert abs(ctx.pos) <= 1


def test_shadow_challenger_is_logged_but_never_trades(candles):
    fs = CandleFeatures()
    champ = ConstModel([0.6, 0.6, 0.6], "champ")
    chall = ConstModel([0.1, 0.1, 0.1], "chall")
    router = ABRouter(champ, chall, shadow=True)
    ctx = FakeContext()
    st = MLSignalStrategy("ml", model=champ, features=fs, router=router)
    st.bind(ctx)
    _feed(st, ctx, candles, fs.warmup + 3)
    assert [o.tag for o in ctx.orders] == ["ml:champ:champion"]
    roles = [(p.model_id, p.role, p.acted) for p in st.predictions]
    assert ("chall", "shadow", False) in roles and len(roles) == 6
    assert sum(1 for r in router.log if r[4]) == 3


def test_bars_are_built_from_book_mids_per_interval():
    class Book:
        def __init__(self):
            self.m = None

        def mid(self):
            return self.m

    fs = CandleFeatures((1,), 2)
    model = ConstModel([0.9] * 10)
    ctx = FakeContext()
    st = MLSignalStrategy("ml", {"bar_ns": 1_000_000_000}, model=model, features=fs,
                          markets=((V, S),))
    st.bind(ctx)
    b = Book()
    mids = [(1.0, 100.0), (1.5, 101.0), (1.7, 99.0), (2.1, 102.0), (3.2, 103.0), (4.0, 104.0),
            (5.5, 105.0)]
    bars = []
    orig = st.on_bar
    st.on_bar = lambda *a: (bars.append(a[2:7]), orig(*a))
    for t, m in mids:
        ctx.clock.advance_to(int(t * 1e9))
        b.m = m
        st.on_book(V, S, b)
    assert bars[0] == (2_000_000_000, 100.0, 101.0, 99.0, 99.0)
    assert bars[1] == (3_000_000_000, 102.0, 102.0, 102.0, 102.0)
    assert len(bars) == 4 and len(model.rows) == 2


def test_slow_model_runs_off_the_loop_and_delivers_back_on_it(candles):
    fs = CandleFeatures()
    X = fs.batch(candles)[fs.warmup:]
    m = MLP(X.shape[1], (8,), seed=2)
    m.fit_scaler(X)
    om = OnnxModel(mlp_to_onnx(m).SerializeToString(), "slow")

    async def run():
        loop = asyncio.get_running_loop()
        ctx = FakeContext()
        st = MLSignalStrategy("ml", {"enter": 0.5, "exit": 0.5}, model=om, features=fs,
                              inline=False, loop=loop)
        st.bind(ctx)
        for i in range(fs.warmup + 20):
            st.on_bar(V, S, int(candles.ts_ns[i]), candles.open[i], candles.high[i],
                      candles.low[i], candles.close[i], candles.volume[i])
            for _ in range(200):
                if st._async.pending == 0:
                    break
                await asyncio.sleep(0.001)
        st.on_stop()
        return st

    st = asyncio.run(run())
    assert len(st.predictions) == 20
    np.testing.assert_allclose([p.prob for p in st.predictions], m.predict(X[:20]).ravel(),
                               atol=1e-6)


def test_bad_config_and_missing_loop_for_a_slow_model_are_refused():
    fs = CandleFeatures()
    with pytest.raises(ValueError, match="unknown config keys"):
        MLSignalStrategy("ml", {"treshold": 0.6}, model=ConstModel([]), features=fs)
    with pytest.raises(ValueError, match="exit <= enter"):
        MLSignalStrategy("ml", {"enter": 0.52, "exit": 0.6}, model=ConstModel([]), features=fs)
    wrong = OnnxModel(mlp_to_onnx(MLP(5, (4,))).SerializeToString(), "five", warmup=2)
    with pytest.raises(ValueError, match="takes 5 features, the feature source gives 9"):
        MLSignalStrategy("ml", model=wrong, features=fs)
    slow = ConstModel([])
    slow.warmup_ns = {"run": 50_000.0}
    with pytest.raises(ValueError, match="needs the event loop"):
        MLSignalStrategy("ml", model=slow, features=fs)
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError, match="inline models only"):
            MLSignalStrategy("ml", model=slow, features=fs, router=ABRouter(slow), loop=loop)
    finally:
        loop.close()


def test_strategy_positions_equal_the_vectorised_backtest_positions(candles):
    """The walk-forward report backtests positions_from_probs; the live strategy must take the
    same positions from the same predictions."""
    from tradecore.ml.evaluate import positions_from_probs
    fs = CandleFeatures()
    X = fs.batch(candles)[fs.warmup:]
    m = MLP(X.shape[1], (16,), seed=3)
    m.fit_scaler(X)
    om = OnnxModel(mlp_to_onnx(m).SerializeToString(), "mlp-pos")
    ctx = FakeContext()
    st = MLSignalStrategy("ml", {"enter": 0.52, "exit": 0.5}, model=om, features=fs)
    st.bind(ctx)
    held = []
    for i in range(len(candles)):
        ctx.clock.advance_to(int(candles.ts_ns[i]))
        st.on_bar(V, S, int(candles.ts_ns[i]), candles.open[i], candles.high[i], candles.low[i],
                  candles.close[i], candles.volume[i])
        if i >= fs.warmup:
            held.append(ctx.pos)
    probs = np.array([p.prob for p in st.predictions])
    want = positions_from_probs(probs, 0.52, 0.5)
    np.testing.assert_array_equal(np.array(held, dtype=float), want)
    assert len(set(held)) == 3
