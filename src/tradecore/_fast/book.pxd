# The L2 order book kernel.
#
# Layout. Each side keeps its levels in key space, key = ticks for bids and -ticks for asks, so
# that "better" always means "larger key" and one code path serves both sides:
#   * a flat window of `window` slots (a power of two) indexed by key - base, holding the lots of
#     each price; the best level sits about 3/4 of the way up, so the touch and everything within
#     ~3/4 window below it is a direct array store (no search, no memmove);
#   * a two-level occupancy bitmap over the window (one bit per slot, one bit per non-empty word)
#     that finds the next level below or above any slot with a couple of bit scans, so a sparse
#     book (a coarse market on a fine tick) walks as fast as a dense one;
#   * an overflow array, sorted ascending, for the levels deeper than the window (key < base).
#     They are rarely touched; its top end borders the window, so moving levels between the two
#     when the window re-centres is an append or a pop.
# Invariants: every level with key >= base is in the window; the window is empty only when the
# whole side is; the overflow holds its levels in ok[lo:lo+no] (dropping the worst levels, e.g.
# Kraken's 1000-level truncation, only moves lo).
#
# Deferred far levels. A large batch (a Binance diff of hundreds of levels) costs its commit
# mostly in the far levels: each is a store into a cold cache line of the window or a move in
# the overflow, and none of them can change what a strategy reads at the touch. So
# stage_commit_near, given a batch that is already wholly converted and validated (all or
# nothing still holds), applies the levels at or above a fence per side and keeps the rest, in
# order, as pending. The fence is the side's best key less the distance that its NEAR_LEVELS-th
# level had at the last settle (measured then, off the order's path); the
# caller (jsonscan.FramePath) calls settle() once the book's consumers have run, i.e. after the
# order went out. Until then the book is exact at and above each fence, and no read can see
# it otherwise:
#   * best() is exact: a batch that leaves a side's best below its fence is settled at once;
#   * walk() is exact while the levels it returns stay at or above the fence; one that would
#     go below it (or run out of levels) settles first;
#   * every other read (count, depth, fill_price, ...) and every write settles first.
# settle() cannot fail: the overflow's room for the pending levels is reserved up front, and a
# level below the fence moves neither the window nor the best.
#
# Prices are ticks of `tick_units * 10**-price_decimals` and sizes lots of
# `lot_units * 10**-size_decimals`: the exchange's decimal text converts exactly in both
# directions (fixed.pxd). No Python object is created per level on any update path.
cimport cython
from libc.stdint cimport int64_t, int8_t, uint64_t

cdef enum:
    DEFER_MIN_LEVELS = 128   # stage_commit_near defers nothing in a smaller batch
    NEAR_LEVELS = 64         # about this many levels per side from the touch are applied
                             # first: a detector's walk at its default depth (20) stays above
                             # the fence in 95 % of the recorded large diffs; a deeper one
                             # applies the deferred levels first

cdef struct Side:
    int64_t* wq        # window: lots per slot, 0 = no level
    uint64_t* b0       # bit per slot
    uint64_t* b1       # bit per non-zero b0 word
    int64_t base       # key of slot 0
    Py_ssize_t best    # slot of the best level, -1 when the side is empty
    Py_ssize_t nw      # levels in the window
    int64_t* ok        # overflow keys, ascending, in [lo, lo + no)
    int64_t* oq        # overflow lots
    Py_ssize_t lo
    Py_ssize_t no
    Py_ssize_t ocap

# A batch of levels converted and validated before any is applied, so that a bad level anywhere
# in an exchange message leaves the book untouched.
cdef struct Stage:
    int8_t* side
    int64_t* ticks
    int64_t* lots
    Py_ssize_t n
    Py_ssize_t cap


@cython.final
cdef class L2Book:
    cdef Side sd[2]
    cdef Stage stage
    cdef readonly Py_ssize_t window
    cdef readonly double tick_size
    cdef readonly double lot_size
    cdef readonly int price_decimals
    cdef readonly int size_decimals
    cdef readonly int64_t tick_units
    cdef readonly int64_t lot_units
    cdef double _ticks_per_price     # 10**price_decimals / tick_units
    cdef double _lots_per_size
    cdef double _price_div           # 10**price_decimals
    cdef double _size_div
    cdef object _best_bid            # cached (price, size) tuples, rebuilt when _stale
    cdef object _best_ask
    cdef bint _stale[2]
    cdef public bint valid           # False after a gap or checksum failure, until resynced
    cdef public int64_t seq          # last exchange sequence / update id applied
    cdef public int64_t ts_ns        # local receive time of the last update (ns since epoch)
    cdef Py_ssize_t pend             # deferred far levels (they wait in `stage`, in order)
    cdef Py_ssize_t pend_side[2]     # how many of them each side has
    cdef int64_t fence[2]            # key per side at and above which the book is exact
    cdef int64_t gap[2]              # best key - the gap_k-th best key, as of the last settle
                                     # (0: not measured, -1: the side had fewer levels)
    cdef Py_ssize_t gap_k

    # -- kernel API: ticks and lots, for other kernels -----------------------------------------
    # Set (lots > 0) or remove (lots == 0) a level; 1 if the book changed, 0 if not.
    cdef int set_level(self, int side, int64_t ticks, int64_t lots) except -1
    cdef Py_ssize_t count(self, int side) noexcept
    # Copy up to n levels of a side, best first, into ticks/lots; returns how many.
    cdef Py_ssize_t walk(self, int side, Py_ssize_t n, int64_t* ticks, int64_t* lots) noexcept
    cdef bint best(self, int side, int64_t* ticks, int64_t* lots) noexcept
    cdef void drop_beyond(self, int side, Py_ssize_t max_levels) noexcept

    # -- staging: convert and validate a batch, then commit it whole ---------------------------
    cdef void stage_reset(self) noexcept
    # 0 when staged, else a problem code (reason_text); -1 only with an exception set
    cdef int stage_text(self, int side, const char* p, Py_ssize_t pn,
                        const char* q, Py_ssize_t qn) except -1
    cdef int stage_ticks(self, int side, int64_t ticks, int64_t lots) except -1
    cdef int stage_commit(self) except -1

    # -- internals ------------------------------------------------------------------------------
    cdef int _shift_up(self, Side* S, int64_t key) except -1
    cdef void _shift_down(self, Side* S) noexcept
    cdef int _overflow_set(self, Side* S, int64_t key, int64_t lots) except -1
    cdef int _overflow_reserve(self, Side* S, Py_ssize_t extra) except -1
    cdef void _rebuild_bits(self, Side* S) noexcept
    cdef int _stage_room(self, Py_ssize_t need) except -1
    cdef int _stage_obj(self, int side, object p, object q, Py_ssize_t i) except -1
    cdef Py_ssize_t _stage_list(self, int side, levels, Py_ssize_t i) except -1
    cdef Py_ssize_t _stage_arrays(self, sides, prices, sizes) except -1
    cdef _raise_level(self, Py_ssize_t i, int64_t s, double p, double q)
    cdef int64_t _price_to_ticks(self, double price) except? -1
    cdef int64_t _size_to_lots(self, double size) except? -1
    cdef double _price(self, int64_t ticks) noexcept
    cdef double _size(self, int64_t lots) noexcept
    cdef object _depth_side(self, int side, Py_ssize_t n)
    cdef object _best_tuple(self, int side)

    # -- appended last, so that the vtable slots of the methods above keep their places --------
    # Stage a batch of float levels from C arrays (what apply_many does for numpy arrays): every
    # level is converted to the grid and validated, nothing is applied; ValueError naming the
    # level (index within the batch) when one is bad. Commit with stage_commit().
    cdef int stage_floats(self, const int64_t* sides, const double* prices,
                          const double* sizes, Py_ssize_t n) except -1
    # Commit the staged batch, deferring its levels below each side's fence when the batch
    # holds at least min_batch levels (see "Deferred far levels" above).
    cdef int stage_commit_near(self, Py_ssize_t min_batch, Py_ssize_t near_levels) except -1
    # Apply the deferred levels now (nothing when there are none).
    cpdef void settle(self) noexcept
    cdef int64_t _kth_key(self, int side, Py_ssize_t k) noexcept
    cdef Py_ssize_t _walk(self, int side, Py_ssize_t n, int64_t* ticks, int64_t* lots) noexcept
    cdef int64_t _fence(self, int side, Py_ssize_t k) noexcept
    cdef void _measure_gap(self, int side, Py_ssize_t k) noexcept
