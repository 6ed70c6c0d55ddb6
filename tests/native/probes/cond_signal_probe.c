/* A condition variable signalled at random instants while its waiter waits with a far deadline (an
 * hour of virtual time): each round the signaller sets a flag and signals (under the mutex, or just
 * after releasing it, alternately), then spins until the waiter has seen the flag. A wake-up lost
 * between two of revati's real slices of the wait would leave the waiter asleep until its deadline
 * while the signaller spins (the world runs, so no idle jump ends it): the probe reports the round
 * and exits 1 when a round takes more than LOST_REAL_NS of real time.
 * Usage: cond_signal_probe SECONDS (real time to run rounds for). Prints "rounds N". */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LOST_REAL_NS 2000000000ULL

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int flag;
static _Atomic uint64_t seen; /* rounds the waiter has taken */
static _Atomic int stop;

/* real time, past revati's clock interposers */
static uint64_t real_ns(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void *waiter(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&m);
        while (!flag && !atomic_load(&stop)) {
            struct timespec d;
            clock_gettime(CLOCK_REALTIME, &d); /* virtual under revati */
            d.tv_sec += 3600;
            pthread_cond_timedwait(&c, &m, &d);
        }
        flag = 0;
        pthread_mutex_unlock(&m);
        if (atomic_load(&stop)) return NULL;
        atomic_fetch_add(&seen, 1);
    }
}

static void spin_real(uint64_t ns) {
    uint64_t t0 = real_ns();
    while (real_ns() - t0 < ns) {
    }
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 5.0;
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    uint64_t start = real_ns(), rounds = 0;
    unsigned seed = 12345;
    while (real_ns() - start < (uint64_t)(seconds * 1e9)) {
        spin_real(rand_r(&seed) % 400000); /* 0-400 us: the waiter's slices are 50-250 us */
        pthread_mutex_lock(&m);
        flag = 1;
        if (rounds & 1) {
            pthread_cond_signal(&c);
            pthread_mutex_unlock(&m);
        } else {
            pthread_mutex_unlock(&m);
            pthread_cond_signal(&c);
        }
        rounds++;
        uint64_t t0 = real_ns();
        while (atomic_load(&seen) < rounds) {
            if (real_ns() - t0 > LOST_REAL_NS) {
                printf("lost wake-up in round %llu\n", (unsigned long long)rounds);
                fflush(stdout);
                _exit(1);
            }
        }
    }
    pthread_mutex_lock(&m);
    atomic_store(&stop, 1);
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
    printf("rounds %llu\n", (unsigned long long)rounds);
    return 0;
}
