/* revati library-call context: NCCL collectives and point-to-point calls (op, count, bytes, dtype, ranks).
 *
 * The types are declared here (ints and an opaque pointer, as in nccl.h) so that the build needs no
 * NCCL headers. Inside ncclGroupStart/ncclGroupEnd the calls only queue work; the kernels launch at the
 * outermost ncclGroupEnd, which therefore carries the group's description. The rank is left out on
 * purpose: the same collective on every rank is the same work and gets the same signature.
 */
#include <stddef.h>

#include "libcalls.h"

typedef int nccl_result;     /* ncclResult_t */
typedef int nccl_dtype;      /* ncclDataType_t */
typedef int nccl_redop;      /* ncclRedOp_t */
typedef struct ncclComm *nccl_comm;
typedef struct CUstream_st *cuda_stream;

#define NCCL_INTERNAL_ERROR 3

static const char *const SONAMES[] = {"libnccl.so.2", "libnccl.so", NULL};

static const struct {
    const char *name;
    int size;
} DTYPES[] = {{"i8", 1}, {"u8", 1}, {"i32", 4}, {"u32", 4}, {"i64", 8}, {"u64", 8},
              {"f16", 2}, {"f32", 4}, {"f64", 8}, {"bf16", 2}, {"fp8e4m3", 1}, {"fp8e5m2", 1}};
static const char *const REDOPS[] = {"sum", "prod", "max", "min", "avg"};

typedef nccl_result (*count_fn)(nccl_comm, int *);

static int comm_count(nccl_comm comm) {
    static count_fn real;
    if (!real) real = (count_fn)rv_real_symbol("ncclCommCount", SONAMES);
    int n = 0;
    if (!real || real(comm, &n) != 0) n = 0;
    return n;
}

static size_t describe(rv_obj *o, const char *op, size_t count, nccl_dtype dt, int redop, nccl_comm comm) {
    int known = dt >= 0 && dt < (int)(sizeof DTYPES / sizeof DTYPES[0]);
    rv_obj_begin(o, "nccl", op);
    rv_obj_int(o, "count", (long long)count);
    rv_obj_int(o, "bytes", known ? (long long)(count * (size_t)DTYPES[dt].size) : -1);
    rv_obj_str(o, "dtype", known ? DTYPES[dt].name : "other");
    if (redop >= 0) rv_obj_str(o, "redop", redop < 5 ? REDOPS[redop] : "custom");
    rv_obj_int(o, "nranks", comm_count(comm));
    return rv_obj_end(o);
}

/* ---- groups: queued calls are described at the outermost ncclGroupEnd ---- */

static __thread int t_group_depth;
static __thread int t_group_n;
static __thread long long t_group_bytes;
static __thread int t_group_nranks;
static __thread rv_obj t_group_first;
static __thread size_t t_group_first_len;

static void group_note(const rv_obj *o, size_t len, size_t count, nccl_dtype dt, nccl_comm comm) {
    if (t_group_n++ == 0) {
        t_group_first = *o;
        t_group_first_len = len;
        t_group_nranks = comm_count(comm);
    }
    int known = dt >= 0 && dt < (int)(sizeof DTYPES / sizeof DTYPES[0]);
    t_group_bytes += known ? (long long)(count * (size_t)DTYPES[dt].size) : 0;
}

/* Describe one call: in a group, queue the description; else push it (caller pops). */
#define NCCL_CALL(fn, op, count, dt, redop, comm, ...)                                     \
    static __typeof__(&fn) real;                                                           \
    rv_obj o;                                                                              \
    rv_opctx_saved saved;                                                                  \
    rv_libcalls_enter();                                                                   \
    if (!real) real = (__typeof__(&fn))rv_real_symbol(#fn, SONAMES);                       \
    size_t len = describe(&o, op, count, dt, redop, comm);                                 \
    int grouped = t_group_depth > 0;                                                       \
    if (grouped) group_note(&o, len, count, dt, comm);                                     \
    else rv_opctx_push(o.buf, len, &saved);                                                \
    rv_libcalls_leave();                                                                   \
    nccl_result r = real ? real(__VA_ARGS__) : NCCL_INTERNAL_ERROR;                        \
    if (!grouped) rv_opctx_pop(&saved);                                                    \
    return r

// ncclAllReduce: the real collective, its kernels tagged all_reduce with count, bytes, dtype, redop, nranks
RV_EXPORT nccl_result ncclAllReduce(const void *s, void *r_, size_t count, nccl_dtype dt, nccl_redop op,
                                    nccl_comm comm, cuda_stream st) {
    NCCL_CALL(ncclAllReduce, "all_reduce", count, dt, op, comm, s, r_, count, dt, op, comm, st);
}

// ncclReduce: as ncclAllReduce, tagged reduce
RV_EXPORT nccl_result ncclReduce(const void *s, void *r_, size_t count, nccl_dtype dt, nccl_redop op, int root,
                                 nccl_comm comm, cuda_stream st) {
    NCCL_CALL(ncclReduce, "reduce", count, dt, op, comm, s, r_, count, dt, op, root, comm, st);
}

// ncclBroadcast: tagged broadcast (count elements from the root)
RV_EXPORT nccl_result ncclBroadcast(const void *s, void *r_, size_t count, nccl_dtype dt, int root, nccl_comm comm,
                                    cuda_stream st) {
    NCCL_CALL(ncclBroadcast, "broadcast", count, dt, -1, comm, s, r_, count, dt, root, comm, st);
}

// ncclReduceScatter: tagged reduce_scatter (count: elements each rank receives)
RV_EXPORT nccl_result ncclReduceScatter(const void *s, void *r_, size_t recvcount, nccl_dtype dt, nccl_redop op,
                                        nccl_comm comm, cuda_stream st) {
    NCCL_CALL(ncclReduceScatter, "reduce_scatter", recvcount, dt, op, comm, s, r_, recvcount, dt, op, comm, st);
}

// ncclAllGather: tagged all_gather (count: elements each rank sends)
RV_EXPORT nccl_result ncclAllGather(const void *s, void *r_, size_t sendcount, nccl_dtype dt, nccl_comm comm,
                                    cuda_stream st) {
    NCCL_CALL(ncclAllGather, "all_gather", sendcount, dt, -1, comm, s, r_, sendcount, dt, comm, st);
}

// ncclAlltoAll: tagged all_to_all (count: elements sent to each rank)
RV_EXPORT nccl_result ncclAlltoAll(const void *s, void *r_, size_t count, nccl_dtype dt, nccl_comm comm,
                                   cuda_stream st) {
    NCCL_CALL(ncclAlltoAll, "all_to_all", count, dt, -1, comm, s, r_, count, dt, comm, st);
}

// ncclSend: tagged send
RV_EXPORT nccl_result ncclSend(const void *s, size_t count, nccl_dtype dt, int peer, nccl_comm comm, cuda_stream st) {
    NCCL_CALL(ncclSend, "send", count, dt, -1, comm, s, count, dt, peer, comm, st);
}

// ncclRecv: tagged recv
RV_EXPORT nccl_result ncclRecv(void *r_, size_t count, nccl_dtype dt, int peer, nccl_comm comm, cuda_stream st) {
    NCCL_CALL(ncclRecv, "recv", count, dt, -1, comm, r_, count, dt, peer, comm, st);
}

// ncclGroupStart: later calls queue until the outermost ncclGroupEnd
RV_EXPORT nccl_result ncclGroupStart(void) {
    static nccl_result (*real)(void);
    if (!real) real = (nccl_result(*)(void))rv_real_symbol("ncclGroupStart", SONAMES);
    if (t_group_depth++ == 0) t_group_n = 0, t_group_bytes = 0;
    return real ? real() : NCCL_INTERNAL_ERROR;
}

// ncclGroupEnd: the outermost one launches the queued work, tagged with the single call or a group summary
RV_EXPORT nccl_result ncclGroupEnd(void) {
    static nccl_result (*real)(void);
    if (!real) real = (nccl_result(*)(void))rv_real_symbol("ncclGroupEnd", SONAMES);
    if (t_group_depth > 0) t_group_depth--;
    if (t_group_depth > 0 || t_group_n == 0) return real ? real() : NCCL_INTERNAL_ERROR;
    rv_opctx_saved saved;
    rv_obj g;
    size_t len = t_group_first_len;
    const char *text = t_group_first.buf;
    if (t_group_n > 1) {
        rv_obj_begin(&g, "nccl", "group");
        rv_obj_int(&g, "calls", t_group_n);
        rv_obj_int(&g, "bytes", t_group_bytes);
        rv_obj_int(&g, "nranks", t_group_nranks);
        len = rv_obj_end(&g);
        text = g.buf;
    }
    t_group_n = 0;
    rv_opctx_push(text, len, &saved);
    nccl_result r = real ? real() : NCCL_INTERNAL_ERROR;
    rv_opctx_pop(&saved);
    return r;
}
