/* revati trace sink: the stream file is grown a window at a time (space reserved with fallocate, so a
 * full disk is an error code here rather than a SIGBUS later) and mapped shared; lines are formatted
 * straight into the mapping. A killed process leaves every line it wrote in the file, followed by
 * zero bytes up to the window's end, which the supervisor and the reader trim. */
#include "trace_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* Windows grow from 1 MiB to 32 MiB: a short-lived process reserves little disk, a long one moves to a
 * new window (fallocate, map, fault in) rarely; each move costs about a millisecond for 16 MiB here. */
#define WINDOW_MIN (1u << 20)
#define WINDOW_MAX (32u << 20)

static size_t page_size(void) {
    static size_t p;
    if (!p) p = (size_t)sysconf(_SC_PAGESIZE);
    return p;
}

/* Reserve [off, off+len) of the file. Growing past RLIMIT_FSIZE raises SIGXFSZ, whose default action
 * kills the process: it is blocked on this thread around the call and a pending one is consumed, so
 * the limit reads as EFBIG here, like a full disk. */
static int grow(int fd, uint64_t off, size_t len) {
    sigset_t xfsz, old;
    sigemptyset(&xfsz);
    sigaddset(&xfsz, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &xfsz, &old);
    int rc = posix_fallocate(fd, (off_t)off, (off_t)len);
    if (rc == EOPNOTSUPP || rc == EINVAL) /* file systems without fallocate: plain size */
        rc = ftruncate(fd, (off_t)(off + len)) == 0 ? 0 : errno;
    if (rc != 0) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&xfsz, NULL, &zero) == SIGXFSZ) {}
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static int map_window(rv_sink *s, uint64_t file_pos, size_t need) {
    uint64_t off = file_pos & ~((uint64_t)page_size() - 1);
    size_t len = s->map ? s->map_len * 2 : WINDOW_MIN;
    if (len > WINDOW_MAX) len = WINDOW_MAX;
    while (len < (file_pos - off) + need + RV_SINK_RESERVE) len *= 2;
    int rc = grow(s->fd, off, len);
    if (rc != 0) {
        s->full = 1;
        s->err = rc;
        return -1;
    }
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, (off_t)off);
    if (m == MAP_FAILED) {
        s->full = 1;
        s->err = errno;
        return -1;
    }
#ifdef MADV_POPULATE_WRITE
    /* fault the window in writable now, in one call, rather than a write fault per page later */
    madvise(m, len, MADV_POPULATE_WRITE);
#endif
    if (s->map) munmap(s->map, s->map_len);
    s->map = m;
    s->map_len = len;
    s->map_off = off;
    s->pos = (size_t)(file_pos - off);
    return 0;
}

int rv_sink_open(rv_sink *s, int fd) {
    memset(s, 0, sizeof *s);
    s->fd = fd;
    if (map_window(s, 0, 0) != 0) {
        errno = s->err;
        return -1;
    }
    return 0;
}

char *rv_sink_room(rv_sink *s, size_t n, size_t *avail) {
    if (s->full || !s->map) return NULL;
    if (s->pos + n + RV_SINK_RESERVE > s->map_len) {
        if (map_window(s, s->map_off + s->pos, n) != 0) return NULL;
    }
    *avail = s->map_len - RV_SINK_RESERVE - s->pos;
    return s->map + s->pos;
}

void rv_sink_commit(rv_sink *s, size_t n) { s->pos += n; }

void rv_sink_put_reserved(rv_sink *s, const char *line, size_t n) {
    if (!s->map || s->pos + n > s->map_len) return;
    memcpy(s->map + s->pos, line, n);
    s->pos += n;
}

uint64_t rv_sink_length(const rv_sink *s) { return s->map_off + s->pos; }

void rv_sink_close(rv_sink *s) {
    uint64_t len = rv_sink_length(s);
    if (s->map) munmap(s->map, s->map_len);
    s->map = NULL;
    if (s->fd >= 0) {
        if (ftruncate(s->fd, (off_t)len) != 0) { /* the reader trims the zero tail instead */ }
        close(s->fd);
    }
    s->fd = -1;
}

void rv_sink_forget(rv_sink *s) {
    if (s->map) munmap(s->map, s->map_len);
    if (s->fd >= 0) close(s->fd);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}
