# The order record's two reads on the order path, compiled (execution/oms.py check_spec and
# execution/journal.py Journal.intent are their references; tests compare them).
#
# OrderSpec.plain_ok(o, now_ns): True when the order is of the plain shape (an exact Order;
# exact enum members; exact ints within int64; a non-empty str id; bool flags) and well formed
# by check_spec's rules. False says nothing: the caller then runs check_spec, which accepts or
# explains. So the compiled check can only ever accept what the reference accepts.
#
# IntentLine.write(buf, pos, o): the journal's intent record of o, byte for byte what
# orjson.dumps([...], option=OPT_APPEND_NEWLINE) writes (journal.py), copied into the writable
# buffer `buf` (the journal's mmap) at pos; returns the end, or -1 when it does not take the
# record (not of the plain shape, a string that would need escapes or is not ASCII, longer than
# 200 characters, or no room before the buffer's end) and then nothing was written.
#
# OrderMaker(layout, defaults).new(client_order_id, venue, symbol, side, type, qty, price,
# trigger_price, tif, post_only, reduce_only, expire_ns, trail_ticks, strategy_id, parent_id,
# tag): a new Order equal to Order(<the same sixteen values>), the other fields their
# defaults (`defaults`, one per field of the layout; only the sixteen may lack one). The class
# call's ~3.3k instructions (type_call, slot_tp_init, a Python frame of 25 stores) become an
# allocation and 25 pointer stores. Valid because the dataclass's generated __init__ only
# stores its arguments: checked at construction (a dataclass, no __post_init__, no
# default_factory, the layout naming every field in order, no instance __dict__).
from cpython.object cimport PyObject
from libc.stdint cimport int64_t
from tradecore._fast.slots cimport SlotLayout

cdef class OrderSpec:
    cdef SlotLayout L
    cdef object type_cls, tif_cls, side_cls
    cdef unsigned char priced[16]          # by OrderType value
    cdef unsigned char triggered[16]
    cdef int trailing, limit, gtd           # the TRAILING_STOP, LIMIT and GTD values
    cdef unsigned char no_rest[16]          # by TimeInForce value
    cdef Py_ssize_t i_cid, i_side, i_type, i_qty, i_price, i_trig, i_tif, i_post, i_exp, i_trail
    cpdef bint plain_ok(self, object o, int64_t now_ns)

cdef class IntentLine:
    cdef SlotLayout L
    cdef object side_cls, type_cls, tif_cls
    cdef Py_ssize_t idx[17]                 # the record's fields after "I", in order
    cdef char kind[17]                      # 's' str, 'i' int, 'e' enum (by class), 'b' bool
    cdef tuple ecls                         # the enum class of an 'e' field, else None
    cdef PyObject* ecls_p[17]               # ... the same, borrowed from ecls, for C reads
    cdef PyObject* last[17]                 # per field: the last str object written (a
                                            # reference of ours, or NULL) ...
    cdef Py_ssize_t last_len[17]            # ... and its length (venue, symbol, strategy and
                                            # tag repeat: checked once, then copied)
    cdef char scratch[2048]                 # > 5 + 6 x (200 + 3) + 11 x 21 + 1
    cdef readonly unsigned long long written    # records this writer wrote (write() >= 0)
    cpdef Py_ssize_t write(self, object buf, Py_ssize_t pos, object o) except -2

cdef class OrderMaker:
    cdef SlotLayout L
    cdef tuple defaults                     # per field; only the first 16 may be None-less

# OrderIds(prefix).next(): prefix + the next integer from 1, as a str (what
# f"{prefix}{next(itertools.count(1))}" gives), made in C: ~0.6k instructions of formatting
# and joining fewer an order. A prefix that is not ASCII takes the f-string itself.
cdef class OrderIds:
    cdef readonly str prefix
    cdef bytes pre                          # the prefix's ASCII bytes, or None
    cdef int64_t n                          # the last number given
    cpdef str next(self)
