/* revati NVML stand-in internals: device handles, the init count and the api bracket. */
#ifndef REVATI_NVML_INTERNAL_H
#define REVATI_NVML_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "nvml_types.h"
#include "revati/devconf.h"
#include "revati/types.h"

#define RV_NVML_MAX_DEVICES 64

/* What NVML reports as the driver: the R580 branch that ships with CUDA 13.0. */
#define RV_NVML_DRIVER_VERSION "580.95.05"
#define RV_NVML_VERSION "13.580.95.05"
#define RV_NVML_CUDA_VERSION 13000

/* A device handle points at one of these; index is NVML's (physical) index, which ignores
 * CUDA_VISIBLE_DEVICES exactly as real NVML does. */
struct nvmlDevice_st {
    unsigned int index;
};

typedef struct rv_nvml_call {
    const char *name;
    rv_vtime_ns ts;
    char args[128];
} rv_nvml_call;

/* Every entry point runs between NV_ENTER and NV_RETURN: real time inside is revati's own, and the
 * call is written to the trace as an api event. */
#define NV_ENTER()                   \
    rv_nvml_call rv__call;           \
    rv__call.name = __func__;        \
    rv__call.args[0] = 0;            \
    rv_nvml_enter(&rv__call)
#define NV_RETURN(res) return rv_nvml_leave(&rv__call, (res))
#define NV_ARGS(...) snprintf(rv__call.args, sizeof rv__call.args, __VA_ARGS__)
/* Entry point bodies that need an initialised library and a valid handle. */
#define NV_NEED_INIT()                                              \
    do {                                                            \
        if (!rv_nvml_initialized()) NV_RETURN(NVML_ERROR_UNINITIALIZED); \
    } while (0)
#define NV_DEVICE(dev, out)                                        \
    NV_NEED_INIT();                                                \
    int out = rv_nvml_index(dev);                                  \
    if (out < 0) NV_RETURN(NVML_ERROR_INVALID_ARGUMENT)

void rv_nvml_enter(rv_nvml_call *c);
nvmlReturn_t rv_nvml_leave(rv_nvml_call *c, nvmlReturn_t res);
/* Generated stubs: warn once, count (the trace's end line lists it), NVML_ERROR_NOT_SUPPORTED. */
nvmlReturn_t rv_nvml_unimplemented(const char *name);

int rv_nvml_initialized(void);
/* The index behind a handle, or -1 for a handle that is not ours. */
int rv_nvml_index(nvmlDevice_t dev);
nvmlDevice_t rv_nvml_handle(unsigned int index);
unsigned int rv_nvml_count(void);

/* Copy a string into a caller's buffer: NVML_ERROR_INSUFFICIENT_SIZE when it does not fit. */
nvmlReturn_t rv_nvml_copy_str(char *dst, unsigned int len, const char *src);
/* "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" of device i (the driver's UUID bytes, in order). */
void rv_nvml_uuid_str(unsigned int i, char out[48]);
/* PCI identity of device i: bus = pci_bus_base + i, domain 0, device 0, function 0. */
unsigned int rv_nvml_bus(unsigned int i);
unsigned int rv_nvml_pci_device_id(void);
/* Write src's fields into a caller's PCI-info struct as the real library does: strings only up to
 * their NUL, numbers up to `upto` bytes (32 for v1, 36 for v2, sizeof(nvmlPciInfo_t) for v3, which
 * adds the 32-byte bus id). */
void rv_nvml_put_pci(void *dst, size_t upto, const nvmlPciInfo_t *src);
/* Per-profile facts NVML reports that the device profile does not carry. */
int rv_nvml_nvlinks(void);           /* NVLink links per GPU */
unsigned int rv_nvml_power_limit_mw(void);
unsigned int rv_nvml_pcie_gen(void);

#endif
