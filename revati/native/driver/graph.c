/* revati driver: CUDA graphs: building, instantiation and replay; a launch charges every node at
 * max(launch start, end of its dependencies), so parallel branches overlap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph.h"
#include "revati/nccl_graph.h"
#include "values/values.h"

/* What a node's event held when its template was kept: the template stands while these are the same
 * (the node's own launch, copy and graph id do not change between replays: the calls that change them
 * reset the keep). A kernel whose op depends on device memory (FA3) is described anew at each replay
 * and keeps none. */
typedef struct node_keep {
    rv_trace_tmpl t;
    const void *feat;
    const char *pred, *src, *how, *pv, *model;
    int xdev, dev;
    unsigned long long track;
    rv_values_memo vm; /* its value tracking's lookups */
} node_keep;

/* Forget what the node kept (its launch changed, or the exec goes away). */
static void keep_reset(node_keep *nk) {
    rv_values_memo_reset(&nk->vm);
    memset(nk, 0, sizeof *nk);
}

typedef struct rv_exec {
    uint32_t magic;
    unsigned long long id;
    gnode *nodes; /* copies, in a topological order */
    gnode **orig; /* the graph nodes they came from */
    int **dep_idx; /* per node: indices (into nodes) of its dependencies */
    int *ndep;
    int n;
    node_keep *keep; /* per node: what its replays keep (used by one replay at a time: keep_mu) */
    pthread_mutex_t keep_mu;
    rv_uobj_refs uobjs; /* its own references to the graph's user objects */
} rv_exec;

static unsigned long long g_next_graph = 1, g_next_exec = 1;
pthread_mutex_t rv_graph_mu = PTHREAD_MUTEX_INITIALIZER;

rv_graph *rv_graph_from(const void *h) {
    rv_graph *g = (rv_graph *)h;
    return g && g->magic == GRAPH_MAGIC ? g : NULL;
}

int rv_graph_valid(const void *h) { return rv_graph_from(h) != NULL; }

static rv_exec *exec_from(const void *h) {
    rv_exec *e = (rv_exec *)h;
    return e && e->magic == EXEC_MAGIC ? e : NULL;
}

gnode *rv_graph_node_from(const void *h) {
    gnode *n = (gnode *)h;
    return n && n->magic == NODE_MAGIC ? n : NULL;
}

rv_graph *rv_graph_new(void) {
    rv_graph *g = calloc(1, sizeof *g);
    g->magic = GRAPH_MAGIC;
    g->id = __atomic_fetch_add(&g_next_graph, 1, __ATOMIC_RELAXED);
    return g;
}

void rv_graph_node_add_dep(gnode *n, gnode *d) {
    if (!d || d == n) return;
    for (int i = 0; i < n->ndeps; ++i)
        if (n->deps[i] == d) return;
    if (n->ndeps == n->capdeps) {
        n->capdeps = n->capdeps ? n->capdeps * 2 : 4;
        n->deps = realloc(n->deps, (size_t)n->capdeps * sizeof *n->deps);
    }
    n->deps[n->ndeps++] = d;
}

gnode *rv_graph_add_node(rv_graph *g, int type, const CUgraphNode *deps, size_t ndeps) {
    gnode *n = calloc(1, sizeof *n);
    n->magic = NODE_MAGIC;
    n->type = type;
    n->g = g;
    for (size_t i = 0; deps && i < ndeps; ++i) rv_graph_node_add_dep(n, (gnode *)deps[i]);
    pthread_mutex_lock(&rv_graph_mu);
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : 64;
        g->nodes = realloc(g->nodes, (size_t)g->cap * sizeof *g->nodes);
    }
    n->index = g->n;
    g->nodes[g->n++] = n;
    pthread_mutex_unlock(&rv_graph_mu);
    return n;
}

void rv_trace_graph(const char *what, unsigned long long id, rv_stream *s, int nodes, rv_vtime_ns ts, rv_vtime_ns end) {
    if (!rv_tracing()) return;
    int dev = s ? s->dev : rv_ctx_current_or_primary()->dev;
    rv_trace_emit("graph",
                  "\"what\":\"%s\",\"graph\":%llu,\"dev\":%d,\"stream\":%llu,\"nodes\":%d,\"ts_ns\":%llu,\"end_ns\":%llu",
                  what, id, dev, s ? s->id : 0ULL, nodes, (unsigned long long)ts, (unsigned long long)end);
}

// cuGraphCreate: an empty graph
RV_EXPORT CUresult cuGraphCreate(CUgraph *phGraph, unsigned int flags) {
    API_ENTER();
    if (!phGraph) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *phGraph = (CUgraph)rv_graph_new();
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphDestroy: the graph and its nodes are poisoned (instantiated execs keep their own copies); its user objects are released
RV_EXPORT CUresult cuGraphDestroy(CUgraph hGraph) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
    if (!g) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    g->magic = 0;
    rv_uobj_refs_drop_all(&g->uobjs);
    API_RETURN(CUDA_SUCCESS);
}

/* A kernel node's launch and features; keep_op: the op of the node it replaces (NULL for a new node). */
static CUresult kernel_params(rv_kernel_op *k, const CUDA_KERNEL_NODE_PARAMS *p, const char *keep_op) {
    CUresult r = rv_kernel_op_from_node(k, p);
    if (r == CUDA_SUCCESS) k->feat = rv_kfeat_keep(rv_kfeat_now(k, keep_op));
    return r;
}

static const char *op_of(const rv_kernel_op *k) { return k->feat ? k->feat->op : NULL; }

// cuGraphAddKernelNode_v2: a kernel node after its dependencies
RV_EXPORT CUresult cuGraphAddKernelNode_v2(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                           size_t numDependencies, const CUDA_KERNEL_NODE_PARAMS *nodeParams) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !phGraphNode || !nodeParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_kernel_op k;
    CUresult r = kernel_params(&k, nodeParams, NULL);
    if (r != CUDA_SUCCESS) API_RETURN(r);
    gnode *n = rv_graph_add_node(g, N_KERNEL, dependencies, numDependencies);
    n->k = k;
    *phGraphNode = (CUgraphNode)n;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphAddMemsetNode: a memset node of width*height*elementSize bytes
RV_EXPORT CUresult cuGraphAddMemsetNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                        size_t numDependencies, const CUDA_MEMSET_NODE_PARAMS *memsetParams,
                                        CUcontext ctx) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !phGraphNode || !memsetParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    gnode *n = rv_graph_add_node(g, N_MEMSET, dependencies, numDependencies);
    n->bytes = (uint64_t)memsetParams->width * memsetParams->height * memsetParams->elementSize;
    *phGraphNode = (CUgraphNode)n;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphAddMemcpyNode: a copy node (direction from the memory types)
RV_EXPORT CUresult cuGraphAddMemcpyNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                        size_t numDependencies, const CUDA_MEMCPY3D *copyParams, CUcontext ctx) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !phGraphNode || !copyParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    gnode *n = rv_graph_add_node(g, N_COPY, dependencies, numDependencies);
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
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !phGraphNode) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *phGraphNode = (CUgraphNode)rv_graph_add_node(g, N_EMPTY, dependencies, numDependencies);
    API_RETURN(CUDA_SUCCESS);
}

static CUresult add_edges(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to, size_t n) {
    rv_graph *g = rv_graph_from(hGraph);
    if (!g) return CUDA_ERROR_INVALID_HANDLE;
    if (n && (!from || !to)) return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < n; ++i) {
        gnode *a = rv_graph_node_from(from[i]), *b = rv_graph_node_from(to[i]);
        if (!a || !b || a->g != g || b->g != g) return CUDA_ERROR_INVALID_VALUE;
        rv_graph_node_add_dep(b, a);
    }
    return CUDA_SUCCESS;
}

// cuGraphAddHostNode: a host function node; it runs on the launching thread when the graph is launched
RV_EXPORT CUresult cuGraphAddHostNode(CUgraphNode *phGraphNode, CUgraph hGraph, const CUgraphNode *dependencies,
                                      size_t numDependencies, const CUDA_HOST_NODE_PARAMS *nodeParams) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !phGraphNode || !nodeParams || !nodeParams->fn) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    gnode *n = rv_graph_add_node(g, N_HOST, dependencies, numDependencies);
    n->host_fn = nodeParams->fn;
    n->host_data = nodeParams->userData;
    *phGraphNode = (CUgraphNode)n;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphAddDependencies_v2: to[i] waits for from[i]
RV_EXPORT CUresult cuGraphAddDependencies_v2(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                                             const CUgraphEdgeData *edgeData, size_t numDependencies) {
    API_ENTER();
    API_RETURN(add_edges(hGraph, from, to, numDependencies));
}

// cuGraphAddDependencies: to[i] waits for from[i]
RV_EXPORT CUresult cuGraphAddDependencies(CUgraph hGraph, const CUgraphNode *from, const CUgraphNode *to,
                                          size_t numDependencies) {
    API_ENTER();
    API_RETURN(add_edges(hGraph, from, to, numDependencies));
}

// cuGraphGetNodes: nodes in insertion order; NULL nodes asks for the count
RV_EXPORT CUresult cuGraphGetNodes(CUgraph hGraph, CUgraphNode *nodes, size_t *numNodes) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
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

// cuGraphGetRootNodes: the nodes without dependencies; NULL rootNodes asks for the count
RV_EXPORT CUresult cuGraphGetRootNodes(CUgraph hGraph, CUgraphNode *rootNodes, size_t *numRootNodes) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !numRootNodes) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    size_t k = 0;
    for (int i = 0; i < g->n; ++i) {
        if (g->nodes[i]->ndeps) continue;
        if (rootNodes && k < *numRootNodes) rootNodes[k] = (CUgraphNode)g->nodes[i];
        ++k;
    }
    *numRootNodes = rootNodes && k > *numRootNodes ? *numRootNodes : k;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphNodeGetType: kernel, memcpy, memset, host, event record, event wait or empty
RV_EXPORT CUresult cuGraphNodeGetType(CUgraphNode hNode, CUgraphNodeType *type) {
    API_ENTER();
    gnode *n = rv_graph_node_from(hNode);
    if (!n || !type) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *type = n->type == N_KERNEL ? CU_GRAPH_NODE_TYPE_KERNEL
            : n->type == N_COPY ? CU_GRAPH_NODE_TYPE_MEMCPY
            : n->type == N_MEMSET ? CU_GRAPH_NODE_TYPE_MEMSET
            : n->type == N_HOST   ? CU_GRAPH_NODE_TYPE_HOST
            : n->type == N_EVENT_RECORD ? CU_GRAPH_NODE_TYPE_EVENT_RECORD
            : n->type == N_EVENT_WAIT   ? CU_GRAPH_NODE_TYPE_WAIT_EVENT
                                  : CU_GRAPH_NODE_TYPE_EMPTY;
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphKernelNodeGetParams_v2: function, grid, block and shared memory of a kernel node
RV_EXPORT CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode hNode, CUDA_KERNEL_NODE_PARAMS *nodeParams) {
    API_ENTER();
    gnode *n = rv_graph_node_from(hNode);
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
    gnode *n = rv_graph_node_from(hNode);
    if (!n || n->type != N_KERNEL || !nodeParams) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(kernel_params(&n->k, nodeParams, op_of(&n->k)));
}

static CUresult instantiate(CUgraphExec *out, CUgraph hGraph) {
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !out) return CUDA_ERROR_INVALID_VALUE;
    int n = g->n;
    /* a topological order (Kahn; ties in insertion order), so every node follows its dependencies */
    int *indeg = calloc((size_t)(n ? n : 1), sizeof *indeg), *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    int *pos = malloc((size_t)(n ? n : 1) * sizeof *pos);
    for (int i = 0; i < n; ++i) indeg[i] = g->nodes[i]->ndeps;
    int done = 0;
    for (int pass = 0; done < n && pass <= n; ++pass) {
        int progressed = 0;
        for (int i = 0; i < n; ++i) {
            if (indeg[i] != 0) continue;
            indeg[i] = -1;
            pos[i] = done;
            order[done++] = i;
            progressed = 1;
            for (int j = 0; j < n; ++j)
                for (int d = 0; d < g->nodes[j]->ndeps; ++d)
                    if (g->nodes[j]->deps[d] == g->nodes[i]) indeg[j]--;
        }
        if (!progressed) break;
    }
    if (done < n) {
        free(indeg), free(order), free(pos);
        return CUDA_ERROR_INVALID_VALUE; /* a cycle */
    }
    rv_exec *e = calloc(1, sizeof *e);
    e->magic = EXEC_MAGIC;
    e->id = __atomic_fetch_add(&g_next_exec, 1, __ATOMIC_RELAXED);
    e->n = n;
    e->nodes = calloc((size_t)(n ? n : 1), sizeof *e->nodes);
    e->orig = calloc((size_t)(n ? n : 1), sizeof *e->orig);
    e->dep_idx = calloc((size_t)(n ? n : 1), sizeof *e->dep_idx);
    e->ndep = calloc((size_t)(n ? n : 1), sizeof *e->ndep);
    e->keep = calloc((size_t)(n ? n : 1), sizeof *e->keep);
    pthread_mutex_init(&e->keep_mu, NULL);
    for (int k = 0; k < n; ++k) {
        gnode *src = g->nodes[order[k]];
        e->nodes[k] = *src;
        e->nodes[k].deps = NULL;
        e->orig[k] = src;
        e->ndep[k] = src->ndeps;
        e->dep_idx[k] = malloc((size_t)(src->ndeps ? src->ndeps : 1) * sizeof(int));
        for (int d = 0; d < src->ndeps; ++d) e->dep_idx[k][d] = pos[src->deps[d]->index];
    }
    free(indeg), free(order), free(pos);
    rv_uobj_refs_copy(&e->uobjs, &g->uobjs);
    *out = (CUgraphExec)e;
    rv_vtime_ns now = rv_vnow();
    rv_trace_graph("instantiate", e->id, NULL, e->n, now, now);
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
        if (e->orig[i] == (gnode *)hNode && e->nodes[i].type == N_KERNEL) {
            pthread_mutex_lock(&e->keep_mu);
            keep_reset(&e->keep[i]);
            CUresult r = kernel_params(&e->nodes[i].k, nodeParams, op_of(&e->nodes[i].k));
            pthread_mutex_unlock(&e->keep_mu);
            API_RETURN(r);
        }
    API_RETURN(CUDA_ERROR_INVALID_VALUE);
}

// cuGraphExecUpdate_v2: the exec takes the graph's node parameters when the topology matches
RV_EXPORT CUresult cuGraphExecUpdate_v2(CUgraphExec hGraphExec, CUgraph hGraph, CUgraphExecUpdateResultInfo *resultInfo) {
    API_ENTER();
    rv_exec *e = exec_from(hGraphExec);
    rv_graph *g = rv_graph_from(hGraph);
    if (!e || !g) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int ok = e->n == g->n;
    for (int i = 0; ok && i < e->n; ++i) { /* same topology: node k of the new graph replaces node k */
        int k = e->orig[i]->index;
        ok = k < g->n && e->nodes[i].type == g->nodes[k]->type && e->ndep[i] == g->nodes[k]->ndeps;
        if (ok) e->nodes[i] = *g->nodes[k], e->nodes[i].deps = NULL, e->orig[i] = g->nodes[k];
    }
    pthread_mutex_lock(&e->keep_mu);
    for (int i = 0; i < e->n; ++i) keep_reset(&e->keep[i]);
    pthread_mutex_unlock(&e->keep_mu);
    if (resultInfo) {
        memset(resultInfo, 0, sizeof *resultInfo);
        resultInfo->result = ok ? CU_GRAPH_EXEC_UPDATE_SUCCESS : CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED;
    }
    API_RETURN(ok ? CUDA_SUCCESS : CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
}

/* A captured 1D copy or memset moves its bytes again at each replay (values, as on the GPU). */
static void replay_copy(const gnode *n, int dev) {
    if (!n->dst || (n->type == N_COPY && !n->src) || n->bytes > rv_materialize_max()) return;
    if (n->type == N_COPY) {
        memmove((void *)n->dst, (const void *)n->src, n->bytes);
        rv_values_copy(n->kind, n->dst, n->src, n->bytes, dev, "cuGraphLaunch");
        return;
    }
    uint8_t *p = (uint8_t *)n->dst;
    if (n->memset_elem == 2)
        for (uint64_t i = 0; i < n->bytes / 2; ++i) ((uint16_t *)p)[i] = (uint16_t)n->memset_value;
    else if (n->memset_elem == 4)
        for (uint64_t i = 0; i < n->bytes / 4; ++i) ((uint32_t *)p)[i] = n->memset_value;
    else memset(p, (int)(n->memset_value & 0xff), n->bytes);
    rv_values_clear(n->dst, n->bytes);
}

/* The node's kept template when its event is the one kept, else a reset keep (filled by this replay);
 * NULL for a kernel described anew at each replay. */
static rv_trace_tmpl *kept_kernel(node_keep *nk, const rv_kernel_op *now, const rv_pred *p, int dev,
                                  unsigned long long track) {
    if (now->feat && now->feat->reads_mem) return NULL;
    const char *pv = rv_predictor_version(), *model = rv_predictor_model_hash();
    if (nk->feat != now->feat || nk->pred != p->pred || nk->src != p->src || nk->how != p->how || nk->pv != pv ||
        nk->model != model || nk->xdev != p->xdev || nk->dev != dev || nk->track != track) {
        memset(&nk->t, 0, sizeof nk->t);
        nk->feat = now->feat, nk->pred = p->pred, nk->src = p->src, nk->how = p->how, nk->pv = pv, nk->model = model;
        nk->xdev = p->xdev, nk->dev = dev, nk->track = track;
    }
    return &nk->t;
}

// cuGraphLaunch: each node starts at max(launch start, end of its dependencies + the device's graph gap);
// the stream is ready at the last end
RV_EXPORT CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream) {
    API_ENTER();
    rv_exec *e = exec_from(hGraphExec);
    rv_stream *s = rv_stream_resolve(hStream);
    if (!e || !s) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (s->capture) API_RETURN(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    rv__call.corr = rv_next_corr();
    API_ARGS("exec=%llu nodes=%d", e->id, e->n);
    rv_vtime_ns ready = rv_stream_ready(s), now = rv_vnow();
    rv_vtime_ns t0 = ready > now ? ready : now, last = t0;
    rv_vtime_ns *end = malloc((size_t)(e->n ? e->n : 1) * sizeof *end);
    /* another thread replaying this exec now has its keep: this replay works without */
    int kept = pthread_mutex_trylock(&e->keep_mu) == 0;
    /* a node that waits for another starts graph_gap_ns after it ends on a real GPU (the work
     * distributor's latency between dependent nodes, docs/predictors.md); empty and host nodes pass
     * their dependencies' ends on unchanged, so a chain through them pays the gap once */
    const rv_vdur_ns gap = rv_conf()->graph_gap_ns;
    for (int i = 0; i < e->n; ++i) {
        gnode *n = &e->nodes[i];
        int gpu_work = n->type == N_KERNEL || n->type == N_COPY || n->type == N_MEMSET;
        rv_vtime_ns start = t0;
        for (int d = 0; d < e->ndep[i]; ++d) {
            rv_vtime_ns after = end[e->dep_idx[i][d]] + (gpu_work ? gap : 0);
            if (after > start) start = after;
        }
        /* a branch captured on another stream is shown on that stream's track */
        unsigned long long track = n->lane ? n->lane : s->id;
        if (n->type == N_KERNEL) {
            rv_kernel_op now = n->k; /* a kernel whose work device memory sets is described as it is now */
            if (n->k.feat && n->k.feat->reads_mem) now.feat = rv_kfeat_replay(&n->k);
            rv_pred p = rv_predict_kernel(&now, track, s->dev);
            p.dur = rv_power_stretch(s->dev, start, p.dur, p.heavy);
            end[i] = start + p.dur;
            node_keep *nk = kept ? &e->keep[i] : NULL;
            rv_values_kernel_memo(s->dev, &n->k, rv__call.corr, nk ? &nk->vm : NULL);
            rv_emit_kernel_kept(nk ? kept_kernel(nk, &now, &p, s->dev, track) : NULL, s->dev, track, &now, p, start,
                                end[i], rv__call.corr, e->id);
            void *met = n->coll ? rv_nccl_replay_publish(n->coll, s->dev, track, start) : NULL;
            if (met) { /* NCCL's kernel: it ends no earlier than its ranks' rendezvous (a real wait) */
                rv_leave();
                rv_vtime_ns ce = rv_nccl_replay_wait(met);
                rv_enter();
                if (ce > end[i]) end[i] = ce;
            }
        } else if (n->type == N_COPY || n->type == N_MEMSET) {
            replay_copy(n, s->dev);
            rv_vdur_ns d = n->type == N_COPY ? rv_predict_copy(n->kind, n->bytes, s->dev) : rv_predict_memset(n->bytes, s->dev);
            end[i] = start + d;
            node_keep *nk = kept ? &e->keep[i] : NULL;
            if (nk && (nk->dev != s->dev || nk->track != track)) keep_reset(nk), nk->dev = s->dev, nk->track = track;
            rv_emit_copy_kept(nk ? &nk->t : NULL, s->dev, track, n->type == N_COPY ? n->kind : NULL, n->bytes, start, end[i],
                              rv__call.corr, e->id);
        } else {
            if (n->type == N_EVENT_WAIT) {
                rv_vtime_ns t = rv_event_wait_time(n->event);
                if (t > start) start = t;
            }
            end[i] = start;
            if (n->type == N_EVENT_RECORD) rv_event_replayed(n->event, s->dev, start);
            if (n->type == N_HOST && n->host_fn) { /* program code: outside revati's bracket */
                rv_leave();
                n->host_fn(n->host_data);
                rv_enter();
            }
        }
        if (end[i] > last) last = end[i];
    }
    free(end);
    if (kept) pthread_mutex_unlock(&e->keep_mu);
    rv_stream_wait_until(s, last);
    rv_trace_graph("launch", e->id, s, e->n, t0, last);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuGraphLaunch_ptsz, cuGraphLaunch);

// cuGraphUpload: nothing to upload
RV_EXPORT CUresult cuGraphUpload(CUgraphExec hGraphExec, CUstream hStream) {
    API_ENTER();
    API_RETURN(exec_from(hGraphExec) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}
RV_ALIAS(cuGraphUpload_ptsz, cuGraphUpload);

// cuGraphExecDestroy: the exec is poisoned and freed; its user objects are released
RV_EXPORT CUresult cuGraphExecDestroy(CUgraphExec hGraphExec) {
    API_ENTER();
    rv_exec *e = exec_from(hGraphExec);
    if (!e) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    e->magic = 0;
    rv_uobj_refs_drop_all(&e->uobjs);
    for (int i = 0; i < e->n; ++i) free(e->dep_idx[i]);
    free(e->dep_idx);
    free(e->ndep);
    for (int i = 0; i < e->n; ++i) keep_reset(&e->keep[i]);
    free(e->keep);
    pthread_mutex_destroy(&e->keep_mu);
    free(e->nodes);
    free(e->orig);
    free(e);
    API_RETURN(CUDA_SUCCESS);
}

// cuGraphDebugDotPrint: a DOT file listing the nodes in order
RV_EXPORT CUresult cuGraphDebugDotPrint(CUgraph hGraph, const char *path, unsigned int flags) {
    API_ENTER();
    rv_graph *g = rv_graph_from(hGraph);
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

static CUresult node_deps(CUgraphNode h, CUgraphNode *out, CUgraphEdgeData *edges, size_t *num) {
    gnode *n = rv_graph_node_from(h);
    if (!n || !num) return CUDA_ERROR_INVALID_VALUE;
    size_t k = (size_t)n->ndeps;
    if (out) {
        if (k > *num) k = *num;
        for (size_t i = 0; i < k; ++i) out[i] = (CUgraphNode)n->deps[i];
        if (edges) memset(edges, 0, k * sizeof *edges);
    }
    *num = k;
    return CUDA_SUCCESS;
}

static CUresult node_dependents(CUgraphNode h, CUgraphNode *out, CUgraphEdgeData *edges, size_t *num) {
    gnode *n = rv_graph_node_from(h);
    if (!n || !num) return CUDA_ERROR_INVALID_VALUE;
    rv_graph *g = n->g;
    size_t k = 0;
    for (int i = 0; i < g->n; ++i) {
        for (int d = 0; d < g->nodes[i]->ndeps; ++d) {
            if (g->nodes[i]->deps[d] != n) continue;
            if (out && k < *num) {
                out[k] = (CUgraphNode)g->nodes[i];
                if (edges) memset(&edges[k], 0, sizeof *edges);
            }
            ++k;
        }
    }
    *num = out && k > *num ? *num : k;
    return CUDA_SUCCESS;
}

// cuGraphNodeGetDependencies_v2: the nodes this node waits for (plain edges)
RV_EXPORT CUresult cuGraphNodeGetDependencies_v2(CUgraphNode hNode, CUgraphNode *dependencies, CUgraphEdgeData *edgeData,
                                                 size_t *numDependencies) {
    API_ENTER();
    API_RETURN(node_deps(hNode, dependencies, edgeData, numDependencies));
}

// cuGraphNodeGetDependencies: as the _v2 without edge data
RV_EXPORT CUresult cuGraphNodeGetDependencies(CUgraphNode hNode, CUgraphNode *dependencies, size_t *numDependencies) {
    API_ENTER();
    API_RETURN(node_deps(hNode, dependencies, NULL, numDependencies));
}

// cuGraphNodeGetDependentNodes_v2: the nodes that wait for this one
RV_EXPORT CUresult cuGraphNodeGetDependentNodes_v2(CUgraphNode hNode, CUgraphNode *dependentNodes, CUgraphEdgeData *edgeData,
                                                   size_t *numDependentNodes) {
    API_ENTER();
    API_RETURN(node_dependents(hNode, dependentNodes, edgeData, numDependentNodes));
}

// cuGraphNodeGetDependentNodes: as the _v2 without edge data
RV_EXPORT CUresult cuGraphNodeGetDependentNodes(CUgraphNode hNode, CUgraphNode *dependentNodes, size_t *numDependentNodes) {
    API_ENTER();
    API_RETURN(node_dependents(hNode, dependentNodes, NULL, numDependentNodes));
}

static CUresult edges(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *data, size_t *num) {
    rv_graph *g = rv_graph_from(hGraph);
    if (!g || !num) return CUDA_ERROR_INVALID_VALUE;
    size_t k = 0;
    for (int i = 0; i < g->n; ++i) {
        for (int d = 0; d < g->nodes[i]->ndeps; ++d) {
            if (from && to && k < *num) {
                from[k] = (CUgraphNode)g->nodes[i]->deps[d];
                to[k] = (CUgraphNode)g->nodes[i];
                if (data) memset(&data[k], 0, sizeof *data);
            }
            ++k;
        }
    }
    *num = from && to && k > *num ? *num : k;
    return CUDA_SUCCESS;
}

// cuGraphGetEdges_v2: every (dependency, node) pair
RV_EXPORT CUresult cuGraphGetEdges_v2(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, CUgraphEdgeData *edgeData,
                                      size_t *numEdges) {
    API_ENTER();
    API_RETURN(edges(hGraph, from, to, edgeData, numEdges));
}

// cuGraphGetEdges: as the _v2 without edge data
RV_EXPORT CUresult cuGraphGetEdges(CUgraph hGraph, CUgraphNode *from, CUgraphNode *to, size_t *numEdges) {
    API_ENTER();
    API_RETURN(edges(hGraph, from, to, NULL, numEdges));
}
