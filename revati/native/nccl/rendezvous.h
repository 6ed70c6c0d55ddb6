/* revati NCCL interposer: communicators, the cross-process rendezvous, the communication model. */
#ifndef REVATI_NCCL_RENDEZVOUS_H
#define REVATI_NCCL_RENDEZVOUS_H

#include <stdint.h>

#include "nccl_abi.h"

/* ---- communicators (comm.c) ---- */

typedef struct rv_ncomm {
    ncclComm_t comm;
    uint64_t key;     /* identity shared by every rank's handle of this communicator */
    int rank, nranks; /* -1 until known (split and non-blocking communicators: asked lazily) */
    uint64_t seq;     /* collectives issued on it by this rank */
    uint64_t splits;  /* ncclCommSplit calls on it by this rank */
    uint64_t *p2p_seq; /* [2 * peer + is_recv]: sends to / receives from that peer so far */
} rv_ncomm;

/* The record of comm (rank and size resolved); NULL when the communicator was not made through an
 * interposed init (its collectives are traced without a rendezvous). Not locked: the caller holds
 * the comms lock through rv_ncomm_lock/unlock. */
rv_ncomm *rv_ncomm_find(ncclComm_t comm);
void rv_ncomm_lock(void);
void rv_ncomm_unlock(void);
/* Real NCCL entry points (dlsym RTLD_NEXT); NULL when NCCL is not loaded. */
void *rv_nccl_real(const char *name);

/* ---- rendezvous (rendezvous.c) ---- */

/* Publish this rank's arrival for the rendezvous `match` of nranks ranks on communicator comm_key;
 * the last rank to arrive sets the end to the latest arrival + dur_ns. Returns a ticket. */
int rv_rdv_arrive(uint64_t match, uint64_t comm_key, int nranks, uint64_t arrival, uint64_t dur_ns);
/* Block until the rendezvous completes; its end time. A rank of the communicator that died before
 * arriving ends this process with an error naming it (what = the operation, for the message). */
uint64_t rv_rdv_wait(int ticket, uint64_t match, uint64_t comm_key, const char *what);
/* Register this process as rank `rank` of communicator comm_key (for the liveness check). */
void rv_rdv_register(uint64_t comm_key, int nranks, int rank);

/* ---- model (model.c) ---- */

/* Predicted duration (ns) of op over nranks ranks moving `bytes` (see docs/coordination.md), and the
 * algorithm chosen ("ring", "tree", "p2p" or "local"). */
uint64_t rv_coll_model_ns(const char *op, uint64_t bytes, int nranks, const char **algo);

/* FNV-1a 64 over bytes, continued from h (start with RV_FNV_SEED). */
#define RV_FNV_SEED 1469598103934665603ULL
uint64_t rv_fnv(uint64_t h, const void *p, size_t n);

#endif
