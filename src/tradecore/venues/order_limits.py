"""Order-entry rate limits: what a venue counts per order, checked without waiting.

The order path is synchronous (`VenueClient.submit` returns at once), so an order that would
break a limit cannot wait for the limiter: it is refused on the spot (the caller reports it as a
rejection naming the limit) rather than sent to earn a 429 and, repeated, an IP ban. Everything
that may wait (queries, reconciliation) uses the shared `RateLimiter.acquire` as the feeds do.

Two budgets apply to a Binance spot order:
  * request weight, shared per IP by REST and the WebSocket API (6 000 / minute): the process's
    one `limiter_for("binance")`, taken here with `try_acquire` (no wait; first-come-first-served
    is kept: a request never overtakes queued waiters);
  * the unfilled-order count per account, `ORDERS` 50 per 10 s and 160 000 per day. Binance counts
    in fixed windows (10 s windows start at :00, :10, ...; the day at 00:00 UTC), so these are
    fixed-window counters on the wall clock, held to `margin` of the limit. Binance decrements the
    count when orders fill (its "unfilled order count" rules): the venue's own count, reported in
    every order answer's `rateLimits`, replaces ours whenever it arrives (`sync`).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tradecore.venues.ratelimit import RateLimiter

__all__ = ["WindowLimit", "OrderCountLimiter", "try_acquire", "BINANCE_SPOT_ORDER_LIMITS"]

_EPS = 1e-9


@dataclass
class WindowLimit:
    """At most `limit` orders per fixed window of `window_s` seconds (aligned on the epoch)."""
    limit: int
    window_s: float
    interval: str              # Binance's names: SECOND / MINUTE / DAY ...
    interval_num: int
    count: int = 0
    window_start: float = -1.0


# Binance spot (2026): ORDERS 50 / 10 SECOND and 160 000 / 1 DAY per account.
BINANCE_SPOT_ORDER_LIMITS = ((50, 10.0, "SECOND", 10), (160_000, 86_400.0, "DAY", 1))


class OrderCountLimiter:
    """Fixed-window order counters; `try_take()` -> None when the order may go, else why not."""

    def __init__(self, limits: Iterable[tuple[int, float, str, int]] = BINANCE_SPOT_ORDER_LIMITS,
                 *, margin: float = 0.9, wall: Callable[[], float] = time.time) -> None:
        if not 0 < margin <= 1:
            raise ValueError(f"margin {margin!r}: expected 0 < margin <= 1")
        self.windows = [WindowLimit(int(n), float(w), iv, num) for n, w, iv, num in limits]
        for w in self.windows:
            if w.limit <= 0 or w.window_s <= 0:
                raise ValueError(f"order limit {w.limit}/{w.window_s}s: both must be > 0")
        self.margin = margin
        self._wall = wall
        self.refused = 0

    def _roll(self, w: WindowLimit, now: float) -> None:
        start = now - (now % w.window_s)
        if start != w.window_start:
            w.window_start = start
            w.count = 0

    def try_take(self) -> str | None:
        now = self._wall()
        for w in self.windows:
            self._roll(w, now)
            if w.count + 1 > int(w.limit * self.margin):
                self.refused += 1
                return (f"order rate limit: {w.count} orders in the current {w.interval_num} "
                        f"{w.interval} window, the venue allows {w.limit} (held to "
                        f"{self.margin:.0%}); next window in "
                        f"{w.window_start + w.window_s - now:.1f} s")
        for w in self.windows:
            w.count += 1
        return None

    def saturate(self, interval: str | None = None) -> None:
        """The venue refused an order for its count (Binance -1015, "... per TEN_SECONDS" /
        "per DAY"): treat the window as full until it rolls over. `interval` None: the
        shortest window."""
        now = self._wall()
        ws = [w for w in self.windows if interval is None or w.interval == interval] \
            or self.windows[:1]
        w = min(ws, key=lambda w: w.window_s)
        self._roll(w, now)
        w.count = max(w.count, w.limit)

    def sync(self, rate_limits: Iterable[dict]) -> None:
        """Adopt the venue's counts from a response's `rateLimits` (ORDERS entries)."""
        now = self._wall()
        for rl in rate_limits:
            if rl.get("rateLimitType") != "ORDERS":
                continue
            for w in self.windows:
                if w.interval == rl.get("interval") and w.interval_num == rl.get("intervalNum"):
                    self._roll(w, now)
                    try:
                        w.count = int(rl["count"])
                    except (KeyError, TypeError, ValueError):
                        pass


def try_acquire(limiter: RateLimiter, weight: float, group: str | None = None) -> bool:
    """Take `weight` tokens now if they are there, no back-off runs and nobody is queued; never
    waits. (RateLimiter has only the waiting acquire; this is its non-blocking twin, kept here
    so that ratelimit.py stays as its owner wrote it: it reads the limiter's buckets.)"""
    b = limiter._bucket(group)                                   # noqa: SLF001
    now = limiter._clock()                                       # noqa: SLF001
    b.refill(now)
    if b.queue or max(limiter._ban_until, b.ban_until) > now:    # noqa: SLF001
        return False
    if b.tokens < weight - _EPS:
        return False
    b.tokens -= weight
    limiter._granted(weight)                                     # noqa: SLF001
    return True
