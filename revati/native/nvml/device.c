/* revati NVML stand-in: device enumeration, identity (name, UUID, PCI, serial) and memory. */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

// nvmlDeviceGetCount_v2: every device of the profile (NVML ignores CUDA_VISIBLE_DEVICES)
RV_EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount) {
    NV_ENTER();
    NV_NEED_INIT();
    if (!deviceCount) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *deviceCount = rv_nvml_count();
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetCount: the NVML 1 name of nvmlDeviceGetCount_v2
RV_EXPORT nvmlReturn_t nvmlDeviceGetCount(unsigned int *deviceCount) {
    NV_ENTER();
    NV_NEED_INIT();
    if (!deviceCount) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *deviceCount = rv_nvml_count();
    NV_RETURN(NVML_SUCCESS);
}

static nvmlReturn_t by_index(unsigned int index, nvmlDevice_t *device) {
    if (!device) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlDevice_t d = rv_nvml_handle(index);
    if (!d) return NVML_ERROR_INVALID_ARGUMENT;
    *device = d;
    return NVML_SUCCESS;
}

// nvmlDeviceGetHandleByIndex_v2: index < count -> handle
RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("index=%u", index);
    NV_RETURN(by_index(index, device));
}

// nvmlDeviceGetHandleByIndex: the NVML 1 name
RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex(unsigned int index, nvmlDevice_t *device) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("index=%u", index);
    NV_RETURN(by_index(index, device));
}

// nvmlDeviceGetHandleByUUID: "GPU-..." as nvmlDeviceGetUUID prints it (case-insensitive)
RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device) {
    NV_ENTER();
    NV_NEED_INIT();
    if (!uuid || !device) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    NV_ARGS("%.100s", uuid);
    for (unsigned int i = 0; i < rv_nvml_count(); ++i) {
        char s[48];
        rv_nvml_uuid_str(i, s);
        if (!strcasecmp(s, uuid) || !strcasecmp(s + 4, uuid)) {
            *device = rv_nvml_handle(i);
            NV_RETURN(NVML_SUCCESS);
        }
    }
    NV_RETURN(NVML_ERROR_NOT_FOUND);
}

/* "dddd:bb:dd.f", "dddddddd:bb:dd.f" or "bb:dd.f" (hex) -> domain, bus, device; 0 if malformed. */
static int parse_bus_id(const char *s, unsigned *domain, unsigned *bus, unsigned *dev) {
    unsigned a, b, c, f;
    char tail;
    if (sscanf(s, "%x:%x:%x.%x%c", &a, &b, &c, &f, &tail) == 4) {
        *domain = a, *bus = b, *dev = c;
        return 1;
    }
    if (sscanf(s, "%x:%x.%x%c", &b, &c, &f, &tail) == 3) {
        *domain = 0, *bus = b, *dev = c;
        return 1;
    }
    return 0;
}

static nvmlReturn_t by_bus_id(const char *pciBusId, nvmlDevice_t *device) {
    if (!pciBusId || !device) return NVML_ERROR_INVALID_ARGUMENT;
    unsigned domain, bus, dev;
    if (!parse_bus_id(pciBusId, &domain, &bus, &dev)) return NVML_ERROR_INVALID_ARGUMENT;
    for (unsigned int i = 0; i < rv_nvml_count(); ++i) {
        if (domain == 0 && dev == 0 && bus == rv_nvml_bus(i)) {
            *device = rv_nvml_handle(i);
            return NVML_SUCCESS;
        }
    }
    return NVML_ERROR_NOT_FOUND;
}

// nvmlDeviceGetHandleByPciBusId_v2: device i sits at 00000000:(pci_bus_base+i):00.0
RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId_v2(const char *pciBusId, nvmlDevice_t *device) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("%.64s", pciBusId ? pciBusId : "(null)");
    NV_RETURN(by_bus_id(pciBusId, device));
}

// nvmlDeviceGetHandleByPciBusId: the NVML 1 name
RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleByPciBusId(const char *pciBusId, nvmlDevice_t *device) {
    NV_ENTER();
    NV_NEED_INIT();
    NV_ARGS("%.64s", pciBusId ? pciBusId : "(null)");
    NV_RETURN(by_bus_id(pciBusId, device));
}

static void serial_of(unsigned int i, char out[32]) {
    unsigned char u[16];
    rv_dev_uuid((int)i, u);
    unsigned long long v = 0;
    for (int k = 0; k < 8; ++k) v = (v << 8) | u[k];
    snprintf(out, 32, "1654%09llu", v % 1000000000ULL); /* 13 digits, as boards print them */
}

// nvmlDeviceGetHandleBySerial: the serial nvmlDeviceGetSerial reports
RV_EXPORT nvmlReturn_t nvmlDeviceGetHandleBySerial(const char *serial, nvmlDevice_t *device) {
    NV_ENTER();
    NV_NEED_INIT();
    if (!serial || !device) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    for (unsigned int i = 0; i < rv_nvml_count(); ++i) {
        char s[32];
        serial_of(i, s);
        if (!strcmp(s, serial)) {
            *device = rv_nvml_handle(i);
            NV_RETURN(NVML_SUCCESS);
        }
    }
    NV_RETURN(NVML_ERROR_NOT_FOUND);
}

// nvmlDeviceGetName: the profile's product name (the driver reports the same)
RV_EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    NV_RETURN(rv_nvml_copy_str(name, length, rv_devconf_get()->name));
}

// nvmlDeviceGetUUID: rv_dev_uuid(i) as "GPU-8-4-4-4-12" (the driver's cuDeviceGetUuid bytes)
RV_EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length) {
    NV_ENTER();
    NV_DEVICE(device, i);
    char s[48];
    rv_nvml_uuid_str((unsigned int)i, s);
    NV_RETURN(rv_nvml_copy_str(uuid, length, s));
}

// nvmlDeviceGetSerial: 13 digits derived from the UUID
RV_EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t device, char *serial, unsigned int length) {
    NV_ENTER();
    NV_DEVICE(device, i);
    char s[32];
    serial_of((unsigned int)i, s);
    NV_RETURN(rv_nvml_copy_str(serial, length, s));
}

// nvmlDeviceGetIndex: the NVML index the handle came from
RV_EXPORT nvmlReturn_t nvmlDeviceGetIndex(nvmlDevice_t device, unsigned int *index) {
    NV_ENTER();
    NV_DEVICE(device, i);
    if (!index) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *index = (unsigned int)i;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetMinorNumber: /dev/nvidia<i>
RV_EXPORT nvmlReturn_t nvmlDeviceGetMinorNumber(nvmlDevice_t device, unsigned int *minorNumber) {
    NV_ENTER();
    NV_DEVICE(device, i);
    if (!minorNumber) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *minorNumber = (unsigned int)i;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetBrand: data-center parts report the NVIDIA brand
RV_EXPORT nvmlReturn_t nvmlDeviceGetBrand(nvmlDevice_t device, nvmlBrandType_t *type) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!type) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *type = NVML_BRAND_NVIDIA;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetArchitecture: from the profile's compute capability
RV_EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t device, nvmlDeviceArchitecture_t *arch) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!arch) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    const rv_devconf *c = rv_devconf_get();
    int cc = c->cc_major * 10 + c->cc_minor;
    *arch = cc >= 100 ? NVML_DEVICE_ARCH_BLACKWELL
            : cc >= 90 ? NVML_DEVICE_ARCH_HOPPER
            : cc >= 89 ? NVML_DEVICE_ARCH_ADA
            : cc >= 80 ? NVML_DEVICE_ARCH_AMPERE
            : cc >= 75 ? NVML_DEVICE_ARCH_TURING
            : cc >= 70 ? NVML_DEVICE_ARCH_VOLTA
                       : NVML_DEVICE_ARCH_UNKNOWN;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetCudaComputeCapability: the profile's (major, minor)
RV_EXPORT nvmlReturn_t nvmlDeviceGetCudaComputeCapability(nvmlDevice_t device, int *major, int *minor) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!major || !minor) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *major = rv_devconf_get()->cc_major;
    *minor = rv_devconf_get()->cc_minor;
    NV_RETURN(NVML_SUCCESS);
}

static void fill_bus_ids(unsigned int i, char *legacy16, char *full32) {
    if (legacy16) snprintf(legacy16, NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE, "0000:%02X:00.0", rv_nvml_bus(i));
    if (full32) snprintf(full32, NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE, "00000000:%02X:00.0", rv_nvml_bus(i));
}

static void fill_pci(unsigned int i, nvmlPciInfo_t *p) {
    memset(p, 0, sizeof *p);
    fill_bus_ids(i, p->busIdLegacy, p->busId);
    p->bus = rv_nvml_bus(i);
    p->pciDeviceId = rv_nvml_pci_device_id();
    p->pciSubSystemId = rv_nvml_pci_device_id(); /* NVIDIA's own boards: subsystem = device, vendor */
}

/* Each PCI-info ABI writes a prefix of the full record: the bytes its struct has (v3: all of it). */
static nvmlReturn_t put_pci_prefix(int i, void *pci, size_t bytes) {
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    nvmlPciInfo_t full;
    fill_pci((unsigned int)i, &full);
    rv_nvml_put_pci(pci, bytes, &full);
    return NVML_SUCCESS;
}

// nvmlDeviceGetPciInfo_v3: domain 0, bus pci_bus_base+i, device 0 (the driver's PCI ids)
RV_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci) {
    NV_ENTER();
    NV_DEVICE(device, i);
    NV_RETURN(put_pci_prefix(i, pci, sizeof *pci));
}

/* The real library writes only the fields each ABI version had: 32 bytes for v1 (no subsystem id),
 * 36 for v2; the reserved words after them stay as the caller left them (checked on an H200). */
#define PCI_V1_BYTES offsetof(nvmlPciInfo_v2_t, pciSubSystemId)
#define PCI_V2_BYTES offsetof(nvmlPciInfo_v2_t, reserved0)

// nvmlDeviceGetPciInfo_v2: the pre-NVML-9 layout, its first 36 bytes
RV_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v2(nvmlDevice_t device, nvmlPciInfo_v2_t *pci) {
    NV_ENTER();
    NV_DEVICE(device, i);
    NV_RETURN(put_pci_prefix(i, pci, PCI_V2_BYTES));
}

// nvmlDeviceGetPciInfo: the NVML 1 ABI, its first 32 bytes (NCCL looks this name up)
RV_EXPORT nvmlReturn_t nvmlDeviceGetPciInfo(nvmlDevice_t device, nvmlPciInfo_v2_t *pci) {
    NV_ENTER();
    NV_DEVICE(device, i);
    NV_RETURN(put_pci_prefix(i, pci, PCI_V1_BYTES));
}

// nvmlDeviceGetPciInfoExt: versioned; a 3D controller (class 0x03, subclass 0x02)
RV_EXPORT nvmlReturn_t nvmlDeviceGetPciInfoExt(nvmlDevice_t device, nvmlPciInfoExt_v1_t *pci) {
    NV_ENTER();
    NV_DEVICE(device, i);
    if (!pci) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    if (pci->version != nvmlPciInfoExt_v1) NV_RETURN(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    nvmlPciInfo_t full;
    fill_pci((unsigned int)i, &full);
    memset(pci, 0, sizeof *pci);
    pci->version = nvmlPciInfoExt_v1;
    pci->bus = full.bus;
    pci->pciDeviceId = full.pciDeviceId, pci->pciSubSystemId = full.pciSubSystemId;
    pci->baseClass = 0x03, pci->subClass = 0x02;
    fill_bus_ids((unsigned int)i, NULL, pci->busId);
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetMemoryInfo: total from the profile, used = what the driver keeps (reserved_bytes)
RV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!memory) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    const rv_devconf *c = rv_devconf_get();
    uint64_t used = c->reserved_bytes < c->mem_bytes ? c->reserved_bytes : c->mem_bytes;
    memory->total = c->mem_bytes;
    memory->used = used;
    memory->free = c->mem_bytes - used;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetMemoryInfo_v2: versioned; the driver's share is `reserved`, nothing is `used`
RV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!memory) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    if (memory->version != nvmlMemory_v2) NV_RETURN(NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    const rv_devconf *c = rv_devconf_get();
    uint64_t reserved = c->reserved_bytes < c->mem_bytes ? c->reserved_bytes : c->mem_bytes;
    memory->total = c->mem_bytes;
    memory->reserved = reserved;
    memory->used = 0;
    memory->free = c->mem_bytes - reserved;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetBAR1MemoryInfo: BAR1 is the power of two above the memory (H200 256 GiB, H100 128 GiB)
RV_EXPORT nvmlReturn_t nvmlDeviceGetBAR1MemoryInfo(nvmlDevice_t device, nvmlBAR1Memory_t *bar1Memory) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!bar1Memory) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    uint64_t bar = 1ULL << 30;
    while (bar < rv_devconf_get()->mem_bytes && bar < (1ULL << 50)) bar <<= 1;
    bar1Memory->bar1Total = bar;
    bar1Memory->bar1Used = 1ULL << 20;
    bar1Memory->bar1Free = bar1Memory->bar1Total - bar1Memory->bar1Used;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetMemoryBusWidth: the profile's bus width in bits
RV_EXPORT nvmlReturn_t nvmlDeviceGetMemoryBusWidth(nvmlDevice_t device, unsigned int *busWidth) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!busWidth) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    *busWidth = (unsigned int)rv_devconf_get()->mem_bus_width;
    NV_RETURN(NVML_SUCCESS);
}

// nvmlDeviceGetNumGpuCores: FP32 lanes: 128 per SM from Hopper on, 64 on A100
RV_EXPORT nvmlReturn_t nvmlDeviceGetNumGpuCores(nvmlDevice_t device, unsigned int *numCores) {
    NV_ENTER();
    NV_DEVICE(device, i);
    (void)i;
    if (!numCores) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT);
    const rv_devconf *c = rv_devconf_get();
    *numCores = (unsigned int)c->sm_count * (c->cc_major >= 9 ? 128u : 64u);
    NV_RETURN(NVML_SUCCESS);
}
