"""Latency and queue-position models of the paper venue (execution/paper.py; rules in
docs/paper-venue.md).

Both are small, deterministic and replaceable: a backtest and a paper run given the same
models and the same market data make the same fills. Jitter comes from a seeded generator
owned by the venue, never from the wall clock.

Queue models follow hftbacktest's (`RiskAdverseQueueModel`, `ProbQueueModel` with a power
function): the venue keeps, per resting order, `ahead` = the displayed quantity estimated in
front of it, in lots of the order's instrument (a float: the probabilistic model produces
fractions). Trades at the order's price reduce `ahead` by their size (always, in every model);
a change of the displayed level, seen when the venue samples it, is passed to `on_level`.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Delays of one venue connection, in ns.

    order_ns: from `submit` until the order reaches the matching engine.
    cancel_ns: the same for `cancel` (None = order_ns).
    ack_ns: from the venue's action (accept, fill, cancel, expiry) until the listener hears it.
    jitter_ns: each delay gets an extra uniform 0..jitter_ns from a generator seeded with
        `seed`. A connection is one ordered stream, so jitter never reorders messages: a
        message is never delivered before one sent earlier on the same path.
    """
    order_ns: int = 0
    ack_ns: int = 0
    cancel_ns: int | None = None
    jitter_ns: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("order_ns", "ack_ns", "jitter_ns"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 0:
                raise ValueError(f"LatencyModel.{name} must be an int >= 0 ns, got {v!r}")
        if self.cancel_ns is not None and (not isinstance(self.cancel_ns, int)
                                           or self.cancel_ns < 0):
            raise ValueError(f"LatencyModel.cancel_ns must be None or an int >= 0 ns, "
                             f"got {self.cancel_ns!r}")

    @property
    def cancel_delay_ns(self) -> int:
        return self.order_ns if self.cancel_ns is None else self.cancel_ns


class QueueModel:
    """How a decrease of the displayed quantity at a resting order's price moves it forward.

    `on_level(ahead, prev_level, new_level, traded)` returns the new `ahead`: `prev_level` is
    the level's displayed quantity when last sampled, `new_level` the quantity now, `traded`
    the traded quantity at this price since the last sample (already taken off `ahead` by the
    trade rule, so a model must not count it twice)."""

    def on_level(self, ahead: float, prev_level: float, new_level: float,
                 traded: float) -> float:
        raise NotImplementedError


class RiskAverseQueue(QueueModel):
    """Cancellations are always behind us: only trades move the order forward, and the queue
    ahead can never exceed what is displayed (ahead = min(ahead, level)). The conservative
    default: it never fills an order that a real exchange would not have filled because of
    queue position."""

    def on_level(self, ahead: float, prev_level: float, new_level: float,
                 traded: float) -> float:
        return ahead if ahead <= new_level else new_level

    def __repr__(self) -> str:
        return "RiskAverseQueue()"


class PowerProbQueue(QueueModel):
    """hftbacktest's ProbQueueModel with PowerProbQueueFunc: a decrease of the level that
    trades do not explain is a cancellation ahead of us with probability
    front**n / (front**n + back**n) (front = ahead, back = the rest of the level), so orders
    near the front lose little and orders near the back gain most of the cancellations."""

    __slots__ = ("power",)

    def __init__(self, power: float = 3.0) -> None:
        if not power > 0:
            raise ValueError(f"PowerProbQueue power must be > 0, got {power!r}")
        self.power = float(power)

    def on_level(self, ahead: float, prev_level: float, new_level: float,
                 traded: float) -> float:
        chg = prev_level - new_level - traded
        if chg <= 0.0:                      # the level grew (joins are behind us)
            return ahead if ahead <= new_level else new_level
        front = ahead
        back = prev_level - front
        if back < 0.0:
            back = 0.0
        fn = front ** self.power
        bn = back ** self.power
        p_back = bn / (fn + bn) if fn + bn > 0.0 else 1.0
        est = front - (1.0 - p_back) * chg + min(back - p_back * chg, 0.0)
        if est < 0.0:
            est = 0.0
        return est if est <= new_level else new_level

    def __repr__(self) -> str:
        return f"PowerProbQueue(power={self.power})"
