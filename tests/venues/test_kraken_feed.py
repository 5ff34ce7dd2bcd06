"""The Kraken feed against the exchange simulator on 127.0.0.1 replaying the bundled real Kraken
capture (cf_kraken_spot_20210417_5pairs: five pairs, book-1000, 30 s): books synced by the
subscription snapshot and proven by every checksum, through drops, lost updates and stalls."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import orjson
import pytest
import uvloop

from tradecore.simulator import ExchangeSimulator, Fault
from tradecore.venues.kraken.feed import KrakenFeed, KrakenFeedConfig
from tradecore.venues.ratelimit import Endpoint, Limit, RateLimiter, VenueRules
from tradecore.venues.rest import RestClient

PAIRS = ["XMR/USD", "XBT/CHF", "ETH/CHF", "ADA/XBT", "SC/EUR"]


async def until(cond: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")
        await asyncio.sleep(0.005)


class Harness:
    """A simulator (paused: the test steps it) and a Kraken feed on it; close() stops both."""

    def __init__(self, sim: ExchangeSimulator) -> None:
        self.sim = sim
        self.pairs = list(PAIRS)
        self.feed: KrakenFeed | None = None
        self.task: asyncio.Task | None = None
        self.rest: RestClient | None = None
        self.statuses: dict[str, list[str]] = {p: [] for p in PAIRS}
        self.trades = []
        self.problems = []

    def start_feed(self, rest: bool = False, **cfg) -> KrakenFeed:
        kw = dict(ws_urls=[self.sim.ws_url("kraken")], stale_after_s=2.0,
                  backoff_initial_s=0.01, check_interval_s=0.02)
        kw.update(cfg)
        if rest:
            # Kraken's real budget is ~1 request/s: a test needs no wait for its backfills
            fast = VenueRules("kraken", {"public": Limit(100, 1.0)},
                              {"/0/public/Trades": Endpoint("public", 1)}, "public")
            self.rest = RestClient("kraken", base_url=self.sim.rest_url, retries=0,
                                   limiter=RateLimiter("kraken", fast))
        self.pairs = kw.pop("pairs", self.pairs)
        self.statuses.update({p: [] for p in self.pairs})
        self.feed = KrakenFeed(KrakenFeedConfig(list(self.pairs), **kw), self.rest,
                               on_trade=self.trades.append,
                               on_status=lambda s, st, why: self.statuses[s].append(st))
        self.feed.normalizer.on_problem = self.problems.append
        self.task = asyncio.create_task(self.feed.run())
        return self.feed

    def label(self) -> str:
        return self.feed.live.label if self.feed.live is not None else ""

    def all_live(self, label: str | None = None) -> bool:
        f = self.feed
        if f.live is None or (label is not None and f.live.label != label):
            return False
        return all(f.book(p) is not None and f.health.status.get(p) == "live" for p in PAIRS)

    def tops(self) -> dict:
        return {p: (self.feed.book(p).best_bid(), self.feed.book(p).best_ask()) for p in PAIRS}

    def sim_tops(self) -> dict:
        books = self.sim.venues["kraken"].status()["books"]
        return {p: (tuple(books[p]["best_bid"]), tuple(books[p]["best_ask"])) for p in PAIRS}

    async def subscribed(self, n: int = len(PAIRS) * 2) -> None:
        await until(lambda: sum(len(c["subscriptions"]) for c in self.sim.connections("kraken"))
                    >= n, 5, "the feed's subscriptions")

    async def finish(self) -> None:
        """Replay the rest of the recording and let the feed take it all."""
        self.sim.resume()
        await self.sim.wait_finished("kraken", 15)
        await asyncio.sleep(0.2)

    async def close(self) -> None:
        if self.feed is not None:
            self.feed.stop()
            try:
                await asyncio.wait_for(self.task, 5)
            finally:
                if self.rest is not None:
                    await self.rest.close()


def run(body: Callable[[Harness], Awaitable[None]], timeout: float = 25.0, **sim_kw) -> None:
    async def main() -> None:
        sim = ExchangeSimulator(["kraken"], **{"speed": 0, "paused": True, **sim_kw})
        await sim.start()
        h = Harness(sim)
        try:
            await asyncio.wait_for(body(h), timeout)
        finally:
            try:
                await h.close()
            finally:
                await sim.close()
    uvloop.run(main())


def test_books_go_live_with_every_checksum_ok_when_replaying_the_recording():
    async def body(h: Harness) -> None:
        feed = h.start_feed()
        await h.subscribed()
        h.sim.set_speed(20.0)                   # accelerated: 30 s of market in 1.5 s
        await h.finish()
        st = feed.normalizer.stats
        assert st.checksums_bad == 0 and not st.errors, st.as_dict()
        assert st.checksums_ok > 1000
        assert h.all_live("kraken#1")
        assert h.tops() == h.sim_tops()
        assert all(h.statuses[p] == ["syncing", "live"] for p in PAIRS), h.statuses
        assert feed.health.connects == 1 and feed.health.resubscribes == 0
        assert not feed.normalizer.unrecovered() and not h.problems
        assert len(h.trades) == 10 and not any(t.backfilled for t in h.trades)
        assert feed.system_status == "online"
    run(body)


def test_feed_reconnects_on_a_new_generation_when_the_connection_drops():
    async def body(h: Harness) -> None:
        h.sim.step("kraken", 900)
        feed = h.start_feed()
        await until(lambda: h.all_live("kraken#1"), 5, "books live on kraken#1")
        ok_before = feed.normalizer.stats.checksums_ok
        h.sim.step("kraken", 300)
        await until(lambda: feed.normalizer.stats.checksums_ok > ok_before, 5)
        rec = h.sim.inject(Fault("drop", venue="kraken"))
        await until(lambda: h.all_live("kraken#2"), 5, "books live on kraken#2")
        assert rec.effects[0]["action"] == "dropped"
        assert feed.health.reconnects == 1 and feed.health.connects == 2
        assert all(k[0] == "kraken#2" for k in feed.normalizer.books)   # #1 forgotten
        ok_mid = feed.normalizer.stats.checksums_ok
        await h.finish()
        st = feed.normalizer.stats
        assert st.checksums_bad == 0 and st.checksums_ok > ok_mid + 500, st.as_dict()
        assert h.all_live("kraken#2") and h.tops() == h.sim_tops()
        for p in PAIRS:
            assert h.statuses[p] == ["syncing", "live", "syncing", "live"], h.statuses[p]
    run(body)


def test_book_resyncs_by_resubscribing_when_a_checksum_fails_after_skipped_updates():
    async def body(h: Harness) -> None:
        h.sim.step("kraken", 900)
        feed = h.start_feed(resync_interval_s=0.2)
        await until(lambda: h.all_live("kraken#1"), 5, "books live")
        rec = h.sim.inject(Fault("skip", venue="kraken", symbol="XMR/USD", count=10))
        h.sim.step("kraken", 1200)
        st = feed.normalizer.stats
        await until(lambda: st.checksums_bad >= 1, 5, "a checksum mismatch")
        assert rec.done and [e["action"] for e in rec.effects] == ["skipped"] * 10
        await until(lambda: st.resyncs == 1 and feed.book("XMR/USD") is not None, 5,
                    "XMR/USD resynced")
        assert feed.live.label == "kraken#1" and feed.health.connects == 1
        assert feed.health.resubscribes == 1
        ok_before = st.checksums_ok
        await h.finish()
        assert st.checksums_bad == 1 and st.checksums_ok > ok_before, st.as_dict()
        assert st.errors["checksum_mismatch"] == 1
        assert not feed.normalizer.unrecovered()
        assert h.all_live("kraken#1") and h.tops() == h.sim_tops()
        assert h.statuses["XMR/USD"] == ["syncing", "live", "syncing", "live"]
        assert h.statuses["XBT/CHF"] == ["syncing", "live"]
    run(body)


@pytest.mark.parametrize("answer_pings", [False, True])
def test_feed_reconnects_when_the_connection_stalls_beyond_stale_after_s(answer_pings):
    """Silent, or answering nothing but our pings: either way no data, so reconnect."""
    async def body(h: Harness) -> None:
        h.sim.step("kraken", 900)
        feed = h.start_feed(stale_after_s=1.0, ping_idle_s=0.3)
        await until(lambda: h.all_live("kraken#1"), 5, "books live")
        await asyncio.sleep(0.6)               # heartbeats keep a paused replay alive
        assert feed.health.connects == 1
        t0 = time.monotonic()
        h.sim.inject(Fault("stall", venue="kraken", seconds=4.0, answer_pings=answer_pings))
        await until(lambda: feed.health.connects == 2, 4, "a reconnect")
        waited = time.monotonic() - t0
        assert waited < 3.0, waited             # the feed's doing: the stall lasts 4 s
        assert feed.health.stale_connections == 1
        await until(lambda: h.all_live("kraken#2"), 5, "books live on kraken#2")
        assert all(h.statuses[p][:4] == ["syncing", "live", "stale", "syncing"] for p in PAIRS), \
            h.statuses
        if answer_pings:
            assert feed.pongs > 0
        await h.finish()
        assert feed.normalizer.stats.checksums_bad == 0 and h.tops() == h.sim_tops()
    run(body, heartbeat_interval=0.2)


def test_missed_trades_are_backfilled_once_when_the_connection_drops_between_trades():
    async def body(h: Harness) -> None:
        kraken = h.sim.venues["kraken"]
        h.sim.step("kraken", 900)
        feed = h.start_feed(rest=True)
        await until(lambda: h.all_live("kraken#1"), 5, "books live")
        h.sim.step("kraken", 70)                # to 970: one XMR/USD and one SC/EUR trade
        await until(lambda: len(h.trades) == 2, 5, "two live trades")
        h.sim.inject(Fault("drop", venue="kraken"))
        h.sim.step("kraken", 830)               # to 1800: four trades while disconnected
        await until(lambda: h.all_live("kraken#2"), 5, "books live on kraken#2")
        await until(lambda: feed.health.backfilled_trades == 4, 5, "the backfill")
        await h.finish()                        # four more trades, live
        await until(lambda: len(h.trades) == 9, 2, f"every trade: {h.trades}")
        want = []
        for i, ev in enumerate(kraken.events):
            if ev.topic and ev.topic.startswith("trade|") and i >= 900:
                m = orjson.loads(ev.payload)
                want += [(m[-1], t[0], t[1], 970 <= i < 1800) for t in m[1]]
        got = [(t.symbol, t.price, t.size, t.backfilled) for t in h.trades]
        assert sorted(got) == sorted(want)
        assert len(set(got)) == len(got)         # nothing twice
        assert all(t.ts_exchange_ns > 1618678140 * 10**9 for t in h.trades)
        assert not h.problems
    run(body)


def test_books_stay_live_and_trades_are_not_repeated_when_the_connection_rolls_over():
    async def body(h: Harness) -> None:
        feed = h.start_feed(max_connection_age_s=0.5)
        await h.subscribed()
        h.sim.set_speed(20.0)
        await h.finish()
        assert feed.health.rollovers >= 2 and feed.health.reconnects == 0
        st = feed.normalizer.stats
        assert st.checksums_bad == 0 and not st.errors, st.as_dict()
        assert all(h.statuses[p] == ["syncing", "live"] for p in PAIRS), h.statuses
        assert h.tops() == h.sim_tops()
        got = [(t.symbol, t.price, t.size) for t in h.trades]
        assert len(got) == 10 == len(set(got)) and not any(t.backfilled for t in h.trades)
    run(body)


def test_trade_is_emitted_once_when_the_same_message_comes_on_two_connections():
    seen = []
    feed = KrakenFeed(KrakenFeedConfig(["SC/EUR"]), None, on_trade=seen.append)
    msg = b'[1921,[["0.042980","8500.00000000","1618678155.718950","b","m",""],' \
          b'["0.042980","8500.00000000","1618678155.718950","b","m",""]],"trade","SC/EUR"]'
    feed.normalizer.on_frame(msg, "kraken#1", 1)
    feed.normalizer.on_frame(msg, "kraken#2", 2)        # the rollover's other connection
    assert len(seen) == 2                               # two equal trades in one message
    feed.normalizer.on_frame(msg.replace(b"718950", b"718951"), "kraken#2", 3)
    assert len(seen) == 4


def test_system_status_is_a_problem_and_feed_reconnects_when_kraken_goes_into_maintenance():
    async def body(h: Harness) -> None:
        h.sim.step("kraken", 900)
        feed = h.start_feed()
        await until(lambda: h.all_live("kraken#1"), 5, "books live")
        rec = h.sim.inject(Fault("shutdown", venue="kraken", seconds=0.2))
        await until(lambda: h.all_live("kraken#2"), 5, "books live on kraken#2")
        assert [e["action"] for e in rec.effects] == ["shutdown_warning", "closed"]
        assert [(p.reason, p.detail[:34]) for p in h.problems] == \
            [("system_status", "Kraken system status 'maintenance'")]
        assert feed.system_status == "online"          # the new connection's
        assert feed.health.reconnects == 1
    run(body)


def test_subscription_error_is_a_problem_and_other_pairs_go_live_when_a_pair_is_unknown():
    async def body(h: Harness) -> None:
        h.sim.step("kraken", 900)
        feed = h.start_feed(pairs=["XMR/USD", "DOGE/EUR"], snapshot_timeout_s=0.3)
        await until(lambda: feed.book("XMR/USD") is not None, 5, "XMR/USD live")
        await until(lambda: feed.health.resubscribes >= 1, 2, "DOGE/EUR asked again")
        errors = {(p.symbol, p.reason) for p in h.problems}
        assert ("DOGE/EUR", "subscription_error") in errors
        assert feed.book("DOGE/EUR") is None
        assert h.statuses["DOGE/EUR"] == ["syncing"] and h.statuses["XMR/USD"] == \
            ["syncing", "live"]
    run(body)


def test_config_rejects_bad_values_when_constructed():
    with pytest.raises(ValueError, match="depth 50"):
        KrakenFeedConfig(["XBT/USD"], depth=50)
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        KrakenFeedConfig(["XBTUSD"])
    with pytest.raises(ValueError, match="resync_interval_s"):
        KrakenFeedConfig(["XBT/USD"], resync_interval_s=0)
    cfg = KrakenFeedConfig(["xbt/usd"])
    assert cfg.ws_urls == ["wss://ws.kraken.com"] and cfg.depth == 1000 and cfg.trades
    assert cfg.symbols == ["XBT/USD"] and cfg.name == "kraken"


def test_subscriptions_are_kraken_v1_requests_when_connected():
    sent = []

    class _Lst:
        label = "kraken#1"

        def send(self, payload: bytes) -> None:
            sent.append(orjson.loads(payload))

    async def body() -> None:
        feed = KrakenFeed(KrakenFeedConfig(["XBT/USD", "ETH/USD"], depth=25), None)
        feed.on_connected(_Lst())
        feed.resubscribe(_Lst(), "ETH/USD")
    asyncio.run(body())
    assert [(m["event"], m["pair"], m["subscription"]) for m in sent] == [
        ("subscribe", ["XBT/USD", "ETH/USD"], {"name": "book", "depth": 25}),
        ("subscribe", ["XBT/USD", "ETH/USD"], {"name": "trade"}),
        ("unsubscribe", ["ETH/USD"], {"name": "book", "depth": 25}),
        ("subscribe", ["ETH/USD"], {"name": "book", "depth": 25})]
    assert len({m["reqid"] for m in sent}) == 4
