/* The floor under one global time advance (tools/bench_coord.py): N processes hand a token round a
 * ring through futexes in shared memory, no revati. Each hand-over is what an advance that wakes
 * another process pays at least: a FUTEX_WAKE by the process that blocked last and the wake-up of the
 * due process (its own futex word, as revati wakes a due sleep), which then passes the token on. Prints the real ns per hand-over and the CPU ns
 * of all processes per hand-over.
 *
 *     cc -O2 -o futex_ring tools/futex_ring.c && ./futex_ring N HANDOVERS
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct shared {
    _Atomic uint32_t word[64]; /* each process's own futex word: its turns so far */
    _Atomic uint32_t ready;
} shared;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void futex(_Atomic uint32_t *w, int op, uint32_t v) {
    syscall(SYS_futex, (uint32_t *)w, op, v, NULL, NULL, 0);
}

/* process `me` of n: `rounds` times, wait for its turn (its word moving), then hand the token to the
 * next process (bump its word, wake it: one waiter, on its own word) */
static void play(shared *s, int me, int n, uint32_t rounds, int starts) {
    for (uint32_t k = 0; k < rounds; ++k) {
        if (!(starts && k == 0)) {
            uint32_t want = starts ? k : k + 1;
            uint32_t v;
            while ((v = atomic_load(&s->word[me])) < want) futex(&s->word[me], FUTEX_WAIT, v);
        }
        _Atomic uint32_t *next = &s->word[(me + 1) % n];
        atomic_fetch_add(next, 1);
        futex(next, FUTEX_WAKE, 1);
    }
}

int main(int argc, char **argv) {
    if (argc != 3 || atoi(argv[1]) < 2 || atoi(argv[1]) > 64 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: futex_ring N ROUNDS (2 <= N <= 64 processes; N x ROUNDS hand-overs)\n");
        return 2;
    }
    int n = atoi(argv[1]);
    uint32_t rounds = (uint32_t)atoi(argv[2]);
    uint64_t total = (uint64_t)rounds * (uint64_t)n;
    shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) {
        perror("futex_ring: mmap");
        return 1;
    }
    for (int i = 1; i < n; ++i) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("futex_ring: fork");
            return 1;
        }
        if (pid == 0) {
            atomic_fetch_add(&s->ready, 1);
            play(s, i, n, rounds, 0);
            _exit(0);
        }
    }
    while (atomic_load(&s->ready) != (uint32_t)(n - 1)) usleep(1000);
    usleep(20000); /* the others are blocked in their futex wait */
    struct rusage r0, r1, c1;
    getrusage(RUSAGE_SELF, &r0);
    uint64_t t0 = now_ns();
    play(s, 0, n, rounds, 1);
    uint32_t v; /* the last hand-over comes back to process 0 */
    while ((v = atomic_load(&s->word[0])) < rounds) futex(&s->word[0], FUTEX_WAIT, v);
    uint64_t t1 = now_ns();
    for (int i = 1; i < n; ++i) wait(NULL);
    getrusage(RUSAGE_SELF, &r1);
    getrusage(RUSAGE_CHILDREN, &c1);
#define US(tv) ((uint64_t)(tv).tv_sec * 1000000000ULL + (uint64_t)(tv).tv_usec * 1000ULL)
    uint64_t cpu = US(r1.ru_utime) + US(r1.ru_stime) - US(r0.ru_utime) - US(r0.ru_stime) + US(c1.ru_utime) +
                   US(c1.ru_stime);
    printf("%.1f %.1f\n", (double)(t1 - t0) / total, (double)cpu / total);
    return 0;
}
