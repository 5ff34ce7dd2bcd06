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
from tradecore._fast.jsonscan import DepthScanner, DepthSync, FramePath, ScanResult, SyncResult
from tradecore.core.events import BUY, SELL, Trade
from tradecore.venues.base import BookKey, BookNormalizer, FeedStats, regrid

SCAN_DEPTH = int(ScanResult.SCAN_DEPTH)
SCAN_OTHER = int(ScanResult.SCAN_OTHER)
APPLIED = int(SyncResult.SYNC_APPLIED)
BUFFER = int(SyncResult.SYNC_BUFFER)
DROP = int(SyncResult.SYNC_DROP)
GAP = int(SyncResult.SYNC_GAP)
BAD_LEVEL = int(SyncResult.SYNC_BAD_LEVEL)
ROUTED = DepthScanner().routed     # scan_sync: + ScanResult for frames it leaves to on_frame
MAX_BUFFERED = 20_000       # diffs held per book while waiting for a snapshot
PENDING_TICKERS = 4_096     # bookTickers kept per book until their diff arrives
REGRID_CODES = (2, 5, 12, 15)   # too many decimals / off the grid, for price or size


class _Book:
    """Per-book state around the compiled rule: the pre-snapshot buffer and pending tickers."""
    __slots__ = ("sync", "buffer", "pending_tickers")

    def __init__(self) -> None:
        self.sync = DepthSync()
        self.buffer: deque[tuple[int, int, int, bytes, int]] = deque(maxlen=MAX_BUFFERED)
        self.pending_tickers: OrderedDict[int, tuple[str, str, str, str]] = OrderedDict()


class BinanceNormalizer(BookNormalizer):
    venue = "binance"

    def __init__(self, symbols: list[str] | None = None, **kw) -> None:
        """symbols: the subscribed symbols; depth for any other is a problem (None: accept
        every symbol, as when verifying a recording)."""
        self._scan = DepthScanner()
        # the steady state, compiled (jsonscan.FramePath): it counts every frame, applies the
        # hinted book's next diff and calls the hooks; the rest comes to _on_frame
        self._path = FramePath(self._scan, self._on_frame, self._check_pending)
        self.on_frame = self._path.on_frame
        super().__init__(**kw)
        self.symbols = {s.upper() for s in symbols} if symbols else None
        self._state: dict[BookKey, _Book] = {}
        self._by_symbol: dict[str, list[BookKey]] = {}

    # the compiled path reads these on every frame: they live there
    @property
    def stats(self) -> FeedStats:
        return self._path.stats

    @stats.setter
    def stats(self, stats: FeedStats) -> None:
        self._path.stats = stats

    @property
    def on_book(self):
        return self._path.on_book

    @on_book.setter
    def on_book(self, hook) -> None:
        self._path.on_book = hook

    @property
    def on_levels(self):
        return self._path.on_levels

    @on_levels.setter
    def on_levels(self, hook) -> None:
        self._path.on_levels = hook

    # -- frames ----------------------------------------------------------------------------------
    def on_frame(self, data: bytes, conn: str = "ws", ts_ns: int = 0) -> None:
        """One frame. An instance's on_frame is FramePath.on_frame itself (bound in __init__,
        so that the steady state costs no Python frame); this is the same for calls through
        the class."""
        self._path.on_frame(data, conn, ts_ns)

    def _on_frame(self, data: bytes, conn: str, ts_ns: int, r: int) -> None:
        """What FramePath.on_frame leaves (it has counted the frame): r is scan_sync's result
        for a frame on the hinted connection that was not applied (or not the hinted book's),
        -1 for a frame it did not scan."""
        sc = self._scan
        if r >= 0:
            if r < ROUTED:
                self._not_applied(self._path.key, self._path.state, r, ts_ns)
                return
            kind = r - ROUTED
        else:
            kind = sc.scan(data)
        if kind == SCAN_DEPTH:
            key = (conn, sc.symbol)
            st = self._state.get(key)
            if st is None:
                st = self._new_book(key)
                if st is None:
                    return
            self._path.hint(conn, key, st, st.sync, sc.symbol_bytes, st.pending_tickers)
            r = st.sync.on_depth(sc, ts_ns)
            if r == APPLIED:
                self.stats.levels += sc.level_count
                if self.on_levels is not None:
                    self.on_levels(key, ts_ns, sc.last_id, sc.level_texts(), False)
                if self.on_book is not None:
                    self.on_book(key, st.sync.book)
                if st.pending_tickers:          # the top's audit, after the consumers
                    self._check_pending(st)
            else:
                self._not_applied(key, st, r, ts_ns)
        elif kind == SCAN_OTHER:
            self._on_json(data, conn, ts_ns)
        else:
            self.problem("?", "malformed_frame", f"{sc.error}: {data[:80]!r}")

    def _new_book(self, key: BookKey) -> _Book | None:
        if self.symbols is not None and key[1] not in self.symbols:
            self.problem(key[1], "unknown_symbol", f"depth for unsubscribed {key[1]}")
            return None
        st = self._state[key] = _Book()
        self._by_symbol.setdefault(key[1], []).append(key)
        return st

    def _not_applied(self, key: BookKey, st: _Book, r: int, ts_ns: int,
                     notify: bool = True) -> None:
        """notify=False while a snapshot load replays the buffer (it notifies once, after)."""
        sc, sync = self._scan, st.sync
        if r == BUFFER:
            st.buffer.append((sc.first_id, sc.last_id, sc.prev_last_id, sc.frame, ts_ns))
        elif r == DROP:
            if not sync.first:
                self.problem(key[1], "stale_update", f"u {sc.last_id} <= last u {sync.last_u}")
        elif r == GAP:
            self._gap(key, st, f"diff U={sc.first_id} u={sc.last_id} pu={sc.prev_last_id} "
                               f"does not follow u={sync.last_u}"
                               + (" (first after snapshot)" if sync.first else ""))
            st.buffer.append((sc.first_id, sc.last_id, sc.prev_last_id, sc.frame, ts_ns))
        elif r == BAD_LEVEL:
            code = sync.last_code
            if code in REGRID_CODES:
                # the grid was inferred from the snapshot; this diff shows a finer one
                levels = sc.level_texts()
                new = regrid(sync.book, [p for _, p, _ in levels], [q for _, _, q in levels])
                if new is not None:
                    sync.book = self.books[key] = new
                    if sync.apply(sc, ts_ns) == APPLIED:
                        self.stats.levels += sc.level_count
                        if self.on_levels is not None:
                            self.on_levels(key, ts_ns, sc.last_id, sc.level_texts(), False)
                        if notify and self.on_book is not None:
                            self.on_book(key, new)
                        return
                    code = sync.last_code
            # the exchange's sequence moved on without us: the book no longer matches it
            self._gap(key, st, f"bad level in diff u={sc.last_id}: {sc.error}: "
                               f"{reason_text(code)}", reason="bad_level")

    def _gap(self, key: BookKey, st: _Book, detail: str, reason: str = "sequence_gap") -> None:
        if reason == "sequence_gap":
            self.stats.gaps += 1
        st.sync.synced = False
        st.sync.forget_tops()
        st.buffer.clear()
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
        keys = [k for k in self._by_symbol.get(symbol, []) if not self._state[k].sync.synced]
        if not keys:
            keys = [k for k in self._by_symbol.get(symbol, [])] or [("ws", symbol)]
        for key in keys:
            self._load(key, last_id, bids, asks, ts_ns)

    def on_snapshot(self, conn: str, symbol: str, data: bytes, ts_ns: int = 0) -> None:
        """A REST depth snapshot fetched for one connection's book (the live feed's path: the
        feed knows which book it asked for)."""
        self.stats.messages += 1
        try:
            snap = orjson.loads(data)
            last_id, bids, asks = snap["lastUpdateId"], snap["bids"], snap["asks"]
            if not isinstance(last_id, int) or not isinstance(bids, list) \
                    or not isinstance(asks, list):
                raise TypeError("lastUpdateId must be an int and bids/asks lists")
        except (orjson.JSONDecodeError, KeyError, TypeError) as e:
            self.problem(symbol, "bad_snapshot", f"{type(e).__name__}: {e}")
            return
        self._load((conn, symbol), last_id, bids, asks, ts_ns)

    def _snapshot_symbol(self, url: str) -> str | None:
        if url:
            q = parse_qs(urlparse(url).query)
            if "symbol" in q:
                return q["symbol"][0].upper()
        if len(self._by_symbol) == 1:
            return next(iter(self._by_symbol))
        return None

    def _load(self, key: BookKey, last_id: int, bids: list, asks: list, ts_ns: int) -> None:
        st = self._state.get(key) or self._new_book(key)
        if st is None:
            return
        if not self.load_snapshot(key, bids, asks, seq=last_id, ts_ns=ts_ns):
            return
        sync, sc = st.sync, self._scan
        sync.start(self.books[key], last_id)
        pending = list(st.buffer)
        st.buffer.clear()
        for U, u, pu, frame, ts in pending:
            if pu >= 0:
                sync.futures = True
            r = sync.rule(U, u, pu)
            if r == DROP:
                continue
            if sc.scan(frame) != SCAN_DEPTH:
                continue
            if r == APPLIED:
                r = sync.apply(sc, ts)
                if r == APPLIED:
                    self.stats.levels += sc.level_count
                    if self.on_levels is not None:
                        self.on_levels(key, ts, sc.last_id, sc.level_texts(), False)
                    continue
            self._not_applied(key, st, r, ts, notify=False)
            if not sync.synced:
                st.buffer.extend(x for x in pending if x[1] > u)
                return
        if self.on_book is not None and sync.synced:
            self.on_book(key, sync.book)

    def drop_connection(self, conn: str) -> None:
        """Forget every book of a connection that is gone (its sequence dies with it)."""
        if self._path.conn == conn:
            self._path.forget()
        for key in [k for k in self._state if k[0] == conn]:
            del self._state[key]
            self.books.pop(key, None)
            self.needs_resync.discard(key)
            keys = self._by_symbol.get(key[1], [])
            if key in keys:
                keys.remove(key)

    def waiting_for_snapshot(self, conn: str) -> list[str]:
        """Symbols of a connection whose books need a (new) REST snapshot."""
        return [k[1] for k, st in self._state.items() if k[0] == conn and not st.sync.synced]

    def synced(self, conn: str, symbol: str) -> bool:
        st = self._state.get((conn, symbol))
        return st is not None and st.sync.synced

    def unrecovered(self) -> list[BookKey]:
        """Books left invalid, including those whose diffs never met a snapshot."""
        return sorted(set(self.needs_resync)
                      | {k for k, st in self._state.items() if not st.sync.synced})

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
    def _on_ticker(self, conn: str, d: dict) -> None:
        st = self._state.get((conn, d["s"]))
        if st is None or not st.sync.synced:
            return
        sync = st.sync
        sync.track_tops = True
        u = d["u"]
        t = (d["b"], d["B"], d["a"], d["A"])
        found, top = sync.top_after(u)
        if found:
            self._check_top(sync.book, top, t)
        elif u > sync.last_u:
            st.pending_tickers[u] = t
            if len(st.pending_tickers) > PENDING_TICKERS:
                st.pending_tickers.popitem(last=False)

    def _check_pending(self, st: _Book) -> None:
        t = st.pending_tickers.pop(st.sync.last_u, None)
        if t is not None:
            self._check_top(st.sync.book, st.sync.book.top_ticks(), t)
        # tickers for ids the book has passed without a matching diff cannot be checked
        while st.pending_tickers:
            u = next(iter(st.pending_tickers))
            if u > st.sync.last_u:
                break
            del st.pending_tickers[u]

    def _check_top(self, book: L2Book, top: tuple | None, t: tuple) -> None:
        try:
            want = (parse_units(t[0], book.price_decimals) // book.tick_units,
                    parse_units(t[1], book.size_decimals) // book.lot_units,
                    parse_units(t[2], book.price_decimals) // book.tick_units,
                    parse_units(t[3], book.size_decimals) // book.lot_units)
        except ValueError as e:
            self.problem("?", "bad_ticker", str(e))
            return
        if top == want:
            self.stats.top_checks_ok += 1
        else:
            self.stats.top_checks_bad += 1
            self.problem("?", "top_mismatch", f"book top {top} != bookTicker {t}")
