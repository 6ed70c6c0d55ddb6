/* revati NCCL interposer: the parts of NCCL's public ABI (nccl.h, 2.x) the wrappers pass through. The
 * types are declared here rather than taken from nccl.h so that building revati needs no NCCL headers;
 * they are plain integers and opaque pointers whose layout NCCL keeps stable. */
#ifndef REVATI_NCCL_ABI_H
#define REVATI_NCCL_ABI_H

#include <stddef.h>
#include <stdint.h>

typedef int ncclResult_t; /* 0: ncclSuccess; 7: ncclInProgress (non-blocking communicators) */
#define NCCL_OK 0
#define NCCL_SYSTEM_ERROR 2
#define NCCL_IN_PROGRESS 7
#define NCCL_SPLIT_NOCOLOR (-1)

typedef struct ncclComm *ncclComm_t;
typedef int ncclDataType_t; /* ncclInt8 = 0 ... ncclFloat8e5m2 = 11 */
typedef int ncclRedOp_t;
typedef struct ncclConfig ncclConfig_t; /* passed through by pointer */
typedef struct {
    char internal[128];
} ncclUniqueId;
typedef void *cudaStream_t;

#endif
