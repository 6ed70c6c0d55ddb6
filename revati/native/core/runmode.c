/* revati run mode: the deterministic switch and the calling thread's and process's ids, below every other unit. */
#include "revati/runmode.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int g_det = -1;
static __thread int t_tid;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

int rv_deterministic(void) {
    if (g_det < 0) {
        const char *s = getenv("REVATI_DETERMINISTIC");
        g_det = s && *s && strcmp(s, "0") != 0;
    }
    return g_det;
}

int rv_env_switch(const char *name, int *cache) {
    int v = __atomic_load_n(cache, __ATOMIC_RELAXED);
    if (v < 0) {
        const char *s = getenv(name);
        v = !(s && s[0] == '0');
        __atomic_store_n(cache, v, __ATOMIC_RELAXED);
    }
    return v;
}

/* Set when the library loads and in a fork child, never lazily: a vfork child (posix_spawn, Python's
 * subprocess) shares the parent's memory and runs no fork handlers, so a store of its own pid there
 * would become the parent's (it reads the parent's value, which it uses for nothing but exec). */
static _Atomic int g_pid;

/* the thread that forks goes on in the child with the parent's cached ids */
static void atfork_child(void) {
    t_tid = 0;
    atomic_store_explicit(&g_pid, (int)getpid(), memory_order_relaxed);
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, atfork_child); }

/* registered before the other units' fork handlers (which run in registration order in the child),
 * so that none of them reads the parent's cached ids */
__attribute__((constructor(101))) static void runmode_load(void) {
    atomic_store_explicit(&g_pid, (int)getpid(), memory_order_relaxed);
    pthread_once(&g_atfork_once, register_atfork);
}

int rv_tid(void) {
    if (!t_tid) {
        pthread_once(&g_atfork_once, register_atfork);
        t_tid = (int)syscall(SYS_gettid);
    }
    return t_tid;
}

int rv_pid(void) {
    int p = atomic_load_explicit(&g_pid, memory_order_relaxed);
    return p ? p : (int)getpid(); /* before the constructor (another library's constructor) */
}
