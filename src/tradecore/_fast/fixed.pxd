# Exact decimal text <-> int64 fixed point.
#
# Exchanges send prices and sizes as decimal strings. Inside the kernels they are int64 counts of
# a unit 10**-decimals (then divided into ticks/lots by the book). Parsing never goes through a
# double, so the exchange's exact text can be rebuilt (checksums, order messages).
from libc.stdint cimport int64_t

# Status codes of parse_fixed (0 is success).
cpdef enum FixedStatus:
    FIXED_OK = 0
    FIXED_SYNTAX = 1        # not a plain decimal number
    FIXED_TOO_PRECISE = 2   # more significant decimals than the scale holds
    FIXED_OVERFLOW = 3      # does not fit in int64 at this scale
    FIXED_NEGATIVE = 4      # a minus sign where only non-negative values are allowed

cdef int64_t POW10[19]

# The exact, digit-by-digit checked parse: the fallback for numbers of more than 18 digits.
cdef inline int parse_fixed_checked(const char* s, Py_ssize_t n, int decimals, int64_t* out) noexcept nogil:
    cdef Py_ssize_t i = 0
    cdef int64_t v = 0
    cdef int frac = 0
    cdef bint seen_digit = False
    cdef bint in_frac = False
    cdef char c
    if n <= 0:
        return FIXED_SYNTAX
    if s[0] == c'-':
        return FIXED_NEGATIVE if n > 1 else FIXED_SYNTAX
    if s[0] == c'+':
        i = 1
    while i < n:
        c = s[i]
        if c'0' <= c <= c'9':
            seen_digit = True
            if in_frac:
                if frac >= decimals:
                    # digits beyond the scale are allowed only when they are zeros
                    if c != c'0':
                        return FIXED_TOO_PRECISE
                    i += 1
                    continue
                frac += 1
            if v > 922337203685477580LL or (v == 922337203685477580LL and c > c'7'):
                return FIXED_OVERFLOW
            v = v * 10 + (c - c'0')
        elif c == c'.' and not in_frac:
            in_frac = True
        else:
            return FIXED_SYNTAX
        i += 1
    if not seen_digit:
        return FIXED_SYNTAX
    # scale up the missing decimals
    while frac < decimals:
        if v > 922337203685477580LL:
            return FIXED_OVERFLOW
        v *= 10
        frac += 1
    out[0] = v
    return FIXED_OK



# Parse s[0:n] ("61837.63000000", "0"; "5e-3" is rejected) into units of 10**-decimals.
# Inline here so that the book and the scanners compile it into their own loops. A number of at
# most 18 digit positions (after scaling) cannot overflow int64, so the common case runs without
# per-digit checks; longer ones take parse_fixed_checked.
cdef inline int parse_fixed(const char* s, Py_ssize_t n, int decimals, int64_t* out) noexcept nogil:
    cdef Py_ssize_t i = 0, start, fstart
    cdef int64_t v = 0
    cdef int digits = 0, frac = 0
    cdef unsigned int d
    if n <= 0:
        return FIXED_SYNTAX
    if s[0] == c'-':
        return FIXED_NEGATIVE if n > 1 else FIXED_SYNTAX
    if s[0] == c'+':
        i = 1
    start = i
    while i < n:
        d = <unsigned char>s[i] - 48
        if d > 9:
            break
        if digits < 18:
            v = v * 10 + d
        digits += 1
        i += 1
    if digits > 18 - decimals:
        return parse_fixed_checked(s, n, decimals, out)
    if i < n:
        if s[i] != c'.':
            return FIXED_SYNTAX
        i += 1
        fstart = i
        while i < n and frac < decimals:
            d = <unsigned char>s[i] - 48
            if d > 9:
                return FIXED_SYNTAX
            v = v * 10 + d
            frac += 1
            i += 1
        while i < n:                      # beyond the scale: zeros only
            if s[i] != c'0':
                return FIXED_SYNTAX if <unsigned int>(<unsigned char>s[i] - 48) > 9 \
                    else FIXED_TOO_PRECISE
            i += 1
        if i == start + 1 and fstart == i:
            return FIXED_SYNTAX           # "." alone
    elif digits == 0:
        return FIXED_SYNTAX
    while frac < decimals:
        v *= 10
        frac += 1
    out[0] = v
    return FIXED_OK


# Write units as a decimal with `decimals` places into buf (>= 32 bytes); returns the length.
# trim=True drops trailing zeros and a bare point ("30249.40" -> "30249.4", "4.000" -> "4").
cdef Py_ssize_t format_fixed(int64_t units, int decimals, bint trim, char* buf) noexcept nogil
