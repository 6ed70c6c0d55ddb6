/* revati NCCL interposer: communicators. Each interposed init gives the communicator an identity that
 * every rank computes alike: the hash of the ncclUniqueId all ranks pass; for a split, the parent's
 * identity, the color and how many splits of that parent this rank has made (every member calls
 * ncclCommSplit in the same order); for ncclCommInitAll (one process), the pid and a counter.
 * docs/coordination.md. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rendezvous.h"
#include "revati/log.h"
#include "revati/types.h"
#include "revati/vclock.h"

#define MAX_COMMS 4096

static rv_ncomm g_comms[MAX_COMMS];
static int g_ncomms;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

void rv_ncomm_lock(void) { pthread_mutex_lock(&g_mu); }
void rv_ncomm_unlock(void) { pthread_mutex_unlock(&g_mu); }

void *rv_nccl_real(const char *name) {
    /* NCCL loaded in the global scope comes after this preloaded library; loaded as a dependency of
     * a library dlopen'ed with RTLD_LOCAL (torch's extension), it is found by its soname */
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) {
        void *h = dlopen("libnccl.so.2", RTLD_NOLOAD | RTLD_LAZY);
        if (h) f = dlsym(h, name);
    }
    if (!f) rv_error("%s: NCCL is not loaded in this process", name);
    return f;
}

#define REAL(type, name)                                            \
    static type real_;                                              \
    if (!real_) real_ = (type)rv_nccl_real(name);                   \
    if (!real_) return NCCL_SYSTEM_ERROR

typedef ncclResult_t (*int_query_fn)(const ncclComm_t, int *);

static void add(ncclComm_t comm, uint64_t key, int rank, int nranks) {
    if (!comm) return;
    rv_ncomm_lock();
    rv_ncomm *c = NULL;
    for (int i = 0; i < g_ncomms && !c; ++i)
        if (g_comms[i].comm == comm || g_comms[i].comm == NULL) c = &g_comms[i];
    if (!c && g_ncomms < MAX_COMMS) c = &g_comms[g_ncomms++];
    if (c) {
        free(c->p2p_seq);
        *c = (rv_ncomm){.comm = comm, .key = key, .rank = rank, .nranks = nranks};
    } else {
        rv_warn("more than %d NCCL communicators: later ones are traced without a rendezvous", MAX_COMMS);
    }
    rv_ncomm_unlock();
    if (c && rank >= 0 && nranks > 0) rv_rdv_register(key, nranks, rank);
}

static void drop(ncclComm_t comm) {
    rv_ncomm_lock();
    for (int i = 0; i < g_ncomms; ++i)
        if (g_comms[i].comm == comm) {
            free(g_comms[i].p2p_seq);
            memset(&g_comms[i], 0, sizeof g_comms[i]);
        }
    rv_ncomm_unlock();
}

rv_ncomm *rv_ncomm_find(ncclComm_t comm) {
    rv_ncomm *c = NULL;
    for (int i = 0; i < g_ncomms && !c; ++i)
        if (g_comms[i].comm == comm) c = &g_comms[i];
    if (!c) return NULL;
    if (c->rank < 0 || c->nranks <= 0) {
        /* a split or non-blocking communicator: ask NCCL now that it is in use */
        static int_query_fn rank_fn, count_fn;
        if (!rank_fn) rank_fn = (int_query_fn)rv_nccl_real("ncclCommUserRank");
        if (!count_fn) count_fn = (int_query_fn)rv_nccl_real("ncclCommCount");
        int r = -1, n = 0;
        if (!rank_fn || !count_fn || rank_fn(comm, &r) != NCCL_OK || count_fn(comm, &n) != NCCL_OK || r < 0 || n <= 0)
            return NULL;
        c->rank = r;
        c->nranks = n;
        rv_rdv_register(c->key, n, r);
    }
    if (!c->p2p_seq) c->p2p_seq = calloc(2 * (size_t)c->nranks, sizeof *c->p2p_seq);
    return c->p2p_seq ? c : NULL;
}

// ncclCommInitRank: the real init; the communicator's identity is the hash of its unique id
RV_EXPORT ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank) {
    typedef ncclResult_t (*fn)(ncclComm_t *, int, ncclUniqueId, int);
    REAL(fn, "ncclCommInitRank");
    ncclResult_t r = real_(comm, nranks, id, rank);
    if (r == NCCL_OK || r == NCCL_IN_PROGRESS) add(*comm, rv_fnv(RV_FNV_SEED, &id, sizeof id), rank, nranks);
    return r;
}

// ncclCommInitRankConfig: as ncclCommInitRank
RV_EXPORT ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId id, int rank,
                                              ncclConfig_t *config) {
    typedef ncclResult_t (*fn)(ncclComm_t *, int, ncclUniqueId, int, ncclConfig_t *);
    REAL(fn, "ncclCommInitRankConfig");
    ncclResult_t r = real_(comm, nranks, id, rank, config);
    if (r == NCCL_OK || r == NCCL_IN_PROGRESS) add(*comm, rv_fnv(RV_FNV_SEED, &id, sizeof id), rank, nranks);
    return r;
}

// ncclCommInitRankScalable: identity from the first of the unique ids
RV_EXPORT ncclResult_t ncclCommInitRankScalable(ncclComm_t *comm, int nranks, int rank, int nId, ncclUniqueId *ids,
                                                ncclConfig_t *config) {
    typedef ncclResult_t (*fn)(ncclComm_t *, int, int, int, ncclUniqueId *, ncclConfig_t *);
    REAL(fn, "ncclCommInitRankScalable");
    ncclResult_t r = real_(comm, nranks, rank, nId, ids, config);
    if ((r == NCCL_OK || r == NCCL_IN_PROGRESS) && nId > 0 && ids)
        add(*comm, rv_fnv(RV_FNV_SEED, &ids[0], sizeof ids[0]), rank, nranks);
    return r;
}

// ncclCommInitAll: one process, ndev ranks; identity from the pid and a counter
RV_EXPORT ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist) {
    typedef ncclResult_t (*fn)(ncclComm_t *, int, const int *);
    REAL(fn, "ncclCommInitAll");
    ncclResult_t r = real_(comms, ndev, devlist);
    if (r == NCCL_OK) {
        static uint64_t calls;
        uint64_t tag[2] = {(uint64_t)getpid(), __atomic_fetch_add(&calls, 1, __ATOMIC_RELAXED)};
        uint64_t key = rv_fnv(RV_FNV_SEED, tag, sizeof tag);
        for (int i = 0; i < ndev; ++i) add(comms[i], key, i, ndev);
    }
    return r;
}

// ncclCommSplit: the child's identity from (parent, color, this rank's split count on the parent)
RV_EXPORT ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t *newcomm, ncclConfig_t *config) {
    typedef ncclResult_t (*fn)(ncclComm_t, int, int, ncclComm_t *, ncclConfig_t *);
    REAL(fn, "ncclCommSplit");
    uint64_t tag[3] = {0, (uint64_t)(int64_t)color, 0};
    rv_ncomm_lock();
    int known = 0;
    for (int i = 0; i < g_ncomms; ++i)
        if (g_comms[i].comm == comm) {
            tag[0] = g_comms[i].key;
            tag[2] = g_comms[i].splits++;
            known = 1;
        }
    rv_ncomm_unlock();
    ncclResult_t r = real_(comm, color, key, newcomm, config);
    if ((r == NCCL_OK || r == NCCL_IN_PROGRESS) && known && color != NCCL_SPLIT_NOCOLOR && newcomm && *newcomm)
        add(*newcomm, rv_fnv(RV_FNV_SEED, tag, sizeof tag), -1, 0);
    return r;
}

// ncclCommDestroy: forgets the communicator, then the real destroy
RV_EXPORT ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    typedef ncclResult_t (*fn)(ncclComm_t);
    REAL(fn, "ncclCommDestroy");
    drop(comm);
    return real_(comm);
}

// ncclCommAbort: forgets the communicator, then the real abort
RV_EXPORT ncclResult_t ncclCommAbort(ncclComm_t comm) {
    typedef ncclResult_t (*fn)(ncclComm_t);
    REAL(fn, "ncclCommAbort");
    drop(comm);
    return real_(comm);
}
