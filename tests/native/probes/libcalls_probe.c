/* libcalls probe: NCCL calls made through librevati_libcalls.so (preloaded) into fake_nccl.c; each
 * prints the op context its (fake) kernels would be tagged with, then the context outside any call. */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>

typedef struct ncclComm *ncclComm_t;
int ncclAllReduce(const void *, void *, size_t, int, int, ncclComm_t, void *);
int ncclAllGather(const void *, void *, size_t, int, ncclComm_t, void *);
int ncclSend(const void *, size_t, int, int, ncclComm_t, void *);
int ncclRecv(void *, size_t, int, int, ncclComm_t, void *);
int ncclGroupStart(void);
int ncclGroupEnd(void);

int main(void) {
    ncclComm_t comm = (ncclComm_t)0x1;
    ncclAllReduce(NULL, NULL, 1000, 9, 0, comm, NULL);  /* bf16, sum */
    ncclAllGather(NULL, NULL, 256, 7, comm, NULL);      /* f32 */
    ncclGroupStart();                                   /* one call in a group: itself, at GroupEnd */
    ncclAllReduce(NULL, NULL, 10, 6, 2, comm, NULL);    /* f16, max */
    ncclGroupEnd();
    ncclGroupStart();                                   /* several: a group summary */
    ncclSend(NULL, 100, 7, 1, comm, NULL);
    ncclRecv(NULL, 100, 7, 1, comm, NULL);
    ncclGroupEnd();
    const char *(*ctx)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "revati_op_context");
    printf("{\"call\":\"after\",\"op\":%s}\n", ctx && ctx() ? ctx() : "null");
    return 0;
}
