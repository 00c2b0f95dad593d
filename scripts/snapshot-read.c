/*
 * snapshot-read: reads kernel state files at one traced instant, for scripts/kernel-init.sh.
 *
 *   snapshot-read [-m MARKER] SRC DST [SRC DST ...]
 *
 * The recording keeps tracing on through its snapshots; the replay starts at the before-snapshot
 * and ends at the after-snapshot (src/trace/snapshot-window.ts), so nothing may allocate between
 * the marker that says "the state is read now" and the read of /proc/buddyinfo. A busybox `cat`
 * after a shell's marker would fork and exec in between; this program instead
 *   1. opens every SRC, DST and trace_marker, and reads every SRC once to the end: that grows each
 *      seq_file buffer to the size it needs (fs/seq_file.c seq_read_iter() allocates m->buf on the
 *      first read, and a larger one when a record does not fit) and faults in this program's own
 *      buffer pages, all before the marker;
 *   2. seeks each SRC back to 0 (seq_lseek()/traverse() allocate nothing for offset 0), writes
 *      MARKER (when given) to trace_marker, and at once reads every SRC again, in the order given,
 *      into the buffer: the first SRC (buddyinfo) is read right after the marker;
 *   3. only then writes each DST (opened without O_TRUNC, then cut to length: an existing file of
 *      the same size, like the kpage files kernel-init.sh creates before tracing, gets no new
 *      page-cache pages).
 * Static (gcc -static -O2): busybox is the guest's only userland. Exits 1 with a message on error.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 16
#define BUF_BYTES (48u << 20) /* bss: only the pages a read touches are ever allocated */
#define SLACK (64u << 10)     /* room for a file to grow between the two reads */

static char buf[BUF_BYTES] __attribute__((aligned(4096)));

static int fail(const char *what, const char *file) {
  const char *p = "snapshot-read: ";
  (void)!write(2, p, strlen(p));
  (void)!write(2, what, strlen(what));
  (void)!write(2, " ", 1);
  (void)!write(2, file, strlen(file));
  (void)!write(2, "\n", 1);
  return 1;
}

/* Reads fd to its end into p (at most room bytes); -1 on an error or when it does not fit. */
static long read_all(int fd, char *p, unsigned long room) {
  unsigned long n = 0;
  for (;;) {
    if (n == room) return -1;
    ssize_t r = read(fd, p + n, room - n);
    if (r < 0) return -1;
    if (r == 0) return (long)n;
    n += (unsigned long)r;
  }
}

int main(int argc, char **argv) {
  const char *marker = 0;
  int a = 1;
  if (argc > 2 && strcmp(argv[1], "-m") == 0) { marker = argv[2]; a = 3; }
  int n = (argc - a) / 2;
  if ((argc - a) % 2 != 0 || n < 1 || n > MAX_FILES) {
    return fail("usage:", "snapshot-read [-m MARKER] SRC DST [SRC DST ...]");
  }
  int src[MAX_FILES], dst[MAX_FILES];
  unsigned long at[MAX_FILES + 1], room[MAX_FILES];
  long len[MAX_FILES];
  int mfd = -1;
  if (marker != 0 && (mfd = open("/sys/kernel/tracing/trace_marker", O_WRONLY)) < 0) {
    return fail("cannot open", "/sys/kernel/tracing/trace_marker");
  }
  for (int i = 0; i < n; i++) {
    if ((src[i] = open(argv[a + 2 * i], O_RDONLY)) < 0) return fail("cannot open", argv[a + 2 * i]);
    if ((dst[i] = open(argv[a + 2 * i + 1], O_WRONLY | O_CREAT, 0644)) < 0) return fail("cannot open", argv[a + 2 * i + 1]);
  }
  /* 1. the warm-up read: its length sizes each file's slot */
  at[0] = 0;
  for (int i = 0; i < n; i++) {
    long l = read_all(src[i], buf + at[i], BUF_BYTES - at[i]);
    if (l < 0) return fail("cannot read (or too large)", argv[a + 2 * i]);
    /* whole pages: /proc/kpageflags and kpagecount read only multiples of 8 bytes (fs/proc/page.c) */
    room[i] = ((unsigned long)l + (unsigned long)l / 4 + SLACK + 4095) & ~4095ul;
    if (at[i] + room[i] > BUF_BYTES) return fail("too large", argv[a + 2 * i]);
    at[i + 1] = at[i] + room[i];
    memset(buf + at[i], 0, room[i]); /* fault in the whole slot now, not during the timed read */
    if (lseek(src[i], 0, SEEK_SET) != 0) return fail("cannot seek", argv[a + 2 * i]);
  }
  /* 2. the instant: the marker, then the reads, nothing in between */
  if (mfd >= 0 && write(mfd, marker, strlen(marker)) < 0) return fail("cannot write", "trace_marker");
  for (int i = 0; i < n; i++) len[i] = read_all(src[i], buf + at[i], room[i]);
  /* 3. the files */
  for (int i = 0; i < n; i++) {
    if (len[i] < 0) return fail("cannot read (or grew too much)", argv[a + 2 * i]);
    const char *p = buf + at[i];
    long left = len[i];
    while (left > 0) {
      ssize_t w = write(dst[i], p, (size_t)left);
      if (w <= 0) return fail("cannot write", argv[a + 2 * i + 1]);
      p += w;
      left -= w;
    }
    if (ftruncate(dst[i], len[i]) != 0 || close(dst[i]) != 0) return fail("cannot write", argv[a + 2 * i + 1]);
    close(src[i]);
  }
  return 0;
}
