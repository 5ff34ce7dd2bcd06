"""See syncer.pxd."""
from libc.errno cimport errno
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer

cdef enum:
    PAGE = 4096                           # touched every PAGE bytes (any page size is covered)

cdef extern from *:
    """
    #include <pthread.h>
    #include <time.h>
    #include <unistd.h>
    typedef struct { pthread_mutex_t mu; pthread_cond_t cv; } tc_sync_lock;
    typedef struct { pthread_t t; } tc_thread;
    static inline int64_t tc_load(const int64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
    static inline void tc_store(int64_t* p, int64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
    /* a write access that changes nothing even while another thread writes the byte */
    static inline void tc_touch(char* p) { __atomic_fetch_add((unsigned char*)p, 0, __ATOMIC_SEQ_CST); }
    static inline void tc_deadline(struct timespec* ts, int64_t ns) {
        clock_gettime(CLOCK_REALTIME, ts);
        ns += ts->tv_nsec;
        ts->tv_sec += ns / 1000000000LL;
        ts->tv_nsec = ns % 1000000000LL;
    }
    """
    ctypedef struct tc_sync_lock:
        pass
    ctypedef struct tc_thread:
        pass
    struct timespec:
        pass
    int64_t tc_load(const int64_t* p) noexcept nogil
    void tc_store(int64_t* p, int64_t v) noexcept nogil
    void tc_deadline(timespec* ts, int64_t ns) noexcept nogil
    void tc_touch(char* p) noexcept nogil
    int pthread_mutex_init(void* mu, void* attr) nogil
    int pthread_mutex_destroy(void* mu) nogil
    int pthread_mutex_lock(void* mu) nogil
    int pthread_mutex_unlock(void* mu) nogil
    int pthread_cond_init(void* cv, void* attr) nogil
    int pthread_cond_destroy(void* cv) nogil
    int pthread_cond_signal(void* cv) nogil
    int pthread_cond_timedwait(void* cv, void* mu, const timespec* ts) nogil
    int pthread_create(void* t, void* attr, void* (*fn)(void*) noexcept nogil, void* arg) nogil
    int pthread_join(unsigned long t, void** ret) nogil
    int fdatasync(int fd) nogil
    long getpid() nogil
    size_t sizeof_lock "sizeof(tc_sync_lock)"
    size_t sizeof_thread "sizeof(tc_thread)"
    size_t sizeof_timespec "sizeof(struct timespec)"


cdef extern from *:
    """
    static inline void* tc_mu(void* l) { return &((tc_sync_lock*)l)->mu; }
    static inline void* tc_cv(void* l) { return &((tc_sync_lock*)l)->cv; }
    static inline unsigned long tc_tid(void* t) { return (unsigned long)((tc_thread*)t)->t; }
    """
    void* tc_mu(void* l) noexcept nogil
    void* tc_cv(void* l) noexcept nogil
    unsigned long tc_tid(void* t) noexcept nogil


cdef struct LoopArg:
    SyncState* st
    void* lock


cdef void* _loop(void* arg) noexcept nogil:
    cdef LoopArg* a = <LoopArg*>arg
    cdef SyncState* st = a.st
    cdef void* lk = a.lock
    cdef char ts[64]                      # a struct timespec (16 bytes here)
    cdef int64_t p
    cdef int r
    free(a)
    pthread_mutex_lock(tc_mu(lk))
    while not st.stop:
        tc_deadline(<timespec*>ts, st.interval_ns)
        pthread_cond_timedwait(tc_cv(lk), tc_mu(lk), <timespec*>ts)
        if st.stop:
            break
        p = tc_load(&st.pos)
        if p == tc_load(&st.synced):
            continue
        pthread_mutex_unlock(tc_mu(lk))   # sync_now may run meanwhile: both only advance
        r = fdatasync(st.fd)
        pthread_mutex_lock(tc_mu(lk))
        if r == 0:
            if p > tc_load(&st.synced):
                tc_store(&st.synced, p)
            tc_store(&st.generation, tc_load(&st.generation) + 1)
            _rearm(st)
        else:
            st.errors += 1
    pthread_mutex_unlock(tc_mu(lk))
    return NULL


cdef void _rearm(SyncState* st) noexcept nogil:
    """Touch the page the data ends in and the next two (see syncer.pxd); under the lock."""
    cdef int64_t p = tc_load(&st.pos)
    cdef int64_t off, end
    if st.base == NULL:
        return
    off = (p - 1 if p > 0 else 0) // PAGE * PAGE
    end = off + 3 * PAGE
    if end > st.cap:
        end = st.cap
    while off < end:
        tc_touch(st.base + off)
        off += PAGE


cdef class FileSyncer:
    """FileSyncer(fd, interval_s, pos=0): syncs `fd` every interval_s while `pos` moves."""

    def __cinit__(self, int fd, double interval_s, int64_t pos=0):
        cdef LoopArg* a
        self.st = NULL
        self.sync_lock = NULL
        self.thread = NULL
        self.running = False
        if not interval_s > 0:
            raise ValueError(f"interval_s {interval_s} must be > 0")
        if sizeof_timespec > 64:
            raise RuntimeError("struct timespec is larger than the loop's room for it")
        self.st = <SyncState*>calloc(1, sizeof(SyncState))
        self.sync_lock = calloc(1, sizeof_lock)
        self.thread = calloc(1, sizeof_thread)
        a = <LoopArg*>calloc(1, sizeof(LoopArg))
        if self.st == NULL or self.sync_lock == NULL or self.thread == NULL or a == NULL:
            free(a)
            raise MemoryError()
        self.st.fd = fd
        self.st.interval_ns = <int64_t>(interval_s * 1e9)
        self.st.pos = pos
        self.st.synced = -1                  # what was there before is synced once, too
        pthread_mutex_init(tc_mu(self.sync_lock), NULL)
        pthread_cond_init(tc_cv(self.sync_lock), NULL)
        a.st = self.st
        a.lock = self.sync_lock
        if pthread_create(self.thread, NULL, _loop, a) != 0:
            free(a)
            raise OSError(errno, "could not start the journal's sync thread")
        self.running = True
        self.owner_pid = getpid()

    cdef int64_t load_pos(self) noexcept:
        return tc_load(&self.st.pos)

    cdef void store_pos(self, int64_t v) noexcept:
        tc_store(&self.st.pos, v)

    @property
    def pos(self) -> int:
        return tc_load(&self.st.pos)

    @pos.setter
    def pos(self, int64_t v):
        tc_store(&self.st.pos, v)

    @property
    def synced(self) -> int:
        """pos as of the last fdatasync that succeeded (-1: none yet)."""
        return tc_load(&self.st.synced)

    @property
    def generation(self) -> int:
        return tc_load(&self.st.generation)

    @property
    def errors(self) -> int:
        return self.st.errors

    def set_map(self, buf) -> None:
        """The file's writable mapping, re-armed after each sync; None: forget it (call before
        the mapping moves or closes). No buffer is kept exported."""
        cdef Py_buffer view
        cdef char* base = NULL
        cdef int64_t cap = 0
        if buf is not None:
            PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE)
            base = <char*>view.buf
            cap = view.len
            PyBuffer_Release(&view)
        with nogil:
            pthread_mutex_lock(tc_mu(self.sync_lock))
            self.st.base = base
            self.st.cap = cap
            pthread_mutex_unlock(tc_mu(self.sync_lock))

    def sync_now(self) -> None:
        """fdatasync at once if pos moved since the last sync (the GIL released meanwhile);
        OSError if it fails (the thread retries next cycle)."""
        cdef int64_t p = tc_load(&self.st.pos)
        cdef int r
        if p == tc_load(&self.st.synced):
            return
        with nogil:
            r = fdatasync(self.st.fd)
            if r == 0:
                pthread_mutex_lock(tc_mu(self.sync_lock))
                if p > tc_load(&self.st.synced):
                    tc_store(&self.st.synced, p)
                tc_store(&self.st.generation, tc_load(&self.st.generation) + 1)
                _rearm(self.st)
                pthread_mutex_unlock(tc_mu(self.sync_lock))
        if r != 0:
            raise OSError(errno, "fdatasync of the journal failed")

    def stop(self) -> None:
        """Wake the thread and join it (idempotent)."""
        self._halt()

    cdef void _halt(self) noexcept:
        if not self.running:
            return
        self.running = False
        if getpid() != self.owner_pid:
            return                            # forked: the thread is the parent's
        with nogil:
            pthread_mutex_lock(tc_mu(self.sync_lock))
            self.st.stop = 1
            pthread_cond_signal(tc_cv(self.sync_lock))
            pthread_mutex_unlock(tc_mu(self.sync_lock))
            pthread_join(tc_tid(self.thread), NULL)

    def __dealloc__(self):
        self._halt()
        if self.sync_lock != NULL and self.st != NULL:
            pthread_mutex_destroy(tc_mu(self.sync_lock))
            pthread_cond_destroy(tc_cv(self.sync_lock))
        free(self.st)
        free(self.sync_lock)
        free(self.thread)
