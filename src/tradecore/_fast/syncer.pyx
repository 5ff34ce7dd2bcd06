"""See syncer.pxd."""
from libc.errno cimport errno
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free, malloc
from cpython.buffer cimport PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer

cdef enum:
    PAGE = 4096                           # touched every PAGE bytes (any page size is covered)
    COPY_BUF = 1 << 16                    # copy mode: bytes read and written per system call
    PUNCH_STEP = 1 << 20                  # copy mode: holes are punched a MiB at a time ...
    PUNCH_LAG = 1 << 20                   # ... and no nearer than a MiB behind `synced`

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
    #ifdef __linux__
    #include <fcntl.h>
    #include <linux/falloc.h>
    static inline int tc_punch(int fd, int64_t off, int64_t len) {
        return fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
    }
    #else
    #include <errno.h>
    static inline int tc_punch(int fd, int64_t off, int64_t len) { errno = ENOSYS; return -1; }
    #endif
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
    int tc_punch(int fd, int64_t off, int64_t len) noexcept nogil
    long pread(int fd, void* buf, size_t n, int64_t off) nogil
    long pwrite(int fd, const void* buf, size_t n, int64_t off) nogil
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
    free(a)
    pthread_mutex_lock(tc_mu(lk))
    while not st.stop:
        tc_deadline(<timespec*>ts, st.interval_ns)
        pthread_cond_timedwait(tc_cv(lk), tc_mu(lk), <timespec*>ts)
        if st.stop:
            break
        if _sync_once(st, lk) != 0:
            st.errors += 1
    pthread_mutex_unlock(tc_mu(lk))
    return NULL


cdef int _sync_once(SyncState* st, void* lk) noexcept nogil:
    """Copy (copy mode), fdatasync and record a sync if pos moved since the last one: 0, or
    the errno of what failed. Called, and returns, with the lock held; it lets go of it while
    the disk works, so sync_now and the thread may overlap there (both only advance)."""
    cdef int64_t p = tc_load(&st.pos)
    cdef int r, e
    if p == tc_load(&st.synced):
        return 0
    e = _copy(st, p)
    if e != 0:
        return e
    pthread_mutex_unlock(tc_mu(lk))
    r = fdatasync(st.fd)
    e = errno
    pthread_mutex_lock(tc_mu(lk))
    if r != 0:
        return e if e != 0 else -1
    if p > tc_load(&st.synced):
        tc_store(&st.synced, p)
    tc_store(&st.generation, tc_load(&st.generation) + 1)
    _punch(st)
    _rearm(st)
    return 0


cdef int _copy(SyncState* st, int64_t p) noexcept nogil:
    """Copy mode: [copied, p) of src_fd to fd at the same offsets; 0, or the errno, with
    `copied` as far as the bytes got. Under the lock."""
    cdef int64_t off = st.copied
    cdef int64_t n, done, w
    cdef int e
    cdef char* buf
    if st.src_fd < 0 or off >= p:
        return 0
    buf = <char*>malloc(COPY_BUF)
    if buf == NULL:
        return 12                          # ENOMEM
    while off < p:
        n = pread(st.src_fd, buf, min(<int64_t>COPY_BUF, p - off), off)
        if n <= 0:                         # 0: the source ends before pos, which it may not
            e = errno if n < 0 else 5      # EIO
            free(buf)
            return e
        done = 0
        while done < n:
            w = pwrite(st.fd, buf + done, n - done, off + done)
            if w <= 0:
                e = errno if w < 0 else 5
                free(buf)
                return e
            done += w
            st.copied = off + done
        off += n
    free(buf)
    return 0


cdef void _punch(SyncState* st) noexcept nogil:
    """Copy mode with punch: give back src_fd's pages a step behind `synced` (durable in fd)."""
    cdef int64_t to
    if st.src_fd < 0 or not st.punch:
        return
    to = (tc_load(&st.synced) - PUNCH_LAG) // PUNCH_STEP * PUNCH_STEP
    if to > st.punched and tc_punch(st.src_fd, st.punched, to - st.punched) == 0:
        st.punched = to


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
    """FileSyncer(fd, interval_s, pos=0, src_fd=-1, punch=False): syncs `fd` every interval_s
    while `pos` moves; with src_fd, copies what was appended to it into fd first."""

    def __cinit__(self, int fd, double interval_s, int64_t pos=0, int src_fd=-1,
                  bint punch=False):
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
        self.st.src_fd = src_fd
        self.st.punch = punch
        self.st.copied = pos                 # fd already holds everything before pos
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
    def copied(self) -> int:
        """Copy mode: bytes of src_fd copied into fd so far."""
        return self.st.copied

    @property
    def punched(self) -> int:
        """Copy mode with punch: src_fd holds no pages below this offset."""
        return self.st.punched

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
        """Copy (copy mode) and fdatasync at once if pos moved since the last sync (the GIL
        released meanwhile); OSError if it fails (the thread retries next cycle)."""
        cdef int e
        with nogil:
            pthread_mutex_lock(tc_mu(self.sync_lock))
            e = _sync_once(self.st, self.sync_lock)
            pthread_mutex_unlock(tc_mu(self.sync_lock))
        if e != 0:
            raise OSError(e, "fdatasync of the journal failed" if self.st.src_fd < 0 or
                          self.st.copied >= tc_load(&self.st.pos) else
                          "copying the journal's new bytes into its file failed")

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
