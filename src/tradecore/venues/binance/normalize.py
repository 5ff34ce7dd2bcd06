"""Binance depth streams synced to REST snapshots, exactly as Binance documents it.

Sync (one book per (connection, symbol)):
  * Diffs that arrive before the snapshot are buffered (bounded).
  * spot: drop diffs with u <= lastUpdateId; the first applied diff must have
    U <= lastUpdateId + 1 <= u; afterwards every diff must have U == previous u + 1.
  * futures (USD-M, COIN-M; recognised by the `pu` field): drop diffs with u < lastUpdateId;
    the first applied diff must have U <= lastUpdateId <= u; afterwards pu == previous u.
  * A break marks the book invalid (it is not traded on), counts a gap, and buffers diffs again
    until a new snapshot arrives: the live feed fetches one, a recording may contain one.
  * An old diff (u <= previous u) is a duplicate: dropped and counted, the book untouched.

The depth frames go through the compiled scanner (jsonscan.DepthScanner) straight into the
book; everything else (snapshots, trades, bookTicker, errors) through orjson.

Top-of-book oracle: a bookTicker carries the update id `u` it reflects. When it equals the `u`
of a diff, the book after that diff must show the ticker's best bid and ask (price and size).
Tickers can arrive before or after their diff on another stream, so both sides wait briefly.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from urllib.parse import parse_qs, urlparse

import orjson

from tradecore._fast.book import L2Book, reason_text
from tradecore._fast.fixed import parse_units
from tradecore._fast.jsonscan import DepthScanner, ScanResult
from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.base import BookKey, BookNormalizer, regrid

SCAN_DEPTH = int(ScanResult.SCAN_DEPTH)
SCAN_OTHER = int(ScanResult.SCAN_OTHER)
MAX_BUFFERED = 20_000
REGRID_CODES = (2, 5, 12, 15)   # too many decimals / off the grid, for price or size       # diffs held per book while waiting for a snapshot
TOP_MEMORY = 4_096          # recent (u -> top) and pending tickers kept per book


class _Sync:
    """Sync state of one book."""
    __slots__ = ("book", "last_u", "futures", "buffer", "tops", "pending_tickers", "synced",
                 "first")

    def __init__(self) -> None:
        self.book: L2Book | None = None
        self.last_u = -1
        self.first = True       # no diff applied since the snapshot yet
        self.futures = False
        self.synced = False
        self.buffer: deque[tuple[int, int, int, bytes, int]] = deque(maxlen=MAX_BUFFERED)
        self.tops: OrderedDict[int, tuple | None] = OrderedDict()
        self.pending_tickers: OrderedDict[int, tuple[str, str, str, str]] = OrderedDict()


APPLY, DROP, GAP = 0, 1, 2


def sync_rule(st: _Sync, U: int, u: int, pu: int) -> int:
    """What Binance's documented procedure says to do with a diff, given the book's state."""
    if st.first:
        if (u < st.last_u) if st.futures else (u <= st.last_u):
            return DROP                              # older than the snapshot
        ok = (U <= st.last_u <= u) if st.futures else (U <= st.last_u + 1 <= u)
        return APPLY if ok else GAP
    if (pu == st.last_u) if st.futures else (U == st.last_u + 1):
        return APPLY
    return DROP if u <= st.last_u else GAP


class BinanceNormalizer(BookNormalizer):
    venue = "binance"

    def __init__(self, symbols: list[str] | None = None, **kw) -> None:
        """symbols: the subscribed symbols; depth for any other is a problem (None: accept
        every symbol, as when verifying a recording)."""
        super().__init__(**kw)
        self.symbols = {s.upper() for s in symbols} if symbols else None
        self._scan = DepthScanner()
        self._sync: dict[BookKey, _Sync] = {}
        self._by_symbol: dict[str, list[BookKey]] = {}

    # -- frames ----------------------------------------------------------------------------------
    def on_frame(self, data: bytes, conn: str = "ws", ts_ns: int = 0) -> None:
        self.stats.messages += 1
        kind = self._scan.scan(data)
        if kind == SCAN_DEPTH:
            self._on_depth(conn, ts_ns)
        elif kind == SCAN_OTHER:
            self._on_json(data, conn, ts_ns)
        else:
            self.problem("?", "malformed_frame", f"{self._scan.error}: {data[:80]!r}")

    def _state(self, key: BookKey) -> _Sync:
        st = self._sync.get(key)
        if st is None:
            st = self._sync[key] = _Sync()
            self._by_symbol.setdefault(key[1], []).append(key)
        return st

    def _on_depth(self, conn: str, ts_ns: int) -> None:
        sc = self._scan
        key = (conn, sc.symbol)
        st = self._sync.get(key)
        if st is None:
            if self.symbols is not None and key[1] not in self.symbols:
                self.problem(key[1], "unknown_symbol", f"depth for unsubscribed {key[1]}")
                return
            st = self._state(key)
        U, u, pu = sc.first_id, sc.last_id, sc.prev_last_id
        if st.book is None or not st.synced:
            st.futures = pu >= 0
            st.buffer.append((U, u, pu, sc.frame, ts_ns))
            return
        rule = sync_rule(st, U, u, pu)
        if rule == APPLY:
            self._apply_scanned(key, st, u, ts_ns)
        elif rule == DROP:
            if not st.first:
                self.problem(key[1], "stale_update", f"u {u} <= last u {st.last_u}")
        else:
            self._gap(key, st, f"diff U={U} u={u} pu={pu} does not follow u={st.last_u}"
                               + (" (first after snapshot)" if st.first else ""))
            st.buffer.append((U, u, pu, sc.frame, ts_ns))

    def _apply_scanned(self, key: BookKey, st: _Sync, u: int, ts_ns: int) -> None:
        book = st.book
        code = self._scan.apply_to(book)
        if code in REGRID_CODES:
            # the grid was inferred from the snapshot; this diff shows a finer one
            levels = self._scan.level_texts()
            new = regrid(book, [p for _, p, _ in levels], [q for _, _, q in levels])
            if new is not None:
                book = st.book = self.books[key] = new
                code = self._scan.apply_to(book)
        if code:
            # the exchange's sequence moved on without us: the book no longer matches it
            self._gap(key, st, f"bad level in diff u={u}: {self._scan.error}: "
                               f"{reason_text(code)}", reason="bad_level")
            return
        st.last_u = u
        st.first = False
        book.seq = u
        book.ts_ns = ts_ns
        self.stats.levels += self._scan.level_count
        self._remember_top(key, st, u)
        if self.on_book is not None:
            self.on_book(key, book)

    def _gap(self, key: BookKey, st: _Sync, detail: str, reason: str = "sequence_gap") -> None:
        if reason == "sequence_gap":
            self.stats.gaps += 1
        st.synced = False
        st.buffer.clear()
        st.tops.clear()
        self.invalidate(key, reason, detail)

    # -- snapshots ---------------------------------------------------------------------------------
    def on_rest(self, data: bytes, conn: str = "rest", ts_ns: int = 0, url: str = "") -> None:
        """A `GET depth` response. The symbol comes from the URL; captures without one (the
        single-symbol hftbacktest files) apply it to the only symbol seen."""
        self.stats.messages += 1
        try:
            snap = orjson.loads(data)
            last_id = snap["lastUpdateId"]
            bids, asks = snap["bids"], snap["asks"]
            if not isinstance(last_id, int) or not isinstance(bids, list) \
                    or not isinstance(asks, list):
                raise TypeError("lastUpdateId must be an int and bids/asks lists")
        except (orjson.JSONDecodeError, KeyError, TypeError) as e:
            self.problem("?", "bad_snapshot", f"{type(e).__name__}: {e}")
            return
        symbol = self._snapshot_symbol(url)
        if symbol is None:
            self.problem("?", "snapshot_symbol_unknown",
                         f"cannot tell which symbol a snapshot without URL is for ({url!r})")
            return
        keys = [k for k in self._by_symbol.get(symbol, []) if not self._sync[k].synced]
        if not keys:
            keys = [k for k in self._by_symbol.get(symbol, [])] or [("ws", symbol)]
        for key in keys:
            self._load(key, last_id, bids, asks, ts_ns)

    def _snapshot_symbol(self, url: str) -> str | None:
        if url:
            q = parse_qs(urlparse(url).query)
            if "symbol" in q:
                return q["symbol"][0].upper()
        if len(self._by_symbol) == 1:
            return next(iter(self._by_symbol))
        return None

    def _load(self, key: BookKey, last_id: int, bids: list, asks: list, ts_ns: int) -> None:
        st = self._state(key)
        if not self.load_snapshot(key, bids, asks, seq=last_id, ts_ns=ts_ns):
            return
        st.book = self.books[key]
        st.last_u = last_id
        st.synced = True
        st.first = True
        st.tops.clear()
        pending = list(st.buffer)
        st.buffer.clear()
        for U, u, pu, frame, ts in pending:
            if pu >= 0:
                st.futures = True
            rule = sync_rule(st, U, u, pu)
            if rule == DROP:
                continue
            if rule == GAP:
                self._gap(key, st, f"buffered diff U={U} u={u} pu={pu} does not follow "
                                   f"u={st.last_u}")
                st.buffer.extend(x for x in pending if x[1] >= u)
                return
            if self._scan.scan(frame) != SCAN_DEPTH:
                continue
            self._apply_scanned(key, st, u, ts)
            if not st.synced:
                return

    def unrecovered(self) -> list[BookKey]:
        """Books left invalid, including those whose diffs never met a snapshot."""
        return sorted(set(self.needs_resync)
                      | {k for k, st in self._sync.items() if not st.synced})

    # -- everything else -------------------------------------------------------------------------
    def _on_json(self, data: bytes, conn: str, ts_ns: int) -> None:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            self.problem("?", "malformed_frame", f"not JSON: {e}")
            return
        if not isinstance(msg, dict):
            self.problem("?", "malformed_frame", f"not a JSON object: {data[:80]!r}")
            return
        d = msg.get("data", msg)
        if not isinstance(d, dict):
            self.problem("?", "malformed_frame", f"data is not an object: {data[:80]!r}")
            return
        if "lastUpdateId" in d and "bids" in d:
            self.on_rest(data if d is msg else orjson.dumps(d), conn, ts_ns)
            self.stats.messages -= 1
            return
        e = d.get("e")
        try:
            if e in ("trade", "aggTrade"):
                self._on_trade(d, ts_ns)
            elif "u" in d and "b" in d and "a" in d and isinstance(d.get("b"), str):
                self._on_ticker(conn, d)
            elif "error" in d or ("code" in d and "msg" in d):
                self.problem(str(d.get("s", "?")), "venue_error", str(d)[:200])
            elif "result" in d and "id" in d:
                pass                                 # subscription acknowledgement
            elif e is None and "stream" not in msg:
                self.problem("?", "unknown_message", str(d)[:120])
        except (KeyError, TypeError, ValueError) as exc:
            self.problem(str(d.get("s", "?")), "bad_schema", f"{e}: {type(exc).__name__} {exc}")

    def _on_trade(self, d: dict, ts_ns: int) -> None:
        price, size = d["p"], d["q"]
        if not isinstance(price, str) or not isinstance(size, str):
            raise TypeError("trade p and q must be decimal text")
        if float(size) <= 0 or not float(price) > 0:
            raise ValueError(f"trade price {price} / size {size} must be positive")
        tid = d["t"] if d["e"] == "trade" else d["a"]
        self.emit_trade(Trade(self.venue, d["s"], price, size,
                              SELL if d["m"] else BUY, str(tid),
                              int(d.get("T", d.get("E", 0))) * 1_000_000, ts_ns))

    # -- top-of-book oracle -------------------------------------------------------------------
    def _top(self, book: L2Book) -> tuple | None:
        b, a = book.best_ticks(0), book.best_ticks(1)
        if b is None or a is None:
            return None
        return (b[0], b[1], a[0], a[1])

    def _remember_top(self, key: BookKey, st: _Sync, u: int) -> None:
        if st.pending_tickers:
            t = st.pending_tickers.pop(u, None)
            if t is not None:
                self._check_top(key, st.book, self._top(st.book), t)
        st.tops[u] = None      # the top is computed lazily only if a ticker asks for it
        if len(st.tops) > TOP_MEMORY:
            st.tops.popitem(last=False)
        # keep the concrete top for the most recent update ids only
        st.tops[u] = self._top(st.book)

    def _on_ticker(self, conn: str, d: dict) -> None:
        key = (conn, d["s"])
        st = self._sync.get(key)
        if st is None or st.book is None or not st.synced:
            return
        u = d["u"]
        t = (d["b"], d["B"], d["a"], d["A"])
        if u in st.tops:
            self._check_top(key, st.book, st.tops[u], t)
        elif u > st.last_u:
            st.pending_tickers[u] = t
            if len(st.pending_tickers) > TOP_MEMORY:
                st.pending_tickers.popitem(last=False)

    def _check_top(self, key: BookKey, book: L2Book, top: tuple | None, t: tuple) -> None:
        try:
            want = (parse_units(t[0], book.price_decimals) // book.tick_units,
                    parse_units(t[1], book.size_decimals) // book.lot_units,
                    parse_units(t[2], book.price_decimals) // book.tick_units,
                    parse_units(t[3], book.size_decimals) // book.lot_units)
        except ValueError as e:
            self.problem(key[1], "bad_ticker", str(e))
            return
        if top == want:
            self.stats.top_checks_ok += 1
        else:
            self.stats.top_checks_bad += 1
            self.problem(key[1], "top_mismatch", f"book top {top} != bookTicker {t}")
