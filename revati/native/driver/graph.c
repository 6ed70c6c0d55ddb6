/* revati driver: CUDA graphs: capture records nodes instead of timing them; a launch charges them in order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define GRAPH_MAGIC 0x52564752u
#define EXEC_MAGIC 0x52564758u
#define NODE_MAGIC 0x5256474eu
#define MAX_JOINED 64

enum { N_KERNEL = 1, N_COPY, N_MEMSET, N_EMPTY };

typedef struct gnode {
    uint32_t magic;
    int type;
    rv_kernel_op k;
    const char *kind; /* copies */
    uint64_t bytes;
    rv_graph *g;
} gnode;

struct rv_graph {
    uint32_t magic;
    unsigned long long id;
    gnode **nodes;
    int n, cap;
    rv_stream *joined[MAX_JOINED]; /* streams capturing into this graph */
    int njoined;
};

typedef struct rv_exec {
    uint32_t magic;
    unsigned long long id;
    gnode *nodes; /* copies, in order */
    gnode **orig; /* the graph nodes they came from */
    int n;
} rv_exec;

static unsigned long long g_next_graph = 1, g_next_exec = 1, g_next_capture = 1;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread CUstreamCaptureMode t_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

static rv_graph *graph_from(const void *h) {
    rv_graph *g = (rv_graph *)h;
    return g && g->magic == GRAPH_MAGIC ? g : NULL;
}

int rv_graph_valid(const void *h) { return graph_from(h) != NULL; }

static rv_exec *exec_from(const void *h) {
    rv_exec *e = (rv_exec *)h;
    return e && e->magic == EXEC_MAGIC ? e : NULL;
}

static gnode *node_from(const void *h) {
    gnode *n = (gnode *)h;
    return n && n->magic == NODE_MAGIC ? n : NULL;
}

static rv_graph *graph_new(void) {
    rv_graph *g = calloc(1, sizeof *g);
    g->magic = GRAPH_MAGIC;
    g->id = __atomic_fetch_add(&g_next_graph, 1, __ATOMIC_RELAXED);
    return g;
}

static gnode *add_node(rv_graph *g, int type) {
    gnode *n = calloc(1, sizeof *n);
    n->magic = NODE_MAGIC;
    n->type = type;
    n->g = g;
    pthread_mutex_lock(&g_mu);
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->nodes = realloc(g->nodes, (size_t)g->cap * sizeof *g->nodes);
    }
    g->nodes[g->n++] = n;
    pthread_mutex_unlock(&g_mu);
    return n;
}

int rv_graph_capture_kernel(rv_stream *s, const rv_kernel_op *k) {
    gnode *n = add_node(s->capture, N_KERNEL);
    n->k = *k;
    return 1;
}

int rv_graph_capture_copy(rv_stream *s, const char *kind, uint64_t bytes) {
    gnode *n = add_node(s->capture, kind ? N_COPY : N_MEMSET);
    n->kind = kind;
    n->bytes = bytes;
    return 1;
}

int rv_graph_capture_event(rv_stream *s, void *event) { return 1; }

void rv_graph_join_capture(rv_stream *s, rv_graph *g, unsigned long long capture_id) {
    if (s->capture == g) return;
    pthread_mutex_lock(&g_mu);
    if (g->njoined < MAX_JOINED) g->joined[g->njoined++] = s;
    pthread_mutex_unlock(&g_mu);
    s->capture = g;
    s->capture_id = capture_id;
}

static void trace_graph(const char *what, unsigned long long id, rv_stream *s, int nodes, rv_vtime_ns ts, rv_vtime_ns end) {
    if (!rv_tracing()) return;
    rv_trace_emit("graph", "\"what\":\"%s\",\"graph\":%llu,\"stream\":%llu,\"nodes\":%d,\"ts_ns\":%llu,\"end_ns\":%llu",
                  what, id, s ? s->id : 0ULL, nodes, (unsigned long long)ts, (unsigned long long)end);
}

static CUresult begin_capture(rv_stream *s, rv_graph *g, CUstreamCaptureMode mode) {
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    if (s->legacy) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (s->capture) return CUDA_ERROR_ILLEGAL_STATE;
    s->capture = g;
    s->capture_mode = mode;
    s->capture_id = __atomic_fetch_add(&g_next_capture, 1, __ATOMIC_RELAXED);
    g->joined[0] = s;
    g->njoined = 1;
    rv_vtime_ns now = rv_vnow();
    trace_graph("capture_begin", g->id, s, g->n, now, now);
    return CUDA_SUCCESS;
}

// cuStreamBeginCapture_v2: later work on the stream is recorded into a new graph, not timed
RV_EXPORT CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode) {
    API_ENTER();
    API_RETURN(begin_capture(rv_stream_resolve(hStream), graph_new(), mode));
}
RV_ALIAS(cuStreamBeginCapture_v2_ptsz, cuStreamBeginCapture_v2);

// cuStreamBeginCapture: the 10000 ABI, global mode
RV_EXPORT CUresult cuStreamBeginCapture(CUstream hStream) {
    API_ENTER();
    API_RETURN(begin_capture(rv_stream_resolve(hStream), graph_new(), CU_STREAM_CAPTURE_MODE_GLOBAL));
}
RV_ALIAS(cuStreamBeginCapture_ptsz, cuStreamBeginCapture);

// cuStreamBeginCaptureToGraph: capture appends to an existing graph
RV_EXPORT CUresult cuStreamBeginCaptureToGraph(CUstream hStream, CUgraph hGraph, const CUgraphNode *dependencies,
                                               const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                               CUstreamCaptureMode mode) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    API_RETURN(begin_capture(rv_stream_resolve(hStream), g, mode));
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
        if (g->joined[i]->capture == g) g->joined[i]->capture = NULL;
    s->capture = NULL;
    g->njoined = 0;
    *phGraph = (CUgraph)g;
    rv_vtime_ns now = rv_vnow();
    trace_graph("capture_end", g->id, s, g->n, now, now);
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
    if (deps) *deps = NULL;
    if (edges) *edges = NULL;
    if (ndeps) *ndeps = 0;
    return CUDA_SUCCESS;
}

// cuStreamGetCaptureInfo: status and capture id
RV_EXPORT CUresult cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus *captureStatus_out, cuuint64_t *id_out) {
    API_ENTER();
    API_RETURN(capture_info(hStream, captureStatus_out, id_out, NULL, NULL, NULL, NULL));
}
RV_ALIAS(cuStreamGetCaptureInfo_ptsz, cuStreamGetCaptureInfo);

// cuStreamGetCaptureInfo_v2: adds the graph; dependencies are not tracked (empty)
RV_EXPORT CUresult cuStreamGetCaptureInfo_v2(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
                                             cuuint64_t *id_out, CUgraph *graph_out,
                                             const CUgraphNode **dependencies_out, size_t *numDependencies_out) {
    API_ENTER();
    API_RETURN(capture_info(hStream, captureStatus_out, id_out, graph_out, dependencies_out, NULL, numDependencies_out));
}
RV_ALIAS(cuStreamGetCaptureInfo_v2_ptsz, cuStreamGetCaptureInfo_v2);

// cuStreamGetCaptureInfo_v3: adds edge data (empty)
RV_EXPORT CUresult cuStreamGetCaptureInfo_v3(CUstream hStream, CUstreamCaptureStatus *captureStatus_out,
                                             cuuint64_t *id_out, CUgraph *graph_out,
                                             const CUgraphNode **dependencies_out, const CUgraphEdgeData **edgeData_out,
                                             size_t *numDependencies_out) {
    API_ENTER();
    API_RETURN(capture_info(hStream, captureStatus_out, id_out, graph_out, dependencies_out, edgeData_out,
                            numDependencies_out));
}
RV_ALIAS(cuStreamGetCaptureInfo_v3_ptsz, cuStreamGetCaptureInfo_v3);

// cuStreamUpdateCaptureDependencies: dependencies are implicit (capture order); accepted
RV_EXPORT CUresult cuStreamUpdateCaptureDependencies(CUstream hStream, CUgraphNode *dependencies, size_t numDependencies,
                                                     unsigned int flags) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamUpdateCaptureDependencies_ptsz, cuStreamUpdateCaptureDependencies);

// cuStreamUpdateCaptureDependencies_v2: as above
RV_EXPORT CUresult cuStreamUpdateCaptureDependencies_v2(CUstream hStream, CUgraphNode *dependencies,
                                                        const CUgraphEdgeData *dependencyData, size_t numDependencies,
                                                        unsigned int flags) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
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

// cuGraphCreate: an empty graph
RV_EXPORT CUresult cuGraphCreate(CUgraph *phGraph, unsigned int flags) {
    API_ENTER();
    if (!phGraph) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *phGraph = (CUgraph)graph_new();
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphDestroy: the graph and its nodes are poisoned (instantiated execs keep their own copies)
RV_EXPORT CUresult cuGraphDestroy(CUgraph hGraph) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    g->magic = 0;
    API_RETURN(CUDA_SUCCESS);
}

static CUresult kernel_params(rv_kernel_op *k, const CUDA_KERNEL_NODE_PARAMS *p) {
    rv_func *f = rv_func_from(p->func ? (void *)p->func : (void *)p->kern);
    if (!f) return CUDA_ERROR_INVALID_VALUE;
    *k = (rv_kernel_op){f, {p->gridDimX, p->gridDimY, p->gridDimZ}, {p->blockDimX, p->blockDimY, p->blockDimZ}, p->sharedMemBytes};
    return CUDA_SUCCESS;
}

// cuGraphAddKernelNode_v2: a kernel node (dependencies are not tracked: nodes run in insertion order)
RV_EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                           size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS *nodeParams) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g || !phGraphNode || !nodeParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_kernel_op k;
    CUresult r = kernel_params(&k, nodeParams);
    if (r != CUDA_SUCCESS) API_RETURN(r);
    gnode *n = add_node(g, N_KERNEL);
    n->k = k;
    *phGraphNode = (CUgraphNode)n;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphAddMemsetNode: a memset node of width*height*elementSize bytes
RV_EXPORT CUresult cuGraphAddMemsetNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                        size_t numDependencies, const CUDA_MEMSET_NODE_PARAMS *memsetParams,
                                        CUcontext ctx) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g || !phGraphNode || !memsetParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    gnode *n = add_node(g, N_MEMSET);
    n->bytes = (uint64_t)memsetParams->width * memsetParams->height * memsetParams->elementSize;
    *phGraphNode = (CUgraphNode)n;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphAddMemcpyNode: a copy node (direction from the memory types)
RV_EXPORT CUresult cuGraphAddMemcpyNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                        size_t numDependencies, const CUDA_MEMCPY3D *copyParams, CUcontext ctx) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g || !phGraphNode || !copyParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    gnode *n = add_node(g, N_COPY);
    int sh = copyParams->srcMemoryType == CU_MEMORYTYPE_HOST, dh = copyParams->dstMemoryType == CU_MEMORYTYPE_HOST;
    n->kind = sh && dh ? "HtoH" : sh ? "HtoD" : dh ? "DtoH" : "DtoD";
    n->bytes = (uint64_t)copyParams->WidthInBytes * (copyParams->Height ? copyParams->Height : 1) *
               (copyParams->Depth ? copyParams->Depth : 1);
    *phGraphNode = (CUgraphNode)n;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphAddEmptyNode: a node that takes no time
RV_EXPORT CUresult cuGraphAddEmptyNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                       size_t numDependencies) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g || !phGraphNode) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *phGraphNode = (CUgraphNode)add_node(g, N_EMPTY);
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphAddDependencies_v2: edges are accepted; execution order is insertion order
RV_EXPORT CUresult cuGraphAddDependencies_v2(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                                             const CUgraphEdgeData *edgeData, size_t numDependencies) {
    API_ENTER();
    API_RETURN(graph_from(hGraph) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}

// cuGraphAddDependencies: as above
RV_EXPORT CUresult cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                                          size_t numDependencies) {
    API_ENTER();
    API_RETURN(graph_from(hGraph) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}

// cuGraphGetNodes: nodes in insertion order; NULL nodes asks for the count
RV_EXPORT CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g || !numNodes) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!nodes) {
        *numNodes = (size_t)g->n;
        API_RETURN(CUDA_SUCCESS);
    }
    size_t k = *numNodes < (size_t)g->n ? *numNodes : (size_t)g->n;
    for (size_t i = 0; i < k; ++i) nodes[i] = (CUgraphNode)g->nodes[i];
    *numNodes = k;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphGetRootNodes: the first node (nodes form a chain)
RV_EXPORT CUresult cuGraphGetRootNodes(CUgraph hGraph, CUgraphNode *rootNodes, size_t *numRootNodes) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g || !numRootNodes) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    size_t n = g->n ? 1 : 0;
    if (rootNodes && *numRootNodes && n) rootNodes[0] = (CUgraphNode)g->nodes[0];
    *numRootNodes = n;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphNodeGetType: kernel, memcpy, memset or empty
RV_EXPORT CUresult cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType *type) {
    API_ENTER();
    gnode *n = node_from(hNode);
    if (!n || !type) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *type = n->type == N_KERNEL ? CU_GRAPH_NODE_TYPE_KERNEL
            : n->type == N_COPY ? CU_GRAPH_NODE_TYPE_MEMCPY
            : n->type == N_MEMSET ? CU_GRAPH_NODE_TYPE_MEMSET
                                  : CU_GRAPH_NODE_TYPE_EMPTY;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphKernelNodeGetParams_v2: function, grid, block and shared memory of a kernel node
RV_EXPORT CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS *nodeParams) {
    API_ENTER();
    gnode *n = node_from(hNode);
    if (!n || n->type != N_KERNEL || !nodeParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    memset(nodeParams, 0, sizeof *nodeParams);
    nodeParams->func = (CUfunction)n->k.f;
    nodeParams->gridDimX = n->k.grid[0], nodeParams->gridDimY = n->k.grid[1], nodeParams->gridDimZ = n->k.grid[2];
    nodeParams->blockDimX = n->k.block[0], nodeParams->blockDimY = n->k.block[1], nodeParams->blockDimZ = n->k.block[2];
    nodeParams->sharedMemBytes = n->k.smem;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphKernelNodeSetParams_v2: replaces a kernel node's launch
RV_EXPORT CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode hNode, const CUDA_KERNEL_NODE_PARAMS *nodeParams) {
    API_ENTER();
    gnode *n = node_from(hNode);
    if (!n || n->type != N_KERNEL || !nodeParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(kernel_params(&n->k, nodeParams));
}

static CUresult instantiate(CUgraphExec *out, CUgraph hGraph) {
    rv_graph *g = graph_from(hGraph);
    if (!g || !out) return CUDA_ERROR_INVALID_VALUE;
    rv_exec *e = calloc(1, sizeof *e);
    e->magic = EXEC_MAGIC;
    e->id = __atomic_fetch_add(&g_next_exec, 1, __ATOMIC_RELAXED);
    e->n = g->n;
    e->nodes = calloc((size_t)(g->n ? g->n : 1), sizeof *e->nodes);
    e->orig = calloc((size_t)(g->n ? g->n : 1), sizeof *e->orig);
    for (int i = 0; i < g->n; ++i) {
        e->nodes[i] = *g->nodes[i];
        e->orig[i] = g->nodes[i];
    }
    *out = (CUgraphExec)e;
    rv_vtime_ns now = rv_vnow();
    trace_graph("instantiate", e->id, NULL, e->n, now, now);
    return CUDA_SUCCESS;
}

// cuGraphInstantiateWithFlags: an exec holds a copy of the graph's nodes
RV_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags) {
    API_ENTER();
    API_RETURN(instantiate(phGraphExec, hGraph));
}

// cuGraphInstantiateWithParams: as cuGraphInstantiateWithFlags; reports success in the params
RV_EXPORT CUresult cuGraphInstantiateWithParams(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                CUDA_GRAPH_INSTANTIATE_PARAMS *instantiateParams) {
    API_ENTER();
    CUresult r = instantiate(phGraphExec, hGraph);
    if (instantiateParams) {
        instantiateParams->result_out = r == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
        instantiateParams->hErrNode_out = NULL;
    }
    API_RETURN(r);
}
RV_ALIAS(cuGraphInstantiateWithParams_ptsz, cuGraphInstantiateWithParams);

// cuGraphInstantiate_v2: the 11000 ABI (error node and log buffer left empty)
RV_EXPORT CUresult cuGraphInstantiate_v2(CUgraphExec *phGraphExec, CUgraph hGraph, CUgraphNode *phErrorNode,
                                         char *logBuffer, size_t bufferSize) {
    API_ENTER();
    if (phErrorNode) *phErrorNode = NULL;
    if (logBuffer && bufferSize) logBuffer[0] = 0;
    API_RETURN(instantiate(phGraphExec, hGraph));
}
RV_ALIAS(cuGraphInstantiate, cuGraphInstantiate_v2);

// cuGraphExecKernelNodeSetParams_v2: updates the exec's copy of a kernel node
RV_EXPORT CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec hGraphExec, CUgraphNode hNode,
                                                     const CUDA_KERNEL_NODE_PARAMS *nodeParams) {
    API_ENTER();
    rv_exec *e = exec_from(hGraphExec);
    if (!e || !nodeParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    for (int i = 0; i < e->n; ++i)
        if (e->orig[i] == (gnode *)hNode && e->nodes[i].type == N_KERNEL) API_RETURN(kernel_params(&e->nodes[i].k, nodeParams));
    API_RETURN(CUDA_ERROR_INVALID_VALUE);
}

// cuGraphExecUpdate_v2: the exec takes the graph's current nodes when the node count matches
RV_EXPORT CUresult cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphExecUpdateResultInfo *resultInfo) {
    API_ENTER();
    rv_exec *e = exec_from(hGraphExec);
    rv_graph *g = graph_from(hGraph);
    if (!e || !g) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int ok = e->n == g->n;
    for (int i = 0; ok && i < g->n; ++i) {
        ok = e->nodes[i].type == g->nodes[i]->type;
        if (ok) e->nodes[i] = *g->nodes[i], e->orig[i] = g->nodes[i];
    }
    if (resultInfo) {
        memset(resultInfo, 0, sizeof *resultInfo);
        resultInfo->result = ok ? CU_GRAPH_EXEC_UPDATE_SUCCESS : CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
    }
    API_RETURN(ok ? CUDA_SUCCESS : CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
}

// cuGraphLaunch: the exec's nodes are charged in order on the stream, each traced with the exec id
RV_EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream) {
    API_ENTER();
    rv_exec *e = exec_from(hGraphExec);
    rv_stream *s = rv_stream_resolve(hStream);
    if (!e || !s) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (s->capture) API_RETURN(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    rv__call.corr = rv_next_corr();
    API_ARGS("exec=%llu nodes=%d", e->id, e->n);
    rv_vtime_ns first = RV_VTIME_INVALID, last = 0;
    for (int i = 0; i < e->n; ++i) {
        gnode *n = &e->nodes[i];
        rv_vtime_ns before = rv_stream_ready(s);
        if (n->type == N_KERNEL) rv_launch_now(s, &n->k, rv__call.corr, e->id);
        else if (n->type == N_COPY) rv_copy_now(s, n->kind, n->bytes, rv__call.corr, e->id);
        else if (n->type == N_MEMSET) rv_copy_now(s, NULL, n->bytes, rv__call.corr, e->id);
        else continue;
        rv_vtime_ns now = rv_vnow();
        rv_vtime_ns start = before > now ? before : now;
        if (first == RV_VTIME_INVALID) first = start;
        last = rv_stream_ready(s);
    }
    if (first == RV_VTIME_INVALID) first = last = rv_vnow();
    trace_graph("launch", e->id, s, e->n, first, last);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuGraphLaunch_ptsz, cuGraphLaunch);

// cuGraphUpload: nothing to upload
RV_EXPORT CUresult cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream) {
    API_ENTER();
    API_RETURN(exec_from(hGraphExec) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}
RV_ALIAS(cuGraphUpload_ptsz, cuGraphUpload);

// cuGraphExecDestroy: the exec is poisoned and freed
RV_EXPORT CUresult cuGraphExecDestroy(CUgraphExec hGraphExec) {
    API_ENTER();
    rv_exec *e = exec_from(hGraphExec);
    if (!e) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    e->magic = 0;
    free(e->nodes);
    free(e->orig);
    free(e);
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphDebugDotPrint: a DOT file listing the nodes in order
RV_EXPORT CUresult cuGraphDebugDotPrint(CUgraph hGraph, const char *path, unsigned int flags) {
    API_ENTER();
    rv_graph *g = graph_from(hGraph);
    if (!g || !path) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    FILE *f = fopen(path, "w");
    if (!f) API_RETURN(CUDA_ERROR_OPERATING_SYSTEM);
    fprintf(f, "digraph revati_graph_%llu {\n", g->id);
    for (int i = 0; i < g->n; ++i) {
        gnode *n = g->nodes[i];
        fprintf(f, "  n%d [label=\"%s\"];\n", i, n->type == N_KERNEL && n->k.f ? n->k.f->json_name : n->kind ? n->kind : "node");
        if (i) fprintf(f, "  n%d -> n%d;\n", i - 1, i);
    }
    fprintf(f, "}\n");
    fclose(f);
    API_RETURN(CUDA_SUCCESS);
}
