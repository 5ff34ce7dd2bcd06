"""The Coinbase Advanced Trade feed against the exchange simulator (127.0.0.1) replaying the
bundled real capture: subscriptions, books live and equal to the exchange's, drops, sequence
gaps repaired by resubscribing (or reconnecting), stalls, and trades backfilled over REST."""
from __future__ import annotations

import asyncio
import logging
import time

import numpy as np
import orjson
import pytest

from tradecore.simulator import ExchangeSimulator, Fault
from tradecore.venues.coinbase.feed import CoinbaseFeed, CoinbaseFeedConfig
from tradecore.venues.rest import RestClient

SYMBOLS = ["BTC-USD", "ETH-USD"]
SUBS = {f"{ch}|{s}" for ch in ("l2_data", "market_trades") for s in SYMBOLS}


async def until(cond, timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")
        await asyncio.sleep(0.01)


class Harness:
    def __init__(self, sim: ExchangeSimulator, feed: CoinbaseFeed, statuses: dict,
                 trades: list) -> None:
        self.sim = sim
        self.feed = feed
        self.statuses = statuses
        self.trades = trades

    @property
    def cb(self):
        return self.sim.venues["coinbase"]

    def subscribed(self) -> bool:
        conns = self.sim.connections("coinbase")
        return len(conns) == 1 and set(conns[0]["subscriptions"]) == SUBS

    def live_on(self, gen: int) -> bool:
        f = self.feed
        return f.live is not None and f.live.label == f"coinbase#{gen}" and \
            all(f.book(s) is not None for s in SYMBOLS) and \
            all(f.health.status.get(s) == "live" for s in SYMBOLS)

    def same_books(self) -> bool:
        """Every level of every book equals the simulator's (the exchange's) book."""
        for s in SYMBOLS:
            a, b = self.feed.book(s), self.cb.book(s)
            if a is None or b is None:
                return False
            n = max(a.bid_count, a.ask_count, b.bid_count, b.ask_count)
            (ab, aa), (bb, ba) = a.depth(n), b.depth(n)
            if not (np.array_equal(ab, bb) and np.array_equal(aa, ba)):
                return False
        return True

    async def finish(self) -> None:
        """Replay the rest of the capture; the feed's books end equal to the exchange's."""
        self.sim.resume()
        await self.sim.wait_finished("coinbase", 15)
        await until(self.same_books, 5, "the feed's books to equal the simulator's")

    def sim_trade_ids(self) -> set[tuple[str, str]]:
        return {(s, t["trade_id"]) for s, (_, ts) in self.cb.trade_log.items() for t in ts}


def run(body, timeout: float = 25.0, **cfg) -> None:
    """A paused simulator and a feed subscribed to it; both always stopped."""
    async def main() -> None:
        sim = ExchangeSimulator(("coinbase",), speed=0, paused=True, heartbeat_interval=0.1)
        await sim.start()
        rest = RestClient("coinbase", base_url=sim.rest_url, retries=0)
        feed = task = None
        try:
            statuses: dict[str, list[str]] = {s: [] for s in SYMBOLS}
            trades: list = []
            kw = dict(stale_after_s=2.0, backoff_initial_s=0.01, check_interval_s=0.02,
                      resync_retry_s=0.5)
            kw.update(cfg)
            config = CoinbaseFeedConfig(list(SYMBOLS), ws_urls=[sim.ws_url("coinbase")], **kw)
            feed = CoinbaseFeed(config, rest, on_trade=trades.append,
                                on_status=lambda s, st, why: statuses[s].append(st))
            task = asyncio.create_task(feed.run())
            h = Harness(sim, feed, statuses, trades)
            await until(h.subscribed, 5, "the feed's subscriptions")
            await asyncio.wait_for(body(h), timeout)
        finally:
            if feed is not None:
                feed.stop()
                await asyncio.wait_for(task, 5)
            await rest.close()
            await sim.close()
    asyncio.run(main())


async def _live_mid_stream(h: Harness, events: int = 300) -> None:
    h.sim.step("coinbase", events)
    await until(lambda: h.live_on(1), 5, "books live on the first connection")


# -- streaming -----------------------------------------------------------------------------------
def test_books_go_live_and_equal_the_exchange_when_streaming_the_capture():
    async def body(h: Harness) -> None:
        await h.finish()
        f = h.feed
        st = f.normalizer.stats
        assert st.gaps == 0 and not st.errors, st.as_dict()
        assert f.normalizer.unrecovered() == []
        assert f.health.connects == 1 and f.health.resubscribes == 0
        for s in SYMBOLS:
            assert h.statuses[s] == ["syncing", "live"]
        # every trade the exchange published reached on_trade exactly once
        ids = [(t.symbol, t.trade_id) for t in h.trades]
        assert len(ids) == len(set(ids)) and set(ids) == h.sim_trade_ids()
    run(body)


def test_heartbeats_keep_connection_live_when_books_are_quiet():
    async def body(h: Harness) -> None:
        await _live_mid_stream(h)
        await asyncio.sleep(1.5)              # paused replay: only heartbeats arrive
        assert h.feed.health.connects == 1 and h.feed.health.stale_connections == 0
        assert h.live_on(1)
        await h.finish()
    run(body, stale_after_s=0.5)


# -- faults --------------------------------------------------------------------------------------
def test_feed_reconnects_on_new_generation_when_connection_drops():
    async def body(h: Harness) -> None:
        await _live_mid_stream(h)
        h.sim.inject(Fault("drop", venue="coinbase"))
        await until(lambda: h.live_on(2), 5, "books live on the second connection")
        await h.finish()
        f = h.feed
        assert f.health.connects == 2 and f.health.reconnects == 1
        assert f.normalizer.stats.gaps == 0
        assert not [k for k in f.normalizer.books if k[0] == "coinbase#1"]   # forgotten
        for s in SYMBOLS:
            assert h.statuses[s] == ["syncing", "live", "syncing", "live"]
    run(body)


def test_missed_trades_are_backfilled_once_when_connection_drops_mid_stream():
    async def body(h: Harness) -> None:
        await _live_mid_stream(h, 200)
        before = len(h.trades)
        # everything sent during the stall is lost, then the connection is cut
        rec = h.sim.inject(Fault("stall", venue="coinbase", seconds=0.3, then="drop"))
        h.sim.step("coinbase", 400)
        await until(lambda: rec.done, 3, "the stall to end in a drop")
        await until(lambda: h.live_on(2), 5, "books live on the second connection")
        await h.finish()
        await until(lambda: {(t.symbol, t.trade_id) for t in h.trades} == h.sim_trade_ids(),
                    5, "every published trade")
        ids = [(t.symbol, t.trade_id) for t in h.trades]
        assert len(ids) == len(set(ids))
        back = [t for t in h.trades[before:] if t.backfilled]
        assert back and h.feed.health.backfilled_trades == len(back)
        assert all(t.ts_exchange_ns <= u.ts_exchange_ns for t, u in zip(back, back[1:])
                   if t.symbol == u.symbol)
    run(body, stale_after_s=2.0)


def test_gap_is_repaired_by_resubscribing_when_updates_are_skipped():
    async def body(h: Harness) -> None:
        await _live_mid_stream(h)
        rec = h.sim.inject(Fault("skip", venue="coinbase", count=2))
        h.sim.step("coinbase", 100)
        await until(lambda: rec.done and h.feed.normalizer.stats.gaps >= 1, 3, "the gap")
        await until(lambda: h.feed.health.resubscribes >= 1 and h.live_on(1), 5,
                    "books repaired on the same connection")
        await h.finish()
        f = h.feed
        assert f.health.connects == 1 and f.gap_reconnects == 0
        assert f.normalizer.stats.gaps == 1 and f.normalizer.unrecovered() == []
        for s in SYMBOLS:
            assert h.statuses[s] == ["syncing", "live", "syncing", "live"]
    run(body)


def test_gap_is_repaired_by_reconnecting_when_resubscribing_is_disabled():
    async def body(h: Harness) -> None:
        await _live_mid_stream(h)
        h.sim.inject(Fault("skip", venue="coinbase", count=1))
        h.sim.step("coinbase", 100)
        await until(lambda: h.live_on(2), 5, "books live on a new connection")
        await h.finish()
        f = h.feed
        assert f.gap_reconnects == 1 and f.health.connects == 2
        assert f.health.resubscribes == 0 and f.normalizer.unrecovered() == []
    run(body, resync_attempts=0)


def test_gap_is_repaired_when_messages_are_lost_in_a_stall():
    """A stall that discards what it held back: every message replayed meanwhile (l2_data,
    tickers, trades) is lost, so the connection-wide sequence_num jumps."""
    async def body(h: Harness) -> None:
        await _live_mid_stream(h)
        h.sim.inject(Fault("stall", venue="coinbase", seconds=0.3, then="discard"))
        h.sim.step("coinbase", 50)
        await until(lambda: h.feed.normalizer.stats.gaps >= 1, 3, "the gap")
        await until(lambda: h.live_on(1), 5, "books repaired on the same connection")
        await h.finish()
        assert h.feed.health.connects == 1 and h.feed.health.resubscribes >= 1
    run(body)


def test_feed_reconnects_when_connection_stalls_beyond_stale_after():
    async def body(h: Harness) -> None:
        await _live_mid_stream(h)
        h.sim.inject(Fault("stall", venue="coinbase", seconds=5.0, then="resume"))
        await until(lambda: h.live_on(2), 5, "books live on a new connection")
        await h.finish()
        f = h.feed
        assert f.health.stale_connections >= 1 and f.health.connects == 2
        for s in SYMBOLS:
            assert h.statuses[s][:4] == ["syncing", "live", "stale", "syncing"]
            assert h.statuses[s][-1] == "live"
    run(body, stale_after_s=0.5)


def test_quiet_book_is_resubscribed_when_no_update_for_book_stale_after():
    async def body(h: Harness) -> None:
        await _live_mid_stream(h)
        # paused replay: no l2_data at all; each book goes stale, gets a new snapshot by
        # resubscribing, and is live again on the same connection
        await until(lambda: all(h.statuses[s][-3:] == ["live", "stale", "live"]
                                for s in SYMBOLS), 5, "stale then live again")
        await h.finish()
        f = h.feed
        assert f.health.connects == 1 and f.health.stale_books >= 2
        assert f.normalizer.stats.gaps == 0
    run(body, book_stale_after_s=0.5)


def test_books_stay_live_when_connection_rolls_over():
    async def body(h: Harness) -> None:
        await _live_mid_stream(h)
        await until(lambda: h.feed.health.rollovers >= 1 and h.live_on(2), 5, "a rollover")
        await h.finish()
        f = h.feed
        assert f.health.reconnects == 0 and f.normalizer.stats.gaps == 0
        for s in SYMBOLS:
            assert h.statuses[s] == ["syncing", "live"]       # never dark
        ids = [(t.symbol, t.trade_id) for t in h.trades]
        assert len(ids) == len(set(ids)) and set(ids) == h.sim_trade_ids()
    run(body, max_connection_age_s=1.0)


# -- without a network ---------------------------------------------------------------------------
class _Sent:
    label = "coinbase#1"

    def __init__(self) -> None:
        self.msgs: list[dict] = []

    def send(self, payload: bytes) -> None:
        self.msgs.append(orjson.loads(payload))


def test_subscriptions_name_each_channel_when_connected():
    feed = CoinbaseFeed(CoinbaseFeedConfig(["btc-usd", "ETH-USD"]), None)
    assert feed.config.ws_urls == ["wss://advanced-trade-ws.coinbase.com"]
    lst = _Sent()
    feed.on_connected(lst)
    assert lst.msgs == [
        {"type": "subscribe", "channel": "heartbeats"},
        {"type": "subscribe", "product_ids": SYMBOLS, "channel": "level2"},
        {"type": "subscribe", "product_ids": SYMBOLS, "channel": "market_trades"},
    ]


def test_jwt_is_sent_but_never_logged_when_configured_in_environment(monkeypatch, caplog):
    token = "eyJhbGciOiJFUzI1NiJ9.secret-part.signature"
    monkeypatch.setenv("TC_TEST_COINBASE_JWT", token)
    config = CoinbaseFeedConfig(["BTC-USD"], jwt_env="TC_TEST_COINBASE_JWT")
    feed = CoinbaseFeed(config, None)
    lst = _Sent()
    with caplog.at_level(logging.DEBUG):
        feed.on_connected(lst)
        feed._resubscribe(lst, ["BTC-USD"])
    assert all(m["jwt"] == token for m in lst.msgs)
    assert token not in caplog.text and token not in repr(config)


def test_config_rejects_bad_values_when_constructed():
    with pytest.raises(ValueError, match="symbols"):
        CoinbaseFeedConfig([])
    with pytest.raises(ValueError, match="level2"):
        CoinbaseFeedConfig(["BTC-USD"], channels=["market_trades"])
    with pytest.raises(ValueError, match="channels"):
        CoinbaseFeedConfig(["BTC-USD"], channels=["level2", "level3"])
    with pytest.raises(ValueError, match="resync_attempts"):
        CoinbaseFeedConfig(["BTC-USD"], resync_attempts=-1)
    with pytest.raises(ValueError, match="stale_after_s"):
        CoinbaseFeedConfig(["BTC-USD"], stale_after_s=0)
