/* revati driver: events record a stream's ready time; queries and syncs compare it with host time. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define EVENT_MAGIC 0x52564556u

typedef struct rv_event {
    uint32_t magic;
    unsigned flags;
    int recorded;
    int dev;
    rv_vtime_ns t;          /* completion time of the work before the record */
    rv_graph *capture;      /* recorded in a capturing stream: the graph */
    unsigned long long capture_id;
    rv_capdeps deps;        /* ... and the nodes it stands for */
} rv_event;


static rv_event *event_from(CUevent h) {
    rv_event *e = (rv_event *)h;
    return e && e->magic == EVENT_MAGIC ? e : NULL;
}

// cuEventCreate: a new, never-recorded event
RV_EXPORT CUresult cuEventCreate(CUevent *phEvent, unsigned int Flags) {
    API_ENTER();
    if (!phEvent) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_event *e = calloc(1, sizeof *e);
    if (!e) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    e->magic = EVENT_MAGIC;
    e->flags = Flags;
    e->dev = rv_ctx_current_or_primary()->dev;
    *phEvent = (CUevent)e;
    API_RETURN(CUDA_SUCCESS);
}

// cuEventDestroy_v2: the handle is poisoned and freed
RV_EXPORT CUresult cuEventDestroy_v2(CUevent hEvent) {
    API_ENTER();
    rv_event *e = event_from(hEvent);
    if (!e) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    e->magic = 0;
    free(e->deps.nodes);
    free(e);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuEventDestroy, cuEventDestroy_v2);

static CUresult record(rv_api_call *c, CUevent hEvent, CUstream hStream) {
    rv_event *e = event_from(hEvent);
    rv_stream *s = rv_stream_resolve(hStream);
    if (!e || !s) return CUDA_ERROR_INVALID_HANDLE;
    snprintf(c->args, sizeof c->args, "stream=%llu", s->id);
    if (s->capture) {
        e->capture = s->capture;
        e->capture_id = s->capture_id;
        e->recorded = 1;
        free(e->deps.nodes);
        rv_capdeps_snapshot(s, &e->deps);
        return CUDA_SUCCESS;
    }
    /* the event completes when the stream's earlier work does, or now if the stream is idle */
    rv_vtime_ns ready = rv_stream_ready(s), now = rv_vnow();
    e->t = ready > now ? ready : now;
    e->dev = s->dev;
    e->recorded = 1;
    e->capture = NULL;
    return CUDA_SUCCESS;
}

// cuEventRecord: event time = max(stream ready, host now)
RV_EXPORT CUresult cuEventRecord(CUevent hEvent, CUstream hStream) {
    API_ENTER();
    API_RETURN(record(&rv__call, hEvent, hStream));
}
RV_ALIAS(cuEventRecord_ptsz, cuEventRecord);

// cuEventRecordWithFlags: as cuEventRecord (CU_EVENT_RECORD_EXTERNAL only matters in graphs)
RV_EXPORT CUresult cuEventRecordWithFlags(CUevent hEvent, CUstream hStream, unsigned int flags) {
    API_ENTER();
    API_RETURN(record(&rv__call, hEvent, hStream));
}
RV_ALIAS(cuEventRecordWithFlags_ptsz, cuEventRecordWithFlags);

// cuEventQuery: not ready until host vtime >= event vtime; repeated polls move the host (stream.c)
RV_EXPORT CUresult cuEventQuery(CUevent hEvent) {
    API_ENTER();
    rv_event *e = event_from(hEvent);
    if (!e) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (!e->recorded || e->capture) API_RETURN(CUDA_SUCCESS);
    rv_vtime_ns now = rv_vnow();
    if (now >= e->t) {
        rv_poll_ready(e);
        API_RETURN(CUDA_SUCCESS);
    }
    rv_poll_not_ready(e, e->t, "cuEventQuery");
    API_RETURN(CUDA_ERROR_NOT_READY);
}

// cuEventSynchronize: the host jumps to the event's time
RV_EXPORT CUresult cuEventSynchronize(CUevent hEvent) {
    API_ENTER();
    rv_event *e = event_from(hEvent);
    if (!e) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (e->recorded && !e->capture) rv_vadvance_to(e->t, "cuEventSynchronize");
    API_RETURN(CUDA_SUCCESS);
}

static CUresult elapsed(float *ms, CUevent a, CUevent b) {
    rv_event *s = event_from(a), *e = event_from(b);
    if (!ms || !s || !e) return CUDA_ERROR_INVALID_HANDLE;
    if (!s->recorded || !e->recorded || (s->flags & CU_EVENT_DISABLE_TIMING) || (e->flags & CU_EVENT_DISABLE_TIMING))
        return CUDA_ERROR_INVALID_HANDLE;
    rv_vtime_ns now = rv_vnow();
    if (now < s->t || now < e->t) return CUDA_ERROR_NOT_READY;
    *ms = (float)(((double)e->t - (double)s->t) / 1e6);
    return CUDA_SUCCESS;
}

// cuEventElapsedTime: virtual difference in ms; not ready until both events completed in host vtime
RV_EXPORT CUresult cuEventElapsedTime(float *pMilliseconds, CUevent hStart, CUevent hEnd) {
    API_ENTER();
    API_RETURN(elapsed(pMilliseconds, hStart, hEnd));
}

// cuEventElapsedTime_v2: as cuEventElapsedTime
RV_EXPORT CUresult cuEventElapsedTime_v2(float *pMilliseconds, CUevent hStart, CUevent hEnd) {
    API_ENTER();
    API_RETURN(elapsed(pMilliseconds, hStart, hEnd));
}

// cuStreamWaitEvent: the stream's later work starts no earlier than the event; in capture, the stream joins the capture
RV_EXPORT CUresult cuStreamWaitEvent(CUstream hStream, CUevent hEvent, unsigned int Flags) {
    API_ENTER();
    rv_stream *s = rv_stream_resolve(hStream);
    rv_event *e = event_from(hEvent);
    if (!s || !e) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    API_ARGS("stream=%llu", s->id);
    if (e->capture) {
        rv_graph_join_capture(s, e->capture, e->capture_id, &e->deps);
        API_RETURN(CUDA_SUCCESS);
    }
    if (e->recorded) rv_stream_wait_until(s, e->t);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuStreamWaitEvent_ptsz, cuStreamWaitEvent);

/* IPC event handles name (pid, event). The owning process gets its event back; another process gets a
 * fresh, never-recorded event (complete at once): events are not shared across processes here. */

#define IPC_EVENT_MAGIC 0x52564945u

// cuIpcGetEventHandle: a handle naming this process's event (it must be interprocess and untimed)
RV_EXPORT CUresult cuIpcGetEventHandle(CUipcEventHandle *pHandle, CUevent event) {
    API_ENTER();
    rv_event *e = event_from(event);
    if (!pHandle || !e) API_RETURN(CUDA_ERROR_INVALID_HANDLE);
    if (!(e->flags & CU_EVENT_INTERPROCESS)) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    memset(pHandle, 0, sizeof *pHandle);
    uint32_t magic = IPC_EVENT_MAGIC;
    int32_t pid = (int32_t)getpid();
    uint64_t ptr = (uint64_t)(uintptr_t)e;
    memcpy(pHandle->reserved, &magic, 4);
    memcpy(pHandle->reserved + 4, &pid, 4);
    memcpy(pHandle->reserved + 8, &ptr, 8);
    API_RETURN(CUDA_SUCCESS);
}

// cuIpcOpenEventHandle: own process: the event; another process: a fresh event
RV_EXPORT CUresult cuIpcOpenEventHandle(CUevent *phEvent, CUipcEventHandle handle) {
    API_ENTER();
    uint32_t magic;
    int32_t pid;
    uint64_t ptr;
    memcpy(&magic, handle.reserved, 4);
    memcpy(&pid, handle.reserved + 4, 4);
    memcpy(&ptr, handle.reserved + 8, 8);
    if (!phEvent || magic != IPC_EVENT_MAGIC) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (pid == (int32_t)getpid() && event_from((CUevent)(uintptr_t)ptr)) {
        *phEvent = (CUevent)(uintptr_t)ptr;
        API_RETURN(CUDA_SUCCESS);
    }
    rv_event *e = calloc(1, sizeof *e);
    if (!e) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    e->magic = EVENT_MAGIC;
    e->flags = CU_EVENT_INTERPROCESS | CU_EVENT_DISABLE_TIMING;
    *phEvent = (CUevent)e;
    API_RETURN(CUDA_SUCCESS);
}

void rv_event_replayed(CUevent h, int dev, rv_vtime_ns t) {
    rv_event *e = event_from(h);
    if (!e) return;
    e->t = t;
    e->dev = dev;
    e->recorded = 1;
    e->capture = NULL;
}

rv_vtime_ns rv_event_wait_time(CUevent h) {
    rv_event *e = event_from(h);
    return e && e->recorded && !e->capture ? e->t : 0;
}
