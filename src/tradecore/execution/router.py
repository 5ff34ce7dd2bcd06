"""Smart order routing: split one parent order across venues by fee-adjusted price and depth.

The problem. Buy (or sell) up to Q base units across venues v, each with a book, an instrument
(lot grid, minimum quantity and notional, taker fee) and optionally an available balance. A
child of x_v lots on venue v walks v's book; its cost is sum(price * qty) * (1 + fee) for a buy
(proceeds * (1 - fee) for a sell). Maximise the quantity routed (up to Q, within the limit
price), then minimise the total fee-adjusted cost (maximise proceeds).

The solution. Without minimums, each venue's cost is convex and piecewise linear in its
quantity (levels get worse as the walk goes deeper), so taking levels greedily in order of
fee-adjusted price across all venues is optimal. A venue's minimum quantity/notional makes its
choice "0 or at least m_v", which is not convex: the router enumerates the subsets of venues
that trade (2^V, V <= MAX_VENUES), forces each chosen venue to its minimum first (the cheapest
m_v lots of its own book) and greedily adds levels from there, which is optimal for each subset
(separable convex with lower and upper bounds); the best subset wins. A balance caps a venue's
lots (base units for a sell; the fee-adjusted cost for a buy). Every quantity is a whole number
of the venue's lots.

Exactness: arithmetic is in exact fractions of the decimal grids. The split is optimal when the
venues share one lot size (tests/execution/test_router.py checks it against brute force); with
different lot sizes the greedy can leave a remainder smaller than a venue's lot that another
combination would have placed (a knapsack): documented, not hidden.

Levels whose book price is not on the instrument's tick grid are priced at the nearest tick
against us. Only the best `max_levels` levels of each book are considered.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from itertools import combinations
from math import lcm

from tradecore.book import L2Book
from tradecore.core.instrument import Instrument
from tradecore.core.orders import Order, OrderType, Side, TimeInForce

__all__ = ["VenueBook", "ChildOrder", "RoutePlan", "SmartOrderRouter", "child_orders",
           "MAX_VENUES"]

MAX_VENUES = 10


@dataclass(frozen=True, slots=True)
class VenueBook:
    """One venue's view for routing. `balance`: quote currency available for a buy, base units
    for a sell (None = unlimited)."""
    instrument: Instrument
    book: L2Book
    balance: float | str | Decimal | None = None


@dataclass(frozen=True, slots=True)
class ChildOrder:
    venue: str
    symbol: str
    side: Side
    lots: int
    qty: Fraction             # base units (lots * lot size)
    limit_ticks: int          # the worst level the plan takes: an IOC limit there walks no further
    notional: Fraction        # sum(price * qty), quote currency, before fees
    fee: Fraction             # taker fee on that notional

    @property
    def avg_price(self) -> float:
        """Average price before fees."""
        return float(self.notional / self.qty)


@dataclass(frozen=True, slots=True)
class RoutePlan:
    side: Side
    children: tuple[ChildOrder, ...]
    qty: Fraction             # base units routed
    notional: Fraction        # quote, before fees
    fees: Fraction
    wanted: Fraction          # base units asked for

    @property
    def cost(self) -> Fraction:
        """Fee-adjusted: paid for a buy (notional + fees), received for a sell (notional - fees)."""
        return self.notional + self.fees if self.side == Side.BUY else self.notional - self.fees

    @property
    def avg_price(self) -> float | None:
        """Fee-adjusted average price per base unit (None when nothing was routed)."""
        return None if self.qty == 0 else float(self.cost / self.qty)


@dataclass(slots=True)
class _Venue:
    key: int
    inst: Instrument
    lot: Fraction
    fee: Fraction
    levels: list[tuple[int, Fraction, int]]   # (instrument ticks, price, lots) best first
    keys: list                                # fee-adjusted price per level, smaller = better
    lb: int                                   # the smallest tradable lots (>= 1)
    cap: int


def _frac(x: float | str | Decimal | int, what: str) -> Fraction:
    try:
        d = Decimal(repr(x)) if isinstance(x, float) else Decimal(x)
    except Exception as e:  # noqa: BLE001 - re-raised with context
        raise ValueError(f"{what}: {x!r} is not a decimal number") from e
    if not d.is_finite():
        raise ValueError(f"{what}: {x!r} is not finite")
    return Fraction(d)


class SmartOrderRouter:
    """Stateless; one instance can route any number of parents."""

    def __init__(self, max_levels: int = 200) -> None:
        if max_levels < 1:
            raise ValueError(f"max_levels must be >= 1, got {max_levels}")
        self.max_levels = max_levels

    def route(self, side: Side, qty: float | str | Decimal, venues: list[VenueBook],
              limit_price: float | str | Decimal | None = None) -> RoutePlan:
        side = Side(side)
        want = _frac(qty, "parent quantity")
        if want <= 0:
            raise ValueError(f"parent quantity {qty!r} must be > 0")
        if not venues:
            raise ValueError("route needs at least one venue")
        if len(venues) > MAX_VENUES:
            raise ValueError(f"{len(venues)} venues: at most {MAX_VENUES} (the subset search "
                             f"is exponential)")
        limit = None if limit_price is None else _frac(limit_price, "limit price")
        vs = [self._venue(i, vb, side, limit) for i, vb in enumerate(venues)]
        # exact integer sort keys on one common denominator (Fraction compares are slow)
        den = 1
        for v in vs:
            for k in v.keys:
                den = lcm(den, k.denominator)
        for v in vs:
            v.keys = [k.numerator * (den // k.denominator) for k in v.keys]
        best: tuple | None = None
        usable = [v for v in vs if v.cap > 0 and v.lb <= v.cap]
        # the problem without minimums is a relaxation: when its optimum already gives every
        # venue 0 or at least its minimum, it is the answer (no subset search)
        relaxed = _greedy(tuple(usable), side, want, minimums=False) if usable else None
        if relaxed is not None and all(n == 0 or n >= v.lb for v, n in relaxed[2]):
            best = (None, relaxed[2])
        else:
            for k in range(len(usable), 0, -1):
                for subset in combinations(usable, k):
                    got = _greedy(subset, side, want)
                    if got is None:
                        continue
                    filled, cost, alloc = got
                    score = (filled, -cost if side == Side.BUY else cost)
                    if best is None or score > best[0]:
                        best = (score, alloc)
        children = []
        tq = Fraction(0)
        tn = Fraction(0)
        tf = Fraction(0)
        if best is not None:
            for v, lots in best[1]:
                if lots == 0:
                    continue
                notional, worst = _walk(v, lots)
                fee = notional * v.fee
                children.append(ChildOrder(v.inst.venue, v.inst.symbol, side, lots,
                                           lots * v.lot, worst, notional, fee))
                tq += lots * v.lot
                tn += notional
                tf += fee
        return RoutePlan(side, tuple(children), tq, tn, tf, want)

    def _venue(self, i: int, vb: VenueBook, side: Side, limit: Fraction | None) -> _Venue:
        inst, book = vb.instrument, vb.book
        tick = Fraction(Decimal(inst.tick))
        lot = Fraction(Decimal(inst.lot))
        btick = Fraction(book.tick_units, 10 ** book.price_decimals)
        blot = Fraction(book.lot_units, 10 ** book.size_decimals)
        fee = _frac(inst.taker_fee, f"{inst.venue}:{inst.symbol} taker fee")
        levels: list[tuple[int, Fraction, int]] = []
        if book.valid:
            for bt, bl in book.depth_ticks(1 if side == Side.BUY else 0, self.max_levels).tolist():
                p = bt * btick / tick                       # instrument ticks, maybe fractional
                t = -((-p.numerator) // p.denominator) if side == Side.BUY else \
                    p.numerator // p.denominator
                price = t * tick
                if limit is not None and (price > limit if side == Side.BUY else price < limit):
                    break
                lots = int(bl * blot / lot)                 # floor: a partial lot is not ours
                if lots > 0:
                    levels.append((t, price, lots))
        cap = sum(q for _, _, q in levels)
        if vb.balance is not None:
            bal = _frac(vb.balance, f"{inst.venue}:{inst.symbol} balance")
            if side == Side.SELL:
                cap = min(cap, int(bal / lot))
            else:
                cap = min(cap, _lots_within(levels, lot, fee, bal))
        lb = max(inst.min_lots, 1)
        mn = _frac(inst.min_notional, "min notional")
        if mn > 0:
            lb = max(lb, _lots_for_notional(levels, lot, mn))
        if side == Side.BUY:
            keys = [price * (1 + fee) for _, price, _ in levels]
        else:
            keys = [-price * (1 - fee) for _, price, _ in levels]
        return _Venue(i, inst, lot, fee, levels, keys, lb, cap)


def _lots_within(levels: list, lot: Fraction, fee: Fraction, budget: Fraction) -> int:
    """Most lots whose fee-adjusted cost, walking the levels, stays within budget."""
    n = 0
    for _, price, q in levels:
        per = price * lot * (1 + fee)
        if per * q <= budget:
            budget -= per * q
            n += q
        else:
            return n + int(budget / per)
    return n


def _lots_for_notional(levels: list, lot: Fraction, mn: Fraction) -> int:
    """Fewest lots whose notional reaches mn (a huge number when the depth cannot)."""
    n = 0
    for _, price, q in levels:
        per = price * lot
        need = -((-mn) // per)                     # ceil
        if need <= q:
            return n + int(need)
        mn -= per * q
        n += q
    return 1 << 62


def _walk(v: _Venue, lots: int) -> tuple[Fraction, int]:
    """Notional of the first `lots` lots of a venue's levels, and the worst tick taken."""
    notional = Fraction(0)
    worst = 0
    for t, price, q in v.levels:
        take = q if q < lots else lots
        if take <= 0:
            break
        notional += price * v.lot * take
        worst = t
        lots -= take
    return notional, worst


def _greedy(subset: tuple[_Venue, ...], side: Side, want: Fraction, minimums: bool = True):
    """Minimums first (unless `minimums` is False), then the cheapest fee-adjusted levels;
    None when the minimums alone exceed the parent. Returns (base units, fee-adjusted cost,
    [(venue, lots)])."""
    rem = want
    alloc: dict[int, int] = {}
    heap = []
    for v in subset:
        lb = v.lb if minimums else 0
        base = lb * v.lot
        if base > rem:
            return None
        rem -= base
        alloc[v.key] = lb
        # remaining levels after the forced lots
        skip = lb
        for j, (t, price, q) in enumerate(v.levels):
            left = q - skip if skip > 0 else q
            skip = max(0, skip - q)
            if left > 0:
                heap.append((v.keys[j], v.key, j, left))
    heapq.heapify(heap)
    by_key = {v.key: v for v in subset}
    room = {v.key: v.cap - alloc[v.key] for v in subset}
    while heap and rem > 0:
        _, k, j, left = heapq.heappop(heap)
        v = by_key[k]
        take = min(left, room[k], int(rem / v.lot))
        if take <= 0:
            continue
        alloc[k] += take
        room[k] -= take
        rem -= take * v.lot
    filled = Fraction(0)
    cost = Fraction(0)
    out = []
    for v in subset:
        lots = alloc[v.key]
        notional, _ = _walk(v, lots)
        filled += lots * v.lot
        cost += notional * (1 + v.fee) if side == Side.BUY else notional * (1 - v.fee)
        out.append((v, lots))
    return filled, cost, out


def child_orders(plan: RoutePlan, parent_id: str, *, strategy_id: str = "",
                 tif: TimeInForce = TimeInForce.IOC) -> list[Order]:
    """The plan as limit orders at each child's worst planned level (IOC by default, so a child
    never walks further than planned); ids are `<parent_id>-<n>`."""
    return [Order(f"{parent_id}-{i}", c.venue, c.symbol, c.side, OrderType.LIMIT, c.lots,
                  price=c.limit_ticks, tif=tif, strategy_id=strategy_id, parent_id=parent_id)
            for i, c in enumerate(plan.children, 1)]
