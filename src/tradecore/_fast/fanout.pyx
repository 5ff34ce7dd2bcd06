"""See fanout.pxd."""
from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from libc.stdint cimport int64_t

from tradecore._fast.riskgate cimport RiskKernel


cdef class BookFanout:
    """BookFanout(venue, stats, books, paper, subs, strategy_error, mids, positions, mark,
    protected, on_protected, clock_ns, mid_target=None): the node's and the execution engine's
    objects (see fanout.pxd); the dicts are theirs, live, never copied."""

    def __init__(self, str venue, stats, dict books, paper, subs, strategy_error,
                 dict mids, dict positions, mark, dict protected, on_protected, clock_ns,
                 mid_target=None):
        if not isinstance(subs, dict):
            raise TypeError(f"subs must be a dict, got {type(subs).__name__}")
        self.venue = venue
        self.stats = stats
        self.books = books
        self.paper = paper
        self.subs = subs
        self.strategy_error = strategy_error
        self.mids = mids
        self.positions = positions
        self.mark = mark
        self.protected = protected
        self.on_protected = on_protected
        self.clock_ns = clock_ns
        self.keys = {}
        self.sym_idx = {}
        if mid_target is not None:
            kernel, index = mid_target
            if not isinstance(kernel, RiskKernel) or not isinstance(index, dict):
                raise TypeError(f"mid_target must be (RiskKernel, dict), got {mid_target!r}")
            self.kernel, self.index = kernel, index

    cpdef on_book(self, object key, object book):
        cdef object symbol = key[1]
        cdef object vk = self.keys.get(symbol)
        cdef object mid, ts, pos
        cdef PyObject* strategies
        self.stats.book_updates += 1
        if vk is None:
            vk = (self.venue, symbol)
            self.keys[symbol] = vk
        self.books[vk] = book
        if self.paper is not None:
            self.paper(symbol, book)
        mid = book.mid()                     # None when a side is empty
        if mid is not None:
            ts = book.ts_ns
            if not ts:
                ts = self.clock_ns()
            if self.kernel is None:
                self.mids[vk] = (mid, ts)
            else:
                i = PyDict_GetItem(self.sym_idx, symbol)
                if i != NULL:
                    self.kernel.set_mid(<Py_ssize_t><object>i, <double>mid, <int64_t>ts)
                else:
                    idx = self.index.get(vk)
                    if idx is not None:       # a symbol the gate knows (once known, kept)
                        self.sym_idx[symbol] = idx
                        self.kernel.set_mid(<Py_ssize_t>idx, <double>mid, <int64_t>ts)
            pos = self.positions.get(vk)
            if pos is not None:
                pos.mark = mid
            else:
                self.mark(self.venue, symbol, mid)
            if vk in self.protected:
                self.on_protected(vk, book)
        strategies = PyDict_GetItem(self.subs, vk)     # no default made for a missing key
        if strategies == NULL:
            return
        lst = <object>strategies                        # a reference of our own
        if lst:
            for s in lst:
                try:
                    s.on_book(self.venue, symbol, book)
                except Exception as e:       # one strategy's bug must not stop the feed
                    self.strategy_error(s, "on_book", e)
