"""MLSignalStrategy: live features -> model -> target position -> orders through the risk gate.

Per completed bar (`on_bar`, called by the engine with candles; or built here from books by
sampling the mid once per `bar_ns` interval): the streaming feature pipeline's `update` gives
the bar's row (the same row the batch computation gives, see ml/features.py), the model (an
`OnnxModel`, warmed up at construction) gives P(up), hysteresis thresholds turn it into a target
position of -1/0/+1 times `qty_lots`, and the difference from the current position is sent as a
market IOC order through `StrategyContext.submit` (the risk gate decides; denials are counted).

Hot path: one feature update (O(1)) and one onnxruntime call, no allocation of ours. A model
whose warm-up median exceeds `budget_ns` (default 20 us) is not run inline: it goes to
`AsyncPredictor`'s worker thread and its result comes back on the loop, where the same decision
code runs (`inline=False` forces this). Only the newest bar's prediction is acted on: a result
for an older bar than the last one seen is dropped (counted "stale prediction").

A/B: with a `router` (ml/ab.py) each signal is routed to the champion or the challenger, or the
challenger runs in shadow (its prediction logged, no order). Every prediction is appended to
`predictions` (a bounded log) with the model id that made it, and orders carry the model id in
their tag, so every order is traceable to a model version.
"""
from __future__ import annotations

import collections
from collections.abc import Mapping
from typing import Any

import numpy as np

from tradecore.core.orders import OrderStatus, OrderType, Side, TimeInForce, TradingState
from tradecore.strategies.base import Strategy

__all__ = ["MLSignalStrategy", "Prediction"]

Prediction = collections.namedtuple("Prediction",
                                    "ts_ns venue symbol model_id prob role acted")

_DEFAULTS = {"enter": 0.55, "exit": 0.5, "long_only": False, "qty_lots": 1,
             "bar_ns": 3_600_000_000_000, "budget_ns": 20_000, "max_log": 100_000}


class MLSignalStrategy(Strategy):
    def __init__(self, strategy_id: str, config: Mapping[str, Any] | None = None, *,
                 model, features, router=None, markets: tuple[tuple[str, str], ...] = (),
                 inline: bool | None = None, loop=None) -> None:
        super().__init__(strategy_id, config)
        unknown = set(self.config) - set(_DEFAULTS)
        if unknown:
            raise ValueError(f"MLSignalStrategy {strategy_id!r}: unknown config keys "
                             f"{sorted(unknown)}; expected {sorted(_DEFAULTS)}")
        c = {**_DEFAULTS, **self.config}
        if not 0.5 <= c["exit"] <= c["enter"] < 1.0:
            raise ValueError(f"MLSignalStrategy {strategy_id!r}: need 0.5 <= exit <= enter < 1, "
                             f"got exit={c['exit']}, enter={c['enter']}")
        if int(c["qty_lots"]) < 1 or int(c["bar_ns"]) <= 0:
            raise ValueError(f"MLSignalStrategy {strategy_id!r}: qty_lots >= 1 and bar_ns > 0 "
                             f"expected, got {c['qty_lots']}, {c['bar_ns']}")
        self.enter, self.exit = float(c["enter"]), float(c["exit"])
        self.long_only, self.qty = bool(c["long_only"]), int(c["qty_lots"])
        self.bar_ns, self.budget_ns = int(c["bar_ns"]), int(c["budget_ns"])
        n_model = getattr(model, "n_features", None)
        if n_model is not None and n_model != len(features.names):
            raise ValueError(f"MLSignalStrategy {strategy_id!r}: model "
                             f"{getattr(model, 'model_id', '')!r} takes {n_model} features, the "
                             f"feature source gives {len(features.names)} ({list(features.names)});"
                             f" load models through ModelRegistry.load with the pipeline's schema")
        self.model = model
        self.features = features
        self.router = router
        self.books = tuple(markets)
        self._live: dict[tuple[str, str], Any] = {}
        self._target: dict[tuple[str, str], int] = {}
        self._bars: dict[tuple[str, str], list] = {}     # book-sampled bar in progress
        self._last_bar_ts: dict[tuple[str, str], int] = {}
        self.predictions: collections.deque[Prediction] = collections.deque(maxlen=int(c["max_log"]))
        warm = getattr(model, "warmup_ns", {}) or {}
        slow = bool(warm) and min(warm.values()) > self.budget_ns
        self.inline = (not slow) if inline is None else inline
        self._async = None
        if not self.inline:
            from tradecore.ml.inference import AsyncPredictor
            if loop is None:
                raise ValueError(f"MLSignalStrategy {strategy_id!r}: a model run off the loop "
                                 f"(warm-up median {warm} ns > budget {self.budget_ns} ns, or "
                                 f"inline=False) needs the event loop (loop=...)")
            if router is not None:
                raise ValueError(f"MLSignalStrategy {strategy_id!r}: A/B routing runs inline "
                                 f"models only; a model over the budget cannot be routed")
            self._async = AsyncPredictor(model, loop)

    # -- bars --------------------------------------------------------------------------------
    def on_bar(self, venue: str, symbol: str, ts_ns: int, open: float, high: float, low: float,
               close: float, volume: float) -> None:
        """A completed bar of (venue, symbol)."""
        key = (venue, symbol)
        live = self._live.get(key)
        if live is None:
            live = self._live[key] = self.features.live()
        row = live.update(ts_ns, open, high, low, close, volume)
        self._last_bar_ts[key] = ts_ns
        if row is None:
            self.count("warm-up bar")
            return
        if self.inline:
            self._predict_and_act(key, ts_ns, row)
        elif not self._async.submit(row, (key, ts_ns), self._on_async):
            self.count("dropped: model busy")

    def on_book(self, venue: str, symbol: str, book: Any) -> None:
        """Sample the mid into bars of `bar_ns`; a bar completes at the first book change after
        its interval ends (volume is not known from books: 0)."""
        mid = book.mid()
        if mid is None:
            return
        ts = self.ctx.clock.time_ns()
        key = (venue, symbol)
        start = ts - ts % self.bar_ns
        b = self._bars.get(key)
        if b is None:
            self._bars[key] = [start, mid, mid, mid, mid]
            return
        if start > b[0]:
            self.on_bar(venue, symbol, b[0] + self.bar_ns, b[1], b[2], b[3], b[4], 0.0)
            self._bars[key] = [start, mid, mid, mid, mid]
            return
        if mid > b[2]:
            b[2] = mid
        if mid < b[3]:
            b[3] = mid
        b[4] = mid

    # -- prediction -> orders ----------------------------------------------------------------
    def _on_async(self, out: np.ndarray, tag) -> None:
        key, ts_ns = tag
        if ts_ns != self._last_bar_ts.get(key):
            self.count("stale prediction")
            return
        self._act(key, ts_ns, self._prob(out), getattr(self.model, "model_id", ""), "champion")

    @staticmethod
    def _prob(out: np.ndarray) -> float:
        o = out.reshape(-1)
        return float(o[-1])        # sigmoid: P(up); 2-column probabilities: column 1 = P(up)

    def _predict_and_act(self, key, ts_ns: int, row) -> None:
        if self.router is None:
            p = self._prob(self.model.predict_row(row))
            self._act(key, ts_ns, p, self.model.model_id, "champion")
            return
        decision = self.router.route(key[1])
        acting = decision.model
        p = self._prob(acting.predict_row(row))
        if decision.shadow is not None:
            ps = self._prob(decision.shadow.predict_row(row))
            self.predictions.append(Prediction(ts_ns, key[0], key[1], decision.shadow.model_id,
                                               ps, "shadow", False))
            self.router.record(key[1], ts_ns, decision.shadow.model_id, ps, shadow=True)
        self.router.record(key[1], ts_ns, acting.model_id, p, shadow=False)
        self._act(key, ts_ns, p, acting.model_id, decision.role)

    def _target_for(self, key, p: float) -> int:
        cur = self._target.get(key, 0)
        if p >= self.enter:
            return 1
        if not self.long_only and p <= 1.0 - self.enter:
            return -1
        if cur > 0 and p < self.exit:
            return 0
        if cur < 0 and p > 1.0 - self.exit:
            return 0
        return cur

    def _act(self, key, ts_ns: int, p: float, model_id: str, role: str) -> None:
        target = self._target_for(key, p)
        self._target[key] = target
        venue, symbol = key
        want = target * self.qty
        have = self.ctx.position_lots(venue, symbol)
        delta = want - have
        self.predictions.append(Prediction(ts_ns, venue, symbol, model_id, p, role, delta != 0))
        if delta == 0:
            return
        state = self.ctx.trading_state()
        if state == TradingState.HALTED:
            self.count("skipped: halted")
            return
        reducing = abs(want) < abs(have) and want * have >= 0
        if state == TradingState.REDUCING and not reducing:
            self.count("skipped: reducing only")
            return
        order = self.order(venue, symbol, Side.BUY if delta > 0 else Side.SELL, abs(delta),
                           type=OrderType.MARKET, tif=TimeInForce.IOC, reduce_only=reducing,
                           tag=f"ml:{model_id}:{role}")
        sent = self.submit(order)
        self.count("denied" if sent.status == OrderStatus.DENIED else "order sent")

    def on_stop(self) -> None:
        if self._async is not None:
            self._async.close()
