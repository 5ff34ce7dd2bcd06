"""Clocks: replay time that only moves forward and runs timers at their due time; wall time for
live, read without running a Python frame (the order path reads it ~4 times)."""
from __future__ import annotations

import inspect
import time

import pytest

from tradecore.core.clock import LiveClock, SimClock


def test_sim_clock_when_advanced_runs_due_timers_at_their_own_time_in_order():
    c = SimClock(100)
    seen = []
    c.call_at(300, lambda: seen.append(("b", c.time_ns())))
    c.call_at(200, lambda: seen.append(("a", c.time_ns())))
    h = c.call_at(250, lambda: seen.append(("cancelled", c.time_ns())))
    c.cancel(h)
    c.call_at(50, lambda: seen.append(("past", c.time_ns())))   # due now: runs at 100
    assert c.time_ns() == 100
    c.advance_to(310)
    assert seen == [("past", 100), ("a", 200), ("b", 300)]
    assert c.time_ns() == 310 and c.next_due_ns is None


def test_sim_clock_when_asked_to_go_back_refuses_and_keeps_its_time():
    c = SimClock(1_000)
    with pytest.raises(ValueError, match="cannot go back"):
        c.advance_to(999)
    assert c.time_ns() == 1_000


def test_live_clock_time_ns_when_read_runs_no_python_frame():
    c = LiveClock()
    assert not inspect.isfunction(c.time_ns) and not inspect.ismethod(c.time_ns)


def test_live_clock_when_subclassed_keeps_the_subclass_time():
    class Skewed(LiveClock):
        def time_ns(self) -> int:
            return time.time_ns() + 10**12

    assert Skewed().time_ns() - time.time_ns() > 10**12 - 10**9
    before = time.time_ns()
    assert before <= LiveClock().time_ns() <= time.time_ns()
