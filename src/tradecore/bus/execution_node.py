"""The execution node: one per account. The risk gate, OMS, journal, portfolio and the paper
venue of the account live here and nowhere else; strategy nodes send it order commands and get
back order events, fills and the trading state.

It is the in-process TradingNode without strategies: the same constructor builds the gate, the
execution engine and the venues from the same config, and market data from the bus goes into
the same book and trade hooks (paper venue matching, marks, stops) that the in-process node
calls from its normalizers.

Lockstep (deterministic replay, docs/distributed.md): this node is the sequencer. For every md
message a strategy node reads, and after every timer (venue answer) or command that produced
events for a strategy node, it publishes `Ready` on the events subject and waits for each node
named in it to answer `Done` on the orders subject; the commands a node sent in that step come
before its Done and are applied in the order of the strategies in the config, with the clock
where the in-process engine's would be. Free-running (lockstep = false): commands are applied
as they arrive, events go out as they happen; faster, not reproducible.

Commands are de-duplicated by (node, cmd_seq) and the OMS refuses a client order id twice, so
a command delivered twice (a retried publish, a reader re-opened after a reconnect) is applied
once.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import defaultdict

from tradecore.bus import subjects
from tradecore.bus.codec import (BookMsg, BusDecodeError, CancelCmd, Done, EventMsg, ExecEnd,
                                 FeedEnd, OrderState, Ready, RiskMsg, StaleMsg, SubmitCmd,
                                 TradeMsg, decode, encode)
from tradecore.bus.mirror import APPLIED, BookMirror
from tradecore.bus.settings import BusSettings
from tradecore.bus.transport import Bus, StreamReader
from tradecore.config import NodeConfig
from tradecore.core.events import Problem
from tradecore.core.orders import OrderEvent

log = logging.getLogger("tradecore.bus.execution")


def strategy_reads(cfg: NodeConfig) -> dict[str, tuple[set, set]]:
    """strategy id -> (books, trades) it reads, from the strategies' own declarations (built
    here only to ask them; they never run in this process)."""
    from tradecore.engine import build_ml_signal, strategy_class
    out = {}
    for sc in cfg.strategies:
        s = build_ml_signal(sc.id, sc.settings) if sc.kind == "ml_signal" else \
            strategy_class(sc.kind)(sc.id, sc.settings)
        out[sc.id] = (set(s.books), set(s.trades))
    return out


class ExecutionNode:
    def __init__(self, cfg: NodeConfig, bus_cfg: BusSettings, bus: Bus | None = None) -> None:
        from tradecore.engine import TradingNode
        self.cfg = cfg
        self.bus_cfg = bus_cfg
        self.account = bus_cfg.account
        self.bus = bus or Bus(bus_cfg.url, f"execution-{self.account}",
                              bus_cfg.reconnect_wait_s)
        self.node = TradingNode(dataclasses.replace(cfg, strategies=()))
        self.mirror = BookMirror(self.node.instruments)
        venues = {v for v, _ in self.node.instruments}
        self.book_hooks = {v: self.node._book_hook(v) for v in venues}
        self.trade_hooks = {v: self.node._trade_hook(v) for v in venues}
        self.problem_hooks = {v: self.node._problem_hook(v) for v in venues}
        reads = strategy_reads(cfg)
        order = [sc.id for sc in cfg.strategies]
        self.owner: dict[str, str] = {}
        self.book_readers: dict[tuple, set[str]] = defaultdict(set)
        self.trade_readers: dict[tuple, set[str]] = defaultdict(set)
        for node, ids in bus_cfg.nodes.items():
            for sid in ids:
                self.owner[sid] = node
                for k in reads[sid][0]:
                    self.book_readers[k].add(node)
                for k in reads[sid][1]:
                    self.trade_readers[k].add(node)
        # commands of one step are applied node by node in the order of their first strategy
        self.node_rank = {n: min(order.index(i) for i in ids) for n, ids in bus_cfg.nodes.items()}
        for sid in self.owner:
            self.node.exec.subscribe(sid, lambda ev, sid=sid: self._on_event(sid, ev))
        self.out: list[tuple[str, bytes, str]] = []
        self.unconfirmed: list[tuple[str, bytes, str]] = []   # sent since the last sync ended
        self.resend_s = 1.0
        self.resends = 0
        self.event_seq = 0
        self.touched: set[str] = set()
        self.sync_id = 0
        self.cmd_seen: dict[str, int] = defaultdict(int)
        self.pending: dict[str, list] = defaultdict(list)
        self.done: dict[str, int] = {}
        self.problems: dict[str, int] = defaultdict(int)
        self.commands = 0
        self.commands_by_disconnects: dict[int, int] = defaultdict(int)   # proof of mid-run
        self.duplicate_commands = 0
        self.fills: list[tuple] = []
        self.risk_state = int(self.node.gate.state)
        self.md = StreamReader(self.bus, subjects.MD_STREAM)
        self.orders = StreamReader(self.bus, subjects.ORDERS_STREAM)

    # -- events out ------------------------------------------------------------------------
    def _on_event(self, sid: str, ev: OrderEvent) -> None:
        o = self.node.exec.oms.orders.get(ev.client_order_id)
        if ev.fill is not None:
            f = ev.fill
            self.fills.append((f.client_order_id, f.venue, f.symbol, int(f.side), f.qty,
                               f.price, f.fee, f.trade_id, f.ts_ns))
        self.event_seq += 1
        m = EventMsg(self.event_seq, self.node.clock.time_ns(), sid, ev,
                     OrderState.of(o) if o is not None else OrderState(
                         int(ev.status), 0, 0.0, 0.0, 0, ev.ts_ns, "", ev.reason))
        self.out.append((subjects.events(self.account), encode(m), f"ev-{self.event_seq}"))
        self.touched.add(self.owner[sid])

    def _risk_check(self) -> None:
        st = int(self.node.gate.state)
        if st != self.risk_state:
            self.risk_state = st
            self.event_seq += 1
            m = RiskMsg(self.event_seq, self.node.clock.time_ns(), st, "")
            self.out.append((subjects.risk(self.account), encode(m), f"ev-{self.event_seq}"))
            self.touched.update(self.bus_cfg.nodes)

    async def _flush(self) -> None:
        if self.out:
            items, self.out = self.out, []
            await self.bus.publish_many(items)

    # -- commands in -----------------------------------------------------------------------
    def _apply(self, cmd) -> None:
        self.commands += 1
        self.commands_by_disconnects[self.bus.disconnects] += 1
        if isinstance(cmd, SubmitCmd):
            self.node.on_submit()
            try:
                self.node.exec.submit(cmd.order)
            except Exception as e:        # a malformed order or a reused id: refused, counted
                self.problems[f"command:{type(e).__name__}"] += 1
                log.error("order command %s from %s refused: %s", cmd.order.client_order_id,
                          cmd.node, e)
        else:
            try:
                self.node.exec.cancel(cmd.client_order_id)
            except KeyError:
                self.problems["command:unknown_order"] += 1
        self._risk_check()

    def _take(self, data: bytes):
        try:
            return decode(data)
        except BusDecodeError as e:
            self.problems["bus:bad_message"] += 1
            log.error("dropped a message that is not a bus message: %s", e)
            return None

    def _command(self, m) -> None:
        """Buffer a command (lockstep) after the duplicate check."""
        if m.cmd_seq <= self.cmd_seen[m.node] or any(
                c.cmd_seq == m.cmd_seq for c in self.pending[m.node]):
            self.duplicate_commands += 1
            return
        self.pending[m.node].append(m)

    async def _sync(self, step: int, md: bool, nodes: set[str]) -> None:
        while True:
            self.sync_id += 1
            sid = self.sync_id
            self._risk_check()
            self.touched.clear()
            self.out.append((subjects.events(self.account), encode(Ready(
                step, sid, self.node.clock.time_ns(), self.event_seq, md, tuple(sorted(nodes)))),
                f"ready-{sid}"))
            items, self.out = self.out, []
            self.unconfirmed += items
            await self.bus.send(items)
            while any(self.done.get(n, 0) < sid for n in nodes):
                r = await self.orders.next(self.resend_s)
                if r is None:          # lost on the way (a server restart): say it again
                    self.resends += 1
                    await self.bus.send(self.unconfirmed)
                    continue
                m = self._take(r[2])
                if isinstance(m, (SubmitCmd, CancelCmd)):
                    self._command(m)
                elif isinstance(m, Done):
                    self.done[m.node] = max(self.done.get(m.node, 0), m.phase)
            self.unconfirmed = []      # every node named has seen all of it
            for n in sorted(nodes, key=self.node_rank.get):
                for c in self.pending.pop(n, ()):
                    self.cmd_seen[n] = c.cmd_seq
                    self._apply(c)
            if not self.touched:
                return
            nodes = set(self.touched)          # events from those commands: one more round
            md = False

    async def _advance(self, ts: int, step: int) -> None:
        clock = self.node.clock
        lock = self.bus_cfg.lockstep
        while (due := clock.next_due_ns) is not None and due <= ts:
            clock.advance_to(due)
            if lock and self.touched:
                await self._sync(step, False, set(self.touched))
        if ts > clock.time_ns():
            clock.advance_to(ts)

    # -- market data in --------------------------------------------------------------------
    def _md(self, m) -> set[str]:
        """Apply one md message; the strategy nodes that read it (empty: none, or dropped)."""
        if isinstance(m, BookMsg):
            if self.mirror.apply(m) != APPLIED:
                return set()
            key = (m.venue, m.symbol)
            self.book_hooks[m.venue](key, self.mirror.book(key))
            return self.book_readers.get(key, set())
        if isinstance(m, TradeMsg):
            self.trade_hooks[m.trade.venue](m.trade)
            return self.trade_readers.get((m.trade.venue, m.trade.symbol), set())
        if isinstance(m, StaleMsg):
            if self.mirror.stale(m):
                self.problem_hooks[m.venue](Problem(m.venue, m.symbol, m.reason))
                return self.book_readers.get((m.venue, m.symbol), set())
        return set()

    async def run(self) -> dict:
        await self.bus.connect()
        await self.bus.ensure_streams(fresh=False)
        self.node.start()
        lock = self.bus_cfg.lockstep
        stop = asyncio.Event()
        commands = None if lock else asyncio.create_task(self._free_commands(stop))
        end = None
        try:
            while end is None:
                r = await self.md.next(5.0)
                if r is None:
                    continue
                m = self._take(r[2])
                if m is None:
                    continue
                if isinstance(m, FeedEnd):
                    end = m
                    break
                ts = m.ts_ns if isinstance(m, StaleMsg) else m.rec_ns
                await self._advance(ts, m.gseq)
                readers = self._md(m)
                if lock and (readers or self.touched):
                    await self._sync(m.gseq, True, readers | self.touched)
                elif not lock:
                    self._risk_check()
                    await self._flush()
        finally:
            stop.set()
            if commands is not None:
                await commands
        # the end of the data: answers still in flight, then the strategies' on_stop
        clock = self.node.clock
        while (due := clock.next_due_ns) is not None:
            await self._advance(due, end.gseq)
        self.node.stop()
        if lock and self.touched:
            await self._sync(end.gseq, False, set(self.touched))
        self.out.append((subjects.events(self.account), encode(ExecEnd(
            clock.time_ns(), self.event_seq)), "exec-end"))
        await self._flush()
        result = self.result()
        await self.md.close()
        await self.orders.close()
        await self.bus.close()
        return result

    async def _free_commands(self, stop: asyncio.Event) -> None:
        """Free-running: commands applied as they arrive, beside the md loop (one thread: each
        is applied whole between two md messages)."""
        while not stop.is_set():
            r = await self.orders.next(0.1)
            if r is None:
                continue
            m = self._take(r[2])
            if isinstance(m, (SubmitCmd, CancelCmd)):
                if m.cmd_seq <= self.cmd_seen[m.node]:
                    self.duplicate_commands += 1
                    continue
                self.cmd_seen[m.node] = m.cmd_seq
                self._apply(m)
                await self._flush()

    def result(self) -> dict:
        oms = self.node.exec.oms
        s = self.node.summary()
        return {
            "orders": sorted([o.client_order_id, o.venue, o.symbol, int(o.side), int(o.type),
                              o.qty, o.price, o.status.name, o.filled_qty]
                             for o in oms.orders.values()),
            "fills": sorted(list(f) for f in self.fills),
            "commands": self.commands, "duplicate_commands": self.duplicate_commands,
            "commands_by_disconnects": dict(self.commands_by_disconnects),
            "realized_pnl": s["realized_pnl"], "fees": s["fees"],
            "book_updates": s["book_updates"], "trades": s["trades"],
            "problems": dict(self.problems) | s["problems"],
            "md_reader": {"reopened": self.md.reopened, "gaps": self.md.gaps,
                          "duplicates": self.md.duplicates},
            "disconnects": self.bus.disconnects, "resends": self.resends,
        }
