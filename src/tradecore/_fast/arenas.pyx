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
And it does the same for the C heap (glibc's malloc, which serves every block over 512 bytes:
dict and list tables, bytes, numpy arrays, the books' windows): blocks up to 32 MiB come from
the heap instead of a fresh mmap each, freed heap memory is kept instead of trimmed, and
`heap_prefault_bytes` of it is faulted in at install. Why: a dict that grows past ~5k
entries gets a new table of its own mapping, and each page of it faulted on the first submit
that touches it: the OMS's orders dict, growing, took ~100 faults (~0.5 ms) on one submit of
the bench (docs/arbitrage.md "Session 9"). Elsewhere than glibc the heap part does nothing.
What it costs: up to `cache_bytes` of memory that Python no longer uses stays resident, and
the C heap keeps what it has had (up to 256 MiB free at its top). Nothing
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
    /* The C heap (glibc): big blocks from the heap, freed memory kept, `prefault` bytes of it
       faulted in. 0, or -1 when it could not be done (nothing is then changed). */
    #if defined(__GLIBC__)
    #include <malloc.h>
    static int tc_heap_kept = 0;
    static int tc_heap_keep(size_t prefault) {
        char* p;
        size_t i, page = (size_t)sysconf(_SC_PAGESIZE);
        if (tc_heap_kept) return 0;
        if (!mallopt(M_TRIM_THRESHOLD, 256 << 20)) return -1;
        if (!mallopt(M_MMAP_THRESHOLD, 32 << 20)) {
            mallopt(M_TRIM_THRESHOLD, 128 * 1024);
            return -1;
        }
        if (prefault) {
            p = (char*)malloc(prefault);
            if (p == NULL) {
                mallopt(M_MMAP_THRESHOLD, 128 * 1024);
                mallopt(M_TRIM_THRESHOLD, 128 * 1024);
                return -1;
            }
            for (i = 0; i < prefault; i += page) ((volatile char*)p)[i] = 0;
            free(p);                             /* kept at the heap's top, faulted in */
        }
        tc_heap_kept = 1;
        return 0;
    }
    /* glibc's defaults again (the threshold no longer adapts by itself), memory given back */
    static void tc_heap_release(void) {
        if (!tc_heap_kept) return;
        mallopt(M_MMAP_THRESHOLD, 128 * 1024);
        mallopt(M_TRIM_THRESHOLD, 128 * 1024);
        malloc_trim(0);
        tc_heap_kept = 0;
    }
    #else
    static int tc_heap_kept = 0;
    static int tc_heap_keep(size_t prefault) { return 0; }
    static void tc_heap_release(void) {}
    #endif
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
    int tc_installed, tc_heap_kept
    int tc_heap_keep(size_t prefault) nogil
    void tc_heap_release() nogil
    Py_ssize_t tc_n
    size_t tc_cached_bytes, tc_cap_bytes
    unsigned long long tc_allocs, tc_reused, tc_mapped, tc_frees, tc_kept, tc_unmapped
    int tc_install(size_t cap_bytes, size_t prefault_bytes, size_t arena_size) nogil
    void tc_uninstall() nogil

# obmalloc's arena size in CPython 3.10+ (ARENA_BITS 20): the size the prefaulted arenas have
# so that the first requests take them. A different size only makes them unused, never wrong.
ARENA_BYTES = 1 << 20
MAX_CACHE_BYTES = 4096 * ARENA_BYTES
# under the heap's trim threshold (256 MiB), so that freeing it keeps it
MAX_HEAP_PREFAULT = 128 * ARENA_BYTES


def install(Py_ssize_t cache_bytes=64 * ARENA_BYTES, Py_ssize_t prefault_bytes=16 * ARENA_BYTES,
            Py_ssize_t heap_prefault_bytes=16 * ARENA_BYTES):
    """Keep up to `cache_bytes` of freed arenas mapped, and map and fault in `prefault_bytes`
    of them now; keep the C heap's memory and fault in `heap_prefault_bytes` of it (glibc).
    Installing again only changes the arena sizes (and tops the cache up)."""
    if not 0 <= cache_bytes <= MAX_CACHE_BYTES:
        raise ValueError(f"cache_bytes {cache_bytes}: expected 0..{MAX_CACHE_BYTES}")
    if not 0 <= prefault_bytes <= cache_bytes:
        raise ValueError(f"prefault_bytes {prefault_bytes}: expected 0..cache_bytes "
                         f"({cache_bytes})")
    if not 0 <= heap_prefault_bytes <= MAX_HEAP_PREFAULT:
        raise ValueError(f"heap_prefault_bytes {heap_prefault_bytes}: expected "
                         f"0..{MAX_HEAP_PREFAULT}")
    if tc_install(<size_t>cache_bytes, <size_t>prefault_bytes, ARENA_BYTES) != 0:
        tc_uninstall()                   # all or nothing: Python's own allocator again
        raise MemoryError(f"arenas: could not map {prefault_bytes} bytes to prefault")
    if tc_heap_keep(<size_t>heap_prefault_bytes) != 0:
        tc_uninstall()
        raise MemoryError(f"arenas: could not fault in {heap_prefault_bytes} bytes of the C "
                          f"heap")


def uninstall():
    """Python's own arena allocator again, the cached arenas unmapped; the C heap back to
    glibc's defaults, its free memory given back."""
    tc_uninstall()
    tc_heap_release()


def installed() -> bool:
    return tc_installed != 0


def stats() -> dict:
    """Counters since the process started: arenas requested by obmalloc (`allocs`), of which
    taken from the cache (`reused`) or newly mapped (`mapped`); freed by it (`frees`), of which
    kept (`kept`) or unmapped (`unmapped`); and the cache now."""
    return {"allocs": tc_allocs, "reused": tc_reused, "mapped": tc_mapped, "frees": tc_frees,
            "kept": tc_kept, "unmapped": tc_unmapped, "cached": tc_n,
            "cached_bytes": tc_cached_bytes, "cache_bytes": tc_cap_bytes,
            "installed": tc_installed != 0, "heap_kept": tc_heap_kept != 0}
