"""Plain-Python brute-force references of the compiled arbitrage detectors (_fast/arb.pyx).

They implement the same definitions by a different route, so that tests can hold the kernels to
them: instead of walking the books together while the marginal trade is profitable, they
evaluate the profit at every breakpoint of the (concave, piecewise-linear) profit curve and take
the best, then apply the same documented lot rounding and re-walk. Levels are lists of
(price, size) floats, best first, already cut to the detector's depth.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

Levels = list[tuple[float, float]]
EPS = 1e-12


def floor_to(x: float, lot: float) -> float:
    """x rounded down to a multiple of lot, with the kernel's slack for sums of doubles."""
    if lot <= 0.0:
        return x
    return math.floor(x / lot + 1e-9) * lot


def walk_cost(levels: Levels, qty: float) -> tuple[float, float, float]:
    """(price x size summed, last price touched, qty left unfilled) for taking qty."""
    total = last = 0.0
    left = qty
    for p, s in levels:
        if left <= EPS * qty:
            break
        take = min(s, left)
        total += take * p
        last = p
        left -= take
    return total, last, left


@dataclass(frozen=True)
class CrossOpportunity:
    buy_venue: int
    sell_venue: int
    qty: float
    buy_limit: float
    sell_limit: float
    buy_cost: float
    sell_proceeds: float

    @property
    def edge(self) -> float:
        return self.sell_proceeds - self.buy_cost


def cross_pair(asks: Levels, bids: Levels, fee_a: float, fee_b: float, lot: float,
               max_qty: float = math.inf, base_avail: float = math.inf,
               quote_avail: float = math.inf) -> tuple[float, float, float, float, float] | None:
    """Buy on the asks (fee_a), sell on the bids (fee_b): (qty, buy_limit, sell_limit, cost,
    proceeds) at the lot-rounded optimum, or None when nothing is profitable."""
    if not asks or not bids:
        return None

    def profit(q: float) -> float:
        c, _, la = walk_cost(asks, q)
        p, _, lb = walk_cost(bids, q)
        return p * (1 - fee_b) - c * (1 + fee_a)

    depth = min(sum(s for _, s in asks), sum(s for _, s in bids))
    cap = min(max_qty, base_avail, depth)
    # the quote balance as a size: where the cost with fees reaches quote_avail
    spent = 0.0
    q_quote = 0.0
    for p, s in asks:
        c = s * p * (1 + fee_a)
        if spent + c >= quote_avail:
            q_quote += (quote_avail - spent) / (p * (1 + fee_a))
            break
        spent += c
        q_quote += s
    else:
        q_quote = math.inf
    cap = min(cap, q_quote)
    cands = {cap}
    acc = 0.0
    for _, s in asks:
        acc += s
        cands.add(acc)
    acc = 0.0
    for _, s in bids:
        acc += s
        cands.add(acc)
    best_q, best = 0.0, 0.0
    for q in sorted(cands):
        if q <= 0 or q > cap * (1 + 1e-12):
            continue
        v = profit(q)
        # a zero-marginal stretch (tie) is no improvement: float noise must not extend it
        if v > best + 1e-11 * walk_cost(asks, q)[0]:
            best_q, best = q, v
    qr = floor_to(best_q, lot)
    if qr <= 0.0:
        return None
    cost, la, _ = walk_cost(asks, qr)
    proceeds, lb, _ = walk_cost(bids, qr)
    return qr, la, lb, cost * (1 + fee_a), proceeds * (1 - fee_b)


def cross_best(books: list[tuple[Levels, Levels] | None], fees: list[float], lots: list[float],
               *, max_qty: float = math.inf, base_avail: list[float] | None = None,
               quote_avail: list[float] | None = None, min_edge: float = 0.0,
               min_edge_bps: float = 0.0, only: int | None = None) -> CrossOpportunity | None:
    """The best opportunity over every ordered pair of venues (or the pairs involving `only`).
    books[i] is (bids, asks) of venue i or None."""
    n = len(books)
    base_avail = base_avail or [math.inf] * n
    quote_avail = quote_avail or [math.inf] * n
    best: CrossOpportunity | None = None
    for a in range(n):
        for b in range(n):
            if a == b or books[a] is None or books[b] is None:
                continue
            if only is not None and only not in (a, b):
                continue
            r = cross_pair(books[a][1], books[b][0], fees[a], fees[b], max(lots[a], lots[b]),
                           max_qty, base_avail[b], quote_avail[a])
            if r is None:
                continue
            o = CrossOpportunity(a, b, *r)
            if o.edge <= 0 or o.edge < min_edge or o.edge * 1e4 < min_edge_bps * o.buy_cost:
                continue
            if best is None or o.edge > best.edge:
                best = o
    return best


# -- triangular -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Leg:
    levels: Levels          # asks when buy, bids when sell
    buy: bool
    fee: float
    lot: float
    min_qty: float = 0.0


def _leg_out(leg: Leg, x: float) -> float | None:
    """Continuous output of a leg for input x (None when the depth cannot take x)."""
    if leg.buy:
        left, got = x, 0.0
        for p, s in leg.levels:
            if s * p >= left:
                got += left / p
                left = 0.0
                break
            got += s
            left -= s * p
        if left > EPS * (x + 1):
            return None
        return got * (1 - leg.fee)
    total, _, left = walk_cost(leg.levels, x)
    if left > EPS * (x + 1):
        return None
    return total * (1 - leg.fee)


def _leg_in(leg: Leg, y: float) -> float | None:
    """Input a leg needs to yield y (the inverse of _leg_out)."""
    gross = y / (1 - leg.fee)
    if leg.buy:
        cost, _, left = walk_cost(leg.levels, gross)
        return None if left > EPS * (gross + 1) else cost
    left, need = gross, 0.0
    for p, s in leg.levels:
        if s * p >= left:
            need += left / p
            left = 0.0
            break
        need += s
        left -= s * p
    return None if left > EPS * (gross + 1) else need


def _leg_breaks(leg: Leg) -> list[float]:
    """The leg's level boundaries in its input units."""
    out, acc = [], 0.0
    for p, s in leg.levels:
        acc += s * p if leg.buy else s
        out.append(acc)
    return out


def tri_cycle(legs: list[Leg], max_start: float = math.inf
              ) -> tuple[float, float, list[float], list[float]] | None:
    """(start spent, end received, leg sizes, leg limit prices) of a 3-leg cycle at the
    lot-rounded optimum, or None."""
    def chain(s: float) -> float | None:
        x = s
        for leg in legs:
            x = _leg_out(leg, x)
            if x is None:
                return None
        return x

    cands = set()
    if math.isfinite(max_start):
        cands.add(max_start)
    for k, leg in enumerate(legs):
        for b in _leg_breaks(leg):
            s = b
            for j in range(k - 1, -1, -1):       # map back to start units
                s = _leg_in(legs[j], s)
                if s is None:
                    break
            if s is not None:
                cands.add(s)
    best_s, best = 0.0, 0.0
    for s in sorted(cands):
        if s <= 0 or s > max_start * (1 + 1e-12):
            continue
        # a breakpoint at the very end of the depth may be infeasible by a rounding hair
        out = chain(s) if chain(s) is not None else chain(s * (1 - 1e-12))
        if out is None:
            continue
        v = out - s
        if v > best + 1e-11 * s:
            best_s, best = s, v
    if best_s <= 0:
        return None
    amount = best_s
    sizes, limits = [], []
    start_used = 0.0
    for k, leg in enumerate(legs):
        if leg.buy:
            left, qty = amount, 0.0
            for p, s in leg.levels:
                if s * p > left:
                    qty += left / p
                    break
                qty += s
                left -= s * p
            qty = floor_to(qty, leg.lot)
            used, lim, left = walk_cost(leg.levels, qty)
            got = qty * (1 - leg.fee)
        else:
            qty = floor_to(amount, leg.lot)
            got, lim, left = walk_cost(leg.levels, qty)
            used = qty
            got *= 1 - leg.fee
        if qty <= 0 or qty < leg.min_qty or left > EPS * qty + 1e-15:
            return None
        if k == 0:
            start_used = used
        sizes.append(qty)
        limits.append(lim)
        amount = got
    return start_used, amount, sizes, limits
