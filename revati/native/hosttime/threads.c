/* revati thread counting for the fast advance (world.c): every thread the program creates through
 * pthread_create is counted in its process's slot of the shared file from before it starts until
 * its end, so that the wait engine knows how many threads must be parked (published as blocked) for
 * the process to be idle. Threads made otherwise (a raw clone) are not counted; the kernel's count,
 * read whenever a process's last counted thread parks, tells them apart (the fast advance is then
 * not taken for that process: docs/coordination.md). */
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "threads.h"
#include "world_scan.h"

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

typedef struct start_arg_own {
    void *(*fn)(void *);
    void *arg;
} start_arg_own;

static pthread_create_fn next_create(void) {
    static pthread_create_fn f;
    if (!f) f = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    return f;
}

/* revati's own threads (the supervisor watchdog): they run no program code and never park, so the
 * kernel's count holds them beside the counted ones. Counted per process (a fork child starts its
 * own anew). */
static _Atomic int g_own;
static _Atomic pid_t g_own_pid;
static __thread int t_own;

static void *own_start(void *p) {
    start_arg_own s = *(start_arg_own *)p;
    free(p);
    t_own = 1;
    return s.fn(s.arg);
}

int rv_real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    pthread_create_fn f = next_create();
    start_arg_own *s = malloc(sizeof *s);
    if (!f || !s) {
        free(s);
        return EAGAIN;
    }
    s->fn = fn;
    s->arg = arg;
    pid_t me = getpid();
    if (atomic_exchange(&g_own_pid, me) != me) atomic_store(&g_own, 0);
    atomic_fetch_add(&g_own, 1);
    int rc = f(t, a, own_start, s);
    if (rc != 0) {
        atomic_fetch_sub(&g_own, 1);
        free(s);
    }
    return rc;
}

int rv_own_threads(void) { return atomic_load(&g_own_pid) == getpid() ? atomic_load(&g_own) : 0; }

int rv_thread_is_own(void) { return t_own; }

static pthread_key_t g_key;
static pthread_once_t g_key_once = PTHREAD_ONCE_INIT;

/* A counted thread ends (its key's destructor runs in pthread_exit, after a return from its start
 * routine or a cancellation): one thread less. */
static void thread_ends(void *v) {
    (void)v;
    rv_world_thread_ends();
    rv_charges *c = rv_own_charges();
    if (!c) return;
    atomic_fetch_sub(&c->threads, 1);
    atomic_fetch_add(&c->pgen, 1);
}

static void make_key(void) { pthread_key_create(&g_key, thread_ends); }

typedef struct start_arg {
    void *(*fn)(void *);
    void *arg;
} start_arg;

static void *counted_start(void *p) {
    start_arg s = *(start_arg *)p;
    free(p);
    pthread_setspecific(g_key, (void *)1);
    return s.fn(s.arg);
}

// pthread_create: the new thread is counted in its process's slot before it starts, until it ends
RV_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg) {
    pthread_create_fn real = next_create();
    if (!real) return EAGAIN;
    if (!rv_clock_ready()) return real(t, a, fn, arg); /* during revati's own set-up */
    start_arg *s = malloc(sizeof *s);
    rv_charges *c = rv_own_charges();
    if (!s || !c) {
        free(s);
        if (c) atomic_fetch_add(&c->pgen, 1); /* an uncounted thread: the kernel's count disagrees */
        return real(t, a, fn, arg);
    }
    pthread_once(&g_key_once, make_key);
    s->fn = fn;
    s->arg = arg;
    atomic_fetch_add(&c->threads, 1);
    int rc = real(t, a, counted_start, s);
    if (rc != 0) {
        atomic_fetch_sub(&c->threads, 1);
        free(s);
    }
    return rc;
}

/* The kernel's count of this process's threads: field 20 of /proc/self/stat (read through a
 * descriptor kept open per process). */
static int g_stat_fd = -1;
static pid_t g_stat_pid;

/* The stat line of this process, read through the kept descriptor; it is opened anew in a fork child
 * and when it no longer reads this process's line (the program closed it, and the number may now
 * be another file's). */
static ssize_t read_stat(char *buf, size_t size) {
    pid_t me = getpid();
    char prefix[24];
    int np = snprintf(prefix, sizeof prefix, "%d (", (int)me);
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (g_stat_fd < 0 || g_stat_pid != me || attempt) {
            g_stat_fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC); /* the old number is not closed:
                                                                           it may be the program's now */
            g_stat_pid = me;
            if (g_stat_fd < 0) return -1;
        }
        ssize_t n = pread(g_stat_fd, buf, size - 1, 0);
        if (n > np && memcmp(buf, prefix, (size_t)np) == 0) {
            buf[n] = 0;
            return n;
        }
    }
    return -1;
}

int rv_kernel_threads(void) {
    char buf[1024];
    if (read_stat(buf, sizeof buf) < 0) return -1;
    char *p = strrchr(buf, ')'); /* the command name may contain ')' and spaces */
    if (!p) return -1;
    /* fields 3 (state) to 19 (nice) come first */
    for (int field = 2; field < 20; ++field) {
        p = strchr(p + 1, ' ');
        if (!p) return -1;
    }
    return atoi(p + 1);
}

/* Whether a loaded object's name contains "libzmq" (pyzmq's bundled copy is libzmq-<hash>.so.5). */
static int has_zmq(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    return info->dlpi_name && strstr(info->dlpi_name, "libzmq") != NULL;
}

static int count_adds(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    *(unsigned long long *)data = info->dlpi_adds;
    return 1; /* the counter is the same in every entry: the first one is enough */
}

int rv_zmq_loaded(void) {
    static _Atomic unsigned long long seen_adds;
    static _Atomic int loaded;
    unsigned long long adds = 0;
    dl_iterate_phdr(count_adds, &adds);
    if (adds != atomic_load(&seen_adds)) {
        atomic_store(&loaded, dl_iterate_phdr(has_zmq, NULL) != 0);
        atomic_store(&seen_adds, adds);
    }
    return atomic_load(&loaded);
}
