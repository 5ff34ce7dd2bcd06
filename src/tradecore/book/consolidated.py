"""A consolidated view of one instrument across venues: who has the best bid and ask, a merged
fee-adjusted ladder, and the cross-venue spread that cross-exchange arbitrage feeds on.

Symbols. Each venue names an instrument its own way (Binance "BTCUSDT", Kraken "XBT/USDT", OKX
"BTC-USDT", Coinbase "BTC-USD"); `canonical_symbol` maps them to one unified name. The unified
names follow ccxt's convention, so they agree with the names ccxt-based code (markets, balances,
REST orders) uses:

    spot            BASE/QUOTE                           BTC/USDT
    perpetual       BASE/QUOTE:SETTLE                    BTC/USDT:USDT (linear), BTC/USD:BTC
    dated future    BASE/QUOTE:SETTLE-YYMMDD             BTC/USD:BTC-220527
    option          BASE/QUOTE:SETTLE-YYMMDD-STRIKE-C|P  BTC/USD:BTC-220325-40000-C

so a spot book and a perpetual are never merged into one view by accident. Instrument metadata,
when at hand, is the better source: `SymbolMap.add` overrides the rules for any (venue, symbol).

Prices. Each venue's book holds integer ticks on its own grid. Best bid/ask across venues is
decided *exactly*, never on floats: every price is held as an integer count of 1e-18 (ticks x
tick_units x 10**(18 - price_decimals)), which orders prices on any two grids exactly and, where
venues share a grid, is just the tick comparison scaled by a constant. The book kernel's grids
stop at 1e-15, so 1e-18 always holds them. Floats appear only at the edges: the prices a caller
reads, and fee-adjusted prices (a fee in bps does not live on any grid), which are ordered as
floats with the exact raw price breaking ties.

Cost. `update(venue, book)` reads the venue's top (one kernel call), re-keys it, and adjusts
the best across venues incrementally: a venue that improves on the best takes it (O(1)); only
when the venue holding the best gets worse or leaves is the side re-scanned (O(venues)). It
never rebuilds from the books. `ladder` and `cross_venue_spread` are computed when asked
(O(venues x n) and O(venues)); they are read paths, not per-update work.

Exclusion. A venue is left out of every answer while its book is invalid (`book.valid` False:
a gap or checksum failure not yet repaired), while its own book is crossed (bid >= ask: it
cannot be right), or while someone (the data-quality monitor's subscriber, risk, an operator)
has suspended it; `view()` and `excluded()` say which venues are out and why. Normalizers mark a
book invalid without calling `on_book`, so every read of the best re-checks the validity of the
book it is about to report (one attribute read) and re-scans if that book went bad.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from tradecore._fast.book import L2Book

log = logging.getLogger("tradecore.book")

BID = 0
ASK = 1

# -- symbols ------------------------------------------------------------------------------------

# Quote assets of concatenated symbols (Binance "BTCUSDT"). Longest first, so "BTCFDUSD" is
# BTC/FDUSD and not BTCFD/USD, "XRPBUSD" is XRP/BUSD and not XRPB/USD.
KNOWN_QUOTES: tuple[str, ...] = tuple(sorted((
    "FDUSD", "USDT", "USDC", "TUSD", "BUSD", "USDP", "USDS", "IDRT", "BIDR", "AEUR", "EURI",
    "DAI", "USD", "EUR", "GBP", "TRY", "BRL", "AUD", "JPY", "RUB", "UAH", "ZAR", "NGN", "PLN",
    "RON", "ARS", "MXN", "COP", "CZK", "CHF", "CAD", "BTC", "ETH", "BNB", "XRP", "TRX", "DOGE",
), key=lambda q: (-len(q), q)))

# Kraken's own asset codes (its documented exceptions to the usual tickers).
KRAKEN_ASSETS = {"XBT": "BTC", "XDG": "DOGE"}

# Quotes whose derivatives settle in the quote (linear); any other quote means an inverse
# (coin-margined) contract settled in the base, as on OKX and Binance COIN-M.
_LINEAR_QUOTES = frozenset({"USDT", "USDC", "FDUSD", "BUSD"})


def _settle(base: str, quote: str) -> str:
    return quote if quote in _LINEAR_QUOTES else base


def _split_concatenated(symbol: str, quotes: tuple[str, ...]) -> tuple[str, str]:
    for q in quotes:
        if symbol.endswith(q) and len(symbol) > len(q):
            return symbol[:-len(q)], q
    raise ValueError(f"cannot split {symbol!r} into base and quote: it ends in none of the "
                     f"known quotes ({', '.join(quotes)}); add it with SymbolMap.add")


def _binance(venue: str, symbol: str, quotes: tuple[str, ...]) -> str:
    s = symbol.upper()
    pair, _, suffix = s.partition("_")
    base, quote = _split_concatenated(pair, quotes)
    if suffix == "PERP":                              # COIN-M perpetual: BTCUSD_PERP
        return f"{base}/{quote}:{_settle(base, quote)}"
    if suffix:                                        # delivery: BTCUSDT_240329, BTCUSD_240329
        if not (suffix.isdigit() and len(suffix) == 6):
            raise ValueError(f"binance symbol {symbol!r}: suffix {suffix!r} is neither PERP "
                             f"nor a YYMMDD delivery date")
        return f"{base}/{quote}:{_settle(base, quote)}-{suffix}"
    if venue in ("binance_usdm", "binance_coinm", "binance_futures"):
        return f"{base}/{quote}:{_settle(base, quote)}"   # USD-M perpetual: plain BTCUSDT
    return f"{base}/{quote}"


def _kraken(symbol: str, quotes: tuple[str, ...]) -> str:
    s = symbol.upper()
    if "/" in s:                                      # WebSocket v1/v2: XBT/USDT, BTC/USD
        base, _, quote = s.partition("/")
    elif len(s) == 8 and s[0] in "XZ" and s[4] in "XZ":
        base, quote = s[1:4], s[5:]                   # REST pair names: XXBTZUSD, XETHZEUR
    else:                                             # REST altnames: XBTUSDT
        base, quote = _split_concatenated(s, quotes)
    if not base or not quote or "/" in quote:
        raise ValueError(f"kraken pair {symbol!r} is not BASE/QUOTE")
    return f"{KRAKEN_ASSETS.get(base, base)}/{KRAKEN_ASSETS.get(quote, quote)}"


def _okx(symbol: str) -> str:
    parts = symbol.upper().split("-")
    if len(parts) < 2 or not all(parts):
        raise ValueError(f"okx instId {symbol!r} is not BASE-QUOTE[-SWAP|-YYMMDD[-STRIKE-C|P]]")
    base, quote, rest = parts[0], parts[1], parts[2:]
    if not rest:
        return f"{base}/{quote}"                      # spot: BTC-USDT
    settle = _settle(base, quote)
    if rest == ["SWAP"]:                              # BTC-USDT-SWAP, BTC-USD-SWAP
        return f"{base}/{quote}:{settle}"
    if rest[0].isdigit() and len(rest[0]) == 6 and (
            len(rest) == 1 or (len(rest) == 3 and rest[2] in ("C", "P"))):
        return f"{base}/{quote}:{settle}-{'-'.join(rest)}"   # futures and options
    raise ValueError(f"okx instId {symbol!r}: unknown instrument form")


def _coinbase(symbol: str) -> str:
    parts = symbol.upper().split("-")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"coinbase product {symbol!r} is not BASE-QUOTE (derivatives such "
                         f"as *-PERP-INTX are not mapped)")
    return f"{parts[0]}/{parts[1]}"


def _asset(code: str) -> bool:
    return bool(code) and all(c.isascii() and (c.isalnum() or c == ".") for c in code)


def canonical_symbol(venue: str, symbol: str, quotes: tuple[str, ...] = KNOWN_QUOTES) -> str:
    """The unified name of a venue's instrument (see the module docstring), ValueError when the
    symbol cannot be read.

    venue is the normalizer's venue name ("binance", "kraken", "okx", "coinbase"). Binance
    futures share spot's symbol text ("BTCUSDT" is spot and the USD-M perpetual), so name the
    market: "binance_usdm" / "binance_coinm"; delivery contracts ("BTCUSDT_240329") and COIN-M
    perpetuals ("BTCUSD_PERP") are recognised from the symbol itself. Any other venue's
    "BASE/QUOTE" or "BASE-QUOTE" is read as spot.
    """
    if not isinstance(symbol, str) or not symbol:
        raise ValueError(f"symbol {symbol!r} must be non-empty text")
    v = venue.lower()
    if v.startswith("binance"):
        c = _binance(v, symbol, quotes)
    elif v.startswith("kraken"):
        c = _kraken(symbol, quotes)
    elif v.startswith("okx"):
        c = _okx(symbol)
    elif v.startswith("coinbase"):
        c = _coinbase(symbol)
    else:
        s = symbol.upper()
        for sep in ("/", "-"):
            base, found, quote = s.partition(sep)
            if found and base and quote and sep not in quote:
                c = f"{base}/{quote}"
                break
        else:
            raise ValueError(f"no symbol rule for venue {venue!r} and {symbol!r} is not "
                             f"BASE/QUOTE or BASE-QUOTE; add it with SymbolMap.add")
    base, _, quote = c.partition(":")[0].partition("/")
    if not (_asset(base) and _asset(quote)):
        raise ValueError(f"{venue} symbol {symbol!r} does not read as BASE/QUOTE "
                         f"(got {base!r} / {quote!r})")
    return c


class SymbolMap:
    """(venue, symbol) -> canonical symbol: explicit entries (instrument metadata) first, the
    venues' conventions (`canonical_symbol`) otherwise; answers are cached."""

    def __init__(self, entries: Mapping[tuple[str, str], str] | None = None,
                 quotes: tuple[str, ...] = KNOWN_QUOTES) -> None:
        self.quotes = tuple(sorted(quotes, key=lambda q: (-len(q), q)))
        self._map: dict[tuple[str, str], str] = dict(entries or {})

    def add(self, venue: str, symbol: str, canonical: str) -> None:
        self._map[(venue, symbol)] = canonical

    def canonical(self, venue: str, symbol: str) -> str:
        c = self._map.get((venue, symbol))
        if c is None:
            c = self._map[(venue, symbol)] = canonical_symbol(venue, symbol, self.quotes)
        return c


# -- the consolidated book --------------------------------------------------------------------

SCALE_DECIMALS = 18
_SCALE = 10 ** SCALE_DECIMALS

INVALID = "invalid"       # exclusion reasons shown in view()
CROSSED = "crossed"


class Top(NamedTuple):
    """A best level across venues."""
    venue: str
    price: float
    size: float


class LadderLevel(NamedTuple):
    """One level of a merged ladder. `price` is fee-adjusted (what a buy pays per unit, or a
    sell receives), `raw_price` the venue's own price."""
    price: float
    size: float
    venue: str
    raw_price: float


@dataclass(frozen=True, slots=True)
class CrossSpread:
    """Best bid on one venue against best ask on another, fee-adjusted: buying at `ask` on
    `buy_venue` and selling at `bid` on `sell_venue` earns `edge` per unit (before slippage,
    transfer and inventory costs); positive edge is an opportunity, of at most `size`."""
    sell_venue: str
    bid: float
    bid_adj: float
    buy_venue: str
    ask: float
    ask_adj: float
    size: float
    edge: float
    edge_bps: float


class VenueTop:
    """One venue's top of book as the consolidated view last saw it. Prices are exact keys in
    the book's key space (bid key = price, ask key = -price, in units of 1e-18), so that on
    both sides "better" is "larger"; `key[side]` is None while that side is empty or the venue
    is excluded."""
    __slots__ = ("venue", "book", "key", "lots", "ts_ns", "excluded", "suspended",
                 "_pscale", "_sdiv", "_lot_units")

    def __init__(self, venue: str) -> None:
        self.venue = venue
        self.book: L2Book | None = None
        self.key: list[int | None] = [None, None]
        self.lots: list[int] = [0, 0]
        self.ts_ns = 0
        self.excluded: str | None = None      # why this venue is out of every answer
        self.suspended: str | None = None     # an outside reason (suspend/resume)
        self._pscale = 0
        self._sdiv = 1
        self._lot_units = 1

    def _regrid(self, book: L2Book) -> None:
        self._pscale = book.tick_units * 10 ** (SCALE_DECIMALS - book.price_decimals)
        self._lot_units = book.lot_units
        self._sdiv = 10 ** book.size_decimals

    def price(self, side: int) -> float | None:
        k = self.key[side]
        if k is None:
            return None
        return (k if side == BID else -k) / _SCALE

    def size(self, side: int) -> float | None:
        if self.key[side] is None:
            return None
        return self.lots[side] * self._lot_units / self._sdiv

    def __repr__(self) -> str:
        return (f"VenueTop({self.venue!r}, bid={self.price(BID)} x {self.size(BID)}, "
                f"ask={self.price(ASK)} x {self.size(ASK)}, excluded={self.excluded!r})")


def _fee_multiplier(fees: Mapping[str, float] | None, venue: str, side: int) -> float:
    if fees is None:
        return 1.0
    try:
        bps = fees[venue]
    except KeyError:
        raise ValueError(f"no taker fee for venue {venue!r} in fees {dict(fees)}: a missing "
                         f"fee would overstate every opportunity there") from None
    return 1.0 + bps / 1e4 if side == ASK else 1.0 - bps / 1e4


class ConsolidatedBook:
    """Best bid/ask per venue and across venues for one canonical symbol (module docstring).

    Ties between venues at the same price: the venue that reached the price first keeps the
    best; after a re-scan, the venue seen first (insertion order) wins.

    fees_bps: taker fee in bps per venue, used by `ladder` and `cross_venue_spread` when they
    are called without fees (None: raw prices)."""

    def __init__(self, symbol: str, fees_bps: Mapping[str, float] | None = None) -> None:
        self.symbol = symbol
        self.fees_bps = dict(fees_bps) if fees_bps is not None else None
        self.venues: dict[str, VenueTop] = {}
        self._best: list[VenueTop | None] = [None, None]
        self.updates = 0

    # -- input -------------------------------------------------------------------------------
    def update(self, venue: str, book: L2Book, ts_ns: int | None = None) -> bool:
        """A venue's book changed (or was replaced). Returns True when the best bid or ask
        across venues changed (venue, price or size)."""
        e = self.venues.get(venue)
        if e is None:
            e = self.venues[venue] = VenueTop(venue)
        if e.book is not book:
            # a new book (first sight, snapshot, re-grid): grids are fixed per L2Book
            e.book = book
            e._regrid(book)
        e.ts_ns = book.ts_ns if ts_ns is None else ts_ns
        self.updates += 1
        b0, b1 = self._best
        before = (b0, b0.key[0] if b0 else None, b0.lots[0] if b0 else 0,
                  b1, b1.key[1] if b1 else None, b1.lots[1] if b1 else 0)
        old = (e.key[0], e.key[1])
        self._read(e)
        for side in (BID, ASK):
            self._adjust(e, side, old[side])
        b0, b1 = self._best
        return before != (b0, b0.key[0] if b0 else None, b0.lots[0] if b0 else 0,
                          b1, b1.key[1] if b1 else None, b1.lots[1] if b1 else 0)

    def _read(self, e: VenueTop) -> None:
        """Re-read a venue's top from its book and decide whether it is excluded."""
        book = e.book
        s = e._pscale
        top = book.top_ticks()
        if top is not None:
            e.key[0], e.lots[0], e.key[1], e.lots[1] = top[0] * s, top[1], -top[2] * s, top[3]
        else:
            for side in (BID, ASK):
                t = book.best_ticks(side)
                if t is None:
                    e.key[side], e.lots[side] = None, 0
                else:
                    e.key[side] = t[0] * s if side == BID else -t[0] * s
                    e.lots[side] = t[1]
        if not book.valid:
            e.excluded = INVALID
        elif e.suspended is not None:
            e.excluded = e.suspended
        elif top is not None and top[0] >= top[2]:
            e.excluded = CROSSED
        else:
            e.excluded = None
        if e.excluded is not None:
            e.key[0] = e.key[1] = None

    def _adjust(self, e: VenueTop, side: int, old: int | None) -> None:
        best = self._best[side]
        k = e.key[side]
        if best is e:
            if k is None or (old is not None and k < old):
                self._rescan(side)      # the best got worse or left: who is best now?
        elif k is not None and (best is None or k > best.key[side]):
            self._best[side] = e

    def _rescan(self, side: int) -> None:
        best = None
        bk = None
        for v in self.venues.values():
            k = v.key[side]
            if k is not None and (bk is None or k > bk):
                best, bk = v, k
        self._best[side] = best

    def _checked(self, side: int) -> VenueTop | None:
        """The best of a side, after making sure its book has not been marked invalid since
        (normalizers invalidate without calling on_book)."""
        e = self._best[side]
        while e is not None and not e.book.valid:
            e.excluded = INVALID
            e.key[0] = e.key[1] = None
            self._rescan(BID)
            self._rescan(ASK)
            e = self._best[side]
        return e

    def suspend(self, venue: str, reason: str) -> None:
        """Leave a venue out of every answer (e.g. on a stale or outlier event) until resumed."""
        e = self.venues.get(venue)
        if e is None:
            e = self.venues[venue] = VenueTop(venue)
        e.suspended = reason
        e.excluded = reason if e.excluded is None else e.excluded
        e.key[0] = e.key[1] = None
        self._rescan(BID)
        self._rescan(ASK)

    def resume(self, venue: str) -> None:
        e = self.venues.get(venue)
        if e is None or e.suspended is None:
            return
        e.suspended = None
        if e.book is not None:
            self._read(e)
            for side in (BID, ASK):
                self._adjust(e, side, None)
        else:
            e.excluded = None

    def refresh(self) -> None:
        """Re-read every venue's book (after changes that did not come through `update`, such
        as a Binance snapshot load, which fires no on_book): O(venues)."""
        for e in self.venues.values():
            if e.book is not None:
                self._read(e)
        self._rescan(BID)
        self._rescan(ASK)

    # -- reads -------------------------------------------------------------------------------
    def best_bid(self) -> Top | None:
        e = self._checked(BID)
        return None if e is None else Top(e.venue, e.price(BID), e.size(BID))

    def best_ask(self) -> Top | None:
        e = self._checked(ASK)
        return None if e is None else Top(e.venue, e.price(ASK), e.size(ASK))

    def best_key(self, side: int) -> tuple[str, int] | None:
        """(venue, exact price in units of 1e-18) of the best of a side: for exact checks."""
        e = self._checked(side)
        if e is None:
            return None
        k = e.key[side]
        return e.venue, (k if side == BID else -k)

    def excluded(self) -> dict[str, str]:
        """Venues left out of every answer, and why."""
        for e in self.venues.values():     # catch invalidations that fired no on_book
            if e.book is not None and not e.book.valid and e.excluded != INVALID:
                e.excluded = INVALID
                e.key[0] = e.key[1] = None
                self._rescan(BID)
                self._rescan(ASK)
        return {v: e.excluded for v, e in self.venues.items() if e.excluded is not None}

    def ladder(self, side: int, n: int, fees: Mapping[str, float] | None = None
               ) -> list[LadderLevel]:
        """The best n levels of one side across the included venues, best first.

        side 0: bids, what a sell receives, price x (1 - fee); side 1: asks, what a buy pays,
        price x (1 + fee). fees: taker fee in bps per venue (every included venue must have
        one); None: the book's `fees_bps` (raw prices when that is None too). Ordered by
        adjusted price, ties by the exact raw price (better first), then by venue insertion
        order."""
        if fees is None:
            fees = self.fees_bps
        if side not in (BID, ASK):
            raise ValueError(f"side {side} must be 0 (bid) or 1 (ask)")
        if n <= 0:
            return []
        self.excluded()
        rows = []
        for order, e in enumerate(self.venues.values()):
            if e.excluded is not None or e.book is None:
                continue
            mult = _fee_multiplier(fees, e.venue, side)
            s = e._pscale
            for t, q in e.book.depth_ticks(side, n).tolist():
                k = t * s
                raw = k / _SCALE
                adj = raw * mult
                # sort key: better first on both sides
                rows.append(((-adj if side == BID else adj), (-k if side == BID else k), order,
                             LadderLevel(adj, q * e._lot_units / e._sdiv, e.venue, raw)))
        rows.sort(key=lambda r: r[:3])
        return [r[3] for r in rows[:n]]

    def cross_venue_spread(self, fees: Mapping[str, float] | None = None) -> CrossSpread | None:
        """The best (highest edge) pair of a bid on one venue and an ask on another, after
        taker fees (bps per venue; None: the book's `fees_bps`, raw prices when that is None).
        None with fewer than two venues quoting. O(venues): the two best adjusted bids and
        asks, so that when one venue holds both the best bid and the best ask the better of
        the two cross pairs is taken."""
        if fees is None:
            fees = self.fees_bps
        self.excluded()
        bids: list[tuple[float, VenueTop]] = []
        asks: list[tuple[float, VenueTop]] = []
        for e in self.venues.values():
            if e.excluded is not None:
                continue
            if e.key[BID] is not None:
                bids.append((e.price(BID) * _fee_multiplier(fees, e.venue, BID), e))
            if e.key[ASK] is not None:
                asks.append((e.price(ASK) * _fee_multiplier(fees, e.venue, ASK), e))
        b2 = _top2(bids, larger=True)
        a2 = _top2(asks, larger=False)
        pairs = [(b, a) for b in b2 for a in a2 if b[1] is not a[1]]
        if not pairs:
            return None
        (bid_adj, be), (ask_adj, ae) = max(pairs, key=lambda p: p[0][0] - p[1][0])
        edge = bid_adj - ask_adj
        return CrossSpread(be.venue, be.price(BID), bid_adj, ae.venue, ae.price(ASK), ask_adj,
                           min(be.size(BID), ae.size(ASK)), edge, edge / ask_adj * 1e4)

    def view(self) -> dict:
        """Plain data for dashboards and logs: best across venues, each venue's top, and the
        venues left out with the reason."""
        bb, ba = self.best_bid(), self.best_ask()
        return {
            "symbol": self.symbol,
            "best_bid": None if bb is None else bb._asdict(),
            "best_ask": None if ba is None else ba._asdict(),
            "venues": {v: {"bid": None if e.key[BID] is None else [e.price(BID), e.size(BID)],
                           "ask": None if e.key[ASK] is None else [e.price(ASK), e.size(ASK)],
                           "valid": bool(e.book.valid) if e.book is not None else None,
                           "excluded": e.excluded, "ts_ns": e.ts_ns}
                       for v, e in self.venues.items()},
            "excluded": self.excluded(),
        }

    def __repr__(self) -> str:
        return (f"ConsolidatedBook({self.symbol!r}, venues={list(self.venues)}, "
                f"best_bid={self.best_bid()}, best_ask={self.best_ask()})")


def _top2(xs: list[tuple[float, VenueTop]], larger: bool) -> list[tuple[float, VenueTop]]:
    first = second = None
    for x in xs:
        if first is None or (x[0] > first[0] if larger else x[0] < first[0]):
            first, second = x, first
        elif second is None or (x[0] > second[0] if larger else x[0] < second[0]):
            second = x
    return [x for x in (first, second) if x is not None]


class ConsolidatedBooks:
    """Every canonical symbol's ConsolidatedBook, fed from the normalizers' on_book callbacks.

    One entry per venue and symbol: if a venue's symbol arrives on two connections, the last
    update wins, so give redundant connections distinct venue names ("binance#2") or feed only
    one of them. Symbols no rule can read are counted in `unmapped` and ignored (logged once);
    so are OKX's "inst@channel" books (books5, bbo-tbt), a second book of an instrument the
    venue already has (map one with SymbolMap.add under its own venue name if wanted).
    """

    def __init__(self, symbols: SymbolMap | None = None,
                 fees_bps: Mapping[str, float] | None = None) -> None:
        """fees_bps: taker fee per venue in bps, given to every ConsolidatedBook created."""
        self.symbols = symbols if symbols is not None else SymbolMap()
        self.fees_bps = fees_bps
        self.books: dict[str, ConsolidatedBook] = {}
        self._route: dict[tuple[str, str], ConsolidatedBook | None] = {}
        self.unmapped: Counter = Counter()

    def __getitem__(self, canonical: str) -> ConsolidatedBook:
        return self.books[canonical]

    def get(self, canonical: str) -> ConsolidatedBook | None:
        return self.books.get(canonical)

    def book_for(self, venue: str, symbol: str) -> ConsolidatedBook | None:
        route = (venue, symbol)
        try:
            return self._route[route]
        except KeyError:
            pass
        try:
            c = self.symbols.canonical(venue, symbol)
        except ValueError as e:
            log.warning("consolidated book: %s %s left out: %s", venue, symbol, e)
            cb = None
        else:
            cb = self.books.get(c)
            if cb is None:
                cb = self.books[c] = ConsolidatedBook(c, self.fees_bps)
        self._route[route] = cb
        return cb

    def update(self, venue: str, symbol: str, book: L2Book,
               ts_ns: int | None = None) -> ConsolidatedBook | None:
        """Route one venue book change; returns the consolidated book it went to, or None."""
        cb = self._route.get((venue, symbol))
        if cb is None:
            cb = self.book_for(venue, symbol)
            if cb is None:
                self.unmapped[(venue, symbol)] += 1
                return None
        cb.update(venue, book, ts_ns)
        return cb

    def on_book_for(self, venue: str, then: Callable | None = None
                    ) -> Callable[[tuple[str, str], L2Book], None]:
        """A normalizer `on_book(key, book)` callback feeding this view (and then `then`, if
        given, so it chains with other consumers)."""
        update = self.update

        def on_book(key: tuple[str, str], book: L2Book) -> None:
            update(venue, key[1], book)
            if then is not None:
                then(key, book)
        return on_book
