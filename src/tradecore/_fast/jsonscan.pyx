"""Binance depth-update scanner (see jsonscan.pxd).

The frame is walked once as JSON: objects, arrays, strings, numbers and literals are all
recognised (so unexpected keys and values are skipped correctly), but only the keys a depth
update needs are decoded. Keys must be plain ASCII without escapes, which Binance's are.

In the steady state (scan_sync, the frame most likely being the hinted book's next diff) prices
and sizes are converted while the frame is walked, straight into that book's ticks and lots
(`_units`: the integer digits and the decimals up to the grid's, eight bytes at a time, into
one scaled int64; no intermediate fields, no Python object) and written to the book's stage, so
applying the diff is the book's commit. Only plain digits[.digits] text whose value is exact
on the grid takes that path; everything else (signs, exponents, escapes, empty strings, too many
integer digits or decimals, off the grid, zero prices) is staged from its text by the book
(L2Book.stage_text), which gives the same result or words the problem. A frame scanned by
scan() alone keeps only the spans of its numbers; apply_to then converts them the same way
for whatever book it is given.

On a grid of units 1 the levels of the usual shape go through _levels_fast, a loop that does
only that shape (tc_units_fast); the first other level is left to _levels' general loop, so the
result is the same either way. On x86-64 that loop first offers each level to tc_level_sse2,
which reads the whole level from one mask of its non-digit bytes and takes a subset of what
tc_units_fast takes, with the same values (a test compares the two); and it prefetches the
book window's slot of each level it reads, so that the commit after the scan finds it in
cache (docs/arbitrage.md, "Session 7", has the measurements). FramePath is the normalizer's
on_frame steady state around scan_sync (see the .pxd).
"""
from libc.stdint cimport INT64_MIN, int64_t, int32_t, int8_t, uint64_t
from libc.stdlib cimport free, realloc
from libc.string cimport memchr, memcmp, memset

from tradecore._fast.book cimport DEFER_MIN_LEVELS, NEAR_LEVELS, L2Book, Side, Stage


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
    /* 0x80 in every byte that is not 0 (for digit bytes: a non-zero digit) */
    static inline uint64_t tc_nonzero(uint64_t t) {
        return (((t & 0x7F7F7F7F7F7F7F7FULL) + 0x7F7F7F7F7F7F7F7FULL) | t) & 0x8080808080808080ULL;
    }
    /* A number's text at s[j] (after its opening quote) in units of 10**-e (e <= 8), when it is
       digits[.digits] closed by a quote, with 1..7 integer digits (and at most maxint) and no
       non-zero digit beyond e decimals; *end is then the index of the closing quote. -1: any
       other text (the text path decides); -2: eight or more integer digits (the long path).
       Two 8-byte reads, and one conversion when the integer digits and e decimals make at
       most eight digits (the point dropped, the decimals short of e read as zeros), which is
       every Binance price; sizes are one conversion when the integer part is 0. */
    static inline __attribute__((always_inline)) int64_t
    tc_units(const char* s, Py_ssize_t j, Py_ssize_t n, int e, int maxint, Py_ssize_t* end,
             const int64_t* p10) {
        uint64_t t, f, lowkf, lowe, iv;
        int k, kf, c;
        if (j + 8 > n + 1) return -1;          /* s[n] is the bytes object's NUL */
        t = tc_load_digits(s + j);
        k = tc_lead_digits(t);
        if (k == 8) return -2;
        if (k == 0 || k > maxint) return -1;
        c = (int)((t >> (8 * k)) & 0xFF);      /* the byte after the digits, XOR '0' */
        if (c == 0x12) {                       /* '"': an integer */
            *end = j + k;
            return (int64_t)tc_digits_value(t, k) * p10[e];
        }
        if (c != 0x1E) return -1;              /* not '.' */
        j += k + 1;
        if (j + 8 > n + 1) return -1;
        f = tc_load_digits(s + j);
        kf = tc_lead_digits(f);
        if (kf == 0) return -1;                /* "5.": the text path words it */
        lowkf = kf == 8 ? ~0ULL : ((1ULL << (8 * kf)) - 1);
        lowe = e >= 8 ? ~0ULL : ((1ULL << (8 * e)) - 1);
        /* a non-zero digit beyond the grid's decimals: too precise or off the grid */
        if (tc_nonzero(f) & lowkf & ~lowe) return -1;
        if (kf < 8) {
            if (((f >> (8 * kf)) & 0xFF) != 0x12) return -1;
            *end = j + kf;
        } else {
            j += 8;
            while (s[j] == '0') j++;           /* padding zeros beyond eight decimals */
            if (s[j] != '"') return -1;
            *end = j;
        }
        f &= lowkf & lowe;                     /* the decimals that count, zeros up to e */
        if (k + e <= 8)
            return (int64_t)tc_digits_value((t & ((1ULL << (8 * k)) - 1)) | (f << (8 * k)),
                                            k + e);
        iv = (k == 1 && (t & 0xFF) == 0) ? 0 : tc_digits_value(t, k);
        return (int64_t)(iv * (uint64_t)p10[e] + tc_digits_value(f, e));
    }
    static const uint64_t tc_low[9] = {
        0ULL, 0xFFULL, 0xFFFFULL, 0xFFFFFFULL, 0xFFFFFFFFULL, 0xFFFFFFFFFFULL,
        0xFFFFFFFFFFFFULL, 0xFFFFFFFFFFFFFFULL, ~0ULL};
    /* A number's value in units of 10**-e (2 <= e when k + e > 8), from t, whose first k
       bytes are its integer digits, and f, its decimals with those beyond e zero and the
       missing ones up to e zero (digit bytes XOR '0'): one conversion when the k + e digits
       fit in eight. */
    static inline __attribute__((always_inline)) uint64_t
    tc_join_units(uint64_t t, uint64_t f, unsigned k, int e, const int64_t* p10) {
        if (k + e <= 8)
            return tc_digits_value((t & tc_low[k]) | (f << (8 * k)), k + e);
        /* one integer digit is its own value */
        return (k == 1 ? (t & 0xFF) : tc_digits_value(t, k)) * (uint64_t)p10[e]
               + tc_digits_value(f, e);
    }
    /* tc_units for the shape every Binance number has, with fewer branches: 1..7 integer
       digits (at most maxint), a point, 1..8 decimals, the closing quote, no non-zero
       decimal beyond e (lo = tc_low[e]). The caller guarantees j + 16 <= n (the reads stay
       within the frame and its NUL). -1 for any other text: the caller then asks tc_units,
       which decides (the same value, or the text path). */
    static inline __attribute__((always_inline)) int64_t
    tc_units_fast(const char* s, Py_ssize_t j, int e, int maxint, uint64_t lo,
                  Py_ssize_t* end, const int64_t* p10) {
        uint64_t t = tc_load_digits(s + j), f, m, mf;
        unsigned k, kf;
        Py_ssize_t q;
        /* the first non-digit; eight digits read as k = 7, whose byte (a digit) is no '.' */
        m = ((((t & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL) | t) & 0x8080808080808080ULL)
            | 0x8000000000000000ULL;
        k = (unsigned)__builtin_ctzll(m) >> 3;
        /* 1..maxint integer digits, then '.' (k - 1 wraps for k = 0) */
        if (k - 1 >= (unsigned)maxint || ((t >> (8 * k)) & 0xFF) != 0x1E) return -1;
        f = tc_load_digits(s + j + k + 1);
        mf = (((f & 0x7F7F7F7F7F7F7F7FULL) + 0x7676767676767676ULL) | f) & 0x8080808080808080ULL;
        kf = mf ? (unsigned)__builtin_ctzll(mf) >> 3 : 8;
        q = j + k + 1 + kf;                        /* the closing quote, if this is the shape */
        /* f's digit bytes hold the digits' values: a '0' is a zero byte, so the decimals that
           count are f & tc_low[kf], and any non-zero byte beyond e is a decimal off the grid */
        f &= tc_low[kf];
        if (kf == 0 || s[q] != '"' || (f & ~lo)) return -1;
        *end = q;
        return (int64_t)tc_join_units(t, f, k, e, p10);
    }
    /* A hint that the line of p will be written soon (no fault, no effect on results). */
    static inline void tc_prefetch_w(const void* p) { __builtin_prefetch(p, 1, 3); }
    /* A whole level of the usual shape at once, on x86-64 (SSE2 is part of its baseline).
       s[i] is the level's '[' (followed by '"') and its 32 bytes are within the frame. One
       pass over those 32 bytes gives the mask of their non-digit bytes; the level is taken when
       its non-digits are, in order, exactly [ " . " , " . " ] (the ']' within the 32 bytes),
       with 1..kmax integer digits (kmax = min(7, maxint)) and 1..8 decimals on both sides and
       no non-zero decimal beyond the grid's (lo). The values are then tc_units_fast's tail
       (tc_join_units), with the digit counts already known. Returns 1 with *pu > 0, *qu >= 0
       and the closing quotes *pe, *qe; 0 for anything else: the caller then asks
       tc_units_fast, which decides.
       So it takes a subset of what tc_units_fast takes, with the same values, in less time:
       about as many instructions, but the digits are found by one mask, not by two SWAR scans
       a number that each wait for the last (docs/arbitrage.md, "Session 7"). */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    static inline __attribute__((always_inline)) int
    tc_level_sse2(const char* s, Py_ssize_t i, int pe_, unsigned pkmax, uint64_t plo,
                  int se, unsigned skmax, uint64_t slo, int64_t* pu, int64_t* qu,
                  Py_ssize_t* pe, Py_ssize_t* qe, const int64_t* p10) {
        const char* p = s + i;
        const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
        __m128i a = _mm_sub_epi8(_mm_loadu_si128((const __m128i*)p), zero);
        __m128i b = _mm_sub_epi8(_mm_loadu_si128((const __m128i*)(p + 16)), zero);
        uint64_t dg = (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(a, nine), a))
                    | ((uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(b, nine), b)) << 16);
        /* the non-digits from byte 2 on; bits 32..63 set, so that the scan below never runs
           out of bits (a position of 32 or more is rejected by q4 > 30) */
        uint64_t x = (~dg & 0xFFFFFFFCULL) | 0xFFFFFFFF00000000ULL;
        unsigned d1, q2, d2, q4, k, kf, k2, kf2;
        uint64_t t, f, v;
        d1 = (unsigned)__builtin_ctzll(x); x &= x - 1;
        q2 = (unsigned)__builtin_ctzll(x); x &= x - 1;
        x &= x - 1; x &= x - 1;                 /* the ',' and '"' that must follow q2 */
        d2 = (unsigned)__builtin_ctzll(x); x &= x - 1;
        q4 = (unsigned)__builtin_ctzll(x);
        k = d1 - 2; kf = q2 - d1 - 1; k2 = d2 - q2 - 3; kf2 = q4 - d2 - 1;
        if (q4 > 30 || k - 1 >= pkmax || kf - 1 >= 8 || k2 - 1 >= skmax || kf2 - 1 >= 8)
            return 0;
        if (p[d1] != '.' || p[q2] != '"' || p[q2 + 1] != ',' || p[q2 + 2] != '"'
                || p[d2] != '.' || p[q4] != '"' || p[q4 + 1] != ']')
            return 0;
        /* the price: k digits at p + 2, kf decimals at p + d1 + 1 */
        t = tc_load_digits(p + 2);
        f = tc_load_digits(p + d1 + 1) & tc_low[kf];
        if (f & ~plo) return 0;
        v = tc_join_units(t, f, k, pe_, p10);
        if (v == 0) return 0;                    /* a zero price: the text path words it */
        *pu = (int64_t)v;
        /* the size: k2 digits at p + q2 + 3, kf2 decimals at p + d2 + 1 */
        t = tc_load_digits(p + q2 + 3);
        f = tc_load_digits(p + d2 + 1) & tc_low[kf2];
        if (f & ~slo) return 0;
        *qu = (int64_t)tc_join_units(t, f, k2, se, p10);
        *pe = i + q2;
        *qe = i + q4;
        return 1;
    }
    #else
    static inline int
    tc_level_sse2(const char* s, Py_ssize_t i, int pe_, unsigned pkmax, uint64_t plo,
                  int se, unsigned skmax, uint64_t slo, int64_t* pu, int64_t* qu,
                  Py_ssize_t* pe, Py_ssize_t* qe, const int64_t* p10) {
        return 0;                                /* no SSE2: tc_units_fast reads every level */
    }
    #endif
    """
    const uint64_t* tc_low
    int64_t tc_units_fast(const char* s, Py_ssize_t j, int e, int maxint, uint64_t lo,
                          Py_ssize_t* end, const int64_t* p10) noexcept nogil
    void tc_prefetch_w(const void* p) noexcept nogil
    int tc_level_sse2(const char* s, Py_ssize_t i, int pe_, unsigned pkmax, uint64_t plo,
                      int se, unsigned skmax, uint64_t slo, int64_t* pu, int64_t* qu,
                      Py_ssize_t* pe, Py_ssize_t* qe, const int64_t* p10) noexcept nogil
    uint64_t tc_load_digits(const char* p) noexcept nogil
    int tc_lead_digits(uint64_t t) noexcept nogil
    uint64_t tc_digits_value(uint64_t t, int k) noexcept nogil
    uint64_t tc_nonzero(uint64_t t) noexcept nogil
    int64_t tc_units(const char* s, Py_ssize_t j, Py_ssize_t n, int e, int maxint,
                     Py_ssize_t* end, const int64_t* p10) noexcept nogil


cdef Py_ssize_t _int(const char* s, Py_ssize_t i, Py_ssize_t n, int64_t* out) noexcept nogil:
    """A non-negative JSON integer at s[i] (after whitespace) into out; the index after it, or
    -1. Up to 15 digits (every id and time Binance sends) in two 8-byte steps."""
    cdef int64_t v = 0
    cdef Py_ssize_t start
    cdef uint64_t t, t2
    cdef int k, k2
    i = _ws(s, i, n)
    if i + 16 <= n + 1:             # s[n] is the bytes object's NUL
        t = tc_load_digits(s + i)
        k = tc_lead_digits(t)
        if 0 < k < 8:
            out[0] = <int64_t>tc_digits_value(t, k)
            return i + k
        if k == 8:
            t2 = tc_load_digits(s + i + 8)
            k2 = tc_lead_digits(t2)
            if k2 < 8:
                v = <int64_t>tc_digits_value(t, 8)
                if k2:
                    v = v * P10[k2] + <int64_t>tc_digits_value(t2, k2)
                out[0] = v
                return i + 8 + k2
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


cdef uint64_t LOW_BYTES[9]          # LOW_BYTES[k]: the first k bytes of a little-endian word
for _k in range(8):
    LOW_BYTES[_k] = (<uint64_t>1 << (8 * _k)) - 1
LOW_BYTES[8] = <uint64_t>0xFFFFFFFFFFFFFFFF


cdef inline int64_t _units(const char* s, Py_ssize_t j, Py_ssize_t n, int e,
                           int maxint, Py_ssize_t* end) noexcept nogil:
    """tc_units (the usual case, inlined), or _units_long for 8..15 integer digits."""
    cdef int64_t r = tc_units(s, j, n, e, maxint, end, P10)
    if r == -2:
        return _units_long(s, j, n, e, maxint, end)
    return r


cdef int64_t _units_long(const char* s, Py_ssize_t j, Py_ssize_t n, int e,
                         int maxint, Py_ssize_t* end) noexcept nogil:
    """The number whose text starts at s[j] (after its opening quote) in units of 10**-e, for
    plain digits[.digits] text closed by a quote with at most maxint (<= 15) integer digits and
    no non-zero digit beyond e (<= 8) decimals; *end is then the index of the closing quote.
    -1 for any other text: the caller stages it from its text, which decides (same value, or
    the problem). The 8-byte reads stay within the frame and its NUL.

    The usual case (fewer than 8 integer digits, integer digits + e <= 8) is one conversion:
    the integer digits and the first e decimals are joined into one word of digits (the point
    dropped, missing decimals as zeros) and read as one number."""
    cdef uint64_t t, f, iv = 0, fv, nz, w
    cdef int k, k2, kf, m
    cdef bint short = True                     # fewer than 8 integer digits (iv not read yet)
    if j + 8 > n + 1:
        return -1
    t = tc_load_digits(s + j)
    k = tc_lead_digits(t)
    if k == 0:
        return -1
    if k < 8:
        if k > maxint:
            return -1
        m = <int>((t >> (8 * k)) & 0xFF)       # the byte after the digits, XOR '0'
        if m == 0x12:                          # '"': an integer
            end[0] = j + k
            return <int64_t>tc_digits_value(t, k) * P10[e]
        if m != 0x1E:                          # not '.'
            return -1
    else:                                       # 8..15 integer digits
        if j + 16 > n + 1:
            return -1
        f = tc_load_digits(s + j + 8)
        k2 = tc_lead_digits(f)
        if k2 == 8:
            return -1
        short = False
        iv = tc_digits_value(t, 8)
        if k2:
            iv = iv * <uint64_t>P10[k2] + tc_digits_value(f, k2)
        k += k2
        if k > maxint:
            return -1
        if s[j + k] == c'"':
            end[0] = j + k
            return <int64_t>(iv * <uint64_t>P10[e])
        if s[j + k] != c'.':
            return -1
    j += k + 1                                  # the first decimal
    if j + 8 > n + 1:
        return -1
    f = tc_load_digits(s + j)
    kf = tc_lead_digits(f)
    if kf == 0:
        return -1                               # "5.": the text path words it
    # a non-zero digit beyond the grid's decimals: too precise or off the grid, text path
    nz = tc_nonzero(f) & LOW_BYTES[kf] & ~LOW_BYTES[e]
    if nz:
        return -1
    if kf < 8:
        if ((f >> (8 * kf)) & 0xFF) != 0x12:
            return -1
        end[0] = j + kf
    else:
        j += 8
        while s[j] == c'0':                     # padding zeros beyond eight decimals
            j += 1
        if s[j] != c'"':
            return -1
        end[0] = j
    m = e if e < kf else kf                     # decimals that count; the rest up to e are 0
    if short:
        if k + e <= 8:
            w = (t & LOW_BYTES[k]) | ((f & LOW_BYTES[m]) << (8 * k))
            return <int64_t>tc_digits_value(w, k + e)
        iv = tc_digits_value(t, k)
    fv = 0
    if m:
        fv = tc_digits_value(f, m) * <uint64_t>P10[e - m]
    return <int64_t>(iv * <uint64_t>P10[e] + fv)


cdef inline int _trailing_zeros(int64_t units, int64_t* rest) noexcept nogil:
    cdef int k = 0
    while units > 0 and units % 10 == 0:
        units //= 10
        k += 1
    rest[0] = units
    return k


def _level_both(bytes frame, Py_ssize_t i, int p_e, int p_max, int s_e, int s_max):
    """Test hook: the level whose '[' is frame[i] (40 bytes or more before the frame's end),
    read on a grid of units 1 with p_e (s_e) decimals that count and at most p_max (s_max)
    integer digits, by tc_level_sse2 and by _levels_fast's two tc_units_fast calls. Each is
    (price units, size units, price's closing quote, size's closing quote), or None where that
    reader leaves the level to the next one. tc_level_sse2 must take a subset of what the
    calls take, with the same result."""
    cdef const char* s = frame
    cdef Py_ssize_t n = len(frame), pe = 0, qe = 0
    cdef int64_t pu = 0, qu = 0
    cdef uint64_t p_lo = tc_low[p_e], s_lo = tc_low[s_e]
    if not (0 <= p_e <= 8 and 0 <= s_e <= 8 and p_max >= 1 and s_max >= 1):
        raise ValueError("decimals 0..8 and at least one integer digit on both sides")
    if i < 0 or i + 40 > n or memcmp(s + i, b'["', 2):
        raise ValueError(f"frame[{i}] must be a level's '[\"' with 40 bytes from it")
    sse = None
    if tc_level_sse2(s, i, p_e, <unsigned>min(p_max, 7), p_lo, s_e, <unsigned>min(s_max, 7),
                     s_lo, &pu, &qu, &pe, &qe, P10):
        sse = (pu, qu, pe, qe)
    scalar = None
    pu = tc_units_fast(s, i + 2, p_e, p_max, p_lo, &pe, P10)
    if pu > 0 and not memcmp(s + pe + 1, b',"', 2):
        qu = tc_units_fast(s, pe + 3, s_e, s_max, s_lo, &qe, P10)
        if qu >= 0 and s[qe + 1] == c']':
            scalar = (pu, qu, pe, qe)
    return sse, scalar


cdef class DepthScanner:
    """Reusable: one per feed, no allocation per frame once its level buffer has grown."""

    def __cinit__(self):
        self.levels = NULL
        self.n_levels = 0
        self.cap = 0
        self._spans_due = False
        self._b_at = -1
        self._a_at = -1
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

    cdef int _reserve(self, Py_ssize_t need) except -1:
        cdef void* m
        cdef Py_ssize_t cap = self.cap * 2 + 64
        if need <= self.cap:
            return 0
        if cap < need:
            cap = need
        m = realloc(self.levels, cap * sizeof(LevelRef))
        if m == NULL:
            raise MemoryError()
        self.levels = <LevelRef*>m
        self.cap = cap
        return 0

    cdef Py_ssize_t _levels(self, const char* s, Py_ssize_t i, Py_ssize_t n,
                            int side) except -2:
        """Parse [["p","q"],...] at s[i]; returns the index after it or -1. Compact JSON (no
        whitespace, two items a level) takes the straight path; anything else the tolerant one.
        Reads up to s[n], the frame's terminating NUL. When fused (self._fbook), every level is
        also staged on that book as it is read (see _stage)."""
        cdef LevelRef* L
        cdef Stage* S
        cdef char c
        cdef Py_ssize_t j, k
        cdef int64_t pu = -1, qu = -1
        cdef bint fuse = self._fbook is not None
        cdef bint done = False
        cdef Grid* g = &self.grid
        i = _ws(s, i, n)
        if s[i] != c'[':
            return -1
        i = _ws(s, i + 1, n)
        if s[i] == c']':
            return i + 1
        if fuse and g.fast:
            i = self._levels_fast(s, i, n, side, &done)
            if done:
                return i
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
            L.p_off = <int32_t>(i + 1)
            if fuse:
                pu = _units(s, i + 1, n, g.p_e, g.p_maxint, &j)
            if pu < 0:
                j = _skip_string(s, i, n) - 1       # the closing quote
                if j < 0:
                    return -1
            L.p_len = <int32_t>(j - i - 1)
            i = j + 1
            if s[i] == c',' and s[i + 1] == c'"':
                i += 1
            else:
                i = _ws(s, i, n)
                if s[i] != c',':
                    return -1
                i = _ws(s, i + 1, n)
                if s[i] != c'"':
                    return -1
            L.q_off = <int32_t>(i + 1)
            if fuse:
                qu = _units(s, i + 1, n, g.s_e, g.s_maxint, &j)
            if qu < 0:
                j = _skip_string(s, i, n) - 1
                if j < 0:
                    return -1
            L.q_len = <int32_t>(j - i - 1)
            i = j + 1
            self.n_levels += 1
            if fuse:
                # stage on the fused book: from the units when they sit on the grid (what
                # stage_ticks checks holds by construction, but ticks > 0), else from the text
                if pu > 0 and qu >= 0:
                    if g.p_unit != 1:
                        if pu % g.p_unit:
                            pu = 0             # off the grid: the text path words it
                        pu //= g.p_unit
                    if g.s_unit != 1:
                        if qu % g.s_unit:
                            pu = 0
                        qu //= g.s_unit
                if pu > 0 and qu >= 0:
                    S = &self._fbook.stage
                    k = S.n
                    if k == S.cap:
                        self._fbook._stage_room(k + 1)
                    S.side[k] = <int8_t>side
                    S.ticks[k] = pu
                    S.lots[k] = qu
                    S.n = k + 1
                else:
                    self._stage_text(L, s)
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

    cdef Py_ssize_t _levels_fast(self, const char* s, Py_ssize_t i, Py_ssize_t n, int side,
                                 bint* done) except -2:
        """The fused loop for levels of the usual shape, ["digits.digits","digits.digits"]
        without whitespace, on a grid of units 1 (g.fast): each level is converted, checked,
        staged and counted, with no branch for anything else; its spans are not kept (the
        rare reader of them has _spans read the arrays again). Starts at the first
        level's '['. It stops at the first level of any other shape, or one tc_units_fast does
        not take (e.g. a zero price, which the text path words), leaving i at that level's '['
        for _levels' loop, which does the same work the general way; done[0] is set when it
        read the array to its end (the index after the ']' is returned, or -1 when what
        follows a level is not JSON)."""
        cdef Grid* g = &self.grid
        cdef Stage* S = &self._fbook.stage
        cdef LevelRef* L
        cdef Py_ssize_t room, pe = 0, qe = 0
        cdef int64_t pu, qu
        cdef char c
        cdef int8_t sd = <int8_t>side
        # the grid and the stage's arrays in locals: the loop's stores (through char and int
        # pointers) would otherwise make the compiler reload them for every level
        cdef int p_e = g.p_e, p_max = g.p_maxint, s_e = g.s_e, s_max = g.s_maxint
        # the most integer digits tc_level_sse2 takes (tc_units_fast's: at most 7)
        cdef unsigned p_k = <unsigned>(p_max if p_max < 7 else 7)
        cdef unsigned s_k = <unsigned>(s_max if s_max < 7 else 7)
        cdef uint64_t p_lo = g.p_lo, s_lo = g.s_lo
        cdef int8_t* st_side
        cdef int64_t* st_ticks
        cdef int64_t* st_lots
        cdef Py_ssize_t k0
        # the book side's window, whose slot for each level is prefetched as the level is
        # read: the commit after the scan then finds it in cache (a large diff's levels are
        # scattered over the window, and most of their slots would otherwise be cache misses)
        cdef Side* SD = &self._fbook.sd[side]
        cdef int64_t* wq = SD.wq
        cdef int64_t base = SD.base
        cdef int64_t wmask = self._fbook.window - 1
        # ... but not below the fence of a deferring commit (L2Book.stage_commit_near): those
        # slots are written after the order goes out, and their misses, still in flight, would
        # slow the stages before it
        cdef int64_t pf_fence = self._fbook._fence(side, NEAR_LEVELS) if self.defer_far \
            else INT64_MIN
        # room for every level the rest of the frame can hold (each takes at least 9 bytes),
        # so that the loop checks no capacity
        room = (n - i) // 9 + 2
        if self.n_levels + room > self.cap:
            self._reserve(self.n_levels + room)
        if S.n + room > S.cap:
            self._fbook._stage_room(S.n + room)
        L = self.levels + self.n_levels
        k0 = S.n
        st_side = S.side + k0
        st_ticks = S.ticks + k0
        st_lots = S.lots + k0
        done[0] = False
        while True:
            # every read of a level stays within s[0..n] (s[n] is the NUL): tc_units_fast
            # reads s[j..j+16] and returns a closing quote at most j+16, so the price reads up
            # to i+18, the size starts by i+21 and the reads after it end by i+40
            # (tc_level_sse2's by i+39: 32 bytes, and 8 after a point at most 30 bytes in). The
            # level(s) closer than that to the frame's end go to the general loop. (memcmp of
            # two or three constant bytes compiles to one compare.)
            if i + 40 > n or memcmp(s + i, b'["', 2):
                break
            if not tc_level_sse2(s, i, p_e, p_k, p_lo, s_e, s_k, s_lo, &pu, &qu, &pe, &qe, P10):
                pu = tc_units_fast(s, i + 2, p_e, p_max, p_lo, &pe, P10)
                if pu <= 0 or memcmp(s + pe + 1, b',"', 2):
                    break
                qu = tc_units_fast(s, pe + 3, s_e, s_max, s_lo, &qe, P10)
                if qu < 0 or s[qe + 1] != c']':
                    break
            # the slot the commit will write (masked into the window: a level outside it
            # prefetches a line it does not need, which is harmless)
            if (-pu if sd else pu) >= pf_fence:
                tc_prefetch_w(wq + (((-pu if sd else pu) - base) & wmask))
            L += 1                               # counted; its spans are left to _spans
            st_side[0] = sd
            st_ticks[0] = pu
            st_lots[0] = qu
            st_side += 1
            st_ticks += 1
            st_lots += 1
            i = qe + 3
            if not memcmp(s + qe + 1, b'],[', 3):
                continue                         # the next level follows directly
            c = s[qe + 2]
            if c == c',':
                i = _ws(s, i, n)
                continue
            done[0] = True
            if c == c']':
                break
            i = _ws(s, qe + 2, n)
            if s[i] == c',':
                done[0] = False
                i = _ws(s, i + 1, n)
                continue
            if s[i] == c']':
                i += 1
            else:
                i = -1
            break
        if L != self.levels + self.n_levels:
            self._spans_due = True
        self.n_levels = L - self.levels
        S.n = k0 + (st_side - (S.side + k0))
        return i

    cdef int _stage_text(self, LevelRef* L, const char* s) except -1:
        """Stage a level on the fused book from its text, remembering the first problem (it is
        reported if the diff is applied)."""
        cdef int code = self._fbook.stage_text(L.side, s + L.p_off, L.p_len, s + L.q_off, L.q_len)
        if code and not self._fcode:
            self._fcode = code
            self._flevel = self.n_levels - 1
        return 0

    cdef int _spans(self) except -1:
        """The spans the straight loop did not keep (it stages the levels on the fused book and
        only counts them: the spans are for the rare reader, a frame routed to another book,
        the recorder, an error): the last frame's two arrays read again, unfused, which keeps
        every level's spans in order (the same levels, so the same count)."""
        cdef const char* s = self.frame
        cdef Py_ssize_t n = len(self.frame), count = self.n_levels
        cdef L2Book fbook = self._fbook
        if not self._spans_due:
            return 0
        self._fbook = None
        self.n_levels = 0
        try:
            if self._b_at >= 0 and self._levels(s, self._b_at, n, 0) < 0 or \
                    self._a_at >= 0 and self._levels(s, self._a_at, n, 1) < 0:
                raise AssertionError("a frame's levels no longer read")
        finally:
            self._fbook = fbook
        if self.n_levels != count:
            raise AssertionError(f"{self.n_levels} levels read again, {count} the first time")
        self._spans_due = False
        return 0

    cdef void _fuse(self, L2Book book) noexcept:
        """The next scan stages its levels on `book` as it reads them."""
        cdef Grid* g = &self.grid
        if g.p_dec != book.price_decimals or g.s_dec != book.size_decimals \
                or g.tick_units != book.tick_units or g.lot_units != book.lot_units \
                or not g.ready:
            self._set_grid(book)
        book.stage_reset()
        self._fbook = book
        self._fcode = 0

    cpdef int scan(self, bytes frame) except -1:
        """Scan one frame: SCAN_DEPTH, SCAN_OTHER, or SCAN_MALFORMED (see .error)."""
        self._fbook = None
        return self._scan(frame)

    cdef int _scan(self, bytes frame) except -1:
        cdef const char* s = frame
        cdef Py_ssize_t n = len(frame)
        cdef Py_ssize_t i, k, klen, end
        cdef bint is_depth = False, has_b = False, has_a = False, has_u = False, has_U = False
        cdef bint top = True, descended = False
        self.frame = frame
        self.n_levels = 0
        self._spans_due = False
        self._b_at = -1
        self._a_at = -1
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
                    self._b_at = i
                    i = self._levels(s, i, n, 0)
                    has_b = True
                elif s[k] == c'a':
                    if s[i] != c'[':
                        return SCAN_OTHER
                    self._a_at = i
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
        cdef int kind, r
        cdef L2Book book = sync.book
        if book is not None and sync.synced:
            self._fuse(book)                 # stage while scanning: the likely outcome
        else:
            self._fbook = None
        kind = self._scan(frame)
        if kind == SCAN_DEPTH and self.sym_len == len(symbol) and \
                not memcmp(<const char*>frame + self.sym_off, <const char*>symbol, self.sym_len):
            r = sync.on_depth(self, ts_ns)
        else:
            r = SCAN_ROUTED + kind
        if self._fbook is not None:
            # not applied (routed, dropped, a gap): leave no staged levels on the book
            self._fbook.stage_reset()
            self._fbook = None
        return r

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

    def reserve(self, Py_ssize_t frame_bytes) -> int:
        """Room for every level a frame of `frame_bytes` can hold (as the scan counts: 9 bytes
        a level at least), its free part written once now (zeros): called off the path (a
        FramePath reserves RESERVE_FRAME_BYTES), so that a large frame neither grows the level
        buffer nor faults its new pages in on the order path. Returns the room in levels."""
        if frame_bytes < 0:
            raise ValueError(f"frame_bytes {frame_bytes} must be >= 0")
        self._reserve(frame_bytes // 9 + 2)
        memset(self.levels + self.n_levels, 0, (self.cap - self.n_levels) * sizeof(LevelRef))
        return self.cap

    def level_texts(self) -> list:
        """[(side, price text, size text), ...] of the last scan (for tests and errors)."""
        cdef Py_ssize_t j
        self._spans()
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
        # _units reads at most eight decimals and fifteen integer digits in its two steps;
        # a finer grid stages every level from its text (Binance's have at most eight)
        if g.p_e > 8 or g.p_e < 0:
            g.p_maxint = -1
        if g.s_e > 8 or g.s_e < 0:
            g.s_maxint = -1
        g.fast = g.p_unit == 1 and g.s_unit == 1 and g.p_maxint >= 1 and g.s_maxint >= 1
        g.p_lo = tc_low[g.p_e] if 0 <= g.p_e <= 8 else 0
        g.s_lo = tc_low[g.s_e] if 0 <= g.s_e <= 8 else 0
        g.ready = True

    cpdef int apply_to(self, L2Book book) except -1:
        cdef const char* s = self.frame
        cdef Py_ssize_t n = len(self.frame)
        cdef Py_ssize_t j, k, end
        cdef int code
        cdef int64_t t, q
        cdef LevelRef* L
        cdef Grid* g = &self.grid
        cdef Stage* S = &book.stage
        if book is self._fbook:
            # staged while scanning (scan_sync): the commit is all that is left
            self._fbook = None
            if self._fcode:
                book.stage_reset()
                self.error = f"level {self._flevel}"
                return self._fcode
            if self.defer_far:
                book.stage_commit_near(DEFER_MIN_LEVELS, NEAR_LEVELS)
            else:
                book.stage_commit()
            return 0
        if g.p_dec != book.price_decimals or g.s_dec != book.size_decimals \
                or g.tick_units != book.tick_units or g.lot_units != book.lot_units \
                or not g.ready:
            self._set_grid(book)
        self._spans()
        book.stage_reset()
        book._stage_room(self.n_levels)
        for j in range(self.n_levels):
            L = &self.levels[j]
            # the same conversion as the fused scan (_units, then _stage's grid checks)
            t = _units(s, L.p_off, n, g.p_e, g.p_maxint, &end)
            q = _units(s, L.q_off, n, g.s_e, g.s_maxint, &end)
            if t > 0 and q >= 0:
                if g.p_unit != 1:
                    if t % g.p_unit:
                        t = 0
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
        self._spans()
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
        """A snapshot has been loaded into `book` (off the path: its stage gets the room a
        diff of RESERVE_FRAME_BYTES needs, DepthScanner.reserve)."""
        book.stage_reserve(RESERVE_FRAME_BYTES // 9 + 2)
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


cdef class FramePath:
    """See jsonscan.pxd. What it does for a frame is exactly what the normalizer's Python
    on_frame did for the same frame in its steady state (tests/venues/test_binance.py runs the
    normalizer through it)."""

    def __init__(self, DepthScanner sc, slow, check_pending):
        self.sc = sc
        sc.defer_far = True        # on_frame settles the book after its consumers
        sc.reserve(RESERVE_FRAME_BYTES)
        self.slow = slow
        self.check_pending = check_pending
        self.stats = None
        self.on_levels = None
        self.on_book = None
        self.forget()

    def hint(self, conn, key, state, DepthSync sync, bytes symbol, pending):
        """The book of this depth diff: the next frame on `conn` most likely updates it too."""
        self.conn = conn
        self.key = key
        self.state = state
        self.sync = sync
        self.sym = symbol
        self.pending = pending

    def forget(self):
        self.conn = None
        self.key = None
        self.state = None
        self.sync = None
        self.sym = None
        self.pending = None

    def on_frame(self, data, conn="ws", int64_t ts_ns=0):
        """One WebSocket frame as received (BookNormalizer.on_frame)."""
        cdef int r = -1
        cdef DepthScanner sc = self.sc
        cdef DepthSync sync = self.sync
        stats = self.stats
        stats.messages += 1
        if conn is self.conn and sync is not None and type(data) is bytes:
            r = sc.scan_sync(<bytes>data, sync, self.sym, ts_ns)
            if r == SYNC_APPLIED:
                stats.levels += sc.n_levels
                key = self.key                 # the hooks may move the hint
                state = self.state
                pending = self.pending
                book = sync.book
                try:
                    if self.on_levels is not None:
                        self.on_levels(key, ts_ns, sc.last_id, sc.level_texts(), False)
                    if self.on_book is not None:
                        self.on_book(key, book)
                finally:
                    # a large diff's far levels, once the consumers (and their orders) are done
                    (<L2Book>book).settle()
                # the bookTicker audit of the top after the book's consumers (a check that
                # reports, it changes no book: it has no business before the order)
                if pending:
                    self.check_pending(state)
                return None
        self.slow(data, conn, ts_ns, r)
