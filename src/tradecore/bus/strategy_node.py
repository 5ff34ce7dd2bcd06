"""A strategy node: strategies on books rebuilt from the bus; orders go to the account's
execution node as commands, and its events come back.

The strategies are the same classes with the same StrategyContext as in one process
(`_BusContext`): `submit` returns the order marked SUBMITTED and sends the command (the risk
gate's verdict comes back as an event, DENIED included); positions and balances are this
node's copy of the account's portfolio, updated from the fills in the event stream; open
orders and the trading state likewise. Each event carries the order's fields as the OMS holds
them, and they are copied onto the strategy's own Order object.

Books: a strategy sees a book only while it is whole. At start (free-running) and after a gap
the node takes the newest full book from the snapshot stream and drops the deltas it already
contains; duplicates are dropped by the per-book sequence (mirror.BookMirror). While the NATS
connection is down every book is marked stale (strategies get on_book_stale) and no strategy
is called, so nothing trades on an old book; after the reconnect the readers carry on from the
last stream sequence they handed over.

Lockstep (deterministic replay): the node moves only when the execution node's Ready names it
(execution_node docstring, docs/distributed.md).
"""
from __future__ import annotations

import logging
import zlib
from collections import defaultdict

from tradecore.bus import subjects
from tradecore.bus.codec import (BookMsg, BusDecodeError, CancelCmd, Done, EventMsg, ExecEnd,
                                 FeedEnd, Ready, RiskMsg, StaleMsg, SubmitCmd, TradeMsg, decode,
                                 encode)
from tradecore.bus.mirror import APPLIED, GAP, WAITING, BookMirror
from tradecore.bus.settings import BusSettings
from tradecore.bus.transport import Bus, StreamReader
from tradecore.config import ConfigError, NodeConfig
from tradecore.core.clock import SimClock
from tradecore.core.instrument import Instrument
from tradecore.core.orders import OPEN, Order, OrderStatus, TradingState
from tradecore.execution.portfolio import Portfolio
from tradecore.strategies.base import Strategy

log = logging.getLogger("tradecore.bus.strategy")
_STATES = tuple(TradingState)


def book_digest(crc: int, venue: str, symbol: str, book) -> int:
    """A running CRC over every full book a strategy was shown (tests compare it with the
    in-process run's)."""
    crc = zlib.crc32(f"{venue}:{symbol}:{int(book.valid)}".encode(), crc)
    crc = zlib.crc32(book.depth_ticks(0, book.bid_count).tobytes(), crc)
    return zlib.crc32(book.depth_ticks(1, book.ask_count).tobytes(), crc)


class StrategyNode:
    def __init__(self, cfg: NodeConfig, bus_cfg: BusSettings, name: str,
                 bus: Bus | None = None) -> None:
        from tradecore.engine import build_ml_signal, strategy_class
        if name not in bus_cfg.nodes:
            raise ConfigError(f"strategy node {name!r} is not in [bus.nodes] "
                              f"({sorted(bus_cfg.nodes)})")
        self.cfg = cfg
        self.bus_cfg = bus_cfg
        self.name = name
        self.account = bus_cfg.account
        self.bus = bus or Bus(bus_cfg.url, f"strategy-{name}", bus_cfg.reconnect_wait_s)
        self.clock = SimClock(0)
        self.instruments = {
            (i.venue, i.symbol): Instrument(i.venue, i.symbol, i.tick, i.lot, i.base, i.quote,
                                            i.min_qty, i.min_notional, i.maker_fee, i.taker_fee)
            for i in cfg.instruments}
        self.mirror = BookMirror(self.instruments)
        self.seen: set[tuple[str, str]] = set()       # books shown at least once
        self.portfolio = Portfolio(self.instruments)
        for key, amount in cfg.balances.items():
            venue, _, asset = key.partition(":")
            self.portfolio.set_balance(venue, asset, amount)
        self.orders: dict[str, Order] = {}
        self.state = int(TradingState.ACTIVE)
        self.book_subs: dict[tuple, list[Strategy]] = defaultdict(list)
        self.trade_subs: dict[tuple, list[Strategy]] = defaultdict(list)
        self.strategies: list[Strategy] = []
        self.by_id: dict[str, Strategy] = {}
        ctx = _BusContext(self)
        mine = set(bus_cfg.nodes[name])
        for sc in cfg.strategies:
            if sc.id not in mine:
                continue
            s = build_ml_signal(sc.id, sc.settings) if sc.kind == "ml_signal" else \
                strategy_class(sc.kind)(sc.id, sc.settings)
            for key in s.books:
                self.book_subs[key].append(s)
            for key in s.trades:
                self.trade_subs[key].append(s)
            s.bind(ctx)
            self.strategies.append(s)
            self.by_id[s.strategy_id] = s
        self.out: list[tuple[str, bytes, str]] = []
        self.cmd_seq = 0
        self.resends = 0
        self.last_event = 0
        self.problems: dict[str, int] = defaultdict(int)
        self.digest: dict[str, int] = {}
        self.fills: list[list] = []
        self.bus.on_down.append(self._bus_down)
        self.bus.on_up.append(self._bus_up)
        self._valid_before_down: dict[tuple, bool] = {}
        self.md = StreamReader(self.bus, subjects.MD_STREAM)
        self.events = StreamReader(self.bus, subjects.EVENTS_STREAM)

    # -- connection loss -------------------------------------------------------------------
    def _bus_down(self) -> None:
        self._valid_before_down = {k: st.book.valid for k, st in self.mirror.books.items()
                                   if st.book is not None}
        for key in self.mirror.mark_all_stale():
            if not self.bus_cfg.lockstep:
                for s in self.book_subs.get(key, ()):
                    s.on_book_stale(key[0], key[1], "bus_disconnected")

    def _bus_up(self) -> None:
        # lockstep: nothing moved while the bus was away (every node waits for the others), and
        # the readers resume at the next sequence, so the books are exactly as they were.
        # Free-running: they stay stale until the next delta or snapshot.
        if self.bus_cfg.lockstep:
            for key, v in self._valid_before_down.items():
                self.mirror.books[key].book.valid = v

    # -- commands out ------------------------------------------------------------------------
    def send(self, cmd_factory) -> None:
        self.cmd_seq += 1
        cmd = cmd_factory(self.cmd_seq)
        self.out.append((subjects.orders(self.account), encode(cmd),
                         f"cmd-{self.name}-{self.cmd_seq}"))

    async def _flush(self) -> None:
        if self.out:
            items, self.out = self.out, []
            await self.bus.publish_many(items)

    # -- events in ---------------------------------------------------------------------------
    def _take(self, data: bytes):
        try:
            return decode(data)
        except BusDecodeError as e:
            self.problems["bus:bad_message"] += 1
            log.error("dropped a message that is not a bus message: %s", e)
            return None

    def _event(self, m: EventMsg) -> None:
        if m.event_seq <= self.last_event:
            self.problems["bus:duplicate_event"] += 1
            return
        self.last_event = m.event_seq
        s = self.by_id.get(m.strategy_id)
        if s is None:
            return
        if m.clock_ns > self.clock.time_ns():
            self.clock.advance_to(m.clock_ns)
        o = self.orders.get(m.event.client_order_id)
        if o is not None:
            m.order.copy_to(o)
        f = m.event.fill
        if f is not None:
            self.portfolio.apply_fill(f)
            self.fills.append([f.client_order_id, f.venue, f.symbol, int(f.side), f.qty,
                               f.price, f.fee, f.trade_id, f.ts_ns])
        try:
            s.on_order_event(m.event)
        except Exception as e:
            self._strategy_error(s, "on_order_event", e)

    def _risk(self, m: RiskMsg) -> None:
        if m.event_seq <= self.last_event:
            return
        self.last_event = m.event_seq
        self.state = m.state

    def _strategy_error(self, s: Strategy, where: str, e: Exception) -> None:
        key = f"strategy:{s.strategy_id}:{where}:{type(e).__name__}"
        if key not in self.problems:
            log.error("strategy %s raised in %s: %r", s.strategy_id, where, e)
        self.problems[key] += 1

    # -- market data in ----------------------------------------------------------------------
    def _md(self, m, deliver: bool) -> None:
        """Apply one md message; call the strategies when `deliver`."""
        if isinstance(m, BookMsg):
            key = (m.venue, m.symbol)
            if key not in self.book_subs:
                return
            r = self.mirror.apply(m)
            if r == APPLIED:
                book = self.mirror.book(key)
                self.seen.add(key)
                if deliver and book.valid:
                    if m.rec_ns > self.clock.time_ns():
                        self.clock.advance_to(m.rec_ns)
                    self.digest[f"{m.venue}:{m.symbol}"] = book_digest(
                        self.digest.get(f"{m.venue}:{m.symbol}", 0), m.venue, m.symbol, book)
                    for s in self.book_subs[key]:
                        try:
                            s.on_book(m.venue, m.symbol, book)
                        except Exception as e:
                            self._strategy_error(s, "on_book", e)
            elif r in (GAP, WAITING):
                self.problems[f"bus:book_{r}"] += 1
                self._need_snapshot = True
        elif isinstance(m, TradeMsg):
            t = m.trade
            ss = self.trade_subs.get((t.venue, t.symbol))
            if ss and deliver:
                if m.rec_ns > self.clock.time_ns():
                    self.clock.advance_to(m.rec_ns)
                for s in ss:
                    try:
                        s.on_trade(t)
                    except Exception as e:
                        self._strategy_error(s, "on_trade", e)
        elif isinstance(m, StaleMsg):
            if (m.venue, m.symbol) in self.book_subs and self.mirror.stale(m) and deliver:
                for s in self.book_subs[(m.venue, m.symbol)]:
                    s.on_book_stale(m.venue, m.symbol, m.reason)

    async def _resync(self) -> None:
        """Books without a base: the newest snapshot of each from the snapshot stream (applied
        only if it holds every delta dropped while waiting, BookMirror.apply). At most every
        0.1 s: the feed writes a snapshot every `snapshot_every` deltas of a book."""
        import time
        now = time.monotonic()
        if now - self._last_resync < 0.1:
            return
        self._last_resync = now
        self._need_snapshot = False
        for key in self.mirror.needs_snapshot():
            if key not in self.book_subs:
                continue
            m = await self._snapshot(key)
            if m is None or self.mirror.apply(m) != APPLIED:
                self._need_snapshot = True
            else:
                self.seen.add(key)

    async def _snapshot(self, key) -> BookMsg | None:
        data = await self.bus.last_msg(subjects.SNAP_STREAM, subjects.snap(*key))
        m = self._take(data) if data is not None else None
        return m if isinstance(m, BookMsg) and m.snapshot else None

    async def _start_from_snapshots(self) -> None:
        """Joining a running feed: each book from its newest snapshot, then the md stream from
        just after the oldest of them (deltas a snapshot already holds are dropped by bseq).
        With no snapshot yet, from the stream's end: every book's first message will be a
        full one."""
        starts = []
        for key in self.book_subs:
            m = await self._snapshot(key)
            if m is not None and self.mirror.apply(m) == APPLIED:
                self.seen.add(key)
                starts.append(m.md_seq)
        if starts:
            self.md.last = min(starts)
        else:
            info = await self.bus.retry(lambda: self.bus.js.stream_info(subjects.MD_STREAM))
            self.md.last = info.state.last_seq

    # -- running -----------------------------------------------------------------------------
    async def run(self) -> dict:
        await self.bus.connect()
        await self.bus.ensure_streams(fresh=False)
        self._need_snapshot = False
        self._last_resync = 0.0
        self._md_ahead = None
        for s in self.strategies:
            s.on_start()
        if self.bus_cfg.lockstep:
            await self._run_lockstep()
        else:
            await self._run_free()
        for s in self.strategies:
            try:
                s.on_stop()
            except Exception as e:
                self._strategy_error(s, "on_stop", e)
        await self._flush()
        out = self.result()
        await self.md.close()
        await self.events.close()
        await self.bus.close()
        return out

    async def _md_until(self, step: int) -> object:
        """Read md messages up to and including gseq `step` (earlier ones are applied to the
        books without calling strategies: in lockstep no strategy reads them) and return it."""
        while True:
            if self._md_ahead is not None:
                m, self._md_ahead = self._md_ahead, None
            else:
                r = await self.md.next(5.0)
                if r is None:
                    continue
                m = self._take(r[2])
                if m is None or isinstance(m, FeedEnd):
                    continue
            if m.gseq > step:              # the step's message is not in the stream: keep
                self._md_ahead = m         # this one for its own step, count the miss
                self.problems["bus:lockstep_md_missing"] += 1
                return m
            if m.gseq == step:
                return m
            self._md(m, deliver=False)

    async def _run_lockstep(self) -> None:
        last_phase = 0
        unconfirmed: list = []           # our commands and Done since the last Ready
        while True:
            r = await self.events.next(1.0)
            if r is None:                # nothing for a while: our Done may be lost
                if unconfirmed:
                    self.resends += 1
                    await self.bus.send(unconfirmed)
                continue
            seq, subject, data = r
            if not subject.endswith("." + self.account):
                continue
            m = self._take(data)
            if isinstance(m, EventMsg):
                self._event(m)
            elif isinstance(m, RiskMsg):
                self._risk(m)
            elif isinstance(m, Ready):
                if m.phase <= last_phase:
                    continue             # a Ready sent again: handled already
                last_phase = m.phase
                unconfirmed = []         # a newer step: the execution node has our Done
                if self.name not in m.nodes:
                    continue
                if m.clock_ns > self.clock.time_ns():
                    self.clock.advance_to(m.clock_ns)
                if m.md:
                    md = await self._md_until(m.step)
                    if md.gseq == m.step:
                        self._md(md, deliver=True)
                self.out.append((subjects.orders(self.account), encode(Done(
                    self.name, m.step, m.phase, self.cmd_seq)), f"done-{self.name}-{m.phase}"))
                unconfirmed, self.out = self.out, []
                await self.bus.send(unconfirmed)
            elif isinstance(m, ExecEnd):
                if m.clock_ns > self.clock.time_ns():
                    self.clock.advance_to(m.clock_ns)
                return

    async def _run_free(self) -> None:
        """Free-running: md and events as they come, commands out at once; from the newest
        snapshots (a node may join a feed that is already running). Ends once it has read the
        feed's end and the execution node's."""
        import asyncio
        await self._start_from_snapshots()
        exec_end = asyncio.Event()

        async def events() -> None:
            while not exec_end.is_set():
                r = await self.events.next(0.2)
                if r is None:
                    continue
                m = self._take(r[2])
                if isinstance(m, EventMsg):
                    self._event(m)
                elif isinstance(m, RiskMsg):
                    self._risk(m)
                elif isinstance(m, ExecEnd):
                    exec_end.set()
                await self._flush()

        task = asyncio.create_task(events())
        try:
            while True:
                r = await self.md.next(0.2)
                if r is None:
                    if self._need_snapshot:
                        await self._resync()
                    continue
                m = self._take(r[2])
                if m is None:
                    continue
                if isinstance(m, FeedEnd):
                    break
                self._md(m, deliver=True)
                if self._need_snapshot:
                    await self._resync()
                await self._flush()
            await task
        finally:
            exec_end.set()
            if not task.done():
                task.cancel()

    def result(self) -> dict:
        return {
            "node": self.name,
            "orders": sorted([o.client_order_id, o.venue, o.symbol, int(o.side), int(o.type),
                              o.qty, o.price, o.status.name, o.filled_qty]
                             for o in self.orders.values()),
            "fills": sorted(self.fills),
            "counters": {s.strategy_id: dict(s.counters) for s in self.strategies},
            "book_digest": self.digest,
            "problems": dict(self.problems),
            "books": {f"{k[0]}:{k[1]}": [st.book.depth_ticks(0, st.book.bid_count).tolist()[:5],
                                         st.book.depth_ticks(1, st.book.ask_count).tolist()[:5]]
                      for k, st in self.mirror.books.items()
                      if k in self.book_subs and st.book is not None},
            "commands": self.cmd_seq,
            "md_reader": {"reopened": self.md.reopened, "gaps": self.md.gaps,
                          "duplicates": self.md.duplicates},
            "disconnects": self.bus.disconnects, "resends": self.resends,
        }


class _BusContext:
    """The StrategyContext of a strategy node (module docstring)."""

    def __init__(self, node: StrategyNode) -> None:
        self.node = node
        self.clock = node.clock

    def instrument(self, venue: str, symbol: str) -> Instrument:
        try:
            return self.node.instruments[(venue, symbol)]
        except KeyError:
            raise KeyError(f"no instrument {venue}:{symbol} is configured") from None

    def book(self, venue: str, symbol: str):
        key = (venue, symbol)
        return self.node.mirror.book(key) if key in self.node.seen else None

    def submit(self, order: Order) -> Order:
        n = self.node
        if order.client_order_id in n.orders:
            return n.orders[order.client_order_id]
        order.status = OrderStatus.SUBMITTED
        n.orders[order.client_order_id] = order
        n.send(lambda seq: SubmitCmd(n.name, seq, order))
        return order

    def cancel(self, client_order_id: str) -> None:
        n = self.node
        o = n.orders.get(client_order_id)
        if o is None:
            raise KeyError(f"unknown order {client_order_id!r}")
        if o.status in OPEN and o.status is not OrderStatus.PENDING_CANCEL:
            n.send(lambda seq: CancelCmd(n.name, seq, o.strategy_id, client_order_id))

    def position_lots(self, venue: str, symbol: str) -> int:
        return self.node.portfolio.lots(venue, symbol)

    def position(self, venue: str, symbol: str):
        return self.node.portfolio.positions.get((venue, symbol))

    def open_orders(self, strategy_id: str) -> list[Order]:
        return [o for o in self.node.orders.values()
                if o.strategy_id == strategy_id and o.status in OPEN]

    def trading_state(self) -> TradingState:
        return _STATES[self.node.state]

    def free_balance(self, venue: str, asset: str) -> float:
        return self.node.portfolio.balance(venue, asset)

    def bar(self, venue: str, symbol: str, ts_ns: int) -> tuple:
        raise KeyError(f"no candles on a strategy node ({venue}:{symbol}): candle backtests "
                       f"run in one process")
