/* revati driver: inter-process memory handles (CUDA IPC). The exporting process moves the allocation
 * onto a memfd (shm_map.c, contents kept) the first time a handle is asked for it; a process that opens
 * the handle maps the same memfd (reached through /proc/<pid>/fd of the exporter) at an address of its
 * own, so both see the same bytes, as on a GPU. The exporter gets its own address back. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

#define PAGE_ALIGN (2ULL << 20)
#define IPC_MAGIC 0x52564950u
#define IPC_OPENED 0x40000000u /* rv_alloc flag: a range opened from another process's handle */

typedef struct ipc_mem {
    uint32_t magic;
    int32_t pid, fd, dev;
    uint64_t base, size;
    uint64_t off; /* base - start of the shared mapping (the mapping is page aligned) */
} ipc_mem;

/* Allocations of this process already moved onto a memfd. */
#define MAX_SHARED 1024
static struct {
    uint64_t base, size;
    int fd;
    uint64_t map_base;
} g_shared[MAX_SHARED];
static int g_nshared;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

static int shared_fd(const rv_alloc *a, uint64_t *map_base) {
    pthread_mutex_lock(&g_mu);
    for (int i = 0; i < g_nshared; ++i)
        if (g_shared[i].base == a->base && g_shared[i].size == a->size) {
            *map_base = g_shared[i].map_base;
            int fd = g_shared[i].fd;
            pthread_mutex_unlock(&g_mu);
            return fd;
        }
    int fd = g_nshared < MAX_SHARED ? rv_shm_share_range(a->dev, a->base, a->size, map_base) : -1;
    if (fd >= 0) g_shared[g_nshared++] = (typeof(g_shared[0])){a->base, a->size, fd, *map_base};
    pthread_mutex_unlock(&g_mu);
    return fd;
}

// cuIpcGetMemHandle: a handle naming this process's allocation, whose memory becomes shareable
RV_EXPORT CUresult cuIpcGetMemHandle(CUipcMemHandle *pHandle, CUdeviceptr dptr) {
    API_ENTER();
    rv_alloc a;
    if (!pHandle || !rv_alloc_find(dptr, &a) || a.kind == RV_MEM_HOST) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    uint64_t map_base = 0;
    int fd = shared_fd(&a, &map_base);
    if (fd < 0) API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    API_ARGS("ptr=0x%llx bytes=%llu", (unsigned long long)a.base, (unsigned long long)a.size);
    memset(pHandle, 0, sizeof *pHandle);
    ipc_mem m = {IPC_MAGIC, (int32_t)getpid(), fd, a.dev, a.base, a.size, a.base - map_base};
    memcpy(pHandle->reserved, &m, sizeof m);
    API_RETURN(CUDA_SUCCESS);
}

// cuIpcOpenMemHandle_v2: own process: the original address; another process: the same memory mapped anew
RV_EXPORT CUresult cuIpcOpenMemHandle_v2(CUdeviceptr *pdptr, CUipcMemHandle handle, unsigned int Flags) {
    API_ENTER();
    ipc_mem m;
    memcpy(&m, handle.reserved, sizeof m);
    if (!pdptr || m.magic != IPC_MAGIC || !m.size) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_ARGS("pid=%d bytes=%llu", (int)m.pid, (unsigned long long)m.size);
    if (m.pid == (int32_t)getpid()) {
        *pdptr = (CUdeviceptr)m.base;
        API_RETURN(CUDA_SUCCESS);
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)m.pid, (int)m.fd);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) API_RETURN(CUDA_ERROR_INVALID_HANDLE); /* the exporter is gone */
    uint64_t len = rv_shm_size(fd);
    int dev = m.dev >= 0 && m.dev < rv_dev_count() ? m.dev : 0;
    uint64_t p = len ? rv_va_reserve(dev, len, PAGE_ALIGN, 0) : 0;
    if (!p || rv_shm_map_at(p, len, fd, 0) != 0) {
        close(fd);
        if (p) rv_va_release(p, len);
        API_RETURN(CUDA_ERROR_OUT_OF_MEMORY);
    }
    close(fd); /* the mapping keeps the memory */
    rv_alloc a = {.base = p, .size = len, .dev = dev, .kind = RV_MEM_DEVICE, .flags = IPC_OPENED};
    rv_alloc_add(&a);
    *pdptr = (CUdeviceptr)(p + m.off);
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuIpcOpenMemHandle, cuIpcOpenMemHandle_v2);

// cuIpcCloseMemHandle: a range opened from another process is unmapped (own allocations stay)
RV_EXPORT CUresult cuIpcCloseMemHandle(CUdeviceptr dptr) {
    API_ENTER();
    rv_alloc a;
    if (!rv_alloc_find(dptr, &a)) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (a.flags & IPC_OPENED) {
        rv_alloc_remove(a.base, NULL);
        rv_shm_unmap_at(a.base, a.size);
        rv_va_release(a.base, a.size);
    }
    API_RETURN(CUDA_SUCCESS);
}
