# Latency probes for production metrics (api/metrics.py): what a stage took, recorded from C.
#
# Why compiled: the Python probes (a closure reading perf_counter_ns twice, subtracting two ints
# and appending to an array('q')) cost ~640 ns a frame on the bench's replay, 8.7 % of it, over
# the 5 % budget (benchmarks/bench_metrics.py). Here a probe is a C function call: two reads of
# CLOCK_MONOTONIC (the vDSO, the clock perf_counter_ns reads) and a store into a C buffer; no
# Python int is made.
#
# now_ns(): CLOCK_MONOTONIC in ns.
#
# Samples(): durations in ns, appended by probes (push, or add from Python) and taken whole off
# the path (take: the int64 samples as bytes, native order, and the buffer emptied). len() is
# the number pending. extend(xs) adds all of xs or, when one is no int64, none.
#
# timed(fn, samples): a callable equal to fn that also pushes each call's duration (positional
# arguments only; what fn returns or raises passes through; a call that raises records nothing).
#
# NormalizerProbe(on_frame, on_rest, on_book, parse): the three callables a normalizer is
# probed with (its .frame, .rest and .book): frame and rest count the message and note its
# start; book pushes frame start -> first book callback of that frame to `parse`, then counts the
# book change by its key's symbol (key[1]). messages and book_updates() read the counts.
from libc.stdint cimport int64_t

cdef int64_t now_ns() noexcept nogil

cdef class Samples:
    cdef int64_t* buf
    cdef Py_ssize_t n, cap
    cdef int push(self, int64_t ns) except -1

cdef class NormalizerProbe:
    cdef object _on_frame, _on_rest, _on_book
    cdef Samples parse
    cdef int64_t start                     # now_ns() at the frame's start; 0 once parse noted
    cdef readonly unsigned long long messages
    cdef dict _by_key                      # book key -> its count (a C counter)
