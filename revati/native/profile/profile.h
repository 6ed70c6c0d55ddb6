/* revati profile shim: shared declarations of the CUPTI injection library (librevati_profile.so).
 *
 * The real driver loads this library at cuInit when CUDA_INJECTION64_PATH names it. It subscribes to
 * every driver API callback and to CUPTI activity records, passes every call through untouched, and
 * writes one JSON-lines stream per process ($REVATI_PROFILE_DIR/raw/prof-<pid>.jsonl) that
 * revati/profile/convert.py turns into a revati run directory and a profile dataset. */
#ifndef REVATI_PROFILE_H
#define REVATI_PROFILE_H

#include <cuda.h>
#include <cupti.h> /* also declares the driver calls' parameter structs (generated_cuda_meta.h) */
#include <stddef.h>
#include <stdint.h>

/* the real driver's entry points the shim itself calls (resolved once from the loaded libcuda) */
typedef struct {
    __typeof__(cuFuncGetParamInfo) *FuncGetParamInfo;
    __typeof__(cuKernelGetParamInfo) *KernelGetParamInfo;
    __typeof__(cuFuncGetName) *FuncGetName;
    __typeof__(cuKernelGetName) *KernelGetName;
    __typeof__(cuPointerGetAttributes) *PointerGetAttributes;
} rp_driver;
extern rp_driver rp_drv;

/* set while the shim calls the driver itself: callbacks on this thread are then ignored */
extern __thread int rp_busy;

/* out.c: the per-process stream (thread-safe, buffered, reopened after fork) */
void rp_out_write(const char *line, size_t n);
void rp_out_flush(void);
void rp_out_close(void);

/* a small line builder: appends, never overflows (truncated lines are marked by the caller) */
typedef struct {
    char *p, *end;
} rp_line;
void rp_put(rp_line *l, const char *s);
void rp_put_u64(rp_line *l, uint64_t v);
void rp_put_i64(rp_line *l, int64_t v);
void rp_put_str(rp_line *l, const char *s); /* a JSON string, quoted and escaped */
int rp_line_ok(const rp_line *l);

/* args.c: a launch's features (args, op, sig texts; NULL when out of memory) via native/features */
struct rv_feat_out;
const struct rv_feat_out *rp_features(CUfunction f, const char *name, const unsigned grid[3],
                                      const unsigned block[3], unsigned smem, void **kernel_params, void **extra);
const char *rp_func_name(CUfunction f);
char *rp_launch_line(size_t *cap); /* this thread's buffer for a launch line (NULL when out of memory) */

/* queries.c: device/occupancy/function/memory queries with the real answers */
void rp_query_exit(CUpti_CallbackId cbid, const CUpti_CallbackData *cb);

/* export_probe.c: the real answer of export-table slots whose answers reach kernels (a `q` line) */
void rp_probe_export_tables(void);

/* activity.c: CUPTI activity records (kernels, copies, memsets) */
int rp_activity_start(void);
void rp_activity_flush(void);

#endif
