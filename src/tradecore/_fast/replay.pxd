# The gated replay loop: a compiled event log (backtest/events.py) applied to the compiled books,
# calling into Python only for the messages whose per-message hooks could do anything.
#
# The per-message replay (backtest/fast_replay.py replay_events) hands every book message to the
# node's book hook and every trade to its trade hook. Most of those calls change nothing that is
# ever read: the strategy's detector finds the tops uncrossed, the paper venue has nothing
# resting, the execution engine only stores the same mid again. This loop skips exactly those
# calls, and defers the stores that a skipped call would have made until before the next call
# into Python (nothing reads them in between, because nothing but this loop runs in between):
#
#   book message on feed f, book valid: the node's hook runs when
#       book_always[f]                        (set by the driver: a listener that must see every
#                                              change: resting paper orders, consumed liquidity,
#                                              protective stops, a strategy without a rule, the
#                                              first delivery of the feed)
#    or top[f] and the best bid/ask ticks differ from those at f's last delivery
#    or the clock (the latest message time) >= wake_at[f]   (a listener's next time-driven
#                                              decision)
#    or a cross rule of f passes: for a CrossVenueDetector and the index of f in it, the tops of
#       f's book and another venue's book cross after taker fees in either direction (the very
#       test CrossVenueDetector._pair makes before it walks any depth; when it fails for every
#       pair, check() returns False without reading more)
#   otherwise the message is counted as skipped and f's execution engine update (gate mid,
#   marks) is deferred: `exec_hooks[f]()` runs before the next call into Python.
#
#   trade on feed f: the node's trade hook runs when trade_always[f] (a trade subscriber, resting
#   paper orders or stops, a protective stop); otherwise only the paper venue's last-trade
#   reference would change: the last such trade of f goes to `trade_sinks[f](trade)` before the
#   next call into Python.
#
#   on_record(ts), when given, runs after every message (a progress or equity recorder): the
#   deferred updates are made before it, since it reads the node.
#
#   time: the clock is advanced (running the venue's latency timers) at the same messages as the
#   per-message replay, whenever a timer falls due at or before the message's time; otherwise its
#   time is brought up to the message's time just before the next call into Python. After every
#   call into Python, `after_python()` lets the driver recompute the flags and the loop re-reads
#   the clock's next due time (timers are only ever set from Python).
#
# What a listener skipped on a message could not have done is the driver's claim, rule by rule
# (backtest/gated_replay.py); the tests compare every order and fill with the per-message replay.
from libc.stdint cimport int64_t
from tradecore._fast.book cimport L2Book


cdef class GatedReplay:
    cdef readonly int n_feeds
    cdef list _books                 # L2Book per feed
    cdef list _keys                  # the key handed to the book hook, per feed
    cdef list _book_hooks            # hook(key, book)
    cdef list _trade_hooks           # hook(trade)
    cdef list _exec_hooks            # hook(): the deferred execution-engine update of the feed
    cdef list _trade_sinks           # sink(trade) or None: the deferred last-trade reference
    cdef list _cross                 # per feed: list of (CrossVenueDetector, index)
    cdef object _clock               # SimClock
    cdef int64_t* _book_always
    cdef int64_t* _top
    cdef int64_t* _wake_at
    cdef int64_t* _trade_always
    cdef int64_t* _last_bt           # best bid / ask ticks at the feed's last delivery
    cdef int64_t* _last_at
    cdef int64_t* _dirty             # a skipped message's engine update is pending
    cdef int64_t* _pending_trade     # index into trades of the last skipped trade, -1 none
    cdef int64_t* _skipped_books_f
    # counters of the last run
    cdef readonly int64_t delivered_books
    cdef readonly int64_t skipped_books
    cdef readonly int64_t delivered_trades
    cdef readonly int64_t skipped_trades
    cdef readonly int64_t timer_advances

    cdef bint _cross_passes(self, int f) except -1
    cdef int64_t _clock_now          # the clock's time as last set (it lags between calls)
    cdef int64_t _next_due           # the clock's next timer, INT64_MAX none
    cdef int _flush(self, list trades, int64_t now) except -1
    cdef int _after_python(self, object after_python) except -1
    cdef int _on_book(self, int f, L2Book b, int64_t now, list trades,
                      object after_python) except -1
