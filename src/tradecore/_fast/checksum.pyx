"""Exchange book checksums computed from an L2Book (reasons and formats in checksum.pxd).

Plain-Python references that the tests hold these against live in
tradecore.venues.kraken.checksum_ref and tradecore.venues.okx.checksum_ref.
"""
from libc.stdint cimport INT64_MAX, int64_t, uint32_t

from tradecore._fast.book cimport L2Book
from tradecore._fast.fixed cimport POW10, format_fixed

# Slicing-by-8 tables: T[0] is the classic byte table, T[k][i] is the CRC of byte i followed by
# k zero bytes, so eight input bytes fold in with eight independent lookups instead of a chain
# of eight dependent ones (about 4x faster; the text hashed per update is 0.3-3 KB).
cdef uint32_t CRC_T[8][256]


cdef void _init_tables() noexcept:
    cdef uint32_t c
    cdef int i, k
    for i in range(256):
        c = <uint32_t>i
        for k in range(8):
            c = (c >> 1) ^ 0xEDB88320u if c & 1 else c >> 1
        CRC_T[0][i] = c
    for i in range(256):
        for k in range(1, 8):
            CRC_T[k][i] = (CRC_T[k - 1][i] >> 8) ^ CRC_T[0][CRC_T[k - 1][i] & 0xFF]


_init_tables()


cdef inline uint32_t _le32(const unsigned char* p) noexcept nogil:
    # byte-wise assembly: endian-independent, and one load on little-endian targets
    return (<uint32_t>p[0] | (<uint32_t>p[1] << 8) | (<uint32_t>p[2] << 16)
            | (<uint32_t>p[3] << 24))


cdef uint32_t crc32_update(uint32_t crc, const char* buf, Py_ssize_t n) noexcept nogil:
    cdef const unsigned char* p = <const unsigned char*>buf
    cdef uint32_t hi
    crc = ~crc
    while n >= 8:
        crc ^= _le32(p)
        hi = _le32(p + 4)
        crc = (CRC_T[7][crc & 0xFF] ^ CRC_T[6][(crc >> 8) & 0xFF]
               ^ CRC_T[5][(crc >> 16) & 0xFF] ^ CRC_T[4][crc >> 24]
               ^ CRC_T[3][hi & 0xFF] ^ CRC_T[2][(hi >> 8) & 0xFF]
               ^ CRC_T[1][(hi >> 16) & 0xFF] ^ CRC_T[0][hi >> 24])
        p += 8
        n -= 8
    while n > 0:
        crc = CRC_T[0][(crc ^ p[0]) & 0xFF] ^ (crc >> 8)
        p += 1
        n -= 1
    return ~crc


def crc32(data, uint32_t value=0) -> int:
    """zlib.crc32 over bytes-like data, by the kernel's table (tests compare the two)."""
    cdef const unsigned char[::1] v = memoryview(data).cast("B")
    if v.shape[0] == 0:
        return value
    return crc32_update(value, <const char*>&v[0], v.shape[0])


cdef int64_t _scale(int64_t units, int book_decimals, int wire_decimals, str what) except -1:
    """units * 10**(wire - book): the multiplier that puts one tick/lot at the wire decimals."""
    if wire_decimals < book_decimals or wire_decimals > 18:
        raise ValueError(f"{what}: the book holds {book_decimals} decimals, more than the "
                         f"{wire_decimals} the exchange sends (or wire decimals > 18)")
    cdef int64_t p = POW10[wire_decimals - book_decimals]
    if units > INT64_MAX // p:
        raise ValueError(f"{what}: one step is too large for int64 at {wire_decimals} decimals")
    return units * p


cdef inline int _fits(int64_t count, int64_t limit) except -1:
    # limit = INT64_MAX // multiplier, divided once per checksum rather than once per level
    if count > limit:
        raise ValueError(f"level value {count} times its unit overflows int64")
    return 0


cdef Py_ssize_t kraken_text(L2Book book, int price_wire_decimals, int size_wire_decimals,
                            char* buf) except -1:
    cdef int64_t ticks[KRAKEN_LEVELS]
    cdef int64_t lots[KRAKEN_LEVELS]
    cdef int64_t pm = _scale(book.tick_units, book.price_decimals, price_wire_decimals, "price")
    cdef int64_t sm = _scale(book.lot_units, book.size_decimals, size_wire_decimals, "size")
    cdef int64_t plim = INT64_MAX // pm, slim = INT64_MAX // sm
    cdef Py_ssize_t n = 0, m, i
    cdef int side
    for side in (1, 0):        # asks (best = lowest first), then bids (best = highest first)
        m = book.walk(side, KRAKEN_LEVELS, ticks, lots)
        for i in range(m):
            _fits(ticks[i], plim)
            _fits(lots[i], slim)
            # digits of the integer count at the wire decimals == the decimal text with '.'
            # removed and leading zeros stripped
            n += format_fixed(ticks[i] * pm, 0, False, buf + n)
            n += format_fixed(lots[i] * sm, 0, False, buf + n)
    return n


cdef Py_ssize_t okx_text(L2Book book, char* buf) except -1:
    cdef int64_t bt[OKX_LEVELS]
    cdef int64_t bl[OKX_LEVELS]
    cdef int64_t at[OKX_LEVELS]
    cdef int64_t al[OKX_LEVELS]
    cdef Py_ssize_t nb = book.walk(0, OKX_LEVELS, bt, bl)
    cdef Py_ssize_t na = book.walk(1, OKX_LEVELS, at, al)
    cdef Py_ssize_t n = 0, i
    cdef int64_t tu = book.tick_units, lu = book.lot_units
    cdef int64_t plim = INT64_MAX // tu, slim = INT64_MAX // lu
    cdef int pd = book.price_decimals, sd = book.size_decimals
    for i in range(nb if nb > na else na):
        if i < nb:
            _fits(bt[i], plim)
            _fits(bl[i], slim)
            if n:
                buf[n] = c':'
                n += 1
            n += format_fixed(bt[i] * tu, pd, True, buf + n)
            buf[n] = c':'
            n += 1
            n += format_fixed(bl[i] * lu, sd, True, buf + n)
        if i < na:
            _fits(at[i], plim)
            _fits(al[i], slim)
            if n:
                buf[n] = c':'
                n += 1
            n += format_fixed(at[i] * tu, pd, True, buf + n)
            buf[n] = c':'
            n += 1
            n += format_fixed(al[i] * lu, sd, True, buf + n)
    return n


cpdef int64_t kraken_checksum(L2Book book, int price_wire_decimals,
                              int size_wire_decimals) except -1:
    """Kraken spot v1 book checksum of `book` (unsigned; compare with int(msg["c"]))."""
    cdef char buf[CHECKSUM_BUF]
    cdef Py_ssize_t n = kraken_text(book, price_wire_decimals, size_wire_decimals, buf)
    return crc32_update(0, buf, n)


cpdef int64_t okx_checksum(L2Book book) except? -1:
    """OKX v5 book checksum of `book` (signed 32-bit; compare with data["checksum"])."""
    cdef char buf[CHECKSUM_BUF]
    cdef Py_ssize_t n = okx_text(book, buf)
    return <int64_t>(<int>crc32_update(0, buf, n))


def kraken_checksum_text(L2Book book, int price_wire_decimals, int size_wire_decimals) -> bytes:
    """The text kraken_checksum hashes (for diagnosing a mismatch)."""
    cdef char buf[CHECKSUM_BUF]
    cdef Py_ssize_t n = kraken_text(book, price_wire_decimals, size_wire_decimals, buf)
    return buf[:n]


def okx_checksum_text(L2Book book) -> bytes:
    """The text okx_checksum hashes (for diagnosing a mismatch)."""
    cdef char buf[CHECKSUM_BUF]
    cdef Py_ssize_t n = okx_text(book, buf)
    return buf[:n]
