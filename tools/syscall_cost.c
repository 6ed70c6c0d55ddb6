/* What the system calls of revati's wait step cost on this host: a loop of each, real ns per call
 * (docs/coordination.md, "What one advance costs"). No revati; build and run with
 *
 *     cc -O2 -o /tmp/syscall_cost tools/syscall_cost.c && /tmp/syscall_cost [calls]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 200000;
    if (n <= 0) {
        fprintf(stderr, "usage: %s [calls > 0]\n", argv[0]);
        return 2;
    }
    sigset_t all, old, pend;
    sigfillset(&all);
    struct stat st;
    char buf[96];
    int task = open("/proc/self/task", O_RDONLY | O_DIRECTORY);
    int sched = open("/proc/thread-self/schedstat", O_RDONLY);
    struct timespec ts;
    double t = now_ns();
    for (int i = 0; i < n; ++i) syscall(SYS_getpid);
    printf("getpid (a bare system call)         %6.0f ns\n", (now_ns() - t) / n);
    t = now_ns();
    for (int i = 0; i < n; ++i) {
        sigprocmask(SIG_BLOCK, &all, &old);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    printf("sigprocmask, block and restore      %6.0f ns\n", (now_ns() - t) / n);
    t = now_ns();
    for (int i = 0; i < n; ++i) sigpending(&pend);
    printf("sigpending                          %6.0f ns\n", (now_ns() - t) / n);
    if (task >= 0) {
        t = now_ns();
        for (int i = 0; i < n; ++i) fstat(task, &st);
        printf("fstat of /proc/self/task            %6.0f ns\n", (now_ns() - t) / n);
    }
    if (sched >= 0) {
        t = now_ns();
        for (int i = 0; i < n; ++i) pread(sched, buf, sizeof buf - 1, 0);
        printf("pread of /proc/thread-self/schedstat %5.0f ns\n", (now_ns() - t) / n);
    }
    t = now_ns();
    for (int i = 0; i < n; ++i) clock_gettime(CLOCK_MONOTONIC, &ts);
    printf("clock_gettime(CLOCK_MONOTONIC), vDSO %5.0f ns\n", (now_ns() - t) / n);
    return 0;
}
