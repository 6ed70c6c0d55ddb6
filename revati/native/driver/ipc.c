/* revati driver: inter-process memory handles. */
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define PAGE_ALIGN (2ULL << 20)

/* ---- inter-process handles ----
 * A handle names (pid, device, base, size). Processes do not share pages here: another process opening
 * the handle gets its own range of the same size (values written by one side are not seen by the
 * other; device kernels never run, so only host-written metadata could differ). The same process gets
 * the original address back. */

#define IPC_MAGIC 0x52564950u

typedef struct ipc_mem {
    uint32_t magic;
    int32_t pid, dev;
    uint64_t base, size;
} ipc_mem;

// cuIpcGetMemHandle: a handle naming this process's allocation
RV_EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr) {
    API_ENTER();
    rv_alloc a;
    if (!pHandle || !rv_alloc_find(dptr, &a) || a.kind == RV_MEM_HOST) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    memset(pHandle, 0, sizeof *pHandle);
    ipc_mem m = {IPC_MAGIC, (int32_t)getpid(), a.dev, a.base, a.size};
    memcpy(pHandle->reserved, &m, sizeof m);
    API_RETURN(CUDA_SUCCESS);
}

// cuIpcOpenMemHandle_v2: own process: the original address; another process: a private range of the same size
RV_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags) {
    API_ENTER();
    ipc_mem m;
    memcpy(&m, handle.reserved, sizeof m);
    if (!pdptr || m.magic != IPC_MAGIC || !m.size) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (m.pid == (int32_t)getpid()) {
        *pdptr = (CUdeviceptr)m.base;
        API_RETURN(CUDA_SUCCESS);
    }
    int dev = m.dev >= 0 && m.dev < rv_dev_count() ? m.dev : 0;
    uint64_t p = rv_va_reserve(dev, m.size, PAGE_ALIGN, 0);
    if (!p) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    rv_alloc a = {.base = p, .size = m.size, .dev = dev, .kind = RV_MEM_DEVICE, .flags = 0x40000000u};
    rv_alloc_add(&a);
    *pdptr = (CUdeviceptr)p;
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuIpcOpenMemHandle, cuIpcOpenMemHandle_v2);

// cuIpcCloseMemHandle: a range opened from another process is released (own allocations stay)
RV_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) {
    API_ENTER();
    rv_alloc a;
    if (!rv_alloc_find(dptr, &a)) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (a.flags & 0x40000000u) {
        rv_alloc_remove(a.base, NULL);
        rv_mem_discard(a.base, a.size);
        rv_va_release(a.base, a.size);
    }
    API_RETURN(CUDA_SUCCESS);
}
