/* revati NCCL interposer: collectives and point-to-point operations. Each wrapper lets the real NCCL
 * enqueue its kernel, then meets the operation's other ranks: it completes at the latest arrival plus
 * the modelled duration, its stream is held until then, and a `collective` event is written. Inside
 * ncclGroupStart/End, operations are recorded and met at the outermost ncclGroupEnd (all published
 * before any is awaited). An operation issued on a capturing stream is met at each replay of its graph
 * instead (graph_ops.c). docs/coordination.md. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "rendezvous.h"
#include "revati/hosttime.h"
#include "revati/log.h"
#include "revati/trace.h"
#include "revati/types.h"
#include "revati/vclock.h"


static __thread int t_depth;
static __thread op_rec *t_pend;
static __thread int t_npend, t_cap;

typedef int (*stream_info_fn)(cudaStream_t, int *, unsigned long long *, unsigned long long *);
typedef void (*stream_hold_fn)(cudaStream_t, unsigned long long);
typedef int (*capture_mark_fn)(cudaStream_t, void **, int *);
static stream_info_fn g_info;
static stream_hold_fn g_hold;
static capture_mark_fn g_mark;

static int driver_hooks(void) {
    if (g_info && g_hold && g_mark) return 1;
    void *h = dlopen("libcuda.so.1", RTLD_NOLOAD | RTLD_LAZY);
    if (!h) return 0;
    g_info = (stream_info_fn)dlsym(h, "revati_stream_info");
    g_hold = (stream_hold_fn)dlsym(h, "revati_stream_hold");
    g_mark = (capture_mark_fn)dlsym(h, "revati_capture_mark");
    if (!g_info || !g_hold || !g_mark) {
        static int warned;
        if (!warned++) rv_warn("libcuda.so.1 is not revati's: NCCL collectives are not met across ranks");
        return 0;
    }
    return 1;
}

static size_t dtype_size(int t) {
    static const unsigned char sz[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
    return t >= 0 && t < (int)sizeof sz ? sz[t] : 1;
}

static const char *dtype_name(int t) {
    static const char *names[] = {"int8", "uint8", "int32", "uint32", "int64", "uint64",
                                  "fp16", "fp32", "fp64", "bf16", "fp8e4m3", "fp8e5m2"};
    return t >= 0 && t < (int)(sizeof names / sizeof *names) ? names[t] : "?";
}

/* arrival: when the operation can start on its stream (after the stream's earlier work, not before
 * the host issued it); on a capturing stream, the capture's node count (the kernel NCCL then
 * captures is the operation's node) */
static void arrive(op_rec *o) {
    o->skip = 1;
    o->ticket = -1;
    o->graph = NULL;
    if (!driver_hooks()) return;
    unsigned long long ready = 0;
    int st = g_info(o->stream, &o->dev, &o->sid, &ready);
    if (st == 1 && g_mark(o->stream, &o->graph, &o->graph_from) != 1) o->graph = NULL;
    if (st != 0) return; /* unknown, or captured into a graph */
    uint64_t now = rv_vnow();
    o->arrival = ready > now ? ready : now;
    o->skip = 0;
}

void rv_nccl_publish(op_rec *o) {
    if (o->skip) return;
    rv_ncomm_lock();
    rv_ncomm *c = rv_ncomm_find(o->comm);
    if (!c || (o->peer >= c->nranks)) {
        rv_ncomm_unlock();
        o->skip = 1;
        return;
    }
    o->key = c->key;
    o->rank = c->rank;
    o->nranks = c->nranks;
    size_t unit = o->count * dtype_size(o->dtype);
    int meet;
    if (o->peer >= 0) {
        /* the k-th transfer from src to dst: a send's src is this rank, a recv's the peer */
        int is_recv = !strcmp(o->op, "recv");
        int src = is_recv ? o->peer : c->rank, dst = is_recv ? c->rank : o->peer;
        uint64_t tag[4] = {c->key, (uint64_t)src, (uint64_t)dst, c->p2p_seq[2 * o->peer + is_recv]++};
        o->match = rv_fnv(RV_FNV_SEED ^ 0x7032, tag, sizeof tag);
        o->bytes = unit;
        meet = o->peer == c->rank ? 1 : 2;
    } else {
        uint64_t tag[2] = {c->key, c->seq++};
        o->match = rv_fnv(RV_FNV_SEED, tag, sizeof tag);
        int whole = !strcmp(o->op, "allgather") || !strcmp(o->op, "reducescatter") ||
                    !strcmp(o->op, "alltoall") || !strcmp(o->op, "gather");
        o->bytes = whole ? unit * (uint64_t)c->nranks : unit;
        meet = c->nranks;
    }
    rv_ncomm_unlock();
    o->model = rv_coll_model_ns(o->op, o->bytes, o->peer >= 0 ? meet : o->nranks, &o->algo);
    o->ticket = rv_rdv_arrive(o->match, o->key, meet, o->arrival, o->model);
}

uint64_t rv_nccl_finish(op_rec *o) {
    if (o->skip || o->ticket < 0) return 0;
    char what[64];
    snprintf(what, sizeof what, "%s #%llu", o->op, (unsigned long long)(o->match & 0xffff));
    /* the rank is blocked for its peers: that real time is not its host's time (while no other
     * thread of it runs), so a rank that waits for a late peer does not run ahead of its arrival */
    rv_blocked blk;
    rv_blocked_begin(&blk);
    uint64_t end = rv_rdv_wait(o->ticket, o->match, o->key, what);
    rv_blocked_end(&blk);
    rv_enter();
    if (!o->replay) g_hold(o->stream, end);
    char peers[32] = "[]";
    if (o->peer >= 0) snprintf(peers, sizeof peers, "[%d]", o->peer);
    rv_trace_emit("collective",
                  "\"op\":\"%s\",\"bytes\":%llu,\"dtype\":\"%s\",\"comm\":%llu,\"rank\":%d,\"nranks\":%d,"
                  "\"peers\":%s,\"dev\":%d,\"stream\":%llu,\"corr\":0,\"ts_ns\":%llu,\"end_ns\":%llu,"
                  "\"match\":%llu,\"algo\":\"%s\",\"model_ns\":%llu,\"wt_ns\":%llu",
                  o->op, (unsigned long long)o->bytes, dtype_name(o->dtype),
                  (unsigned long long)(o->key & 0xffffffffffffULL), o->rank, o->nranks, peers, o->dev, o->sid,
                  (unsigned long long)o->arrival, (unsigned long long)end,
                  (unsigned long long)(o->match & 0xffffffffffffULL), o->algo, (unsigned long long)o->model,
                  (unsigned long long)rv_wall_ns());
    rv_leave();
    return end;
}

/* One operation: inside a group it waits for the group's end; otherwise it is met now. real_rc is
 * the real call's result (the operation is met only when NCCL accepted it). */
static ncclResult_t issue(op_rec o, ncclResult_t (*call)(void *), void *args) {
    if (t_depth > 0) {
        ncclResult_t r = call(args);
        if (r != NCCL_OK && r != NCCL_IN_PROGRESS) return r;
        if (t_npend == t_cap) {
            int cap = t_cap ? 2 * t_cap : 16;
            op_rec *p = realloc(t_pend, (size_t)cap * sizeof *p);
            if (!p) return r;
            t_pend = p;
            t_cap = cap;
        }
        t_pend[t_npend++] = o;
        return r;
    }
    rv_enter();
    arrive(&o);
    rv_leave();
    ncclResult_t r = call(args);
    if (r != NCCL_OK && r != NCCL_IN_PROGRESS) return r;
    rv_enter();
    if (o.graph) rv_nccl_captured(&o);
    rv_nccl_publish(&o);
    rv_leave();
    rv_nccl_finish(&o);
    return r;
}

// ncclGroupStart: operations until the matching ncclGroupEnd are met together
RV_EXPORT ncclResult_t ncclGroupStart(void) {
    typedef ncclResult_t (*fn)(void);
    static fn real_;
    if (!real_) real_ = (fn)rv_nccl_real("ncclGroupStart");
    if (!real_) return NCCL_SYSTEM_ERROR;
    ncclResult_t r = real_();
    if (r == NCCL_OK) t_depth++;
    return r;
}

// ncclGroupEnd: the outermost end launches the group; its operations then meet their peers
RV_EXPORT ncclResult_t ncclGroupEnd(void) {
    typedef ncclResult_t (*fn)(void);
    static fn real_;
    if (!real_) real_ = (fn)rv_nccl_real("ncclGroupEnd");
    if (!real_) return NCCL_SYSTEM_ERROR;
    if (t_depth != 1) {
        ncclResult_t r = real_();
        if (t_depth > 0) t_depth--;
        return r;
    }
    rv_enter();
    for (int i = 0; i < t_npend; ++i) arrive(&t_pend[i]);
    rv_leave();
    ncclResult_t r = real_();
    t_depth = 0;
    int n = t_npend;
    t_npend = 0;
    if (r != NCCL_OK && r != NCCL_IN_PROGRESS) return r;
    rv_enter();
    for (int i = 0; i < n; ++i) {
        if (t_pend[i].graph) rv_nccl_captured(&t_pend[i]);
        rv_nccl_publish(&t_pend[i]);
    }
    rv_leave();
    for (int i = 0; i < n; ++i) rv_nccl_finish(&t_pend[i]);
    return r;
}

/* ---- the operations: each packs its arguments for the real call ---- */

#define REAL_FN(name, type)                           \
    static type real_;                                \
    if (!real_) real_ = (type)rv_nccl_real(name);     \
    if (!real_) return NCCL_SYSTEM_ERROR

typedef struct red_args {
    const void *send;
    void *recv;
    size_t count;
    ncclDataType_t dt;
    ncclRedOp_t op;
    int root;
    ncclComm_t comm;
    cudaStream_t stream;
    void *fn;
} red_args;

typedef ncclResult_t (*allreduce_fn)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                                     cudaStream_t);
typedef ncclResult_t (*rooted_red_fn)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, int, ncclComm_t,
                                      cudaStream_t);
typedef ncclResult_t (*rooted_fn)(const void *, void *, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
typedef ncclResult_t (*gather_fn)(const void *, void *, size_t, ncclDataType_t, ncclComm_t, cudaStream_t);
typedef ncclResult_t (*bcast_fn)(void *, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
typedef ncclResult_t (*p2p_fn)(const void *, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);

static ncclResult_t call_allreduce(void *p) {
    red_args *a = p;
    return ((allreduce_fn)a->fn)(a->send, a->recv, a->count, a->dt, a->op, a->comm, a->stream);
}
static ncclResult_t call_rooted_red(void *p) {
    red_args *a = p;
    return ((rooted_red_fn)a->fn)(a->send, a->recv, a->count, a->dt, a->op, a->root, a->comm, a->stream);
}
static ncclResult_t call_rooted(void *p) {
    red_args *a = p;
    return ((rooted_fn)a->fn)(a->send, a->recv, a->count, a->dt, a->root, a->comm, a->stream);
}
static ncclResult_t call_gather(void *p) {
    red_args *a = p;
    return ((gather_fn)a->fn)(a->send, a->recv, a->count, a->dt, a->comm, a->stream);
}
static ncclResult_t call_bcast(void *p) {
    red_args *a = p;
    return ((bcast_fn)a->fn)(a->recv, a->count, a->dt, a->root, a->comm, a->stream);
}
static ncclResult_t call_p2p(void *p) {
    red_args *a = p;
    return ((p2p_fn)a->fn)(a->send, a->count, a->dt, a->root, a->comm, a->stream);
}

static op_rec rec(const char *op, size_t count, int dt, int peer, ncclComm_t comm, cudaStream_t s) {
    op_rec o;
    memset(&o, 0, sizeof o);
    o.op = op;
    o.count = count;
    o.dtype = dt;
    o.peer = peer;
    o.comm = comm;
    o.stream = s;
    o.ticket = -1;
    return o;
}

// ncclAllReduce: met with every rank; bytes = the buffer
RV_EXPORT ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                     ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    REAL_FN("ncclAllReduce", allreduce_fn);
    red_args a = {sendbuff, recvbuff, count, datatype, op, 0, comm, stream, (void *)real_};
    return issue(rec("allreduce", count, datatype, -1, comm, stream), call_allreduce, &a);
}

// ncclReduceScatter: met with every rank; bytes = the whole input (recvcount x ranks)
RV_EXPORT ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount,
                                         ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                                         cudaStream_t stream) {
    REAL_FN("ncclReduceScatter", allreduce_fn);
    red_args a = {sendbuff, recvbuff, recvcount, datatype, op, 0, comm, stream, (void *)real_};
    return issue(rec("reducescatter", recvcount, datatype, -1, comm, stream), call_allreduce, &a);
}

// ncclReduce: met with every rank; bytes = the buffer
RV_EXPORT ncclResult_t ncclReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                  ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
    REAL_FN("ncclReduce", rooted_red_fn);
    red_args a = {sendbuff, recvbuff, count, datatype, op, root, comm, stream, (void *)real_};
    return issue(rec("reduce", count, datatype, -1, comm, stream), call_rooted_red, &a);
}

// ncclBroadcast: met with every rank; bytes = the buffer
RV_EXPORT ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                     int root, ncclComm_t comm, cudaStream_t stream) {
    REAL_FN("ncclBroadcast", rooted_fn);
    red_args a = {sendbuff, recvbuff, count, datatype, 0, root, comm, stream, (void *)real_};
    return issue(rec("broadcast", count, datatype, -1, comm, stream), call_rooted, &a);
}

// ncclBcast: in-place ncclBroadcast
RV_EXPORT ncclResult_t ncclBcast(void *buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                                 cudaStream_t stream) {
    REAL_FN("ncclBcast", bcast_fn);
    red_args a = {buff, buff, count, datatype, 0, root, comm, stream, (void *)real_};
    return issue(rec("broadcast", count, datatype, -1, comm, stream), call_bcast, &a);
}

// ncclAllGather: met with every rank; bytes = the whole output (sendcount x ranks)
RV_EXPORT ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, ncclDataType_t datatype,
                                     ncclComm_t comm, cudaStream_t stream) {
    REAL_FN("ncclAllGather", gather_fn);
    red_args a = {sendbuff, recvbuff, sendcount, datatype, 0, 0, comm, stream, (void *)real_};
    return issue(rec("allgather", sendcount, datatype, -1, comm, stream), call_gather, &a);
}

// ncclAlltoAll: met with every rank; bytes = the whole buffer (count per peer x ranks)
RV_EXPORT ncclResult_t ncclAlltoAll(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                    ncclComm_t comm, cudaStream_t stream) {
    REAL_FN("ncclAlltoAll", gather_fn);
    red_args a = {sendbuff, recvbuff, count, datatype, 0, 0, comm, stream, (void *)real_};
    return issue(rec("alltoall", count, datatype, -1, comm, stream), call_gather, &a);
}

// ncclGather: met with every rank; bytes = the root's whole buffer (count x ranks)
RV_EXPORT ncclResult_t ncclGather(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                  int root, ncclComm_t comm, cudaStream_t stream) {
    REAL_FN("ncclGather", rooted_fn);
    red_args a = {sendbuff, recvbuff, count, datatype, 0, root, comm, stream, (void *)real_};
    return issue(rec("gather", count, datatype, -1, comm, stream), call_rooted, &a);
}

// ncclSend: met with the receiving peer's matching ncclRecv
RV_EXPORT ncclResult_t ncclSend(const void *sendbuff, size_t count, ncclDataType_t datatype, int peer,
                                ncclComm_t comm, cudaStream_t stream) {
    REAL_FN("ncclSend", p2p_fn);
    red_args a = {sendbuff, NULL, count, datatype, 0, peer, comm, stream, (void *)real_};
    return issue(rec("send", count, datatype, peer, comm, stream), call_p2p, &a);
}

// ncclRecv: met with the sending peer's matching ncclSend
RV_EXPORT ncclResult_t ncclRecv(void *recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                                cudaStream_t stream) {
    REAL_FN("ncclRecv", p2p_fn);
    red_args a = {recvbuff, NULL, count, datatype, 0, peer, comm, stream, (void *)real_};
    return issue(rec("recv", count, datatype, peer, comm, stream), call_p2p, &a);
}
