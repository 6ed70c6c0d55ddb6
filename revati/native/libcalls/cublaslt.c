/* revati library-call context: cuBLASLt matmuls, described from the public descriptor attributes. */
#include "cublas_abi.h"
#include "libcalls.h"
#include "names.h"

static const char *const LT_SONAMES[] = {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so", NULL};

typedef cublas_status (*matmul_fn)(cublaslt_handle, cublaslt_desc, const void *, const void *,
                                    cublaslt_layout, const void *, cublaslt_layout, const void *,
                                    const void *, cublaslt_layout, void *, cublaslt_layout,
                                    const cublaslt_algo *, void *, size_t, cuda_stream);
typedef cublas_status (*desc_get_fn)(cublaslt_desc, int, void *, size_t, size_t *);
typedef cublas_status (*layout_get_fn)(cublaslt_layout, int, void *, size_t,
                                        size_t *);

static matmul_fn g_matmul;
static desc_get_fn g_desc_get;
static layout_get_fn g_layout_get;

typedef struct layout {
    uint32_t type;
    uint64_t rows, cols;
    int32_t batch;
} layout;

static void layout_read(cublaslt_layout l, layout *out) {
    size_t w;
    *out = (layout){0, 0, 0, 1};
    if (!l || !g_layout_get) return;
    g_layout_get(l, LT_LAYOUT_TYPE, &out->type, sizeof out->type, &w);
    g_layout_get(l, LT_LAYOUT_ROWS, &out->rows, sizeof out->rows, &w);
    g_layout_get(l, LT_LAYOUT_COLS, &out->cols, sizeof out->cols, &w);
    g_layout_get(l, LT_LAYOUT_BATCH_COUNT, &out->batch, sizeof out->batch, &w);
}

/* m, n: D's rows and columns; k: A's columns, or rows when A is transposed. */
static size_t describe(cublaslt_desc desc, cublaslt_layout a, cublaslt_layout b,
                       cublaslt_layout c, cublaslt_layout d, rv_obj *o) {
    if (!g_desc_get) g_desc_get = (desc_get_fn)rv_real_symbol("cublasLtMatmulDescGetAttribute", LT_SONAMES);
    if (!g_layout_get) g_layout_get = (layout_get_fn)rv_real_symbol("cublasLtMatrixLayoutGetAttribute", LT_SONAMES);
    int32_t compute = 0, ta = CUBLAS_OP_N_, tb = CUBLAS_OP_N_;
    uint32_t epi = LT_EPILOGUE_DEFAULT;
    size_t w;
    if (g_desc_get && desc) {
        g_desc_get(desc, LT_DESC_COMPUTE_TYPE, &compute, sizeof compute, &w);
        g_desc_get(desc, LT_DESC_TRANSA, &ta, sizeof ta, &w);
        g_desc_get(desc, LT_DESC_TRANSB, &tb, sizeof tb, &w);
        g_desc_get(desc, LT_DESC_EPILOGUE, &epi, sizeof epi, &w);
    }
    layout la, lb, lc, ld;
    layout_read(a, &la);
    layout_read(b, &lb);
    layout_read(c, &lc);
    layout_read(d ? d : c, &ld);
    rv_obj_begin(o, "cublasLt", "matmul");
    rv_obj_int(o, "m", (long long)ld.rows);
    rv_obj_int(o, "n", (long long)ld.cols);
    rv_obj_int(o, "k", (long long)(ta == CUBLAS_OP_N_ ? la.cols : la.rows));
    rv_obj_int(o, "batch", ld.batch);
    rv_obj_str(o, "dtype", rv_cuda_dtype_name((int)la.type));
    rv_obj_str(o, "dtype_b", rv_cuda_dtype_name((int)lb.type));
    rv_obj_str(o, "dtype_c", rv_cuda_dtype_name((int)lc.type));
    rv_obj_str(o, "dtype_d", rv_cuda_dtype_name((int)ld.type));
    rv_obj_str(o, "trans_a", rv_trans_name(ta));
    rv_obj_str(o, "trans_b", rv_trans_name(tb));
    rv_obj_str(o, "compute", rv_compute_name(compute));
    rv_obj_str(o, "epilogue", rv_epilogue_name(epi));
    return rv_obj_end(o);
}

// cublasLtMatmul: the real matmul, its kernels tagged with M, N, K, batch, dtypes, transposes, epilogue
RV_EXPORT cublas_status cublasLtMatmul(cublaslt_handle h, cublaslt_desc desc, const void *alpha,
                                        const void *A, cublaslt_layout Adesc, const void *B,
                                        cublaslt_layout Bdesc, const void *beta, const void *C,
                                        cublaslt_layout Cdesc, void *D, cublaslt_layout Ddesc,
                                        const cublaslt_algo *algo, void *workspace, size_t wsSize,
                                        cuda_stream stream) {
    rv_libcalls_enter();
    if (!g_matmul) g_matmul = (matmul_fn)rv_real_symbol("cublasLtMatmul", LT_SONAMES);
    rv_obj o;
    rv_opctx_saved saved;
    rv_opctx_push(o.buf, describe(desc, Adesc, Bdesc, Cdesc, Ddesc, &o), &saved);
    rv_libcalls_leave();
    cublas_status r = g_matmul ? g_matmul(h, desc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo,
                                           workspace, wsSize, stream)
                                : CUBLAS_STATUS_NOT_INITIALIZED_;
    rv_opctx_pop(&saved);
    return r;
}
