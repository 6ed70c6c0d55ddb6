/* revati driver: streams, each with a ready time; legacy default stream semantics; host callbacks. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

pthread_mutex_t rv_sched_mu = PTHREAD_MUTEX_INITIALIZER;

static rv_stream g_legacy[RV_MAX_DEVICES];
static rv_vtime_ns g_blocking_ready[RV_MAX_DEVICES]; /* max ready of blocking created streams */
static rv_vtime_ns g_all_ready[RV_MAX_DEVICES];      /* max ready of every stream of the device */
static unsigned long long g_next_id = 1;

#define STREAM_MAGIC 0x52565354u

typedef struct stream_box {
    rv_stream s;
    uint32_t magic;
} stream_box;

static rv_stream *legacy(int dev) {
    rv_stream *s = &g_legacy[dev];
    if (!s->ctx) {
        pthread_mutex_lock(&rv_sched_mu);
        if (!s->ctx) {
            s->dev = dev;
            s->legacy = 1;
            s->id = 0;
            s->ctx = rv_ctx_primary(dev);
        }
        pthread_mutex_unlock(&rv_sched_mu);
    }
    return s;
}

/* The calling thread's per-thread default stream on dev: a blocking stream of its own. */
static __thread rv_stream *t_per_thread[RV_MAX_DEVICES];

static rv_stream *per_thread(int dev) {
    rv_stream *s = t_per_thread[dev];
    if (!s) {
        s = calloc(1, sizeof *s); /* lives as long as the process: work may outlive the thread */
        s->ctx = rv_ctx_primary(dev);
        s->dev = dev;
        s->id = __atomic_fetch_add(&g_next_id, 1, __ATOMIC_RELAXED);
        t_per_thread[dev] = s;
    }
    return s;
}

rv_stream *rv_stream_resolve(CUstream h) {
    /* NULL and CU_STREAM_LEGACY name the current device's legacy default stream; CU_STREAM_PER_THREAD
     * the thread's own default stream (the _ptsz entry points with a NULL stream still mean legacy) */
    if (!h || h == CU_STREAM_LEGACY) return legacy(rv_ctx_current_or_primary()->dev);
    if (h == CU_STREAM_PER_THREAD) return per_thread(rv_ctx_current_or_primary()->dev);
    stream_box *b = (stream_box *)h;
    if ((void *)b >= (void *)g_legacy && (void *)b < (void *)(g_legacy + RV_MAX_DEVICES)) return &b->s;
    if (b->magic != STREAM_MAGIC) return NULL;
    return &b->s;
}

static void note_ready(rv_stream *s) {
    if (s->ready > g_all_ready[s->dev]) g_all_ready[s->dev] = s->ready;
    if (!s->legacy && !(s->flags & CU_STREAM_NON_BLOCKING) && s->ready > g_blocking_ready[s->dev])
        g_blocking_ready[s->dev] = s->ready;
}

static rv_vtime_ns enqueue(rv_stream *s, rv_vdur_ns *dur, int heavy, rv_vdur_ns gap, rv_vtime_ns *end) {
    rv_vtime_ns now = rv_vnow();
    pthread_mutex_lock(&rv_sched_mu);
    rv_vtime_ns after = s->ready;
    /* the legacy stream waits for blocking streams, and blocking streams wait for it */
    if (s->legacy) {
        if (g_blocking_ready[s->dev] > after) after = g_blocking_ready[s->dev];
    } else if (!(s->flags & CU_STREAM_NON_BLOCKING)) {
        if (g_legacy[s->dev].ready > after) after = g_legacy[s->dev].ready;
    }
    /* work queued behind earlier work starts `gap` after it ends (a launch that comes later starts
     * at its launch time); a stream that never ran anything has nothing to wait for */
    if (after) after += gap;
    rv_vtime_ns start = after > now ? after : now;
    if (heavy >= 0) *dur = rv_power_stretch(s->dev, start, *dur, heavy);
    s->ready = start + *dur;
    note_ready(s);
    pthread_mutex_unlock(&rv_sched_mu);
    if (end) *end = start + *dur;
    return start;
}

rv_vtime_ns rv_stream_enqueue(rv_stream *s, rv_vdur_ns d, rv_vdur_ns gap, rv_vtime_ns *end) {
    return enqueue(s, &d, -1, gap, end);
}

rv_vtime_ns rv_stream_enqueue_kernel(rv_stream *s, rv_pred *p, rv_vdur_ns gap, rv_vtime_ns *end) {
    return enqueue(s, &p->dur, p->heavy, gap, end);
}

rv_vtime_ns rv_stream_ready(rv_stream *s) {
    pthread_mutex_lock(&rv_sched_mu);
    rv_vtime_ns t = s->ready;
    if (s->legacy && g_blocking_ready[s->dev] > t) t = g_blocking_ready[s->dev];
    else if (!s->legacy && !(s->flags & CU_STREAM_NON_BLOCKING) && g_legacy[s->dev].ready > t)
        t = g_legacy[s->dev].ready;
    pthread_mutex_unlock(&rv_sched_mu);
    return t;
}

rv_vtime_ns rv_device_ready(int dev) {
    pthread_mutex_lock(&rv_sched_mu);
    rv_vtime_ns t = dev >= 0 && dev < RV_MAX_DEVICES ? g_all_ready[dev] : 0;
    pthread_mutex_unlock(&rv_sched_mu);
    return t;
}

void rv_stream_wait_until(rv_stream *s, rv_vtime_ns t) {
    pthread_mutex_lock(&rv_sched_mu);
    if (t > s->ready) {
        s->ready = t;
        note_ready(s);
    }
    pthread_mutex_unlock(&rv_sched_mu);
}

/* Polling (cuStreamQuery/cuEventQuery). A not-ready answer costs the host nothing extra the first
 * time; repeated not-ready answers for the same object on the same thread, with no other driver call
 * but pure queries between them (a spin), move the host clock by REVATI_POLL_NS (default 1 us), then
 * twice that, and so on (never past the ready time): a spin loop reaches the ready time in a
 * logarithmic number of polls instead of burning real time at host speed. A query among other work
 * is not a spin and is not charged: torch's pinned-memory allocator queries the event of its oldest
 * block at every allocation, and with copies between them each allocation's query counted as the
 * next poll of a spin, a held jump made with the GIL held (a prefill step's allocations stepped the
 * engine's clock while its other Python threads waited for the GIL, 2026-12-05). */
static __thread const void *t_poll_obj;
static __thread unsigned t_poll_n;
static __thread uint64_t t_poll_calls; /* rv_api_effect_calls() at the last not-ready poll */

static rv_vdur_ns poll_base(void) {
    static rv_vdur_ns q = 0;
    if (!q) {
        uint64_t v = rv_env_u64("REVATI_POLL_NS", 1000);
        q = v > 0 ? v : 1;
    }
    return q;
}

void rv_poll_not_ready(const void *obj, rv_vtime_ns ready, const char *why) {
    uint64_t calls = rv_api_effect_calls();
    if (t_poll_obj != obj || calls != t_poll_calls) {
        t_poll_obj = obj;
        t_poll_n = 0;
        t_poll_calls = calls;
        return;
    }
    unsigned n = t_poll_n < 40 ? t_poll_n++ : 40;
    rv_vdur_ns step = poll_base() << n;
    rv_vtime_ns now = rv_vnow();
    rv_vadvance_to(ready - now < step ? ready : now + step, why);
}

void rv_poll_ready(const void *obj) {
    if (t_poll_obj == obj) t_poll_obj = NULL;
}

static CUresult create(CUstream *ph, unsigned flags, int priority) {
    if (!ph) return CUDA_ERROR_INVALID_VALUE;
    if (!rv_initialized()) return CUDA_ERROR_NOT_INITIALIZED;
    stream_box *b = calloc(1, sizeof *b);
    if (!b) return CUDA_ERROR_OUT_OF_MEMORY;
    rv_ctx *c = rv_ctx_current_or_primary();
    b->magic = STREAM_MAGIC;
    b->s.ctx = c;
    b->s.dev = c->dev;
    b->s.flags = flags;
    b->s.priority = priority < -5 ? -5 : priority > 0 ? 0 : priority;
    b->s.id = __atomic_fetch_add(&g_next_id, 1, __ATOMIC_RELAXED);
    b->s.ready = 0;
    *ph = (CUstream)b;
    return CUDA_SUCCESS;
}

// cuStreamCreate: a new stream, idle (ready at 0)
RV_EXPORT CUresult cuStreamCreate(CUstream *phStream, unsigned int Flags) {
    API_ENTER();
    CUresult r = create(phStream, Flags, 0);
    if (r == CUDA_SUCCESS) API_ARGS("stream=%llu", ((rv_stream *)*phStream)->id);
    API_RETURN(r);
}

// cuStreamCreateWithPriority: priority is clamped to [-5, 0] and reported; it does not change timing
RV_EXPORT CUresult cuStreamCreateWithPriority(CUstream *phStream, unsigned int flags, int priority) {
    API_ENTER();
    CUresult r = create(phStream, flags, priority);
    if (r == CUDA_SUCCESS) API_ARGS("stream=%llu", ((rv_stream *)*phStream)->id);
    API_RETURN(r);
}

// cuStreamDestroy_v2: the handle is poisoned and kept (work already enqueued still completes)
RV_EXPORT CUresult cuStreamDestroy_v2(CUstream hStream) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || s->legacy || hStream == CU_STREAM_PER_THREAD) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    ((stream_box *)hStream)->magic = 0;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamDestroy, cuStreamDestroy_v2);

// cuStreamSynchronize: the host jumps to the stream's ready time
RV_EXPORT CUresult cuStreamSynchronize(CUstream hStream) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    API_ARGS("stream=%llu", s->id);
    if (s->capture) API_RETURN(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    rv_vadvance_to(rv_stream_ready(s), "cuStreamSynchronize");
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamSynchronize_ptsz, cuStreamSynchronize);

// cuStreamQuery: not ready until host vtime >= stream ready time; repeated polls move the host (see above)
RV_EXPORT CUresult cuStreamQuery(CUstream hStream) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    API_ARGS("stream=%llu", s->id);
    if (s->capture) API_RETURN(CUDA_SUCCESS);
    rv_vtime_ns t = rv_stream_ready(s), now = rv_vnow();
    if (now >= t) {
        rv_poll_ready(s);
        API_RETURN(CUDA_SUCCESS);
    }
    rv_poll_not_ready(s, t, "cuStreamQuery");
    API_RETURN(CUDA_ERROR_NOT_READY);
}
RV_ALIAS(cuStreamQuery_ptsz, cuStreamQuery);

// cuStreamGetPriority: the priority given at creation
RV_EXPORT CUresult cuStreamGetPriority(CUstream hStream, int *priority) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !priority) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *priority = s->priority;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamGetPriority_ptsz, cuStreamGetPriority);

// cuStreamGetFlags: the flags given at creation
RV_EXPORT CUresult cuStreamGetFlags(CUstream hStream, unsigned int *flags) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !flags) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *flags = s->flags;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamGetFlags_ptsz, cuStreamGetFlags);

// cuStreamGetId: the id the trace uses for this stream
RV_EXPORT CUresult cuStreamGetId(CUstream hStream, unsigned long long *streamId) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !streamId) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *streamId = s->id;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamGetId_ptsz, cuStreamGetId);

// cuStreamGetCtx: the context the stream was created in
RV_EXPORT CUresult cuStreamGetCtx(CUstream hStream, CUcontext *pctx) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !pctx) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pctx = (CUcontext)s->ctx;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamGetCtx_ptsz, cuStreamGetCtx);

// cuStreamGetCtx_v2: as cuStreamGetCtx; no green contexts
RV_EXPORT CUresult cuStreamGetCtx_v2(CUstream hStream, CUcontext *pCtx, CUgreenCtx *pGreenCtx) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !pCtx) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pCtx = (CUcontext)s->ctx;
    if (pGreenCtx) *pGreenCtx = NULL;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamGetCtx_v2_ptsz, cuStreamGetCtx_v2);

// cuStreamGetDevice: the stream's device
RV_EXPORT CUresult cuStreamGetDevice(CUstream hStream, CUdevice *device) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !device) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *device = s->dev;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamGetDevice_ptsz, cuStreamGetDevice);

// cuLaunchHostFunc: runs at once on the calling thread (device work produces no values to wait for); captured as a host node
RV_EXPORT CUresult cuLaunchHostFunc(CUstream hStream, CUhostFn fn, void *userData) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !fn) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (s->capture) API_RETURN(rv_graph_capture_host(s, fn, userData) ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    rv_leave();
    fn(userData);
    rv_enter();
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuLaunchHostFunc_ptsz, cuLaunchHostFunc);

// cuStreamAddCallback: as cuLaunchHostFunc, with status CUDA_SUCCESS
RV_EXPORT CUresult cuStreamAddCallback(CUstream hStream, CUstreamCallback callback, void *userData, unsigned int flags) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !callback) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_leave();
    callback(hStream, CUDA_SUCCESS, userData);
    rv_enter();
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamAddCallback_ptsz, cuStreamAddCallback);

// cuStreamGetAttribute: priority and sync policy; other attributes read as zero
RV_EXPORT CUresult cuStreamGetAttribute(CUstream hStream, CUstreamAttrID attr, CUstreamAttrValue *value_out) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s || !value_out) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    memset(value_out, 0, sizeof *value_out);
    if (attr == CU_LAUNCH_ATTRIBUTE_PRIORITY) value_out->priority = s->priority;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamGetAttribute_ptsz, cuStreamGetAttribute);

// cuStreamSetAttribute: accepted (access policy windows, sync policy: no timing effect)
RV_EXPORT CUresult cuStreamSetAttribute(CUstream hStream, CUstreamAttrID attr, const CUstreamAttrValue *value) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (attr == CU_LAUNCH_ATTRIBUTE_PRIORITY && value) s->priority = value->priority;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamSetAttribute_ptsz, cuStreamSetAttribute);

// cuStreamCopyAttributes: priority copied
RV_EXPORT CUresult cuStreamCopyAttributes(CUstream dst, CUstream src) {
    API_ENTER();
    rv_stream *d = rv_stream_resolve(dst), *s = rv_stream_resolve(src);
    if (!d || !s) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    d->priority = s->priority;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamCopyAttributes_ptsz, cuStreamCopyAttributes);

// cuStreamAttachMemAsync: managed memory is always attached
RV_EXPORT CUresult cuStreamAttachMemAsync(CUstream hStream, CUdeviceptr dptr, size_t length, unsigned int flags) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamAttachMemAsync_ptsz, cuStreamAttachMemAsync);

/* Stream memory operations act on the host mirror at once (a write is visible, a wait never blocks:
 * the value it waits for would come from device work, which does not run). */

static CUresult write_value(CUdeviceptr addr, uint64_t value, int bytes) {
    rv_alloc a;
    if (!rv_alloc_find(addr, &a) || addr + (uint64_t)bytes > a.base + a.size) return CUDA_ERROR_INVALID_VALUE;
    if (bytes == 4) *(volatile uint32_t *)addr = (uint32_t)value;
    else *(volatile uint64_t *)addr = value;
    return CUDA_SUCCESS;
}

// cuStreamWriteValue32_v2: the value is written to the host mirror at once
RV_EXPORT CUresult cuStreamWriteValue32_v2(CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags) {
    API_ENTER();
    API_RETURN(write_value(addr, value, 4));
}
RV_ALIAS(cuStreamWriteValue32_v2_ptsz, cuStreamWriteValue32_v2);

// cuStreamWriteValue64_v2: the value is written to the host mirror at once
RV_EXPORT CUresult cuStreamWriteValue64_v2(CUstream stream, CUdeviceptr addr, cuuint64_t value, unsigned int flags) {
    API_ENTER();
    API_RETURN(write_value(addr, value, 8));
}
RV_ALIAS(cuStreamWriteValue64_v2_ptsz, cuStreamWriteValue64_v2);

// cuStreamWaitValue32_v2: never blocks (device-side producers do not run)
RV_EXPORT CUresult cuStreamWaitValue32_v2(CUstream stream, CUdeviceptr addr, cuuint32_t value, unsigned int flags) {
    API_ENTER();
    API_RETURN(rv_stream_resolve(stream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}
RV_ALIAS(cuStreamWaitValue32_v2_ptsz, cuStreamWaitValue32_v2);

// cuStreamWaitValue64_v2: never blocks (device-side producers do not run)
RV_EXPORT CUresult cuStreamWaitValue64_v2(CUstream stream, CUdeviceptr addr, cuuint64_t value, unsigned int flags) {
    API_ENTER();
    API_RETURN(rv_stream_resolve(stream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE);
}
RV_ALIAS(cuStreamWaitValue64_v2_ptsz, cuStreamWaitValue64_v2);
