"""See orderpath.pxd."""
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.long cimport PyLong_AsLongLong
from cpython.object cimport PyObject, PyObject_GetAttr
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE

from tradecore._fast.orderrec cimport IntentLine, OrderSpec
from tradecore._fast.riskgate cimport RiskKernel
from tradecore._fast.syncer cimport FileSyncer
from tradecore._fast.slots cimport SlotLayout

cdef extern from "Python.h":
    object _PyDict_NewPresized(Py_ssize_t minused)


def presized_dict(Py_ssize_t n) -> dict:
    """An empty dict whose table takes n items before it resizes (CPython caps the presize
    at ~87k items; beyond that it resizes as any dict). Why: an insert that fills a dict's
    table copies the whole table, on whatever call made it (the OMS's orders: the submit)."""
    if n < 0:
        raise ValueError(f"presized_dict: n {n} must be >= 0")
    return _PyDict_NewPresized(n)
from tradecore._fast.probes cimport Samples, now_ns as now_mono

cdef extern from "Python.h":
    bint PyUnicode_CheckExact(object)
    bint PyLong_CheckExact(object)

cdef str _CHECK = "check"
cdef str _SUBMIT = "submit"


cdef class OrderPath:
    """OrderPath(layout, spec, gate, orders, open, venues, mids, flush, clock_ns, intent,
    prepare, on_open, listeners, notify, reference, deny, send, INITIALIZED, SUBMITTED,
    is_open, journal_parts=None): the engine's and the OMS's live objects (see
    orderpath.pxd), never copied."""

    def __init__(self, SlotLayout layout, OrderSpec spec, gate, dict orders, dict open,
                 dict venues, dict mids, flush, clock_ns, intent, prepare, on_open,
                 list listeners, notify, reference, deny, send, initialized, submitted,
                 tuple is_open, journal_parts=None):
        self.L, self.spec, self.gate = layout, spec, gate
        self.kcheck = getattr(gate, "check", None)
        owner = getattr(self.kcheck, "__self__", None)
        self.kernel = owner if isinstance(owner, RiskKernel) and \
            getattr(self.kcheck, "__name__", "") == "check_order" else None
        self.orders, self.open, self.venues, self.mids = orders, open, venues, mids
        self.flush, self.clock_ns, self.intent, self.prepare = flush, clock_ns, intent, prepare
        self.on_open, self.listeners, self.notify = on_open, listeners, notify
        self.reference, self.deny, self.send = reference, deny, send
        self.initialized, self.submitted = initialized, submitted
        self.is_open = is_open
        if journal_parts is not None:
            self.line, self.mm, self.sync = journal_parts
        ix = (<object>layout).index
        self.i_cid, self.i_venue, self.i_status = ix("client_order_id"), ix("venue"), \
            ix("status")
        self.i_created, self.i_last = ix("ts_created_ns"), ix("ts_last_ns")

    def set_orders(self, dict orders not None) -> None:
        """The OMS's orders dict after the OMS replaced it (OrderManager.compact)."""
        self.orders = orders

    cpdef object submit(self, object order):
        cdef SlotLayout L = self.L
        cdef PyObject* v
        cdef object chk, reason, st
        cdef long long si, now_ns
        cdef Py_ssize_t e
        cdef long long t
        if type(order) is not L.cls:
            self.handed += 1
            return self.reference(order)
        cid = L.get(order, self.i_cid)
        if not PyUnicode_CheckExact(cid) or PyDict_GetItem(self.orders, cid) != NULL \
                or L.get(order, self.i_status) is not self.initialized:
            self.handed += 1               # a resubmission, or an error the reference words
            return self.reference(order)
        now = self.clock_ns()
        if not PyLong_CheckExact(now):
            self.handed += 1
            return self.reference(order)
        now_ns = PyLong_AsLongLong(now)
        if not self.spec.plain_ok(order, now_ns):
            self.handed += 1
            return self.reference(order)
        # -- the OMS's add: nothing was changed before this point
        self.fast += 1
        created = L.get(order, self.i_created)
        if not created:
            L.put(order, self.i_created, now)
            created = now
        L.put(order, self.i_last, created)
        PyDict_SetItem(self.orders, cid, order)
        if self.mids:
            self.flush()
        # -- the gate
        chk = PyObject_GetAttr(self.gate, _CHECK)
        if chk is self.kcheck and self.kernel is not None:
            if self.risk_samples is None:
                reason = self.kernel.check_order_at(order, now_ns)    # the same clock read
            else:
                t = now_mono()
                reason = self.kernel.check_order_at(order, now_ns)
                self.risk_samples.push(now_mono() - t)
        else:
            reason = chk(order)
        if reason:
            return self.deny(order, reason)
        v = PyDict_GetItem(self.venues, L.get(order, self.i_venue))
        if v == NULL:
            return self.send(order)
        venue = <object>v                  # a reference of our own
        # -- the OMS's submitted: the intent is journaled before anything leaves
        e = -1 if self.line is None else self.line.write(self.mm, self.sync.load_pos(), order)
        if e >= 0:
            self.sync.store_pos(e)
        elif not self.intent(order):       # escapes, odd types, no room: the journal's way;
            return order                   # it could not take it: denied, never sent
        L.put(order, self.i_status, self.submitted)
        PyDict_SetItem(self.open, cid, order)
        PyObject_GetAttr(venue, _SUBMIT)(order)
        # -- after the send (the venue may have answered synchronously)
        st = L.get(order, self.i_status)
        si = PyLong_AsLongLong(st)
        if 0 <= si < PyTuple_GET_SIZE(self.is_open) and \
                <object>PyTuple_GET_ITEM(self.is_open, si):
            self.on_open(order)
        if self.listeners:
            self.notify(order)
        self.prepare()
        return order
