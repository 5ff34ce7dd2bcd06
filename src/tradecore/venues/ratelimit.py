"""Process-wide REST rate limiting: one token bucket per (venue, IP, endpoint group).

Every component that calls a venue's REST API (feeds fetching snapshots, trade backfill,
instrument loading, the execution client) takes its limiter from `limiter_for(venue, ip)`, so
they all draw on the same budget: the exchange counts per IP, not per component.

The model
---------
Each venue publishes limits as "at most L weight per window W" (Binance: 6 000 weight a
minute per IP; OKX: 40 order-book requests per 2 s per IP; Coinbase Advanced: 10 public
requests a second; Kraken: about 1 public request a second). A plain token bucket refilled at
L/W with a capacity of L would allow 2L inside one window (a full bucket spent at the start, a
window's refill spent before its end), so the bucket is sized to keep *any* window of length W
under the allowance A = margin x L (margin 0.8 by default):

    capacity C = max(burst_fraction x A, the group's largest single weight, 1)
    rate     r = (A - C) / W          so that  C + r x W <= A  in every window
    (when a single request already exceeds A, as with Kraken's 1/s, C holds that one request
    and r = A / W: requests are simply spaced 1/r apart)

Waiting is done with the injected `sleep` (asyncio.sleep by default) for exactly the time the
missing tokens need: no polling, no busy loop. Waiters are served strictly first come, first
served per bucket: only the head of the queue sleeps; the others wait on a future the head
resolves when it leaves. A request heavier than what is available therefore cannot be starved
by a stream of light ones, and light ones cannot overtake it.

The venue's own view wins when it is stricter:
  * Binance reports the weight used in the current minute (`X-MBX-USED-WEIGHT-1M`); if what
    remains by its count (A - used) is less than the tokens we hold, the bucket is drained to it
    (possibly below zero: later acquires then wait for the refill).
  * 429 (too many requests) and 418 (Binance IP ban) start a hard back-off until Retry-After
    (seconds, or an HTTP date) — every acquire waits for the ban to end, and the bucket is
    emptied so that the end of a ban is not a burst. Without Retry-After a 429 backs off 1 s,
    doubling on consecutive 429s up to 60 s; a 418 without it backs off 120 s (Binance's
    shortest ban). A 418 is logged at ERROR, every time, and counted.

A limiter belongs to the process's one event loop while requests wait in it (the waiters'
futures are that loop's); it holds nothing loop-bound between uses.

Time is injectable (`clock` monotonic seconds, `sleep` coroutine, `wall` epoch seconds for
HTTP-date Retry-After) so that tests run in fake time, deterministically.

Weights and limits (checked 2026 against the venues' docs and ccxt 4.5's tables; where the two
disagree the more conservative figure is used) are in VENUE_RULES. They are data: a venue that
changes a weight needs a one-line edit, and `RateLimiter.set_limit` lets a process adopt the
limit an exchangeInfo response announces.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from email.utils import parsedate_to_datetime

log = logging.getLogger("tradecore.venues.ratelimit")

_EPS = 1e-9          # token arithmetic tolerance (float refill of exact amounts)


# -- rules: what each venue publishes ------------------------------------------------------------
@dataclass(frozen=True)
class Limit:
    """A published limit: at most `limit` weight (or requests) per `window_s` seconds."""
    limit: float
    window_s: float
    scope: str = "ip"          # "ip": one budget for the IP; "endpoint": per endpoint group


@dataclass(frozen=True)
class Endpoint:
    """An endpoint's cost: a fixed weight, or one chosen by the request's `limit` parameter.

    by_limit: ((up_to_limit, weight), ...) ascending; the first row with limit <= up_to wins.
    """
    group: str
    weight: int = 1
    by_limit: tuple[tuple[int, int], ...] = ()
    default_limit: int | None = None

    def weight_for(self, params: Mapping[str, object] | None = None) -> int:
        if not self.by_limit:
            return self.weight
        raw = (params or {}).get("limit", self.default_limit)
        if raw is None:
            raw = self.default_limit
        try:
            n = int(raw)                    # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"limit {raw!r}: expected an integer") from None
        for up_to, w in self.by_limit:
            if n <= up_to:
                return w
        raise ValueError(f"limit {n} is above the largest the endpoint accepts "
                         f"({self.by_limit[-1][0]})")

    @property
    def max_weight(self) -> int:
        return max([self.weight] + [w for _, w in self.by_limit])


@dataclass(frozen=True)
class VenueRules:
    """A venue's limits (group -> Limit) and endpoint costs (path template -> Endpoint)."""
    venue: str
    groups: Mapping[str, Limit]
    endpoints: Mapping[str, Endpoint]
    default_group: str
    used_weight_header: str | None = None   # header carrying the venue's count for default_group
    ban_default_s: float = 120.0            # 418 without Retry-After

    def cost(self, endpoint: str, params: Mapping[str, object] | None = None) -> tuple[str, int]:
        """(group, weight) of one request; an endpoint not in the table costs 1 in the
        default group (and is logged once, so that the table gets completed)."""
        ep = self.endpoints.get(endpoint)
        if ep is None:
            if (self.venue, endpoint) not in _unknown_logged:
                _unknown_logged.add((self.venue, endpoint))
                log.warning("%s: endpoint %s has no weight in the table; counting 1 in group %s",
                            self.venue, endpoint, self.default_group)
            return self.default_group, 1
        return ep.group, ep.weight_for(params)


_unknown_logged: set[tuple[str, str]] = set()

# Binance spot: REQUEST_WEIGHT 6000/min per IP. depth by limit 1-100: 5, 101-500: 25,
# 501-1000: 50, 1001-5000: 250. trades and historicalTrades 25, aggTrades 4, exchangeInfo 20.
_BINANCE_SPOT = VenueRules(
    venue="binance",
    groups={"ip": Limit(6000, 60.0)},
    endpoints={
        "/api/v3/depth": Endpoint("ip", by_limit=((100, 5), (500, 25), (1000, 50), (5000, 250)),
                                  default_limit=100),
        "/api/v3/trades": Endpoint("ip", 25),
        "/api/v3/historicalTrades": Endpoint("ip", 25),
        "/api/v3/aggTrades": Endpoint("ip", 4),
        "/api/v3/exchangeInfo": Endpoint("ip", 20),
        "/api/v3/ping": Endpoint("ip", 1),
        "/api/v3/time": Endpoint("ip", 1),
    },
    default_group="ip",
    used_weight_header="X-MBX-USED-WEIGHT-1M",
)


def _binance_futures(venue: str, prefix: str) -> VenueRules:
    # USD-M and COIN-M: REQUEST_WEIGHT 2400/min per IP; depth 5-50: 2, 100: 5, 500: 10,
    # 1000: 20 (default limit 500); aggTrades 20; trades 5; historicalTrades 200 (ccxt, after
    # Binance's 2026-07 change; the docs said 20 before it).
    return VenueRules(
        venue=venue,
        groups={"ip": Limit(2400, 60.0)},
        endpoints={
            f"{prefix}/depth": Endpoint("ip", by_limit=((50, 2), (100, 5), (500, 10), (1000, 20)),
                                        default_limit=500),
            f"{prefix}/trades": Endpoint("ip", 5),
            f"{prefix}/historicalTrades": Endpoint("ip", 200),
            f"{prefix}/aggTrades": Endpoint("ip", 20),
            f"{prefix}/exchangeInfo": Endpoint("ip", 1),
            f"{prefix}/ping": Endpoint("ip", 1),
            f"{prefix}/time": Endpoint("ip", 1),
        },
        default_group="ip",
        used_weight_header="X-MBX-USED-WEIGHT-1M",
    )


# Kraken spot public: "calling public endpoints at 1 per second (or less) remains within the
# limits" (per IP; Trades/OHLC also per pair). One IP-wide group is the conservative reading.
_KRAKEN = VenueRules(
    venue="kraken",
    groups={"public": Limit(1, 1.0)},
    endpoints={p: Endpoint("public", 1) for p in (
        "/0/public/Depth", "/0/public/Trades", "/0/public/AssetPairs", "/0/public/Time",
        "/0/public/Ticker", "/0/public/OHLC", "/0/public/Spread")},
    default_group="public",
    ban_default_s=60.0,
)

# OKX: limits per endpoint and IP. books 40/2s, books-full 10/2s, trades 100/2s,
# history-trades 10/2s (docs have said 20; ccxt's table 10: the lower is used),
# public/instruments 20/2s.
_OKX = VenueRules(
    venue="okx",
    groups={
        "books": Limit(40, 2.0, "endpoint"),
        "books-full": Limit(10, 2.0, "endpoint"),
        "trades": Limit(100, 2.0, "endpoint"),
        "history-trades": Limit(10, 2.0, "endpoint"),
        "instruments": Limit(20, 2.0, "endpoint"),
        "other": Limit(10, 2.0, "endpoint"),
    },
    endpoints={
        "/api/v5/market/books": Endpoint("books"),
        "/api/v5/market/books-full": Endpoint("books-full"),
        "/api/v5/market/trades": Endpoint("trades"),
        "/api/v5/market/history-trades": Endpoint("history-trades"),
        "/api/v5/public/instruments": Endpoint("instruments"),
    },
    default_group="other",
    ban_default_s=60.0,
)

# Coinbase Advanced Trade public market endpoints: 10 requests/s per IP.
_COINBASE = VenueRules(
    venue="coinbase",
    groups={"public": Limit(10, 1.0)},
    endpoints={p: Endpoint("public") for p in (
        "/api/v3/brokerage/market/product_book",
        "/api/v3/brokerage/market/products",
        "/api/v3/brokerage/market/products/{product_id}",
        "/api/v3/brokerage/market/products/{product_id}/ticker",
        "/api/v3/brokerage/market/products/{product_id}/candles",
        "/api/v3/brokerage/time")},
    default_group="public",
    ban_default_s=60.0,
)

VENUE_RULES: dict[str, VenueRules] = {
    "binance": _BINANCE_SPOT,
    "binance_usdm": _binance_futures("binance_usdm", "/fapi/v1"),
    "binance_coinm": _binance_futures("binance_coinm", "/dapi/v1"),
    "kraken": _KRAKEN,
    "okx": _OKX,
    "coinbase": _COINBASE,
}


def rules_for(venue: str) -> VenueRules:
    try:
        return VENUE_RULES[venue]
    except KeyError:
        raise ValueError(f"venue {venue!r}: no rate-limit rules; expected one of "
                         f"{', '.join(sorted(VENUE_RULES))}") from None


# -- counters -----------------------------------------------------------------------------------
@dataclass
class LimiterStats:
    """What a limiter counts; the metrics layer exports `as_dict()`."""
    requests: int = 0            # acquisitions granted
    weight_used: int = 0         # their total weight
    waits: int = 0               # acquisitions that had to wait (tokens, queue or ban)
    wait_time_s: float = 0.0     # total time spent waiting
    throttled_429: int = 0
    banned_418: int = 0
    header_syncs: int = 0        # times the venue's used-weight header drained the bucket
    venue_used_weight: int = 0   # last value of the used-weight header (Binance)
    backoff_until: float = 0.0   # monotonic time the current back-off ends (0: none)

    def as_dict(self) -> dict:
        return asdict(self)


# -- the limiter --------------------------------------------------------------------------------
class _Bucket:
    __slots__ = ("name", "allowance", "capacity", "rate", "tokens", "stamp", "ban_until",
                 "queue")

    def __init__(self, name: str, allowance: float, capacity: float, rate: float,
                 now: float) -> None:
        self.name = name
        self.allowance = allowance      # margin x published limit, per window
        self.capacity = capacity
        self.rate = rate                # tokens per second
        self.tokens = capacity
        self.stamp = now
        self.ban_until = 0.0            # group-scoped back-off (OKX-style per-endpoint 429)
        self.queue: deque[asyncio.Future] = deque()

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def time_for(self, weight: float) -> float:
        missing = weight - self.tokens
        return 0.0 if missing <= _EPS else missing / self.rate


class RateLimiter:
    """Token buckets for one venue and IP; see the module docstring for the model."""

    def __init__(self, venue: str, rules: VenueRules | None = None, *, ip: str = "default",
                 margin: float = 0.8, burst_fraction: float = 0.1,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 wall: Callable[[], float] = time.time) -> None:
        if not 0 < margin <= 1:
            raise ValueError(f"margin {margin!r}: expected 0 < margin <= 1")
        if not 0 <= burst_fraction < 1:
            raise ValueError(f"burst_fraction {burst_fraction!r}: expected 0 <= f < 1")
        self.venue = venue
        self.ip = ip
        self.rules = rules if rules is not None else rules_for(venue)
        self.margin = margin
        self.burst_fraction = burst_fraction
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self.stats = LimiterStats()
        self._ban_until = 0.0           # IP-wide back-off
        self._consecutive_429 = 0
        now = clock()
        self._buckets: dict[str, _Bucket] = {}
        for name, lim in self.rules.groups.items():
            self._buckets[name] = self._make_bucket(name, lim, now)

    def __repr__(self) -> str:
        return f"RateLimiter({self.venue!r}, ip={self.ip!r}, margin={self.margin})"

    # -- configuration -----------------------------------------------------------------------------
    def _make_bucket(self, name: str, lim: Limit, now: float) -> _Bucket:
        if not (lim.limit > 0 and lim.window_s > 0):
            raise ValueError(f"{self.venue} group {name}: limit and window must be > 0")
        allowance = self.margin * lim.limit
        heaviest = max([1] + [ep.max_weight for ep in self.rules.endpoints.values()
                              if ep.group == name])
        capacity = max(self.burst_fraction * allowance, float(heaviest), 1.0)
        if capacity < allowance:
            rate = (allowance - capacity) / lim.window_s
        else:                       # one request already fills the allowance: just space them
            rate = allowance / lim.window_s
        return _Bucket(name, allowance, capacity, rate, now)

    def set_limit(self, limit: float, window_s: float, group: str | None = None) -> None:
        """Adopt a published limit (e.g. exchangeInfo's REQUEST_WEIGHT) for a group; the bucket
        keeps its queue and never gains tokens by the change."""
        name = group or self.rules.default_group
        old = self._bucket(name)
        scope = self.rules.groups[name].scope if name in self.rules.groups else "ip"
        new = self._make_bucket(name, Limit(limit, window_s, scope), self._clock())
        old.refill(self._clock())
        old.allowance, old.capacity, old.rate = new.allowance, new.capacity, new.rate
        old.tokens = min(old.tokens, old.capacity)

    def _bucket(self, group: str | None) -> _Bucket:
        name = group or self.rules.default_group
        b = self._buckets.get(name)
        if b is None:
            raise ValueError(f"{self.venue}: no rate-limit group {name!r}; expected one of "
                             f"{', '.join(self._buckets)}")
        return b

    # -- queries -----------------------------------------------------------------------------------
    def cost(self, endpoint: str, params: Mapping[str, object] | None = None) -> tuple[str, int]:
        """(group, weight) of a request to `endpoint` (a path template of the rules)."""
        return self.rules.cost(endpoint, params)

    def available(self, group: str | None = None) -> float:
        b = self._bucket(group)
        b.refill(self._clock())
        return b.tokens

    def capacity(self, group: str | None = None) -> float:
        return self._bucket(group).capacity

    def rate(self, group: str | None = None) -> float:
        """Sustained tokens per second of a group."""
        return self._bucket(group).rate

    def backoff_remaining(self, group: str | None = None) -> float:
        """Seconds until the back-off that applies to `group` ends (0 when none)."""
        b = self._bucket(group)
        return max(0.0, max(self._ban_until, b.ban_until) - self._clock())

    # -- acquiring ---------------------------------------------------------------------------------
    async def acquire_for(self, endpoint: str,
                          params: Mapping[str, object] | None = None) -> float:
        """acquire() with the endpoint's group and weight; returns the seconds waited."""
        group, weight = self.cost(endpoint, params)
        return await self.acquire(weight, group)

    async def acquire(self, weight: float = 1, group: str | None = None) -> float:
        """Wait until `weight` tokens of `group` are available and no back-off is running, then
        take them. First come, first served. Returns the seconds waited."""
        b = self._bucket(group)
        if weight <= 0:
            raise ValueError(f"weight {weight!r}: expected > 0")
        if weight > b.capacity + _EPS:
            raise ValueError(f"{self.venue} group {b.name}: weight {weight} can never be granted "
                             f"(bucket capacity {b.capacity:g})")
        start = self._clock()
        b.refill(start)
        if not b.queue and max(self._ban_until, b.ban_until) <= start \
                and b.tokens >= weight - _EPS:
            b.tokens -= weight
            self._granted(weight)
            return 0.0

        me: asyncio.Future = asyncio.get_running_loop().create_future()
        b.queue.append(me)
        self.stats.waits += 1
        try:
            if b.queue[0] is not me:
                await me                          # resolved when we reach the head
            while True:
                now = self._clock()
                b.refill(now)
                delay = max(max(self._ban_until, b.ban_until) - now, b.time_for(weight))
                if delay <= 0:
                    break
                await self._sleep(delay)
            b.tokens -= weight
        finally:
            head = bool(b.queue) and b.queue[0] is me
            try:
                b.queue.remove(me)
            except ValueError:
                pass
            if head and b.queue and not b.queue[0].done():
                b.queue[0].set_result(None)
        waited = self._clock() - start
        self.stats.wait_time_s += waited
        self._granted(weight)
        return waited

    def _granted(self, weight: float) -> None:
        self.stats.requests += 1
        self.stats.weight_used += int(weight)

    # -- feedback from responses -------------------------------------------------------------------
    def on_response(self, status: int, headers: Mapping[str, str] | None = None,
                    group: str | None = None) -> None:
        """Feed every response's status and headers back (errors included)."""
        now = self._clock()
        headers = headers or {}
        if self.rules.used_weight_header:
            raw = _header(headers, self.rules.used_weight_header)
            if raw is not None:
                self._sync_used(raw, now)
        if status == 429 or status == 418:
            self._back_off(status, headers, group, now)
        elif status < 400:
            self._consecutive_429 = 0

    def _sync_used(self, raw: str, now: float) -> None:
        try:
            used = int(raw.strip())
        except ValueError:
            return
        self.stats.venue_used_weight = used
        b = self._bucket(self.rules.default_group)
        b.refill(now)
        left = b.allowance - used
        if b.tokens > left + _EPS:
            log.debug("%s: venue counts %d weight used this minute; bucket %.1f -> %.1f",
                      self.venue, used, b.tokens, left)
            b.tokens = left
            self.stats.header_syncs += 1

    def _back_off(self, status: int, headers: Mapping[str, str], group: str | None,
                  now: float) -> None:
        retry_after = _retry_after_s(_header(headers, "Retry-After"), self._wall)
        if status == 418:
            self.stats.banned_418 += 1
            seconds = retry_after if retry_after is not None else self.rules.ban_default_s
            log.error("%s: IP BANNED (HTTP 418) on %s for %.0f s: every request to this venue "
                      "waits until the ban ends; the rate limits were exceeded after 429s",
                      self.venue, self.ip, seconds)
            scope_group = None
        else:
            self.stats.throttled_429 += 1
            self._consecutive_429 += 1
            if retry_after is not None:
                seconds = retry_after
            else:
                seconds = min(60.0, 2.0 ** (self._consecutive_429 - 1))
            scope_group = None
            name = group or self.rules.default_group
            lim = self.rules.groups.get(name)
            if lim is not None and lim.scope == "endpoint":
                scope_group = name
            log.warning("%s: HTTP 429 (%s), backing off %.1f s%s", self.venue,
                        f"group {scope_group}" if scope_group else f"IP {self.ip}", seconds,
                        "" if retry_after is not None else " (no Retry-After)")
        until = now + max(0.0, seconds)
        if scope_group is None:
            self._ban_until = max(self._ban_until, until)
            drained = self._buckets.values()
        else:
            b = self._bucket(scope_group)
            b.ban_until = max(b.ban_until, until)
            drained = (b,)
        for b in drained:              # no burst when the back-off ends
            b.refill(now)
            b.tokens = min(b.tokens, 0.0)
            b.stamp = max(b.stamp, until)
        self.stats.backoff_until = max(self._ban_until,
                                       max(b.ban_until for b in self._buckets.values()))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (aiohttp's CIMultiDict, or a plain dict in tests)."""
    v = headers.get(name)
    if v is not None:
        return v
    low = name.lower()
    for k, v in headers.items():
        if k.lower() == low:
            return v
    return None


def _retry_after_s(raw: str | None, wall: Callable[[], float]) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if raw is None:
        return None
    raw = raw.strip()
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - wall())


# -- the process-wide registry ------------------------------------------------------------------
_REGISTRY: dict[tuple[str, str], RateLimiter] = {}
_REGISTRY_LOCK = threading.Lock()


def limiter_for(venue: str, ip: str = "default", **settings) -> RateLimiter:
    """The one limiter of (venue, ip) in this process, created on first use.

    `settings` (margin, burst_fraction, clock, sleep, wall) apply only when it is created."""
    key = (venue, ip)
    with _REGISTRY_LOCK:
        lim = _REGISTRY.get(key)
        if lim is None:
            lim = _REGISTRY[key] = RateLimiter(venue, ip=ip, **settings)
        return lim


def all_limiters() -> dict[tuple[str, str], RateLimiter]:
    """Every registered limiter (for the metrics exporter)."""
    with _REGISTRY_LOCK:
        return dict(_REGISTRY)


__all__ = ["Endpoint", "Limit", "LimiterStats", "RateLimiter", "VENUE_RULES", "VenueRules",
           "all_limiters", "limiter_for", "rules_for"]
