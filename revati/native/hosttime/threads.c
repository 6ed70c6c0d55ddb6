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
#include <sys/stat.h>
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

int rv_own_threads(void) { return atomic_load(&g_own_pid) == (pid_t)rv_pid() ? atomic_load(&g_own) : 0; }

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

/* The kernel's count of this process's threads: the link count of /proc/self/task is 2 plus the
 * number of threads (one fstat of a descriptor kept open per process, much cheaper than the text of
 * /proc/self/stat). The descriptor is opened anew in a fork child and when it no longer is that
 * directory (the program closed it, and the number may now be another file's: its inode differs). */
static int g_task_fd = -1;
static pid_t g_task_pid;
static ino_t g_task_ino;
static dev_t g_task_dev;

int rv_kernel_threads(void) {
    pid_t me = (pid_t)rv_pid();
    for (int attempt = 0; attempt < 2; ++attempt) {
        struct stat st;
        if (g_task_fd < 0 || g_task_pid != me || attempt) {
            /* the old number is not closed: it may be the program's now */
            g_task_fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            g_task_pid = me;
            if (g_task_fd < 0 || fstat(g_task_fd, &st) != 0) return -1;
            g_task_ino = st.st_ino;
            g_task_dev = st.st_dev;
        }
        if (fstat(g_task_fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_ino == g_task_ino && st.st_dev == g_task_dev)
            return (int)st.st_nlink - 2;
    }
    return -1;
}

int rv_program_threads(void) {
    int k = rv_kernel_threads();
    return k < 0 ? -1 : k - rv_own_threads();
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
