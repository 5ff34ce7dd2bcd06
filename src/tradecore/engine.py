"""The node: one configuration wired into a running system, the same for every mode.

    frame bytes -> normalizer -> L2Book -> paper venue (match) -> execution engine (marks,
    stops, gate mid) -> strategies -> [submit] risk gate -> OMS/journal -> venue

Everything on that line is a direct call made inside the normalizer's `on_book` callback: a
frame that leads to an order has produced the venue-bound order before `on_frame` returns.
Modes differ only in where frames come from and in the clock (DESIGN.md):

* paper/backtest over recordings: `merge_captures` of every feed's capture file in receive-time
  order; a `SimClock` is advanced to each record's receive time before it is handed over, which
  runs the paper venue's latency timers that fall due on the way, in time order. Paper mode
  replays at `speed` x real time on the uvloop loop (0 = as fast as it goes); backtest mode is
  the same replay without pacing and without the status line.
* paper --live: the venues' live public feeds (picows) into the same callbacks, with a
  `LiveClock`; orders still go to the paper venue.

The node is also the strategies' `StrategyContext` (strategies never see the engine's parts).
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import defaultdict
from pathlib import Path
from collections.abc import Callable
from typing import Any

import numpy as np

from tradecore.backtest.candles import CandleVenue, LookAheadError, load_candles
from tradecore._fast import arenas
from tradecore._fast.book import L2Book
from tradecore._fast.fanout import BookFanout
from tradecore.config import ConfigError, NodeConfig
from tradecore.core.clock import Clock, LiveClock, SimClock
from tradecore.core.events import Problem, Trade
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderEvent, OrderStatus, TradingState
from tradecore.data.capture import REST, WS, CaptureError, merge_captures
from tradecore.execution.engine import ExecutionEngine
from tradecore.execution.fill_model import LatencyModel
from tradecore.execution.journal import Journal, NullJournal
from tradecore.execution.order_layout import new_order, order_ids
from tradecore.execution.paper import PaperVenue
from tradecore.risk.gate import RiskGate
from tradecore.risk.limits import RiskLimits, SymbolLimits
from tradecore.strategies.base import Strategy
from tradecore.verify import normalizer_for

log = logging.getLogger("tradecore.engine")
BAR_BOOK_VOLUME_SHARE = 0.01     # of a bar's volume on each side of a bar book

# The cyclic garbage collector on the hot path (measured with `tradecore bench tick-to-order
# --gc`, docs/arbitrage.md). "off": disabled for the run (replays and backtests: finite, and the
# path makes no reference cycles; what is left is collected at the end). "live": everything
# alive once the node has started (modules, config, books, strategies, detectors) is moved by
# gc.freeze() to a permanent generation no collection scans again, and the young generation
# is collected every GC_LIVE_GEN0 allocations instead of every 700, so a collection is rare
# and only scans what the run made since (a live process cannot leave the collector off: the
# asyncio and WebSocket layers do make cycles). "default": Python's own settings.
# "live" also keeps Python's small-object arenas mapped and faulted in (_fast/arenas.pyx): a new
# arena's first use would otherwise page-fault on the path, one fault per page.
GC_POLICIES = ("off", "live", "default")
GC_LIVE_GEN0 = 50_000
# Paced paper and live runs retire the OMS's old terminal orders (run.retain_orders_s,
# OrderManager.retire) every RETIRE_EVERY_S of the clock, at most RETIRE_BATCH at a time
# (~0.2 ms of the loop at most), off the tick path: between records (paced paper) or as a task
# of its own on the event loop (live). Backtests keep every order (finite runs, read after).
RETIRE_EVERY_S = 5.0
RETIRE_BATCH = 2000
# The node's book hook is the compiled BookFanout (_fast/fanout.pxd); False: its Python
# reference, _book_hook_py (tests compare the two over whole replays).
COMPILED_BOOK_HOOK = True

STRATEGY_KINDS: dict[str, str] = {
    "cross_exchange": "tradecore.strategies.arb.cross:CrossExchangeArbitrage",
    "triangular": "tradecore.strategies.arb.triangular:TriangularArbitrage",
    "pairs": "tradecore.strategies.stat.strategy:PairsTrading",
}


def build_ml_signal(sid: str, settings: dict, base_dir: Path | None = None) -> Strategy:
    """`kind = "ml_signal"`: a registered model behind its feature source. settings: registry
    (directory), model ("champion" or a model id), features (the model's feature-source config,
    as in `ml train`'s [features]), markets ([[venue, symbol], ...]); the rest is
    MLSignalStrategy's own config. The registry refuses a model whose feature schema differs
    from this feature source's (ModelRegistry.check_schema)."""
    from tradecore.ml.features import feature_source_from_config, schema_of
    from tradecore.ml.registry import ModelRegistry, RegistryError
    from tradecore.strategies.ml_signal import MLSignalStrategy
    cfg = dict(settings)
    try:
        root = Path(cfg.pop("registry"))
        markets = tuple(tuple(m) for m in cfg.pop("markets"))
    except KeyError as e:
        raise ConfigError(f"strategies {sid!r} (ml_signal): setting {e.args[0]!r} is "
                          f"required") from None
    which = cfg.pop("model", "champion")
    features = feature_source_from_config(cfg.pop("features", None))
    reg = ModelRegistry(root)
    model_id = reg.champion() if which == "champion" else which
    if not model_id:
        raise ConfigError(f"strategies {sid!r} (ml_signal): registry {root} has no champion")
    try:
        model = reg.load(model_id, schema_of(features))
    except RegistryError as e:
        raise ConfigError(f"strategies {sid!r} (ml_signal): {e}") from None
    return MLSignalStrategy(sid, cfg, model=model, features=features, markets=markets)


def strategy_class(kind: str) -> type[Strategy]:
    import importlib
    if kind not in STRATEGY_KINDS:
        raise ConfigError(f"strategy kind {kind!r}: expected one of "
                          f"{sorted(STRATEGY_KINDS) + ['ml_signal']}")
    module, _, name = STRATEGY_KINDS[kind].partition(":")
    return getattr(importlib.import_module(module), name)


class Stats:
    """What the status line and the run summary show."""

    def __init__(self) -> None:
        self.messages = 0
        self.book_updates = 0
        self.trades = 0
        self.orders = 0
        self.denied = 0
        self.fills = 0
        self.problems: dict[str, int] = defaultdict(int)
        self.frame_ns: list[int] = []          # every frame: bytes in -> all callbacks done
        self.order_frame_ns: list[int] = []    # frames that produced >= 1 order: tick to order

    def percentile(self, xs: list[int], q: float) -> float:
        return float(np.percentile(np.asarray(xs[-100_000:]), q)) if xs else float("nan")


class TradingNode:
    """Build with `TradingNode(config)`; run with `run_replay()` (paper/backtest over
    recordings) or `await run_live()`."""

    def __init__(self, cfg: NodeConfig, *, live: bool = False,
                 clock: Clock | None = None,
                 venue_factory: Callable[..., Any] | None = None) -> None:
        self.cfg = cfg
        self.live = live
        self.clock: Clock = clock or (LiveClock() if live else SimClock(0))
        self.stats = Stats()
        self.instruments: dict[tuple[str, str], Instrument] = {
            (i.venue, i.symbol): Instrument(i.venue, i.symbol, i.tick, i.lot, i.base, i.quote,
                                            i.min_qty, i.min_notional, i.maker_fee, i.taker_fee)
            for i in cfg.instruments}
        self.gate = self._build_gate()
        self.journal = Journal(cfg.journal) if cfg.journal is not None else NullJournal()
        latency = LatencyModel(order_ns=cfg.latency_order_us * 1000,
                               ack_ns=cfg.latency_ack_us * 1000)
        # the venue each order goes to: the paper venue (paper, backtest), or what the caller
        # builds (the tick-to-order benchmark's serializing venue, a live venue client)
        candle_venues = {f.venue for f in cfg.feeds if f.candles is not None}

        def default_venue(name, clock, insts):
            if name in candle_venues:
                return CandleVenue(name, clock, insts)
            return PaperVenue(name, clock, insts, latency)
        make = venue_factory or default_venue
        self.candle_based = bool(candle_venues)
        self.candles: dict[tuple[str, str], Any] = {}        # (venue, symbol) -> Candles
        self._bar_index: dict[tuple[str, str], int] = {}    # last closed bar per series
        self._bar_books: dict[int, Any] = {}
        self._bar_hooks: dict[int, Callable] = {}
        self.venues: dict[str, Any] = {}
        for (venue, sym) in self.instruments:
            if venue not in self.venues:
                insts = {s: i for (v, s), i in self.instruments.items() if v == venue}
                self.venues[venue] = make(venue, self.clock, insts)
        self.exec = ExecutionEngine(self.gate, dict(self.venues), self.journal, self.clock,
                                    self.instruments, on_problem=self._on_exec_problem)
        self.exec.add_listener(self._on_order_event)
        for key, amount in cfg.balances.items():
            venue, _, asset = key.partition(":")
            self.exec.set_balance(venue, asset, amount)
        self.initial_equity = sum(a for k, a in cfg.balances.items()
                                  if k.partition(":")[2] == cfg.quote)
        self.books: dict[tuple[str, str], Any] = {}
        self.book_subs: dict[tuple[str, str], list[Strategy]] = defaultdict(list)
        self.trade_subs: dict[tuple[str, str], list[Strategy]] = defaultdict(list)
        self.strategies: list[Strategy] = []
        for sc in cfg.strategies:
            try:
                if sc.kind == "ml_signal":
                    s = build_ml_signal(sc.id, sc.settings)
                else:
                    s = strategy_class(sc.kind)(sc.id, sc.settings)
            except ValueError as e:
                raise ConfigError(f"strategies {sc.id!r} ({sc.kind}): {e}") from None
            self.add_strategy(s)
        self.normalizers = {}
        for f in cfg.feeds:
            n = normalizer_for(f.exchange)
            n.on_book = self._book_hook(f.venue)
            n.on_trade = self._trade_hook(f.venue)
            n.on_problem = self._problem_hook(f.venue)
            self.normalizers[f.venue] = n
        self.listeners: list[Callable[[Order, OrderEvent], None]] = []
        self._orders_in_frame = 0

    # -- construction ---------------------------------------------------------------------
    def _build_gate(self) -> RiskGate:
        try:
            limits = RiskLimits(**self.cfg.risk)
        except TypeError as e:
            raise ConfigError(f"config section [risk]: {e}; the keys are the fields of "
                              f"tradecore.risk.limits.RiskLimits") from None
        except ValueError as e:
            raise ConfigError(f"config section [risk]: {e}") from None
        gate = RiskGate(limits, self.clock)
        for key, inst in self.instruments.items():
            raw = self.cfg.symbol_limits.get(f"{key[0]}:{key[1]}")
            try:
                sl = SymbolLimits(**raw) if raw is not None else None
            except (TypeError, ValueError) as e:
                raise ConfigError(f"config section [risk.symbols.'{key[0]}:{key[1]}']: {e}"
                                  ) from None
            gate.add_instrument(inst, sl)
        unknown = set(self.cfg.symbol_limits) - {f"{v}:{s}" for v, s in self.instruments}
        if unknown:
            raise ConfigError(f"config section [risk.symbols]: {sorted(unknown)} are not "
                              f"configured instruments")
        return gate

    def add_strategy(self, s: Strategy) -> None:
        for key in s.books:
            if key not in self.instruments:
                raise ConfigError(f"strategy {s.strategy_id!r} reads {key[0]}:{key[1]}, which "
                                  f"is not a configured instrument")
            self.book_subs[key].append(s)
        for key in s.trades:
            self.trade_subs[key].append(s)
        s.bind(_Context(self))
        self.exec.subscribe(s.strategy_id, s.on_order_event)
        self.strategies.append(s)

    # -- market data path ---------------------------------------------------------------
    def _book_hook(self, venue: str):
        paper = getattr(self.venues.get(venue), "on_book", None)
        if COMPILED_BOOK_HOOK:
            mids, positions, mark, protected, on_protected, clock_ns, target = \
                self.exec.book_parts()
            return BookFanout(venue, self.stats, self.books, paper, self.book_subs,
                              self._strategy_error, mids, positions, mark, protected,
                              on_protected, clock_ns, target).on_book
        return self._book_hook_py(venue, paper)

    def _book_hook_py(self, venue: str, paper):
        """The book hook in Python: the reference of _fast/fanout.pxd's BookFanout."""
        exec_on_book = self.exec.on_book_key
        subs = self.book_subs
        books = self.books
        stats = self.stats

        vkeys: dict[str, tuple[str, str]] = {}      # symbol -> (venue, symbol), made once

        def on_book(key, book) -> None:
            symbol = key[1]
            stats.book_updates += 1
            vk = vkeys.get(symbol)
            if vk is None:
                vk = vkeys[symbol] = (venue, symbol)
            books[vk] = book
            if paper is not None:
                paper(symbol, book)
            exec_on_book(vk, book)
            for s in subs.get(vk, ()):
                try:
                    s.on_book(venue, symbol, book)
                except Exception as e:   # one strategy's bug must not stop the feed
                    self._strategy_error(s, "on_book", e)
        return on_book

    def _trade_hook(self, venue: str):
        paper = getattr(self.venues.get(venue), "on_trade", None)
        exec_on_trade = self.exec.on_trade
        subs = self.trade_subs
        stats = self.stats

        def on_trade(trade: Trade) -> None:
            stats.trades += 1
            symbol = trade.symbol
            if paper is not None:
                paper(symbol, trade)
            exec_on_trade(venue, symbol, trade)
            ss = subs.get((venue, symbol))
            if ss:
                for s in ss:
                    try:
                        s.on_trade(trade)
                    except Exception as e:
                        self._strategy_error(s, "on_trade", e)
        return on_trade

    def _problem_hook(self, venue: str):
        def on_problem(p: Problem) -> None:
            self.stats.problems[f"{venue}:{p.reason}"] += 1
            for s in self.book_subs.get((venue, p.symbol), ()):
                s.on_book_stale(venue, p.symbol, p.reason)
        return on_problem

    def _strategy_error(self, s: Strategy, where: str, e: Exception) -> None:
        key = f"strategy:{s.strategy_id}:{where}:{type(e).__name__}"
        if key not in self.stats.problems:
            log.error("strategy %s raised in %s: %r (further errors of this kind are counted)",
                      s.strategy_id, where, e)
        self.stats.problems[key] += 1

    def _on_exec_problem(self, p: Problem) -> None:
        self.stats.problems[f"execution:{p.reason}"] += 1

    def _on_order_event(self, order: Order, ev: OrderEvent) -> None:
        st = ev.status
        if st == OrderStatus.DENIED:
            self.stats.denied += 1
        if ev.fill is not None:
            self.stats.fills += 1
        for fn in self.listeners:
            fn(order, ev)

    def on_submit(self) -> None:
        """Count a strategy's order (the bus's execution node; _Context.submit inlines it)."""
        self.stats.orders += 1
        self._orders_in_frame += 1

    # -- running over recordings ----------------------------------------------------------
    def feed_record(self, venue: str, kind: str, payload: bytes, conn: str, ts_ns: int,
                    src: str = "") -> None:
        """One recorded message, as the live feed would hand it over (timed)."""
        n = self.normalizers[venue]
        self._orders_in_frame = 0
        t0 = time.perf_counter_ns()
        if kind == WS:
            n.on_frame(payload, conn, ts_ns)
        elif kind == REST:
            n.on_rest(payload, conn, ts_ns, src)
        else:
            return
        dt = time.perf_counter_ns() - t0
        self.stats.messages += 1
        self.stats.frame_ns.append(dt)
        if self._orders_in_frame:
            self.stats.order_frame_ns.append(dt)

    def records(self):
        files = {f.venue: f.capture for f in self.cfg.feeds}

        def bad(e: CaptureError) -> None:
            self.stats.problems["capture:unreadable_line"] += 1
        return merge_captures(files, on_error=bad)

    def start(self) -> None:
        for s in self.strategies:
            s.on_start()

    def retire_orders(self) -> int:
        """Forget the terminal orders older than run.retain_orders_s (0: keep all); returns
        how many (OrderManager.retire)."""
        keep = self.cfg.retain_orders_s
        if keep <= 0:
            return 0
        n = self.exec.oms.retire(self.clock.time_ns() - int(keep * 1e9), RETIRE_BATCH)
        self.exec.compact_orders()          # room for the next orders, off the tick path too
        return n

    async def _retire_every(self) -> None:
        while True:
            await asyncio.sleep(RETIRE_EVERY_S)
            self.retire_orders()

    @contextlib.contextmanager
    def gc_policy(self, policy: str):
        """The collector's policy for the hot path while the block runs (GC_POLICIES)."""
        if policy not in GC_POLICIES:
            raise ValueError(f"gc policy {policy!r}: expected one of {GC_POLICIES}")
        was_enabled, threshold = gc.isenabled(), gc.get_threshold()
        if policy == "off":
            gc.disable()
        elif policy == "live":
            arenas.install()            # first: if it cannot map its cache, nothing changed
            gc.collect()
            gc.freeze()
            gc.set_threshold(GC_LIVE_GEN0, threshold[1], threshold[2])
        try:
            yield
        finally:
            if policy == "live":
                arenas.uninstall()
                gc.set_threshold(*threshold)
                gc.unfreeze()
            if was_enabled:
                gc.enable()

    def stop(self) -> None:
        if isinstance(self.clock, SimClock):
            self.clock.run_all()       # answers still in flight at the end of the data
        for v in self.venues.values():
            end = getattr(v, "end_of_data", None)
            if end is not None:
                end()
        for s in self.strategies:
            try:
                s.on_stop()
            except Exception as e:
                self._strategy_error(s, "on_stop", e)
        self.journal.close()

    def run_replay(self, *, on_record: Callable[[int], None] | None = None,
                   limit: int | None = None) -> None:
        """The whole recording, as fast as it goes (backtest; paper with speed 0)."""
        clock = self.clock
        assert isinstance(clock, SimClock), "replay needs a SimClock"
        self.start()
        feed = self.feed_record
        try:
            with self.gc_policy("off"):     # a finite replay that makes no cycles
                for i, (venue, rec) in enumerate(self.records()):
                    if limit is not None and i >= limit:
                        break
                    if rec.ts_ns > clock.time_ns():
                        clock.advance_to(rec.ts_ns)
                    feed(venue, rec.kind, rec.payload, rec.conn, rec.ts_ns, rec.src)
                    if on_record is not None:
                        on_record(rec.ts_ns)
        finally:
            self.stop()

    async def run_replay_paced(self, speed: float,
                               on_record: Callable[[int], None] | None = None,
                               limit: int | None = None) -> None:
        """Paper mode over a recording at `speed` x real time, on the running loop."""
        clock = self.clock
        assert isinstance(clock, SimClock)
        self.start()
        t_wall0 = time.monotonic()
        t_rec0 = None
        every = int(RETIRE_EVERY_S * 1e9)
        retire_at = clock.time_ns() + every
        try:
            with self.gc_policy("live"):    # on the event loop: the collector stays on
                for i, (venue, rec) in enumerate(self.records()):
                    if limit is not None and i >= limit:
                        break
                    if t_rec0 is None:
                        t_rec0 = rec.ts_ns
                    due = (rec.ts_ns - t_rec0) / 1e9 / speed if speed > 0 else 0.0
                    wait = due - (time.monotonic() - t_wall0)
                    if wait > 0.002:
                        await asyncio.sleep(wait)
                    elif i % 512 == 0:
                        await asyncio.sleep(0)     # let the status line and the API run
                    if rec.ts_ns > clock.time_ns():
                        clock.advance_to(rec.ts_ns)
                        if rec.ts_ns >= retire_at:
                            self.retire_orders()
                            retire_at = rec.ts_ns + every
                    self.feed_record(venue, rec.kind, rec.payload, rec.conn, rec.ts_ns,
                                     rec.src)
                    if on_record is not None:
                        on_record(rec.ts_ns)
        finally:
            self.stop()

    # -- candles (candle-based backtests) -------------------------------------------------
    def load_candles(self) -> None:
        for f in self.cfg.feeds:
            if f.candles is not None:
                self.candles[(f.venue, f.symbols[0])] = load_candles(f.candles)

    def run_candles(self, *, on_record: Callable[[int], None] | None = None,
                    bar_books: bool = False) -> None:
        """Every bar of every candle feed at its close time, in time order (module docstring of
        backtest/candles.py): the venue fills what was working with the new bar, marks and the
        gate's mid move to its close, then the strategies see the closed bar.

        bar_books: also give book-driven strategies (the arbitrage detectors) a one-level book
        per bar: bid at the close rounded down to the tick, ask one tick above, each side
        holding `BAR_BOOK_VOLUME_SHARE` of the bar's volume. It is a model, not a recording
        (no candle says what the book was); it lets a book strategy run over years of bars,
        with the candle venue's conservative next-bar fills, and the report says candle-based."""
        if not self.candles:
            self.load_candles()
        clock = self.clock
        assert isinstance(clock, SimClock), "candle backtests need a SimClock"
        keys = list(self.candles)
        closes = np.concatenate([c.ts_ns + c.interval_ns for c in self.candles.values()])
        feed = np.concatenate([np.full(len(c), k, np.int32)
                               for k, c in enumerate(self.candles.values())])
        bar = np.concatenate([np.arange(len(c)) for c in self.candles.values()])
        order = np.lexsort((feed, closes))
        series = [self.candles[k] for k in keys]
        cols = [(c.ts_ns.tolist(), c.open.tolist(), c.high.tolist(), c.low.tolist(),
                 c.close.tolist(), c.volume.tolist()) for c in series]
        venues = [self.venues[k[0]] for k in keys]
        insts = [self.instruments.get(k) for k in keys]
        self.start()
        try:
            for j in order.tolist():
                f, i = int(feed[j]), int(bar[j])
                venue, symbol = keys[f]
                t_close = int(closes[j])
                if t_close > clock.time_ns():
                    clock.advance_to(t_close)
                ts, o, h, lo, c, v = (col[i] for col in cols[f])
                self._bar_index[keys[f]] = i
                on_bar = getattr(venues[f], "on_bar", None)
                if on_bar is not None:
                    on_bar(symbol, o, h, lo, c, v)
                self.stats.messages += 1
                if insts[f] is not None:
                    self.gate.update_mid(venue, symbol, c, t_close)
                    self.exec.portfolio.mark(venue, symbol, c)
                    t = insts[f].ticks_near(c)
                    self.exec.protection.on_market(venue, symbol, t, t)
                if bar_books and insts[f] is not None:
                    self._bar_book(f, keys[f], insts[f], c, v, t_close)
                for s in self.book_subs.get((venue, symbol), ()):
                    try:
                        s.on_bar(venue, symbol, ts, o, h, lo, c, v)
                    except LookAheadError as e:
                        self.stats.problems[f"lookahead:{s.strategy_id}"] += 1
                        log.error("strategy %s looked ahead: %s", s.strategy_id, e)
                    except Exception as e:
                        self._strategy_error(s, "on_bar", e)
                if on_record is not None:
                    on_record(t_close)
        finally:
            self.stop()

    def _bar_book(self, f: int, key: tuple[str, str], inst: Instrument, close: float,
                  volume: float, ts: int) -> None:
        book = self._bar_books.get(f)
        if book is None:
            book = self._bar_books[f] = L2Book(inst.tick, inst.lot)
            self._bar_hooks[f] = self._book_hook(key[0])
        t = inst.ticks_near(close)
        q = max(1, inst.lots_near(volume * BAR_BOOK_VOLUME_SHARE))
        book.clear()
        book.apply_sides([(inst.price_text(t), inst.qty_text(q))],
                         [(inst.price_text(t + 1), inst.qty_text(q))])
        book.valid = True
        book.ts_ns = ts
        self._bar_hooks[f](("bars", key[1]), book)

    def bar(self, venue: str, symbol: str, ts_ns: int) -> tuple:
        """(open time, o, h, l, c, v) of the bar that opened at ts_ns, if it has closed;
        LookAheadError when it has not (or is later than the clock)."""
        c = self.candles.get((venue, symbol))
        if c is None:
            raise KeyError(f"no candles for {venue}:{symbol}")
        if ts_ns + c.interval_ns > self.clock.time_ns():
            raise LookAheadError(f"{venue}:{symbol} bar opening at {ts_ns} closes at "
                                 f"{ts_ns + c.interval_ns}, after the clock "
                                 f"{self.clock.time_ns()}")
        i = int(np.searchsorted(c.ts_ns, ts_ns))
        if i >= len(c) or int(c.ts_ns[i]) != ts_ns:
            raise KeyError(f"{venue}:{symbol} has no bar opening at {ts_ns}")
        return (ts_ns, float(c.open[i]), float(c.high[i]), float(c.low[i]),
                float(c.close[i]), float(c.volume[i]))

    # -- live public feeds (paper --live) -------------------------------------------------
    async def run_live(self, seconds: float | None = None, *,
                       before_stop: Callable[[], Any] | None = None) -> None:
        """The venues' live public feeds (or the endpoints the config overrides, e.g. the
        local simulator) into the same hooks; until `seconds` have passed (None: until
        cancelled). `before_stop` (a coroutine function) runs after the feeds stop and before
        the strategies stop and the journal closes (live order entry: cancel and close the
        venue clients while answers can still be journaled)."""
        from tradecore.live_record import _feed
        feeds, rests = [], []
        for f in self.cfg.feeds:
            feed, rest = _feed(f.exchange, list(f.symbols), f.market, f.ws_url or None,
                               f.rest_url or None, self._trade_hook(f.venue))
            n = feed.normalizer
            n.on_book = self._book_hook(f.venue)
            n.on_problem = self._problem_hook(f.venue)
            self.normalizers[f.venue] = n
            feeds.append(feed)
            rests.append(rest)
        self.start()
        tasks = [asyncio.create_task(f.run(), name=f"feed-{f}") for f in feeds]
        retiring = asyncio.create_task(self._retire_every(), name="retire-orders")
        try:
            with self.gc_policy("live"):
                if seconds is None:
                    await asyncio.gather(*tasks)
                else:
                    await asyncio.sleep(seconds)
        finally:
            retiring.cancel()
            for f in feeds:
                f.stop()
            await asyncio.gather(*tasks, retiring, return_exceptions=True)
            for r in rests:
                if r is not None and hasattr(r, "close"):
                    await r.close()
            try:
                if before_stop is not None:
                    await before_stop()
            finally:
                self.stop()

    # -- results --------------------------------------------------------------------------
    def equity(self) -> float:
        p = self.exec.portfolio
        return self.initial_equity + p.realized_pnl() + p.unrealized_pnl()

    def summary(self) -> dict[str, Any]:
        st = self.stats
        counters: dict[str, dict[str, int]] = {s.strategy_id: dict(s.counters)
                                               for s in self.strategies}
        return {
            "messages": st.messages, "book_updates": st.book_updates, "trades": st.trades,
            "orders": st.orders, "denied": st.denied, "fills": st.fills,
            "denials": {r.name: n for r, n in self.gate.denials.items() if n},
            "realized_pnl": self.exec.portfolio.realized_pnl(),
            "unrealized_pnl": self.exec.portfolio.unrealized_pnl(),
            "fees": self.exec.portfolio.fees(),
            "equity": self.equity(), "initial_equity": self.initial_equity,
            "frame_p50_ns": st.percentile(st.frame_ns, 50),
            "frame_p99_ns": st.percentile(st.frame_ns, 99),
            "tick_to_order_p50_ns": st.percentile(st.order_frame_ns, 50),
            "tick_to_order_p99_ns": st.percentile(st.order_frame_ns, 99),
            "problems": dict(st.problems), "strategies": counters,
            "trading_state": TradingState(self.gate.state).name,
        }


_STATES = tuple(TradingState)


class _Context:
    """The StrategyContext the node gives each strategy."""

    __slots__ = ("node", "clock", "_submit", "_exec", "_kernel")
    # the compiled order maker and id sequences (StrategyContext's optional two)
    new_order = new_order
    order_ids = staticmethod(order_ids)

    def __init__(self, node: TradingNode) -> None:
        self.node = node
        self.clock = node.clock
        self._exec = node.exec
        self._submit = node.exec.submit
        self._kernel = node.gate.kernel          # its int `state`: no enum round trips

    def instrument(self, venue: str, symbol: str) -> Instrument:
        try:
            return self.node.instruments[(venue, symbol)]
        except KeyError:
            raise KeyError(f"no instrument {venue}:{symbol} is configured") from None

    def book(self, venue: str, symbol: str):
        return self.node.books.get((venue, symbol))

    def submit(self, order: Order) -> Order:
        node = self.node                 # node.on_submit() inlined: a frame fewer an order
        node.stats.orders += 1
        node._orders_in_frame += 1
        return self._submit(order)

    def cancel(self, client_order_id: str) -> None:
        self._exec.cancel(client_order_id)

    def position_lots(self, venue: str, symbol: str) -> int:
        return self._exec.portfolio.lots(venue, symbol)

    def position(self, venue: str, symbol: str):
        return self._exec.portfolio.positions.get((venue, symbol))

    def open_orders(self, strategy_id: str) -> list[Order]:
        return [o for o in self._exec.oms.open_orders() if o.strategy_id == strategy_id]

    def trading_state(self) -> TradingState:
        return _STATES[self._kernel.state]

    def free_balance(self, venue: str, asset: str) -> float:
        return self._exec.portfolio.balance(venue, asset)

    def bar(self, venue: str, symbol: str, ts_ns: int) -> tuple:
        """A closed candle (candle-based runs); LookAheadError for one not closed yet."""
        return self.node.bar(venue, symbol, ts_ns)
