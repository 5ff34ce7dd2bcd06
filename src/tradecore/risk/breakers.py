"""Circuit breakers: watch equity, PnL, rejects and data freshness, and switch the trading state.

Each breaker is fed plain events by whoever has them (the execution engine's portfolio for
equity and closed-trade PnL, its order events for sends and rejects, the feed for market data)
and, when its condition holds, trips: it sets its target state on the gate (REDUCING or HALTED;
per strategy when it watches one strategy), publishes one `BreakerTripped` event to its
subscribers and writes one log line. A tripped breaker is latched: it does not trip again (nor
restore the state) until `reset()`; going back to ACTIVE is an operator's decision
(`gate.set_state(ACTIVE, reason)`), never automatic.

Breakers only raise the state: a REDUCING trip never lowers a HALTED gate.

The kill switch is the manual breaker: `trip(flatten)` holds the gate HALTED (latched: nothing
can leave HALTED until `rearm()`), then runs the actions the OMS registered (cancel every open
order, and flatten when asked). The gate is HALTED before the actions run, so nothing new can
slip out between them; the engine's flatten orders do not go through the gate.

Not thread-safe: call from the event loop's thread.
"""
from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tradecore.core.orders import OrderStatus, TradingState

__all__ = ["BreakerTripped", "BreakerConfig", "DrawdownConfig", "LossRateConfig",
           "ConsecutiveLossConfig", "RejectRateConfig", "StaleDataConfig", "Breaker",
           "DrawdownBreaker", "LossRateBreaker", "ConsecutiveLossBreaker", "RejectRateBreaker",
           "StaleDataBreaker", "KillSwitch"]

log = logging.getLogger("tradecore.risk")


@dataclass(frozen=True, slots=True)
class BreakerTripped:
    """A breaker switched the trading state: what it saw (value) against what it allows."""
    breaker: str
    reason: str
    value: float
    threshold: float
    ts_ns: int
    state: TradingState
    strategy_id: str = ""           # "" = the whole gate


# -------------------------------------------------------------------------------------------------
# configuration

def _bad(owner: str, name: str, value: object, expected: str) -> ValueError:
    return ValueError(f"{owner}.{name} = {value!r}: expected {expected}")


def _pos(owner: str, name: str, value: object, *, integer: bool = False,
         upper: float = math.inf) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or not (0 < value <= upper) or (
            not integer and not math.isfinite(value)):
        raise _bad(owner, name, value, f"{'an int' if integer else 'a number'} > 0"
                   + (f" and <= {upper:g}" if upper < math.inf else ""))


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """What every breaker has: the state it sets when it trips."""
    state: TradingState = TradingState.HALTED

    def __post_init__(self) -> None:
        if not isinstance(self.state, TradingState) or self.state is TradingState.ACTIVE:
            raise _bad(type(self).__name__, "state", self.state,
                       "TradingState.REDUCING or TradingState.HALTED")


@dataclass(frozen=True, slots=True)
class DrawdownConfig(BreakerConfig):
    """Trip when equity falls max_drawdown (a fraction, 0.1 = 10 %) below its running peak."""
    max_drawdown: float = 0.1

    def __post_init__(self) -> None:
        BreakerConfig.__post_init__(self)
        _pos("DrawdownConfig", "max_drawdown", self.max_drawdown, upper=1.0)


@dataclass(frozen=True, slots=True)
class LossRateConfig(BreakerConfig):
    """Trip when the PnL summed over the last window_ns is a loss of max_loss or more."""
    max_loss: float = 1_000.0
    window_ns: int = 3_600_000_000_000

    def __post_init__(self) -> None:
        BreakerConfig.__post_init__(self)
        _pos("LossRateConfig", "max_loss", self.max_loss)
        _pos("LossRateConfig", "window_ns", self.window_ns, integer=True)


@dataclass(frozen=True, slots=True)
class ConsecutiveLossConfig(BreakerConfig):
    """Trip after max_losses losing trades in a row (a winning trade restarts the count)."""
    max_losses: int = 5

    def __post_init__(self) -> None:
        BreakerConfig.__post_init__(self)
        _pos("ConsecutiveLossConfig", "max_losses", self.max_losses, integer=True)


@dataclass(frozen=True, slots=True)
class RejectRateConfig(BreakerConfig):
    """Trip when, over the last window_ns, rejects / orders sent >= max_ratio with at least
    min_orders sent (a single early reject is not a rate)."""
    max_ratio: float = 0.5
    window_ns: int = 60_000_000_000
    min_orders: int = 10

    def __post_init__(self) -> None:
        BreakerConfig.__post_init__(self)
        _pos("RejectRateConfig", "max_ratio", self.max_ratio, upper=1.0)
        _pos("RejectRateConfig", "window_ns", self.window_ns, integer=True)
        _pos("RejectRateConfig", "min_orders", self.min_orders, integer=True)


@dataclass(frozen=True, slots=True)
class StaleDataConfig(BreakerConfig):
    """Trip when a watched (venue, symbol) has had no market data for max_age_ns."""
    max_age_ns: int = 5_000_000_000
    state: TradingState = TradingState.REDUCING

    def __post_init__(self) -> None:
        BreakerConfig.__post_init__(self)
        _pos("StaleDataConfig", "max_age_ns", self.max_age_ns, integer=True)


# -------------------------------------------------------------------------------------------------
# breakers

class Breaker:
    """Trips once (latched until reset) into config.state on the gate, or on one strategy."""

    name = "breaker"

    def __init__(self, gate, config: BreakerConfig, strategy_id: str = "") -> None:
        if not isinstance(config, BreakerConfig):
            raise TypeError(f"{type(self).__name__}: config must be a BreakerConfig, got "
                            f"{type(config).__name__}")
        self.gate = gate
        self.config = config
        self.strategy_id = strategy_id
        self.tripped: BreakerTripped | None = None
        self.trips: list[BreakerTripped] = []
        self._subscribers: list[Callable[[BreakerTripped], None]] = []

    def subscribe(self, fn: Callable[[BreakerTripped], None]) -> None:
        self._subscribers.append(fn)

    def reset(self) -> None:
        """Arm again (the trading state is left as it is: restoring it is the operator's)."""
        self.tripped = None

    def _trip(self, reason: str, value: float, threshold: float, ts_ns: int) -> BreakerTripped:
        state = self.config.state
        ev = BreakerTripped(self.name, reason, float(value), float(threshold), ts_ns, state,
                            self.strategy_id)
        self.tripped = ev
        self.trips.append(ev)
        if self.strategy_id:
            if self.gate.strategy_state(self.strategy_id) < state:
                self.gate.set_strategy_state(self.strategy_id, state, f"{self.name}: {reason}")
        elif self.gate.state < state:
            self.gate.set_state(state, f"{self.name}: {reason}")
        log.warning("breaker %s tripped%s: %s (value %g, threshold %g) -> %s", self.name,
                    f" [{self.strategy_id}]" if self.strategy_id else "", reason, value,
                    threshold, state.name)
        for fn in self._subscribers:
            fn(ev)
        return ev


class DrawdownBreaker(Breaker):
    """Trailing drawdown from peak equity, for one strategy (strategy_id) or the whole book."""

    name = "drawdown"

    def __init__(self, gate, config: DrawdownConfig, strategy_id: str = "") -> None:
        super().__init__(gate, config, strategy_id)
        self.peak = -math.inf

    def on_equity(self, equity: float, ts_ns: int) -> BreakerTripped | None:
        if not math.isfinite(equity):
            raise ValueError(f"drawdown breaker: equity {equity!r} is not a finite number")
        if equity > self.peak:
            self.peak = equity
        if self.tripped is not None or self.peak <= 0:
            return None
        dd = (self.peak - equity) / self.peak
        if dd >= self.config.max_drawdown:
            return self._trip(f"equity {equity:g} is {dd:.2%} below its peak {self.peak:g}",
                              dd, self.config.max_drawdown, ts_ns)
        return None

    def reset(self) -> None:
        """Arm again, with the peak restarting from the next equity seen."""
        super().reset()
        self.peak = -math.inf


class LossRateBreaker(Breaker):
    """Net PnL of the events within the last window (realized PnL per closed trade or fill)."""

    name = "loss-rate"

    def __init__(self, gate, config: LossRateConfig, strategy_id: str = "") -> None:
        super().__init__(gate, config, strategy_id)
        self._events: deque[tuple[int, float]] = deque()
        self._sum = 0.0

    def on_pnl(self, pnl: float, ts_ns: int) -> BreakerTripped | None:
        if not math.isfinite(pnl):
            raise ValueError(f"loss-rate breaker: pnl {pnl!r} is not a finite number")
        ev = self._events
        ev.append((ts_ns, pnl))
        self._sum += pnl
        start = ts_ns - self.config.window_ns
        while ev and ev[0][0] <= start:
            self._sum -= ev.popleft()[1]
        if len(ev) == 1:
            self._sum = ev[0][1]          # no drift from long add/subtract chains
        if self.tripped is None and -self._sum >= self.config.max_loss:
            return self._trip(f"lost {-self._sum:g} within {self.config.window_ns / 1e9:g} s",
                              -self._sum, self.config.max_loss, ts_ns)
        return None

    @property
    def window_pnl(self) -> float:
        return self._sum


class ConsecutiveLossBreaker(Breaker):
    name = "consecutive-losses"

    def __init__(self, gate, config: ConsecutiveLossConfig, strategy_id: str = "") -> None:
        super().__init__(gate, config, strategy_id)
        self.streak = 0

    def on_trade_closed(self, pnl: float, ts_ns: int) -> BreakerTripped | None:
        """A closed trade's PnL: a loss extends the streak, a win ends it, zero leaves it."""
        if pnl < 0:
            self.streak += 1
        elif pnl > 0:
            self.streak = 0
        if self.tripped is None and self.streak >= self.config.max_losses:
            return self._trip(f"{self.streak} losing trades in a row", self.streak,
                              self.config.max_losses, ts_ns)
        return None

    def reset(self) -> None:
        super().reset()
        self.streak = 0


class RejectRateBreaker(Breaker):
    """Venue rejects as a share of the orders sent within the window."""

    name = "reject-rate"

    def __init__(self, gate, config: RejectRateConfig, strategy_id: str = "") -> None:
        super().__init__(gate, config, strategy_id)
        self._sent: deque[int] = deque()
        self._rejected: deque[int] = deque()

    def _expire(self, now: int) -> None:
        start = now - self.config.window_ns
        for q in (self._sent, self._rejected):
            while q and q[0] <= start:
                q.popleft()

    def on_order_event(self, order, event) -> BreakerTripped | None:
        """Adapter for ExecutionEngine.add_listener(fn(order, event)): SUBMITTED counts as sent,
        REJECTED as a reject; other events are ignored."""
        if event.status is OrderStatus.SUBMITTED:
            self.on_order_sent(event.ts_ns)
        elif event.status is OrderStatus.REJECTED:
            return self.on_reject(event.ts_ns)
        return None

    def on_order_sent(self, ts_ns: int) -> None:
        self._sent.append(ts_ns)
        self._expire(ts_ns)

    def on_reject(self, ts_ns: int) -> BreakerTripped | None:
        self._rejected.append(ts_ns)
        self._expire(ts_ns)
        sent = len(self._sent)
        if self.tripped is not None or sent < self.config.min_orders:
            return None
        ratio = len(self._rejected) / sent
        if ratio >= self.config.max_ratio:
            return self._trip(f"{len(self._rejected)} of {sent} orders rejected within "
                              f"{self.config.window_ns / 1e9:g} s", ratio,
                              self.config.max_ratio, ts_ns)
        return None


class StaleDataBreaker(Breaker):
    """Market data of every watched symbol must keep arriving; `check(now)` runs on a timer."""

    name = "stale-data"

    def __init__(self, gate, config: StaleDataConfig, watch: list[tuple[str, str]],
                 start_ns: int) -> None:
        super().__init__(gate, config)
        if not watch:
            raise ValueError("stale-data breaker: watch must name at least one (venue, symbol)")
        self.last: dict[tuple[str, str], int] = {k: start_ns for k in watch}

    def on_market_data(self, venue: str, symbol: str, ts_ns: int) -> None:
        key = (venue, symbol)
        if key in self.last and ts_ns > self.last[key]:
            self.last[key] = ts_ns

    def check(self, now_ns: int) -> BreakerTripped | None:
        if self.tripped is not None:
            return None
        key, ts = min(self.last.items(), key=lambda kv: kv[1])
        age = now_ns - ts
        if age > self.config.max_age_ns:
            return self._trip(f"no market data for {key[0]}:{key[1]} for {age / 1e9:g} s",
                              age, self.config.max_age_ns, now_ns)
        return None


class KillSwitch:
    """The manual breaker: HALTED and held there, open orders cancelled, optionally flattened.

    The OMS registers its actions, all run after the gate is HALTED, in this order: every
    `on_cancel_all(fn())`, then (when flattening) every `on_flatten(fn())`, then every
    `on_kill(fn(flatten))` (one callback doing both, as the execution engine's `kill`).
    `on_rearm(fn())` callbacks run after re-arming."""

    name = "kill-switch"

    def __init__(self, gate, clock) -> None:
        self.gate = gate
        self.clock = clock
        self._actions: list[Callable[[bool], None]] = []
        self._cancel_all: list[Callable[[], object]] = []
        self._flatten: list[Callable[[], object]] = []
        self._rearm_actions: list[Callable[[], None]] = []
        self._subscribers: list[Callable[[BreakerTripped], None]] = []
        self.tripped: BreakerTripped | None = None
        self.trips: list[BreakerTripped] = []

    def on_kill(self, fn: Callable[[bool], None]) -> None:
        self._actions.append(fn)

    def on_cancel_all(self, fn: Callable[[], object]) -> None:
        self._cancel_all.append(fn)

    def on_flatten(self, fn: Callable[[], object]) -> None:
        self._flatten.append(fn)

    def on_rearm(self, fn: Callable[[], None]) -> None:
        self._rearm_actions.append(fn)

    def subscribe(self, fn: Callable[[BreakerTripped], None]) -> None:
        self._subscribers.append(fn)

    @property
    def armed(self) -> bool:
        return self.tripped is None

    def trip(self, flatten: bool = False, reason: str = "manual") -> BreakerTripped:
        """Halt now; cancel everything; flatten if asked. Tripping again (e.g. to add a
        flatten) runs the actions again."""
        ts = self.clock.time_ns()
        self.gate.latch_halt(f"kill switch: {reason}")
        ev = BreakerTripped(self.name, f"{reason}{' (flatten)' if flatten else ''}",
                            1.0 if flatten else 0.0, 0.0, ts, TradingState.HALTED)
        self.tripped = ev
        self.trips.append(ev)
        log.critical("kill switch tripped: %s; cancelling all open orders%s", reason,
                     " and flattening" if flatten else "")
        for fn in self._cancel_all:
            fn()
        if flatten:
            for fn in self._flatten:
                fn()
        for fn in self._actions:
            fn(flatten)
        for fn in self._subscribers:
            fn(ev)
        return ev

    def rearm(self, reason: str = "manual re-arm",
              state: TradingState = TradingState.ACTIVE) -> None:
        """Release the latch and set `state` (ACTIVE unless told otherwise)."""
        self.gate.release_latch()
        self.gate.set_state(state, f"kill switch re-armed: {reason}")
        self.tripped = None
        log.warning("kill switch re-armed: %s -> %s", reason, TradingState(state).name)
        for fn in self._rearm_actions:
            fn()
