# cython: language_level=3
"""Latency probes recorded from C (see probes.pxd for the interface and why)."""
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.stdint cimport int64_t
from libc.stdlib cimport free, realloc

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct timespec:
        time_t tv_sec
        long tv_nsec
    int clock_gettime(int clk, timespec* ts)
    int CLOCK_MONOTONIC


cdef int64_t now_ns() noexcept nogil:
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <int64_t>ts.tv_sec * 1000000000 + ts.tv_nsec


def monotonic_ns() -> int:
    """now_ns() from Python (the clock the probes read, for tests)."""
    return now_ns()


cdef class Samples:
    """Durations in ns appended by the probes; taken whole off the path (probes.pxd)."""

    def __dealloc__(self):
        free(self.buf)

    cdef int push(self, int64_t ns) except -1:
        cdef int64_t* b
        cdef Py_ssize_t cap
        if self.n == self.cap:
            cap = self.cap * 2 if self.cap else 1024
            b = <int64_t*>realloc(self.buf, cap * sizeof(int64_t))
            if b == NULL:
                raise MemoryError(f"latency samples: cannot grow to {cap}")
            self.buf, self.cap = b, cap
        self.buf[self.n] = ns
        self.n += 1
        return 0

    def add(self, int64_t ns) -> None:
        self.push(ns)

    def extend(self, xs) -> None:
        """All of xs, or (a value that is no int64) none of them."""
        cdef Py_ssize_t n0 = self.n
        try:
            for x in xs:
                self.push(x)
        except BaseException:
            self.n = n0
            raise

    def take(self) -> bytes:
        """The pending samples as native int64 bytes; the buffer is empty afterwards."""
        out = PyBytes_FromStringAndSize(<char*>self.buf, self.n * sizeof(int64_t))
        self.n = 0
        return out

    def __len__(self) -> int:
        return self.n


def timed1(fn, Samples samples not None):
    """fn(a), its duration pushed to samples (probes.pxd)."""
    def timed(a):
        cdef int64_t t = now_ns()
        r = fn(a)
        samples.push(now_ns() - t)
        return r
    return timed


def timed3(fn, Samples samples not None):
    """fn(a, b, c), its duration pushed to samples (probes.pxd)."""
    def timed(a, b, c):
        cdef int64_t t = now_ns()
        r = fn(a, b, c)
        samples.push(now_ns() - t)
        return r
    return timed


cdef class _Count:
    cdef unsigned long long n


cdef class NormalizerProbe:
    """A normalizer's on_frame / on_rest / on_book, counted and timed (probes.pxd)."""

    def __init__(self, on_frame, on_rest, on_book, Samples parse not None):
        self._on_frame, self._on_rest, self._on_book = on_frame, on_rest, on_book
        self.parse = parse
        self._by_key = {}

    def frame(self, data, conn="ws", ts_ns=0):
        self.messages += 1
        self.start = now_ns()
        return self._on_frame(data, conn, ts_ns)

    def rest(self, data, conn="rest", ts_ns=0, src=""):
        self.messages += 1
        self.start = now_ns()
        return self._on_rest(data, conn, ts_ns, src)

    def book(self, key, b):
        cdef _Count c
        if self.start:
            self.parse.push(now_ns() - self.start)
            self.start = 0
        c = self._by_key.get(key)
        if c is None:
            c = _Count()
            self._by_key[key] = c
        c.n += 1
        return self._on_book(key, b)

    def book_updates(self) -> dict:
        """{symbol: book changes} (the symbol is the book key's second item)."""
        out: dict = {}
        cdef _Count c
        for key, v in self._by_key.items():
            c = v
            sym = key[1]
            out[sym] = out.get(sym, 0) + c.n
        return out
