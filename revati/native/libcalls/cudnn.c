/* revati library-call context: cuDNN graph executions (cudnnBackendExecute), described from the graph.
 *
 * An execution plan does not say what it computes through public queries without knowing each
 * operation's descriptor type beforehand, so the interposer follows the descriptors as the program
 * builds them: their types (cudnnBackendCreateDescriptor), the attributes that link them
 * (cudnnBackendSetAttribute: tensor dims and data type, an operation's tensors, a graph's operations,
 * engine -> graph, engine config -> engine, heuristics -> graph, plan -> engine config) and the engine
 * configs that heuristics hand out (cudnnBackendGetAttribute of ENGINEHEUR_RESULTS). At execution the
 * plan leads to its graph: an SDPA operation gives the attention shape; otherwise the first matmul's
 * operand shapes (the Q·K^T of a composed attention graph) and the operation count. The values are
 * those of cuDNN 9's public cudnn_graph.h; the types are declared here (the header needs CUDA's).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "libcalls.h"

typedef int cudnn_status;
typedef void *cudnn_desc;
typedef struct cudnnContext *cudnn_handle;

enum {
    /* cudnnBackendDescriptorType_t */
    T_ENGINE = 2, T_ENGINECFG = 3, T_ENGINEHEUR = 4, T_PLAN = 5, T_OPGRAPH = 15, T_TENSOR = 17,
    T_OP_MATMUL = 19, T_OP_SDPA_FWD = 41,
    /* cudnnBackendAttributeName_t */
    A_ENGINECFG_ENGINE = 300, A_PLAN_ENGINE_CONFIG = 401, A_ENGINEHEUR_OPERATION_GRAPH = 201,
    A_ENGINEHEUR_RESULTS = 202, A_OPGRAPH_OPS = 801, A_TENSOR_DATA_TYPE = 901, A_TENSOR_DIMS = 902,
    A_ENGINE_OPERATION_GRAPH = 1300, A_MATMUL_ADESC = 1520, A_MATMUL_BDESC = 1521, A_SDPA_QDESC = 2800,
    A_SDPA_KDESC = 2801,
    /* cudnnBackendAttributeType_t */
    AT_DATA_TYPE = 1, AT_INT64 = 3, AT_DESCRIPTOR = 15,
    CUDNN_NOT_INITIALIZED = 1001,
    SLOTS = 8192, MAX_OPS = 32, MAX_DIMS = 8,
};

typedef struct rec {
    cudnn_desc d; /* NULL: free slot; (void *)1: deleted */
    int type;
    int dtype, ndims;
    int64_t dims[MAX_DIMS];
    cudnn_desc link[2];       /* op: A/B or Q/K; engine, cfg, heur, plan: what it leads to */
    cudnn_desc ops[MAX_OPS];  /* operation graph */
    int nops;
    char *text;               /* plan: its description, made once */
    size_t text_len;
} rec;

static rec g_recs[SLOTS];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static const char *const SONAMES[] = {"libcudnn.so.9", "libcudnn_graph.so.9", "libcudnn.so", NULL};
#define DELETED ((cudnn_desc)1)

/* The caller holds g_mu. create: claim a slot when d has none. */
static rec *find(cudnn_desc d, int create) {
    if (!d || d == DELETED) return NULL;
    size_t h = ((uintptr_t)d >> 4) * 0x9e3779b97f4a7c15ULL % SLOTS;
    rec *tomb = NULL;
    for (size_t i = 0; i < SLOTS; ++i) {
        rec *r = &g_recs[(h + i) % SLOTS];
        if (r->d == d) return r;
        if (r->d == DELETED && !tomb) tomb = r;
        if (!r->d) {
            if (!create) return NULL;
            r = tomb ? tomb : r;
            memset(r, 0, sizeof *r);
            r->d = d;
            return r;
        }
    }
    return create ? tomb : NULL;
}

static const char *dtype_name(int t) {
    switch (t) {
    case 0: return "f32";
    case 1: return "f64";
    case 2: return "f16";
    case 9: return "bf16";
    case 12: return "fp8e4m3";
    case 13: return "fp8e5m2";
    default: return "other";
    }
}

/* key0, key1, ... for the first four dimensions of t */
static void put_dims(rv_obj *o, const char *key, const rec *t) {
    char k[8];
    for (int i = 0; t && i < t->ndims && i < 4; ++i) {
        k[0] = key[0], k[1] = (char)('0' + i), k[2] = 0;
        rv_obj_int(o, k, t->dims[i]);
    }
}

/* The caller holds g_mu: plan -> engine config -> (engine ->) graph. */
static rec *graph_of_plan(rec *plan) {
    rec *r = plan;
    for (int hop = 0; r && r->type != T_OPGRAPH && hop < 4; ++hop) r = find(r->link[0], 0);
    return r && r->type == T_OPGRAPH ? r : NULL;
}

/* The caller holds g_mu. */
static void describe_plan(rec *plan) {
    rv_obj o;
    rec *g = graph_of_plan(plan);
    if (!g) {
        rv_obj_begin(&o, "cudnn", "execute");
    } else {
        rec *sdpa = NULL, *mm = NULL;
        int nmm = 0;
        for (int i = 0; i < g->nops; ++i) {
            rec *op = find(g->ops[i], 0);
            if (!op) continue;
            if (op->type == T_OP_SDPA_FWD && !sdpa) sdpa = op;
            if (op->type == T_OP_MATMUL && nmm++ == 0) mm = op;
        }
        if (sdpa) {
            rec *q = find(sdpa->link[0], 0), *k = find(sdpa->link[1], 0);
            rv_obj_begin(&o, "cudnn", "sdpa_fwd");
            if (q && q->ndims == 4 && k && k->ndims == 4) { /* [b, h, s, d] */
                rv_obj_int(&o, "batch", q->dims[0]);
                rv_obj_int(&o, "heads", q->dims[1]);
                rv_obj_int(&o, "heads_kv", k->dims[1]);
                rv_obj_int(&o, "head_dim", q->dims[3]);
                rv_obj_int(&o, "seqlen_q", q->dims[2]);
                rv_obj_int(&o, "seqlen_k", k->dims[2]);
                rv_obj_str(&o, "dtype", dtype_name(q->dtype));
            }
        } else {
            rv_obj_begin(&o, "cudnn", "graph");
            rv_obj_int(&o, "ops", g->nops);
            rv_obj_int(&o, "matmuls", nmm);
            if (mm) {
                rec *a = find(mm->link[0], 0), *b = find(mm->link[1], 0);
                put_dims(&o, "a", a);
                put_dims(&o, "b", b);
                if (a) rv_obj_str(&o, "dtype", dtype_name(a->dtype));
            }
        }
    }
    size_t n = rv_obj_end(&o);
    plan->text = malloc(n + 1);
    if (plan->text) memcpy(plan->text, o.buf, n), plan->text[n] = 0, plan->text_len = n;
}

typedef cudnn_status (*create_fn)(int, cudnn_desc *);
typedef cudnn_status (*destroy_fn)(cudnn_desc);
typedef cudnn_status (*set_fn)(cudnn_desc, int, int, int64_t, const void *);
typedef cudnn_status (*get_fn)(cudnn_desc, int, int, int64_t, int64_t *, void *);
typedef cudnn_status (*exec_fn)(cudnn_handle, cudnn_desc, cudnn_desc);

// cudnnBackendCreateDescriptor: the real call; the new descriptor's type is remembered
RV_EXPORT cudnn_status cudnnBackendCreateDescriptor(int type, cudnn_desc *desc) {
    static create_fn real;
    if (!real) real = (create_fn)rv_real_symbol("cudnnBackendCreateDescriptor", SONAMES);
    cudnn_status s = real ? real(type, desc) : CUDNN_NOT_INITIALIZED;
    if (s == 0 && desc) {
        pthread_mutex_lock(&g_mu);
        rec *r = find(*desc, 1);
        if (r) {
            free(r->text);
            memset(r, 0, sizeof *r);
            r->d = *desc, r->type = type;
        }
        pthread_mutex_unlock(&g_mu);
    }
    return s;
}

// cudnnBackendDestroyDescriptor: the real call; the descriptor is forgotten
RV_EXPORT cudnn_status cudnnBackendDestroyDescriptor(cudnn_desc desc) {
    static destroy_fn real;
    if (!real) real = (destroy_fn)rv_real_symbol("cudnnBackendDestroyDescriptor", SONAMES);
    pthread_mutex_lock(&g_mu);
    rec *r = find(desc, 0);
    if (r) free(r->text), memset(r, 0, sizeof *r), r->d = DELETED;
    pthread_mutex_unlock(&g_mu);
    return real ? real(desc) : CUDNN_NOT_INITIALIZED;
}

/* The caller holds g_mu. */
static void note_attr(rec *r, int name, int type, int64_t n, const void *v) {
    if (type == AT_DESCRIPTOR && n >= 1) {
        const cudnn_desc *ds = v;
        switch (name) {
        case A_MATMUL_ADESC: case A_SDPA_QDESC: case A_ENGINECFG_ENGINE: case A_PLAN_ENGINE_CONFIG:
        case A_ENGINE_OPERATION_GRAPH: case A_ENGINEHEUR_OPERATION_GRAPH:
            r->link[0] = ds[0];
            break;
        case A_MATMUL_BDESC: case A_SDPA_KDESC:
            r->link[1] = ds[0];
            break;
        case A_OPGRAPH_OPS:
            r->nops = (int)(n < MAX_OPS ? n : MAX_OPS);
            memcpy(r->ops, ds, (size_t)r->nops * sizeof *ds);
            break;
        default:
            break;
        }
    } else if (name == A_TENSOR_DIMS && type == AT_INT64 && n >= 1) {
        r->ndims = (int)(n < MAX_DIMS ? n : MAX_DIMS);
        memcpy(r->dims, v, (size_t)r->ndims * sizeof(int64_t));
    } else if (name == A_TENSOR_DATA_TYPE && type == AT_DATA_TYPE && n >= 1) {
        memcpy(&r->dtype, v, sizeof(int));
    }
}

// cudnnBackendSetAttribute: the real call; links between descriptors and tensor shapes are remembered
RV_EXPORT cudnn_status cudnnBackendSetAttribute(cudnn_desc desc, int name, int type, int64_t n, const void *v) {
    static set_fn real;
    if (!real) real = (set_fn)rv_real_symbol("cudnnBackendSetAttribute", SONAMES);
    cudnn_status s = real ? real(desc, name, type, n, v) : CUDNN_NOT_INITIALIZED;
    if (s == 0 && v) {
        rv_libcalls_enter();
        pthread_mutex_lock(&g_mu);
        rec *r = find(desc, 0);
        if (r) note_attr(r, name, type, n, v);
        pthread_mutex_unlock(&g_mu);
        rv_libcalls_leave();
    }
    return s;
}

// cudnnBackendGetAttribute: the real call; engine configs from heuristics remember their graph
RV_EXPORT cudnn_status cudnnBackendGetAttribute(cudnn_desc desc, int name, int type, int64_t req, int64_t *n,
                                                void *v) {
    static get_fn real;
    if (!real) real = (get_fn)rv_real_symbol("cudnnBackendGetAttribute", SONAMES);
    cudnn_status s = real ? real(desc, name, type, req, n, v) : CUDNN_NOT_INITIALIZED;
    if (s == 0 && name == A_ENGINEHEUR_RESULTS && type == AT_DESCRIPTOR && v && n) {
        rv_libcalls_enter();
        pthread_mutex_lock(&g_mu);
        rec *heur = find(desc, 0);
        int64_t got = *n < req ? *n : req;
        for (int64_t i = 0; heur && i < got; ++i) {
            rec *cfg = find(((cudnn_desc *)v)[i], 0);
            if (cfg && !cfg->link[0]) cfg->link[0] = heur->link[0]; /* cfg -> the heuristics' graph */
        }
        pthread_mutex_unlock(&g_mu);
        rv_libcalls_leave();
    }
    return s;
}

// cudnnBackendExecute: the real execution, its kernels tagged with the plan's graph (SDPA shape or matmul)
RV_EXPORT cudnn_status cudnnBackendExecute(cudnn_handle h, cudnn_desc plan, cudnn_desc pack) {
    static exec_fn real;
    if (!real) real = (exec_fn)rv_real_symbol("cudnnBackendExecute", SONAMES);
    rv_opctx_saved saved;
    rv_obj o;
    size_t len = 0;
    rv_libcalls_enter();
    pthread_mutex_lock(&g_mu);
    rec *r = find(plan, 0);
    if (r && !r->text) describe_plan(r);
    if (r && r->text && r->text_len < sizeof o.buf) memcpy(o.buf, r->text, r->text_len + 1), len = r->text_len;
    pthread_mutex_unlock(&g_mu);
    if (!len) {
        rv_obj_begin(&o, "cudnn", "execute");
        len = rv_obj_end(&o);
    }
    rv_opctx_push(o.buf, len, &saved);
    rv_libcalls_leave();
    cudnn_status s = real ? real(h, plan, pack) : CUDNN_NOT_INITIALIZED;
    rv_opctx_pop(&saved);
    return s;
}
