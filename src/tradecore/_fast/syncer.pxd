# A file's periodic fdatasync on a thread of its own that never takes the GIL.
#
# Why not a Python thread: it needs the GIL twice a cycle (to wake and to loop), and each time
# the thread that runs the order path is made to hand it over (the interpreter's switch after up
# to 5 ms, then an OS context switch): two stalls of tens of microseconds every cycle on the
# order path's thread. This thread runs in C only: it sleeps `interval`, and when the writer has
# appended since the last sync (`pos` moved past `synced`), it fdatasyncs the file.
#
# The writer (one thread: the journal's) sets `pos` after each append (an atomic store). `synced`
# is the pos as of the last fdatasync that succeeded, `generation` counts those syncs (each one
# write-protects the file's pages again: Journal.prepare re-arms them), `errors` the failed ones
# (a failure is retried the next cycle). `sync_now()` syncs at once from the caller's thread,
# without the GIL. `stop()` wakes the thread and joins it; it is idempotent and runs at dealloc.
#
# Re-arming after a sync: a sync writes the pages back and write-protects them, so the next
# append to the page the data ends in would take a page fault on the order path. Given the
# file's mapping (`set_map(buffer)`; `set_map(None)` before the mapping moves, e.g. a resize),
# the thread touches that page and the next two right after each sync, with an atomic
# read-modify-write that adds 0 to one byte: no byte changes, whatever the writer copies at the
# same time, and the fault is taken here instead.
#
# Copy mode (`src_fd` >= 0, the journal's tmpfs twin, execution/journal.py): the writer's mapping
# is of another file, `src_fd`, whose pages are never written back and so never write-protected.
# Each sync first copies the bytes appended since the last copy, [copied, pos), from `src_fd` to
# `fd` at the same offsets (pread/pwrite, under the lock, so two syncs never copy the same bytes
# twice), then fdatasyncs `fd`. With `punch`, the copy's pages of `src_fd` more than PUNCH_LAG
# behind `synced` are given back (a hole punched every PUNCH_STEP): the twin holds only what
# is not yet durable, plus at most a step. A failed copy (ENOSPC, EIO) counts an error, keeps
# `copied` where it was, and is retried the next cycle, as a failed fdatasync is.
from libc.stdint cimport int64_t


cdef struct SyncState:
    int fd
    int stop
    int64_t interval_ns
    int64_t pos
    int64_t synced
    int64_t generation
    int64_t errors
    char* base                            # the file's mapping (set_map), NULL: none
    int64_t cap                           # its length
    int src_fd                            # copy mode: the file the bytes come from; -1: none
    int punch                             # copy mode: punch holes in src_fd behind `synced`
    int64_t copied                        # copy mode: bytes of src_fd copied to fd so far
    int64_t punched                       # copy mode: src_fd holds no pages below this


cdef class FileSyncer:
    cdef SyncState* st
    cdef void* sync_lock                  # pthread mutex + cond, opaque here
    cdef void* thread
    cdef bint running
    cdef long owner_pid                   # a forked child has no such thread: never joins it
    cdef void _halt(self) noexcept
    # pos for compiled writers (the `pos` property's atomic load and store, without a call
    # through Python): the compiled submit appends intents (orderpath.pxd)
    cdef int64_t load_pos(self) noexcept
    cdef void store_pos(self, int64_t v) noexcept
