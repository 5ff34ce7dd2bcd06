# cython: language_level=3
"""Python's small-object arenas, kept mapped and faulted in while a live node runs.

Why: CPython's allocator (obmalloc) takes memory for its small objects in arenas of 1 MiB
that it maps with mmap, and unmaps as soon as every object in one is freed. A burst of
allocations (a large frame, a fill, a report) maps a new arena and its first use faults in
each of its pages, one page fault of ~2-10 us on this VM each, on whatever Python code
allocates next: the tick-to-order path among it. Counted on the bench's path
(`tradecore bench tick-to-order`, docs/arbitrage.md "Session 8"): ~1 tick in 40 took a page
fault, nearly all in obmalloc, and those ticks' p99 was twice the others'.

So while installed (the node's "live" policy, engine.py), the arena allocator:
  * keeps the arenas obmalloc frees (up to `cache_bytes`) instead of unmapping them, and hands
    them back on the next request: their pages stay faulted in;
  * fills that cache at install, `prefault_bytes` worth of arenas mapped and faulted in at once
    (MADV_POPULATE_WRITE, or a write to each page where the kernel lacks it), so that even the
    first bursts find their pages ready.
What it costs: up to `cache_bytes` of memory that Python no longer uses stays resident. Nothing
else changes: an arena is the same anonymous private mapping of the size obmalloc asks for,
whichever allocator made it, so arenas mapped before install and freed after (or the other way
round) are unmapped correctly by either.

obmalloc calls the arena allocator only with the GIL held, so the cache needs no lock.
"""
from libc.stdint cimport uint64_t

cdef extern from *:
    """
    #include <Python.h>
    #include <sys/mman.h>
    #include <unistd.h>
    #ifndef MADV_POPULATE_WRITE
    #define MADV_POPULATE_WRITE 23
    #endif
    #define TC_ARENA_SLOTS 4096
    static PyObjectArenaAllocator tc_prev;       /* the allocator before install */
    static int tc_installed = 0;
    static void* tc_cache[TC_ARENA_SLOTS];
    static size_t tc_cache_size[TC_ARENA_SLOTS];
    static Py_ssize_t tc_n = 0;                  /* arenas cached */
    static size_t tc_cached_bytes = 0, tc_cap_bytes = 0;
    static unsigned long long tc_allocs = 0, tc_reused = 0, tc_mapped = 0, tc_frees = 0,
                              tc_kept = 0, tc_unmapped = 0;

    static void* tc_map(size_t size) {
        void* p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    /* every page of [p, p + size) present and writable */
    static void tc_populate(void* p, size_t size) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE), i;
        if (madvise(p, size, MADV_POPULATE_WRITE) == 0) return;
        for (i = 0; i < size; i += page) ((volatile char*)p)[i] = 0;
    }
    static void* tc_arena_alloc(void* ctx, size_t size) {
        Py_ssize_t i;
        tc_allocs++;
        for (i = tc_n - 1; i >= 0; i--) {        /* newest first: the warmest in cache */
            if (tc_cache_size[i] == size) {
                void* p = tc_cache[i];
                tc_n--;
                tc_cache[i] = tc_cache[tc_n];
                tc_cache_size[i] = tc_cache_size[tc_n];
                tc_cached_bytes -= size;
                tc_reused++;
                return p;
            }
        }
        tc_mapped++;
        return tc_map(size);
    }
    static void tc_arena_free(void* ctx, void* p, size_t size) {
        tc_frees++;
        if (tc_installed && tc_n < TC_ARENA_SLOTS && tc_cached_bytes + size <= tc_cap_bytes) {
            tc_cache[tc_n] = p;
            tc_cache_size[tc_n] = size;
            tc_n++;
            tc_cached_bytes += size;
            tc_kept++;
            return;
        }
        tc_unmapped++;
        munmap(p, size);
    }
    static void tc_drop_cache(void) {
        while (tc_n > 0) {
            tc_n--;
            munmap(tc_cache[tc_n], tc_cache_size[tc_n]);
        }
        tc_cached_bytes = 0;
    }
    /* 0, or -1 when a prefaulted arena could not be mapped (the cache then holds fewer) */
    static int tc_install(size_t cap_bytes, size_t prefault_bytes, size_t arena_size) {
        PyObjectArenaAllocator a = {NULL, tc_arena_alloc, tc_arena_free};
        int rc = 0;
        if (!tc_installed) {
            PyObject_GetArenaAllocator(&tc_prev);
            PyObject_SetArenaAllocator(&a);
            tc_installed = 1;
        }
        tc_cap_bytes = cap_bytes;
        while (tc_cached_bytes + arena_size <= prefault_bytes && tc_n < TC_ARENA_SLOTS) {
            void* p = tc_map(arena_size);
            if (p == NULL) { rc = -1; break; }
            tc_populate(p, arena_size);
            tc_cache[tc_n] = p;
            tc_cache_size[tc_n] = arena_size;
            tc_n++;
            tc_cached_bytes += arena_size;
        }
        return rc;
    }
    static void tc_uninstall(void) {
        if (!tc_installed) return;
        PyObject_SetArenaAllocator(&tc_prev);
        tc_installed = 0;
        tc_drop_cache();
    }
    """
    int tc_installed
    Py_ssize_t tc_n
    size_t tc_cached_bytes, tc_cap_bytes
    unsigned long long tc_allocs, tc_reused, tc_mapped, tc_frees, tc_kept, tc_unmapped
    int tc_install(size_t cap_bytes, size_t prefault_bytes, size_t arena_size) nogil
    void tc_uninstall() nogil

# obmalloc's arena size in CPython 3.10+ (ARENA_BITS 20): the size the prefaulted arenas have
# so that the first requests take them. A different size only makes them unused, never wrong.
ARENA_BYTES = 1 << 20
MAX_CACHE_BYTES = 4096 * ARENA_BYTES


def install(Py_ssize_t cache_bytes=64 * ARENA_BYTES, Py_ssize_t prefault_bytes=16 * ARENA_BYTES):
    """Keep up to `cache_bytes` of freed arenas mapped, and map and fault in `prefault_bytes`
    of them now. Installing again only changes the sizes (and tops the cache up)."""
    if not 0 <= cache_bytes <= MAX_CACHE_BYTES:
        raise ValueError(f"cache_bytes {cache_bytes}: expected 0..{MAX_CACHE_BYTES}")
    if not 0 <= prefault_bytes <= cache_bytes:
        raise ValueError(f"prefault_bytes {prefault_bytes}: expected 0..cache_bytes "
                         f"({cache_bytes})")
    if tc_install(<size_t>cache_bytes, <size_t>prefault_bytes, ARENA_BYTES) != 0:
        tc_uninstall()                   # all or nothing: Python's own allocator again
        raise MemoryError(f"arenas: could not map {prefault_bytes} bytes to prefault")


def uninstall():
    """Python's own arena allocator again; the cached arenas are unmapped."""
    tc_uninstall()


def installed() -> bool:
    return tc_installed != 0


def stats() -> dict:
    """Counters since the process started: arenas requested by obmalloc (`allocs`), of which
    taken from the cache (`reused`) or newly mapped (`mapped`); freed by it (`frees`), of which
    kept (`kept`) or unmapped (`unmapped`); and the cache now."""
    return {"allocs": tc_allocs, "reused": tc_reused, "mapped": tc_mapped, "frees": tc_frees,
            "kept": tc_kept, "unmapped": tc_unmapped, "cached": tc_n,
            "cached_bytes": tc_cached_bytes, "cache_bytes": tc_cap_bytes,
            "installed": tc_installed != 0}
