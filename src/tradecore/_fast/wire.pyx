# cython: freethreading_compatible = False
"""Order frames built in C (see wire.pxd for what they are and why)."""
cimport cython
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy, strlen
from cpython.bytes cimport PyBytes_FromStringAndSize

cdef extern from *:
    """
    static inline int tc_mul_ovf(int64_t a, int64_t b, int64_t* r) {
        return __builtin_mul_overflow(a, b, r);
    }
    """
    int tc_mul_ovf(int64_t a, int64_t b, int64_t* r) noexcept

cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)
    void* PyUnicode_DATA(object o)

# the characters Binance accepts in a client order id
cdef unsigned char COID_OK[256]
for _ch in ".:/_-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789":
    COID_OK[ord(_ch)] = 1

cdef enum:
    MAX_TAIL = 400                       # bytes of a shape's constant end (symbol included)
    BUF = 1024                           # >= every fixed part + 2 ids + 5 numbers + MAX_TAIL

# the frame's fixed parts, with their lengths (memcpy of a known length, not a strlen loop)
cdef const char* P1 = b'{"id":"'
cdef const char* P2 = b'","method":"order.place","params":{"newClientOrderId":"'
cdef const char* P_BUY = b'","side":"BUY","quantity":"'
cdef const char* P_SELL = b'","side":"SELL","quantity":"'
cdef const char* P_PRICE = b'","price":"'
cdef const char* P_STOP = b'","stopPrice":"'
cdef const char* P_RW = b'","recvWindow":'
cdef const char* P_TS = b',"timestamp":'
cdef Py_ssize_t N1 = strlen(P1), N2 = strlen(P2), N_BUY = strlen(P_BUY)
cdef Py_ssize_t N_SELL = strlen(P_SELL), N_PRICE = strlen(P_PRICE), N_STOP = strlen(P_STOP)
cdef Py_ssize_t N_RW = strlen(P_RW), N_TS = strlen(P_TS)
# the signed frame's fixed parts (its params are rendered from one table, twice: _Param)
cdef const char* J_OPEN = b'","method":"order.place","params":{'
cdef const char* J_SIG = b',"signature":"'


cdef struct _Param:
    const char* name
    const char* val
    Py_ssize_t n
    bint text                             # a JSON string (quoted), else a number


cdef inline int _param(_Param* ps, int k, const char* name, const char* val, Py_ssize_t n,
                       bint text) noexcept:
    ps[k].name = name
    ps[k].val = val
    ps[k].n = n
    ps[k].text = text
    return k + 1


cdef inline char* _put(char* p, const char* s, Py_ssize_t n) noexcept:
    memcpy(p, s, n)
    return p + n


cdef inline Py_ssize_t _udigits(char* rev, uint64_t u) noexcept:
    """The decimal digits of u, least significant first; how many (>= 1)."""
    cdef Py_ssize_t n = 0
    while True:
        rev[n] = <char>(48 + u % 10)
        u //= 10
        n += 1
        if u == 0:
            return n


cdef inline char* _int_text(char* p, int64_t v) noexcept:
    cdef char rev[24]
    cdef uint64_t u
    cdef Py_ssize_t n
    if v < 0:
        p[0] = 45                          # '-'
        p += 1
        u = <uint64_t>0 - <uint64_t>v
    else:
        u = <uint64_t>v
    n = _udigits(rev, u)
    while n > 0:
        n -= 1
        p[0] = rev[n]
        p += 1
    return p


cdef Py_ssize_t grid_text(char* out, int64_t n, int64_t m, int k) noexcept:
    cdef int64_t v
    cdef uint64_t u
    cdef char rev[24]
    cdef Py_ssize_t nd, j, ip, last
    cdef char* p = out
    if tc_mul_ovf(n, m, &v):
        return -1
    if k <= 0:
        for j in range(-k):
            if tc_mul_ovf(v, 10, &v):
                return -1
        return _int_text(out, v) - out
    if v < 0:
        p[0] = 45
        p += 1
        u = <uint64_t>0 - <uint64_t>v
    else:
        u = <uint64_t>v
    nd = _udigits(rev, u)
    while nd <= k:                        # leading zeros: at least one digit before the point
        rev[nd] = 48
        nd += 1
    # rev[nd-1] .. rev[k] is the integer part, rev[k-1] .. rev[0] the fraction
    j = nd - 1
    while j >= k:
        p[0] = rev[j]
        p += 1
        j -= 1
    last = 0                              # lowest fraction digit that is not a trailing zero
    while last < k and rev[last] == 48:
        last += 1
    if last < k:
        p[0] = 46                          # '.'
        p += 1
        j = k - 1
        while j >= last:
            p[0] = rev[j]
            p += 1
            j -= 1
    return p - out


@cython.final
cdef class BinanceSessionPlace:

    def __init__(self, int64_t price_m, int price_k, int64_t qty_m, int qty_k, dict shapes,
                 object error):
        """price_m, price_k: the tick as price_m * 10**-price_k (qty_m, qty_k: the lot);
        shapes: {type * 16 + tif * 2 + post_only: (priced, stopped, tail) or refusal text};
        error: the exception class for refusals."""
        cdef dict checked = {}
        if price_m <= 0 or qty_m <= 0:
            raise ValueError(f"tick and lot mantissas must be > 0, got {price_m}, {qty_m}")
        for key, sh in shapes.items():
            if type(sh) is tuple:
                priced, stopped, tail = sh
                if type(tail) is not bytes or len(tail) > MAX_TAIL:
                    raise ValueError(f"shape {key}: the tail must be bytes of at most "
                                     f"{MAX_TAIL}, got {type(tail).__name__} of {len(tail)}")
                checked[int(key)] = (bool(priced), bool(stopped), tail)
            elif type(sh) is str:
                checked[int(key)] = sh
            else:
                raise ValueError(f"shape {key}: expected (priced, stopped, tail) or a refusal "
                                 f"text, got {sh!r}")
        self.price_m, self.price_k, self.qty_m, self.qty_k = price_m, price_k, qty_m, qty_k
        self.shapes = checked
        self.error = error

    def price_text(self, int64_t ticks) -> str:
        """The exact decimal text of `ticks` ticks."""
        return _text(ticks, self.price_m, self.price_k, "ticks: the price")

    def qty_text(self, int64_t lots) -> str:
        """The exact decimal text of `lots` lots."""
        return _text(lots, self.qty_m, self.qty_k, "lots: the quantity")

    cpdef void set_order_layout(self, SlotLayout layout) except *:
        cdef Py_ssize_t j
        for j, name in enumerate(("type", "tif", "post_only", "side", "reduce_only",
                                  "client_order_id", "qty", "price", "trigger_price")):
            self.oi[j] = layout.index(name)
        self.layout = layout

    def set_signed(self, dict shapes, bytes symbol):
        """shapes: {shape key: (priced, stopped, timeInForce text or b"", type text) or a
        refusal text}, the signed frame's per-shape texts; symbol: the instrument's."""
        cdef dict checked = {}
        for key, sh in shapes.items():
            if type(sh) is tuple:
                priced, stopped, tif, typ = sh
                if type(tif) is not bytes or type(typ) is not bytes or len(tif) > 32 \
                        or not 0 < len(typ) <= 32:
                    raise ValueError(f"shape {key}: timeInForce and type must be bytes of at "
                                     f"most 32 (type not empty), got {tif!r}, {typ!r}")
                checked[int(key)] = (bool(priced), bool(stopped), tif, typ)
            elif type(sh) is str:
                checked[int(key)] = sh
            else:
                raise ValueError(f"shape {key}: expected (priced, stopped, tif, type) or a "
                                 f"refusal text, got {sh!r}")
        if not 0 < len(symbol) <= 32:
            raise ValueError(f"symbol {symbol!r}: 1-32 bytes")
        self.signed_shapes = checked
        self.symbol = symbol

    cpdef bytes signed(self, object order, int64_t ts_ms, int64_t recv_window, bytes api_key,
                       object signer):
        cdef char pay[BUF]
        cdef char buf[BUF]
        cdef char* p = pay
        cdef char* j = buf
        cdef object sh, h, sig
        cdef SlotLayout L = self.layout
        cdef Py_ssize_t nc, nk
        cdef const unsigned char* cs
        cdef int64_t q, v
        cdef long side
        cdef bint by_slot
        cdef bytes tifb, typb, sigb
        cdef char qt[48]
        cdef char pt[48]
        cdef char st[48]
        cdef char rw_t[24]
        cdef char ts_t[24]
        cdef _Param ps[12]
        cdef int k, i
        cdef Py_ssize_t nq, np_ = 0, ns = 0, rw_n, ts_n
        if self.signed_shapes is None:
            raise RuntimeError("set_signed was not called")
        sh = self._checked(order, self.signed_shapes)
        by_slot, side, q = self._by_slot, self._side, self._q
        nc = PyUnicode_GET_LENGTH(self._coid)
        cs = <const unsigned char*>PyUnicode_DATA(self._coid)
        nk = len(api_key)
        if nk > 128:
            raise ValueError(f"api key of {nk} bytes: at most 128")
        nq = grid_text(qt, q, self.qty_m, self.qty_k)
        if nq < 0:
            raise self.error(f"quantity {q} lots: does not fit in 64 bits as text")
        if (<tuple>sh)[0]:
            v = L.get(order, self.oi[7]) if by_slot else order.price
            np_ = grid_text(pt, v, self.price_m, self.price_k)
            if np_ < 0:
                raise self.error(f"price {v} ticks: does not fit in 64 bits as text")
        if (<tuple>sh)[1]:
            v = L.get(order, self.oi[8]) if by_slot else order.trigger_price
            ns = grid_text(st, v, self.price_m, self.price_k)
            if ns < 0:
                raise self.error(f"stop price {v} ticks: does not fit in 64 bits as text")
        tifb = <bytes>(<tuple>sh)[2]
        typb = <bytes>(<tuple>sh)[3]
        rw_n = _int_text(rw_t, recv_window) - rw_t
        ts_n = _int_text(ts_t, ts_ms) - ts_t
        # the params in alphabetical order: the payload's order, and the frame's
        k = _param(ps, 0, b"apiKey", <const char*>api_key, nk, True)
        k = _param(ps, k, b"newClientOrderId", <const char*>cs, nc, True)
        k = _param(ps, k, b"newOrderRespType", b"ACK", 3, True)
        if np_:
            k = _param(ps, k, b"price", pt, np_, True)
        k = _param(ps, k, b"quantity", qt, nq, True)
        k = _param(ps, k, b"recvWindow", rw_t, rw_n, False)
        k = _param(ps, k, b"side", b"BUY" if side == 1 else b"SELL", 3 if side == 1 else 4,
                   True)
        if ns:
            k = _param(ps, k, b"stopPrice", st, ns, True)
        k = _param(ps, k, b"symbol", <const char*>self.symbol, len(self.symbol), True)
        if len(tifb):
            k = _param(ps, k, b"timeInForce", <const char*>tifb, len(tifb), True)
        k = _param(ps, k, b"timestamp", ts_t, ts_n, False)
        k = _param(ps, k, b"type", <const char*>typb, len(typb), True)
        # the payload: name=value joined by '&'
        for i in range(k):
            if i:
                p[0] = 38                      # '&'
                p += 1
            p = _cput(p, ps[i].name)
            p[0] = 61                          # '='
            p = _put(p + 1, ps[i].val, ps[i].n)
        h = signer.copy()
        h.update(PyBytes_FromStringAndSize(pay, p - pay))
        sig = h.hexdigest()
        sigb = (<str>sig).encode("ascii")
        if len(sigb) > 128:
            raise ValueError("a signature over 128 characters")
        # the frame: the same params as JSON, then the signature
        j = _put(j, P1, N1)
        j = _put(j, <const char*>cs, nc)
        j = _cput(j, J_OPEN)
        for i in range(k):
            if i:
                j[0] = 44                      # ','
                j += 1
            j[0] = 34                          # '"'
            j = _cput(j + 1, ps[i].name)
            j[0] = 34
            j[1] = 58                          # ':'
            j += 2
            if ps[i].text:
                j[0] = 34
                j += 1
            j = _put(j, ps[i].val, ps[i].n)
            if ps[i].text:
                j[0] = 34
                j += 1
        j = _cput(j, J_SIG)
        j = _put(j, <const char*>sigb, len(sigb))
        j = _put(j, b'"}}', 3)
        return PyBytes_FromStringAndSize(buf, j - buf)

    cdef object _checked(self, object order, dict shapes):
        """The order's shape entry in `shapes` (a tuple) once every check both frames make has
        passed, with _coid, _side, _q and _by_slot set; raises `error` (nothing written)."""
        cdef SlotLayout L = self.layout
        cdef bint by_slot = L is not None and type(order) is L.cls
        cdef object sh, coid, typ, tif, post, red, oside, oqty
        cdef long key
        cdef Py_ssize_t i, nc
        cdef const unsigned char* cs
        cdef int64_t q
        if by_slot:
            typ, tif, post = L.get(order, self.oi[0]), L.get(order, self.oi[1]), \
                L.get(order, self.oi[2])
            oside, red, coid = L.get(order, self.oi[3]), L.get(order, self.oi[4]), \
                L.get(order, self.oi[5])
            oqty = L.get(order, self.oi[6])
        else:
            typ, tif, post = order.type, order.tif, order.post_only
            oside, red, coid = order.side, order.reduce_only, order.client_order_id
            oqty = order.qty
        key = <long>typ * 16 + <long>tif * 2 + (1 if post else 0)
        sh = shapes.get(key)
        if type(sh) is not tuple:
            raise self.error(sh or f"order type {typ!r} / tif {tif!r} unknown")
        self._side = oside
        if red and self._side == 1:
            raise self.error("reduce_only BUY: Binance spot has no short position to reduce")
        if type(coid) is not str or not PyUnicode_IS_ASCII(coid):
            raise self.error(_coid_refusal(coid))
        nc = PyUnicode_GET_LENGTH(coid)
        cs = <const unsigned char*>PyUnicode_DATA(coid)
        if nc < 1 or nc > 36:
            raise self.error(_coid_refusal(coid))
        for i in range(nc):
            if not COID_OK[cs[i]]:
                raise self.error(_coid_refusal(coid))
        q = oqty
        if q <= 0:
            raise self.error(f"quantity {q} lots: must be > 0")
        self._coid = coid
        self._q = q
        self._by_slot = by_slot
        return sh

    cpdef bytes encode(self, object order, int64_t ts_ms, int64_t recv_window):
        cdef char buf[BUF]
        cdef char* p = buf
        cdef SlotLayout L = self.layout
        cdef object sh = self._checked(order, self.shapes)
        cdef bint by_slot = self._by_slot
        cdef long side = self._side
        cdef int64_t q = self._q
        cdef Py_ssize_t n
        cdef Py_ssize_t nc = PyUnicode_GET_LENGTH(self._coid)
        cdef const unsigned char* cs = <const unsigned char*>PyUnicode_DATA(self._coid)
        cdef bytes tail
        tail = <bytes>(<tuple>sh)[2]
        p = _put(p, P1, N1)
        p = _put(p, <const char*>cs, nc)
        p = _put(p, P2, N2)
        p = _put(p, <const char*>cs, nc)
        p = (_put(p, P_BUY, N_BUY) if side == 1 else _put(p, P_SELL, N_SELL))
        n = grid_text(p, q, self.qty_m, self.qty_k)
        if n < 0:
            raise self.error(f"quantity {q} lots: does not fit in 64 bits as text")
        p += n
        if (<tuple>sh)[0]:
            p = _put(p, P_PRICE, N_PRICE)
            v = L.get(order, self.oi[7]) if by_slot else order.price
            n = grid_text(p, v, self.price_m, self.price_k)
            if n < 0:
                raise self.error(f"price {v} ticks: does not fit in 64 bits as text")
            p += n
        if (<tuple>sh)[1]:
            p = _put(p, P_STOP, N_STOP)
            v = L.get(order, self.oi[8]) if by_slot else order.trigger_price
            n = grid_text(p, v, self.price_m, self.price_k)
            if n < 0:
                raise self.error(f"stop price {v} ticks: does not fit in 64 bits as text")
            p += n
        p = _put(p, P_RW, N_RW)
        p = _int_text(p, recv_window)
        p = _put(p, P_TS, N_TS)
        p = _int_text(p, ts_ms)
        p[0] = 44                              # ','
        p += 1
        p = _put(p, <const char*>tail, len(tail))
        return PyBytes_FromStringAndSize(buf, p - buf)


cdef inline char* _cput(char* p, const char* s) noexcept:
    """A NUL-terminated constant (the signed frame's fixed parts: not the hot loop's)."""
    cdef Py_ssize_t n = strlen(s)
    memcpy(p, s, n)
    return p + n


cdef str _text(int64_t units, int64_t m, int k, str what):
    cdef char buf[48]
    cdef Py_ssize_t n = grid_text(buf, units, m, k)
    if n < 0:
        raise OverflowError(f"{units} {what} does not fit in 64 bits")
    return buf[:n].decode("ascii")


def _coid_refusal(coid) -> str:
    return f"client order id {coid!r}: Binance accepts 1-36 characters of A-Z a-z 0-9 . : / _ -"
