# Order frames in the bytes a venue connection writes, built in C.
#
# The order path ends in text: a JSON request with the client order id twice, the side, the
# quantity and price as exact decimal text of integer lots and ticks, a timestamp, and a constant
# end per instrument and order shape. Built by Python string formatting that is ~1.1 us per
# order; here it is one pass over a stack buffer.
#
# The plain-Python references are tradecore.venues.binance.execution._encode_order_session_py
# (the session frame) and _encode_order_py (the HMAC-signed frame); tests compare each with its
# compiled twin byte for byte (hypothesis).
from libc.stdint cimport int64_t
from tradecore._fast.slots cimport SlotLayout


# The exact decimal text of n * step for a decimal step = m * 10**-k (m an integer, k may be
# <= 0): the fractional part without trailing zeros, no exponent, as core.instrument prints
# prices and quantities. Writes at most 48 characters to out; returns how many, or -1 when
# n * m (* 10**-k) does not fit in 64 bits.
cdef Py_ssize_t grid_text(char* out, int64_t n, int64_t m, int k) noexcept


# One instrument's Binance WebSocket API `order.place` frame on a connection authenticated by
# `session.logon` (no apiKey, no signature). The order shape (type, tif, post_only) picks the
# frame's constant end (newOrderRespType, symbol, timeInForce, type) or the refusal text.
cdef class BinanceSessionPlace:
    cdef readonly int64_t price_m        # tick = price_m * 10**-price_k
    cdef readonly int price_k
    cdef readonly int64_t qty_m          # lot = qty_m * 10**-qty_k
    cdef readonly int qty_k
    cdef dict shapes                     # shape key -> (priced, stopped, tail bytes) | refusal str
    cdef object error                    # the exception class raised for an order Binance refuses
    cdef SlotLayout layout               # set_order_layout: orders of its class read by offset
    cdef Py_ssize_t oi[9]                # type, tif, post_only, side, reduce_only,
                                         # client_order_id, qty, price, trigger_price
    cdef dict signed_shapes              # set_signed: key -> (priced, stopped, tif, type) bytes
    cdef bytes symbol                    # set_signed: the instrument's symbol text
    cdef object _coid                    # _checked: the last checked order's id, side,
    cdef long _side                      # quantity (lots), and whether read by slot
    cdef int64_t _q
    cdef bint _by_slot
    cdef object _checked(self, object order, dict shapes)

    # order: any object with client_order_id, side (+1 buy / -1 sell), type, tif, post_only,
    # reduce_only, qty (lots), price and trigger_price (ticks). Raises `error` (nothing
    # written) for an order the venue would refuse: unknown or unsupported shape, reduce-only
    # buy, a client order id outside 1-36 of [A-Za-z0-9.:/_-], qty <= 0.
    cpdef bytes encode(self, object order, int64_t ts_ms, int64_t recv_window)
    # Read Orders of the layout's class by slot offset (_fast/slots.pxd); others by attribute.
    cpdef void set_order_layout(self, SlotLayout layout) except *
    # The signed `order.place` frame (a connection without session.logon, HMAC key): the
    # params in alphabetical order are both the signature's payload and, quoted, the JSON
    # params; `signer` is a keyed HMAC-SHA256 object (copy/update/hexdigest), copied per order.
    # The same checks and refusals as encode. Needs set_signed first.
    # Reference: venues/binance/execution._encode_order_py (tests compare the bytes).
    cpdef bytes signed(self, object order, int64_t ts_ms, int64_t recv_window, bytes api_key,
                       object signer)
