/* let_contenders_in (hosttime/sync.c): a timed condition wait that runs in real slices (the world is
 * busy) waits on for a mutex contender only when one really waits in pthread_mutex_lock.
 * Phase "alone": a busy thread that never touches the mutex keeps the world running while the main
 * thread makes 20 timed condition waits of 2 ms: no extra round. Phase "contended": a thread locks
 * and unlocks the mutex in a loop during a 300 ms wait: some slices end with it waiting, and it gets
 * the mutex many times during the wait. Prints "alone R contended R locks N". */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static atomic_int done;
static atomic_long locks;

static void *spin(void *arg) {
    (void)arg;
    volatile unsigned long x = 0;
    while (!atomic_load(&done)) x++;
    return NULL;
}

static void *contend(void *arg) {
    (void)arg;
    while (!atomic_load(&done)) {
        pthread_mutex_lock(&m);
        atomic_fetch_add(&locks, 1);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

static void timed_wait_ms(long ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the virtual clock: the wait is in virtual time */
    ts.tv_nsec += ms * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    pthread_cond_timedwait(&c, &m, &ts);
}

int main(void) {
    unsigned long long (*rounds)(void) = (unsigned long long (*)(void))dlsym(RTLD_DEFAULT, "revati_contend_rounds");
    if (!rounds) {
        fprintf(stderr, "revati_contend_rounds not found: run under librevati.so\n");
        return 2;
    }
    pthread_t t;
    pthread_create(&t, NULL, spin, NULL);
    unsigned long long r0 = rounds();
    pthread_mutex_lock(&m);
    for (int i = 0; i < 20; ++i) timed_wait_ms(2);
    pthread_mutex_unlock(&m);
    unsigned long long alone = rounds() - r0;
    atomic_store(&done, 1);
    pthread_join(t, NULL);

    atomic_store(&done, 0);
    pthread_create(&t, NULL, contend, NULL);
    while (atomic_load(&locks) == 0) {}
    r0 = rounds();
    long before = atomic_load(&locks);
    pthread_mutex_lock(&m);
    timed_wait_ms(300);
    long during = atomic_load(&locks) - before;
    pthread_mutex_unlock(&m);
    unsigned long long contended = rounds() - r0;
    atomic_store(&done, 1);
    pthread_join(t, NULL);
    printf("alone %llu contended %llu locks %ld\n", alone, contended, during);
    return 0;
}
