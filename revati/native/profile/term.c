/* revati profile shim: flush on SIGTERM.
 *
 * The shim writes its last records at exit (atexit: CUPTI's activity buffers, then the stream), which a
 * process ended by SIGTERM's default action never reaches: vLLM's multi-process engine stops its
 * EngineCore so, and the profile lost the kernels of its last CUPTI buffer (docs/profile.md). Flushing
 * CUPTI takes locks and allocates, which a signal handler must not do, so the handler only writes a
 * byte to a pipe; a thread of the shim's own, started here with every signal blocked, reads it, runs
 * the flush, puts the program's disposition (the default) back and sends SIGTERM again, which then
 * ends the process as before. A second SIGTERM while the flush runs ends the process at once. A child
 * made by fork() has no such thread: it gets the default disposition back (pthread_atfork). */
#define _GNU_SOURCE
#include "term.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void (*g_flush)(void);
static int g_pipe[2] = {-1, -1};
static pid_t g_pid;
static struct sigaction g_prev;
static volatile sig_atomic_t g_fired;

static void die_now(void) {
    sigaction(SIGTERM, &g_prev, NULL);
    kill(getpid(), SIGTERM);
}

static void on_term(int sig) {
    (void)sig;
    int saved = errno;
    if (getpid() != g_pid || g_fired) {
        die_now(); /* a forked child before its atfork reset, or a second SIGTERM */
    } else {
        g_fired = 1;
        char c = 1;
        if (write(g_pipe[1], &c, 1) != 1) die_now();
    }
    errno = saved;
}

static void *watcher(void *arg) {
    (void)arg;
    char c;
    ssize_t r;
    do r = read(g_pipe[0], &c, 1);
    while (r < 0 && errno == EINTR);
    if (r == 1 && g_flush) g_flush();
    die_now();
    return NULL;
}

static void in_child(void) {
    struct sigaction cur;
    if (sigaction(SIGTERM, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == on_term)
        sigaction(SIGTERM, &g_prev, NULL);
}

int rp_term_install(void (*flush)(void)) {
    struct sigaction cur;
    if (g_flush || sigaction(SIGTERM, NULL, &cur) != 0) return 0;
    if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL) return 0;
    if (pipe2(g_pipe, O_CLOEXEC) != 0) return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, watcher, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        close(g_pipe[0]), close(g_pipe[1]);
        g_pipe[0] = g_pipe[1] = -1;
        return 0;
    }
    g_flush = flush, g_pid = getpid(), g_prev = cur;
    pthread_atfork(NULL, NULL, in_child);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    return sigaction(SIGTERM, &sa, NULL) == 0;
}
