/* revati NCCL interposer: operations captured into CUDA graphs. A collective issued on a capturing
 * stream runs nothing now: NCCL only captures its kernel. The wrapper keeps a copy of the operation
 * with that kernel node (the last kernel node NCCL added to the graph during its call; the driver
 * keeps the list in gnode.coll); each replay of the graph then meets the other ranks at that node,
 * as an eager call would: the node's start is the arrival, and its end is no earlier than the
 * rendezvous' end. The communicator's sequence number advances at each replay, in program order
 * with the eager operations. docs/coordination.md. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "rendezvous.h"
#include "revati/log.h"
#include "revati/nccl_graph.h"

typedef void **(*coll_slot_fn)(void *graph, int from);

void rv_nccl_captured(const op_rec *o) {
    static coll_slot_fn slot_of;
    if (!slot_of) {
        void *h = dlopen("libcuda.so.1", RTLD_NOLOAD | RTLD_LAZY);
        if (h) slot_of = (coll_slot_fn)dlsym(h, "revati_capture_coll_slot");
        if (!slot_of) return;
    }
    void **slot = slot_of(o->graph, o->graph_from);
    if (!slot) {
        static int warned;
        if (!warned++)
            rv_warn("NCCL %s captured into a CUDA graph without a kernel node: its replays meet no other rank",
                    o->op);
        return;
    }
    op_rec *c = malloc(sizeof *c); /* lives as long as the process: graphs keep it */
    if (!c) return;
    *c = *o;
    c->next = NULL;
    c->graph = NULL;
    op_rec **tail = (op_rec **)slot;
    while (*tail) tail = &(*tail)->next;
    *tail = c;
}

typedef struct replay_state {
    int n;
    op_rec ops[];
} replay_state;

// rv_nccl_replay_publish: a graph replay reached a node with captured operations: publish the arrivals
RV_API void *rv_nccl_replay_publish(void *coll, int dev, unsigned long long track, uint64_t arrival) {
    int n = 0;
    for (op_rec *o = coll; o; o = o->next) ++n;
    if (!n) return NULL;
    replay_state *st = malloc(sizeof *st + (size_t)n * sizeof(op_rec));
    if (!st) return NULL;
    st->n = n;
    int i = 0;
    for (op_rec *o = coll; o; o = o->next, ++i) {
        op_rec *c = &st->ops[i];
        *c = *o;
        c->skip = 0;
        c->ticket = -1;
        c->dev = dev;
        c->sid = track;
        c->arrival = arrival;
        c->replay = 1;
        c->next = NULL;
        rv_nccl_publish(c);
    }
    return st;
}

// rv_nccl_replay_wait: wait for the other ranks of the node's operations; the latest end
RV_API uint64_t rv_nccl_replay_wait(void *state) {
    replay_state *st = state;
    if (!st) return 0;
    uint64_t last = 0;
    for (int i = 0; i < st->n; ++i) {
        uint64_t e = rv_nccl_finish(&st->ops[i]);
        if (e > last) last = e;
    }
    free(st);
    return last;
}
