/* revati library-call context: the slice of the cuBLAS / cuBLASLt C ABI the interposer needs.
 *
 * Declared here, not included: cublas_api.h pulls in CUDA toolkit headers (crt/host_defines.h) that
 * the pip wheels do not ship, and revati builds without a toolkit. Enums are 32-bit ints in the ABI;
 * handles and descriptors are opaque pointers; the values are those of cuBLAS 12/13's public headers.
 */
#ifndef REVATI_LIBCALLS_CUBLAS_ABI_H
#define REVATI_LIBCALLS_CUBLAS_ABI_H

#include <stdint.h>

typedef int cublas_status;               /* cublasStatus_t */
typedef int cublas_op;                   /* cublasOperation_t */
typedef int cuda_dtype;                  /* cudaDataType */
typedef int cublas_compute;              /* cublasComputeType_t */
typedef int cublas_algo;                 /* cublasGemmAlgo_t */
typedef struct cublasContext *cublas_handle;
typedef struct cublasLtContext *cublaslt_handle;
typedef struct cublaslt_desc_opaque *cublaslt_desc;     /* cublasLtMatmulDesc_t */
typedef struct cublaslt_layout_opaque *cublaslt_layout; /* cublasLtMatrixLayout_t */
typedef struct { uint64_t data[8]; } cublaslt_algo;     /* cublasLtMatmulAlgo_t */
typedef struct { unsigned short x; } cublas_half;       /* __half, only ever passed by pointer */
typedef struct CUstream_st *cuda_stream;

enum {
    CUBLAS_STATUS_NOT_INITIALIZED_ = 1,
    CUBLAS_OP_N_ = 0,
    /* cudaDataType */
    DT_R_32F = 0, DT_R_64F = 1, DT_R_16F = 2, DT_R_8I = 3, DT_C_32F = 4, DT_C_64F = 5, DT_C_16F = 6,
    DT_R_8U = 8, DT_R_32I = 10, DT_R_16BF = 14, DT_R_8F_E4M3 = 28, DT_R_8F_E5M2 = 29, DT_R_8F_UE8M0 = 30,
    DT_R_4F_E2M1 = 33,
    /* cublasLtMatrixLayoutAttribute_t */
    LT_LAYOUT_TYPE = 0, LT_LAYOUT_ROWS = 2, LT_LAYOUT_COLS = 3, LT_LAYOUT_BATCH_COUNT = 5,
    /* cublasLtMatmulDescAttributes_t */
    LT_DESC_COMPUTE_TYPE = 0, LT_DESC_TRANSA = 3, LT_DESC_TRANSB = 4, LT_DESC_EPILOGUE = 7,
    LT_EPILOGUE_DEFAULT = 1,
};

#endif
