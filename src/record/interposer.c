/*
 * allocbench's allocation recorder: an LD_PRELOAD interposer (built and preloaded by
 * `allocbench record`, src/record/build.ts). It logs malloc, calloc, realloc, free, posix_memalign,
 * aligned_alloc, memalign, valloc, pvalloc, mmap, munmap, mremap, brk and sbrk with the thread id and
 * a timestamp, as fixed 32-byte records (src/record/log.ts reads them):
 *
 *   file header (48 bytes): "ABREC1\0\0", u32 pid, u32 ppid, u32 flags, u32 0,
 *                           u64 start (CLOCK_MONOTONIC ns), u64 start (clock ticks), u64 0
 *   record (32 bytes):      u64 time (clock ticks), u32 tid, u32 op | prot << 8 | flags << 11,
 *                           u64 a, u64 b
 *
 * flags: 1 = a fork() child, 2 = the clock is the TSC (x86-64 with the kernel's clocksource "tsc",
 * which Linux only picks when the TSC is constant and synchronised across CPUs: 10-20 ns a read
 * against 30 for clock_gettime), else CLOCK_MONOTONIC in ns. The exit record carries both clocks,
 * so the reader can turn ticks into ns.
 *
 * Each process writes its own file, ALLOCBENCH_RECORD_DIR/PID-STARTNS.ablog (a fork() child opens a
 * new one in its atfork handler; an exec'd image opens one when it first logs), with O_APPEND.
 * Records go into per-thread buffers (mmap'd, never malloc'd) written with one write() when full,
 * when the thread exits (a pthread key destructor), before fork() and exec, at _exit/_Exit and in
 * this library's destructor; after that destructor, and in a thread after its key destructor ran,
 * every record is written at once, so frees made by later destructors are not lost.
 *
 * Recursion: calls made while the real allocator runs (an allocator that mmaps through the PLT,
 * calloc inside realloc, ...) are passed through unlogged (a per-thread depth). dlsym may itself
 * call calloc/malloc: while the real functions are being looked up those are served from a static
 * bootstrap buffer whose blocks are never freed. Timestamps: an allocation is stamped after the
 * real call returns and a free before it, so a pointer freed in one thread and handed out again in
 * another is logged free-then-malloc.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum {
  R_MALLOC = 1,     /* a = ptr (0: failed), b = size */
  R_FREE = 2,       /* a = ptr */
  R_REALLOC = 3,    /* a = old, b = size; followed by R_REALLOC_TO: a = new (0: failed) */
  R_MMAP = 4,       /* a = addr, b = len; prot and flags in the op word */
  R_MUNMAP = 5,     /* a = addr, b = len */
  R_MREMAP = 6,     /* a = old, b = old len; followed by R_MREMAP_TO: a = new addr, b = new len */
  R_MREMAP_TO = 7,
  R_BRK = 8,        /* a = the new break */
  R_EXIT = 9,       /* the process image ends (exit, _exit, exec): a = CLOCK_MONOTONIC ns */
  R_REALLOC_TO = 10,
};

#define IE __attribute__((tls_model("initial-exec")))
#define EXPORT __attribute__((visibility("default")))

struct rec {
  uint64_t time;
  uint32_t tid;
  uint32_t op;
  uint64_t a, b;
};
_Static_assert(sizeof(struct rec) == 32, "record layout");

#define BUF_RECS 4096
struct tbuf {
  volatile int lock;
  volatile uint32_t owner; /* tid of the thread using it; 0: free for the next new thread */
  uint32_t n;
  struct rec r[BUF_RECS];
};

#define MAX_THREADS 8192
static struct tbuf *volatile all_bufs[MAX_THREADS];
static volatile int nbufs;

static volatile int log_fd = -1;
static volatile int log_lock;
static int direct_all;                     /* set by the destructor: no more buffering */
static pthread_key_t exit_key;
static volatile int key_made;

static __thread struct tbuf *my_buf IE;
static __thread uint32_t my_tid IE;
static __thread int my_depth IE;
static __thread int my_direct IE;         /* this thread's key destructor has run */

/* ---- the real functions ---------------------------------------------------------------------- */

static void *(*real_malloc)(size_t);
static void (*real_free)(void *);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);
static void *(*real_mremap)(void *, size_t, size_t, int, ...);
static int (*real_brk)(void *);
static void *(*real_sbrk)(intptr_t);
static void (*real__exit)(int) __attribute__((noreturn));
static void (*real__Exit)(int) __attribute__((noreturn));
static int (*real_execve)(const char *, char *const[], char *const[]);
static int (*real_execv)(const char *, char *const[]);
static int (*real_execvp)(const char *, char *const[]);
static int (*real_execvpe)(const char *, char *const[], char *const[]);

static volatile int resolving;
static volatile int resolved;

/* Blocks handed out while dlsym runs: a bump allocator over a static buffer, never freed. */
static _Alignas(64) char boot_buf[1 << 16];
static size_t boot_used;

static int in_boot(const void *p) {
  return (const char *)p >= boot_buf && (const char *)p < boot_buf + sizeof boot_buf;
}

static void *boot_alloc(size_t n, size_t align) {
  if (align < 16) align = 16;
  size_t off = (boot_used + 16 + align - 1) & ~(align - 1); /* 16 bytes before a block hold its size */
  if (off + n > sizeof boot_buf) return NULL;
  *(size_t *)(boot_buf + off - 16) = n;
  boot_used = off + n;
  return boot_buf + off; /* static storage: already zero, as calloc needs */
}

#define RESOLVE(name) real_##name = (__typeof__(real_##name))dlsym(RTLD_NEXT, #name)

static void resolve(void) {
  if (resolved || resolving) return;
  resolving = 1;
  RESOLVE(malloc); RESOLVE(free); RESOLVE(calloc); RESOLVE(realloc);
  RESOLVE(posix_memalign); RESOLVE(aligned_alloc); RESOLVE(memalign); RESOLVE(valloc); RESOLVE(pvalloc);
  RESOLVE(mmap); RESOLVE(munmap); RESOLVE(mremap); RESOLVE(brk); RESOLVE(sbrk);
  RESOLVE(_exit); RESOLVE(_Exit);
  RESOLVE(execve); RESOLVE(execv); RESOLVE(execvp); RESOLVE(execvpe);
  resolving = 0;
  resolved = 1;
}

/* ---- the log file ---------------------------------------------------------------------------- */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int use_tsc = -1; /* decided once per image, before the first record */

/* Whether the kernel's clocksource is the TSC (read without malloc: open/read). */
static int tsc_clocksource(void) {
#if defined(__x86_64__)
  char b[16] = { 0 };
  int fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, b, sizeof b - 1);
  close(fd);
  return n >= 3 && memcmp(b, "tsc", 3) == 0 && (n == 3 || b[3] == '\n');
#else
  return 0;
#endif
}

static inline uint64_t now(void) {
#if defined(__x86_64__)
  if (__builtin_expect(use_tsc < 0, 0)) use_tsc = tsc_clocksource();
  if (use_tsc > 0) return __builtin_ia32_rdtsc();
#endif
  return now_ns();
}

static void spin_lock(volatile int *l) {
  while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE)) while (*l) __builtin_ia32_pause();
}
static void spin_unlock(volatile int *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

static void write_all(int fd, const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) { if (errno == EINTR) continue; return; }
    s += w; n -= (size_t)w;
  }
}

/* Opens this process's log (once per process image; a fork child calls it again with forked = 1). */
static void open_log(int forked) {
  const char *dir = getenv("ALLOCBENCH_RECORD_DIR");
  if (dir == NULL || dir[0] == '\0') dir = ".";
  uint64_t ticks = now(), start = now_ns();
  char path[4096];
  snprintf(path, sizeof path, "%s/%d-%llu.ablog", dir, (int)getpid(), (unsigned long long)start);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return;
  unsigned char h[48] = "ABREC1";
  uint32_t w[4] = { (uint32_t)getpid(), (uint32_t)getppid(), (uint32_t)forked | (use_tsc > 0 ? 2u : 0u), 0 };
  memcpy(h + 8, w, 16);
  memcpy(h + 24, &start, 8);
  memcpy(h + 32, &ticks, 8);
  write_all(fd, h, sizeof h);
  log_fd = fd;
}

static int get_fd(void) {
  if (log_fd >= 0) return log_fd;
  spin_lock(&log_lock);
  if (log_fd < 0) open_log(0);
  spin_unlock(&log_lock);
  return log_fd;
}

static void flush_buf(struct tbuf *b) {
  if (b->n == 0) return;
  int fd = get_fd();
  if (fd >= 0) write_all(fd, b->r, b->n * sizeof(struct rec));
  b->n = 0;
}

static void flush_all(void) {
  int n = nbufs < MAX_THREADS ? nbufs : MAX_THREADS;
  for (int i = 0; i < n; i++) {
    struct tbuf *b = all_bufs[i];
    if (b == NULL) continue;
    spin_lock(&b->lock);
    flush_buf(b);
    spin_unlock(&b->lock);
  }
}

static void thread_gone(void *arg);

static uint32_t tid(void) {
  if (my_tid == 0) my_tid = (uint32_t)syscall(SYS_gettid);
  return my_tid;
}

/*
 * The calling thread's buffer, taken on its first record: a free one left by an exited thread, else
 * a new one (mmap'd; buffers are never unmapped, so the exit path may flush any of them). NULL when
 * the thread must write directly.
 */
static struct tbuf *buf(void) {
  if (my_buf != NULL) return my_buf;
  if (my_direct || direct_all) return NULL;
  uint32_t me = tid();
  struct tbuf *b = NULL;
  int n = nbufs < MAX_THREADS ? nbufs : MAX_THREADS;
  for (int i = 0; i < n && b == NULL; i++) {
    struct tbuf *c = all_bufs[i];
    uint32_t zero = 0;
    if (c != NULL && c->owner == 0 && __atomic_compare_exchange_n(&c->owner, &zero, me, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) b = c;
  }
  if (b == NULL) {
    b = (struct tbuf *)syscall(SYS_mmap, NULL, sizeof(struct tbuf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) { my_direct = 1; return NULL; }
    int slot = __atomic_fetch_add(&nbufs, 1, __ATOMIC_ACQ_REL);
    if (slot >= MAX_THREADS) { syscall(SYS_munmap, b, sizeof(struct tbuf)); my_direct = 1; return NULL; }
    b->owner = me;
    all_bufs[slot] = b;
  }
  my_buf = b;
  if (!key_made) {
    spin_lock(&log_lock);
    if (!key_made) { pthread_key_create(&exit_key, thread_gone); key_made = 1; }
    spin_unlock(&log_lock);
  }
  my_depth++; /* pthread_setspecific may calloc a key block */
  pthread_setspecific(exit_key, b);
  my_depth--;
  return b;
}

static void emit(uint32_t op, uint64_t t, uint64_t a, uint64_t b) {
  struct rec r = { t, tid(), op, a, b };
  struct tbuf *tb = buf();
  if (tb == NULL) {
    int fd = get_fd();
    if (fd >= 0) write_all(fd, &r, sizeof r);
    return;
  }
  spin_lock(&tb->lock);
  if (direct_all) {
    flush_buf(tb);
    int fd = get_fd();
    if (fd >= 0) write_all(fd, &r, sizeof r);
  } else {
    tb->r[tb->n++] = r;
    if (tb->n == BUF_RECS) flush_buf(tb);
  }
  spin_unlock(&tb->lock);
}

/* pthread key destructor: the thread is exiting. Its later records are written at once. */
static void thread_gone(void *arg) {
  struct tbuf *b = arg;
  spin_lock(&b->lock);
  flush_buf(b);
  my_buf = NULL;
  my_direct = 1;
  b->owner = 0;
  spin_unlock(&b->lock);
}

/* ---- fork, exec, exit ------------------------------------------------------------------------ */

static void before_fork(void) {
  struct tbuf *b = my_buf;
  if (b != NULL) { spin_lock(&b->lock); flush_buf(b); spin_unlock(&b->lock); }
}

/* The child: one thread, its own log; the other threads' buffers hold the parent's records: dropped. */
static void in_child(void) {
  struct tbuf *b = my_buf;
  for (int i = 0; i < MAX_THREADS; i++) all_bufs[i] = NULL;
  nbufs = 0;
  my_tid = 0;
  log_lock = 0;
  log_fd = -1;
  open_log(1);
  if (b != NULL) {
    b->lock = 0;
    b->n = 0;
    b->owner = tid();
    all_bufs[0] = b;
    nbufs = 1;
  }
}

static void image_ends(void) {
  emit(R_EXIT, now(), now_ns(), 0);
  flush_all();
}

__attribute__((constructor)) static void recorder_init(void) {
  resolve();
  pthread_atfork(before_fork, NULL, in_child);
  get_fd();
}

__attribute__((destructor)) static void recorder_fini(void) {
  image_ends();
  direct_all = 1;
}

EXPORT void _exit(int status) {
  resolve();
  image_ends();
  real__exit(status);
}

EXPORT void _Exit(int status) {
  resolve();
  image_ends();
  real__Exit(status);
}

/* exec replaces the image: flush first (the new image logs to a new file). On failure, go on. */
#define EXEC_PROLOGUE() do { resolve(); image_ends(); } while (0)
EXPORT int execve(const char *p, char *const argv[], char *const envp[]) { EXEC_PROLOGUE(); return real_execve(p, argv, envp); }
EXPORT int execv(const char *p, char *const argv[]) { EXEC_PROLOGUE(); return real_execv(p, argv); }
EXPORT int execvp(const char *p, char *const argv[]) { EXEC_PROLOGUE(); return real_execvp(p, argv); }
EXPORT int execvpe(const char *p, char *const argv[], char *const envp[]) { EXEC_PROLOGUE(); return real_execvpe(p, argv, envp); }

/* ---- the allocation functions ---------------------------------------------------------------- */

/* Not logged: the lookup of the real functions, and calls made by the real allocator itself. */
#define PASS (my_depth > 0)

EXPORT void *malloc(size_t n) {
  if (!resolved) { if (resolving) return boot_alloc(n, 16); resolve(); }
  if (PASS) return real_malloc(n);
  my_depth++;
  void *p = real_malloc(n);
  my_depth--;
  emit(R_MALLOC, now(), (uintptr_t)p, n);
  return p;
}

EXPORT void *calloc(size_t n, size_t m) {
  if (!resolved) {
    if (resolving) return __builtin_mul_overflow(n, m, &n) ? NULL : boot_alloc(n, 16);
    resolve();
  }
  if (PASS) return real_calloc(n, m);
  my_depth++;
  void *p = real_calloc(n, m);
  my_depth--;
  emit(R_MALLOC, now(), (uintptr_t)p, (uint64_t)n * m);
  return p;
}

EXPORT void free(void *p) {
  if (p == NULL || in_boot(p)) return;
  if (!resolved) resolve();
  if (real_free == NULL) return; /* during the lookup: leaked */
  if (PASS) { real_free(p); return; }
  emit(R_FREE, now(), (uintptr_t)p, 0);
  my_depth++;
  real_free(p);
  my_depth--;
}

EXPORT void *realloc(void *old, size_t n) {
  if (!resolved) { if (resolving) return boot_alloc(n, 16); resolve(); }
  if (in_boot(old)) {
    /* a bootstrap block moves to the real heap (its size sits before it); logged as a malloc */
    size_t have = *(size_t *)((char *)old - 16);
    void *p = malloc(n);
    if (p != NULL) memcpy(p, old, have < n ? have : n);
    return p;
  }
  if (PASS) return real_realloc(old, n);
  my_depth++;
  void *p = real_realloc(old, n);
  my_depth--;
  uint64_t t = now();
  emit(R_REALLOC, t, (uintptr_t)old, n);
  emit(R_REALLOC_TO, t, (uintptr_t)p, 0);
  return p;
}

#define ALIGNED(call, n)                                   \
  if (!resolved) resolve();                                \
  if (PASS) return call;                                   \
  my_depth++;                                              \
  void *p = call;                                          \
  my_depth--;                                              \
  emit(R_MALLOC, now(), (uintptr_t)p, (n));              \
  return p;

EXPORT void *aligned_alloc(size_t a, size_t n) { ALIGNED(real_aligned_alloc(a, n), n) }
EXPORT void *memalign(size_t a, size_t n) { ALIGNED(real_memalign(a, n), n) }
EXPORT void *valloc(size_t n) { ALIGNED(real_valloc(n), n) }
/* pvalloc rounds the size up to whole pages (malloc.c __libc_pvalloc): logged as rounded */
EXPORT void *pvalloc(size_t n) { ALIGNED(real_pvalloc(n), (n + 4095) & ~(size_t)4095) }

EXPORT int posix_memalign(void **out, size_t a, size_t n) {
  if (!resolved) resolve();
  if (PASS) return real_posix_memalign(out, a, n);
  my_depth++;
  int r = real_posix_memalign(out, a, n);
  my_depth--;
  emit(R_MALLOC, now(), r == 0 ? (uintptr_t)*out : 0, n);
  return r;
}

/* ---- address-space calls --------------------------------------------------------------------- */

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (!resolved) resolve();
  if (real_mmap == NULL) return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
  if (PASS) return real_mmap(addr, len, prot, flags, fd, off);
  my_depth++;
  void *p = real_mmap(addr, len, prot, flags, fd, off);
  my_depth--;
  if (p != MAP_FAILED) emit(R_MMAP | (uint32_t)(prot & 7) << 8 | ((uint32_t)flags & 0x1fffff) << 11, now(), (uintptr_t)p, len);
  return p;
}
EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) __attribute__((alias("mmap")));

EXPORT int munmap(void *addr, size_t len) {
  if (!resolved) resolve();
  if (PASS || real_munmap == NULL) return real_munmap ? real_munmap(addr, len) : (int)syscall(SYS_munmap, addr, len);
  uint64_t t = now(); /* stamped before: the range may be mapped again by another thread */
  my_depth++;
  int r = real_munmap(addr, len);
  my_depth--;
  if (r == 0) emit(R_MUNMAP, t, (uintptr_t)addr, len);
  return r;
}

EXPORT void *mremap(void *old, size_t oldlen, size_t newlen, int flags, ...) {
  void *newaddr = NULL;
  if (flags & MREMAP_FIXED) { va_list ap; va_start(ap, flags); newaddr = va_arg(ap, void *); va_end(ap); }
  if (!resolved) resolve();
  if (PASS) return real_mremap(old, oldlen, newlen, flags, newaddr);
  uint64_t t = now();
  my_depth++;
  void *p = real_mremap(old, oldlen, newlen, flags, newaddr);
  my_depth--;
  if (p != MAP_FAILED) {
    emit(R_MREMAP, t, (uintptr_t)old, oldlen);
    emit(R_MREMAP_TO, t, (uintptr_t)p, newlen);
  }
  return p;
}

EXPORT int brk(void *addr) {
  if (!resolved) resolve();
  if (PASS) return real_brk(addr);
  my_depth++;
  int r = real_brk(addr);
  my_depth--;
  if (r == 0) emit(R_BRK, now(), (uintptr_t)addr, 0);
  return r;
}

EXPORT void *sbrk(intptr_t inc) {
  if (!resolved) resolve();
  if (PASS) return real_sbrk(inc);
  my_depth++;
  void *p = real_sbrk(inc);
  my_depth--;
  if (p != (void *)-1 && inc != 0) emit(R_BRK, now(), (uintptr_t)p + (uintptr_t)inc, 0);
  return p;
}
