/* revati NCCL interposer: one operation's record, shared by the wrappers (collectives.c) and the
 * replay of operations captured into CUDA graphs (graph_ops.c). */
#ifndef REVATI_NCCL_OPS_H
#define REVATI_NCCL_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "nccl_abi.h"

typedef struct op_rec {
    const char *op;  /* "allreduce", "send", ... */
    size_t count;    /* elements, as passed */
    int dtype, peer; /* peer: send/recv only, else -1 */
    ncclComm_t comm;
    cudaStream_t stream;
    /* at arrival */
    int skip; /* unknown stream or communicator, or graph capture: no rendezvous now */
    int dev;
    unsigned long long sid;
    uint64_t arrival;
    /* graph capture: the graph being captured and its node count before NCCL enqueued its kernel */
    void *graph;
    int graph_from;
    /* at publication */
    uint64_t key, match, bytes, model;
    int rank, nranks, ticket;
    const char *algo;
    int replay; /* met at a graph replay: the driver places the stream, no stream hold here */
    struct op_rec *next; /* graph capture: the other operations of the same kernel node */
} op_rec;

/* Publish o's arrival (o->arrival, o->dev, o->sid set) in the rendezvous of its communicator. */
void rv_nccl_publish(op_rec *o);
/* Wait for o's rendezvous, hold its stream until the end (not at replay), write its event; the end. */
uint64_t rv_nccl_finish(op_rec *o);
/* The operation was issued on a capturing stream: keep it with the kernel NCCL just captured, to be
 * met at each replay of the graph (graph_ops.c). */
void rv_nccl_captured(const op_rec *o);

#endif
