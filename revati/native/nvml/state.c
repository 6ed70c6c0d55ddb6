/* revati NVML stand-in: modes, power, temperature, clocks, utilization, processes and PCIe link. */
#include <string.h>

#include "internal.h"

/* An idle, healthy device: what a serving engine sees before it starts its own work (an idle H200
 * draws 110-120 W of its 700 W). */
#define IDLE_TEMP_C 33u

// nvmlDeviceGetPersistenceMode: enabled, as on serving hosts
RV_EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(nvmlDevice_t device, nvmlEnableState_t *mode) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!mode) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *mode = NVML_FEATURE_ENABLED;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetComputeMode: default (shared)
RV_EXPORT nvmlReturn_t nvmlDeviceGetComputeMode(nvmlDevice_t device, nvmlComputeMode_t *mode) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!mode) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *mode = NVML_COMPUTEMODE_DEFAULT;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetMigMode: MIG disabled now and after reset
RV_EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *currentMode,
                                            unsigned int *pendingMode) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!currentMode || !pendingMode) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *currentMode = 0;
    *pendingMode = 0;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceIsMigDeviceHandle: our handles are whole GPUs
RV_EXPORT nvmlReturn_t nvmlDeviceIsMigDeviceHandle(nvmlDevice_t device, unsigned int *isMigDevice) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!isMigDevice) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *isMigDevice = 0;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetEccMode: ECC on (HBM parts always run with it)
RV_EXPORT nvmlReturn_t nvmlDeviceGetEccMode(nvmlDevice_t device, nvmlEnableState_t *current,
                                            nvmlEnableState_t *pending) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!current || !pending) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *current = *pending = NVML_FEATURE_ENABLED;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetDisplayMode: enabled (a display could be initialised), as H200 boards report
RV_EXPORT nvmlReturn_t nvmlDeviceGetDisplayMode(nvmlDevice_t device, nvmlEnableState_t *display) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!display) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *display = NVML_FEATURE_ENABLED;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetDisplayActive: no display attached
RV_EXPORT nvmlReturn_t nvmlDeviceGetDisplayActive(nvmlDevice_t device, nvmlEnableState_t *isActive) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!isActive) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *isActive = NVML_FEATURE_DISABLED;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetVirtualizationMode: bare metal
RV_EXPORT nvmlReturn_t nvmlDeviceGetVirtualizationMode(nvmlDevice_t device,
                                                       nvmlGpuVirtualizationMode_t *pVirtualMode) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!pVirtualMode) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *pVirtualMode = NVML_GPU_VIRTUALIZATION_MODE_NONE;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetPerformanceState: P0
RV_EXPORT nvmlReturn_t nvmlDeviceGetPerformanceState(nvmlDevice_t device, nvmlPstates_t *pState) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!pState) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *pState = NVML_PSTATE_0;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetPowerUsage: idle draw in mW (kernels never run, so the device never heats up)
RV_EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t device, unsigned int *power) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!power) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *power = rv_nvml_power_limit_mw() / 6;
    NV_RETURN(NVML_SUCCESS);
}

static nvmlReturn_t power_limit(nvmlDevice_t device, unsigned int *limit) {
    if (rv_nvml_index(device) < 0 || !limit) return NVML_ERROR_INVALID_ARGUMENT;
    *limit = rv_nvml_power_limit_mw();
    return NVML_SUCCESS;
}

// nvmlDeviceGetPowerManagementLimit: the board's TDP (700 W SXM Hopper, 400 W SXM A100)
RV_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementLimit(nvmlDevice_t device, unsigned int *limit) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(power_limit(device, limit));
}

// nvmlDeviceGetPowerManagementDefaultLimit: the board's TDP
RV_EXPORT nvmlReturn_t nvmlDeviceGetPowerManagementDefaultLimit(nvmlDevice_t device,
                                                                unsigned int *defaultLimit) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(power_limit(device, defaultLimit));
}

// nvmlDeviceGetEnforcedPowerLimit: the board's TDP
RV_EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(nvmlDevice_t device, unsigned int *limit) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(power_limit(device, limit));
}

// nvmlDeviceGetTemperature: an idle GPU's temperature in C
RV_EXPORT nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t device, nvmlTemperatureSensors_t sensorType,
                                                unsigned int *temp) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!temp || sensorType != NVML_TEMPERATURE_GPU) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *temp = IDLE_TEMP_C;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetUtilizationRates: 0% (revati keeps device time virtual; nothing runs on a real GPU)
RV_EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t device, nvmlUtilization_t *utilization) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!utilization) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    utilization->gpu = 0;
    utilization->memory = 0;
    NV_RETURN(NVML_SUCCESS);
}

static nvmlReturn_t clock_mhz(nvmlDevice_t device, nvmlClockType_t type, unsigned int *clock) {
    if (rv_nvml_index(device) < 0 || !clock) return NVML_ERROR_INVALID_ARGUMENT;
    const rv_devconf *c = rv_devconf_get();
    switch (type) {
    case NVML_CLOCK_GRAPHICS:
    case NVML_CLOCK_SM: *clock = (unsigned int)(c->clock_khz / 1000); return NVML_SUCCESS;
    case NVML_CLOCK_MEM: *clock = (unsigned int)(c->mem_clock_khz / 1000); return NVML_SUCCESS;
    case NVML_CLOCK_VIDEO: *clock = (unsigned int)(c->clock_khz / 1000) * 78 / 100; return NVML_SUCCESS;
    default: return NVML_ERROR_INVALID_ARGUMENT;
    }
}

// nvmlDeviceGetClockInfo: the profile's clocks in MHz (always at boost: a loaded serving GPU)
RV_EXPORT nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t device, nvmlClockType_t type,
                                              unsigned int *clock) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("type=%d", (int)type);
    NV_RETURN(clock_mhz(device, type, clock));
}

// nvmlDeviceGetMaxClockInfo: the profile's clocks in MHz
RV_EXPORT nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t device, nvmlClockType_t type,
                                                 unsigned int *clock) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("type=%d", (int)type);
    NV_RETURN(clock_mhz(device, type, clock));
}

// nvmlDeviceGetApplicationsClock: the profile's clocks in MHz
RV_EXPORT nvmlReturn_t nvmlDeviceGetApplicationsClock(nvmlDevice_t device, nvmlClockType_t clockType,
                                                      unsigned int *clockMHz) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(clock_mhz(device, clockType, clockMHz));
}

// nvmlDeviceGetDefaultApplicationsClock: the profile's clocks in MHz
RV_EXPORT nvmlReturn_t nvmlDeviceGetDefaultApplicationsClock(nvmlDevice_t device, nvmlClockType_t clockType,
                                                             unsigned int *clockMHz) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(clock_mhz(device, clockType, clockMHz));
}

// nvmlDeviceGetCurrentClocksEventReasons: no throttling
RV_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(nvmlDevice_t device,
                                                              unsigned long long *reasons) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!reasons) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *reasons = 0;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetCurrentClocksThrottleReasons: the older name of the above
RV_EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(nvmlDevice_t device,
                                                                 unsigned long long *reasons) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!reasons) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *reasons = 0;
    NV_RETURN(NVML_SUCCESS);
}

/* Process lists: none. revati's processes hold no real GPU context, and NVML cannot see the
 * stand-in driver's allocations from another library. */
static nvmlReturn_t no_processes(nvmlDevice_t device, unsigned int *infoCount) {
    if (rv_nvml_index(device) < 0 || !infoCount) return NVML_ERROR_INVALID_ARGUMENT;
    *infoCount = 0;
    return NVML_SUCCESS;
}

// nvmlDeviceGetComputeRunningProcesses_v3: none
RV_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                               nvmlProcessInfo_t *infos) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(no_processes(device, infoCount));
}

// nvmlDeviceGetComputeRunningProcesses_v2: none
RV_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v2(nvmlDevice_t device, unsigned int *infoCount,
                                                               nvmlProcessInfo_t *infos) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(no_processes(device, infoCount));
}

// nvmlDeviceGetComputeRunningProcesses: none (v1 entries are {pid, usedGpuMemory})
RV_EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses(nvmlDevice_t device, unsigned int *infoCount,
                                                            void *infos) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(no_processes(device, infoCount));
}

// nvmlDeviceGetGraphicsRunningProcesses_v3: none
RV_EXPORT nvmlReturn_t nvmlDeviceGetGraphicsRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                                nvmlProcessInfo_t *infos) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(no_processes(device, infoCount));
}

// nvmlDeviceGetMPSComputeRunningProcesses_v3: none
RV_EXPORT nvmlReturn_t nvmlDeviceGetMPSComputeRunningProcesses_v3(nvmlDevice_t device, unsigned int *infoCount,
                                                                  nvmlProcessInfo_t *infos) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(no_processes(device, infoCount));
}

static nvmlReturn_t out_u(nvmlDevice_t device, unsigned int *out, unsigned int v) {
    if (rv_nvml_index(device) < 0 || !out) return NVML_ERROR_INVALID_ARGUMENT;
    *out = v;
    return NVML_SUCCESS;
}

// nvmlDeviceGetCurrPcieLinkGeneration: Gen5 (Hopper) / Gen4 (A100)
RV_EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkGeneration(nvmlDevice_t device, unsigned int *currLinkGen) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(out_u(device, currLinkGen, rv_nvml_pcie_gen()));
}

// nvmlDeviceGetMaxPcieLinkGeneration: as the current one
RV_EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkGeneration(nvmlDevice_t device, unsigned int *maxLinkGen) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(out_u(device, maxLinkGen, rv_nvml_pcie_gen()));
}

// nvmlDeviceGetGpuMaxPcieLinkGeneration: as the current one
RV_EXPORT nvmlReturn_t nvmlDeviceGetGpuMaxPcieLinkGeneration(nvmlDevice_t device,
                                                             unsigned int *maxLinkGenDevice) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(out_u(device, maxLinkGenDevice, rv_nvml_pcie_gen()));
}

// nvmlDeviceGetCurrPcieLinkWidth: x16
RV_EXPORT nvmlReturn_t nvmlDeviceGetCurrPcieLinkWidth(nvmlDevice_t device, unsigned int *currLinkWidth) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(out_u(device, currLinkWidth, 16));
}

// nvmlDeviceGetMaxPcieLinkWidth: x16
RV_EXPORT nvmlReturn_t nvmlDeviceGetMaxPcieLinkWidth(nvmlDevice_t device, unsigned int *maxLinkWidth) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(out_u(device, maxLinkWidth, 16));
}

// nvmlDeviceGetPcieLinkMaxSpeed: the NVML_PCIE_LINK_MAX_SPEED_* code of the generation (Gen5: 5)
RV_EXPORT nvmlReturn_t nvmlDeviceGetPcieLinkMaxSpeed(nvmlDevice_t device, unsigned int *maxSpeed) {
    NV_ENTER();
    NV_NEED_INIT();
    unsigned int code = rv_nvml_pcie_gen() >= 5 ? NVML_PCIE_LINK_MAX_SPEED_32000MBPS : NVML_PCIE_LINK_MAX_SPEED_16000MBPS;
    NV_RETURN(out_u(device, maxSpeed, code));
}

// nvmlDeviceGetPcieSpeed: MB/s per lane of the link generation (Gen5 32000, Gen4 16000)
RV_EXPORT nvmlReturn_t nvmlDeviceGetPcieSpeed(nvmlDevice_t device, unsigned int *pcieSpeed) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_RETURN(out_u(device, pcieSpeed, rv_nvml_pcie_gen() >= 5 ? 32000 : 16000));
}
