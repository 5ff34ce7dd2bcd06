# Exchange book checksums (Kraken spot v1, OKX v5), computed straight from an L2Book.
#
# Both exchanges send a CRC32 of the text of their top levels so that a client can prove its
# book is the exchange's book after every update. The text is rebuilt from the book's integer
# ticks and lots (exact, see fixed.pxd) into a stack buffer and hashed without creating a
# Python object per level, so verifying every update stays cheap on the hot path.
from libc.stdint cimport int64_t, uint32_t

from tradecore._fast.book cimport L2Book

# Levels each checksum covers per side.
cdef enum:
    KRAKEN_LEVELS = 10
    OKX_LEVELS = 25
    # Largest checksum text: OKX, 50 levels of two <= 21-char numbers and two separators.
    CHECKSUM_BUF = 4096

# zlib-compatible CRC32 (IEEE 802.3, reflected 0xEDB88320): crc32_update(0, b, n) == zlib.crc32(b)
cdef uint32_t crc32_update(uint32_t crc, const char* buf, Py_ssize_t n) noexcept nogil

# The checksum text into buf (>= CHECKSUM_BUF bytes); returns its length. ValueError when the
# book's grid is finer than the wire decimals or a value does not fit int64 at them.
cdef Py_ssize_t kraken_text(L2Book book, int price_wire_decimals, int size_wire_decimals,
                            char* buf) except -1
cdef Py_ssize_t okx_text(L2Book book, char* buf) except -1

# Kraken: unsigned CRC32 (0 .. 2**32-1) of the top 10 asks ascending then the top 10 bids
# descending, each level's price then volume at the wire decimals with '.' removed and leading
# zeros stripped.
cpdef int64_t kraken_checksum(L2Book book, int price_wire_decimals,
                              int size_wire_decimals) except -1
# OKX: signed 32-bit CRC32 of "bid0:ask0:bid1:ask1:..." over the top 25 levels per side, each
# "price:size" in OKX's trimmed decimal text; a shorter side's turn is skipped.
cpdef int64_t okx_checksum(L2Book book) except? -1
