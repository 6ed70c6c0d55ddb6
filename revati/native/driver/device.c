/* revati driver: device management, answered from the device profile (devconf). */
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define CHECK_DEV(d)                                         \
    do {                                                     \
        if (!rv_initialized()) API_RETURN(CUDA_ERROR_NOT_INITIALIZED); \
        if (!rv_dev_valid(d)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);   \
    } while (0)

/* (PCI device id << 16) | NVIDIA's vendor id, for the profile's board. */
static long long pci_device_id(const rv_devconf *c) {
    unsigned dev = strstr(c->profile, "H200") ? 0x2335 : strstr(c->profile, "A100") ? 0x20b2 : 0x2330;
    return (long long)((dev << 16) | 0x10de);
}

/* The value of one attribute for a device of the profile; -1 answers CUDA_ERROR_INVALID_VALUE. The
 * constants are those an sm_90 H100 reports (and an A100 where the profile says cc 8.x). */
static long long attribute(const rv_devconf *c, int phys, int attr) {
    int hopper = c->cc_major >= 9;
    switch (attr) {
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: return 1024;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: return 64;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: return 65535;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: return 49152;
    case CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY: return 65536;
    case CU_DEVICE_ATTRIBUTE_WARP_SIZE: return 32;
    case CU_DEVICE_ATTRIBUTE_MAX_PITCH: return 2147483647;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK: return 65536;
    case CU_DEVICE_ATTRIBUTE_CLOCK_RATE: return c->clock_khz;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_ALIGNMENT: return 512;
    case CU_DEVICE_ATTRIBUTE_GPU_OVERLAP: return 1;
    case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: return c->sm_count;
    case CU_DEVICE_ATTRIBUTE_KERNEL_EXEC_TIMEOUT: return 0;
    case CU_DEVICE_ATTRIBUTE_INTEGRATED: return 0;
    case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE: return CU_COMPUTEMODE_DEFAULT;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_WIDTH: return 131072;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_WIDTH: return 131072;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_HEIGHT: return 65536;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH: return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT: return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH: return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_HEIGHT: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LAYERED_LAYERS: return 2048;
    case CU_DEVICE_ATTRIBUTE_SURFACE_ALIGNMENT: return 512;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS: return 1;
    case CU_DEVICE_ATTRIBUTE_ECC_ENABLED: return 1;
    case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: return c->pci_bus_base + phys;
    case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_TCC_DRIVER: return 0;
    case CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE: return c->mem_clock_khz;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH: return c->mem_bus_width;
    case CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE: return c->l2_bytes;
    case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: return c->max_threads_per_sm;
    case CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT: return hopper ? 3 : 3;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: return 1;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LAYERED_LAYERS: return 2048;
    case CU_DEVICE_ATTRIBUTE_CAN_TEX2D_GATHER: return 1;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_GATHER_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_GATHER_HEIGHT: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_WIDTH_ALTERNATE: return 8192;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_HEIGHT_ALTERNATE: return 8192;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE3D_DEPTH_ALTERNATE: return 32768;
    case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_TEXTURE_PITCH_ALIGNMENT: return 32;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURECUBEMAP_LAYERED_LAYERS: return 2046;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_WIDTH: return 131072;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_HEIGHT: return 65536;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_WIDTH: return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_HEIGHT: return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE3D_DEPTH: return 16384;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_LAYERED_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE1D_LAYERED_LAYERS: return 2048;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_HEIGHT: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACE2D_LAYERED_LAYERS: return 2048;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_LAYERED_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_SURFACECUBEMAP_LAYERED_LAYERS: return 2046;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_LINEAR_WIDTH: return 268435456;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_WIDTH: return 131072;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_HEIGHT: return 65000;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_LINEAR_PITCH: return 2097120;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_MIPMAPPED_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE2D_MIPMAPPED_HEIGHT: return 32768;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: return c->cc_major;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: return c->cc_minor;
    case CU_DEVICE_ATTRIBUTE_MAXIMUM_TEXTURE1D_MIPMAPPED_WIDTH: return 32768;
    case CU_DEVICE_ATTRIBUTE_STREAM_PRIORITIES_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_GLOBAL_L1_CACHE_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_LOCAL_L1_CACHE_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: return c->smem_per_sm;
    case CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR: return c->regs_per_sm;
    case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY: return 1;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD: return 0;
    case CU_DEVICE_ATTRIBUTE_MULTI_GPU_BOARD_GROUP_ID: return phys;
    case CU_DEVICE_ATTRIBUTE_HOST_NATIVE_ATOMIC_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_SINGLE_TO_DOUBLE_PRECISION_PERF_RATIO: return 2;
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS: return 0;
    case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS: return 1;
    case CU_DEVICE_ATTRIBUTE_COMPUTE_PREEMPTION_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_HOST_POINTER_FOR_REGISTERED_MEM: return 1; /* real H200 */
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS_V1: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR_V1: return 1;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: return 1;
    case CU_DEVICE_ATTRIBUTE_COOPERATIVE_MULTI_DEVICE_LAUNCH: return 0;
    case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: return c->smem_per_block_optin;
    case CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES: return 0;
    case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS_USES_HOST_PAGE_TABLES: return 0;
    case CU_DEVICE_ATTRIBUTE_DIRECT_MANAGED_MEM_ACCESS_FROM_HOST: return 0;
    case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_HANDLE_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_WIN32_KMT_HANDLE_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: return 32;
    case CU_DEVICE_ATTRIBUTE_GENERIC_COMPRESSION_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_MAX_PERSISTING_L2_CACHE_SIZE: return (long long)c->l2_bytes * 5 / 8; /* real H200 */
    case CU_DEVICE_ATTRIBUTE_MAX_ACCESS_POLICY_WINDOW_SIZE: return 134217728; /* real H200: 128 MiB */
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WITH_CUDA_VMM_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: return 1024;
    case CU_DEVICE_ATTRIBUTE_SPARSE_CUDA_ARRAY_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_TIMELINE_SEMAPHORE_INTEROP_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_FLUSH_WRITES_OPTIONS: return 1;
    case CU_DEVICE_ATTRIBUTE_GPU_DIRECT_RDMA_WRITES_ORDERING: return 100;
    case CU_DEVICE_ATTRIBUTE_MEMPOOL_SUPPORTED_HANDLE_TYPES: return 9; /* real H200: POSIX fd | fabric */
    case CU_DEVICE_ATTRIBUTE_CLUSTER_LAUNCH: return hopper;
    case CU_DEVICE_ATTRIBUTE_DEFERRED_MAPPING_CUDA_ARRAY_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS: return 1;
    case CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR: return 1;
    case CU_DEVICE_ATTRIBUTE_DMA_BUF_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_IPC_EVENT_SUPPORTED: return 1;
    case CU_DEVICE_ATTRIBUTE_MEM_SYNC_DOMAIN_COUNT: return hopper ? 4 : 1;
    case CU_DEVICE_ATTRIBUTE_TENSOR_MAP_ACCESS_SUPPORTED: return hopper;
    case CU_DEVICE_ATTRIBUTE_HANDLE_TYPE_FABRIC_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_UNIFIED_FUNCTION_POINTERS: return 1; /* real H200 */
    case CU_DEVICE_ATTRIBUTE_NUMA_CONFIG: return CU_DEVICE_NUMA_CONFIG_NONE;
    case CU_DEVICE_ATTRIBUTE_NUMA_ID: return -1;
    /* multicast (NVLS) off: there is no NVSwitch fabric to emulate it on */
    case CU_DEVICE_ATTRIBUTE_MULTICAST_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_MPS_ENABLED: return 0;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_ID: return 0;
    case CU_DEVICE_ATTRIBUTE_D3D12_CIG_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_MEM_DECOMPRESS_ALGORITHM_MASK: return 0;
    case CU_DEVICE_ATTRIBUTE_MEM_DECOMPRESS_MAXIMUM_LENGTH: return 0;
    case CU_DEVICE_ATTRIBUTE_VULKAN_CIG_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_GPU_PCI_DEVICE_ID: return pci_device_id(c);
    case CU_DEVICE_ATTRIBUTE_GPU_PCI_SUBSYSTEM_ID: return 0x16c110de;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MEMORY_POOLS_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_HOST_NUMA_MULTINODE_IPC_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_HOST_MEMORY_POOLS_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_HOST_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_HOST_ALLOC_DMA_BUF_SUPPORTED: return 0;
    case CU_DEVICE_ATTRIBUTE_ONLY_PARTIAL_HOST_NATIVE_ATOMIC_SUPPORTED: return 0;
    default: return -1;
    }
}

// cuDeviceGetAttribute: every CU_DEVICE_ATTRIBUTE from the profile; unknown ids are invalid
RV_EXPORT CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev) {
    API_ENTER();
    API_ARGS("attr=%d dev=%d", (int)attrib, dev);
    CHECK_DEV(dev);
    if (!pi) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    long long v = attribute(rv_conf(), rv_dev_phys(dev), (int)attrib);
    if (v == -1 && attrib != CU_DEVICE_ATTRIBUTE_NUMA_ID) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pi = (int)v;
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGet: ordinal -> device handle (handles are ordinals)
RV_EXPORT CUresult cuDeviceGet(CUdevice *device, int ordinal) {
    API_ENTER();
    if (!rv_initialized()) API_RETURN(CUDA_ERROR_NOT_INITIALIZED);
    if (!device) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!rv_dev_valid(ordinal)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    *device = ordinal;
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetCount: the profile's count, filtered by CUDA_VISIBLE_DEVICES
RV_EXPORT CUresult cuDeviceGetCount(int *count) {
    API_ENTER();
    if (!rv_initialized()) API_RETURN(CUDA_ERROR_NOT_INITIALIZED);
    if (!count) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *count = rv_dev_count();
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetName: the profile's marketing name
RV_EXPORT CUresult cuDeviceGetName(char *name, int len, CUdevice dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!name || len <= 0) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    snprintf(name, (size_t)len, "%s", rv_conf()->name);
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetUuid_v2: the stable per-device UUID NVML also reports
RV_EXPORT CUresult cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!uuid) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    rv_dev_uuid(rv_dev_phys(dev), (unsigned char *)uuid->bytes);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuDeviceGetUuid, cuDeviceGetUuid_v2);

// cuDeviceGetLuid: Windows only; Linux drivers answer not supported
RV_EXPORT CUresult cuDeviceGetLuid(char *luid, unsigned int *deviceNodeMask, CUdevice dev) {
    API_ENTER();
    API_RETURN(CUDA_ERROR_NOT_SUPPORTED);
}

// cuDeviceTotalMem_v2: the profile's memory less what the driver keeps
RV_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!bytes) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *bytes = rv_devconf_cuda_total(rv_conf());
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceTotalMem: the 32-bit ABI, clamped
RV_EXPORT CUresult cuDeviceTotalMem(unsigned int *bytes, CUdevice_v1 dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!bytes) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    uint64_t m = rv_devconf_cuda_total(rv_conf());
    *bytes = m > 0xffffffffu ? 0xffffffffu : (unsigned)m;
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceComputeCapability: from the profile
RV_EXPORT CUresult cuDeviceComputeCapability(int *major, int *minor, CUdevice dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!major || !minor) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *major = rv_conf()->cc_major;
    *minor = rv_conf()->cc_minor;
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetProperties: the legacy property block, from the profile
RV_EXPORT CUresult cuDeviceGetProperties(CUdevprop *prop, CUdevice dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!prop) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    const rv_devconf *c = rv_conf();
    memset(prop, 0, sizeof *prop);
    prop->maxThreadsPerBlock = 1024;
    prop->maxThreadsDim[0] = 1024, prop->maxThreadsDim[1] = 1024, prop->maxThreadsDim[2] = 64;
    prop->maxGridSize[0] = 2147483647, prop->maxGridSize[1] = 65535, prop->maxGridSize[2] = 65535;
    prop->sharedMemPerBlock = 49152;
    prop->totalConstantMemory = 65536;
    prop->SIMDWidth = 32;
    prop->memPitch = 2147483647;
    prop->regsPerBlock = 65536;
    prop->clockRate = c->clock_khz;
    prop->textureAlign = 512;
    API_RETURN(CUDA_SUCCESS);
}

static void pci_id(int dev, char *out, size_t n) {
    snprintf(out, n, "00000000:%02X:00.0", rv_conf()->pci_bus_base + rv_dev_phys(dev));
}

// cuDeviceGetPCIBusId: domain 0, bus = profile base + index, as NVML reports
RV_EXPORT CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!pciBusId || len <= 0) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    char s[32];
    pci_id(dev, s, sizeof s);
    snprintf(pciBusId, (size_t)len, "%s", s);
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetByPCIBusId: accepts the short (0000:18:00.0) and long (00000000:18:00.0) forms
RV_EXPORT CUresult cuDeviceGetByPCIBusId(CUdevice *dev, const char *pciBusId) {
    API_ENTER();
    if (!dev || !pciBusId) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    unsigned dom = 0, bus = 0, d = 0, fn = 0;
    if (sscanf(pciBusId, "%x:%x:%x.%x", &dom, &bus, &d, &fn) != 4) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    for (int i = 0; i < rv_dev_count(); ++i) {
        if ((unsigned)(rv_conf()->pci_bus_base + rv_dev_phys(i)) == bus && dom == 0) {
            *dev = i;
            API_RETURN(CUDA_SUCCESS);
        }
    }
    API_RETURN(CUDA_ERROR_INVALID_DEVICE);
}

// cuDeviceCanAccessPeer: all devices of a node see each other (NVLink)
RV_EXPORT CUresult cuDeviceCanAccessPeer(int *canAccessPeer, CUdevice dev, CUdevice peerDev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!rv_dev_valid(peerDev)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    if (!canAccessPeer) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *canAccessPeer = dev != peerDev;
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetP2PAttribute: NVLink peers: access, atomics and array access supported
RV_EXPORT CUresult cuDeviceGetP2PAttribute(int *value, CUdevice_P2PAttribute attrib, CUdevice srcDevice,
                                           CUdevice dstDevice) {
    API_ENTER();
    CHECK_DEV(srcDevice);
    if (!rv_dev_valid(dstDevice)) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    if (!value || srcDevice == dstDevice) API_RETURN(CUDA_ERROR_INVALID_DEVICE);
    switch (attrib) {
    case CU_DEVICE_P2P_ATTRIBUTE_PERFORMANCE_RANK: *value = 0; break;
    case CU_DEVICE_P2P_ATTRIBUTE_ACCESS_SUPPORTED:
    case CU_DEVICE_P2P_ATTRIBUTE_NATIVE_ATOMIC_SUPPORTED:
    case CU_DEVICE_P2P_ATTRIBUTE_CUDA_ARRAY_ACCESS_SUPPORTED: *value = 1; break;
    default: *value = 0; break;
    }
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetExecAffinitySupport: no SM partitioning
RV_EXPORT CUresult cuDeviceGetExecAffinitySupport(int *pi, CUexecAffinityType type, CUdevice dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!pi) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *pi = 0;
    API_RETURN(CUDA_SUCCESS);
}

// cuDeviceGetTexture1DLinearMaxWidth: the sm_90 limit
RV_EXPORT CUresult cuDeviceGetTexture1DLinearMaxWidth(size_t *maxWidthInElements, CUarray_format format,
                                                      unsigned numChannels, CUdevice dev) {
    API_ENTER();
    CHECK_DEV(dev);
    if (!maxWidthInElements) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *maxWidthInElements = 268435456;
    API_RETURN(CUDA_SUCCESS);
}

// cuFlushGPUDirectRDMAWrites: nothing in flight
RV_EXPORT CUresult cuFlushGPUDirectRDMAWrites(CUflushGPUDirectRDMAWritesTarget target,
                                              CUflushGPUDirectRDMAWritesScope scope) {
    API_ENTER();
    API_RETURN(CUDA_SUCCESS);
}
