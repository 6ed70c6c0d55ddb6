/* revati run mode: the deterministic switch and the calling thread's id, below every other unit. */
#include "revati/runmode.h"

#include <pthread.h>
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

/* the thread that forks goes on in the child with the parent's cached id */
static void atfork_child(void) { t_tid = 0; }

static void register_atfork(void) { pthread_atfork(NULL, NULL, atfork_child); }

int rv_tid(void) {
    if (!t_tid) {
        pthread_once(&g_atfork_once, register_atfork);
        t_tid = (int)syscall(SYS_gettid);
    }
    return t_tid;
}
