"""Binance depth-update scanner (see jsonscan.pxd).

The frame is walked once as JSON: objects, arrays, strings, numbers and literals are all
recognised (so unexpected keys and values are skipped correctly), but only the keys a depth
update needs are decoded. Keys must be plain ASCII without escapes, which Binance's are.
"""
from libc.stdint cimport int64_t, int32_t
from libc.stdlib cimport free, realloc
from libc.string cimport memchr

from tradecore._fast.book cimport L2Book


cdef inline Py_ssize_t _ws(const char* s, Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    while i < n and (s[i] == c' ' or s[i] == c'\n' or s[i] == c'\r' or s[i] == c'\t'):
        i += 1
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

    cdef int _push(self, int side, Py_ssize_t p, Py_ssize_t pl, Py_ssize_t q,
                   Py_ssize_t ql) except -1:
        cdef void* m
        if self.n_levels == self.cap:
            m = realloc(self.levels, (self.cap * 2 + 64) * sizeof(LevelRef))
            if m == NULL:
                raise MemoryError()
            self.levels = <LevelRef*>m
            self.cap = self.cap * 2 + 64
        self.levels[self.n_levels].side = side
        self.levels[self.n_levels].p_off = <int32_t>p
        self.levels[self.n_levels].p_len = <int32_t>pl
        self.levels[self.n_levels].q_off = <int32_t>q
        self.levels[self.n_levels].q_len = <int32_t>ql
        self.n_levels += 1
        return 0

    cdef Py_ssize_t _levels(self, const char* s, Py_ssize_t i, Py_ssize_t n,
                            int side) except -2:
        """Parse [["p","q"],...] at s[i]; returns the index after it or -1."""
        cdef Py_ssize_t p, pe, q, qe
        i = _ws(s, i, n)
        if i >= n or s[i] != c'[':
            return -1
        i = _ws(s, i + 1, n)
        if i < n and s[i] == c']':
            return i + 1
        while i < n:
            if s[i] != c'[':
                return -1
            i = _ws(s, i + 1, n)
            if i >= n or s[i] != c'"':
                return -1
            p = i + 1
            pe = _skip_string(s, i, n)
            if pe < 0:
                return -1
            i = _ws(s, pe, n)
            if i >= n or s[i] != c',':
                return -1
            i = _ws(s, i + 1, n)
            if i >= n or s[i] != c'"':
                return -1
            q = i + 1
            qe = _skip_string(s, i, n)
            if qe < 0:
                return -1
            self._push(side, p, pe - 1 - p, q, qe - 1 - q)
            i = _ws(s, qe, n)
            # tolerate extra items in a level
            while i < n and s[i] == c',':
                i = _skip_value(s, i + 1, n)
                if i < 0:
                    return -1
                i = _ws(s, i, n)
            if i >= n or s[i] != c']':
                return -1
            i = _ws(s, i + 1, n)
            if i < n and s[i] == c',':
                i = _ws(s, i + 1, n)
                continue
            if i < n and s[i] == c']':
                return i + 1
            return -1
        return -1

    cpdef int scan(self, bytes frame):
        """Scan one frame: SCAN_DEPTH, SCAN_OTHER, or SCAN_MALFORMED (see .error)."""
        cdef const char* s = frame
        cdef Py_ssize_t n = len(frame)
        cdef Py_ssize_t i, k, klen, end
        cdef bint is_depth = False, has_b = False, has_a = False, has_u = False, has_U = False
        cdef bint wrapped = False
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
        # combined stream wrapper: {"stream":"...","data":{...}}
        if n - i > 10 and s[i + 1] == c'"' and s[i + 2] == c's' and s[i + 3] == c't' \
                and s[i + 4] == c'r' and s[i + 5] == c'e' and s[i + 6] == c'a' and s[i + 7] == c'm':
            wrapped = True
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
            if wrapped and klen == 4 and s[k] == c'd' and s[k + 1] == c'a' and s[k + 2] == c't' \
                    and s[k + 3] == c'a':
                if s[i] != c'{':
                    return SCAN_OTHER
                wrapped = False          # descend: the loop now walks the payload object
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
        if not is_depth:
            return SCAN_OTHER
        if not (has_U and has_u and has_b and has_a and self.sym_len > 0):
            return self._bad("depthUpdate lacks one of s, U, u, b, a", True)
        return SCAN_DEPTH

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

    cpdef int apply_to(self, L2Book book) except -1:
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
