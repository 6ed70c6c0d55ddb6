/* revati driver: device memory shared between processes. Device pointers are host addresses in a
 * private reservation (memory.c); memory that another process may open (a shareable VMM handle, a
 * CUDA IPC handle) is instead backed by a memfd mapped MAP_SHARED at the same place, so that every
 * process that opens it sees the same bytes (NCCL's connection buffers, vLLM's custom all-reduce
 * flags). Only touched pages cost memory. docs/coordination.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define PAGE 4096ULL
#define NAME_PREFIX "revati-dev"

static uint64_t page_down(uint64_t a) { return a & ~(PAGE - 1); }
static uint64_t page_up(uint64_t a) { return (a + PAGE - 1) & ~(PAGE - 1); }

int rv_shm_create(int dev, uint64_t size) {
    char name[32];
    snprintf(name, sizeof name, NAME_PREFIX "%d", dev);
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd < 0) return -1;
    if (ftruncate(fd, (off_t)page_up(size)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int rv_shm_dev_of(int fd) {
    char path[64], target[256];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n <= 0) return -1;
    target[n] = 0;
    const char *p = strstr(target, NAME_PREFIX);
    return p ? atoi(p + strlen(NAME_PREFIX)) : -1;
}

uint64_t rv_shm_size(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
}

int rv_shm_map_at(uint64_t addr, uint64_t size, int fd, uint64_t offset) {
    void *p = mmap((void *)addr, page_up(size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, (off_t)offset);
    if (p == MAP_FAILED) {
        rv_warn("cannot map shared device memory at 0x%llx (%s)", (unsigned long long)addr, strerror(errno));
        return -1;
    }
    return 0;
}

void rv_shm_unmap_at(uint64_t addr, uint64_t size) {
    /* back to private, lazily committed address space, as the reservation was */
    mmap((void *)addr, page_up(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
         -1, 0);
}

int rv_shm_share_range(int dev, uint64_t base, uint64_t size, uint64_t *map_base) {
    uint64_t a = page_down(base), e = page_up(base + size);
    int fd = rv_shm_create(dev, e - a);
    if (fd < 0) return -1;
    /* keep what the program already wrote: copy only the resident pages (untouched ones are zero) */
    size_t npages = (size_t)((e - a) / PAGE);
    unsigned char *vec = malloc(npages);
    if (vec && mincore((void *)a, e - a, vec) == 0) {
        for (size_t i = 0; i < npages; ++i) {
            if (!(vec[i] & 1)) continue;
            if (pwrite(fd, (void *)(a + i * PAGE), PAGE, (off_t)(i * PAGE)) != (ssize_t)PAGE) break;
        }
    }
    free(vec);
    if (rv_shm_map_at(a, e - a, fd, 0) != 0) {
        close(fd);
        return -1;
    }
    *map_base = a;
    return fd;
}
