/* A stand-in libnccl.so.2 for the libcalls probe: each collective reports the op context that
 * librevati_libcalls.so set around it (what a kernel launched there would carry), as one JSON line. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>

typedef struct ncclComm *ncclComm_t;

static void report(const char *call) {
    const char *(*ctx)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "revati_op_context");
    const char *op = ctx ? ctx() : NULL;
    printf("{\"call\":\"%s\",\"op\":%s}\n", call, op ? op : "null");
}

int ncclCommCount(const ncclComm_t comm, int *count) { *count = 4; return 0; }
int ncclAllReduce(const void *s, void *r, size_t n, int dt, int op, ncclComm_t c, void *st) { report("ncclAllReduce"); return 0; }
int ncclAllGather(const void *s, void *r, size_t n, int dt, ncclComm_t c, void *st) { report("ncclAllGather"); return 0; }
int ncclSend(const void *s, size_t n, int dt, int peer, ncclComm_t c, void *st) { report("ncclSend"); return 0; }
int ncclRecv(void *r, size_t n, int dt, int peer, ncclComm_t c, void *st) { report("ncclRecv"); return 0; }
int ncclGroupStart(void) { return 0; }
int ncclGroupEnd(void) { report("ncclGroupEnd"); return 0; }
