/* revati NVML stand-in: init/shutdown, error strings, system queries and the api-event bracket. */
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "revati/trace_level.h"
#include "revati/log.h"
#include "revati/trace.h"
#include "revati/vclock.h"

static _Atomic int g_init_count;
static struct nvmlDevice_st g_devices[RV_NVML_MAX_DEVICES];

/* ---- bracket ------------------------------------------------------------------------------- */

static int tracing(void) {
    static int v = -1;
    if (v < 0) v = rv_trace_enabled();
    return v;
}

void rv_nvml_enter(rv_nvml_call *c) {
    rv_enter();
    c->ts = rv_vnow();
}

nvmlReturn_t rv_nvml_leave(rv_nvml_call *c, nvmlReturn_t res) {
    if (tracing() && !rv_trace_verbose() && rv_is_query(c->name)) {
        rv_count_query(c->name); /* default level: pure queries are counted, not written */
    } else if (tracing()) {
        char esc[sizeof c->args * 2];
        rv_trace_emit("api",
                      "\"name\":\"%s\",\"res\":%d,\"args\":\"%s\",\"ts_ns\":%llu,\"end_ns\":%llu,\"wt_ns\":%llu,"
                      "\"corr\":0",
                      c->name, (int)res, rv_json_escape(esc, sizeof esc, c->args), (unsigned long long)c->ts,
                      (unsigned long long)rv_vnow(), (unsigned long long)rv_wall_ns());
    }
    if (res != NVML_SUCCESS) rv_debug("%s -> %d", c->name, (int)res);
    rv_leave();
    return res;
}

nvmlReturn_t rv_nvml_unimplemented(const char *name) {
    rv_nvml_call c = {name, 0, {0}};
    rv_nvml_enter(&c);
    rv_unimplemented(name);
    return rv_nvml_leave(&c, NVML_ERROR_NOT_SUPPORTED);
}

/* ---- devices ------------------------------------------------------------------------------- */

int rv_nvml_initialized(void) { return atomic_load(&g_init_count) > 0; }

unsigned int rv_nvml_count(void) {
    int n = rv_devconf_get()->count;
    return (unsigned int)(n < 0 ? 0 : n > RV_NVML_MAX_DEVICES ? RV_NVML_MAX_DEVICES : n);
}

static pthread_once_t g_devices_once = PTHREAD_ONCE_INIT;

static void devices_init(void) {
    for (unsigned int i = 0; i < RV_NVML_MAX_DEVICES; ++i) g_devices[i].index = i;
}

nvmlDevice_t rv_nvml_handle(unsigned int index) {
    if (index >= rv_nvml_count()) return NULL;
    pthread_once(&g_devices_once, devices_init);
    return &g_devices[index];
}

int rv_nvml_index(nvmlDevice_t dev) {
    if (!dev) return -1;
    uintptr_t p = (uintptr_t)dev, base = (uintptr_t)g_devices;
    if (p < base || (p - base) % sizeof g_devices[0] != 0) return -1;
    size_t i = (p - base) / sizeof g_devices[0];
    return i < rv_nvml_count() ? (int)i : -1;
}

nvmlReturn_t rv_nvml_copy_str(char *dst, unsigned int len, const char *src) {
    if (!dst) return NVML_ERROR_INVALID_ARGUMENT;
    size_t n = strlen(src);
    if (n + 1 > len) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(dst, src, n + 1);
    return NVML_SUCCESS;
}

void rv_nvml_uuid_str(unsigned int i, char out[48]) {
    unsigned char u[16];
    rv_dev_uuid((int)i, u);
    snprintf(out, 48, "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
             u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

void rv_nvml_put_pci(void *dst, size_t upto, const nvmlPciInfo_t *src) {
    unsigned char *d = dst;
    const size_t nums = offsetof(nvmlPciInfo_t, busIdLegacy) + sizeof src->busIdLegacy;
    memcpy(d, src->busIdLegacy, strnlen(src->busIdLegacy, sizeof src->busIdLegacy - 1) + 1);
    size_t end = upto < offsetof(nvmlPciInfo_t, busId) ? upto : offsetof(nvmlPciInfo_t, busId);
    if (end > nums) memcpy(d + nums, (const unsigned char *)src + nums, end - nums);
    if (upto > offsetof(nvmlPciInfo_t, busId))
        memcpy(d + offsetof(nvmlPciInfo_t, busId), src->busId, strnlen(src->busId, sizeof src->busId - 1) + 1);
}

unsigned int rv_nvml_bus(unsigned int i) { return (unsigned int)rv_devconf_get()->pci_bus_base + i; }

/* the product's facts come from the device profile (revati/devices/profiles.toml) */
unsigned int rv_nvml_pci_device_id(void) {
    /* PCI device id << 16 | NVIDIA's vendor id */
    return ((unsigned int)rv_devconf_get()->pci_device_id << 16) | 0x10de;
}

int rv_nvml_nvlinks(void) { return rv_devconf_get()->nvlinks; }

unsigned int rv_nvml_power_limit_mw(void) { return (unsigned int)rv_devconf_get()->power_limit_mw; }

unsigned int rv_nvml_pcie_gen(void) { return (unsigned int)rv_devconf_get()->pcie_gen; }

/* ---- init ---------------------------------------------------------------------------------- */

// nvmlInit_v2: reference-counted; every init needs a shutdown
RV_EXPORT nvmlReturn_t nvmlInit_v2(void) {
    NV_ENTER();
    atomic_fetch_add(&g_init_count, 1);
    NV_ARGS("devices=%u", rv_nvml_count());
    NV_RETURN(NVML_SUCCESS);
}

// nvmlInit: the NVML 1 name of nvmlInit_v2
RV_EXPORT nvmlReturn_t nvmlInit(void) {
    NV_ENTER();
    atomic_fetch_add(&g_init_count, 1);
    NV_RETURN(NVML_SUCCESS);
}

// nvmlInitWithFlags: flags (NO_GPUS, NO_ATTACH) change nothing for virtual devices
RV_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    NV_ENTER();
    atomic_fetch_add(&g_init_count, 1);
    NV_ARGS("flags=%u", flags);
    NV_RETURN(NVML_SUCCESS);
}

// nvmlShutdown: drops one reference; uninitialized -> NVML_ERROR_UNINITIALIZED
RV_EXPORT nvmlReturn_t nvmlShutdown(void) {
    NV_ENTER();
    int n = atomic_load(&g_init_count);
    while (n > 0 && !atomic_compare_exchange_weak(&g_init_count, &n, n - 1)) {
    }
    NV_RETURN(n > 0 ? NVML_SUCCESS : NVML_ERROR_UNINITIALIZED);
}

static const struct {
    nvmlReturn_t code;
    const char *text;
} g_errors[] = {
    {NVML_SUCCESS, "Success"},
    {NVML_ERROR_UNINITIALIZED, "Uninitialized"},
    {NVML_ERROR_INVALID_ARGUMENT, "Invalid Argument"},
    {NVML_ERROR_NOT_SUPPORTED, "Not Supported"},
    {NVML_ERROR_NO_PERMISSION, "Insufficient Permissions"},
    {NVML_ERROR_ALREADY_INITIALIZED, "Already Initialized"},
    {NVML_ERROR_NOT_FOUND, "Not Found"},
    {NVML_ERROR_INSUFFICIENT_SIZE, "Insufficient Size"},
    {NVML_ERROR_INSUFFICIENT_POWER, "Insufficient External Power"},
    {NVML_ERROR_DRIVER_NOT_LOADED, "Driver Not Loaded"},
    {NVML_ERROR_TIMEOUT, "Timeout"},
    {NVML_ERROR_IRQ_ISSUE, "Interrupt Request Issue"},
    {NVML_ERROR_LIBRARY_NOT_FOUND, "NVML Shared Library Not Found"},
    {NVML_ERROR_FUNCTION_NOT_FOUND, "Function Not Found"},
    {NVML_ERROR_CORRUPTED_INFOROM, "Corrupted infoROM"},
    {NVML_ERROR_GPU_IS_LOST, "GPU is lost"},
    {NVML_ERROR_RESET_REQUIRED, "GPU requires restart"},
    {NVML_ERROR_OPERATING_SYSTEM, "The operating system has blocked the request."},
    {NVML_ERROR_LIB_RM_VERSION_MISMATCH, "RM has detected an NVML/RM version mismatch."},
    {NVML_ERROR_IN_USE, "In use by another client"},
    {NVML_ERROR_MEMORY, "Insufficient Memory"},
    {NVML_ERROR_NO_DATA, "No data"},
    {NVML_ERROR_VGPU_ECC_NOT_SUPPORTED, "ECC is not supported on vGPU"},
    {NVML_ERROR_INSUFFICIENT_RESOURCES, "Insufficient resources"},
    {NVML_ERROR_FREQ_NOT_SUPPORTED, "Frequency not supported"},
    {NVML_ERROR_ARGUMENT_VERSION_MISMATCH, "Argument version mismatch"},
    {NVML_ERROR_DEPRECATED, "Deprecated"},
    {NVML_ERROR_NOT_READY, "Not ready"},
    {NVML_ERROR_GPU_NOT_FOUND, "GPU not found"},
    {NVML_ERROR_INVALID_STATE, "Invalid state"},
    {NVML_ERROR_RESET_TYPE_NOT_SUPPORTED, "Reset type not supported"},
    {NVML_ERROR_UNKNOWN, "Unknown Error"},
};

// nvmlErrorString: a static string for every code (no init needed, no trace: it is not an NVML call)
RV_EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
    for (size_t i = 0; i < sizeof g_errors / sizeof g_errors[0]; ++i)
        if (g_errors[i].code == result) return g_errors[i].text;
    return "Unknown Error";
}

// nvmlSystemGetDriverVersion: the R580 driver that ships with CUDA 13.0
RV_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(rv_nvml_copy_str(version, length, RV_NVML_DRIVER_VERSION));
}

// nvmlSystemGetNVMLVersion: NVML 13 on the same driver
RV_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    NV_ENTER();
    NV_RETURN(rv_nvml_copy_str(version, length, RV_NVML_VERSION));
}

// nvmlSystemGetCudaDriverVersion: 13000, as cuDriverGetVersion
RV_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *cudaDriverVersion) {
    NV_ENTER();
    if (!cudaDriverVersion) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *cudaDriverVersion = RV_NVML_CUDA_VERSION;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlSystemGetCudaDriverVersion_v2: same answer (v2 reads libcuda's version, which is ours too)
RV_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *cudaDriverVersion) {
    NV_ENTER();
    if (!cudaDriverVersion) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *cudaDriverVersion = RV_NVML_CUDA_VERSION;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlSystemGetConfComputeState: confidential computing is off
RV_EXPORT nvmlReturn_t nvmlSystemGetConfComputeState(nvmlConfComputeSystemState_t *state) {
    NV_ENTER();
    NV_NEED_INIT();
    if (!state) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    memset(state, 0, sizeof *state); /* environment unavailable, feature disabled, devtools off */
    NV_RETURN(NVML_SUCCESS);
}

// nvmlSystemGetConfComputeSettings: confidential computing is off (versioned struct)
RV_EXPORT nvmlReturn_t nvmlSystemGetConfComputeSettings(nvmlSystemConfComputeSettings_v1_t *settings) {
    NV_ENTER();
    NV_NEED_INIT();
    if (!settings) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    if (settings->version != nvmlSystemConfComputeSettings_v1) NV_RETURN(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    memset(settings, 0, sizeof *settings);
    settings->version = nvmlSystemConfComputeSettings_v1;
    NV_RETURN(NVML_SUCCESS);
}
