"""The process-wide REST rate limiter, in virtual time.

Every test runs its coroutine on an event loop whose clock is virtual: when nothing is ready,
the loop jumps straight to the next timer instead of waiting. The limiter gets that clock as
its `clock` and a recording wrapper of asyncio.sleep as its `sleep`, so minutes of limiter
behaviour take milliseconds and every figure is exact and repeatable.
"""
from __future__ import annotations

import asyncio
import logging
import random
import selectors
from email.utils import formatdate

import pytest

from tradecore.venues.ratelimit import (
    VENUE_RULES, Endpoint, Limit, LimiterStats, RateLimiter, VenueRules, all_limiters,
    limiter_for, rules_for)


# -- virtual time -------------------------------------------------------------------------------
class VirtualClock:
    """monotonic() and sleep() for the limiter; the loop below advances `now`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_700_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        await asyncio.sleep(seconds)


class _VirtualSelector(selectors.DefaultSelector):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout=None):
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:                      # nothing scheduled: only I/O could wake us
            ready = super().select(5.0)
            if not ready:
                raise RuntimeError("virtual loop: every task waits and no timer is set")
            return ready
        self._clock.now += timeout               # jump to the next timer
        return []


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_VirtualSelector(clock))
        self._vclock = clock

    def time(self) -> float:
        return self._vclock.now


def run_virtual(clock: VirtualClock, coro):
    with asyncio.Runner(loop_factory=lambda: _VirtualLoop(clock)) as runner:
        return runner.run(coro)


def make(venue: str = "binance", clock: VirtualClock | None = None, **kw) -> tuple[
        RateLimiter, VirtualClock]:
    clock = clock or VirtualClock()
    lim = RateLimiter(venue, clock=clock.monotonic, sleep=clock.sleep, wall=clock.wall, **kw)
    return lim, clock


SIMPLE = VenueRules("test", {"g": Limit(100, 10.0)}, {"/x": Endpoint("g", 10)}, "g")


def max_in_window(grants: list[tuple[float, float]], window: float) -> float:
    """The most weight granted inside any closed interval of length `window`."""
    grants = sorted(grants)
    best, total, j = 0.0, 0.0, 0
    for i, (t, w) in enumerate(grants):
        total += w
        while grants[j][0] < t - window - 1e-9:
            total -= grants[j][1]
            j += 1
        best = max(best, total)
    return best


# -- the bucket ---------------------------------------------------------------------------------
def test_acquire_is_immediate_when_tokens_are_available():
    lim, clock = make("test", rules=SIMPLE, margin=1.0, burst_fraction=0.5)
    assert lim.capacity() == 50 and lim.rate() == pytest.approx(5.0)   # (100 - 50) / 10 s

    async def main():
        for _ in range(5):
            assert await lim.acquire(10) == 0.0
    run_virtual(clock, main())
    assert clock.sleeps == [] and clock.now == 1000.0
    assert lim.stats.requests == 5 and lim.stats.weight_used == 50 and lim.stats.waits == 0


def test_acquire_waits_for_refill_when_bucket_is_empty():
    lim, clock = make("test", rules=SIMPLE, margin=1.0, burst_fraction=0.5)

    async def main():
        await lim.acquire(50)
        return await lim.acquire(10)             # 10 tokens at 5/s: 2 s
    waited = run_virtual(clock, main())
    assert waited == pytest.approx(2.0)
    assert clock.sleeps == [pytest.approx(2.0)]  # one sleep of exactly the deficit: no polling
    assert lim.stats.waits == 1 and lim.stats.wait_time_s == pytest.approx(2.0)


def test_tokens_refill_to_capacity_only_when_idle_long():
    lim, clock = make("test", rules=SIMPLE, margin=1.0, burst_fraction=0.5)

    async def main():
        await lim.acquire(50)
        await asyncio.sleep(3600)                # an hour idle refills to capacity, not more
        assert lim.available() == pytest.approx(50)
        await lim.acquire(50)
        return await lim.acquire(1)
    assert run_virtual(clock, main()) == pytest.approx(0.2)


def test_margin_sets_allowance_when_default_is_used():
    lim, _ = make("binance")
    # 80 % of 6000/min: burst 480 (10 %), refill (4800 - 480) / 60 s so that any minute <= 4800
    assert lim.capacity() == pytest.approx(480) and lim.rate() == pytest.approx(72)
    half, _ = make("binance", margin=0.5)
    assert half.capacity() == pytest.approx(300) and half.rate() == pytest.approx(45)
    with pytest.raises(ValueError, match="margin"):
        make("binance", margin=1.5)


def test_weight_depends_on_limit_when_binance_depth():
    spot = rules_for("binance")
    assert [spot.cost("/api/v3/depth", {"limit": n}) for n in (5, 100, 101, 500, 501, 1000,
                                                              1001, 5000)] == [
        ("ip", 5), ("ip", 5), ("ip", 25), ("ip", 25), ("ip", 50), ("ip", 50), ("ip", 250),
        ("ip", 250)]
    assert spot.cost("/api/v3/depth", {"limit": "1000"}) == ("ip", 50)   # query text
    assert spot.cost("/api/v3/depth") == ("ip", 5)                        # default limit 100
    with pytest.raises(ValueError, match="5001"):
        spot.cost("/api/v3/depth", {"limit": 5001})
    assert spot.cost("/api/v3/aggTrades") == ("ip", 4)
    assert spot.cost("/api/v3/historicalTrades") == ("ip", 25)
    assert spot.cost("/api/v3/trades") == ("ip", 25)
    usdm = rules_for("binance_usdm")
    assert [usdm.cost("/fapi/v1/depth", {"limit": n})[1] for n in (5, 50, 100, 500, 1000)] == [
        2, 2, 5, 10, 20]
    assert usdm.cost("/fapi/v1/depth") == ("ip", 10)                      # default limit 500
    assert rules_for("binance_coinm").cost("/dapi/v1/depth", {"limit": 1000}) == ("ip", 20)
    assert rules_for("okx").cost("/api/v5/market/books") == ("books", 1)
    assert rules_for("okx").cost("/api/v5/market/history-trades") == ("history-trades", 1)


def test_unknown_endpoint_costs_one_when_not_in_table(caplog):
    with caplog.at_level(logging.WARNING, "tradecore.venues.ratelimit"):
        assert rules_for("kraken").cost("/0/public/NewThing") == ("public", 1)
    assert "NewThing" in caplog.text


def test_acquire_raises_when_weight_can_never_be_granted():
    lim, clock = make("test", rules=SIMPLE, margin=1.0, burst_fraction=0.5)

    async def main():
        with pytest.raises(ValueError, match="capacity"):
            await lim.acquire(51)
        with pytest.raises(ValueError, match="weight"):
            await lim.acquire(0)
        with pytest.raises(ValueError, match="no rate-limit group"):
            await lim.acquire(1, "nope")
    run_virtual(clock, main())


def test_requests_are_spaced_when_one_request_fills_the_allowance():
    lim, clock = make("kraken")                  # ~1 public request/s; 80 %: one per 1.25 s
    grants = []

    async def one():
        await lim.acquire_for("/0/public/Depth")
        grants.append((clock.now, 1))

    async def main():
        await asyncio.gather(*(one() for _ in range(10)))
    run_virtual(clock, main())
    times = [t for t, _ in grants]
    assert times == pytest.approx([1000.0 + 1.25 * i for i in range(10)])
    assert max_in_window(grants, 1.0) == 1


# -- fairness and concurrency -------------------------------------------------------------------
def test_waiters_are_served_in_arrival_order_when_a_heavy_one_is_first():
    lim, clock = make("test", rules=SIMPLE, margin=1.0, burst_fraction=0.5)
    order = []

    async def want(name, weight, delay=0.0):
        await asyncio.sleep(delay)
        await lim.acquire(weight)
        order.append((name, clock.now))

    async def main():
        await lim.acquire(50)                    # empty the bucket
        await asyncio.gather(want("heavy", 40), want("light1", 1, 0.1), want("light2", 1, 0.2))
    run_virtual(clock, main())
    # the light ones arrived while the heavy one waited: they may not overtake it
    assert [n for n, _ in order] == ["heavy", "light1", "light2"]
    assert order[0][1] == pytest.approx(1008.0)          # 40 tokens at 5/s
    assert order[1][1] == pytest.approx(1008.2) and order[2][1] == pytest.approx(1008.4)


def test_queue_moves_on_when_a_waiter_is_cancelled():
    lim, clock = make("test", rules=SIMPLE, margin=1.0, burst_fraction=0.5)
    done = []

    async def want(name, weight):
        await lim.acquire(weight)
        done.append((name, clock.now))

    async def main():
        await lim.acquire(50)
        head = asyncio.create_task(want("head", 40))
        second = asyncio.create_task(want("second", 40))
        third = asyncio.create_task(want("third", 5))
        await asyncio.sleep(1)
        second.cancel()                          # cancel a waiter in the middle of the queue
        await asyncio.sleep(1)
        head.cancel()                            # and the head while it sleeps
        await asyncio.gather(head, second, third, return_exceptions=True)
    run_virtual(clock, main())
    assert done == [("third", pytest.approx(1002.0))]    # 2 s x 5/s = 10 tokens >= 5
    assert not lim._bucket(None).queue


def test_rate_is_never_exceeded_when_many_tasks_share_one_limiter():
    lim, clock = make("binance")
    rng = random.Random(7)
    costs = [("/api/v3/depth", {"limit": 1000}), ("/api/v3/depth", {"limit": 100}),
             ("/api/v3/aggTrades", None), ("/api/v3/historicalTrades", None),
             ("/api/v3/depth", {"limit": 5000})]
    grants: list[tuple[float, int]] = []

    async def worker():
        for _ in range(8):
            endpoint, params = rng.choice(costs)
            await lim.acquire_for(endpoint, params)
            grants.append((clock.now, lim.cost(endpoint, params)[1]))
            await asyncio.sleep(rng.uniform(0, 2))

    async def main():
        await asyncio.gather(*(worker() for _ in range(200)))
    run_virtual(clock, main())
    assert len(grants) == 1600
    allowance = 0.8 * 6000
    assert max_in_window(grants, 60.0) <= allowance + 1e-6
    # and it is used: once the backlog forms, throughput is the bucket's sustained rate
    span = grants[-1][0] - grants[0][0]
    assert sum(w for _, w in grants) >= 0.95 * (480 + 72 * span)
    # waiting is sleeping: every sleep is a positive wait, at most one per waiting acquire
    assert all(s > 0 for s in clock.sleeps)
    assert len(clock.sleeps) <= lim.stats.waits
    assert lim.stats.requests == 1600 and lim.stats.weight_used == sum(w for _, w in grants)


def test_each_group_keeps_its_own_rate_when_limits_are_per_endpoint():
    lim, clock = make("okx")
    grants = {"books": [], "history-trades": []}

    async def worker(endpoint, group):
        for _ in range(30):
            await lim.acquire_for(endpoint)
            grants[group].append((clock.now, 1))

    async def main():
        await asyncio.gather(*(worker("/api/v5/market/books", "books") for _ in range(5)),
                             *(worker("/api/v5/market/history-trades", "history-trades")
                               for _ in range(2)))
    run_virtual(clock, main())
    assert max_in_window(grants["books"], 2.0) <= 0.8 * 40
    assert max_in_window(grants["history-trades"], 2.0) <= 0.8 * 10
    # each group ran at its own sustained rate, neither waited for the other: books 150
    # requests at (32 - 3.2) / 2 s after a burst of 3.2; history-trades 60 at (8 - 1) / 2 s
    assert grants["books"][-1][0] - 1000 == pytest.approx((150 - 3.2) / 14.4)
    assert grants["history-trades"][-1][0] - 1000 == pytest.approx((60 - 1) / 3.5)


# -- feedback from the venue --------------------------------------------------------------------
def test_bucket_drains_when_venue_reports_more_weight_used():
    lim, clock = make("binance")

    async def main():
        assert lim.available() == pytest.approx(480)
        lim.on_response(200, {"x-mbx-used-weight-1m": "4700"})   # others on this IP used it
        assert lim.available() == pytest.approx(100)             # 4800 - 4700
        assert lim.stats.header_syncs == 1 and lim.stats.venue_used_weight == 4700
        lim.on_response(200, {"X-MBX-USED-WEIGHT-1M": "10"})     # a lower count never adds
        assert lim.available() == pytest.approx(100)
        lim.on_response(200, {"X-MBX-USED-WEIGHT-1M": "5000"})   # over our allowance
        assert lim.available() == pytest.approx(-200)
        return await lim.acquire(50)
    waited = run_virtual(clock, main())
    assert waited == pytest.approx(250 / 72)
    assert lim.stats.header_syncs == 2


def test_header_is_ignored_when_venue_has_none_or_value_is_garbage():
    lim, _ = make("binance")
    lim.on_response(200, {"X-MBX-USED-WEIGHT-1M": "lots"})
    assert lim.available() == pytest.approx(480)
    kr, _ = make("kraken")
    kr.on_response(200, {"X-MBX-USED-WEIGHT-1M": "999999"})
    assert kr.available() == pytest.approx(1)


def test_acquire_waits_for_retry_after_when_429():
    lim, clock = make("binance")

    async def main():
        lim.on_response(429, {"Retry-After": "7"})
        assert lim.backoff_remaining() == pytest.approx(7)
        waits = await asyncio.gather(*(lim.acquire(5) for _ in range(3)))
        return waits
    waits = run_virtual(clock, main())
    # nobody goes before the ban ends, and the bucket restarts empty (no burst at the end)
    assert waits[0] == pytest.approx(7 + 5 / 72)
    assert waits[2] == pytest.approx(7 + 15 / 72)
    assert lim.stats.throttled_429 == 1 and lim.stats.backoff_until == pytest.approx(1007)


def test_backoff_doubles_when_429_has_no_retry_after():
    lim, clock = make("binance")
    lim.on_response(429, {})
    assert lim.backoff_remaining() == pytest.approx(1)
    lim.on_response(429, {})
    assert lim.backoff_remaining() == pytest.approx(2)
    lim.on_response(429, {})
    assert lim.backoff_remaining() == pytest.approx(4)
    lim.on_response(200, {})                      # success resets the doubling
    clock.now += 10
    lim.on_response(429, {})
    assert lim.backoff_remaining() == pytest.approx(1)


def test_retry_after_http_date_is_honoured_when_given_as_date():
    lim, clock = make("coinbase")
    lim.on_response(429, {"retry-after": formatdate(clock.wall() + 30, usegmt=True)})
    assert 29 <= lim.backoff_remaining() <= 30


def test_every_request_waits_and_ban_is_logged_when_418(caplog):
    lim, clock = make("binance")
    with caplog.at_level(logging.ERROR, "tradecore.venues.ratelimit"):
        lim.on_response(418, {"Retry-After": "120", "X-MBX-USED-WEIGHT-1M": "6100"})
    assert "BANNED" in caplog.text and "418" in caplog.text
    assert lim.stats.banned_418 == 1

    async def main():
        return await asyncio.gather(lim.acquire_for("/api/v3/aggTrades"),
                                    lim.acquire_for("/api/v3/depth", {"limit": 5}))
    waits = run_virtual(clock, main())
    assert min(waits) >= 120
    lim2, _ = make("binance")
    lim2.on_response(418, {})                    # no Retry-After: Binance's shortest ban, 2 min
    assert lim2.backoff_remaining() == pytest.approx(120)


def test_only_that_group_backs_off_when_okx_endpoint_returns_429():
    lim, clock = make("okx")

    async def main():
        lim.on_response(429, {"Retry-After": "5"}, group="history-trades")
        assert await lim.acquire_for("/api/v5/market/books") == 0.0
        return await lim.acquire_for("/api/v5/market/history-trades")
    assert run_virtual(clock, main()) >= 5


def test_queued_head_rechecks_when_ban_starts_while_it_sleeps():
    lim, clock = make("test", rules=SIMPLE, margin=1.0, burst_fraction=0.5)

    async def main():
        await lim.acquire(50)
        task = asyncio.create_task(lim.acquire(10))      # needs 2 s
        await asyncio.sleep(1)
        lim.on_response(429, {"Retry-After": "30"})
        return await task
    waited = run_virtual(clock, main())
    assert waited >= 31                                  # ban from t=1 to t=31, then refill


# -- registry and counters ----------------------------------------------------------------------
def test_same_limiter_is_returned_when_asked_twice():
    a = limiter_for("okx", ip="10.0.0.7")
    assert limiter_for("okx", ip="10.0.0.7") is a
    assert limiter_for("okx", ip="10.0.0.8") is not a
    assert limiter_for("kraken") is limiter_for("kraken", "default")
    assert all_limiters()[("okx", "10.0.0.7")] is a
    with pytest.raises(ValueError, match="no rate-limit rules"):
        limiter_for("nowhere")


def test_registry_limiter_works_when_used_from_two_event_loops():
    lim = limiter_for("coinbase", ip="loop-test")
    asyncio.run(lim.acquire(1))
    asyncio.run(lim.acquire(1))                  # nothing bound to the first loop
    assert lim.stats.requests >= 2


def test_stats_export_when_metrics_layer_reads_them():
    d = LimiterStats(requests=3, weight_used=12).as_dict()
    assert d["requests"] == 3 and d["weight_used"] == 12
    assert {"waits", "wait_time_s", "throttled_429", "banned_418"} <= set(d)


def test_set_limit_applies_when_exchange_info_announces_a_limit():
    lim, _ = make("binance")
    lim.set_limit(1200, 60.0)                    # 2021's exchangeInfo: REQUEST_WEIGHT 1200/min
    assert lim.capacity() == pytest.approx(250)  # the heaviest request (depth 5000) must fit
    assert lim.rate() == pytest.approx((960 - 250) / 60)
    assert lim.available() <= 250


def test_every_venue_has_rules_when_table_is_read():
    assert set(VENUE_RULES) == {"binance", "binance_usdm", "binance_coinm", "kraken", "okx",
                                "coinbase"}
    for venue in VENUE_RULES:
        lim, _ = make(venue)
        for name in lim.rules.groups:
            assert lim.capacity(name) >= 1 and lim.rate(name) > 0
