"""Raw public REST for market data: depth snapshots and trade backfill, as the venue's bytes.

Why raw HTTP (aiohttp) and not ccxt here: ccxt parses prices and sizes into floats. The
normalizers need the exchange's exact decimal text — Kraken's and OKX's checksums are computed
over it, and the books keep prices as integer ticks derived from the text — so a snapshot must
reach `normalizer.on_rest(body, url=...)` byte for byte. (Instrument metadata, where floats are
harmless and ccxt's normalisation of many venues is worth having, goes through ccxt: markets.py.)

Every request:
  * takes its weight from the process-wide limiter (ratelimit.py) *before* it is sent, each
    attempt again (the venue counts retries too), and reports status and headers back to it;
  * has a total timeout;
  * is retried with exponential back-off and jitter on 5xx (at least the Retry-After a 503
    may carry, up to 60 s), timeouts and connection errors, and after a 429 (the limiter then holds every request of the venue until Retry-After);
    never on other 4xx — a 418 (IP ban) is raised at once, the limiter keeps the ban;
  * fails with RestError naming venue, URL, status and an excerpt of the body.

Venues that report errors inside a 200 body are checked too: Kraken (`"error": [...]`, where
"EAPI:Rate limit exceeded" and "EGeneral:Too many requests" count as a 429) and OKX (`"code"`
not "0"; 50011 counts as a 429).

Public endpoints need no key. A key, if given (Binance historicalTrades accepts
X-MBX-APIKEY), is held in a wrapper that never prints, is sent only on the endpoints that use
it, and is scrubbed from every error message and log line.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from yarl import URL

from tradecore.venues.ratelimit import RateLimiter, _retry_after_s, limiter_for

log = logging.getLogger("tradecore.venues.rest")

BASE_URLS: dict[str, str] = {
    "binance": "https://api.binance.com",
    "binance_usdm": "https://fapi.binance.com",
    "binance_coinm": "https://dapi.binance.com",
    "kraken": "https://api.kraken.com",
    "okx": "https://www.okx.com",
    "coinbase": "https://api.coinbase.com",
}

_BINANCE_PREFIX = {"binance": "/api/v3", "binance_usdm": "/fapi/v1", "binance_coinm": "/dapi/v1"}

# venue -> (endpoint, symbol parameter, limit parameter, default limit)
_DEPTH: dict[str, tuple[str, str, str, int | None]] = {
    "binance": ("/api/v3/depth", "symbol", "limit", 1000),
    "binance_usdm": ("/fapi/v1/depth", "symbol", "limit", 1000),
    "binance_coinm": ("/dapi/v1/depth", "symbol", "limit", 1000),
    "kraken": ("/0/public/Depth", "pair", "count", 500),
    "okx": ("/api/v5/market/books", "instId", "sz", 400),
    "coinbase": ("/api/v3/brokerage/market/product_book", "product_id", "limit", None),
}

_KEYED_ENDPOINTS = {f"{p}/historicalTrades" for p in _BINANCE_PREFIX.values()}
_EXCERPT = 300


class RestError(Exception):
    """A REST call that failed for good: venue, method, URL, status (None when no response
    came back), an excerpt of the body or the transport error, and the attempts made."""

    def __init__(self, venue: str, url: str, status: int | None, detail: str,
                 attempts: int = 1, method: str = "GET") -> None:
        self.venue = venue
        self.url = url
        self.status = status
        self.detail = detail
        self.attempts = attempts
        self.method = method
        what = f"HTTP {status}" if status is not None else "no response"
        super().__init__(f"{venue} {method} {url}: {what} after {attempts} attempt"
                         f"{'s' if attempts != 1 else ''}: {detail}")

    @property
    def body_excerpt(self) -> str:
        return self.detail


@dataclass(frozen=True)
class RestResponse:
    body: bytes                 # raw bytes as received: exact decimal text
    url: str                    # the full URL (the normalizers' on_rest takes it)
    status: int
    headers: Mapping[str, str] = field(repr=False)
    ts_ns: int                  # local receive time
    attempts: int = 1


class _Secret:
    """A credential that never prints."""
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "<redacted>"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("credentials are not serialised")


class RestClient:
    """Async public REST client of one venue; raw response bytes out.

    venue: binance | binance_usdm | binance_coinm | kraken | okx | coinbase
    base_url: production by default (BASE_URLS); tests point it at a local server.
    limiter: the venue's process-wide limiter by default (`limiter_for(venue)`).
    session: an aiohttp session to share; without one the client opens its own and `close()`
    (or `async with`) closes it.
    """

    def __init__(self, venue: str, base_url: str | None = None,
                 limiter: RateLimiter | None = None,
                 session: aiohttp.ClientSession | None = None, *,
                 api_key: str | None = None, timeout_s: float = 10.0, retries: int = 3,
                 backoff_base_s: float = 0.25, backoff_max_s: float = 10.0,
                 rng: random.Random | None = None,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 user_agent: str = "tradecore/0.1") -> None:
        if venue not in _DEPTH:
            raise ValueError(f"venue {venue!r}: expected one of {', '.join(_DEPTH)}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s {timeout_s!r}: expected > 0")
        if retries < 0:
            raise ValueError(f"retries {retries!r}: expected >= 0")
        self.venue = venue
        self.base_url = (base_url or BASE_URLS[venue]).rstrip("/")
        self.limiter = limiter if limiter is not None else limiter_for(venue)
        if self.limiter.venue != venue:
            raise ValueError(f"limiter is {self.limiter.venue!r}'s, not {venue!r}'s")
        self._session = session
        self._own_session = session is None
        self._api_key = _Secret(api_key) if api_key else None
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._user_agent = user_agent

    def __repr__(self) -> str:
        return (f"RestClient({self.venue!r}, base_url={self.base_url!r}, "
                f"api_key={'<redacted>' if self._api_key else None})")

    # -- lifecycle ---------------------------------------------------------------------------------
    async def __aenter__(self) -> RestClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._own_session:
                raise RuntimeError(f"{self.venue}: the shared aiohttp session is closed")
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": self._user_agent},
                connector=aiohttp.TCPConnector(limit=16, ttl_dns_cache=300))
        return self._session

    # -- market data -------------------------------------------------------------------------------
    def depth_url(self, symbol: str, limit: int | None = None) -> str:
        """The URL get_depth requests (what `normalizer.on_rest(..., url=)` wants)."""
        endpoint, params = self._depth_request(symbol, limit)
        return self._url(endpoint, params)

    def _depth_request(self, symbol: str, limit: int | None) -> tuple[str, dict]:
        endpoint, sym_key, lim_key, default = _DEPTH[self.venue]
        params: dict[str, object] = {sym_key: symbol}
        n = limit if limit is not None else default
        if n is not None:
            params[lim_key] = int(n)
        return endpoint, params

    async def fetch_depth(self, symbol: str, limit: int | None = None) -> RestResponse:
        endpoint, params = self._depth_request(symbol, limit)
        return await self.fetch(endpoint, params)

    async def get_depth(self, symbol: str, limit: int | None = None) -> bytes:
        """The venue's order book snapshot for `symbol` (the venue's own id: BTCUSDT, XBTUSD,
        BTC-USDT, BTC-USD), raw bytes. limit: levels per side (venue default when None:
        Binance 1000, Kraken 500, OKX 400, Coinbase the venue's)."""
        return (await self.fetch_depth(symbol, limit)).body

    async def get_trades_since(self, symbol: str, from_id: int | str | None = None,
                               from_ts: int | None = None, limit: int | None = None,
                               kind: str = "agg") -> bytes:
        """One page of public trades starting at a trade id or a time (ns since the epoch),
        raw bytes, oldest first where the venue allows it. The caller pages on with the last
        id it received.

        Binance: kind "agg" -> aggTrades (fromId | startTime), "trades" -> historicalTrades
        (fromId; takes the API key when one is set). Kraken: Trades?since= (from_id is the
        `last` cursor of the previous page; from_ts is converted to seconds). OKX:
        history-trades with before=<tradeId> (type 1) or before=<ms> (type 2). Coinbase:
        products/{id}/ticker with start=<s> (time only: Coinbase has no trade-id cursor).
        """
        if (from_id is None) == (from_ts is None):
            raise ValueError("get_trades_since: give exactly one of from_id and from_ts")
        endpoint, params, path = self._trades_request(symbol, from_id, from_ts, limit, kind)
        return (await self.fetch(endpoint, params, path=path)).body

    def _trades_request(self, symbol: str, from_id, from_ts, limit, kind):
        v = self.venue
        if v in _BINANCE_PREFIX:
            prefix = _BINANCE_PREFIX[v]
            params: dict[str, object] = {"symbol": symbol, "limit": int(limit or 1000)}
            if kind == "agg":
                if from_id is not None:
                    params["fromId"] = int(from_id)
                else:
                    params["startTime"] = int(from_ts) // 1_000_000
                return f"{prefix}/aggTrades", params, None
            if kind == "trades":
                if from_id is None:
                    raise ValueError(f"{v} historicalTrades pages by trade id only (from_id)")
                params["fromId"] = int(from_id)
                return f"{prefix}/historicalTrades", params, None
            raise ValueError(f"kind {kind!r}: expected 'agg' or 'trades'")
        if v == "kraken":
            params = {"pair": symbol,
                      "since": str(from_id) if from_id is not None
                      else str(int(from_ts) // 1_000_000_000)}
            if limit is not None:
                params["count"] = int(limit)
            return "/0/public/Trades", params, None
        if v == "okx":
            params = {"instId": symbol}
            if from_id is not None:
                params.update(type="1", before=str(from_id))
            else:
                params.update(type="2", before=str(int(from_ts) // 1_000_000))
            params["limit"] = int(limit or 100)
            return "/api/v5/market/history-trades", params, None
        if v == "coinbase":
            if from_id is not None:
                raise ValueError("coinbase trades page by time only (from_ts): the ticker "
                                 "endpoint has no trade-id cursor")
            endpoint = "/api/v3/brokerage/market/products/{product_id}/ticker"
            params = {"limit": int(limit or 1000), "start": str(int(from_ts) // 1_000_000_000)}
            return endpoint, params, endpoint.replace("{product_id}", quote(symbol, safe=""))
        raise ValueError(f"venue {v!r} has no trades endpoint here")

    # the BinanceRest protocol of venues/binance/feed.py
    async def depth(self, symbol: str, limit: int) -> bytes:
        return await self.get_depth(symbol, limit)

    async def agg_trades(self, symbol: str, from_id: int, limit: int) -> bytes:
        return await self.get_trades_since(symbol, from_id=from_id, limit=limit, kind="agg")

    # -- the request loop --------------------------------------------------------------------------
    def _url(self, path: str, params: Mapping[str, object] | None) -> str:
        q = urlencode({k: str(v) for k, v in (params or {}).items()}) if params else ""
        return f"{self.base_url}{path}" + (f"?{q}" if q else "")

    def _scrub(self, text: str) -> str:
        if self._api_key is not None:
            key = self._api_key.reveal()
            if key:
                text = text.replace(key, "<redacted>")
        return text

    def _excerpt(self, body: bytes) -> str:
        text = body[:_EXCERPT].decode("utf-8", "replace")
        if len(body) > _EXCERPT:
            text += "..."
        return self._scrub(text)

    def _backoff(self, attempt: int) -> float:
        """Exponential back-off with equal jitter: half the step fixed, half random."""
        step = min(self.backoff_max_s, self.backoff_base_s * 2 ** (attempt - 1))
        return step / 2 + self._rng.uniform(0, step / 2)

    async def fetch(self, endpoint: str, params: Mapping[str, object] | None = None, *,
                    path: str | None = None) -> RestResponse:
        """GET base_url + (path or endpoint) with params, through the limiter, with retries.

        endpoint is the path template the limiter prices (e.g. ".../products/{product_id}/
        ticker"); path is the concrete path when it differs."""
        url = self._url(path or endpoint, params)
        group, weight = self.limiter.cost(endpoint, params)
        headers = {}
        if self._api_key is not None and endpoint in _KEYED_ENDPOINTS:
            headers["X-MBX-APIKEY"] = self._api_key.reveal()
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        attempt = 0
        while True:
            attempt += 1
            await self.limiter.acquire(weight, group)
            try:
                async with self._http().get(URL(url, encoded=True), headers=headers,
                                            timeout=timeout, allow_redirects=False) as resp:
                    body = await resp.read()
                    status = resp.status
                    rheaders = resp.headers
            except (asyncio.TimeoutError, aiohttp.ClientError, OSError) as e:
                detail = self._scrub(f"{type(e).__name__}: {e}" if str(e) else
                                     (f"timeout after {self.timeout_s:g} s"
                                      if isinstance(e, asyncio.TimeoutError)
                                      else type(e).__name__))
                if attempt > self.retries:
                    raise RestError(self.venue, url, None, detail, attempt) from None
                delay = self._backoff(attempt)
                log.warning("%s GET %s: %s; retry %d/%d in %.2f s", self.venue, url, detail,
                            attempt, self.retries, delay)
                await self._sleep(delay)
                continue
            ts_ns = time.time_ns()
            http_status = status
            status = self._venue_status(status, body)    # 200 with an error body: 4xx/429
            self.limiter.on_response(status, rheaders, group)
            if 200 <= status < 300:
                return RestResponse(body, url, status, rheaders, ts_ns, attempt)
            err = RestError(self.venue, url, http_status, self._excerpt(body), attempt)
            if attempt > self.retries or not (status == 429 or status >= 500):
                if status == 418:
                    log.error("%s GET %s: IP banned (418); not retried", self.venue, url)
                raise err
            if status == 429:
                # the limiter now holds every request of this venue until Retry-After
                log.warning("%s GET %s: 429; retry %d/%d after the venue's back-off",
                            self.venue, url, attempt, self.retries)
                continue
            delay = self._backoff(attempt)
            hinted = _retry_after_s(rheaders.get("Retry-After"), time.time)   # 503 may say
            if hinted is not None:
                delay = max(delay, min(hinted, 60.0))
            log.warning("%s GET %s: HTTP %d; retry %d/%d in %.2f s", self.venue, url, status,
                        attempt, self.retries, delay)
            await self._sleep(delay)

    def _venue_status(self, status: int, body: bytes) -> int:
        """The HTTP status a 200 really means, for venues that report errors in the body."""
        if status != 200:
            return status
        if self.venue == "kraken" and not body.startswith(b'{"error":[]'):
            try:
                errors = orjson.loads(body).get("error") or []
            except (orjson.JSONDecodeError, AttributeError):
                return status
            if any("Rate limit" in e or "Too many requests" in e for e in map(str, errors)):
                return 429
            return 400 if errors else status
        if self.venue == "okx" and b'"code":"0"' not in body[:64]:
            try:
                code = str(orjson.loads(body).get("code"))
            except (orjson.JSONDecodeError, AttributeError):
                return status
            if code == "50011":
                return 429
            return 400 if code not in ("0", "None") else status
        return status


__all__ = ["BASE_URLS", "RestClient", "RestError", "RestResponse"]
