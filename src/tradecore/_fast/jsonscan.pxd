# A scanner for Binance depth-update frames: reads the fields the book needs straight from the
# frame bytes (no JSON tree, no float conversion) and stages the levels on a book. Any frame it
# does not recognise as a depth update is left to the general JSON path (orjson).
from libc.stdint cimport int64_t, int32_t, int8_t, uint64_t

from tradecore._fast.book cimport L2Book

cpdef enum ScanResult:
    SCAN_OTHER = 0       # valid JSON object start, but not a depth update: use the JSON path
    SCAN_DEPTH = 1       # a depth update; fields and level offsets are filled
    SCAN_MALFORMED = 2   # a depth update (or unreadable frame) that breaks the expected schema

# One level of the last scanned frame: where its texts are (level_texts, the text path, and
# apply_to's conversion when the frame was not staged while scanning).
cdef enum:
    SCAN_ROUTED = 100    # scan_sync: not this book's diff; + ScanResult
    # the frame size a feed's scanner and each synced book's stage have room for from the start
    # (DepthScanner.reserve, L2Book.stage_reserve): a larger frame grows them on the path. Binance
    # diff frames: 34.5 KB at most over the bundled recordings (69,112 frames), p99.9 14.5 KB
    RESERVE_FRAME_BYTES = 65536


cdef class DepthSync


cdef struct LevelRef:
    int32_t p_off      # spans of the texts between the quotes, in the frame
    int32_t p_len
    int32_t q_off
    int32_t q_len
    int8_t side


# How a book's grid reads a number: its value in units of 10**-e, divided by unit, is ticks
# (lots); exact when the number has no non-zero digit beyond e decimals and the result is a
# whole multiple of unit. maxint -1: every level of this book is staged from its text.
cdef struct Grid:
    bint ready
    int p_dec          # the book's decimals and units, to tell when the cache is stale
    int s_dec
    int64_t tick_units
    int64_t lot_units
    int p_e            # price_decimals less the trailing zeros of tick_units
    int64_t p_unit     # tick_units without its trailing zeros
    int p_maxint       # most integer digits whose units fit parse_fixed's unchecked range
    int s_e
    int64_t s_unit
    int s_maxint
    # the straight loop (_levels_fast) applies: both units 1 and both maxints >= 1
    bint fast
    uint64_t p_lo      # the low p_e (s_e) bytes of a word: the decimals that count
    uint64_t s_lo


cdef class DepthScanner:
    cdef readonly bytes frame         # the frame last scanned (levels point into it)
    cdef readonly int64_t first_id    # U
    cdef readonly int64_t last_id     # u
    cdef readonly int64_t prev_last_id   # pu (futures), -1 when absent
    cdef readonly int64_t event_ms    # E, -1 when absent
    cdef readonly str error           # why the last frame is SCAN_MALFORMED
    cdef int32_t sym_off
    cdef int32_t sym_len
    cdef str _sym                     # the last symbol text, reused while frames repeat it
    cdef LevelRef* levels
    cdef Py_ssize_t n_levels          # levels read; their spans are levels[:n_levels] unless
    cdef Py_ssize_t cap               # _spans_due (then _spans() reads them again first)
    cdef bint _spans_due              # the straight loop staged levels without keeping spans
    cdef Py_ssize_t _b_at             # the last frame's "b" and "a" arrays ('[' offsets, -1)
    cdef Py_ssize_t _a_at
    cdef Grid grid                    # of the book last staged on
    cdef L2Book _fbook                # scan_sync: the book being staged while scanning, or None
    cdef int _fcode                   # its first staging problem (0: none)
    cdef Py_ssize_t _flevel           # and the level that had it
    cdef public bint defer_far        # scan_sync commits with L2Book.stage_commit_near: the far
                                      # levels of a large diff wait for the book's settle()

    cpdef int scan(self, bytes frame) except -1
    # scan, and when the frame is a depth update of `symbol`, sync.on_depth: the steady state of
    # a feed in one call. Returns on_depth's SyncResult, or SCAN_ROUTED + the ScanResult when the
    # frame is something else (another symbol's depth: SCAN_ROUTED + SCAN_DEPTH).
    cpdef int scan_sync(self, bytes frame, DepthSync sync, bytes symbol, int64_t ts_ns) except -1
    # Stage and commit the scanned levels on a book, all or nothing: 0, or a staging problem
    # code (book.reason_text) with the book unchanged. Levels whose numbers sit on the book's
    # grid are converted here (_units); any other level is staged from its text by the book,
    # which gives the same result and the same problem code (apply_text_to). Within scan_sync
    # the levels were staged on the synced book while the frame was read: only the commit (or
    # the first problem) is left.
    cpdef int apply_to(self, L2Book book) except -1
    # The same, every level staged from its text (the reference apply_to must agree with).
    cpdef int apply_text_to(self, L2Book book) except -1

    # -- internals ------------------------------------------------------------------------------
    cdef int _grow(self) except -1
    cdef void _set_grid(self, L2Book book) noexcept
    cdef int _scan(self, bytes frame) except -1
    cdef int _reserve(self, Py_ssize_t need) except -1
    cdef Py_ssize_t _levels(self, const char* s, Py_ssize_t i, Py_ssize_t n, int side) except -2
    cdef Py_ssize_t _levels_fast(self, const char* s, Py_ssize_t i, Py_ssize_t n, int side,
                                 bint* done) except -2
    cdef int _stage_text(self, LevelRef* L, const char* s) except -1
    cdef int _spans(self) except -1
    cdef void _fuse(self, L2Book book) noexcept
    cdef int _bad(self, str why, bint depth_like)


cpdef enum SyncResult:
    SYNC_APPLIED = 0     # in sequence, applied
    SYNC_BUFFER = 1      # no snapshot yet: the caller buffers the frame
    SYNC_DROP = 2        # older than the book (duplicate, or before the snapshot)
    SYNC_GAP = 3         # does not follow: the book is out of sync
    SYNC_BAD_LEVEL = 4   # in sequence but a level is unusable (code in last_code)

cdef enum:
    TOP_RING = 4096

# Binance's documented snapshot + diff rule for one book, with the apply step, compiled so the
# steady state costs one call from Python. It also remembers the top of book after each of the
# last TOP_RING update ids, for the bookTicker oracle.
cdef class DepthSync:
    cdef public L2Book book
    cdef public int64_t last_u
    cdef public bint futures        # pu rule (USD-M / COIN-M) instead of U == last + 1
    cdef public bint first          # no diff applied since the snapshot
    cdef public bint synced         # a snapshot has been loaded and no gap seen since
    cdef public bint track_tops
    cdef readonly int last_code
    cdef int64_t ring_u[TOP_RING]
    cdef int64_t ring_top[TOP_RING][4]
    cdef bint ring_has[TOP_RING]
    cdef Py_ssize_t ring_n
    cdef Py_ssize_t ring_head

    cpdef int rule(self, int64_t U, int64_t u, int64_t pu)
    cpdef int on_depth(self, DepthScanner sc, int64_t ts_ns) except -1
    cpdef int apply(self, DepthScanner sc, int64_t ts_ns) except -1
    cpdef void forget_tops(self)


# The steady state of a Binance normalizer's on_frame, compiled: a frame on the connection of
# the last depth diff is scanned and synced into that diff's book (scan_sync) and counted, and
# the hooks are called, with no Python frame in between; everything else goes to `slow`, the
# normalizer's Python code, which also sets the hint (the book the next frame most likely
# updates). The normalizer binds on_frame as its own on_frame. Its scanner defers a large
# diff's far levels (L2Book.stage_commit_near); on_frame settles the book once on_levels and
# on_book have returned (or raised), so the order a strategy sends on a large diff goes out
# before them and no frame leaves the book with levels pending.
cdef class FramePath:
    cdef DepthScanner sc
    cdef public object stats          # FeedStats: messages and levels are counted here
    cdef public object slow           # slow(data, conn, ts_ns, r): r is scan_sync's result
                                      # for a frame of the hinted connection, -1 if not scanned
    cdef public object on_levels      # the normalizer's hooks (its properties forward here)
    cdef public object on_book
    cdef public object check_pending  # check_pending(state): tickers wait for the hinted book
                                      # (an audit of the top: called after on_book)
    cdef readonly object conn         # the hint: the last diff's connection (by identity),
    cdef readonly object key          # its book key, per-book state, sync and symbol
    cdef readonly object state
    cdef object pending               # state's pending bookTickers (a dict), checked by size
    cdef DepthSync sync
    cdef bytes sym
