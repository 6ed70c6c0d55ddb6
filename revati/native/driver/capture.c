/* revati driver: stream capture: work on a capturing stream becomes graph nodes with their dependencies. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

static unsigned long long g_next_capture = 1;
static __thread CUstreamCaptureMode t_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

static void set_stream_deps(rv_stream *s, void *const *nodes, int n) {
    if (n > s->capture_capdeps) {
        s->capture_capdeps = n < 4 ? 4 : n;
        s->capture_deps = realloc(s->capture_deps, (size_t)s->capture_capdeps * sizeof *s->capture_deps);
    }
    if (n) memmove(s->capture_deps, nodes, (size_t)n * sizeof *nodes);
    s->capture_ndeps = n;
}

static void add_stream_deps(rv_stream *s, void *const *nodes, int n) {
    for (int i = 0; i < n; ++i) {
        int seen = 0;
        for (int j = 0; j < s->capture_ndeps; ++j) seen |= s->capture_deps[j] == nodes[i];
        if (seen) continue;
        void *one = nodes[i];
        int k = s->capture_ndeps;
        set_stream_deps(s, s->capture_deps, k); /* keeps the array, grows below */
        if (k + 1 > s->capture_capdeps) {
            s->capture_capdeps = (k + 1) * 2;
            s->capture_deps = realloc(s->capture_deps, (size_t)s->capture_capdeps * sizeof *s->capture_deps);
        }
        s->capture_deps[k] = one;
        s->capture_ndeps = k + 1;
    }
}

/* A node captured on s depends on what the stream's previous work was; it becomes that work. */
static gnode *capture_node(rv_stream *s, int type) {
    rv_graph *g = s->capture;
    gnode *n = rv_graph_add_node(g, type, (const CUgraphNode *)s->capture_deps, (size_t)s->capture_ndeps);
    n->lane = s->id == g->origin ? 0 : s->id;
    void *self = n;
    set_stream_deps(s, &self, 1);
    return n;
}

int rv_graph_capture_kernel(rv_stream *s, const rv_kernel_op *k) {
    gnode *n = capture_node(s, N_KERNEL);
    n->k = *k;
    rv_kernel_op_own_params(&n->k); /* the launch's buffer lives only for the call */
    n->k.feat = rv_kfeat_keep(k->feat); /* features as captured: the op context exists only now */
    return 1;
}

int rv_graph_capture_copy(rv_stream *s, const char *kind, uint64_t bytes) {
    gnode *n = capture_node(s, kind ? N_COPY : N_MEMSET);
    n->kind = kind;
    n->bytes = bytes;
    return 1;
}

int rv_graph_capture_copy_at(rv_stream *s, const char *kind, uint64_t bytes, uint64_t dst, uint64_t src,
                             unsigned value, int elem) {
    gnode *n = capture_node(s, kind ? N_COPY : N_MEMSET);
    n->kind = kind;
    n->bytes = bytes;
    n->dst = dst, n->src = src, n->memset_value = value, n->memset_elem = elem;
    return 1;
}

int rv_graph_capture_host(rv_stream *s, CUhostFn fn, void *data) {
    gnode *n = capture_node(s, N_HOST);
    n->host_fn = fn;
    n->host_data = data;
    return 1;
}

void rv_capdeps_snapshot(const rv_stream *s, rv_capdeps *out) {
    out->n = s->capture_ndeps;
    out->nodes = NULL;
    if (out->n) {
        out->nodes = malloc((size_t)out->n * sizeof *out->nodes);
        memcpy(out->nodes, s->capture_deps, (size_t)out->n * sizeof *out->nodes);
    }
}

void rv_graph_join_capture(rv_stream *s, rv_graph *g, unsigned long long capture_id, const rv_capdeps *deps) {
    if (!rv_graph_from(g) || g->live_capture != capture_id) return; /* that capture has ended */
    if (s->capture != g) {
        pthread_mutex_lock(&rv_graph_mu);
        if (g->njoined < MAX_JOINED) g->joined[g->njoined++] = s;
        pthread_mutex_unlock(&rv_graph_mu);
        s->capture = g;
        s->capture_id = capture_id;
        s->capture_ndeps = 0;
    }
    if (deps) add_stream_deps(s, deps->nodes, deps->n);
}

static CUresult begin_capture(rv_stream *s, rv_graph *g, CUstreamCaptureMode mode) {
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    if (s->legacy) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (s->capture) return CUDA_ERROR_ILLEGAL_STATE;
    s->capture = g;
    s->capture_mode = mode;
    s->capture_id = __atomic_fetch_add(&g_next_capture, 1, __ATOMIC_RELAXED);
    s->capture_ndeps = 0;
    g->joined[0] = s;
    g->njoined = 1;
    g->live_capture = s->capture_id;
    g->origin = s->id;
    rv_vtime_ns now = rv_vnow();
    rv_trace_graph("capture_begin", g->id, s, g->n, now, now);
    return CUDA_SUCCESS;
}

// cuStreamBeginCapture_v2: later work on the stream is recorded into a new graph, not timed
RV_EXPORT CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode) {
    API_ENTER();
    API_RETURN(begin_capture(rv_stream_resolve(hStream), rv_graph_new(), mode));
}
RV_ALIAS(cuStreamBeginCapture_v2_ptsz, cuStreamBeginCapture_v2);

// cuStreamBeginCapture: the 10000 ABI, global mode
RV_EXPORT CUresult cuStreamBeginCapture(CUstream hStream) {
    API_ENTER();
    API_RETURN(begin_capture(rv_stream_resolve(hStream), rv_graph_new(), CU_STREAM_CAPTURE_MODE_GLOBAL));
}
RV_ALIAS(cuStreamBeginCapture_ptsz, cuStreamBeginCapture);

// cuStreamBeginCaptureToGraph: capture appends to an existing graph
RV_EXPORT CUresult cuStreamBeginCaptureToGraph(CUstream hStream, CUgraph hGraph, const CUgraphNode *dependencies,
                                               const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                               CUstreamCaptureMode mode) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
    if (!g) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    rv_stream *s = rv_stream_resolve(hStream);
    CUresult r = begin_capture(s, g, mode);
    if (r == CUDA_SUCCESS && dependencies) set_stream_deps(s, (void *const *)dependencies, (int)numDependencies);
    API_RETURN(r);
}
RV_ALIAS(cuStreamBeginCaptureToGraph_ptsz, cuStreamBeginCaptureToGraph);

// cuStreamEndCapture: returns the graph; every stream that joined the capture stops capturing
RV_EXPORT CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (!phGraph) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_graph *g = s->capture;
    if (!g) API_RETURN(CUDA_ERROR_ILLEGAL_STATE);
    for (int i = 0; i < g->njoined; ++i)
        if (g->joined[i]->capture == g) g->joined[i]->capture = NULL, g->joined[i]->capture_ndeps = 0;
    s->capture = NULL;
    s->capture_ndeps = 0;
    g->njoined = 0;
    g->live_capture = 0;
    *phGraph = (CUgraph)g;
    rv_vtime_ns now = rv_vnow();
    rv_trace_graph("capture_end", g->id, s, g->n, now, now);
    API_ARGS("graph=%llu nodes=%d", g->id, g->n);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamEndCapture_ptsz, cuStreamEndCapture);

// cuStreamIsCapturing: active while the stream records into a graph
RV_EXPORT CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *captureStatus) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !captureStatus) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *captureStatus = s->capture ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamIsCapturing_ptsz, cuStreamIsCapturing);

static CUresult capture_info(CUstream h, CUstreamCaptureStatus *st, cuuint64_t *id, CUgraph *graph,
                             const CUgraphNode **deps, const CUgraphEdgeData **edges, size_t *ndeps) {
    rv_stream *s = rv_stream_resolve(h);
    if (!s || !st) return CUDA_ERROR_INVALID_VALUE;
    *st = s->capture ? CU_STREAM_CAPTURE_STATUS_ACTIVE : CU_STREAM_CAPTURE_STATUS_NONE;
    if (id && s->capture) *id = s->capture_id;
    if (graph) *graph = (CUgraph)s->capture;
    /* the stream's current dependencies; valid until its next captured operation, as in CUDA */
    if (deps) *deps = s->capture ? (const CUgraphNode *)s->capture_deps : NULL;
    if (edges) *edges = NULL;
    if (ndeps) *ndeps = s->capture ? (size_t)s->capture_ndeps : 0;
    return CUDA_SUCCESS;
}

// cuStreamGetCaptureInfo: status and capture id
RV_EXPORT CUresult cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus *captureStatus_out, cuuint64_t *id_out) {
    API_ENTER();
    API_RETURN(capture_info(hStream, captureStatus_out, id_out, NULL, NULL, NULL, NULL));
}
RV_ALIAS(cuStreamGetCaptureInfo_ptsz, cuStreamGetCaptureInfo);

// cuStreamGetCaptureInfo_v2: adds the graph and the stream's current dependency nodes
RV_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
                                             cuuint64_t *id_out, CUgraph *graph_out,
                                             const CUgraphNode **dependencies_out, size_t *numDependencies_out) {
    API_ENTER();
    API_RETURN(capture_info(hStream, captureStatus_out, id_out, graph_out, dependencies_out, NULL, numDependencies_out));
}
RV_ALIAS(cuStreamGetCaptureInfo_v2_ptsz, cuStreamGetCaptureInfo_v2);

// cuStreamGetCaptureInfo_v3: adds edge data (NULL: all edges are plain)
RV_EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
                                             cuuint64_t *id_out, CUgraph *graph_out,
                                             const CUgraphNode **dependencies_out, const CUgraphEdgeData **edgeData_out,
                                             size_t *numDependencies_out) {
    API_ENTER();
    API_RETURN(capture_info(hStream, captureStatus_out, id_out, graph_out, dependencies_out, edgeData_out,
                            numDependencies_out));
}
RV_ALIAS(cuStreamGetCaptureInfo_v3_ptsz, cuStreamGetCaptureInfo_v3);

static CUresult update_deps(CUstream h, CUgraphNode *deps, size_t n, unsigned flags) {
    rv_stream *s = rv_stream_resolve(h);
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    if (!s->capture) return CUDA_ERROR_ILLEGAL_STATE;
    if (flags & CU_STREAM_SET_CAPTURE_DEPENDENCIES) set_stream_deps(s, (void *const *)deps, (int)n);
    else add_stream_deps(s, (void *const *)deps, (int)n);
    return CUDA_SUCCESS;
}

// cuStreamUpdateCaptureDependencies: add to (or, with SET, replace) the stream's capture dependencies
RV_EXPORT CUresult cuStreamUpdateCaptureDependencies(CUstream hStream, CUgraphNode *dependencies, size_t numDependencies,
                                                     unsigned int flags) {
    API_ENTER();
    API_RETURN(update_deps(hStream, dependencies, numDependencies, flags));
}
RV_ALIAS(cuStreamUpdateCaptureDependencies_ptsz, cuStreamUpdateCaptureDependencies);

// cuStreamUpdateCaptureDependencies_v2: as above
RV_EXPORT CUresult cuStreamUpdateCaptureDependencies_v2(CUstream hStream, CUgraphNode *dependencies,
                                                        const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                                        unsigned int flags) {
    API_ENTER();
    API_RETURN(update_deps(hStream, dependencies, numDependencies, flags));
}
RV_ALIAS(cuStreamUpdateCaptureDependencies_v2_ptsz, cuStreamUpdateCaptureDependencies_v2);

// cuThreadExchangeStreamCaptureMode: the thread's mode is swapped
RV_EXPORT CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode *mode) {
    API_ENTER();
    if (!mode) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    CUstreamCaptureMode old = t_mode;
    t_mode = *mode;
    *mode = old;
    API_RETURN(CUDA_SUCCESS);
}

/* ---- explicit graph building ---- */
