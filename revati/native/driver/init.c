/* revati driver: initialization, version, error strings, export tables and the api-event bracket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "revati/trace_level.h"

static int g_init;
static int g_count;
static int g_phys[RV_MAX_DEVICES];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* CUDA_VISIBLE_DEVICES: a comma-separated list of indices or UUID prefixes ("GPU-..."); as in the
 * real driver, the list stops at the first entry that names no device, and repeats are dropped. */
static void load_visible(void) {
    const rv_devconf *c = rv_devconf_get();
    const char *v = getenv("CUDA_VISIBLE_DEVICES");
    if (!v) {
        g_count = c->count < RV_MAX_DEVICES ? c->count : RV_MAX_DEVICES;
        for (int i = 0; i < g_count; ++i) g_phys[i] = i;
        return;
    }
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", v);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok && g_count < RV_MAX_DEVICES; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') ++tok;
        int idx = -1;
        if (!strncmp(tok, "GPU-", 4)) {
            for (int i = 0; i < c->count && idx < 0; ++i) {
                unsigned char u[16];
                char s[64];
                rv_dev_uuid(i, u);
                snprintf(s, sizeof s,
                         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
                         u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
                if (strlen(tok + 4) > 0 && !strncmp(s, tok + 4, strlen(tok + 4))) idx = i;
            }
        } else {
            char *end;
            long n = strtol(tok, &end, 10);
            if (end != tok && *end == 0 && n >= 0 && n < c->count) idx = (int)n;
        }
        if (idx < 0) break;
        int dup = 0;
        for (int i = 0; i < g_count; ++i) dup |= g_phys[i] == idx;
        if (dup) break;
        g_phys[g_count++] = idx;
    }
}

static void init_once(void) { load_visible(); }

int rv_initialized(void) { return g_init; }

int rv_dev_count(void) {
    pthread_once(&g_once, init_once);
    return g_count;
}

int rv_dev_phys(int ordinal) {
    pthread_once(&g_once, init_once);
    return ordinal >= 0 && ordinal < g_count ? g_phys[ordinal] : 0;
}

int rv_dev_valid(CUdevice d) { return d >= 0 && d < rv_dev_count(); }

const rv_devconf *rv_conf(void) { return rv_devconf_get(); }

uint64_t rv_env_u64(const char *name, uint64_t dflt) {
    const char *s = getenv(name);
    if (!s || !*s) return dflt;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || *s == '-') rv_fatal("%s=%s: expected a non-negative integer", name, s);
    return v;
}

int rv_tracing(void) {
    static int v = -1;
    if (v < 0) v = rv_trace_enabled();
    return v;
}

/* driver calls this thread made that are not pure queries (rv_is_query): a poll of an event or a
 * stream with none of them between it and the last poll of the same object is a spin (stream.c) */
static __thread uint64_t t_effect_calls;

uint64_t rv_api_effect_calls(void) { return t_effect_calls; }

CUresult rv_api_leave(rv_api_call *c, CUresult res) {
    if (!rv_is_query(c->name)) t_effect_calls++;
    /* the real driver's host time for this call (the model's host-cost rows, else the profile's) */
    rv_vdur_ns host = rv_host_cost(c->name, c->bytes);
    if (host) rv_vcharge(host);
    if (rv_tracing() && !rv_trace_verbose() && rv_is_query(c->name)) {
        rv_count_query(c->name); /* default level: pure queries are counted, not written */
    } else if (rv_tracing()) {
        char buf[512];
        rv_line l = {buf, buf + sizeof buf - 1};
        rv_put(&l, "\"name\":\"");
        rv_put(&l, c->name);
        rv_put(&l, "\",\"res\":");
        rv_put_i64(&l, (int)res);
        rv_put(&l, ",\"args\":\"");
        if (c->args[0]) {
            char esc[sizeof c->args * 2];
            rv_put(&l, rv_json_escape(esc, sizeof esc, c->args));
        }
        rv_put(&l, "\",\"ts_ns\":");
        rv_put_u64(&l, c->ts);
        rv_put(&l, ",\"end_ns\":");
        rv_put_u64(&l, rv_vnow());
        rv_put(&l, ",\"wt_ns\":");
        rv_put_u64(&l, rv_wall_ns());
        rv_put(&l, ",\"corr\":");
        rv_put_u64(&l, c->corr);
        *l.p = 0;
        rv_trace_emit("api", "%s", buf);
    }
    if (res != CUDA_SUCCESS && res != CUDA_ERROR_NOT_READY) rv_debug("%s -> %d", c->name, (int)res);
    rv_leave();
    return res;
}

/* Every generated stub lands here: the call is counted (warned once), traced, and refused. */
int rv_stub_call(const char *name);
int rv_stub_call(const char *name) {
    rv_api_call c = {.name = name, .corr = 0};
    c.args[0] = 0;
    rv_enter();
    c.ts = rv_vnow();
    rv_unimplemented(name);
    return (int)rv_api_leave(&c, CUDA_ERROR_NOT_SUPPORTED);
}

// cuInit: reads the device profile and CUDA_VISIBLE_DEVICES; no devices -> CUDA_ERROR_NO_DEVICE
RV_EXPORT CUresult cuInit(unsigned int Flags) {
    API_ENTER();
    if (Flags != 0) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int n = rv_dev_count();
    g_init = 1;
    API_ARGS("devices=%d", n);
    API_RETURN(n > 0 ? CUDA_SUCCESS : CUDA_ERROR_NO_DEVICE);
}

// cuDriverGetVersion: a CUDA 13.0 driver
RV_EXPORT CUresult cuDriverGetVersion(int *driverVersion) {
    API_ENTER();
    if (!driverVersion) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *driverVersion = RV_DRIVER_VERSION;
    API_RETURN(CUDA_SUCCESS);
}

static const struct {
    CUresult code;
    const char *name, *text;
} g_errors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_DEINITIALIZED, "CUDA_ERROR_DEINITIALIZED", "driver shutting down"},
    {CUDA_ERROR_PROFILER_DISABLED, "CUDA_ERROR_PROFILER_DISABLED", "profiler disabled"},
    {CUDA_ERROR_STUB_LIBRARY, "CUDA_ERROR_STUB_LIBRARY", "stub library"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_IMAGE, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_CONTEXT_ALREADY_CURRENT, "CUDA_ERROR_CONTEXT_ALREADY_CURRENT", "context already current"},
    {CUDA_ERROR_MAP_FAILED, "CUDA_ERROR_MAP_FAILED", "mapping of buffer object failed"},
    {CUDA_ERROR_ALREADY_MAPPED, "CUDA_ERROR_ALREADY_MAPPED", "resource already mapped"},
    {CUDA_ERROR_NO_BINARY_FOR_GPU, "CUDA_ERROR_NO_BINARY_FOR_GPU", "no kernel image is available for execution on the device"},
    {CUDA_ERROR_NOT_MAPPED, "CUDA_ERROR_NOT_MAPPED", "resource not mapped"},
    {CUDA_ERROR_PEER_ACCESS_UNSUPPORTED, "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED", "peer access is not supported between these two devices"},
    {CUDA_ERROR_INVALID_SOURCE, "CUDA_ERROR_INVALID_SOURCE", "device kernel image is invalid"},
    {CUDA_ERROR_FILE_NOT_FOUND, "CUDA_ERROR_FILE_NOT_FOUND", "file not found"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_ILLEGAL_ADDRESS, "CUDA_ERROR_ILLEGAL_ADDRESS", "an illegal memory access was encountered"},
    {CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES", "too many resources requested for launch"},
    {CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED, "CUDA_ERROR_PEER_ACCESS_ALREADY_ENABLED", "peer access is already enabled"},
    {CUDA_ERROR_PEER_ACCESS_NOT_ENABLED, "CUDA_ERROR_PEER_ACCESS_NOT_ENABLED", "peer access has not been enabled"},
    {CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE, "CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE", "primary context active"},
    {CUDA_ERROR_CONTEXT_IS_DESTROYED, "CUDA_ERROR_CONTEXT_IS_DESTROYED", "context is destroyed"},
    {CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, "CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED", "part or all of the requested memory range is already mapped"},
    {CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, "CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED", "pointer does not correspond to a registered memory region"},
    {CUDA_ERROR_NOT_PERMITTED, "CUDA_ERROR_NOT_PERMITTED", "operation not permitted"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing"},
    {CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
    {CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", "capture was not initiated in this stream"},
    {CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT", "operation would make the legacy stream depend on a capturing blocking stream"},
    {CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD", "attempt to terminate a thread-local capture sequence from another thread"},
    {CUDA_ERROR_NOT_FOUND, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

static int find_error(CUresult e) {
    for (size_t i = 0; i < sizeof g_errors / sizeof g_errors[0]; ++i)
        if (g_errors[i].code == e) return (int)i;
    return -1;
}

// cuGetErrorString: the real driver's wording for the codes the stand-in returns
RV_EXPORT CUresult cuGetErrorString(CUresult error, const char **pStr) {
    API_ENTER();
    if (!pStr) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int i = find_error(error);
    *pStr = i >= 0 ? g_errors[i].text : NULL;
    API_RETURN(i >= 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE);
}

// cuGetErrorName: the enum name of a result code
RV_EXPORT CUresult cuGetErrorName(CUresult error, const char **pStr) {
    API_ENTER();
    if (!pStr) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    int i = find_error(error);
    *pStr = i >= 0 ? g_errors[i].name : NULL;
    API_RETURN(i >= 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE);
}

/* The private tables live in export_tables.c (another family); a weak reference keeps this file
 * linkable while that file is absent, and the call then answers "not supported". */
extern CUresult rv_export_table(const void **ppExportTable, const CUuuid *pExportTableId) __attribute__((weak));

// cuGetExportTable: the runtime's private tables, answered by export_tables.c
RV_EXPORT CUresult cuGetExportTable(const void **ppExportTable, const CUuuid *pExportTableId) {
    API_ENTER();
    if (!ppExportTable || !pExportTableId) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    const unsigned char *u = (const unsigned char *)pExportTableId->bytes;
    API_ARGS("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4],
             u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
    if (!rv_export_table) {
        rv_unimplemented("cuGetExportTable");
        *ppExportTable = NULL;
        API_RETURN(CUDA_ERROR_NOT_SUPPORTED);
    }
    CUresult r = rv_export_table(ppExportTable, pExportTableId);
    if (r != CUDA_SUCCESS) rv_debug("export table %s: %d", rv__call.args, (int)r);
    API_RETURN(r);
}

// cuProfilerStart: nothing to profile; succeeds so profiler-bracketed programs run
RV_EXPORT CUresult cuProfilerStart(void) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

// cuProfilerStop: see cuProfilerStart
RV_EXPORT CUresult cuProfilerStop(void) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}

// cuLogsRegisterCallback: the stand-in emits no driver log records; registration succeeds
RV_EXPORT CUresult cuLogsRegisterCallback(CUlogsCallback callbackFunc, void *userData, CUlogsCallbackHandle *callback_out) {
    API_ENTER();
    if (!callbackFunc) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (callback_out) *callback_out = (CUlogsCallbackHandle)(uintptr_t)1;
    API_RETURN(CUDA_SUCCESS);
}

// cuLogsUnregisterCallback: see cuLogsRegisterCallback
RV_EXPORT CUresult cuLogsUnregisterCallback(CUlogsCallbackHandle callback) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}
