# A scanner for Binance depth-update frames: reads the fields the book needs straight from the
# frame bytes (no JSON tree, no float conversion) and stages the levels on a book. Any frame it
# does not recognise as a depth update is left to the general JSON path (orjson).
from libc.stdint cimport int64_t, int32_t

from tradecore._fast.book cimport L2Book

cpdef enum ScanResult:
    SCAN_OTHER = 0       # valid JSON object start, but not a depth update: use the JSON path
    SCAN_DEPTH = 1       # a depth update; fields and level offsets are filled
    SCAN_MALFORMED = 2   # a depth update (or unreadable frame) that breaks the expected schema

cdef struct LevelRef:
    int32_t side
    int32_t p_off
    int32_t p_len
    int32_t q_off
    int32_t q_len


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
    cdef Py_ssize_t n_levels
    cdef Py_ssize_t cap

    cpdef int scan(self, bytes frame)
    # Stage and commit the scanned levels on a book, all or nothing: 0, or a staging problem
    # code (book.reason_text) with the book unchanged.
    cpdef int apply_to(self, L2Book book) except -1

    # -- internals ------------------------------------------------------------------------------
    cdef int _push(self, int side, Py_ssize_t p, Py_ssize_t pl, Py_ssize_t q,
                   Py_ssize_t ql) except -1
    cdef Py_ssize_t _levels(self, const char* s, Py_ssize_t i, Py_ssize_t n, int side) except -2
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
