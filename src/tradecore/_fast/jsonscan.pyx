"""Binance depth-update scanner (see jsonscan.pxd).

The frame is walked once as JSON: objects, arrays, strings, numbers and literals are all
recognised (so unexpected keys and values are skipped correctly), but only the keys a depth
update needs are decoded. Keys must be plain ASCII without escapes, which Binance's are.

Prices and sizes are read in the same pass (`_number`): the digits between the quotes are
accumulated as they are walked, so staging a level is a multiply and a store instead of a second
parse of its text. Only plain digits[.digits] text takes that path; everything else (signs,
exponents, escapes, empty strings, more than 18 integer digits) is kept as a span and staged from
its text by the book, as before, so odd input gets the book's own checks and error codes.
"""
from libc.stdint cimport int64_t, int32_t, int8_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memchr, memcmp

from tradecore._fast.book cimport L2Book, Stage


cdef int64_t P10[19]
P10[0] = 1
for _k in range(1, 19):
    P10[_k] = P10[_k - 1] * 10


cdef inline Py_ssize_t _ws(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    cdef unsigned char c
    while i < n:
        c = <unsigned char>s[i]
        if c > 32:                  # the usual case: no whitespace at all
            return i
        if c == c' ' or c == c'\n' or c == c'\r' or c == c'\t':
            i += 1
        else:
            return i
    return i


cdef Py_ssize_t _skip_string(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """s[i] is the opening quote; returns the index after the closing quote, or -1."""
    cdef const char* q = <const char*>memchr(s + i + 1, c'"', n - i - 1)
    cdef Py_ssize_t j
    if q == NULL:
        return -1
    j = q - s
    if s[j - 1] != c'\\':
        return j + 1          # no escape before it: the common case, found by vector search
    i += 1
    while i < n:
        if s[i] == c'\\':
            i += 2
            continue
        if s[i] == c'"':
            return i + 1
        i += 1
    return -1


cdef Py_ssize_t _skip_value(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """Skip any JSON value starting at s[i]; returns the index after it, or -1."""
    cdef int depth = 0
    cdef char c
    i = _ws(s, i, n)
    if i >= n:
        return -1
    c = s[i]
    if c == c'"':
        return _skip_string(s, i, n)
    if c == c'{' or c == c'[':
        while i < n:
            c = s[i]
            if c == c'"':
                i = _skip_string(s, i, n)
                if i < 0:
                    return -1
                continue
            if c == c'{' or c == c'[':
                depth += 1
            elif c == c'}' or c == c']':
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        return -1
    # number or literal
    while i < n and s[i] != c',' and s[i] != c'}' and s[i] != c']' and s[i] != c' ':
        i += 1
    return i


cdef Py_ssize_t _int(const char* s, Py_ssize_t i, Py_ssize_t n, int64_t* out) noexcept nogil:
    cdef int64_t v = 0
    cdef Py_ssize_t start
    i = _ws(s, i, n)
    start = i
    while i < n and c'0' <= s[i] <= c'9':
        if v > 922337203685477580LL:
            return -1
        v = v * 10 + (s[i] - c'0')
        i += 1
    if i == start:
        return -1
    out[0] = v
    return i


cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    /* Eight bytes at a time (SWAR). t is a little-endian load of 8 text bytes XOR '0' in every
       byte, so that digit bytes hold 0..9 and byte 0 is the first character. */
    static inline uint64_t tc_load_digits(const char* p) {
        uint64_t w;
        memcpy(&w, p, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
    #endif
        return w ^ 0x3030303030303030ULL;
    }
    /* how many of the 8 bytes, from the first, are digits (0..8) */
    static inline int tc_lead_digits(uint64_t t) {
        uint64_t m = (((t & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL) | t)
                     & 0x8080808080808080ULL;
        return m ? (int)(__builtin_ctzll(m) >> 3) : 8;
    }
    /* the value of the first k (1..8) bytes, all digits */
    static inline uint64_t tc_digits_value(uint64_t t, int k) {
        t <<= 8 * (8 - k);              /* the first k bytes become the low digits of 8 */
        t = (t * 10) + (t >> 8);
        t = (((t & 0x000000FF000000FFULL) * 0x000F424000000064ULL)
             + (((t >> 16) & 0x000000FF000000FFULL) * 0x0000271000000001ULL)) >> 32;
        return t;
    }
    /* 1 + the index of the last non-zero digit among the first k (1..8) digit bytes, or 0 */
    static inline int tc_significant(uint64_t t, int k) {
        uint64_t nz = (((t & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | t)
                      & 0x8080808080808080ULL;
        if (k < 8) nz &= (1ULL << (8 * k)) - 1;
        return nz ? (int)((63 - __builtin_clzll(nz)) >> 3) + 1 : 0;
    }
    """
    uint64_t tc_load_digits(const char* p) noexcept nogil
    int tc_lead_digits(uint64_t t) noexcept nogil
    uint64_t tc_digits_value(uint64_t t, int k) noexcept nogil
    int tc_significant(uint64_t t, int k) noexcept nogil


cdef inline Py_ssize_t _number(const char* s, Py_ssize_t i, Py_ssize_t n,
                               LevelRef* L, bint size) noexcept nogil:
    """s[i] is the opening quote of a price (size=False) or size: its span, and for plain
    digits[.digits] text its integer part and significant fraction, go into L. Returns the index
    after the closing quote, or -1 when the string is not terminated.

    s must be NUL-terminated (a bytes object is): the digit loops stop at any non-digit, so they
    need no bounds check; the 8-byte reads are taken only where 8 bytes remain."""
    cdef Py_ssize_t j = i + 1, start = i + 1, fstart, idig
    cdef uint64_t iv = 0, fv = 0, t
    cdef Py_ssize_t f, fs = 0
    cdef int k
    cdef unsigned int d
    cdef bint plain = False
    if j + 8 <= n:
        t = tc_load_digits(s + j)
        k = tc_lead_digits(t)
        if k:
            iv = tc_digits_value(t, k)
            j += k
    while True:                          # the rest of a long integer part
        d = <unsigned char>s[j] - 48
        if d > 9:
            break
        iv = iv * 10 + d                 # wraps past 19 digits: such text takes the text path
        j += 1
    idig = j - start
    if idig > 0:
        if s[j] == c'"':
            plain = True
        elif s[j] == c'.':
            j += 1
            fstart = j
            if j + 8 <= n:
                t = tc_load_digits(s + j)
                k = tc_lead_digits(t)
                if k:
                    fs = tc_significant(t, k)
                    if fs:
                        fv = tc_digits_value(t, fs)
                    j += k
            while True:                  # the rest of a fraction longer than 8 digits
                d = <unsigned char>s[j] - 48
                if d > 9:
                    break
                j += 1
                if d:
                    f = j - fstart
                    if f <= 18:
                        fv = fv * <uint64_t>P10[f - fs] + d
                        fs = f
                    else:
                        fs = 99          # a non-zero digit beyond 1e-18: the text path decides
            plain = j > fstart and s[j] == c'"'
    if plain:
        if size:
            L.q_off = <int32_t>start
            L.q_len = <int32_t>(j - start)
            L.q_int = <int64_t>iv
            L.q_frac = <int64_t>fv
            L.q_idig = <int8_t>(idig if idig < 99 else 99)
            L.q_fdig = <int8_t>fs
        else:
            L.p_off = <int32_t>start
            L.p_len = <int32_t>(j - start)
            L.p_int = <int64_t>iv
            L.p_frac = <int64_t>fv
            L.p_idig = <int8_t>(idig if idig < 99 else 99)
            L.p_fdig = <int8_t>fs
        return j + 1
    j = _skip_string(s, i, n)
    if j < 0:
        return -1
    if size:
        L.q_off = <int32_t>start
        L.q_len = <int32_t>(j - 1 - start)
        L.q_idig = -1
    else:
        L.p_off = <int32_t>start
        L.p_len = <int32_t>(j - 1 - start)
        L.p_idig = -1
    return j


cdef inline int _trailing_zeros(int64_t units, int64_t* rest) noexcept nogil:
    cdef int k = 0
    while units > 0 and units % 10 == 0:
        units //= 10
        k += 1
    rest[0] = units
    return k


cdef class DepthScanner:
    """Reusable: one per feed, no allocation per frame once its level buffer has grown."""

    def __cinit__(self):
        self.levels = NULL
        self.n_levels = 0
        self.cap = 0
        self.error = ""
        self.frame = b""

    def __dealloc__(self):
        free(self.levels)

    cdef int _grow(self) except -1:
        cdef void* m = realloc(self.levels, (self.cap * 2 + 64) * sizeof(LevelRef))
        if m == NULL:
            raise MemoryError()
        self.levels = <LevelRef*>m
        self.cap = self.cap * 2 + 64
        return 0

    cdef Py_ssize_t _levels(self, const char* s, Py_ssize_t i, Py_ssize_t n,
                            int side) except -2:
        """Parse [["p","q"],...] at s[i]; returns the index after it or -1. Compact JSON (no
        whitespace, two items a level) takes the straight path; anything else the tolerant one.
        Reads up to s[n], the frame's terminating NUL."""
        cdef LevelRef* L
        cdef char c
        i = _ws(s, i, n)
        if s[i] != c'[':
            return -1
        i = _ws(s, i + 1, n)
        if s[i] == c']':
            return i + 1
        while True:
            if s[i] != c'[':
                return -1
            i += 1
            if s[i] != c'"':
                i = _ws(s, i, n)
                if s[i] != c'"':
                    return -1
            if self.n_levels == self.cap:
                self._grow()
            L = &self.levels[self.n_levels]
            L.side = <int8_t>side
            i = _number(s, i, n, L, False)
            if i < 0:
                return -1
            if s[i] == c',' and s[i + 1] == c'"':
                i += 1
            else:
                i = _ws(s, i, n)
                if s[i] != c',':
                    return -1
                i = _ws(s, i + 1, n)
                if s[i] != c'"':
                    return -1
            i = _number(s, i, n, L, True)
            if i < 0:
                return -1
            self.n_levels += 1
            if s[i] != c']':
                i = _ws(s, i, n)
                while s[i] == c',':          # tolerate extra items in a level
                    i = _skip_value(s, i + 1, n)
                    if i < 0:
                        return -1
                    i = _ws(s, i, n)
                if s[i] != c']':
                    return -1
            c = s[i + 1]
            if c == c',':
                i += 2
                if s[i] != c'[':
                    i = _ws(s, i, n)
                continue
            if c == c']':
                return i + 2
            i = _ws(s, i + 1, n)
            if s[i] == c',':
                i = _ws(s, i + 1, n)
                continue
            if s[i] == c']':
                return i + 1
            return -1

    cpdef int scan(self, bytes frame):
        """Scan one frame: SCAN_DEPTH, SCAN_OTHER, or SCAN_MALFORMED (see .error)."""
        cdef const char* s = frame
        cdef Py_ssize_t n = len(frame)
        cdef Py_ssize_t i, k, klen, end
        cdef bint is_depth = False, has_b = False, has_a = False, has_u = False, has_U = False
        cdef bint top = True, descended = False
        self.frame = frame
        self.n_levels = 0
        self.prev_last_id = -1
        self.event_ms = -1
        self.sym_off = 0
        self.sym_len = 0
        i = _ws(s, 0, n)
        if i >= n or s[i] != c'{':
            self.error = "frame is not a JSON object"
            return SCAN_MALFORMED
        # a combined-stream frame {"stream":"...","data":{...}} holds the update in "data"
        while True:
            i = _ws(s, i + 1, n)
            if i < n and s[i] == c'}':
                break
            if i >= n or s[i] != c'"':
                return self._bad("expected a key", is_depth)
            k = i + 1
            end = _skip_string(s, i, n)
            if end < 0:
                return self._bad("unterminated key", is_depth)
            klen = end - 1 - k
            i = _ws(s, end, n)
            if i >= n or s[i] != c':':
                return self._bad("expected ':' after a key", is_depth)
            i = _ws(s, i + 1, n)
            if i >= n:
                return self._bad("truncated frame", is_depth)
            if top and klen == 4 and s[k] == c'd' and s[k + 1] == c'a' and s[k + 2] == c't' \
                    and s[k + 3] == c'a' and s[i] == c'{' and not is_depth:
                top = False              # descend: the loop now walks the payload object
                descended = True
                continue
            if klen == 1:
                if s[k] == c'e':
                    if s[i] != c'"':
                        return self._bad("'e' is not a string", is_depth)
                    end = _skip_string(s, i, n)
                    if end < 0:
                        return self._bad("unterminated string", is_depth)
                    if end - i - 2 == 11 and s[i + 1] == c'd' and s[i + 6] == c'U' \
                            and s[i + 11] == c'e':
                        is_depth = True
                    else:
                        return SCAN_OTHER
                    i = end
                elif s[k] == c'U':
                    i = _int(s, i, n, &self.first_id)
                    has_U = True
                elif s[k] == c'u':
                    i = _int(s, i, n, &self.last_id)
                    has_u = True
                elif s[k] == c'E':
                    i = _int(s, i, n, &self.event_ms)
                elif s[k] == c's':
                    if s[i] != c'"':
                        return self._bad("'s' is not a string", is_depth)
                    end = _skip_string(s, i, n)
                    if end < 0:
                        return self._bad("unterminated string", is_depth)
                    self.sym_off = <int32_t>(i + 1)
                    self.sym_len = <int32_t>(end - i - 2)
                    i = end
                elif s[k] == c'b':
                    if s[i] != c'[':
                        return SCAN_OTHER      # bookTicker: "b" is a string
                    i = self._levels(s, i, n, 0)
                    has_b = True
                elif s[k] == c'a':
                    if s[i] != c'[':
                        return SCAN_OTHER
                    i = self._levels(s, i, n, 1)
                    has_a = True
                else:
                    i = _skip_value(s, i, n)
            elif klen == 2 and s[k] == c'p' and s[k + 1] == c'u':
                i = _int(s, i, n, &self.prev_last_id)
            else:
                i = _skip_value(s, i, n)
            if i < 0:
                return self._bad("malformed value", is_depth or has_b or has_a)
            i = _ws(s, i, n)
            if i < n and s[i] == c',':
                continue
            if i < n and s[i] == c'}':
                break
            return self._bad("expected ',' or '}'", is_depth or has_b or has_a)
        if descended:
            # the wrapper's own end: any keys after "data", then its closing brace (a frame cut
            # short by one byte is still a truncated frame)
            i = _ws(s, i + 1, n)
            while s[i] == c',':
                i = _ws(s, i + 1, n)
                if s[i] != c'"':
                    return self._bad("expected a key", is_depth)
                i = _skip_string(s, i, n)
                if i < 0:
                    return self._bad("unterminated key", is_depth)
                i = _ws(s, i, n)
                if s[i] != c':':
                    return self._bad("expected ':' after a key", is_depth)
                i = _skip_value(s, i + 1, n)
                if i < 0:
                    return self._bad("malformed value", is_depth)
                i = _ws(s, i, n)
            if s[i] != c'}':
                return self._bad("truncated frame: the stream wrapper is not closed", is_depth)
        if not is_depth:
            return SCAN_OTHER
        if not (has_U and has_u and has_b and has_a and self.sym_len > 0):
            return self._bad("depthUpdate lacks one of s, U, u, b, a", True)
        return SCAN_DEPTH

    cpdef int scan_sync(self, bytes frame, DepthSync sync, bytes symbol, int64_t ts_ns) except -1:
        """scan + sync.on_depth when the frame is a depth update of `symbol` (see the .pxd)."""
        cdef int kind = self.scan(frame)
        if kind != SCAN_DEPTH:
            return SCAN_ROUTED + kind
        if self.sym_len != len(symbol) or \
                memcmp(<const char*>frame + self.sym_off, <const char*>symbol, self.sym_len):
            return SCAN_ROUTED + SCAN_DEPTH
        return sync.on_depth(self, ts_ns)

    cdef int _bad(self, str why, bint depth_like):
        self.error = why
        return SCAN_MALFORMED

    @property
    def symbol(self) -> str:
        """The frame's symbol; the same str object as long as consecutive frames repeat it."""
        cdef const char* s = self.frame
        cdef Py_ssize_t k
        cdef str last = self._sym
        if last is not None and len(last) == self.sym_len:
            for k in range(self.sym_len):
                if <Py_UCS4>s[self.sym_off + k] != last[k]:
                    break
            else:
                return last
        self._sym = self.frame[self.sym_off:self.sym_off + self.sym_len].decode("ascii", "replace")
        return self._sym

    @property
    def symbol_bytes(self) -> bytes:
        return self.frame[self.sym_off:self.sym_off + self.sym_len]

    @property
    def routed(self) -> int:
        """scan_sync's offset for frames it leaves to the caller (SCAN_ROUTED)."""
        return SCAN_ROUTED

    @property
    def level_count(self) -> int:
        return self.n_levels

    def level_texts(self) -> list:
        """[(side, price text, size text), ...] of the last scan (for tests and errors)."""
        cdef Py_ssize_t j
        out = []
        for j in range(self.n_levels):
            L = self.levels[j]
            out.append((L.side, self.frame[L.p_off:L.p_off + L.p_len].decode(),
                        self.frame[L.q_off:L.q_off + L.q_len].decode()))
        return out

    cdef void _set_grid(self, L2Book book) noexcept:
        cdef Grid* g = &self.grid
        g.p_dec = book.price_decimals
        g.s_dec = book.size_decimals
        g.tick_units = book.tick_units
        g.lot_units = book.lot_units
        g.p_e = g.p_dec - _trailing_zeros(g.tick_units, &g.p_unit)
        g.s_e = g.s_dec - _trailing_zeros(g.lot_units, &g.s_unit)
        # parse_fixed's fast path: its results cannot overflow (< 10**18 units); beyond it the
        # text path (and its checked parse) decides
        g.p_maxint = 18 - g.p_dec
        g.s_maxint = 18 - g.s_dec
        if g.p_unit <= 0 or g.s_unit <= 0:     # not a grid: every level takes the text path
            g.p_maxint = g.s_maxint = -1
        g.ready = True

    cpdef int apply_to(self, L2Book book) except -1:
        cdef const char* s = self.frame
        cdef Py_ssize_t j, k
        cdef int code
        cdef int64_t t, q
        cdef LevelRef* L
        cdef Grid* g = &self.grid
        cdef Stage* S = &book.stage
        if g.p_dec != book.price_decimals or g.s_dec != book.size_decimals \
                or g.tick_units != book.tick_units or g.lot_units != book.lot_units \
                or not g.ready:
            self._set_grid(book)
        book.stage_reset()
        book._stage_room(self.n_levels)
        for j in range(self.n_levels):
            L = &self.levels[j]
            # A number with no more significant decimals than the grid's, within parse_fixed's
            # fast path: ticks = value * 10**e / unit, exact. What stage_ticks checks holds by
            # construction (side 0/1, lots >= 0, units < 10**18 < the book's bound) but ticks > 0,
            # so the level is written to the stage directly; any other level goes through the
            # book's text path, which gives the same result or words the problem.
            if 0 <= L.p_idig <= g.p_maxint and L.p_fdig <= g.p_e \
                    and 0 <= L.q_idig <= g.s_maxint and L.q_fdig <= g.s_e:
                t = L.p_int * P10[g.p_e] + L.p_frac * P10[g.p_e - L.p_fdig]
                q = L.q_int * P10[g.s_e] + L.q_frac * P10[g.s_e - L.q_fdig]
                if g.p_unit != 1:
                    if t % g.p_unit:
                        t = 0                  # off the grid: the text path words it
                    t //= g.p_unit
                if g.s_unit != 1:
                    if q % g.s_unit:
                        t = 0
                    q //= g.s_unit
                if t > 0:
                    k = S.n
                    S.side[k] = L.side
                    S.ticks[k] = t
                    S.lots[k] = q
                    S.n = k + 1
                    continue
            code = book.stage_text(L.side, s + L.p_off, L.p_len, s + L.q_off, L.q_len)
            if code:
                book.stage_reset()
                self.error = f"level {j}"
                return code
        book.stage_commit()
        return 0

    cpdef int apply_text_to(self, L2Book book) except -1:
        cdef const char* s = self.frame
        cdef Py_ssize_t j
        cdef int code
        cdef LevelRef* L
        book.stage_reset()
        for j in range(self.n_levels):
            L = &self.levels[j]
            code = book.stage_text(L.side, s + L.p_off, L.p_len, s + L.q_off, L.q_len)
            if code:
                book.stage_reset()
                self.error = f"level {j}"
                return code
        book.stage_commit()
        return 0


cdef class DepthSync:
    """See jsonscan.pxd. The caller owns buffering and snapshots; this owns the rule."""

    def __cinit__(self):
        self.book = None
        self.last_u = -1
        self.futures = False
        self.first = True
        self.synced = False
        self.track_tops = False
        self.ring_n = 0
        self.ring_head = 0
        self.last_code = 0

    def start(self, L2Book book, int64_t last_update_id):
        """A snapshot has been loaded into `book`."""
        self.book = book
        self.last_u = last_update_id
        self.first = True
        self.synced = True
        self.forget_tops()

    cpdef void forget_tops(self):
        self.ring_n = 0
        self.ring_head = 0

    cpdef int rule(self, int64_t U, int64_t u, int64_t pu):
        """SYNC_APPLIED when the diff is the next one, else DROP / GAP (BUFFER if unsynced)."""
        if not self.synced:
            return SYNC_BUFFER
        if self.first:
            if (u < self.last_u) if self.futures else (u <= self.last_u):
                return SYNC_DROP
            if (U <= self.last_u <= u) if self.futures else (U <= self.last_u + 1 <= u):
                return SYNC_APPLIED
            return SYNC_GAP
        if (pu == self.last_u) if self.futures else (U == self.last_u + 1):
            return SYNC_APPLIED
        return SYNC_DROP if u <= self.last_u else SYNC_GAP

    cpdef int on_depth(self, DepthScanner sc, int64_t ts_ns) except -1:
        """Check the scanned diff against the rule and apply it when it is the next one."""
        cdef int r
        if sc.prev_last_id >= 0:
            self.futures = True          # futures diffs carry pu, whichever came first
        if not self.synced:
            return SYNC_BUFFER
        r = self.rule(sc.first_id, sc.last_id, sc.prev_last_id)
        if r != SYNC_APPLIED:
            return r
        return self.apply(sc, ts_ns)

    cpdef int apply(self, DepthScanner sc, int64_t ts_ns) except -1:
        """Apply the scanned diff (already known to be in sequence)."""
        cdef int64_t t[4]
        cdef Py_ssize_t slot
        cdef L2Book book = self.book
        cdef int code = sc.apply_to(book)
        if code:
            self.last_code = code
            return SYNC_BAD_LEVEL
        self.last_u = sc.last_id
        self.first = False
        book.seq = sc.last_id
        book.ts_ns = ts_ns
        if self.track_tops:
            slot = (self.ring_head + self.ring_n) % TOP_RING
            if self.ring_n == TOP_RING:
                self.ring_head = (self.ring_head + 1) % TOP_RING
            else:
                self.ring_n += 1
            self.ring_u[slot] = sc.last_id
            self.ring_has[slot] = book.best(0, &t[0], &t[1]) and book.best(1, &t[2], &t[3])
            self.ring_top[slot][0] = t[0]
            self.ring_top[slot][1] = t[1]
            self.ring_top[slot][2] = t[2]
            self.ring_top[slot][3] = t[3]
        return SYNC_APPLIED

    def top_after(self, int64_t u):
        """(found, top): the top of book right after the diff whose last update id is u, if it
        is among the remembered ones; top is (bid ticks, bid lots, ask ticks, ask lots) or None
        when a side was empty."""
        cdef Py_ssize_t a = 0, b = self.ring_n, m, slot
        while a < b:                       # update ids increase along the ring
            m = (a + b) >> 1
            if self.ring_u[(self.ring_head + m) % TOP_RING] < u:
                a = m + 1
            else:
                b = m
        if a == self.ring_n:
            return (False, None)
        slot = (self.ring_head + a) % TOP_RING
        if self.ring_u[slot] != u:
            return (False, None)
        if not self.ring_has[slot]:
            return (True, None)
        return (True, (self.ring_top[slot][0], self.ring_top[slot][1],
                       self.ring_top[slot][2], self.ring_top[slot][3]))
