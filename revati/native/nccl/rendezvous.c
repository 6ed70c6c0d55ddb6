/* revati NCCL interposer: the rendezvous of a collective's ranks across processes, through a table in
 * shared memory ($REVATI_RUN_DIR/coll.shm; without a run directory, an anonymous mapping shared with
 * fork children). Each rendezvous is a slot keyed by its match id; ranks publish their arrival, the
 * last one publishes the end, all wait on the slot's futex. docs/coordination.md. */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rendezvous.h"
#include "revati/hosttime.h"
#include "revati/log.h"
#include "revati/vclock.h"

#define COLL_MAGIC 0x52564331u /* "RVC1" */
#define SLOTS 4096
#define COMMS 1024
#define MAX_RANKS 64 /* ranks per communicator whose liveness is checked */
#define TOMB 1ULL    /* a freed slot: probing goes on past it */
#define LIVENESS_NS 100000000LL

typedef struct slot {
    _Atomic uint64_t key;
    _Atomic uint32_t done; /* futex word: 1 once end is published */
    uint32_t nranks, arrived, readers;
    uint64_t max_arrival, end;
} slot;

typedef struct comm_pids {
    uint64_t key;
    int32_t nranks;
    _Atomic int32_t pid[MAX_RANKS];
} comm_pids;

typedef struct table {
    uint32_t magic;
    _Atomic uint32_t lock;
    slot slots[SLOTS];
    comm_pids comms[COMMS];
} table;

static table *g_tab;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void map_table(void) {
    const char *dir = getenv("REVATI_RUN_DIR");
    table *t = MAP_FAILED;
    if (dir && *dir) {
        char path[4200];
        snprintf(path, sizeof path, "%s/coll.shm", dir);
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0) {
            while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {}
            struct stat st;
            if (fstat(fd, &st) == 0 && st.st_size != (off_t)sizeof(table)) {
                if (ftruncate(fd, 0) != 0 || ftruncate(fd, (off_t)sizeof(table)) != 0) rv_warn("cannot size %s", path);
            }
            t = mmap(NULL, sizeof(table), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            if (t != MAP_FAILED && t->magic != COLL_MAGIC) t->magic = COLL_MAGIC; /* a fresh (zeroed) file */
            flock(fd, LOCK_UN);
            close(fd);
        }
        if (t == MAP_FAILED) rv_warn("cannot map %s: collectives of this process meet no other process", path);
    }
    if (t == MAP_FAILED) {
        t = mmap(NULL, sizeof(table), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (t == MAP_FAILED) rv_fatal("cannot map the collective rendezvous table: %s", strerror(errno));
        t->magic = COLL_MAGIC;
    }
    g_tab = t;
}

static table *tab(void) {
    pthread_once(&g_once, map_table);
    return g_tab;
}

static void lock(table *t) {
    uint32_t z = 0;
    while (!atomic_compare_exchange_weak(&t->lock, &z, 1)) {
        z = 0;
        sched_yield();
    }
}

static void unlock(table *t) { atomic_store(&t->lock, 0); }

uint64_t rv_fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* the slot of key, claimed if new (table locked); -1 if the table is full */
static int find_slot(table *t, uint64_t key) {
    int free_at = -1;
    for (int probe = 0; probe < SLOTS; ++probe) {
        int i = (int)((key + (uint64_t)probe) % SLOTS);
        uint64_t k = atomic_load(&t->slots[i].key);
        if (k == key) return i;
        if (k == TOMB && free_at < 0) free_at = i;
        if (k == 0) {
            if (free_at < 0) free_at = i;
            break;
        }
    }
    if (free_at >= 0) atomic_store(&t->slots[free_at].key, key);
    return free_at;
}

static uint64_t norm_key(uint64_t k) { return k < 2 ? k + 2 : k; }

/* A freed slot is a tombstone (lookups probe past it) unless the next slot is empty: then it and the
 * tombstones just before it become empty too, so that probe chains stay short (table locked). */
static void free_slot(table *t, int i) {
    if (atomic_load(&t->slots[(i + 1) % SLOTS].key) != 0) {
        atomic_store(&t->slots[i].key, TOMB);
        return;
    }
    for (int k = 0; k < SLOTS; ++k) {
        int j = (i - k + SLOTS) % SLOTS;
        uint64_t key = atomic_load(&t->slots[j].key);
        if (k > 0 && key != TOMB) break;
        atomic_store(&t->slots[j].key, 0);
    }
}

void rv_rdv_register(uint64_t comm_key, int nranks, int rank) {
    table *t = tab();
    comm_key = norm_key(comm_key);
    lock(t);
    int at = -1;
    for (int probe = 0; probe < COMMS; ++probe) {
        int i = (int)((comm_key + (uint64_t)probe) % COMMS);
        if (t->comms[i].key == comm_key || t->comms[i].key == 0) {
            at = i;
            break;
        }
    }
    if (at >= 0) {
        t->comms[at].key = comm_key;
        t->comms[at].nranks = nranks;
        if (rank >= 0 && rank < MAX_RANKS) atomic_store(&t->comms[at].pid[rank], (int32_t)getpid());
    }
    unlock(t);
}

int rv_rdv_arrive(uint64_t match, uint64_t comm_key, int nranks, uint64_t arrival, uint64_t dur_ns) {
    (void)comm_key;
    table *t = tab();
    match = norm_key(match);
    lock(t);
    int i = find_slot(t, match);
    if (i < 0) {
        unlock(t);
        rv_fatal("the collective rendezvous table is full (%d collectives in flight)", SLOTS);
    }
    slot *s = &t->slots[i];
    s->nranks = (uint32_t)nranks;
    if (arrival > s->max_arrival) s->max_arrival = arrival;
    if (++s->arrived == (uint32_t)nranks) {
        s->end = s->max_arrival + dur_ns;
        atomic_store(&s->done, 1);
        syscall(SYS_futex, (uint32_t *)&s->done, FUTEX_WAKE, 0x7fffffff, NULL, NULL, 0);
    }
    unlock(t);
    return i;
}

static int pid_gone(int32_t pid) {
    if (pid <= 0) return 0;
    if (kill(pid, 0) != 0 && errno == ESRCH) return 1;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 1;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

/* a rank of the communicator whose process is gone, or -1 */
static int dead_rank(table *t, uint64_t comm_key, int32_t *pid_out) {
    comm_key = norm_key(comm_key);
    for (int probe = 0; probe < COMMS; ++probe) {
        comm_pids *c = &t->comms[(comm_key + (uint64_t)probe) % COMMS];
        if (c->key == 0) return -1;
        if (c->key != comm_key) continue;
        for (int r = 0; r < c->nranks && r < MAX_RANKS; ++r) {
            int32_t pid = atomic_load(&c->pid[r]);
            if (pid_gone(pid)) {
                *pid_out = pid;
                return r;
            }
        }
        return -1;
    }
    return -1;
}

uint64_t rv_rdv_wait(int ticket, uint64_t match, uint64_t comm_key, const char *what) {
    table *t = tab();
    slot *s = &t->slots[ticket];
    match = norm_key(match);
    for (;;) {
        lock(t);
        if (atomic_load(&s->key) == match && atomic_load(&s->done)) {
            uint64_t end = s->end;
            if (++s->readers == s->nranks) { /* the last reader frees the slot */
                s->nranks = s->arrived = s->readers = 0;
                s->max_arrival = s->end = 0;
                atomic_store(&s->done, 0);
                free_slot(t, ticket);
            }
            unlock(t);
            return end;
        }
        unlock(t);
        /* a real wait (the thread sleeps, so the world can jump for a rank that sleeps before
         * arriving); raw futex, not the interposed waits */
        struct timespec ts = {0, LIVENESS_NS};
        rv_real_futex((uint32_t *)&s->done, FUTEX_WAIT, 0, &ts, NULL, 0);
        if (atomic_load(&s->done)) continue;
        int32_t pid = 0;
        int r = dead_rank(t, comm_key, &pid);
        if (r >= 0)
            rv_fatal("rank %d (pid %d) exited before reaching %s on communicator %012llx", r, (int)pid, what,
                     (unsigned long long)(comm_key & 0xffffffffffffULL));
    }
}
