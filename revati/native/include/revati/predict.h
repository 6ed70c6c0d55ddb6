/* revati predictor core: kernel features and trained-model evaluation, free of driver state.
 *
 * The same sources are compiled into the stand-in libcuda.so.1 (timing launches) and into
 * librvpredict.so, which Python loads with ctypes to compute the very same features for training
 * (revati/predictors/features.py) and which tools/bench_predict.py times. One implementation of the
 * feature schema, so training and evaluation cannot drift.
 *
 * Model files are written by `revati train` (revati/predictors/model_file.py); their format is in
 * docs/predictors.md. Nothing here allocates per prediction once a signature is cached.
 */
#ifndef REVATI_PREDICT_H
#define REVATI_PREDICT_H

#include <stdint.h>

#include "revati/types.h"

#define RV_PF_SCHEMA 5 /* bump when the feature vector below changes meaning: models record it */
#define RV_PF_N 18     /* length of the feature vector */

/* Kernel families: each has its own curves and its own XGBoost model. */
enum { RV_FAM_OTHER, RV_FAM_GEMM, RV_FAM_ATTENTION, RV_FAM_ELEMENTWISE, RV_FAM_REDUCE, RV_FAM_COMM, RV_FAM_N };

/* Feature vector slots (NaN where unknown). log2 values are of quantities + 1. */
enum {
    RV_PF_FAMILY,      /* family id */
    RV_PF_LOG_FLOPS,   /* floating-point operations, from op (GEMM, attention) or element counts */
    RV_PF_LOG_BYTES,   /* bytes moved through HBM at least once */
    RV_PF_LOG_ROOF_NS, /* roofline time on the device: max(flops / peak, bytes / bandwidth) */
    RV_PF_WAVES,       /* blocks / (SMs x resident blocks per SM) */
    RV_PF_LOG_BLOCKS,
    RV_PF_THREADS,     /* threads per block */
    RV_PF_SMEM,        /* dynamic shared memory, KiB */
    RV_PF_LOG_D0,      /* GEMM m | attention batch x heads */
    RV_PF_LOG_D1,      /* GEMM n | attention query length */
    RV_PF_LOG_D2,      /* GEMM k | attention key length */
    RV_PF_LOG_D3,      /* GEMM batch | attention head dim */
    RV_PF_DTYPE_BYTES,
    RV_PF_CAUSAL,
    RV_PF_LOG_ELEMS, /* element count: the first non-pointer scalar argument, or decoded (cat) */
    RV_PF_LOG_THREADS_TOTAL,
    RV_PF_VEC,                   /* vector width of torch's vectorized elementwise kernels (NaN: other) */
    RV_PF_LOG_ELEMS_PER_THREAD,  /* log2(elements / total threads): > 0 when threads loop (grid-stride) */
};

/* What a prediction needs to know about a device (from the device profile). */
typedef struct rv_pdev {
    int sm_count, max_threads_per_sm, smem_per_sm;
    double peak_bf16_tflops, peak_fp16_tflops, peak_fp32_tflops, peak_fp8_tflops;
    double mem_bw_gbs;
} rv_pdev;

/* One launch as the predictor sees it. args/op/sig follow the kernel-event contract
 * (docs/trace-format.md); each may be NULL when the launch path does not know it. */
typedef struct rv_pkernel {
    const char *name;
    unsigned grid[3], block[3], smem;
    const char *args; /* JSON list text */
    const char *op;   /* JSON object text */
    const char *sig;  /* 16 lowercase hex chars */
} rv_pkernel;

RV_API int rv_pf_family(const char *name, const char *op);
RV_API const char *rv_pf_family_name(int fam);
RV_API void rv_pf_features(const rv_pkernel *k, const rv_pdev *d, double out[RV_PF_N]);
/* Roofline time (ns) from a feature vector's flops and bytes on device d; 0 when neither is known. */
RV_API double rv_pf_roofline_ns(const rv_pkernel *k, const rv_pdev *d);
/* 1 when a GEMM or attention launch is compute-bound on device d (its FLOPs at the tensor peak take
 * longer than its bytes at the HBM bandwidth): the launches that draw a card to its power limit. */
RV_API int rv_pf_compute_bound(const rv_pkernel *k, const rv_pdev *d);
/* The cache key of a launch: its sig when given, else FNV-1a over name, grid, block, smem, args, op. */
RV_API uint64_t rv_pf_key(const rv_pkernel *k);
/* The op the kernel-features unit decodes from a kernel's own parameters (rv_feat_kernel_op), for a
 * recorded launch whose first parameter (a struct) is given as its 8-byte words, masked words as 0:
 * profile rows recorded before a decoder existed get the op a new recording would carry. Writes the
 * object to dst (room n) and returns its length; 0 when the kernel is not one revati decodes. */
RV_API size_t rv_pf_kernel_op_from_words(const char *name, const unsigned grid[3], const unsigned block[3],
                                         const uint64_t *words, int nwords, char *dst, size_t n);
/* The same for a recorded launch's whole parameter list: parameter i at byte off[i] of words, size[i]
 * bytes (recorded scalars as 8-byte values), e.g. cuDNN's causal flag, a scalar after the struct. */
RV_API size_t rv_pf_kernel_op_from_params(const char *name, const unsigned grid[3], const unsigned block[3],
                                          const uint64_t *words, const uint16_t *off, const uint16_t *size,
                                          int nparams, char *dst, size_t n);
/* The features unit's signature of a launch from its texts (args and op as recorded), 16 hex digits. */
RV_API void rv_pf_sig(const char *name, const unsigned grid[3], const unsigned block[3], unsigned smem,
                      const char *args, const char *op, char out[17]);

/* ---- trained models ---- */

/* How a duration was obtained (the trace's provenance "how"). */
enum { RV_HOW_EXACT, RV_HOW_INTERPOLATED, RV_HOW_MODEL, RV_HOW_FALLBACK };
RV_API const char *rv_how_name(int how);

typedef struct rv_model rv_model;

typedef struct rv_pmres {
    double dur_ns;   /* < 0: the model has no answer (the caller falls back) */
    int how;         /* RV_HOW_* */
    const char *src; /* table | curve | xgb */
} rv_pmres;

/* Load a model directory (model.tsv and its XGBoost files) for predictor `mode` (table, roofline
 * or xgb). xgb_lib is the path of libxgboost.so (needed only by xgb). Returns NULL and a one-line
 * reason in err on failure. */
RV_API rv_model *rv_model_load(const char *dir, const char *mode, const char *xgb_lib, char *err, int errlen);
RV_API void rv_model_free(rv_model *m);
/* The model's hash (first 16 hex chars of the training-data digest) and source device key. */
RV_API const char *rv_model_hash(const rv_model *m);
RV_API const char *rv_model_device(const rv_model *m);
RV_API const rv_pdev *rv_model_pdev(const rv_model *m);
/* Predict on the model's own device (thread-safe): cached per rv_pf_key for launches that repeat,
 * and per what the chain reads (features, shape, exact signature) for launches whose parameter
 * values differ at every call; the same answer as rv_model_predict_uncached. */
RV_API rv_pmres rv_model_predict(rv_model *m, const rv_pkernel *k);
/* The caches' counts so far: out[0] answered by the launch's key, out[1] by its features, out[2]
 * computed. */
RV_API void rv_model_cache_stats(rv_model *m, unsigned long long out[3]);
/* Same, bypassing the cache (benchmarks). */
RV_API rv_pmres rv_model_predict_uncached(rv_model *m, const rv_pkernel *k);
/* What an xgb model's log2 output multiplies (see model.c). */
RV_API double rv_xgb_base_ns(const double f[RV_PF_N]);
/* Host time (ns) of a driver call on the profiled machine, interpolated over bytes; < 0 if unknown. */
RV_API double rv_model_host_ns(const rv_model *m, const char *call, uint64_t bytes);
/* Cross-device factor: predicted time on `to` over time on `from` for a launch that takes `src_ns`
 * on `from`. With known flops and bytes: a GEMM's time past its first RV_PF_GEMM_FIXED_NS scales by
 * the roofline ratio; any other launch's roofline time on `from` is replaced by that on `to` and the
 * rest of `src_ns` kept (the plain roofline ratio when `src_ns` is at or under the roofline, or <= 0).
 * Else the compute or bandwidth ratio by family. */
#define RV_PF_GEMM_FIXED_NS 2000.0
RV_API double rv_pf_cross_factor(const rv_pkernel *k, const rv_pdev *from, const rv_pdev *to, double src_ns);

#endif
