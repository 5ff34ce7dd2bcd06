# The execution engine's submit, compiled: execution/engine.py ExecutionEngine.submit is its
# reference (tests run both over the same replays and orders and compare everything).
#
# submit(order) does, for an order of the usual case, what the reference does in this order:
#   the OMS's add (a new id, status INITIALIZED, the clock read once, spec.plain_ok; then
#   ts_created_ns when 0, ts_last_ns = ts_created_ns, orders[cid] = order); the noted mids
#   flushed to the gate when there are any (flush()); the gate's check, `gate.check` read at
#   each call (a wrapper may shadow it; the metrics do not, they set risk_samples) and
#   called directly in C, at the same clock read, when it is still the RiskKernel's
#   check_order; the OMS's submitted (the intent journaled: given the journal's parts
#   (Journal.intent_parts: its IntentLine, mapping and syncer) written by IntentLine.write at
#   the syncer's pos here, else or when that refuses by intent(order), the engine's
#   _journal_intent, which denies the order and returns False when the journal cannot take it
#   (then nothing more: the order is never sent); status SUBMITTED; open[cid] = order);
#   venue.submit(order); after the send, the
#   gate's on_open(order) while the status is open (is_open[status]), notify(order) when there
#   are listeners, prepare().
# Whatever is not the usual case is the reference's, handed over in the state the reference
# itself would be in at that step. Before anything changed: an order of another class or an id
# already known -> reference(order); not of the plain shape (spec.plain_ok false) ->
# reference(order), which checks the spec and accepts or raises. After the OMS's add, as the
# reference's own code for that step: a denial -> deny(order, reason); no client for the venue
# -> send(order) (the reference's _send, which denies it); an intent the line refuses ->
# intent(order). `fast` counts the orders past the OMS's add here, `handed` those handed to
# reference(order) before anything changed.
# set_orders(orders): the dict the OMS holds its orders in from now on (OrderManager.compact
# replaces it off the path; ExecutionEngine.compact_orders hands the new one over).
#
# risk_samples (None unless the metrics set it, api/metrics.py attach): when set, the duration
# of each compiled kernel check is pushed to it (the production `risk` stage, timed here so
# that the check stays the kernel's and no wrapper shadows gate.check).
from tradecore._fast.orderrec cimport IntentLine, OrderSpec
from tradecore._fast.riskgate cimport RiskKernel
from tradecore._fast.syncer cimport FileSyncer
from tradecore._fast.slots cimport SlotLayout
from tradecore._fast.probes cimport Samples

cdef class OrderPath:
    cdef SlotLayout L
    cdef OrderSpec spec
    cdef object gate
    cdef object kcheck                     # the gate's check when built: RiskKernel.check_order
    cdef RiskKernel kernel                 # ... and its kernel (None for another gate)
    cdef dict orders, open, venues, mids
    cdef object flush, clock_ns, intent, prepare, on_open, notify
    cdef IntentLine line                   # the journal's parts, or None
    cdef object mm
    cdef FileSyncer sync
    cdef list listeners
    cdef object reference, deny, send
    cdef object initialized, submitted
    cdef tuple is_open                     # by status value: open or not
    cdef Py_ssize_t i_cid, i_venue, i_status, i_created, i_last
    cdef readonly unsigned long long fast, handed
    cdef public Samples risk_samples       # set: each compiled kernel check's duration (metrics)
    cpdef object submit(self, object order)
