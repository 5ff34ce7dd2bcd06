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

# Parse s[0:n] ("61837.63000000", "0", "5e-3" is rejected) into units of 10**-decimals.
cdef int parse_fixed(const char* s, Py_ssize_t n, int decimals, int64_t* out) noexcept nogil

# Write units as a decimal with `decimals` places into buf (>= 32 bytes); returns the length.
# trim=True drops trailing zeros and a bare point ("30249.40" -> "30249.4", "4.000" -> "4").
cdef Py_ssize_t format_fixed(int64_t units, int decimals, bint trim, char* buf) noexcept nogil
