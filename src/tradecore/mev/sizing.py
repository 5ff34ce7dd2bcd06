"""Pricing the opportunity: how much to trade, and what it earns, before the block is built.

All DEX amounts are exact integers in raw token units; every candidate size is evaluated with
the contracts' own integer math (amm/v2.py, amm/v3.py), so a size this module returns earns
exactly the profit it reports on the state it was given.

- V2 back-run (two pools, after a victim moved one): the continuous optimum is closed form,
      x* = G*(g*sqrt(Ra_in*Ra_out*Rb_in*Rb_out) - G*Ra_in*Rb_in) / (g*(G*Rb_in + g*Ra_out))
  with g/G = 997/1000 (the composition of two constant-product curves is one curve with
  reserves Ein = Ra_in*Rb_in*G/D, Eout = g*Ra_out*Rb_out/D, D = G*Rb_in + g*Ra_out; maximise
  g*x*Eout/(G*Ein + g*x) - x). Flooring in the contracts moves the integer optimum by at most a
  few units (more on tiny reserves): the integers around x* are evaluated exactly and the best
  is returned.
- V2 sandwich on a victim swap with a minimum output: the front-run is bounded by the victim's
  slippage limit (largest x with victim_out(x) >= min_out: closed-form quadratic bracket, then
  exact bisection); profit(x) = back-run out - x is unimodal, its integer maximum on [0, bound]
  is found by bisection on the exact forward difference.
- V3 back-run: no closed form across ticks; a bounded search (bisection on the exact forward
  difference of the profit, evaluated with the full tick-crossing swap) within [0, hi].
- CEX-DEX: our L2Book (ticks/lots) against a V2 pool: sell on the CEX what the DEX sells us, or
  the reverse, sized in whole CEX lots, after the CEX taker fee and a gas cost, exactly in
  Fractions; the edge is returned as float quote currency (money), the legs as exact ints.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import isqrt
from typing import Callable

from tradecore._fast.book import L2Book
from tradecore._fast.amm import v2_get_amount_in as get_amount_in  # compiled, bit-exact with amm.v2
from tradecore._fast.amm import v2_get_amount_out as get_amount_out
from tradecore.mev.amm.v2 import FEE_DEN, FEE_NUM
from tradecore.mev.amm.v3 import V3Pool


@dataclass(frozen=True, slots=True)
class Sized:
    amount_in: int      # what we put in (raw units of the start token)
    amount_out: int     # what comes back (same token)
    profit: int         # amount_out - amount_in (may be <= 0 when nothing pays)


EXHAUSTIVE = 4096  # below this many candidate sizes, every integer is evaluated


def _argmax_unimodal(f: Callable[[int], int], lo: int, hi: int) -> int:
    """Integer argmax of f on [lo, hi]. The continuous profit curves here are unimodal, but the
    contracts' flooring makes the integer sequence jagged by a unit or two, which can fool a
    plain bisection on f(m+1) - f(m) near the top. So: every integer when the range is small
    (exact); otherwise bisection on a difference taken over a stride that shrinks with the
    bracket (jitter of a unit cannot flip a comparison across a wide stride), then an exhaustive
    scan of the last bracket plus both ends of the range."""
    if hi - lo <= EXHAUSTIVE:
        return max(range(lo, hi + 1), key=lambda x: (f(x), -x))
    a, b = lo, hi
    while b - a > EXHAUSTIVE:
        step = max(1, (b - a) // 64)
        m = (a + b) // 2
        if f(m + step) > f(m):
            a = m
        else:
            b = m + step
    cands = list(range(a, b + 1)) + [lo, hi]
    return max(cands, key=lambda x: (f(x), -x))


def _two_pool_out(x: int, ra_in: int, ra_out: int, rb_in: int, rb_out: int) -> int:
    if x <= 0:
        return 0
    y = get_amount_out(x, ra_in, ra_out)
    return get_amount_out(y, rb_in, rb_out) if y > 0 else 0


def v2_backrun_size(ra_in: int, ra_out: int, rb_in: int, rb_out: int) -> Sized:
    """Optimal input of token X into pool A (X->T), then T into pool B (T->X).
    Reserves are (in, out) for each leg in the direction traded."""
    g, G = FEE_NUM, FEE_DEN
    d = G * rb_in + g * ra_out
    s = isqrt(ra_in * ra_out * rb_in * rb_out)
    num = G * (g * s - G * ra_in * rb_in)
    if num <= 0:
        return Sized(0, 0, 0)  # no positive cycle: g^2*Ra_out*Rb_out <= G^2*Ra_in*Rb_in
    x_star = num // (g * d)
    profit = lambda x: _two_pool_out(x, ra_in, ra_out, rb_in, rb_out) - x  # noqa: E731
    # flooring shifts the integer optimum off x*: scan a window around it exhaustively (wide
    # enough for the jagged profits of tiny reserves, a few hundred evaluations otherwise)
    best = _argmax_unimodal(profit, max(1, x_star - EXHAUSTIVE // 2), x_star + EXHAUSTIVE // 2)
    out = _two_pool_out(best, ra_in, ra_out, rb_in, rb_out)
    return Sized(best, out, out - best) if out > best else Sized(0, 0, 0)


@dataclass(frozen=True, slots=True)
class SandwichSize:
    frontrun_in: int        # token A in
    frontrun_out: int       # token B bought
    victim_out: int         # what the victim then receives (>= its minimum)
    backrun_out: int        # token A back for selling frontrun_out
    profit: int             # backrun_out - frontrun_in
    max_frontrun: int       # the victim's slippage bound on the front-run


def _sandwich_legs(x: int, v: int, r_in: int, r_out: int) -> tuple[int, int, int]:
    y1 = get_amount_out(x, r_in, r_out) if x > 0 else 0
    y2 = get_amount_out(v, r_in + x, r_out - y1)
    z = get_amount_out(y1, r_out - y1 - y2, r_in + x + v) if y1 > 0 else 0
    return y1, y2, z


def v2_sandwich_size(victim_in: int, victim_min_out: int, r_in: int, r_out: int) -> SandwichSize:
    """Front-run size around one victim exact-input swap on a V2 pool (reserves in the victim's
    direction); the back-run sells exactly what the front-run bought."""
    if get_amount_out(victim_in, r_in, r_out) < victim_min_out:
        raise ValueError("the victim's swap already fails its minimum output without a front-run")
    # slippage bound: victim_out(x) >= m. Continuous: g*v*(R_out - y1)/(G*(R_in+x) + g*v) = m
    # with (R_in+x)(R_out-y1) ~ k gives the quadratic g*v*k = m*(R_in+x)*(G*(R_in+x) + g*v):
    g, G, v, m, k = FEE_NUM, FEE_DEN, victim_in, max(victim_min_out, 1), r_in * r_out
    a, b = G * m, g * v * m
    # (R_in+x) = (-b + sqrt(b^2 + 4*a*g*v*k)) / (2a)
    t = (isqrt(b * b + 4 * a * g * v * k) - b) // (2 * a)
    hi = max(0, t - r_in) * 2 + 2   # bracket (the approximation ignores the front-run fee)
    victim_ok = lambda x: _sandwich_legs(x, v, r_in, r_out)[1] >= victim_min_out  # noqa: E731
    # a victim with no minimum (victim_min_out 0) accepts any front-run: the doubling stops at
    # a bound no pool reaches (2**112 is V2's reserve limit), and profit alone sizes the trade
    cap = 1 << 113
    while hi < cap and victim_ok(hi):
        hi *= 2
    hi = min(hi, cap)
    lo = 0
    while hi - lo > 1:  # exact: largest x the victim still accepts
        mid = (lo + hi) // 2
        if victim_ok(mid):
            lo = mid
        else:
            hi = mid
    bound = lo
    profit = lambda x: _sandwich_legs(x, v, r_in, r_out)[2] - x  # noqa: E731
    x = _argmax_unimodal(profit, 0, bound)
    y1, y2, z = _sandwich_legs(x, v, r_in, r_out)
    return SandwichSize(x, y1, y2, z, z - x, bound)


def v3_backrun_size(pool_a: V3Pool, zero_for_one_a: bool, pool_b_quote: Callable[[int], int], hi: int) -> Sized:
    """Bounded search: x of the token pool A takes in (direction zero_for_one_a), the output
    sold through `pool_b_quote` (any exact quote back into the start token: another V3Pool's
    swap, a V2 get_amount_out, ...). The pools are not moved."""
    def out(x: int) -> int:
        if x <= 0:
            return 0
        a0, a1 = pool_a.swap(zero_for_one_a, x)
        got = -(a1 if zero_for_one_a else a0)
        return pool_b_quote(got) if got > 0 else 0
    x = _argmax_unimodal(lambda x: out(x) - x, 0, hi)
    o = out(x)
    return Sized(x, o, o - x) if o > x else Sized(0, 0, 0)


@dataclass(frozen=True, slots=True)
class CexDexSize:
    direction: str          # "buy_dex_sell_cex" / "buy_cex_sell_dex" / "none"
    lots: int               # CEX quantity in the book's lots
    base_raw: int           # the same quantity in raw base-token units (DEX leg)
    quote_raw: int          # DEX quote leg: paid in (buy_dex) or received (buy_cex), raw units
    cex_quote: Fraction     # CEX leg in quote currency: received after fee / paid incl. fee
    edge: float             # quote currency, after CEX fee and gas


def _book_levels(book: L2Book, side: int, depth: int) -> list[tuple[Fraction, int]]:
    lv = book.depth_ticks(side, depth)
    unit = Fraction(book.tick_units, 10 ** book.price_decimals)
    return [(int(t) * unit, int(l)) for t, l in lv]


def _walk(levels: list[tuple[Fraction, int]], lots: int, lot_size: Fraction) -> Fraction | None:
    left, notional = lots, Fraction(0)
    for price, avail in levels:
        take = min(left, avail)
        notional += price * take * lot_size
        left -= take
        if left == 0:
            return notional
    return None  # deeper than the levels read


def cex_dex_size(book: L2Book, reserve_base: int, reserve_quote: int, base_decimals: int,
                 quote_decimals: int, cex_taker_fee: Fraction, gas_quote: Fraction,
                 depth: int = 200) -> CexDexSize:
    """Best whole-lot arbitrage between the book and a V2 pool of the same pair."""
    lot_size = Fraction(book.lot_units, 10 ** book.size_decimals)
    raw_per_lot = lot_size * 10 ** base_decimals
    if raw_per_lot.denominator != 1:
        raise ValueError(f"one lot ({lot_size} base) is not a whole number of raw base units")
    raw_per_lot = int(raw_per_lot)
    q_scale = Fraction(1, 10 ** quote_decimals)
    bids, asks = _book_levels(book, 0, depth), _book_levels(book, 1, depth)
    best = CexDexSize("none", 0, 0, 0, Fraction(0), 0.0)

    def buy_dex(lots: int) -> Fraction | None:   # buy base on the DEX, sell it into the bids
        base = lots * raw_per_lot
        if lots <= 0 or base >= reserve_base:
            return None
        paid = get_amount_in(base, reserve_quote, reserve_base)
        got = _walk(bids, lots, lot_size)
        return None if got is None else got * (1 - cex_taker_fee) - paid * q_scale - gas_quote

    def buy_cex(lots: int) -> Fraction | None:   # lift the asks, sell the base on the DEX
        if lots <= 0:
            return None
        cost = _walk(asks, lots, lot_size)
        got = get_amount_out(lots * raw_per_lot, reserve_base, reserve_quote)
        return None if cost is None else got * q_scale - cost * (1 + cex_taker_fee) - gas_quote

    for name, f, levels in (("buy_dex_sell_cex", buy_dex, bids), ("buy_cex_sell_dex", buy_cex, asks)):
        max_lots = sum(l for _, l in levels)
        if name == "buy_dex_sell_cex":
            max_lots = min(max_lots, (reserve_base - 1) // raw_per_lot)
        if max_lots <= 0:
            continue
        val = lambda n: f(n) if f(n) is not None else Fraction(-(10 ** 30))  # noqa: E731
        n = _argmax_unimodal(val, 1, max_lots)
        e = val(n)
        if e > best.edge and e > 0:
            base = n * raw_per_lot
            if name == "buy_dex_sell_cex":
                quote = get_amount_in(base, reserve_quote, reserve_base)
                cex = _walk(bids, n, lot_size) * (1 - cex_taker_fee)
            else:
                quote = get_amount_out(base, reserve_base, reserve_quote)
                cex = _walk(asks, n, lot_size) * (1 + cex_taker_fee)
            best = CexDexSize(name, n, base, quote, cex, float(e))
    return best
