/* The CUDA driver's private export tables (cuGetExportTable) and the runtime's integrity check.
 *
 * The CUDA runtime (libcudart, and each copy of it linked into cuBLAS, cuBLASLt, cuDNN, NCCL) asks
 * the driver for UUID-keyed tables of function pointers that cuda.h does not declare. revati answers
 * the ones the runtime and the math libraries need; docs/export-tables.md lists every table and slot,
 * which ones are real, which answer 0, and where the facts come from.
 *
 * Note to the driver (context.c, init.c, device.c):
 *   - cuGetExportTable(pp, id) is `return rv_export_table(pp, id);` (inside rv_enter/rv_leave).
 *   - export_tables.c uses context.c's rv_ctx_current() and rv_ctx_primary() (see below), and
 *     context.c calls rv_cls_context_destroyed(ctx) when a context is destroyed or a primary
 *     context is reset, so the runtime's context-local-storage destructors run as with the real
 *     driver.
 *   - cuDriverGetVersion must answer RV_DRIVER_VERSION, and cuDeviceGetCount / cuDeviceGetUuid(_v2)
 *     / cuDeviceGetAttribute(PCI_DOMAIN_ID, PCI_BUS_ID, PCI_DEVICE_ID) must agree with
 *     rv_integrity_devices(): the runtime recomputes the integrity hash from those answers and
 *     fails every call with cudaErrorSoftwareValidityNotEstablished (103) when they differ.
 *   - The module slots of CUDART_INTERFACE call cuModuleLoadData; the context-id slot of the
 *     tools-context table calls cuCtxGetId.
 */
#ifndef REVATI_EXPORT_TABLES_H
#define REVATI_EXPORT_TABLES_H

#include <cuda.h>
#include <stddef.h>
#include <stdint.h>

#include "revati/types.h"

/* The driver version revati reports (cuDriverGetVersion) and hashes into the integrity check. */
#ifndef RV_DRIVER_VERSION
#define RV_DRIVER_VERSION 13000
#endif

/* Fill *ppExportTable for a known table id and return CUDA_SUCCESS; for an unknown id set it to
 * NULL, log the UUID once and return CUDA_ERROR_NOT_SUPPORTED (the runtime and the libraries treat
 * that as "feature absent"). NULL arguments give CUDA_ERROR_INVALID_VALUE. */
RV_API CUresult rv_export_table(const void **ppExportTable, const CUuuid *pExportTableId);

/* Run and forget the context-local-storage entries of ctx (their destructors are called with
 * (ctx, key, value)). Called by context.c when ctx is destroyed or a primary context is reset. */
RV_API void rv_cls_context_destroyed(CUcontext ctx);

/* `1734dc26` slots 4 and 13 (sm_layout.c): the TPC -> GPC bytes cuBLASLt orders its GEMM clusters by,
 * from the profile's `tpc_gpc` (NULL without one), and their release. */
RV_API CUresult rv_sm_layout_get(void **bytes, void **handle);
RV_API CUresult rv_sm_layout_release(void *bytes, void *handle);

/* ---- provided by context.c (driver/internal.h; referenced weakly until it is linked) ----
 *   struct rv_ctx *rv_ctx_current(void);    the thread's current context, or NULL
 *   struct rv_ctx *rv_ctx_primary(int dev); dev's primary context object (created if needed, not
 *                                           retained), NULL for a bad ordinal
 * A CUcontext handle is the rv_ctx pointer. */

/* ---- the integrity check (integrity.c) ---- */

/* One device as the integrity check hashes it (28 bytes, little-endian int32 fields). */
typedef struct rv_integrity_device {
    unsigned char uuid[16];
    int32_t pci_domain, pci_bus, pci_device;
} rv_integrity_device;

/* Everything the integrity check hashes besides the devices. */
typedef struct rv_integrity_input {
    uint32_t driver_version;  /* RV_DRIVER_VERSION */
    uint32_t runtime_version; /* the first argument the runtime passes */
    uint32_t pid;             /* getpid() */
    uint32_t thread;          /* low 32 bits of pthread_self() */
    uint64_t cudart_table;    /* address of the CUDART_INTERFACE table */
    uint64_t integrity_table; /* address of the INTEGRITY_CHECK table */
    uint64_t check_fn;        /* address of the function in INTEGRITY_CHECK slot 1 */
    uint64_t unix_seconds;    /* the second argument the runtime passes */
} rv_integrity_input;

/* MD2 (RFC 1319) of n bytes. */
RV_API void rv_md2(const void *data, size_t n, unsigned char out[16]);
/* HMAC-MD2 (RFC 2104 with MD2's 16-byte block) of the message parts a (na bytes) then b (nb). */
RV_API void rv_hmac_md2(const unsigned char *key, size_t nkey, const void *a, size_t na, const void *b,
                        size_t nb, unsigned char out[16]);
/* The 16-byte answer of the integrity check for these inputs, as the runtime reads it (two
 * little-endian uint64). */
RV_API void rv_integrity_hash(const rv_integrity_input *in, const rv_integrity_device *devs, int ndev,
                              uint64_t out[2]);
/* The devices the driver reports, as hashed: up to max, returns the count. */
RV_API int rv_integrity_devices(rv_integrity_device *devs, int max);

#endif
