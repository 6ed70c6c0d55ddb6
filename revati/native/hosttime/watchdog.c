/* revati watchdog: every process of a run ends when `revati record` (the supervisor) ends, even if it
 * was SIGKILLed and could not end the run itself. A thread blocks on a pidfd of the supervisor
 * ($REVATI_SUPERVISOR_PID) and, when it becomes readable (the supervisor exited), kills this
 * process's group and this process. docs/coordination.md ("Liveness and teardown"). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "revati/log.h"
#include "threads.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static pid_t g_supervisor;

static void end_run(void) {
    rv_error("revati record (pid %d) is gone: ending process %d of its run", (int)g_supervisor, (int)getpid());
    pid_t grp = getpgrp();
    /* the run's processes share the session the supervisor started; a process that moved to a
     * group of its own has its own watchdog */
    if (grp > 1 && grp != g_supervisor) kill(-grp, SIGKILL);
    kill(getpid(), SIGKILL);
}

static void *watch(void *arg) {
    (void)arg;
    int fd = (int)syscall(SYS_pidfd_open, g_supervisor, 0);
    if (fd >= 0) {
        struct pollfd p = {fd, POLLIN, 0};
        /* raw ppoll: not the interposed, virtual-time poll; the thread sleeps (state S), so the
         * world's idle test does not count it as running */
        for (;;) {
            long r = syscall(SYS_ppoll, &p, 1, NULL, NULL, 0);
            if (r > 0) break;
            if (r < 0 && errno != EINTR) break;
        }
        close(fd);
        end_run();
        return NULL;
    }
    /* no pidfd (old kernel): look once a second */
    for (;;) {
        struct timespec ts = {1, 0};
        syscall(SYS_nanosleep, &ts, NULL);
        if (kill(g_supervisor, 0) != 0 && errno == ESRCH) end_run();
    }
    return NULL;
}

static void start_watchdog(void) {
    if (g_supervisor <= 0) return;
    if (kill(g_supervisor, 0) != 0 && errno == ESRCH) end_run();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old); /* the thread inherits a full mask: no signal lands on it */
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    pthread_t t;
    if (rv_real_pthread_create(&t, &a, watch, NULL) != 0) rv_warn("cannot start the supervisor watchdog thread");
    pthread_attr_destroy(&a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

__attribute__((constructor)) static void watchdog_load(void) {
    const char *s = getenv("REVATI_SUPERVISOR_PID");
    g_supervisor = s && *s ? (pid_t)atoi(s) : 0;
    if (g_supervisor <= 0) return;
    start_watchdog();
    pthread_atfork(NULL, NULL, start_watchdog); /* threads do not survive fork: the child starts its own */
}
