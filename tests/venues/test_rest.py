"""RestClient against a local aiohttp server on 127.0.0.1 serving canned real responses.

No test touches the network beyond 127.0.0.1. The event loop is uvloop (the production loop);
back-off sleeps are recorded instead of slept, and the 429 test runs the limiter on a fake
clock, so the suite stays fast.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
import uvloop
from aiohttp import web

from datafiles import sample_file
from tradecore.data.capture import REST, read_capture
from tradecore.venues.binance.normalize import BinanceNormalizer
from tradecore.venues.ratelimit import RateLimiter
from tradecore.venues.rest import BASE_URLS, RestClient, RestError, RestResponse

SECRET = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"


def run(coro):
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def nknusdt_snapshot() -> tuple[bytes, str]:
    """The real Binance REST depth snapshot (NKNUSDT, limit 1000) of the bundled capture."""
    for rec in read_capture(sample_file("cf_spot_20211012_4sym.jsonl")):
        if rec.kind == REST:
            return rec.payload, rec.src
    raise AssertionError("no REST snapshot in the bundled capture")


Handler = Callable[[web.Request, int], Awaitable[web.StreamResponse]]


class LocalServer:
    """An aiohttp server on 127.0.0.1, port 0, answering every GET with `handler(request, n)`
    (n counts requests from 1) and remembering what it was asked."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.seen: list[tuple[str, dict, dict]] = []     # (path, query, headers)
        self.url = ""

    async def __aenter__(self) -> LocalServer:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc) -> None:
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append((request.path, dict(request.query), dict(request.headers)))
        return await self.handler(request, len(self.seen))


def body(data: bytes | str, status: int = 200, **headers) -> web.Response:
    return web.Response(body=data.encode() if isinstance(data, str) else data, status=status,
                        headers={k.replace("_", "-"): v for k, v in headers.items()},
                        content_type="application/json")


class Sleeps:
    """Records back-off sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


class StepClock:
    """A fake monotonic clock whose sleep advances it at once (the limiter's only sleeper)."""

    def __init__(self) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


# -- snapshots ----------------------------------------------------------------------------------
def test_get_depth_returns_exact_bytes_when_server_sends_real_snapshot():
    payload, recorded_url = nknusdt_snapshot()

    async def handler(request, n):
        return body(payload, X_MBX_USED_WEIGHT_1M="50")

    async def main():
        async with LocalServer(handler) as srv:
            limiter = RateLimiter("binance")
            async with RestClient("binance", srv.url, limiter) as client:
                resp = await client.fetch_depth("NKNUSDT", 1000)
                raw = await client.get_depth("NKNUSDT", 1000)
                url = client.depth_url("NKNUSDT", 1000)
            return srv, limiter, resp, raw, url
    srv, limiter, resp, raw, url = run(main())
    assert raw == payload and resp.body == payload           # byte for byte: exact text
    assert isinstance(resp, RestResponse) and resp.status == 200 and resp.ts_ns > 0
    assert srv.seen[0][0] == "/api/v3/depth"
    assert srv.seen[0][1] == {"symbol": "NKNUSDT", "limit": "1000"}
    assert url.endswith("/api/v3/depth?symbol=NKNUSDT&limit=1000")
    assert url.split("/api/")[1] == recorded_url.split("/api/")[1]
    assert limiter.stats.requests == 2 and limiter.stats.weight_used == 100   # 50 each
    # the bytes go to the normalizer as they are, and the book equals the recorded snapshot
    norm = BinanceNormalizer()
    norm.on_rest(raw, url=url)
    book = norm.books[("ws", "NKNUSDT")]
    assert book.best_bid() == (0.3521, 672.0)
    assert norm.stats.levels == 1609 and not norm.stats.errors


@pytest.mark.parametrize("venue, symbol, path, query", [
    ("binance_usdm", "SUSHIUSDT", "/fapi/v1/depth", {"symbol": "SUSHIUSDT", "limit": "1000"}),
    ("binance_coinm", "BTCUSD_PERP", "/dapi/v1/depth", {"symbol": "BTCUSD_PERP",
                                                        "limit": "1000"}),
    ("kraken", "XBTUSD", "/0/public/Depth", {"pair": "XBTUSD", "count": "500"}),
    ("okx", "BTC-USDT", "/api/v5/market/books", {"instId": "BTC-USDT", "sz": "400"}),
    ("coinbase", "BTC-USD", "/api/v3/brokerage/market/product_book", {"product_id": "BTC-USD"}),
])
def test_depth_request_matches_venue_api_when_each_venue(venue, symbol, path, query):
    canned = {"kraken": '{"error":[],"result":{"XXBTZUSD":{"asks":[],"bids":[]}}}',
              "okx": '{"code":"0","msg":"","data":[{"asks":[],"bids":[],"ts":"1"}]}'}
    answer = canned.get(venue, '{"lastUpdateId":1,"bids":[],"asks":[]}')

    async def handler(request, n):
        return body(answer)

    async def main():
        async with LocalServer(handler) as srv:
            async with RestClient(venue, srv.url, RateLimiter(venue)) as client:
                return srv, await client.get_depth(symbol)
    srv, raw = run(main())
    assert raw == answer.encode()
    assert srv.seen[0][:2] == (path, query)


# -- trades -------------------------------------------------------------------------------------
TS_NS = 1_633_998_512_063_357_000     # 2021-10-12 00:28:32.063357 UTC


@pytest.mark.parametrize("venue, kwargs, path, query", [
    ("binance", dict(from_id=12345), "/api/v3/aggTrades",
     {"symbol": "S", "limit": "1000", "fromId": "12345"}),
    ("binance", dict(from_ts=TS_NS), "/api/v3/aggTrades",
     {"symbol": "S", "limit": "1000", "startTime": "1633998512063"}),
    ("binance", dict(from_id=7, kind="trades", limit=500), "/api/v3/historicalTrades",
     {"symbol": "S", "limit": "500", "fromId": "7"}),
    ("binance_usdm", dict(from_id=7), "/fapi/v1/aggTrades",
     {"symbol": "S", "limit": "1000", "fromId": "7"}),
    ("kraken", dict(from_id="1618678134213106000"), "/0/public/Trades",
     {"pair": "S", "since": "1618678134213106000"}),
    ("kraken", dict(from_ts=TS_NS, limit=1000), "/0/public/Trades",
     {"pair": "S", "since": "1633998512", "count": "1000"}),
    ("okx", dict(from_id=310014), "/api/v5/market/history-trades",
     {"instId": "S", "type": "1", "before": "310014", "limit": "100"}),
    ("okx", dict(from_ts=TS_NS), "/api/v5/market/history-trades",
     {"instId": "S", "type": "2", "before": "1633998512063", "limit": "100"}),
    ("coinbase", dict(from_ts=TS_NS, limit=100), "/api/v3/brokerage/market/products/S/ticker",
     {"limit": "100", "start": "1633998512"}),
])
def test_trades_request_matches_venue_api_when_paging_since(venue, kwargs, path, query):
    answer = {"kraken": '{"error":[],"result":{"last":"1"}}',
              "okx": '{"code":"0","msg":"","data":[]}'}.get(venue, "[]")

    async def handler(request, n):
        return body(answer)

    async def main():
        async with LocalServer(handler) as srv:
            async with RestClient(venue, srv.url, RateLimiter(venue)) as client:
                return srv, await client.get_trades_since("S", **kwargs)
    srv, raw = run(main())
    assert raw == answer.encode()
    assert srv.seen[0][:2] == (path, query)


def test_trades_raise_when_cursor_is_missing_or_unsupported():
    async def main():
        client = RestClient("coinbase", "http://127.0.0.1:9", RateLimiter("coinbase"))
        with pytest.raises(ValueError, match="exactly one"):
            await client.get_trades_since("BTC-USD")
        with pytest.raises(ValueError, match="exactly one"):
            await client.get_trades_since("BTC-USD", from_id=1, from_ts=1)
        with pytest.raises(ValueError, match="time only"):
            await client.get_trades_since("BTC-USD", from_id=1)
        b = RestClient("binance", "http://127.0.0.1:9", RateLimiter("binance"))
        with pytest.raises(ValueError, match="trade id only"):
            await b.get_trades_since("S", from_ts=1, kind="trades")
        await client.close()
        await b.close()
    run(main())


def test_feed_protocol_calls_work_when_binance_feed_uses_client():
    async def handler(request, n):
        return body("[]" if request.path.endswith("aggTrades") else
                    '{"lastUpdateId":1,"bids":[],"asks":[]}')

    async def main():
        async with LocalServer(handler) as srv:
            limiter = RateLimiter("binance")
            async with RestClient("binance", srv.url, limiter) as client:
                await client.depth("BTCUSDT", 5000)
                await client.agg_trades("BTCUSDT", 99, 1000)
            return srv, limiter
    srv, limiter = run(main())
    assert srv.seen[1][:2] == ("/api/v3/aggTrades",
                               {"symbol": "BTCUSDT", "limit": "1000", "fromId": "99"})
    assert limiter.stats.weight_used == 250 + 4


# -- failures and retries -----------------------------------------------------------------------
def test_request_is_retried_with_backoff_when_server_returns_500():
    payload, _ = nknusdt_snapshot()

    async def handler(request, n):
        if n == 1:
            return body('{"code":-1001,"msg":"Internal error; unable to process your request."}',
                        status=500)
        if n == 2:
            return body("Service Unavailable", status=503, Retry_After="2")
        return body(payload)

    async def main():
        sleeps = Sleeps()
        async with LocalServer(handler) as srv:
            limiter = RateLimiter("binance")
            async with RestClient("binance", srv.url, limiter, retries=3, backoff_base_s=0.5,
                                  sleep=sleeps) as client:
                raw = await client.get_depth("NKNUSDT", 1000)
        return srv, limiter, sleeps, raw
    srv, limiter, sleeps, raw = run(main())
    assert raw == payload and len(srv.seen) == 3
    # exponential with jitter: attempt 1 in [0.25, 0.5]; attempt 2 would be in [0.5, 1.0] but
    # the 503 asked for 2 s
    assert len(sleeps.calls) == 2
    assert 0.25 <= sleeps.calls[0] <= 0.5 and sleeps.calls[1] == 2.0
    assert limiter.stats.weight_used == 150              # every attempt pays its weight


def test_error_names_venue_url_status_and_body_when_retries_are_exhausted():
    async def handler(request, n):
        return body('{"code":-1001,"msg":"Internal error"}', status=502)

    async def main():
        async with LocalServer(handler) as srv:
            async with RestClient("binance", srv.url, RateLimiter("binance"), retries=2,
                                  sleep=Sleeps()) as client:
                with pytest.raises(RestError) as info:
                    await client.get_depth("BTCUSDT", 100)
        return srv, info.value
    srv, err = run(main())
    assert len(srv.seen) == 3
    assert err.venue == "binance" and err.status == 502 and err.attempts == 3
    assert err.url == f"{srv.url}/api/v3/depth?symbol=BTCUSDT&limit=100"
    text = str(err)
    assert text.startswith(f"binance GET {srv.url}/api/v3/depth?symbol=BTCUSDT&limit=100: ")
    assert "HTTP 502 after 3 attempts" in text and 'Internal error' in text


def test_client_error_is_not_retried_when_status_is_400():
    long_msg = '{"code":-1121,"msg":"Invalid symbol."' + " " * 1000 + "}"

    async def handler(request, n):
        return body(long_msg, status=400)

    async def main():
        sleeps = Sleeps()
        async with LocalServer(handler) as srv:
            async with RestClient("binance", srv.url, RateLimiter("binance"),
                                  sleep=sleeps) as client:
                with pytest.raises(RestError) as info:
                    await client.get_depth("NOPE", 100)
        return srv, sleeps, info.value
    srv, sleeps, err = run(main())
    assert len(srv.seen) == 1 and sleeps.calls == []
    assert err.status == 400 and "Invalid symbol." in str(err)
    assert len(err.body_excerpt) < 400 and err.body_excerpt.endswith("...")


def test_limiter_holds_retry_until_retry_after_when_server_returns_429():
    payload, _ = nknusdt_snapshot()

    async def handler(request, n):
        if n == 1:
            return body('{"code":-1003,"msg":"Too many requests; please use the websocket."}',
                        status=429, Retry_After="3")
        return body(payload, X_MBX_USED_WEIGHT_1M="50")

    async def main():
        clock = StepClock()
        limiter = RateLimiter("binance", clock=clock.monotonic, sleep=clock.sleep)
        async with LocalServer(handler) as srv:
            async with RestClient("binance", srv.url, limiter, sleep=Sleeps()) as client:
                raw = await client.get_depth("NKNUSDT", 1000)
        return srv, limiter, clock, raw
    srv, limiter, clock, raw = run(main())
    assert raw == payload and len(srv.seen) == 2
    assert limiter.stats.throttled_429 == 1
    # the retry waited out Retry-After (3 s) and then the refill of its own weight (the bucket
    # restarts empty after a back-off): all in fake time
    assert clock.sleeps[0] == pytest.approx(3.0)
    assert sum(clock.sleeps) == pytest.approx(3.0 + 50 / 72)


def test_ban_is_raised_and_kept_when_server_returns_418(caplog):
    async def handler(request, n):
        return body('{"code":-1003,"msg":"Way too many requests; IP banned until 1633999000000."}',
                    status=418, Retry_After="600")

    async def main():
        limiter = RateLimiter("binance")
        async with LocalServer(handler) as srv:
            async with RestClient("binance", srv.url, limiter, sleep=Sleeps()) as client:
                with pytest.raises(RestError) as info:
                    await client.get_depth("BTCUSDT", 100)
        return srv, limiter, info.value
    with caplog.at_level(logging.ERROR):
        srv, limiter, err = run(main())
    assert len(srv.seen) == 1 and err.status == 418 and "IP banned" in str(err)
    assert limiter.stats.banned_418 == 1
    assert 590 < limiter.backoff_remaining() <= 600      # every later request will wait
    assert "BANNED" in caplog.text


def test_used_weight_header_drains_limiter_when_binance_reports_it():
    async def handler(request, n):
        return body('{"lastUpdateId":1,"bids":[],"asks":[]}', X_MBX_USED_WEIGHT_1M="4790")

    async def main():
        limiter = RateLimiter("binance")
        async with LocalServer(handler) as srv:
            async with RestClient("binance", srv.url, limiter) as client:
                await client.get_depth("BTCUSDT", 100)
        return limiter
    limiter = run(main())
    assert limiter.available() <= 11 and limiter.stats.venue_used_weight == 4790


def test_timeout_is_retried_when_server_is_slow():
    async def handler(request, n):
        if n == 1:
            await asyncio.sleep(0.6)
        return body('{"error":[],"result":{}}')

    async def main():
        sleeps = Sleeps()
        async with LocalServer(handler) as srv:
            async with RestClient("kraken", srv.url, RateLimiter("kraken", margin=1.0),
                                  timeout_s=0.2, sleep=sleeps) as client:
                raw = await client.get_depth("XBTUSD")
        return srv, sleeps, raw
    srv, sleeps, raw = run(main())
    assert raw == b'{"error":[],"result":{}}' and len(srv.seen) == 2 and len(sleeps.calls) == 1


def test_error_has_no_status_when_nothing_listens():
    async def main():
        async with LocalServer(lambda r, n: None) as srv:
            url = srv.url                       # a port that was free a moment ago
        async with RestClient("okx", url, RateLimiter("okx"), retries=1,
                              sleep=Sleeps()) as client:
            with pytest.raises(RestError) as info:
                await client.get_depth("BTC-USDT")
        return url, info.value
    url, err = run(main())
    assert err.status is None and err.attempts == 2
    assert f"okx GET {url}/api/v5/market/books?instId=BTC-USDT&sz=400: no response" in str(err)


def test_kraken_body_error_is_a_429_when_rate_limited_inside_200():
    async def handler(request, n):
        if n == 1:
            return body('{"error":["EAPI:Rate limit exceeded"]}')
        if n == 2:
            return body('{"error":[],"result":{"XXBTZUSD":{"asks":[],"bids":[]}}}')
        return body('{"error":["EQuery:Unknown asset pair"]}')

    async def main():
        clock = StepClock()
        limiter = RateLimiter("kraken", clock=clock.monotonic, sleep=clock.sleep)
        async with LocalServer(handler) as srv:
            async with RestClient("kraken", srv.url, limiter, sleep=Sleeps()) as client:
                ok = await client.get_depth("XBTUSD")
                with pytest.raises(RestError) as info:
                    await client.get_depth("NOPE")
        return srv, limiter, ok, info.value
    srv, limiter, ok, err = run(main())
    assert ok.startswith(b'{"error":[],') and limiter.stats.throttled_429 == 1
    assert len(srv.seen) == 3                     # the unknown pair was not retried
    assert err.status == 200 and "EQuery:Unknown asset pair" in str(err)


def test_okx_error_code_raises_when_inside_200():
    async def handler(request, n):
        return body('{"code":"51001","msg":"Instrument ID does not exist","data":[]}')

    async def main():
        async with LocalServer(handler) as srv:
            async with RestClient("okx", srv.url, RateLimiter("okx")) as client:
                with pytest.raises(RestError, match="51001"):
                    await client.get_depth("NOPE-USDT")
        return srv
    assert len(run(main()).seen) == 1


# -- secrets ------------------------------------------------------------------------------------
def test_api_key_never_leaks_when_requests_fail(caplog):
    async def echo(request, n):
        key = request.headers.get("X-MBX-APIKEY", "")
        status = 500 if n == 1 else 400               # one retried failure, then a final one
        return body(f'{{"code":-2014,"msg":"API-key format invalid: {key}"}}', status=status)

    async def main():
        sleeps = Sleeps()
        async with LocalServer(echo) as srv:
            client = RestClient("binance", srv.url, RateLimiter("binance"), api_key=SECRET,
                                sleep=sleeps)
            with pytest.raises(RestError) as info:
                await client.get_trades_since("BTCUSDT", from_id=1, kind="trades")
            with pytest.raises(RestError) as info2:
                await client.get_depth("BTCUSDT", 100)
            shown = [repr(client), str(client), repr(vars(client)), repr(client._api_key)]
            await client.close()
        return srv, info.value, info2.value, shown
    with caplog.at_level(logging.DEBUG):
        srv, err, err2, shown = run(main())
    assert srv.seen[0][2].get("X-MBX-APIKEY") == SECRET   # it was sent where it is needed
    assert "X-MBX-APIKEY" not in srv.seen[-1][2]           # and only there
    assert "API-key format invalid" in str(err)
    for text in [str(err), repr(err), repr(err.args), err.body_excerpt, str(err2), caplog.text,
                 *shown, *(r.getMessage() for r in caplog.records)]:
        assert SECRET not in text
    assert "<redacted>" in str(err) and "<redacted>" in shown[0]


# -- construction -------------------------------------------------------------------------------
def test_constructor_rejects_bad_settings_when_misconfigured():
    with pytest.raises(ValueError, match="venue 'ftx'"):
        RestClient("ftx")
    with pytest.raises(ValueError, match="limiter is 'okx'"):
        RestClient("binance", None, RateLimiter("okx"))
    with pytest.raises(ValueError, match="timeout_s"):
        RestClient("binance", None, RateLimiter("binance"), timeout_s=0)
    c = RestClient("kraken", limiter=RateLimiter("kraken"))
    assert c.base_url == BASE_URLS["kraken"] and "api_key=None" in repr(c)


def test_shared_session_is_left_open_when_client_closes():
    import aiohttp

    async def handler(request, n):
        return body('{"code":"0","msg":"","data":[]}')

    async def main():
        async with LocalServer(handler) as srv:
            async with aiohttp.ClientSession() as session:
                async with RestClient("okx", srv.url, RateLimiter("okx"), session) as client:
                    await client.get_depth("BTC-USDT", 5)
                assert not session.closed
    run(main())
