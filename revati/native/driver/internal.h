/* revati driver internals: the objects behind CUDA handles, shared by the driver's family files. */
#ifndef REVATI_DRIVER_INTERNAL_H
#define REVATI_DRIVER_INTERNAL_H

/* Declare every ABI version of every entry point (cuMemAlloc and cuMemAlloc_v2, cuLaunchKernel and
 * cuLaunchKernel_ptsz, ...) under its exact exported name, as NVIDIA's own build does. */
#define __CUDA_API_VERSION_INTERNAL 1
#include <cuda.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <stdint.h>

#include "revati/devconf.h"
#include "revati/export_tables.h"
#include "revati/fatbin.h"
#include "revati/log.h"
#include "revati/trace.h"
#include "revati/types.h"
#include "revati/vclock.h"

#define RV_MAX_DEVICES 64
#define RV_DRIVER_VERSION 13000

/* An exported alias of a hand-written entry point (the _ptds/_ptsz and re-versioned names). */
#define RV_ALIAS(name, target) \
    extern __typeof__(target) name __attribute__((alias(#target), visibility("default")))

/* ---- api bracket: every entry point runs between rv_api_enter and rv_api_leave ---- */

typedef struct rv_api_call {
    const char *name;
    rv_vtime_ns ts;
    uint64_t corr;
    uint64_t bytes; /* bytes a copy, memset or allocation moves: its host cost depends on it */
    char args[160];
} rv_api_call;

/* Opens the bracket: real time from here on is revati's own, not the program's. */
#define API_ENTER()                   \
    rv_api_call rv__call;             \
    rv__call.name = __func__;         \
    rv__call.corr = 0;                \
    rv__call.bytes = 0;               \
    rv__call.args[0] = 0;             \
    rv_enter();                       \
    rv__call.ts = rv_vnow()
/* Closes the bracket, writes the api event and returns the result. */
#define API_RETURN(res) return rv_api_leave(&rv__call, (res))
#define API_ARGS(...) snprintf(rv__call.args, sizeof rv__call.args, __VA_ARGS__)

CUresult rv_api_leave(rv_api_call *c, CUresult res);
/* Driver calls of this thread so far that were not pure queries (init.c). */
uint64_t rv_api_effect_calls(void);

/* An unsigned integer setting from the environment (dflt when unset); anything else is fatal, one line. */
uint64_t rv_env_u64(const char *name, uint64_t dflt);

/* Whether a trace is written (REVATI_RUN_DIR, read once: the hot path must not call getenv). */
int rv_tracing(void);

/* ---- a small JSON field builder: printf-free formatting for the per-launch trace lines ---- */

typedef struct rv_line {
    char *p, *end;
} rv_line;

static inline void rv_put(rv_line *l, const char *s) {
    size_t n = strlen(s), room = (size_t)(l->end - l->p);
    if (n > room) n = room;
    memcpy(l->p, s, n);
    l->p += n;
}
static inline void rv_put_u64(rv_line *l, uint64_t v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (n && l->p < l->end) *l->p++ = tmp[--n];
}
static inline void rv_put_i64(rv_line *l, int64_t v) {
    if (v < 0 && l->p < l->end) *l->p++ = '-', v = -v;
    rv_put_u64(l, (uint64_t)v);
}

/* ---- devices (device.c, init.c) ---- */

typedef struct rv_ctx rv_ctx;
typedef struct rv_stream rv_stream;

int rv_initialized(void);
int rv_dev_count(void);              /* visible devices (after CUDA_VISIBLE_DEVICES) */
int rv_dev_phys(int ordinal);        /* the profile index behind a visible ordinal */
int rv_dev_valid(CUdevice d);
const rv_devconf *rv_conf(void);

/* ---- contexts (context.c) ---- */

struct rv_ctx {
    int dev;
    int primary;
    int active;        /* primary: retained at least once and not reset */
    int refcount;
    unsigned flags;
    unsigned long long id;
    size_t limits[16];
    rv_stream *null_stream; /* the legacy default stream of this context */
};

rv_ctx *rv_ctx_current(void);         /* the thread's current context, or NULL */
rv_ctx *rv_ctx_current_or_primary(void); /* current, else device 0's primary (never NULL) */
rv_ctx *rv_ctx_primary(int dev);
int rv_ctx_valid(CUcontext c);

/* ---- streams (stream.c) ---- */

typedef struct rv_graph rv_graph;

struct rv_stream {
    rv_ctx *ctx;
    int dev;
    unsigned flags;
    int priority;
    int legacy;               /* the legacy default stream */
    unsigned long long id;    /* trace id: 0 legacy default, then 1, 2, ... */
    rv_vtime_ns ready;        /* when all enqueued work completes */
    rv_graph *capture;        /* the graph being captured into, or NULL */
    CUstreamCaptureMode capture_mode;
    unsigned long long capture_id;
    void **capture_deps;      /* the nodes the stream's next captured node depends on */
    int capture_ndeps, capture_capdeps;
};

/* Resolve a handle (NULL, CU_STREAM_LEGACY, CU_STREAM_PER_THREAD or a created stream). */
rv_stream *rv_stream_resolve(CUstream s);
/* Reserve [start, end) for an operation of duration d on s; returns start: the host's now, or `gap`
 * after the end of the work it waits for (on s, or the legacy stream's implicit synchronisation),
 * whichever is later. */
rv_vtime_ns rv_stream_enqueue(rv_stream *s, rv_vdur_ns d, rv_vdur_ns gap, rv_vtime_ns *end);
/* power.c: a kernel starting at `start` for `dur` on device `dev`, `heavy` when compute-bound: its
 * duration at the card's clock then (sustained compute-bound work holds a card at its power limit) */
rv_vdur_ns rv_power_stretch(int dev, rv_vtime_ns start, rv_vdur_ns dur, int heavy);
/* When all work enqueued on s completes (including what it must wait for). */
rv_vtime_ns rv_stream_ready(rv_stream *s);
/* Completion of all work of a device. */
rv_vtime_ns rv_device_ready(int dev);
void rv_stream_wait_until(rv_stream *s, rv_vtime_ns t);
extern pthread_mutex_t rv_sched_mu; /* guards stream ready times */
/* A query on obj answered not-ready (ready at `ready`): repeated polls move the host clock. */
void rv_poll_not_ready(const void *obj, rv_vtime_ns ready, const char *why);
/* A query on obj answered ready: its poll streak ends. */
void rv_poll_ready(const void *obj);

/* ---- memory (memory.c, vmm.c) ---- */

enum rv_mem_kind { RV_MEM_DEVICE = 1, RV_MEM_HOST = 2, RV_MEM_VMM = 3, RV_MEM_RESERVED = 4 };

typedef struct rv_alloc {
    uint64_t base, size;
    int dev;
    int kind;
    unsigned flags;
    unsigned long long id;
    void *handle;  /* VMM: the physical allocation mapped here */
} rv_alloc;

/* Reserve device address space (aligned); returns 0 if the space is exhausted. */
uint64_t rv_va_reserve(int dev, uint64_t size, uint64_t align, uint64_t hint);
void rv_va_release(uint64_t base, uint64_t size);
void rv_alloc_add(const rv_alloc *a);
int rv_alloc_remove(uint64_t base, rv_alloc *out);
/* Whether v lies within the span of the host allocations made so far (0: surely not a host one). */
int rv_host_alloc_may_hold(uint64_t v);
/* The allocation holding ptr (by value); 0 when ptr is not known. */
int rv_alloc_find(uint64_t ptr, rv_alloc *out);
/* Changes whenever an allocation is added or removed: what was looked up in the registry still holds
 * while it is the same. */
uint64_t rv_alloc_gen(void);
/* Device memory of bytesize on the current device (pool: the stream-ordered pool it came from). */
CUresult rv_dev_alloc(CUdeviceptr *dptr, size_t bytesize, int kind, void *pool);
/* Free a device allocation; *freed receives what it was. */
CUresult rv_dev_free(CUdeviceptr dptr, rv_alloc *freed);
void rv_mem_account(int dev, int64_t delta);
/* The cuMemMap mapping holding addr (inside a reservation): 1 and its range, else 0. */
int rv_vmm_mapping(uint64_t addr, uint64_t *base, uint64_t *size);
uint64_t rv_mem_used(int dev);
/* Bytes an operation may really move/set on the host mirror (REVATI_MATERIALIZE_MAX). */
uint64_t rv_materialize_max(void);
/* Give the pages of [base, base+size) back to the OS (values become zero). */
void rv_mem_discard(uint64_t base, uint64_t size);

/* ---- memory shared between processes (shm_map.c) ---- */

/* A memfd for size bytes of device dev's memory (its name records dev); -1 on failure. */
int rv_shm_create(int dev, uint64_t size);
/* The device recorded in a memfd made by rv_shm_create (-1: not one of ours), and its size. */
int rv_shm_dev_of(int fd);
uint64_t rv_shm_size(int fd);
/* Map fd at [addr, addr+size) (MAP_SHARED, replacing what was there) / put private space back. */
int rv_shm_map_at(uint64_t addr, uint64_t size, int fd, uint64_t offset);
void rv_shm_unmap_at(uint64_t addr, uint64_t size);
/* Move [base, base+size) (rounded out to pages) onto a new memfd, keeping its contents; returns the
 * fd and the mapped start in *map_base, or -1. */
int rv_shm_share_range(int dev, uint64_t base, uint64_t size, uint64_t *map_base);

/* ---- modules and functions (module.c) ---- */

typedef struct rv_module rv_module;

typedef struct rv_func {
    uint32_t magic;
    char *name;
    char *json_name;  /* the name escaped for the trace, computed once */
    rv_module *mod;
    int max_dyn_smem;
    int static_smem;
    /* Parameter layout (EIATTR_KPARAM_INFO), in parameter order: nparams -1 when the image does not say */
    int nparams;
    uint16_t *param_off;  /* byte offset of parameter i in the parameter buffer */
    uint16_t *param_size; /* its size in bytes */
    uint32_t param_bytes; /* the buffer's size (CBANK_PARAM_SIZE, at least the end of the last parameter) */
    int values_kind;      /* which host-executed family its name belongs to (values/families.c); 0: not decided */
} rv_func;

#define RV_FUNC_MAGIC 0x52564646u
rv_func *rv_func_from(const void *handle);

/* ---- predictor (predict.c, predict_recorded.c; the model core is in native/predict/) ---- */

typedef struct rv_pred {
    rv_vdur_ns dur;
    const char *pred; /* predictor name (REVATI_PREDICTOR) */
    const char *src;  /* what produced this duration: table, roofline, xgb, recorded, analytical */
    const char *how;  /* exact, interpolated, model or fallback */
    int xdev;         /* 1: scaled from another device's data (what-if hardware) */
    int heavy;        /* 1: a compute-bound GEMM or attention the model timed (power.c stretches it) */
} rv_pred;

/* the same for a kernel: its duration stretched by the card's power state at its start (power.c) */
rv_vtime_ns rv_stream_enqueue_kernel(rv_stream *s, rv_pred *p, rv_vdur_ns gap, rv_vtime_ns *end);

struct rv_kernel_op;
/* Time one kernel launched on `stream` (the trace's stream/track id) of device dev. */
rv_pred rv_predict_kernel(const struct rv_kernel_op *k, unsigned long long stream, int dev);
rv_vdur_ns rv_predict_copy(const char *kind, uint64_t bytes, int dev);
rv_vdur_ns rv_predict_memset(uint64_t bytes, int dev);
const char *rv_predictor_name(void);
/* The predictor's version and model hash (provenance written on every kernel event). */
const char *rv_predictor_version(void);
const char *rv_predictor_model_hash(void);
/* Modelled host time of a driver call on the target host (the real driver's, from the model's
 * host-cost rows, else the profile's api_host_ns); 0 when none is modelled. */
rv_vdur_ns rv_host_cost(const char *call, uint64_t bytes);
/* recorded predictor: the duration of the n-th kernel on this stream in the recorded run, or -1. */
int64_t rv_recorded_next(unsigned long long stream);

/* ---- launch and graphs (launch.c, graph.c) ---- */

typedef struct rv_kernel_op {
    rv_func *f;
    unsigned grid[3], block[3];
    unsigned smem;
    const uint8_t *params; /* the launch's parameter buffer (layout: f->param_off), NULL when unknown */
    uint32_t param_bytes;
    const struct rv_kfeat *feat; /* its features (kfeatures.c); NULL until computed */
    uint64_t host_tag;           /* a host runner's tag for its graph replays (values.c); 0: none */
} rv_kernel_op;

/* ---- kernel features (kfeatures.c, over native/features) ---- */

/* A launch's trace features: args and op as JSON texts ("" when absent), sig as 16 hex digits. */
typedef struct rv_kfeat {
    const char *args;
    const char *op;
    char sig[17];
    int reads_mem; /* the op depends on device memory (FA3's KV lengths): a graph replay computes it again */
    uint64_t h_args; /* the signature's hash up to args (features.h): the replay hashes only the new op */
} rv_kfeat;

/* The features of k launched now: op is this thread's library-call context (or, when there is none,
 * keep_op: a kernel node updated outside the library call keeps the op it was captured with). The
 * result lives in a per-thread buffer until this thread's next call. */
const rv_kfeat *rv_kfeat_now(const rv_kernel_op *k, const char *keep_op);
/* The features of a captured kernel node at its replay, for a node whose op depends on device memory
 * (feat->reads_mem): the captured op stands for the library-call context. Per-thread buffer, as above. */
const rv_kfeat *rv_kfeat_replay(const rv_kernel_op *k);
/* A copy that lives as long as the process (graph nodes, like their parameters, are never freed). */
const rv_kfeat *rv_kfeat_keep(const rv_kfeat *f);
/* Whether a value points into a device's address space (memory.c): what the features mask. */
int rv_dev_addr(uint64_t v);
/* Whether 128 bytes are a tensor map this driver encoded (tensormap.c): masked like pointers. */
int rv_tensormap_is_ours(const void *p);

/* ---- kernel parameters (kparams.c) ---- */

#define RV_PARAM_STACK 4096 /* the classic parameter limit; larger buffers go to the heap */
/* Copy f's layout from its image's record (NULL or unknown: nparams -1). */
void rv_func_set_layout(rv_func *f, const rv_func_info *fi);
/* A launch's parameters as the flat buffer the kernel reads (from kernelParams through f's layout, or
 * from extra's CU_LAUNCH_PARAM_BUFFER_POINTER/SIZE) into buf of cap bytes: its size, or -1 when the
 * layout is unknown or the buffer too small. */
int rv_launch_params(const rv_func *f, void **kernelParams, void **extra, uint8_t *buf, uint32_t cap);
/* Give k its own heap copy of its parameters (graph nodes outlive the launch call; never freed, like nodes). */
void rv_kernel_op_own_params(rv_kernel_op *k);
/* A kernel node's launch, with its own copy of the parameters. */
CUresult rv_kernel_op_from_node(rv_kernel_op *k, const CUDA_KERNEL_NODE_PARAMS *p);

/* Enqueue one kernel on s (timed, traced) as part of graph exec `graph` (0: a plain launch). */
void rv_launch_now(rv_stream *s, const rv_kernel_op *k, uint64_t corr, unsigned long long graph);
/* Enqueue a copy or memset on s; returns its end time. kind is HtoD/DtoH/DtoD/HtoH/PtoP or NULL (memset). */
rv_vtime_ns rv_copy_now(rv_stream *s, const char *kind, uint64_t bytes, uint64_t corr, unsigned long long graph);

/* Write a kernel / copy (kind NULL: memset) event with given times (launch.c). */
void rv_emit_kernel(int dev, unsigned long long stream, const rv_kernel_op *k, rv_pred p, rv_vtime_ns start,
                    rv_vtime_ns end, uint64_t corr, unsigned long long graph);
void rv_emit_copy(int dev, unsigned long long stream, const char *kind, uint64_t bytes, rv_vtime_ns start, rv_vtime_ns end,
                  uint64_t corr, unsigned long long graph);
/* The same for a graph node that writes the same event at every replay but for its times and corr: keep
 * holds the event's compact template from an earlier replay, so the record is written without its body
 * being formatted or parsed; it is filled when it holds none. The caller resets keep (id 0) when any
 * other field of the event may have changed. */
void rv_emit_kernel_kept(rv_trace_tmpl *keep, int dev, unsigned long long stream, const rv_kernel_op *k, rv_pred p,
                         rv_vtime_ns start, rv_vtime_ns end, uint64_t corr, unsigned long long graph);
void rv_emit_copy_kept(rv_trace_tmpl *keep, int dev, unsigned long long stream, const char *kind, uint64_t bytes,
                       rv_vtime_ns start, rv_vtime_ns end, uint64_t corr, unsigned long long graph);

/* Capturing streams record instead of execute. */
int rv_graph_capture_kernel(rv_stream *s, const rv_kernel_op *k);
int rv_graph_capture_copy(rv_stream *s, const char *kind, uint64_t bytes);
/* A 1D copy (kind set) or memset (kind NULL: value of elem bytes) whose addresses a replay repeats. */
int rv_graph_capture_copy_at(rv_stream *s, const char *kind, uint64_t bytes, uint64_t dst, uint64_t src,
                             unsigned value, int elem);
int rv_graph_capture_host(rv_stream *s, CUhostFn fn, void *data);
int rv_graph_valid(const void *graph);

/* A snapshot of a capturing stream's dependencies (what an event recorded in capture stands for). */
typedef struct rv_capdeps {
    void **nodes;
    int n;
} rv_capdeps;
void rv_capdeps_snapshot(const rv_stream *s, rv_capdeps *out);
/* A stream waits on an event recorded in capture: it joins the capture and depends on the snapshot. */
void rv_graph_join_capture(rv_stream *s, rv_graph *g, unsigned long long capture_id, const rv_capdeps *deps);

#endif
