/* revati driver: what the NCCL interposer (native/nccl/, in librevati.so) needs from the streams: a
 * stream's device, trace id and ready time (a collective's arrival), and holding a stream until a
 * collective's completion; on a capturing stream, the kernel node NCCL captured for an operation, to
 * keep the operation with (met again at each replay, nccl_graph.h). docs/coordination.md. */
#include "graph.h"

// revati_stream_info: device, trace id and ready time of a stream; -1 unknown stream, 1 capturing (no rendezvous)
RV_EXPORT int revati_stream_info(CUstream h, int *dev, unsigned long long *id, unsigned long long *ready) {
    rv_stream *s = rv_stream_resolve(h);
    if (!s) return -1;
    if (dev) *dev = s->dev;
    if (id) *id = s->id;
    if (ready) *ready = rv_stream_ready(s);
    return s->capture ? 1 : 0;
}

// revati_stream_hold: the stream's next work starts no earlier than t (a collective's completion)
RV_EXPORT void revati_stream_hold(CUstream h, unsigned long long t) {
    rv_stream *s = rv_stream_resolve(h);
    if (s) rv_stream_wait_until(s, (rv_vtime_ns)t);
}

// revati_capture_mark: 1 and the graph and its node count when the stream is capturing, else 0
RV_EXPORT int revati_capture_mark(CUstream h, void **graph, int *nodes) {
    rv_stream *s = rv_stream_resolve(h);
    if (!s || !s->capture) return 0;
    pthread_mutex_lock(&rv_graph_mu);
    *graph = s->capture;
    *nodes = s->capture->n;
    pthread_mutex_unlock(&rv_graph_mu);
    return 1;
}

// revati_capture_coll_slot: the operations list of the last kernel node added to graph since `from` nodes, or NULL
RV_EXPORT void **revati_capture_coll_slot(void *graph, int from) {
    rv_graph *g = rv_graph_from(graph);
    if (!g) return NULL;
    void **slot = NULL;
    pthread_mutex_lock(&rv_graph_mu);
    for (int i = g->n - 1; i >= from && i >= 0 && !slot; --i)
        if (g->nodes[i]->type == N_KERNEL) slot = &g->nodes[i]->coll;
    pthread_mutex_unlock(&rv_graph_mu);
    return slot;
}
