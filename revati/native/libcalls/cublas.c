/* revati library-call context: cuBLAS GEMMs (the Ex, strided-batched and typed entry points torch uses). */
#include "cublas_abi.h"
#include "libcalls.h"
#include "names.h"

static const char *const SONAMES[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so", NULL};

static size_t describe(rv_obj *o, int m, int n, int k, int batch, int ta, int tb, int at, int bt, int ct,
                       const char *compute) {
    rv_obj_begin(o, "cublas", "gemm");
    rv_obj_int(o, "m", m);
    rv_obj_int(o, "n", n);
    rv_obj_int(o, "k", k);
    rv_obj_int(o, "batch", batch);
    rv_obj_str(o, "dtype", rv_cuda_dtype_name(at));
    rv_obj_str(o, "dtype_b", rv_cuda_dtype_name(bt));
    rv_obj_str(o, "dtype_c", rv_cuda_dtype_name(ct));
    rv_obj_str(o, "trans_a", rv_trans_name(ta));
    rv_obj_str(o, "trans_b", rv_trans_name(tb));
    rv_obj_str(o, "compute", compute);
    return rv_obj_end(o);
}

/* Describe, push, call the real entry point (NOT_INITIALIZED when it cannot be found), pop. */
#define GEMM_CALL(fn, describe_args, ...)                                                  \
    static __typeof__(&fn) real;                                                           \
    rv_obj o;                                                                              \
    rv_opctx_saved saved;                                                                  \
    rv_libcalls_enter();                                                                   \
    if (!real) real = (__typeof__(&fn))rv_real_symbol(#fn, SONAMES);                       \
    rv_opctx_push(o.buf, describe describe_args, &saved);                                  \
    rv_libcalls_leave();                                                                   \
    cublas_status r = real ? real(__VA_ARGS__) : CUBLAS_STATUS_NOT_INITIALIZED_;           \
    rv_opctx_pop(&saved);                                                                  \
    return r

// cublasGemmEx: the real GEMM, its kernels tagged with M, N, K, dtypes, transposes, compute type
RV_EXPORT cublas_status cublasGemmEx(cublas_handle h, cublas_op ta, cublas_op tb, int m, int n,
                                      int k, const void *alpha, const void *A, cuda_dtype at, int lda,
                                      const void *B, cuda_dtype bt, int ldb, const void *beta, void *C,
                                      cuda_dtype ct, int ldc, cublas_compute compute, cublas_algo algo) {
    GEMM_CALL(cublasGemmEx, (&o, m, n, k, 1, ta, tb, at, bt, ct, rv_compute_name(compute)), h, ta, tb, m, n, k,
              alpha, A, at, lda, B, bt, ldb, beta, C, ct, ldc, compute, algo);
}

// cublasGemmStridedBatchedEx: as cublasGemmEx, with the batch count
RV_EXPORT cublas_status cublasGemmStridedBatchedEx(cublas_handle h, cublas_op ta, cublas_op tb,
                                                    int m, int n, int k, const void *alpha, const void *A,
                                                    cuda_dtype at, int lda, long long int sA, const void *B,
                                                    cuda_dtype bt, int ldb, long long int sB, const void *beta,
                                                    void *C, cuda_dtype ct, int ldc, long long int sC, int batch,
                                                    cublas_compute compute, cublas_algo algo) {
    GEMM_CALL(cublasGemmStridedBatchedEx, (&o, m, n, k, batch, ta, tb, at, bt, ct, rv_compute_name(compute)), h, ta,
              tb, m, n, k, alpha, A, at, lda, sA, B, bt, ldb, sB, beta, C, ct, ldc, sC, batch, compute, algo);
}

// cublasGemmBatchedEx: as cublasGemmEx, with the batch count (arrays of pointers)
RV_EXPORT cublas_status cublasGemmBatchedEx(cublas_handle h, cublas_op ta, cublas_op tb, int m,
                                             int n, int k, const void *alpha, const void *const A[], cuda_dtype at,
                                             int lda, const void *const B[], cuda_dtype bt, int ldb,
                                             const void *beta, void *const C[], cuda_dtype ct, int ldc, int batch,
                                             cublas_compute compute, cublas_algo algo) {
    GEMM_CALL(cublasGemmBatchedEx, (&o, m, n, k, batch, ta, tb, at, bt, ct, rv_compute_name(compute)), h, ta, tb, m,
              n, k, alpha, A, at, lda, B, bt, ldb, beta, C, ct, ldc, batch, compute, algo);
}

// cublasSgemmEx: f32 compute over the given input/output types
RV_EXPORT cublas_status cublasSgemmEx(cublas_handle h, cublas_op ta, cublas_op tb, int m, int n,
                                       int k, const float *alpha, const void *A, cuda_dtype at, int lda,
                                       const void *B, cuda_dtype bt, int ldb, const float *beta, void *C,
                                       cuda_dtype ct, int ldc) {
    GEMM_CALL(cublasSgemmEx, (&o, m, n, k, 1, ta, tb, at, bt, ct, "f32"), h, ta, tb, m, n, k, alpha, A, at, lda, B,
              bt, ldb, beta, C, ct, ldc);
}

// cublasSgemm_v2: f32 GEMM
RV_EXPORT cublas_status cublasSgemm_v2(cublas_handle h, cublas_op ta, cublas_op tb, int m, int n,
                                        int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                                        const float *beta, float *C, int ldc) {
    GEMM_CALL(cublasSgemm_v2, (&o, m, n, k, 1, ta, tb, DT_R_32F, DT_R_32F, DT_R_32F, "f32"), h, ta, tb, m, n,
              k, alpha, A, lda, B, ldb, beta, C, ldc);
}

// cublasDgemm_v2: f64 GEMM
RV_EXPORT cublas_status cublasDgemm_v2(cublas_handle h, cublas_op ta, cublas_op tb, int m, int n,
                                        int k, const double *alpha, const double *A, int lda, const double *B,
                                        int ldb, const double *beta, double *C, int ldc) {
    GEMM_CALL(cublasDgemm_v2, (&o, m, n, k, 1, ta, tb, DT_R_64F, DT_R_64F, DT_R_64F, "f64"), h, ta, tb, m, n,
              k, alpha, A, lda, B, ldb, beta, C, ldc);
}

// cublasHgemm: f16 GEMM with f16 compute
RV_EXPORT cublas_status cublasHgemm(cublas_handle h, cublas_op ta, cublas_op tb, int m, int n,
                                     int k, const cublas_half *alpha, const cublas_half *A, int lda, const cublas_half *B, int ldb,
                                     const cublas_half *beta, cublas_half *C, int ldc) {
    GEMM_CALL(cublasHgemm, (&o, m, n, k, 1, ta, tb, DT_R_16F, DT_R_16F, DT_R_16F, "f16"), h, ta, tb, m, n, k,
              alpha, A, lda, B, ldb, beta, C, ldc);
}

// cublasSgemmStridedBatched: batched f32 GEMM
RV_EXPORT cublas_status cublasSgemmStridedBatched(cublas_handle h, cublas_op ta, cublas_op tb,
                                                   int m, int n, int k, const float *alpha, const float *A, int lda,
                                                   long long int sA, const float *B, int ldb, long long int sB,
                                                   const float *beta, float *C, int ldc, long long int sC,
                                                   int batch) {
    GEMM_CALL(cublasSgemmStridedBatched, (&o, m, n, k, batch, ta, tb, DT_R_32F, DT_R_32F, DT_R_32F, "f32"), h,
              ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch);
}

// cublasDgemmStridedBatched: batched f64 GEMM
RV_EXPORT cublas_status cublasDgemmStridedBatched(cublas_handle h, cublas_op ta, cublas_op tb,
                                                   int m, int n, int k, const double *alpha, const double *A, int lda,
                                                   long long int sA, const double *B, int ldb, long long int sB,
                                                   const double *beta, double *C, int ldc, long long int sC,
                                                   int batch) {
    GEMM_CALL(cublasDgemmStridedBatched, (&o, m, n, k, batch, ta, tb, DT_R_64F, DT_R_64F, DT_R_64F, "f64"), h,
              ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch);
}

// cublasHgemmStridedBatched: batched f16 GEMM with f16 compute
RV_EXPORT cublas_status cublasHgemmStridedBatched(cublas_handle h, cublas_op ta, cublas_op tb,
                                                   int m, int n, int k, const cublas_half *alpha, const cublas_half *A, int lda,
                                                   long long int sA, const cublas_half *B, int ldb, long long int sB,
                                                   const cublas_half *beta, cublas_half *C, int ldc, long long int sC,
                                                   int batch) {
    GEMM_CALL(cublasHgemmStridedBatched, (&o, m, n, k, batch, ta, tb, DT_R_16F, DT_R_16F, DT_R_16F, "f16"), h,
              ta, tb, m, n, k, alpha, A, lda, sA, B, ldb, sB, beta, C, ldc, sC, batch);
}
