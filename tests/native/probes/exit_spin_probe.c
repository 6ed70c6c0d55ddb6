/* A process that keeps running host code after the point where it could look finished:
 *   exit_spin_probe leader-exit MS  -- main() calls pthread_exit; a second thread spins MS ms, then exits
 *   exit_spin_probe after-end MS    -- the trace is closed (its end line written) at exit, then an
 *                                      atexit handler registered earlier spins MS ms
 * Spinning uses the real clock (raw syscall), so virtual time cannot shorten it. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long g_ms;

static uint64_t real_ns(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void spin(void) {
    uint64_t end = real_ns() + (uint64_t)g_ms * 1000000ULL;
    volatile uint64_t x = 0;
    while (real_ns() < end) x++;
}

static void *worker(void *arg) {
    (void)arg;
    spin();
    exit(0);
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    g_ms = atol(argv[2]);
    if (!strcmp(argv[1], "leader-exit")) {
        pthread_t t;
        pthread_create(&t, NULL, worker, NULL);
        pthread_exit(NULL);
    }
    atexit(spin); /* before the trace's own atexit handler: runs after it */
    void (*mark)(const char *, const char *) = (void (*)(const char *, const char *))dlsym(RTLD_DEFAULT, "revati_mark");
    if (mark) mark("opened", NULL);
    return 0;
}
