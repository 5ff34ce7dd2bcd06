"""The paper venue: matches our orders against a real (live or replayed) order book.

Paper mode and backtests use this same code (DESIGN: live/paper/backtest parity); only the
Clock differs (LiveClock or SimClock). The rules are in docs/paper-venue.md; in short:

* Orders and cancels reach the matching engine `latency.order_ns` / `cancel_delay_ns` after
  `submit`/`cancel` (Clock timers); every answer reaches the listener `latency.ack_ns` after the
  venue acted. One connection is one ordered stream: jitter never reorders messages, and all
  answers of one venue action are delivered together, in order, by one timer.
* Taker fills walk the book level by level (one Fill per level). Liquidity we took is remembered
  per level until the next `on_book` (a new book state), so two orders arriving between two
  book updates do not both take the same displayed quantity.
* Resting orders carry a queue estimate (`ahead`, lots displayed in front of them when they
  arrived), reduced by trades at their price and by level decreases per the queue model
  (fill_model.py). They fill as maker when trades exhaust the queue ahead, when a trade prints
  through their price, or when the book's opposite side reaches their price.
* Our orders are virtual: they never change the book, and never match each other.

Cost when nothing is touched: `on_book` keeps per symbol the highest resting buy and lowest
resting sell in the book's ticks and does nothing else unless the book's top reaches them
(benchmarks/bench_paper.py measures it). Orders strictly behind the touch are therefore not
looked at on book updates (see docs: queue estimates of deep orders are sampled when they reach
the touch, which only errs on the conservative side for the default risk-averse model).

Prices of orders and fills are ticks of the order's Instrument, book levels ticks of the book;
the two grids may differ (e.g. a book built from text with fewer decimals): conversions are
exact rationals; a book price that is not on the instrument's grid is rounded against us.
Deterministic: no wall clock, no unseeded randomness; fill ids are `<venue>-<n>` in order.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from tradecore.book import L2Book
from tradecore.core.clock import Clock
from tradecore.core.events import BUY, SELL, Trade
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from tradecore.execution.fill_model import LatencyModel, QueueModel, RiskAverseQueue
from tradecore.execution.venue import VenueClient, VenueListener, VenueOrderState

__all__ = ["PaperVenue", "LatencyModel", "TRIGGER_ON_TRADE", "TRIGGER_ON_MID"]

TRIGGER_ON_TRADE = "trade"      # stops/take-profits compare the last trade price
TRIGGER_ON_MID = "mid"          # ... or the book's mid after every book update

_NEG = -(1 << 62)               # "no bid" / "no resting buy" sentinels in book ticks
_POS = 1 << 62

_STOPS = frozenset({OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT,
                    OrderType.TAKE_PROFIT_LIMIT, OrderType.TRAILING_STOP})
_PRICED = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT_LIMIT})


class _Working:
    """The venue's own copy of an order (the OMS owns the Order object; we never touch it)."""

    __slots__ = ("cid", "symbol", "side", "type", "orig_type", "qty", "price", "trigger", "tif",
                 "post_only", "expire_ns", "trail", "voi", "filled", "status", "seq", "bk_lo",
                 "bk_hi", "ahead", "level", "traded", "mark", "expire_handle")

    def __init__(self, o: Order) -> None:
        self.cid = o.client_order_id
        self.symbol = o.symbol
        self.side = int(o.side)
        self.type = OrderType(o.type)          # becomes MARKET/LIMIT when a stop triggers
        self.orig_type = self.type
        self.qty = int(o.qty)
        self.price = int(o.price)
        self.trigger = int(o.trigger_price)
        self.tif = TimeInForce(o.tif)
        self.post_only = bool(o.post_only)
        self.expire_ns = int(o.expire_ns)
        self.trail = int(o.trail_ticks)
        self.voi = ""
        self.filled = 0
        self.status = OrderStatus.SUBMITTED
        self.seq = 0
        self.bk_lo = self.bk_hi = 0       # floor/ceil of price in the book's ticks
        self.ahead = float("inf")         # lots (instrument) displayed ahead of us
        self.level = -1.0                 # the level's displayed lots when last sampled
                                          # (-1: never; 0 for a price between book ticks)
        self.traded = 0.0                 # lots traded at our price since the last sample
        self.mark: float | None = None    # trailing stop watermark (instrument ticks)
        self.expire_handle: object = None

    @property
    def leaves(self) -> int:
        return self.qty - self.filled


class _Sym:
    """Per-symbol matching state."""

    __slots__ = ("inst", "book", "tnum", "tden", "lnum", "lden", "lot_f", "inv_tick", "inv_lot",
                 "buys", "sells", "stops", "hi_buy", "lo_sell", "hi_buy_in", "lo_sell_in",
                 "watch", "watch_mid", "consumed", "last_trade", "grid", "mid_mode")

    def __init__(self, inst: Instrument, mid_mode: bool) -> None:
        self.inst = inst
        self.mid_mode = mid_mode
        self.book: L2Book | None = None
        self.grid: tuple | None = None
        self.tnum = self.tden = self.lnum = self.lden = 1
        self.lot_f = 1.0
        self.inv_tick = 1.0 / inst.tick_size
        self.inv_lot = 1.0 / inst.lot_size
        self.buys: list[_Working] = []        # resting, best (highest) first, then by arrival
        self.sells: list[_Working] = []       # resting, best (lowest) first, then by arrival
        self.stops: list[_Working] = []       # not yet triggered, by arrival
        self.hi_buy = _NEG - 1                # max bk_lo of resting buys (book ticks)
        self.lo_sell = _POS + 1               # min bk_hi of resting sells
        self.hi_buy_in = -1                   # the same in instrument ticks (for trades)
        self.lo_sell_in = _POS
        self.watch = False
        self.watch_mid = False
        self.consumed: dict[tuple[int, int], int] = {}   # (book side, ticks) -> book lots taken
        self.last_trade: str | None = None    # last trade price text (trigger reference)

    def attach(self, book: L2Book) -> None:
        """A new book object: (re)compute the grid ratios when its grid differs."""
        self.book = book
        grid = (book.tick_units, book.price_decimals, book.lot_units, book.size_decimals)
        if grid == self.grid:
            return
        self.grid = grid
        btick = Fraction(book.tick_units, 10 ** book.price_decimals)
        blot = Fraction(book.lot_units, 10 ** book.size_decimals)
        r = Fraction(Decimal(self.inst.tick)) / btick       # instrument tick in book ticks
        q = blot / Fraction(Decimal(self.inst.lot))         # book lot in instrument lots
        self.tnum, self.tden = r.numerator, r.denominator
        self.lnum, self.lden = q.numerator, q.denominator
        self.lot_f = float(q)
        for w in self.buys + self.sells:
            self.place(w)
        self.rethreshold()

    def place(self, w: _Working) -> None:
        """The book-tick bounds of a resting order's price."""
        n = w.price * self.tnum
        w.bk_lo = n // self.tden
        w.bk_hi = -(-n // self.tden)

    def price_ticks(self, text: str) -> float:
        """A trade price in instrument ticks: an int when on the grid (exact comparisons with
        order prices), else the float between two ticks."""
        x = float(text) * self.inv_tick
        n = round(x)
        return n if abs(x - n) <= 1e-9 * (abs(x) + 1.0) else x

    def to_inst_ticks(self, bk: int, up: bool) -> int:
        n = bk * self.tden
        return -(-n // self.tnum) if up else n // self.tnum

    def rethreshold(self) -> None:
        attached = self.book is not None
        # a buy is at or better than the touch when best bid <= bk_lo (on the grid: at its
        # level; between two book ticks: above the best bid); a sell when best ask >= bk_hi
        self.hi_buy = self.buys[0].bk_lo if self.buys and attached else _NEG - 1
        self.lo_sell = self.sells[0].bk_hi if self.sells and attached else _POS + 1
        self.hi_buy_in = self.buys[0].price if self.buys else -1
        self.lo_sell_in = self.sells[0].price if self.sells else _POS
        self.watch_mid = self.mid_mode and bool(self.stops)
        self.watch = bool(self.buys or self.sells) or self.watch_mid


class PaperVenue(VenueClient):
    """A simulated venue over real books (module docstring; docs/paper-venue.md)."""

    def __init__(self, name: str, clock: Clock, instruments: dict[str, Instrument],
                 latency: LatencyModel | None = None, queue_model: QueueModel | None = None,
                 *, trigger_on: str = TRIGGER_ON_TRADE) -> None:
        if trigger_on not in (TRIGGER_ON_TRADE, TRIGGER_ON_MID):
            raise ValueError(f"PaperVenue {name!r}: trigger_on must be "
                             f"{TRIGGER_ON_TRADE!r} or {TRIGGER_ON_MID!r}, got {trigger_on!r}")
        for sym, inst in instruments.items():
            if inst.venue != name or inst.symbol != sym:
                raise ValueError(f"PaperVenue {name!r}: instrument under key {sym!r} is "
                                 f"{inst.venue}:{inst.symbol}; expected {name}:{sym}")
        self.name = name
        self._clock = clock
        self._latency = latency or LatencyModel()
        self._queue = queue_model or RiskAverseQueue()
        self._trigger_on = trigger_on
        self._rng = random.Random(self._latency.seed)
        self._syms = {sym: _Sym(inst, trigger_on == TRIGGER_ON_MID)
                      for sym, inst in instruments.items()}
        self._listener: VenueListener | None = None
        self._open: dict[str, _Working] = {}      # orders working at the venue
        self._known: set[str] = set()              # every client id that reached the venue
        self._fills: list[Fill] = []
        self._order_seq = 0
        self._fill_seq = 0
        self._last_in = 0                          # FIFO of the inbound (order) path
        self._last_out = 0                         # FIFO of the outbound (answer) path
        self._batch: list | None = None
        self._batch_ts = -1

    # -- VenueClient -------------------------------------------------------------------------
    def set_listener(self, listener: VenueListener) -> None:
        self._listener = listener

    def submit(self, order: Order) -> None:
        if self._listener is None:
            raise RuntimeError(f"PaperVenue {self.name!r}: set_listener before submit")
        w = _Working(order)
        venue = order.venue
        self._clock.call_at(self._inbound(self._latency.order_ns),
                            lambda: self._arrive(w, venue))

    def cancel(self, order: Order) -> None:
        if self._listener is None:
            raise RuntimeError(f"PaperVenue {self.name!r}: set_listener before cancel")
        cid = order.client_order_id
        self._clock.call_at(self._inbound(self._latency.cancel_delay_ns),
                            lambda: self._cancel_arrive(cid))

    async def open_orders(self) -> list[VenueOrderState]:
        return [VenueOrderState(w.cid, w.voi, w.symbol, Side(w.side), w.orig_type, w.qty, w.price,
                                w.filled, w.status) for w in self._open.values()]

    async def fills_since(self, ts_ns: int) -> list[Fill]:
        return [f for f in self._fills if f.ts_ns >= ts_ns]

    # -- market data -------------------------------------------------------------------------
    def on_book(self, symbol: str, book: L2Book) -> None:
        """Call after every change of a symbol's book (a new state: consumed liquidity resets).
        Symbols without an instrument here are ignored; an invalid book matches nothing."""
        st = self._syms.get(symbol)
        if st is None:
            return
        if st.book is not book:
            st.attach(book)
        if st.consumed:
            st.consumed.clear()
        if not st.watch or not book.valid:
            return
        top = book.top_ticks()
        if top is None:
            b = book.best_ticks(0)
            a = book.best_ticks(1)
            bt, bl = b if b is not None else (_NEG, 0)
            at, al = a if a is not None else (_POS, 0)
        else:
            bt, bl, at, al = top
        if bt <= st.hi_buy or at >= st.lo_sell or st.watch_mid:
            self._on_top(st, bt, bl, at, al)

    def replay_idle(self, symbol: str, book: L2Book) -> bool:
        """True when on_book(symbol, book) would do nothing and on_trade(symbol, t) would only
        record t as the last trade: `book` is attached and nothing rests, waits for a trigger
        or has consumed liquidity. The gated backtest replay skips those calls (it hands the
        last skipped trade to on_trade before anything else runs)."""
        st = self._syms.get(symbol)
        if st is None:
            return True
        return st.book is book and not (st.watch or st.watch_mid or st.consumed or st.stops
                                         or st.buys or st.sells)

    def on_trade(self, symbol: str, trade: Trade) -> None:
        """A public trade: queue progress, trade-through fills, trade-price triggers."""
        st = self._syms.get(symbol)
        if st is None:
            return
        st.last_trade = trade.price           # the trigger reference of a stop arriving later
        if not (st.watch or st.stops):
            return
        px = st.price_ticks(trade.price)
        if st.watch and ((px <= st.hi_buy_in and trade.aggressor != BUY)
                         or (px >= st.lo_sell_in and trade.aggressor != SELL)):
            self._trade_fills(st, px, float(trade.size) * st.inv_lot, trade.aggressor)
        if self._trigger_on == TRIGGER_ON_TRADE and st.stops:
            self._check_triggers(st, px)

    # -- inbound path ------------------------------------------------------------------------
    def _jitter(self) -> int:
        j = self._latency.jitter_ns
        return self._rng.randint(0, j) if j else 0

    def _inbound(self, base: int) -> int:
        t = self._clock.time_ns() + base + self._jitter()
        if t < self._last_in:
            t = self._last_in
        self._last_in = t
        return t

    def _arrive(self, w: _Working, venue: str) -> None:
        now = self._clock.time_ns()
        why = self._reject_reason(w, venue, now)
        self._known.add(w.cid)
        if why:
            w.status = OrderStatus.REJECTED
            self._emit(self._l_rejected, w.cid, why, now)
            return
        st = self._syms[w.symbol]
        self._order_seq += 1
        w.seq = self._order_seq
        w.voi = f"{self.name}-o{self._order_seq}"
        w.status = OrderStatus.ACCEPTED
        self._open[w.cid] = w
        self._emit(self._l_accepted, w.cid, w.voi, now)
        if w.type in _STOPS:
            st.stops.append(w)
            st.rethreshold()
            self._schedule_expiry(w)
            ref = self._reference(st)
            if ref is not None:
                self._check_triggers(st, ref)
            return
        self._execute(st, w, now)

    def _reject_reason(self, w: _Working, venue: str, now: int) -> str:
        if w.cid in self._known:
            return f"duplicate client order id {w.cid!r}"
        if venue != self.name:
            return f"order for venue {venue!r} sent to {self.name!r}"
        st = self._syms.get(w.symbol)
        if st is None:
            return f"unknown symbol {w.symbol!r} on {self.name}"
        inst = st.inst
        if w.side not in (BUY, SELL):
            return f"side {w.side} is neither BUY nor SELL"
        if w.qty <= 0:
            return f"quantity {w.qty} lots must be > 0"
        if w.qty < inst.min_lots:
            return (f"quantity {inst.qty_text(w.qty)} is below the minimum {inst.min_qty} "
                    f"of {w.symbol}")
        if w.type in _PRICED:
            if w.price <= 0:
                return f"limit price {w.price} ticks must be > 0"
            if inst.notional(w.price, w.qty) < float(inst.min_notional):
                return (f"notional {inst.notional(w.price, w.qty)} is below the minimum "
                        f"{inst.min_notional} of {w.symbol}")
        if w.type in _STOPS and w.type != OrderType.TRAILING_STOP and w.trigger <= 0:
            return f"trigger price {w.trigger} ticks must be > 0"
        if w.type == OrderType.TRAILING_STOP and w.trail <= 0:
            return f"trailing distance {w.trail} ticks must be > 0"
        if w.post_only and w.type != OrderType.LIMIT:
            return "post-only applies to limit orders only"
        if w.tif == TimeInForce.GTD and w.expire_ns <= now:
            return f"GTD expiry {w.expire_ns} is not after the venue's time {now}"
        book = st.book
        has_book = book is not None and book.valid
        if w.type == OrderType.MARKET and not has_book:
            return f"no valid book for {w.symbol}: a market order cannot be priced"
        if w.post_only and has_book:
            st.place(w)
            if w.side == BUY:
                opp = book.best_ticks(1)
                crosses = opp is not None and opp[0] <= w.bk_lo
            else:
                opp = book.best_ticks(0)
                crosses = opp is not None and opp[0] >= w.bk_hi
            if crosses:
                return "post-only order would take liquidity"
        return ""

    def _execute(self, st: _Sym, w: _Working, now: int) -> None:
        """A market or limit order (new, or a stop's child) meets the book."""
        book = st.book
        has_book = book is not None and book.valid
        is_buy = w.side == BUY
        if w.type in _PRICED:
            if st.book is not None:
                st.place(w)
            limit = w.bk_lo if is_buy else w.bk_hi
            if w.post_only:
                pass                          # checked before acceptance (_reject_reason)
            elif has_book:
                if not self._take_all_or_part(st, w, limit, now):
                    return
            elif w.tif == TimeInForce.FOK:
                self._finish(st, w, OrderStatus.EXPIRED, "", now)
                return
            if w.leaves == 0:
                return
            if w.tif in (TimeInForce.IOC, TimeInForce.FOK):
                self._finish(st, w, OrderStatus.EXPIRED, "", now)
                return
            self._rest(st, w)
            return
        # market (a new one was refused on arrival without a book; a stop's child expires)
        if not has_book:
            self._finish(st, w, OrderStatus.EXPIRED, "", now)
            return
        if self._take_all_or_part(st, w, None, now) and w.leaves:
            self._finish(st, w, OrderStatus.EXPIRED, "", now)

    def _take_all_or_part(self, st: _Sym, w: _Working, limit: int | None, now: int) -> bool:
        """Taker fills up to `limit` (book ticks). False when the order is done (FOK short)."""
        side_book = 1 if w.side == BUY else 0
        levels, total = self._available(st, side_book, limit, w.leaves)
        if w.tif == TimeInForce.FOK and total < w.leaves:
            self._finish(st, w, OrderStatus.EXPIRED, "", now)
            return False
        fee_rate = st.inst.taker_fee
        for t, avail in levels:
            q = avail if avail < w.leaves else w.leaves
            if q <= 0:
                break
            key = (side_book, t)
            st.consumed[key] = st.consumed.get(key, 0) + -(-q * st.lden // st.lnum)
            self._fill(st, w, q, st.to_inst_ticks(t, up=side_book == 1), fee_rate, "taker", now)
            # the displayed quantity we took was ahead of our own orders resting there
            for r in (st.buys if side_book == 0 else st.sells):
                if r.bk_lo == t == r.bk_hi:
                    r.ahead = r.ahead - q if r.ahead > q else 0.0
                    r.traded += q
        return True

    def _available(self, st: _Sym, side_book: int, limit: int | None,
                   need: int) -> tuple[list[tuple[int, int]], int]:
        """Levels (book ticks, instrument lots still available) best first, up to `limit`,
        until `need` lots are covered; and their total."""
        book = st.book
        n = 16
        while True:
            d = book.depth_ticks(side_book, n).tolist()
            out: list[tuple[int, int]] = []
            total = 0
            for t, lots in d:
                if limit is not None and (t > limit if side_book == 1 else t < limit):
                    return out, total
                left = lots - st.consumed.get((side_book, t), 0)
                a = left * st.lnum // st.lden
                if a > 0:
                    out.append((t, a))
                    total += a
                    if total >= need:
                        return out, total
            if len(d) < n:
                return out, total
            n *= 8

    def _rest(self, st: _Sym, w: _Working) -> None:
        book = st.book
        if book is not None and book.valid:
            if w.bk_lo != w.bk_hi:
                w.ahead = w.level = 0.0  # a price between the book's ticks: nobody is there
            else:
                side_book = 0 if w.side == BUY else 1
                shown = self._level_lots(book, side_book, w.bk_lo)
                taken = st.consumed.get((side_book, w.bk_lo), 0)   # what we took is gone
                w.ahead = max(shown - taken, 0) * st.lot_f
                w.level = shown * st.lot_f
        if w.side == BUY:
            st.buys.append(w)
            st.buys.sort(key=lambda o: (-o.price, o.seq))
        else:
            st.sells.append(w)
            st.sells.sort(key=lambda o: (o.price, o.seq))
        st.rethreshold()
        self._schedule_expiry(w)

    @staticmethod
    def _level_lots(book: L2Book, side: int, ticks: int) -> int:
        """Displayed book lots at `ticks` on a side (0 when there is no level there)."""
        n = 16
        while True:
            d = book.depth_ticks(side, n).tolist()
            for t, lots in d:
                if t == ticks:
                    return lots
                if (t < ticks) if side == 0 else (t > ticks):
                    return 0
            if len(d) < n:
                return 0
            n *= 8

    def _schedule_expiry(self, w: _Working) -> None:
        if w.tif == TimeInForce.GTD and w.expire_handle is None:
            cid = w.cid
            w.expire_handle = self._clock.call_at(w.expire_ns, lambda: self._expire(cid))

    def _expire(self, cid: str) -> None:
        w = self._open.get(cid)
        if w is not None:
            self._finish(self._syms[w.symbol], w, OrderStatus.EXPIRED, "", self._clock.time_ns())

    def _cancel_arrive(self, cid: str) -> None:
        now = self._clock.time_ns()
        w = self._open.get(cid)
        if w is None:
            why = "order already closed" if cid in self._known else "unknown order"
            self._emit(self._l_cancel_rejected, cid, why, now)
            return
        self._finish(self._syms[w.symbol], w, OrderStatus.CANCELED, "canceled", now)

    def _finish(self, st: _Sym, w: _Working, status: OrderStatus, reason: str,
                now: int) -> None:
        """End an order: take it off every list, tell the listener."""
        w.status = status
        self._open.pop(w.cid, None)
        changed = False
        for lst in (st.buys, st.sells, st.stops):
            if w in lst:
                lst.remove(w)
                changed = True
        if changed:
            st.rethreshold()
        if w.expire_handle is not None:
            self._clock.cancel(w.expire_handle)
            w.expire_handle = None
        if status == OrderStatus.CANCELED:
            self._emit(self._l_canceled, w.cid, reason, now)
        elif status == OrderStatus.EXPIRED:
            self._emit(self._l_expired, w.cid, now)
        elif status == OrderStatus.REJECTED:
            self._emit(self._l_rejected, w.cid, reason, now)

    # -- fills -------------------------------------------------------------------------------
    def _fill(self, st: _Sym, w: _Working, qty: int, price: int, fee_rate: float,
              liquidity: str, now: int) -> None:
        self._fill_seq += 1
        inst = st.inst
        f = Fill(w.cid, self.name, w.symbol, Side(w.side), qty, price,
                 inst.notional(price, qty) * fee_rate, liquidity,
                 f"{self.name}-{self._fill_seq}", now)
        w.filled += qty
        self._fills.append(f)
        self._emit(self._l_fill, f)
        if w.filled >= w.qty:
            w.status = OrderStatus.FILLED
            self._open.pop(w.cid, None)
            if w.expire_handle is not None:
                self._clock.cancel(w.expire_handle)
                w.expire_handle = None
        else:
            w.status = OrderStatus.PARTIALLY_FILLED

    def _on_top(self, st: _Sym, bt: int, bl: int, at: int, al: int) -> None:
        """The book's top reached a resting order's price (or mid triggers are watched)."""
        qm = self._queue
        lot_f = st.lot_f
        done = False
        for w in st.buys:
            if bt > w.bk_lo:
                break                         # this and the rest are behind the touch
            if at <= w.bk_lo:                 # the asks reached our bid: we were hit
                self._fill(st, w, w.leaves, w.price, st.inst.maker_fee, "maker",
                           self._clock.time_ns())
                done = True
                continue
            new = bl * lot_f if bt == w.bk_lo and w.bk_lo == w.bk_hi else 0.0
            if new != w.level or w.traded:    # unchanged level, no trade: nothing to learn
                w.ahead = qm.on_level(w.ahead, w.level, new, w.traded)
                w.level = new
                w.traded = 0.0
        for w in st.sells:
            if at < w.bk_hi:
                break
            if bt >= w.bk_hi:
                self._fill(st, w, w.leaves, w.price, st.inst.maker_fee, "maker",
                           self._clock.time_ns())
                done = True
                continue
            new = al * lot_f if at == w.bk_hi and w.bk_lo == w.bk_hi else 0.0
            if new != w.level or w.traded:
                w.ahead = qm.on_level(w.ahead, w.level, new, w.traded)
                w.level = new
                w.traded = 0.0
        if done:
            self._drop_filled(st)
        if st.watch_mid and st.stops and bt > _NEG and at < _POS:
            self._check_triggers(st, (bt + at) * st.tden / (2 * st.tnum))

    def _trade_fills(self, st: _Sym, px: float, size: float, aggressor: int) -> None:
        """A trade of `size` lots at `px` (instrument ticks) against our resting orders."""
        now = self._clock.time_ns()
        fee = st.inst.maker_fee
        done = False
        if aggressor != BUY:                  # a seller (or unknown) hit the bids
            pool = size
            for w in st.buys:
                if w.price < px:
                    break
                if px < w.price:              # traded through our bid: we were first
                    avail = pool
                    w.ahead = 0.0
                else:
                    avail = pool - w.ahead
                    w.ahead = w.ahead - size if w.ahead > size else 0.0
                    w.traded += size
                q = min(w.leaves, int(avail + 1e-6)) if avail > 0 else 0
                if q > 0:
                    self._fill(st, w, q, w.price, fee, "maker", now)
                    pool -= q
                    done = done or w.leaves == 0
        if aggressor != SELL:                 # a buyer (or unknown) lifted the asks
            pool = size
            for w in st.sells:
                if w.price > px:
                    break
                if px > w.price:
                    avail = pool
                    w.ahead = 0.0
                else:
                    avail = pool - w.ahead
                    w.ahead = w.ahead - size if w.ahead > size else 0.0
                    w.traded += size
                q = min(w.leaves, int(avail + 1e-6)) if avail > 0 else 0
                if q > 0:
                    self._fill(st, w, q, w.price, fee, "maker", now)
                    pool -= q
                    done = done or w.leaves == 0
        if done:
            self._drop_filled(st)

    @staticmethod
    def _drop_filled(st: _Sym) -> None:
        st.buys = [w for w in st.buys if w.filled < w.qty]
        st.sells = [w for w in st.sells if w.filled < w.qty]
        st.rethreshold()

    # -- stops -------------------------------------------------------------------------------
    def _reference(self, st: _Sym) -> float | None:
        if self._trigger_on == TRIGGER_ON_TRADE:
            return None if st.last_trade is None else st.price_ticks(st.last_trade)
        book = st.book
        if book is None or not book.valid:
            return None
        top = book.top_ticks()
        if top is None:
            return None
        return (top[0] + top[2]) * st.tden / (2 * st.tnum)

    def _check_triggers(self, st: _Sym, ref: float) -> None:
        fired = []
        for w in st.stops:
            t = w.type
            buy = w.side == BUY
            if t == OrderType.TRAILING_STOP:
                if w.mark is None or (ref < w.mark if buy else ref > w.mark):
                    w.mark = ref
                hit = ref >= w.mark + w.trail if buy else ref <= w.mark - w.trail
            elif t in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
                hit = ref >= w.trigger if buy else ref <= w.trigger
            else:                              # take-profits: price moved in our favour
                hit = ref <= w.trigger if buy else ref >= w.trigger
            if hit:
                fired.append(w)
        if not fired:
            return
        now = self._clock.time_ns()
        for w in fired:
            st.stops.remove(w)
        st.rethreshold()
        for w in fired:
            w.status = OrderStatus.TRIGGERED
            self._emit(self._l_triggered, w.cid, now)
            w.type = (OrderType.LIMIT if w.type in (OrderType.STOP_LIMIT,
                                                    OrderType.TAKE_PROFIT_LIMIT)
                      else OrderType.MARKET)
            self._execute(st, w, now)

    # -- outbound path -----------------------------------------------------------------------
    def _emit(self, fn: Callable, *args: object) -> None:
        """Queue an answer; all answers of one venue instant go out together, in order."""
        now = self._clock.time_ns()
        if self._batch is None or self._batch_ts != now:
            t = now + self._latency.ack_ns + self._jitter()
            if t < self._last_out:
                t = self._last_out
            self._last_out = t
            batch: list = []
            self._batch = batch
            self._batch_ts = now
            self._clock.call_at(t, lambda: self._deliver(batch))
        self._batch.append((fn, args))

    def _deliver(self, batch: list) -> None:
        if self._batch is batch:
            self._batch = None
        for fn, args in batch:
            fn(*args)

    def _l_accepted(self, cid: str, voi: str, ts: int) -> None:
        self._listener.on_order_accepted(cid, voi, ts)

    def _l_rejected(self, cid: str, reason: str, ts: int) -> None:
        self._listener.on_order_rejected(cid, reason, ts)

    def _l_canceled(self, cid: str, reason: str, ts: int) -> None:
        self._listener.on_order_canceled(cid, reason, ts)

    def _l_expired(self, cid: str, ts: int) -> None:
        self._listener.on_order_expired(cid, ts)

    def _l_triggered(self, cid: str, ts: int) -> None:
        self._listener.on_order_triggered(cid, ts)

    def _l_cancel_rejected(self, cid: str, reason: str, ts: int) -> None:
        self._listener.on_cancel_rejected(cid, reason, ts)

    def _l_fill(self, fill: Fill) -> None:
        self._listener.on_fill(fill)
