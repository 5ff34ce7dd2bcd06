"""Market-data quality: is what the books say trustworthy right now?

`QualityMonitor` watches the flow the normalizers produce and keeps, per venue, counters the
metrics layer exports as they are (`as_dict()`), and raises `QualityEvent`s to subscribers
(strategies, risk, the consolidated book's suspend/resume) when something changes state:

| check        | input                               | event kinds (entering / leaving)      |
|--------------|-------------------------------------|---------------------------------------|
| sequence     | FeedStats deltas (gaps, resyncs,    | gap, resync, checksum_failure         |
|              | checksum failures)                  |                                       |
| crossed book | each book update (bid >= ask)       | crossed / uncrossed                   |
| staleness    | `tick(now)`: no update on a book or | stale / fresh                         |
|              | a connection for more than N s      |                                       |
| outlier      | each book update: a venue's mid vs  | outlier / outlier_cleared             |
|              | the median mid across venues        |                                       |
| clock skew   | each update with an exchange time:  | skew_high / skew_negative / skew_ok   |
|              | EWMA of (local - exchange) per venue|                                       |

Events fire on transitions only (a crossed book emits `crossed` once, not on every update),
so a subscriber sees a handful per incident, never a flood on the hot path. Time is whatever
the caller says: book updates carry their local receive time, `tick(now_ns)` takes the time
explicitly or from the injected `clock`, so every check is testable with a fake clock and
replays a recording the same way it runs live.

Outliers: the reference is the median mid of all fresh, valid, uncrossed venues quoting the
symbol *including* the venue judged, and it needs `outlier_min_venues` (3) of them. With three
venues and one bad, a leave-one-out median of the other two is their mean, which drags the
good venues' reference halfway to the bad one and flags them too; the median of all three is a
good venue's mid, so only the bad one deviates. With two venues nobody can tell which is wrong,
so nothing is flagged by default.

Clock skew: (local receive - exchange event time) is network latency plus the difference of
the two clocks. It is tracked per venue as an EWMA (alpha per sample) with its max and min;
after `skew_min_samples` the EWMA above `skew_high_ms` flags `skew_high` (we are slow, or our
clock is ahead) and below `-skew_negative_ms` flags `skew_negative` (a message "arrived before
it was sent": our clock is behind the exchange's). Single samples beyond either bound are only
counted, since one late frame (GC, a burst) is not a clock problem.

Normalizers' `on_book(key, book)` carries no exchange timestamp yet, so `book_callback` feeds
the book check without skew; a feed that knows the exchange time calls `on_book` with it.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields

from tradecore._fast.book import L2Book

log = logging.getLogger("tradecore.data.quality")

GAP = "gap"
RESYNC = "resync"
CHECKSUM_FAILURE = "checksum_failure"
CROSSED = "crossed"
UNCROSSED = "uncrossed"
STALE = "stale"
FRESH = "fresh"
OUTLIER = "outlier"
OUTLIER_CLEARED = "outlier_cleared"
SKEW_HIGH = "skew_high"
SKEW_NEGATIVE = "skew_negative"
SKEW_OK = "skew_ok"
KINDS = (GAP, RESYNC, CHECKSUM_FAILURE, CROSSED, UNCROSSED, STALE, FRESH, OUTLIER,
         OUTLIER_CLEARED, SKEW_HIGH, SKEW_NEGATIVE, SKEW_OK)

ALL = "*"          # the symbol of an event about a whole connection or feed


@dataclass(frozen=True, slots=True)
class QualityEvent:
    """Something about the data changed state. ts: ns since the epoch (the local receive time
    of the update that showed it, or the tick's now). conn: the connection, where one is
    concerned ("" for venue-wide events)."""
    venue: str
    symbol: str
    kind: str
    detail: str
    ts: int
    conn: str = ""


@dataclass
class QualityConfig:
    """Thresholds. Staleness defaults match the Binance feed's own watchdog (a silent
    connection 10 s, a book without updates 60 s: quiet symbols legitimately sit still for
    tens of seconds); tighten them per book for liquid markets with `stale_book_overrides`
    keyed by venue, (venue, symbol) or (venue, conn, symbol), and `stale_conn_overrides` keyed
    by venue or (venue, conn). Skew defaults: measured on the bundled recordings, OKX arrives
    ~124 ms after its event time, Coinbase ~16 ms *before* its message time and the Binance
    capture host ran 1.27 s behind Binance."""
    stale_book_s: float = 60.0
    stale_conn_s: float = 10.0
    stale_book_overrides: dict = field(default_factory=dict)
    stale_conn_overrides: dict = field(default_factory=dict)
    outlier_bps: float = 50.0
    outlier_min_venues: int = 3
    skew_high_ms: float = 500.0
    skew_negative_ms: float = 10.0
    skew_alpha: float = 0.05
    skew_min_samples: int = 20
    recent_events: int = 1000          # kept in QualityMonitor.recent for dashboards

    def __post_init__(self) -> None:
        def positive(name: str, value: object) -> None:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
                raise ValueError(f"quality config {name}={value!r}: expected a positive number")
        for name in ("stale_book_s", "stale_conn_s", "outlier_bps", "skew_high_ms",
                     "skew_negative_ms"):
            positive(name, getattr(self, name))
        for name in ("stale_book_overrides", "stale_conn_overrides"):
            for k, v in getattr(self, name).items():
                positive(f"{name}[{k!r}]", v)
        a = self.skew_alpha
        if not (isinstance(a, (int, float)) and not isinstance(a, bool) and 0.0 < a <= 1.0):
            raise ValueError(f"quality config skew_alpha={self.skew_alpha!r}: expected a float "
                             f"in (0, 1]")
        for name in ("outlier_min_venues", "skew_min_samples", "recent_events"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"quality config {name}={v!r}: expected an integer >= 1")
        if self.outlier_min_venues < 2:
            raise ValueError(f"quality config outlier_min_venues={self.outlier_min_venues}: "
                             f"expected >= 2 (one venue has nothing to disagree with)")

    def book_stale_ns(self, venue: str, conn: str, symbol: str) -> int:
        o = self.stale_book_overrides
        s = o.get((venue, conn, symbol), o.get((venue, symbol), o.get(venue, self.stale_book_s)))
        return int(s * 1e9)

    def conn_stale_ns(self, venue: str, conn: str) -> int:
        o = self.stale_conn_overrides
        return int(o.get((venue, conn), o.get(venue, self.stale_conn_s)) * 1e9)


@dataclass
class QualityCounters:
    """Per venue; counts of incidents (entering a bad state) and of updates seen in one."""
    book_updates: int = 0
    gaps: int = 0
    resyncs: int = 0
    checksum_failures: int = 0
    crossed: int = 0              # books that became crossed
    crossed_updates: int = 0      # updates that left a book crossed
    stale_books: int = 0
    stale_conns: int = 0
    outliers: int = 0
    skew_alerts: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class SkewStats:
    """(local receive - exchange time) of one venue, ns."""
    samples: int = 0
    ewma_ns: float = 0.0
    max_ns: int = 0
    min_ns: int = 0
    last_ns: int = 0
    high_samples: int = 0         # single samples above skew_high_ms
    negative_samples: int = 0     # single samples below -skew_negative_ms
    state: str = SKEW_OK

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _BookState:
    __slots__ = ("venue", "conn", "symbol", "canonical", "counters", "last_ns", "stale_ns",
                 "stale", "crossed", "mid", "outlier")

    def __init__(self, venue: str, conn: str, symbol: str, canonical: str | None,
                 counters: QualityCounters, stale_ns: int) -> None:
        self.venue, self.conn, self.symbol, self.canonical = venue, conn, symbol, canonical
        self.counters = counters
        self.last_ns = 0
        self.stale_ns = stale_ns
        self.stale = False
        self.crossed = False
        self.mid: float | None = None      # None while invalid, crossed or one-sided
        self.outlier = False


class _ConnState:
    __slots__ = ("last_ns", "stale_ns", "stale")

    def __init__(self, stale_ns: int) -> None:
        self.last_ns = 0
        self.stale_ns = stale_ns
        self.stale = False


def _default_canonical(venue: str, symbol: str) -> str:
    from tradecore.book.consolidated import canonical_symbol
    return canonical_symbol(venue, symbol)


class QualityMonitor:
    """See the module docstring. Not thread-safe: call it from the event loop that owns the
    books."""

    def __init__(self, config: QualityConfig | None = None, *,
                 clock: Callable[[], int] = time.time_ns,
                 canonical: Callable[[str, str], str] | None = None) -> None:
        """clock: ns since the epoch, used by tick() when no time is given. canonical: maps
        (venue, symbol) to the instrument name that groups venues for the outlier check
        (default: tradecore.book.consolidated.canonical_symbol); a ValueError leaves the book
        out of that check."""
        self.config = config if config is not None else QualityConfig()
        self.clock = clock
        self._canonical = canonical if canonical is not None else _default_canonical
        self.counters: dict[str, QualityCounters] = {}
        self.skew: dict[str, SkewStats] = {}
        self.recent: deque[QualityEvent] = deque(maxlen=self.config.recent_events)
        self.subscriber_errors = 0
        self._subs: list[tuple[Callable[[QualityEvent], None], frozenset | None]] = []
        self._books: dict[tuple[str, str, str], _BookState] = {}
        self._conns: dict[tuple[str, str], _ConnState] = {}
        self._groups: dict[str, dict[str, _BookState]] = {}     # canonical -> venue -> book
        self._feeds: dict[str, tuple] = {}                      # venue -> last FeedStats seen
        self._watched: dict[str, object] = {}                   # venue -> FeedStats

    # -- subscribers -------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[QualityEvent], None],
                  kinds: Iterable[str] | None = None) -> Callable[[], None]:
        """Deliver events (of the given kinds, or all) to callback; returns an unsubscribe
        function. A callback that raises is counted and logged once, never propagated."""
        ks = None if kinds is None else frozenset(kinds)
        if ks is not None and not ks <= set(KINDS):
            raise ValueError(f"unknown event kinds {sorted(ks - set(KINDS))}; "
                             f"expected some of {', '.join(KINDS)}")
        entry = (callback, ks)
        self._subs.append(entry)

        def unsubscribe() -> None:
            if entry in self._subs:
                self._subs.remove(entry)
        return unsubscribe

    def _emit(self, venue: str, symbol: str, kind: str, detail: str, ts: int,
              conn: str = "") -> None:
        ev = QualityEvent(venue, symbol, kind, detail, ts, conn)
        self.recent.append(ev)
        for cb, kinds in list(self._subs):
            if kinds is None or kind in kinds:
                try:
                    cb(ev)
                except Exception as e:  # noqa: BLE001 - a subscriber must not stop the feed
                    self.subscriber_errors += 1
                    if self.subscriber_errors == 1:
                        log.exception("quality subscriber %r failed on %s: %s", cb, ev, e)

    def _counters(self, venue: str) -> QualityCounters:
        c = self.counters.get(venue)
        if c is None:
            c = self.counters[venue] = QualityCounters()
        return c

    # -- book updates ------------------------------------------------------------------------
    def on_book(self, venue: str, key: tuple[str, str], book: L2Book, ts_local_ns: int,
                ts_exchange_ns: int = 0) -> None:
        """A book changed. key: the normalizer's (connection, symbol). ts_exchange_ns: the
        exchange's event time of the update, 0 when unknown (no skew sample)."""
        conn, symbol = key
        st = self._books.get((venue, conn, symbol))
        if st is None:
            st = self._new_book(venue, conn, symbol)
        st.counters.book_updates += 1
        old_mid = st.mid
        was_stale = st.stale
        if was_stale:
            st.stale = False
            self._emit(venue, symbol, FRESH, f"updated after {(ts_local_ns - st.last_ns) / 1e9:.3f}"
                       f" s without", ts_local_ns, conn)
        st.last_ns = ts_local_ns
        cs = self._conns[(venue, conn)]
        if cs.stale:
            cs.stale = False
            self._emit(venue, ALL, FRESH, f"connection {conn} back after "
                       f"{(ts_local_ns - cs.last_ns) / 1e9:.3f} s", ts_local_ns, conn)
        cs.last_ns = ts_local_ns
        if ts_exchange_ns:
            self._skew_sample(venue, symbol, ts_local_ns - ts_exchange_ns, ts_local_ns)
        if not book.valid:
            # the normalizer has counted the gap/checksum; an invalid book gives no mid
            st.mid = None
        else:
            crossed = book.is_crossed()
            if crossed:
                st.counters.crossed_updates += 1
                st.mid = None
                if not st.crossed:
                    st.crossed = True
                    st.counters.crossed += 1
                    self._emit(venue, symbol, CROSSED, f"bid {book.best_bid()} >= ask "
                               f"{book.best_ask()}", ts_local_ns, conn)
            else:
                if st.crossed:
                    st.crossed = False
                    self._emit(venue, symbol, UNCROSSED, f"bid {book.best_bid()} < ask "
                               f"{book.best_ask()}", ts_local_ns, conn)
                st.mid = book.mid()
        # the verdicts change only when a mid or the set of fresh venues does: most updates
        # are below the touch and skip the check
        if st.canonical is not None and (st.mid != old_mid or was_stale):
            self._check_outliers(st.canonical, ts_local_ns)

    def _new_book(self, venue: str, conn: str, symbol: str) -> _BookState:
        try:
            canonical = self._canonical(venue, symbol)
        except ValueError:
            canonical = None
        st = _BookState(venue, conn, symbol, canonical, self._counters(venue),
                        self.config.book_stale_ns(venue, conn, symbol))
        self._books[(venue, conn, symbol)] = st
        if (venue, conn) not in self._conns:
            self._conns[(venue, conn)] = _ConnState(self.config.conn_stale_ns(venue, conn))
        if canonical is not None:
            # one entry per venue: the latest connection to report the symbol
            self._groups.setdefault(canonical, {})[venue] = st
        return st

    def expect(self, venue: str, conn: str, symbol: str, since_ns: int | None = None) -> None:
        """Register a subscribed book before its first update, so that one that never
        arrives goes stale too (counted from since_ns, default now)."""
        now = self.clock() if since_ns is None else since_ns
        st = self._books.get((venue, conn, symbol)) or self._new_book(venue, conn, symbol)
        if not st.last_ns:
            st.last_ns = now
        cs = self._conns[(venue, conn)]
        if not cs.last_ns:
            cs.last_ns = now

    def book_callback(self, venue: str, then: Callable | None = None
                      ) -> Callable[[tuple[str, str], L2Book], None]:
        """A normalizer `on_book(key, book)` callback: the book's own ts_ns (local receive
        time of its last update) is the time; no exchange time, so no skew sample. Chains to
        `then(key, book)` when given."""
        on_book = self.on_book
        clock = self.clock

        def cb(key: tuple[str, str], book: L2Book) -> None:
            on_book(venue, key, book, book.ts_ns or clock())
            if then is not None:
                then(key, book)
        return cb

    # -- outliers ----------------------------------------------------------------------------
    def _check_outliers(self, canonical: str, ts: int) -> None:
        group = self._groups[canonical]
        mids = [s.mid for s in group.values() if s.mid is not None and not s.stale]
        mids.sort()
        n = len(mids)
        cfg = self.config
        if n < cfg.outlier_min_venues:
            for s in group.values():
                if s.outlier:
                    s.outlier = False
                    self._emit(s.venue, s.symbol, OUTLIER_CLEARED, f"{n} venue(s) quoting "
                               f"{canonical}: too few to judge", ts, s.conn)
            return
        med = mids[n // 2] if n % 2 else (mids[n // 2 - 1] + mids[n // 2]) / 2.0
        limit = cfg.outlier_bps * 1e-4 * med
        for s in group.values():
            mid = s.mid
            out = mid is not None and not s.stale and abs(mid - med) > limit
            if out != s.outlier:        # text only on a transition: this runs every update
                s.outlier = out
                if mid is None or s.stale:
                    why = "not quoting" if mid is None else "stale"
                else:
                    why = (f"mid {mid:.10g} is {abs(mid - med) / med * 1e4:.1f} bps from the "
                           f"median {med:.10g} of {n} venues")
                if out:
                    s.counters.outliers += 1
                self._emit(s.venue, s.symbol, OUTLIER if out else OUTLIER_CLEARED, why, ts,
                           s.conn)

    # -- clock skew --------------------------------------------------------------------------
    def _skew_sample(self, venue: str, symbol: str, d: int, ts: int) -> None:
        s = self.skew.get(venue)
        if s is None:
            s = self.skew[venue] = SkewStats(ewma_ns=float(d), max_ns=d, min_ns=d)
        else:
            s.ewma_ns += self.config.skew_alpha * (d - s.ewma_ns)
            if d > s.max_ns:
                s.max_ns = d
            if d < s.min_ns:
                s.min_ns = d
        s.samples += 1
        s.last_ns = d
        cfg = self.config
        high = cfg.skew_high_ms * 1e6
        neg = -cfg.skew_negative_ms * 1e6
        if d > high:
            s.high_samples += 1
        elif d < neg:
            s.negative_samples += 1
        if s.samples < cfg.skew_min_samples:
            return
        e = s.ewma_ns
        state = SKEW_HIGH if e > high else SKEW_NEGATIVE if e < neg else SKEW_OK
        if state != s.state:
            s.state = state
            if state != SKEW_OK:
                self._counters(venue).skew_alerts += 1
            self._emit(venue, ALL, state, f"local - exchange time: EWMA {e / 1e6:.1f} ms over "
                       f"{s.samples} samples (max {s.max_ns / 1e6:.1f} ms, min "
                       f"{s.min_ns / 1e6:.1f} ms; limits {neg / 1e6:.0f}..{high / 1e6:.0f} ms)",
                       ts)

    # -- feed counters -----------------------------------------------------------------------
    def watch(self, venue: str, stats: object) -> None:
        """Poll a normalizer's FeedStats on every tick()."""
        self._watched[venue] = stats

    def on_feed_stats(self, venue: str, stats: object, now_ns: int | None = None) -> None:
        """Take the change in a normalizer's FeedStats (gaps, resyncs, checksum failures)
        since the last call for this venue; a counter that went down (a new normalizer) counts
        from zero."""
        now = self.clock() if now_ns is None else now_ns
        cur = (stats.gaps, stats.resyncs, stats.checksums_bad)
        last = self._feeds.get(venue, (0, 0, 0))
        self._feeds[venue] = cur
        c = self._counters(venue)
        for (kind, attr, what), a, b in zip(
                ((GAP, "gaps", "sequence gap(s)"), (RESYNC, "resyncs", "resync(s)"),
                 (CHECKSUM_FAILURE, "checksum_failures", "checksum failure(s)")), cur, last):
            d = a - b if a >= b else a
            if d > 0:
                setattr(c, attr, getattr(c, attr) + d)
                self._emit(venue, ALL, kind, f"{d} {what} ({a} in this feed)", now)

    # -- periodic ----------------------------------------------------------------------------
    def tick(self, now_ns: int | None = None) -> None:
        """Periodic checks (call about once a second): FeedStats of watched feeds, and books
        and connections without updates for longer than their limit."""
        now = self.clock() if now_ns is None else now_ns
        for venue, stats in self._watched.items():
            self.on_feed_stats(venue, stats, now)
        for (venue, conn), cs in self._conns.items():
            if not cs.stale and cs.last_ns and now - cs.last_ns > cs.stale_ns:
                cs.stale = True
                self._counters(venue).stale_conns += 1
                self._emit(venue, ALL, STALE, f"connection {conn}: no book update for "
                           f"{(now - cs.last_ns) / 1e9:.3f} s (limit {cs.stale_ns / 1e9:g} s)",
                           now, conn)
        regroup = set()
        for st in self._books.values():
            if not st.stale and st.last_ns and now - st.last_ns > st.stale_ns:
                st.stale = True
                st.counters.stale_books += 1
                self._emit(st.venue, st.symbol, STALE, f"no update for "
                           f"{(now - st.last_ns) / 1e9:.3f} s (limit {st.stale_ns / 1e9:g} s)",
                           now, st.conn)
                if st.canonical is not None:
                    regroup.add(st.canonical)
        for canonical in regroup:       # a stale venue leaves the outlier median
            self._check_outliers(canonical, now)

    # -- reads -------------------------------------------------------------------------------
    def is_stale(self, venue: str, conn: str, symbol: str) -> bool:
        st = self._books.get((venue, conn, symbol))
        return st is not None and st.stale

    def as_dict(self) -> dict:
        """Counters and skew per venue, plain data for the metrics layer."""
        out = {}
        for venue in sorted(set(self.counters) | set(self.skew)):
            d = self._counters(venue).as_dict()
            s = self.skew.get(venue)
            d["skew"] = None if s is None else s.as_dict()
            out[venue] = d
        return {"venues": out, "subscriber_errors": self.subscriber_errors}


def suspend_on_events(consolidated, kinds: Mapping[str, str] | None = None
                      ) -> Callable[[QualityEvent], None]:
    """A subscriber that takes a venue's book out of a ConsolidatedBooks view while it is
    stale or an outlier, and puts it back when it recovers. kinds maps the entering event to
    its leaving one (default stale/fresh and outlier/outlier_cleared)."""
    pairs = dict(kinds) if kinds is not None else {STALE: FRESH, OUTLIER: OUTLIER_CLEARED}
    leaving = {v: k for k, v in pairs.items()}
    active: dict[tuple[str, str], set[str]] = {}     # (venue, symbol) -> reasons in force

    def on_event(ev: QualityEvent) -> None:
        if ev.symbol == ALL:
            return
        cb = consolidated.book_for(ev.venue, ev.symbol)
        if cb is None:
            return
        reasons = active.setdefault((ev.venue, ev.symbol), set())
        if ev.kind in pairs:
            reasons.add(ev.kind)
            cb.suspend(ev.venue, "+".join(sorted(reasons)))
        elif ev.kind in leaving and leaving[ev.kind] in reasons:
            reasons.discard(leaving[ev.kind])
            if reasons:
                cb.suspend(ev.venue, "+".join(sorted(reasons)))
            else:
                cb.resume(ev.venue)
    return on_event
