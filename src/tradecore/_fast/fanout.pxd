# The node's hook for a changed book (engine.py TradingNode._book_hook), compiled: what the
# Python closure there does, and ExecutionEngine.on_book_key's part inlined, for every book
# change of one venue. Both stay as its reference (tests/test_node.py compares whole replays).
#
# on_book(key, book), key = (connection, symbol) as the normalizer hands it:
#   count the change (stats.book_updates), keep the book in `books` under (venue, symbol) (the
#   key tuple made once per symbol), tell the paper venue (paper(symbol, book), when there is
#   one); then the execution engine's part: mid = book.mid(); when there is one, note
#   (mid, book.ts_ns or clock_ns()) in `mids` - or, given the gate's mid target (kernel,
#   index), set it in the kernel at once (kernel.set_mid(index[(venue, symbol)], ...), nothing
#   for a symbol the gate does not know: what the gate's flush of `mids` would have done at
#   the next check, without a tuple and dict store per change), mark the position (positions[key].mark, else
#   mark(venue, symbol, mid)), and for a key in `protected` call on_protected(key, book); then
#   each subscribed strategy's on_book(venue, symbol, book), an exception of one reported by
#   strategy_error(strategy, "on_book", exc) and the others still called.
from tradecore._fast.riskgate cimport RiskKernel

cdef class BookFanout:
    cdef readonly str venue
    cdef object stats
    cdef dict books
    cdef object paper
    cdef object subs                      # a dict or a subclass (the node's defaultdict)
    cdef object strategy_error
    cdef dict mids
    cdef dict positions
    cdef object mark
    cdef dict protected
    cdef object on_protected
    cdef object clock_ns
    cdef dict keys                        # symbol -> (venue, symbol)
    cdef RiskKernel kernel                # the gate's mid target, or None (then `mids`)
    cdef dict index                       # ... (venue, symbol) -> kernel index
    cdef dict sym_idx                     # symbol -> kernel index, once known
    cpdef on_book(self, object key, object book)
