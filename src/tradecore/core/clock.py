"""Time, and callbacks at a time, for every mode.

Engines never read the wall clock themselves: they are given a Clock. Live and paper use
`LiveClock` (wall time, timers on the running event loop); backtests use `SimClock`, whose time
moves only when the replay driver advances it (to each event's timestamp), running the timers
that fall due on the way in time order. Latency models (order arrival, acknowledgement) are
timers, so the same venue code gives the same orders in paper and backtest.

Not thread-safe: call from the event loop's thread.
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable


class Clock:
    """What engines see of time."""

    def time_ns(self) -> int:
        raise NotImplementedError

    def call_at(self, ts_ns: int, fn: Callable[[], object]) -> object:
        """Run fn at ts_ns (or at once, in order, when ts_ns is not in the future). Returns a
        handle for `cancel`."""
        raise NotImplementedError

    def cancel(self, handle: object) -> None:
        raise NotImplementedError


class LiveClock(Clock):
    """Wall clock; timers on the asyncio loop (created lazily: constructing it needs no loop)."""

    def __init__(self) -> None:
        if type(self).time_ns is LiveClock.time_ns:
            # the builtin itself, no Python frame: the order path reads the clock ~4 times
            self.time_ns = time.time_ns          # type: ignore[method-assign]

    def time_ns(self) -> int:
        return time.time_ns()

    def call_at(self, ts_ns: int, fn: Callable[[], object]) -> object:
        loop = asyncio.get_running_loop()
        delay = max(0.0, (ts_ns - time.time_ns()) / 1e9)
        return loop.call_later(delay, fn)

    def cancel(self, handle: object) -> None:
        handle.cancel()  # type: ignore[attr-defined]


class SimClock(Clock):
    """Replay time. `advance_to(ts)` runs every timer due at or before ts, each with the clock set
    to its own due time, then sets the clock to ts. Time never goes backwards: advancing to an
    earlier time is an error (it would mean the replay is out of order)."""

    __slots__ = ("_now", "_heap", "_seq", "_cancelled")

    def __init__(self, start_ns: int = 0) -> None:
        # (a C-level getter instead of this method was measured: no fewer instructions on the
        # order path, as Python 3.11 inlines Python-to-Python calls)
        self._now = start_ns
        self._heap: list[tuple[int, int, Callable[[], object]]] = []
        self._seq = itertools.count()
        self._cancelled: set[int] = set()

    def time_ns(self) -> int:
        return self._now

    def call_at(self, ts_ns: int, fn: Callable[[], object]) -> object:
        n = next(self._seq)
        heapq.heappush(self._heap, (max(ts_ns, self._now), n, fn))
        return n

    def cancel(self, handle: object) -> None:
        self._cancelled.add(handle)  # type: ignore[arg-type]

    @property
    def next_due_ns(self) -> int | None:
        """When the next timer falls due (None when there is none)."""
        while self._heap and self._heap[0][1] in self._cancelled:
            self._cancelled.discard(heapq.heappop(self._heap)[1])
        return self._heap[0][0] if self._heap else None

    def advance_to(self, ts_ns: int) -> None:
        if ts_ns < self._now:
            raise ValueError(f"SimClock cannot go back in time: now {self._now}, asked {ts_ns}")
        heap = self._heap
        while heap and heap[0][0] <= ts_ns:
            due, n, fn = heapq.heappop(heap)
            if n in self._cancelled:
                self._cancelled.discard(n)
                continue
            self._now = due
            fn()
        self._now = ts_ns

    def run_all(self) -> None:
        """Run every remaining timer (end of a backtest), advancing time to each."""
        while (due := self.next_due_ns) is not None:
            self.advance_to(due)
