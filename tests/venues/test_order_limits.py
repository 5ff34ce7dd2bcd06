"""Order-entry limits checked without waiting: Binance's fixed ORDERS windows, the venue's own
count adopted from answers, and a non-blocking take from the shared weight limiter."""
from __future__ import annotations

import asyncio

import pytest

from tradecore.venues.order_limits import OrderCountLimiter, try_acquire
from tradecore.venues.ratelimit import RateLimiter


class Wall:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_refuses_the_order_over_the_window_limit_and_names_it():
    wall = Wall(1000.0)
    lim = OrderCountLimiter([(5, 10.0, "SECOND", 10)], margin=1.0, wall=wall)
    assert [lim.try_take() for _ in range(5)] == [None] * 5
    why = lim.try_take()
    assert why is not None and "10 SECOND" in why and "allows 5" in why
    assert lim.refused == 1


def test_window_is_fixed_and_aligned_like_binance():
    wall = Wall(1009.0)                         # window [1000, 1010)
    lim = OrderCountLimiter([(2, 10.0, "SECOND", 10)], margin=1.0, wall=wall)
    assert lim.try_take() is None and lim.try_take() is None
    assert lim.try_take() is not None
    wall.t = 1010.0                             # a new window starts at :10, not 10 s later
    assert lim.try_take() is None


def test_margin_keeps_a_share_of_the_limit_free():
    lim = OrderCountLimiter([(10, 10.0, "SECOND", 10)], margin=0.5, wall=Wall(0.0))
    assert [lim.try_take() is None for _ in range(6)] == [True] * 5 + [False]


def test_refusal_in_one_window_counts_in_none():
    wall = Wall(0.0)
    lim = OrderCountLimiter([(1, 10.0, "SECOND", 10), (100, 86400.0, "DAY", 1)], margin=1.0,
                            wall=wall)
    assert lim.try_take() is None and lim.try_take() is not None
    assert [w.count for w in lim.windows] == [1, 1]


def test_sync_adopts_the_venues_count_for_the_matching_window():
    lim = OrderCountLimiter(margin=1.0, wall=Wall(5.0))
    lim.try_take()
    lim.sync([{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10,
               "limit": 50, "count": 49},
              {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
               "limit": 6000, "count": 7}])
    assert [w.count for w in lim.windows] == [49, 1]
    assert lim.try_take() is None and lim.try_take() is not None


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="margin"):
        OrderCountLimiter(margin=0)
    with pytest.raises(ValueError, match="must be > 0"):
        OrderCountLimiter([(0, 10.0, "SECOND", 10)])


def test_try_acquire_takes_tokens_without_waiting_and_refuses_when_empty():
    now = [0.0]
    lim = RateLimiter("binance", clock=lambda: now[0])
    cap = lim.capacity()
    assert try_acquire(lim, cap) is True
    assert try_acquire(lim, 1) is False                # empty, and no waiting
    now[0] += 1.0 / lim.rate() * 2                     # two tokens refilled
    assert try_acquire(lim, 1) is True
    assert lim.stats.requests == 2


def test_try_acquire_refuses_during_a_back_off():
    now = [0.0]
    lim = RateLimiter("binance", clock=lambda: now[0])
    lim.on_response(429, {"Retry-After": "5"})
    now[0] = 4.0
    assert try_acquire(lim, 1) is False
    now[0] = 200.0
    assert try_acquire(lim, 1) is True


def test_try_acquire_never_overtakes_a_queued_waiter():
    async def main():
        now = [0.0]
        slept = asyncio.Event()

        async def sleep(s):
            slept.set()
            await asyncio.sleep(3600)

        lim = RateLimiter("binance", clock=lambda: now[0], sleep=sleep)
        assert try_acquire(lim, lim.capacity())
        waiter = asyncio.ensure_future(lim.acquire(1))
        await slept.wait()
        now[0] += 10.0                                 # tokens are back, but someone waits
        assert try_acquire(lim, 1) is False
        waiter.cancel()
    asyncio.run(main())


def test_saturate_fills_the_named_window_until_it_rolls_over():
    wall = Wall(3.0)
    lim = OrderCountLimiter(margin=1.0, wall=wall)
    lim.saturate()                                       # the shortest: 10 s
    assert lim.try_take() is not None
    wall.t = 10.0
    assert lim.try_take() is None
    lim.saturate("DAY")
    assert "1 DAY" in lim.try_take()
