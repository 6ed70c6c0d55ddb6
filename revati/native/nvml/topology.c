/* revati NVML stand-in: NVLink, P2P, topology, CPU/NUMA affinity, fabric and field values.
 *
 * The node is an SXM board: every GPU's NVLinks go to NVSwitches, so every pair of GPUs is connected
 * at full NVLink bandwidth (P2P OK over NVLink for every pair). */
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/time.h>

#include "internal.h"

/* Answers follow what a real HGX H200 node's NVML (driver 580) says; see docs/nvml.md. */

static unsigned int nvlink_version(void) {
    int cc = rv_devconf_get()->cc_major;
    return cc >= 10 ? NVML_NVLINK_VERSION_5_0 : cc == 9 ? NVML_NVLINK_VERSION_4_0 : NVML_NVLINK_VERSION_3_0;
}

static int link_ok(nvmlDevice_t device, unsigned int link) {
    return rv_nvml_index(device) >= 0 && link < (unsigned int)rv_nvml_nvlinks();
}

// nvmlDeviceGetNvLinkState: every link of the device is active
RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkState(nvmlDevice_t device, unsigned int link,
                                                nvmlEnableState_t *isActive) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("link=%u", link);
    if (!link_ok(device, link) || !isActive) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *isActive = NVML_FEATURE_ENABLED;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetNvLinkVersion: NVLink 4 (Hopper), 3 (A100), 5 (Blackwell)
RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkVersion(nvmlDevice_t device, unsigned int link,
                                                  unsigned int *version) {
    NV_ENTER();
    NV_NEED_INIT();
    if (!link_ok(device, link) || !version) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *version = nvlink_version();
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetNvLinkCapability: every capability reported, as on HGX H200
RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkCapability(nvmlDevice_t device, unsigned int link,
                                                     nvmlNvLinkCapability_t capability, unsigned int *capResult) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("link=%u cap=%d", link, (int)capability);
    if (!link_ok(device, link) || !capResult) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    if ((int)capability < 0 || capability > NVML_NVLINK_CAP_VALID) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *capResult = 1;
    NV_RETURN(NVML_SUCCESS);
}

/* NVSwitches are not PCI devices the host sees: the real NVML reports all-ones ids for them, and, as
 * for a GPU's own PCI info, writes only the fields of the caller's ABI version (checked on an H200):
 * v1 the first 32 bytes with a legacy id cut to its 16-byte buffer, v2 all but the subsystem id. */
static void switch_pci_head(nvmlPciInfo_t *pci) {
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "FFFFFFF:FF:FF.0");
    pci->domain = 0xffffffffu;
    pci->bus = 0xff;
    pci->device = 0xff;
    pci->pciDeviceId = 0xffffffffu;
}

// nvmlDeviceGetNvLinkRemotePciInfo_v2: every link ends at an NVSwitch (FFFFFFFF:FF:FF.0)
RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo_v2(nvmlDevice_t device, unsigned int link, nvmlPciInfo_t *pci) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("link=%u", link);
    if (!link_ok(device, link) || !pci) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    nvmlPciInfo_t full;
    memset(&full, 0, sizeof full);
    switch_pci_head(&full);
    snprintf(full.busId, sizeof full.busId, "FFFFFFFF:FF:FF.0");
    /* all but the subsystem id, which the real library leaves alone */
    rv_nvml_put_pci(pci, offsetof(nvmlPciInfo_t, pciSubSystemId), &full);
    memcpy(pci->busId, full.busId, strlen(full.busId) + 1);
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetNvLinkRemotePciInfo: the NVML 1 ABI (NCCL looks this name up): the first 32 bytes
RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemotePciInfo(nvmlDevice_t device, unsigned int link, nvmlPciInfo_v2_t *pci) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("link=%u", link);
    if (!link_ok(device, link) || !pci) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    nvmlPciInfo_t full;
    memset(&full, 0, sizeof full);
    switch_pci_head(&full);
    rv_nvml_put_pci(pci, offsetof(nvmlPciInfo_t, pciSubSystemId), &full);
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetNvLinkRemoteDeviceType: an NVSwitch at the end of every link
RV_EXPORT nvmlReturn_t nvmlDeviceGetNvLinkRemoteDeviceType(nvmlDevice_t device, unsigned int link,
                                                           nvmlIntNvLinkDeviceType_t *pNvLinkDeviceType) {
    NV_ENTER();
    NV_NEED_INIT();
    if (!link_ok(device, link) || !pNvLinkDeviceType) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *pNvLinkDeviceType = NVML_NVLINK_DEVICE_TYPE_SWITCH;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetP2PStatus: OK for read, write, NVLink and atomics; the PCI index is not supported
RV_EXPORT nvmlReturn_t nvmlDeviceGetP2PStatus(nvmlDevice_t device1, nvmlDevice_t device2,
                                              nvmlGpuP2PCapsIndex_t p2pIndex, nvmlGpuP2PStatus_t *p2pStatus) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("%d-%d idx=%d", rv_nvml_index(device1), rv_nvml_index(device2), (int)p2pIndex);
    if (rv_nvml_index(device1) < 0 || rv_nvml_index(device2) < 0 || !p2pStatus)
        NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    if ((int)p2pIndex < 0 || p2pIndex >= NVML_P2P_CAPS_INDEX_UNKNOWN) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *p2pStatus = p2pIndex == NVML_P2P_CAPS_INDEX_PCI ? NVML_P2P_STATUS_NOT_SUPPORTED : NVML_P2P_STATUS_OK;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetTopologyCommonAncestor: SINGLE (one PCIe switch) for two GPUs; not supported for one
RV_EXPORT nvmlReturn_t nvmlDeviceGetTopologyCommonAncestor(nvmlDevice_t device1, nvmlDevice_t device2,
                                                           nvmlGpuTopologyLevel_t *pathInfo) {
    NV_ENTER();
    NV_NEED_INIT();
    int a = rv_nvml_index(device1), b = rv_nvml_index(device2);
    if (a < 0 || b < 0 || !pathInfo) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    if (a == b) NV_RETURN(NVML_ERROR_NOT_SUPPORTED); /* what the real NVML answers */
    *pathInfo = NVML_TOPOLOGY_SINGLE;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetTopologyNearestGpus: every other GPU is at level SINGLE
RV_EXPORT nvmlReturn_t nvmlDeviceGetTopologyNearestGpus(nvmlDevice_t device, nvmlGpuTopologyLevel_t level,
                                                        unsigned int *count, nvmlDevice_t *deviceArray) {
    NV_ENTER();
    NV_NEED_INIT();
    int self = rv_nvml_index(device);
    if (self < 0 || !count) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    unsigned int n = level >= NVML_TOPOLOGY_SINGLE ? rv_nvml_count() - 1 : 0;
    if (!deviceArray || *count < n) { /* a size query, as NVML documents */
        unsigned int asked = *count;
        *count = n;
        NV_RETURN(asked < n && deviceArray ? NVML_ERROR_INSUFFICIENT_SIZE : NVML_SUCCESS);
    }
    unsigned int k = 0;
    for (unsigned int i = 0; i < rv_nvml_count() && k < n; ++i)
        if ((int)i != self) deviceArray[k++] = rv_nvml_handle(i);
    *count = k;
    NV_RETURN(NVML_SUCCESS);
}

/* CPU affinity: the CPUs this process may run on (the emulating host has no GPU-local sockets). */
static nvmlReturn_t cpu_set(unsigned int n, unsigned long *set) {
    if (!set || n == 0) return NVML_ERROR_INVALID_ARGUMENT;
    memset(set, 0, n * sizeof *set);
    cpu_set_t cs;
    CPU_ZERO(&cs);
    if (sched_getaffinity(0, sizeof cs, &cs) != 0) return NVML_ERROR_UNKNOWN;
    const unsigned bits = 8 * sizeof(unsigned long);
    for (unsigned c = 0; c < CPU_SETSIZE && c / bits < n; ++c)
        if (CPU_ISSET(c, &cs)) set[c / bits] |= 1UL << (c % bits);
    return NVML_SUCCESS;
}

// nvmlDeviceGetCpuAffinity: the CPUs this process may use
RV_EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinity(nvmlDevice_t device, unsigned int cpuSetSize,
                                                unsigned long *cpuSet) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    NV_RETURN(cpu_set(cpuSetSize, cpuSet));
}

// nvmlDeviceGetCpuAffinityWithinScope: the same set for node and socket scope
RV_EXPORT nvmlReturn_t nvmlDeviceGetCpuAffinityWithinScope(nvmlDevice_t device, unsigned int cpuSetSize,
                                                           unsigned long *cpuSet, nvmlAffinityScope_t scope) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (scope != NVML_AFFINITY_SCOPE_NODE && scope != NVML_AFFINITY_SCOPE_SOCKET)
        NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    NV_RETURN(cpu_set(cpuSetSize, cpuSet));
}

// nvmlDeviceGetMemoryAffinity: NUMA node 0
RV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryAffinity(nvmlDevice_t device, unsigned int nodeSetSize,
                                                   unsigned long *nodeSet, nvmlAffinityScope_t scope) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!nodeSet || nodeSetSize == 0) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    memset(nodeSet, 0, nodeSetSize * sizeof *nodeSet);
    nodeSet[0] = 1;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetNumaNodeId: not supported on x86 hosts (GPU memory is no NUMA node there)
RV_EXPORT nvmlReturn_t nvmlDeviceGetNumaNodeId(nvmlDevice_t device, unsigned int *node) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!node) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    NV_RETURN(NVML_ERROR_NOT_SUPPORTED);
}

// nvmlDeviceGetGpuFabricInfo: fabric set up (COMPLETED), no multi-node cluster (zero cluster UUID)
RV_EXPORT nvmlReturn_t nvmlDeviceGetGpuFabricInfo(nvmlDevice_t device, nvmlGpuFabricInfo_t *gpuFabricInfo) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!gpuFabricInfo) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    memset(gpuFabricInfo, 0, sizeof *gpuFabricInfo);
    gpuFabricInfo->status = NVML_SUCCESS;
    gpuFabricInfo->state = NVML_GPU_FABRIC_STATE_COMPLETED;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetGpuFabricInfoV: versioned (v2, v3); COMPLETED with a zero cluster UUID, as on HGX H200
RV_EXPORT nvmlReturn_t nvmlDeviceGetGpuFabricInfoV(nvmlDevice_t device,
                                                   nvmlGpuFabricInfo_v3_t *gpuFabricInfo) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!gpuFabricInfo) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    unsigned int v = gpuFabricInfo->version;
    if (v != nvmlGpuFabricInfo_v2 && v != nvmlGpuFabricInfo_v3) NV_RETURN(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    memset(gpuFabricInfo, 0, v & 0xffffff); /* the caller's struct is only as large as its version says */
    gpuFabricInfo->version = v;
    gpuFabricInfo->status = NVML_SUCCESS;
    gpuFabricInfo->state = NVML_GPU_FABRIC_STATE_COMPLETED;
    NV_RETURN(NVML_SUCCESS);
}

/* Per-link NVLink speed in MB/s by generation (an H200 reports 26562 for NVLink 4). */
static unsigned int link_speed_mbps(void) {
    unsigned int v = nvlink_version();
    return v == NVML_NVLINK_VERSION_5_0 ? 53125 : v == NVML_NVLINK_VERSION_4_0 ? 26562 : 25781;
}

// nvmlDeviceGetFieldValues: NVLink count, speed, state, version; other fields NOT_SUPPORTED per value
RV_EXPORT nvmlReturn_t nvmlDeviceGetFieldValues(nvmlDevice_t device, int valuesCount,
                                                nvmlFieldValue_t *values) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (valuesCount < 0 || (valuesCount > 0 && !values)) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    NV_ARGS("n=%d", valuesCount);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    for (int k = 0; k < valuesCount; ++k) {
        nvmlFieldValue_t *f = &values[k];
        f->timestamp = (long long)tv.tv_sec * 1000000 + tv.tv_usec;
        f->latencyUsec = 0;
        f->nvmlReturn = NVML_SUCCESS;
        f->valueType = NVML_VALUE_TYPE_UNSIGNED_INT;
        memset(&f->value, 0, sizeof f->value);
        switch (f->fieldId) {
        case NVML_FI_DEV_NVLINK_LINK_COUNT: f->value.uiVal = (unsigned int)rv_nvml_nvlinks(); break;
        case NVML_FI_DEV_NVLINK_GET_SPEED: f->value.uiVal = link_speed_mbps(); break;
        case NVML_FI_DEV_NVLINK_GET_STATE: f->value.uiVal = 1; break; /* active */
        case NVML_FI_DEV_NVLINK_GET_VERSION: f->value.uiVal = nvlink_version(); break;
        default:
            f->nvmlReturn = NVML_ERROR_NOT_SUPPORTED;
            f->valueType = NVML_VALUE_TYPE_DOUBLE;
            break;
        }
    }
    NV_RETURN(NVML_SUCCESS);
}
