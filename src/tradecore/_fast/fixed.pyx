"""Exact decimal text <-> int64 fixed point (see fixed.pxd)."""
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy

cdef int64_t POW10[19]
POW10[0] = 1
for _i in range(1, 19):
    POW10[_i] = POW10[_i - 1] * 10



cdef Py_ssize_t format_fixed(int64_t units, int decimals, bint trim, char* buf) noexcept nogil:
    cdef char tmp[32]
    cdef Py_ssize_t k = 0, n = 0, j
    cdef bint neg = units < 0
    # unsigned, so that the most negative int64 has a magnitude too
    cdef uint64_t v = (<uint64_t>(-(units + 1)) + 1) if neg else <uint64_t>units
    # digits in reverse
    while True:
        tmp[k] = <char>(c'0' + v % 10)
        v //= 10
        k += 1
        if v == 0 and k > decimals:
            break
    if neg:
        buf[n] = c'-'
        n += 1
    # integer part: tmp[k-1 .. decimals]
    j = k - 1
    while j >= decimals:
        buf[n] = tmp[j]
        n += 1
        j -= 1
    if decimals > 0:
        buf[n] = c'.'
        n += 1
        while j >= 0:
            buf[n] = tmp[j]
            n += 1
            j -= 1
        if trim:
            while buf[n - 1] == c'0':
                n -= 1
            if buf[n - 1] == c'.':
                n -= 1
    return n


# ---------------------------------------------------------------------------------------------
# Python-facing helpers (tests, normalizers' slow paths)

_STATUS_TEXT = {
    FIXED_SYNTAX: "is not a plain decimal number",
    FIXED_TOO_PRECISE: "has more decimals than the instrument's precision",
    FIXED_OVERFLOW: "is too large for int64 at this precision",
    FIXED_NEGATIVE: "is negative",
}


def status_text(int status) -> str:
    """Human reason for a FixedStatus code."""
    return _STATUS_TEXT.get(status, "is valid")


def parse_units(text, int decimals) -> int:
    """Parse decimal text (str or bytes) into an int count of 10**-decimals; ValueError if bad."""
    cdef bytes b = text.encode() if isinstance(text, str) else bytes(text)
    cdef int64_t out = 0
    if decimals < 0 or decimals > 18:
        raise ValueError(f"decimals {decimals} outside 0..18")
    cdef int st = parse_fixed(b, len(b), decimals, &out)
    if st != FIXED_OK:
        raise ValueError(f"{text!r} {_STATUS_TEXT[st]} (scale 1e-{decimals})")
    return out


def format_units(int64_t units, int decimals, bint trim=False) -> str:
    """Format an int count of 10**-decimals as decimal text."""
    cdef char buf[48]
    if decimals < 0 or decimals > 18:
        raise ValueError(f"decimals {decimals} outside 0..18")
    cdef Py_ssize_t n = format_fixed(units, decimals, trim, buf)
    return buf[:n].decode("ascii")
