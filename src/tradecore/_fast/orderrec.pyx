"""See orderrec.pxd."""
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_GET_ITEM
from cpython.unicode cimport PyUnicode_GET_LENGTH
from libc.stdint cimport int64_t, uint64_t
from libc.string cimport memcpy

from tradecore._fast.slots cimport SlotLayout

cdef extern from "Python.h":
    # the allocator slot of a type (Cython's PyTypeObject does not declare it)
    ctypedef struct AllocType "PyTypeObject":
        PyObject* (*tp_alloc)(AllocType*, Py_ssize_t)
        Py_ssize_t tp_dictoffset
    bint PyLong_CheckExact(object)
    object PyUnicode_New(Py_ssize_t, Py_UCS4)
    void* PyUnicode_DATA(object)
    unsigned char* PyUnicode_1BYTE_DATA(object)
    bint PyUnicode_CheckExact(object)
    bint PyUnicode_IS_ASCII(object)
    const char* PyUnicode_AsUTF8AndSize(object, Py_ssize_t*) except NULL


cdef inline bint _int64(object v, int64_t* out):
    """An exact int (not bool, not a subclass) within int64."""
    cdef int overflow = 0
    if not PyLong_CheckExact(v):
        return False
    out[0] = PyLong_AsLongLongAndOverflow(v, &overflow)
    return overflow == 0


cdef inline bint _member(object v, object cls, int64_t* out):
    """A member of the IntEnum class `cls` (exactly that class), its value."""
    cdef int overflow = 0
    if type(v) is not cls:
        return False
    out[0] = PyLong_AsLongLongAndOverflow(v, &overflow)
    return overflow == 0


cdef class OrderSpec:
    """OrderSpec(layout, OrderType, TimeInForce, Side): layout is the Order's SlotLayout."""

    def __init__(self, SlotLayout layout, type_cls, tif_cls, side_cls):
        self.L = layout
        self.type_cls, self.tif_cls, self.side_cls = type_cls, tif_cls, side_cls
        for t in type_cls:
            if not 0 <= t < 16:
                raise ValueError(f"{t!r}: OrderType values must be 0..15")
            self.priced[t] = t.name in ("LIMIT", "STOP_LIMIT", "TAKE_PROFIT_LIMIT")
            self.triggered[t] = t.name in ("STOP_MARKET", "STOP_LIMIT", "TAKE_PROFIT",
                                           "TAKE_PROFIT_LIMIT")
        for t in tif_cls:
            if not 0 <= t < 16:
                raise ValueError(f"{t!r}: TimeInForce values must be 0..15")
            self.no_rest[t] = t.name in ("IOC", "FOK")
        self.trailing = type_cls.TRAILING_STOP
        self.limit = type_cls.LIMIT
        self.gtd = tif_cls.GTD
        ix = (<object>layout).index
        self.i_cid, self.i_side, self.i_type = ix("client_order_id"), ix("side"), ix("type")
        self.i_qty, self.i_price, self.i_trig = ix("qty"), ix("price"), ix("trigger_price")
        self.i_tif, self.i_post = ix("tif"), ix("post_only")
        self.i_exp, self.i_trail = ix("expire_ns"), ix("trail_ticks")

    cpdef bint plain_ok(self, object o, int64_t now_ns):
        cdef SlotLayout L = self.L
        cdef int64_t t = 0, tif = 0, side = 0, qty = 0, price = 0, trig = 0, trail = 0, exp = 0
        if type(o) is not L.cls:
            return False
        if not _member(L.get(o, self.i_type), self.type_cls, &t) or t < 0 or t >= 16:
            return False
        if not _member(L.get(o, self.i_tif), self.tif_cls, &tif) or tif < 0 or tif >= 16:
            return False
        if not _member(L.get(o, self.i_side), self.side_cls, &side):
            return False
        cid = L.get(o, self.i_cid)
        if not PyUnicode_CheckExact(cid) or PyUnicode_GET_LENGTH(cid) == 0:
            return False
        if not _int64(L.get(o, self.i_qty), &qty) or qty <= 0:
            return False
        if not _int64(L.get(o, self.i_price), &price) or price < 0 \
                or (price > 0) != self.priced[t]:
            return False
        if not _int64(L.get(o, self.i_trig), &trig) or trig < 0 \
                or (trig > 0) != self.triggered[t]:
            return False
        if not _int64(L.get(o, self.i_trail), &trail) or trail < 0 \
                or (trail > 0) != (t == self.trailing):
            return False
        post = L.get(o, self.i_post)
        if post is True:
            if t != self.limit or self.no_rest[tif]:
                return False
        elif post is not False:
            return False
        if not _int64(L.get(o, self.i_exp), &exp):
            return False
        if tif == self.gtd:
            return exp > now_ns
        return exp == 0


# the intent record after "I" (journal.py's Journal.intent writes the same list)
INTENT_FIELDS = ("client_order_id", "venue", "symbol", "side", "type", "qty", "price",
                 "trigger_price", "tif", "post_only", "reduce_only", "expire_ns", "trail_ticks",
                 "strategy_id", "parent_id", "tag", "ts_created_ns")


cdef inline Py_ssize_t _put_int(char* d, Py_ssize_t k, int64_t v) noexcept:
    cdef char tmp[24]
    cdef Py_ssize_t n = 0
    cdef uint64_t u
    if v < 0:
        d[k] = c'-'
        k += 1
        u = <uint64_t>(-(v + 1)) + 1
    else:
        u = <uint64_t>v
    while True:
        tmp[n] = <char>(48 + u % 10)
        n += 1
        u //= 10
        if u == 0:
            break
    while n:
        n -= 1
        d[k] = tmp[n]
        k += 1
    return k


cdef class IntentLine:
    """IntentLine(layout, Side, OrderType, TimeInForce)."""

    def __init__(self, SlotLayout layout, side_cls, type_cls, tif_cls):
        self.L = layout
        kinds = {"client_order_id": b"s", "venue": b"s", "symbol": b"s", "strategy_id": b"s",
                 "parent_id": b"s", "tag": b"s", "post_only": b"b", "reduce_only": b"b",
                 "side": b"e", "type": b"e", "tif": b"e"}
        enums = {"side": side_cls, "type": type_cls, "tif": tif_cls}
        for j, name in enumerate(INTENT_FIELDS):
            self.idx[j] = layout.index(name)
            self.kind[j] = kinds.get(name, b"i")[0]
        self.ecls = tuple(enums.get(name) for name in INTENT_FIELDS)
        for j in range(17):
            self.ecls_p[j] = <PyObject*>self.ecls[j]
            Py_XDECREF(self.last[j])
            self.last[j] = NULL

    def __dealloc__(self):
        for j in range(17):
            Py_XDECREF(self.last[j])
            self.last[j] = NULL

    cpdef Py_ssize_t write(self, object buf, Py_ssize_t pos, object o) except -2:
        cdef SlotLayout L = self.L
        cdef char* d = self.scratch
        cdef Py_ssize_t k = 5, j, n, q
        cdef const char* s
        cdef int64_t v = 0
        cdef unsigned char c
        cdef Py_buffer view
        if type(o) is not L.cls:
            return -1
        memcpy(d, b'["I",', 5)
        for j in range(17):
            x = L.get(o, self.idx[j])
            if self.kind[j] == c's':
                if <PyObject*>x == self.last[j]:              # the same str object as last time
                    n = self.last_len[j]                       # (str is immutable): checked
                    s = <const char*>PyUnicode_DATA(x)         # ASCII then: its bytes
                    d[k] = c'"'
                    memcpy(d + k + 1, s, n)
                    k += n + 1
                    d[k] = c'"'
                    k += 1
                    d[k] = c','
                    k += 1
                    continue
                if not PyUnicode_CheckExact(x) or not PyUnicode_IS_ASCII(x):
                    return -1
                s = PyUnicode_AsUTF8AndSize(x, &n)
                if n > 200:
                    return -1
                d[k] = c'"'
                k += 1
                for q in range(n):
                    c = <unsigned char>s[q]
                    if c < 32 or c == 34 or c == 92 or c == 127:
                        return -1          # needs an escape: orjson's own path writes it
                    d[k + q] = <char>c
                k += n
                d[k] = c'"'
                k += 1
                Py_INCREF(x)
                Py_XDECREF(self.last[j])
                self.last[j] = <PyObject*>x
                self.last_len[j] = n
            elif self.kind[j] == c'b':
                if x is True:
                    memcpy(d + k, b'true', 4)
                    k += 4
                elif x is False:
                    memcpy(d + k, b'false', 5)
                    k += 5
                else:
                    return -1
            else:
                if self.kind[j] == c'e':
                    if not _member(x, <object>self.ecls_p[j], &v):
                        return -1
                elif not _int64(x, &v):
                    return -1
                k = _put_int(d, k, v)
            d[k] = c','
            k += 1
        d[k - 1] = c']'
        d[k] = c'\n'
        k += 1
        PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE)
        try:
            if pos < 0 or pos + k > view.len:
                return -1
            memcpy(<char*>view.buf + pos, d, k)
        finally:
            PyBuffer_Release(&view)
        self.written += 1
        return pos + k


cdef class OrderMaker:
    """OrderMaker(layout, defaults): see orderrec.pxd."""

    def __init__(self, SlotLayout layout, defaults):
        import dataclasses
        cls = layout.cls
        if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
            raise TypeError(f"{cls.__qualname__} must be a dataclass without __post_init__")
        fs = dataclasses.fields(cls)
        if any(f.default_factory is not dataclasses.MISSING for f in fs):
            raise TypeError(f"{cls.__qualname__} has a default_factory field")
        if tuple(f.name for f in fs) != layout.names:
            raise TypeError(f"the layout must name every field of {cls.__qualname__} in order")
        if layout.names[:16] != INTENT_FIELDS[:16]:
            raise TypeError(f"the first sixteen fields must be {INTENT_FIELDS[:16]}")
        if (<AllocType*>cls).tp_dictoffset != 0:
            raise TypeError(f"{cls.__qualname__} instances have a __dict__")
        self.L = layout
        self.defaults = tuple(defaults)
        if len(self.defaults) != layout.n:
            raise TypeError(f"{len(self.defaults)} defaults for {layout.n} fields")

    def new(self, client_order_id, venue, symbol, side, type, qty, price, trigger_price, tif,
            post_only, reduce_only, expire_ns, trail_ticks, strategy_id, parent_id, tag):
        cdef SlotLayout L = self.L
        cdef AllocType* t = <AllocType*>L.cls
        cdef PyObject* p = t.tp_alloc(t, 0)     # every slot NULL; tracked by the collector
        cdef Py_ssize_t i
        if p == NULL:
            raise MemoryError()
        o = <object>p                           # a reference of its own ...
        Py_DECREF(o)                            # ... so tp_alloc's is given back
        L.put(o, 0, client_order_id)
        L.put(o, 1, venue)
        L.put(o, 2, symbol)
        L.put(o, 3, side)
        L.put(o, 4, type)
        L.put(o, 5, qty)
        L.put(o, 6, price)
        L.put(o, 7, trigger_price)
        L.put(o, 8, tif)
        L.put(o, 9, post_only)
        L.put(o, 10, reduce_only)
        L.put(o, 11, expire_ns)
        L.put(o, 12, trail_ticks)
        L.put(o, 13, strategy_id)
        L.put(o, 14, parent_id)
        L.put(o, 15, tag)
        for i in range(16, L.n):
            L.put(o, i, <object>PyTuple_GET_ITEM(self.defaults, i))
        return o


cdef class OrderIds:
    """OrderIds(prefix): see orderrec.pxd."""

    def __init__(self, str prefix, int64_t start=1):
        if start < 1:
            raise ValueError(f"ids start at 1 or more, got {start}")
        self.prefix = prefix
        self.pre = prefix.encode("ascii") if prefix.isascii() else None
        self.n = start - 1

    @property
    def last(self) -> int:
        """The last number given (0: none yet)."""
        return self.n

    cpdef str next(self):
        cdef char digits[24]
        cdef Py_ssize_t k, m
        cdef unsigned char* d
        self.n += 1
        if self.pre is None:
            return f"{self.prefix}{self.n}"
        k = _put_int(digits, 0, self.n)
        m = len(self.pre)
        s = PyUnicode_New(m + k, 127)
        d = PyUnicode_1BYTE_DATA(s)
        memcpy(d, <const char*>self.pre, m)
        memcpy(d + m, digits, k)
        return s
