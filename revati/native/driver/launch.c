/* revati driver: kernel launches (timed by the predictor, traced), copy timing, occupancy queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "values/values.h"

/* The kernel event's body; keep: write it through rv_trace_emit_keep into *keep. */
static void emit_kernel(int dev, unsigned long long stream, const rv_kernel_op *k, rv_pred p, rv_vtime_ns start,
                        rv_vtime_ns end, uint64_t corr, unsigned long long graph, rv_trace_tmpl *keep) {
    /* formatted by hand: this line is written once per launch and printf dominated its cost */
    const rv_kfeat *ft = k->feat;
    size_t need = 1024 + (k->f && k->f->json_name ? strlen(k->f->json_name) : 0) +
                  (ft ? strlen(ft->args) + strlen(ft->op) + 64 : 0);
    char small[4096], *buf = need <= sizeof small ? small : malloc(need);
    if (!buf) return;
    size_t cap = buf == small ? sizeof small : need;
    rv_line l = {buf, buf + cap - 1};
    rv_put(&l, "\"name\":\"");
    rv_put(&l, k->f && k->f->json_name ? k->f->json_name : "?");
    rv_put(&l, "\",\"grid\":[");
    for (int i = 0; i < 3; ++i) rv_put_u64(&l, k->grid[i]), rv_put(&l, i < 2 ? "," : "],\"block\":[");
    for (int i = 0; i < 3; ++i) rv_put_u64(&l, k->block[i]), rv_put(&l, i < 2 ? "," : "],\"smem\":");
    rv_put_u64(&l, k->smem);
    rv_put(&l, ",\"dev\":");
    rv_put_i64(&l, dev);
    rv_put(&l, ",\"stream\":");
    rv_put_u64(&l, stream);
    rv_put(&l, ",\"corr\":");
    rv_put_u64(&l, corr);
    rv_put(&l, ",\"ts_ns\":");
    rv_put_u64(&l, start);
    rv_put(&l, ",\"end_ns\":");
    rv_put_u64(&l, end);
    rv_put(&l, ",\"pred\":\"");
    rv_put(&l, p.pred);
    rv_put(&l, "\",\"src\":\"");
    rv_put(&l, p.src);
    /* provenance: predictor version, model hash, how, and whether scaled from another device */
    rv_put(&l, "\",\"pv\":\"");
    rv_put(&l, rv_predictor_version());
    rv_put(&l, "\",\"model\":\"");
    rv_put(&l, rv_predictor_model_hash());
    rv_put(&l, "\",\"how\":\"");
    rv_put(&l, p.how);
    rv_put(&l, p.xdev ? "\",\"xdev\":1" : "\",\"xdev\":0");
    rv_put(&l, ",\"graph\":");
    rv_put_u64(&l, graph);
    if (ft) {
        if (ft->args[0]) rv_put(&l, ",\"args\":"), rv_put(&l, ft->args);
        if (ft->op[0]) rv_put(&l, ",\"op\":"), rv_put(&l, ft->op);
        rv_put(&l, ",\"sig\":\""), rv_put(&l, ft->sig), rv_put(&l, "\"");
    }
    *l.p = 0;
    if (keep) rv_trace_emit_keep(keep, "kernel", "%s", buf);
    else rv_trace_emit("kernel", "%s", buf);
    if (buf != small) free(buf);
}

void rv_emit_kernel(int dev, unsigned long long stream, const rv_kernel_op *k, rv_pred p, rv_vtime_ns start,
                    rv_vtime_ns end, uint64_t corr, unsigned long long graph) {
    if (rv_tracing()) emit_kernel(dev, stream, k, p, start, end, corr, graph, NULL);
}

void rv_emit_kernel_kept(rv_trace_tmpl *keep, int dev, unsigned long long stream, const rv_kernel_op *k, rv_pred p,
                         rv_vtime_ns start, rv_vtime_ns end, uint64_t corr, unsigned long long graph) {
    if (!rv_tracing() || (keep && rv_trace_emit_kept(keep, "kernel", start, end, corr, 0))) return;
    emit_kernel(dev, stream, k, p, start, end, corr, graph, keep);
}

void rv_emit_copy_kept(rv_trace_tmpl *keep, int dev, unsigned long long stream, const char *kind, uint64_t bytes,
                       rv_vtime_ns start, rv_vtime_ns end, uint64_t corr, unsigned long long graph) {
    if (!rv_tracing()) return;
    rv_trace_tmpl none;
    if (!keep) keep = &none;
    else if (rv_trace_emit_kept(keep, kind ? "memcpy" : "memset", start, end, corr, bytes)) return;
    if (kind)
        rv_trace_emit_keep(keep, "memcpy",
                      "\"kind\":\"%s\",\"bytes\":%llu,\"dev\":%d,\"stream\":%llu,\"corr\":%llu,\"ts_ns\":%llu,"
                      "\"end_ns\":%llu,\"graph\":%llu",
                      kind, (unsigned long long)bytes, dev, stream, (unsigned long long)corr, (unsigned long long)start,
                      (unsigned long long)end, graph);
    else
        rv_trace_emit_keep(keep, "memset",
                      "\"bytes\":%llu,\"dev\":%d,\"stream\":%llu,\"corr\":%llu,\"ts_ns\":%llu,\"end_ns\":%llu,"
                      "\"graph\":%llu",
                      (unsigned long long)bytes, dev, stream, (unsigned long long)corr, (unsigned long long)start,
                      (unsigned long long)end, graph);
}

void rv_launch_now(rv_stream *s, const rv_kernel_op *k, uint64_t corr, unsigned long long graph) {
    rv_pred p = rv_predict_kernel(k, s->id, s->dev);
    /* a kernel queued behind earlier work starts eager_gap_ns after it ends, as on a real GPU (the
     * work distributor sees the dependency resolved, then launches the grid; docs/predictors.md) */
    rv_vtime_ns end, start = rv_stream_enqueue_kernel(s, &p, rv_conf()->eager_gap_ns, &end);
    rv_values_kernel(s->dev, k, corr);
    rv_emit_kernel(s->dev, s->id, k, p, start, end, corr, graph);
}

void rv_emit_copy(int dev, unsigned long long stream, const char *kind, uint64_t bytes, rv_vtime_ns start, rv_vtime_ns end,
                  uint64_t corr, unsigned long long graph) {
    rv_emit_copy_kept(NULL, dev, stream, kind, bytes, start, end, corr, graph);
}

rv_vtime_ns rv_copy_now(rv_stream *s, const char *kind, uint64_t bytes, uint64_t corr, unsigned long long graph) {
    rv_vdur_ns d = kind ? rv_predict_copy(kind, bytes, s->dev) : rv_predict_memset(bytes, s->dev);
    rv_vtime_ns end, start = rv_stream_enqueue(s, d, 0, &end); /* copy engines: no gap measured */
    rv_emit_copy(s->dev, s->id, kind, bytes, start, end, corr, graph);
    return end;
}

static CUresult launch(rv_api_call *c, CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                       unsigned bz, unsigned smem, CUstream hStream, void **kernelParams, void **extra) {
    rv_func *fn = rv_func_from(f);
    if (!fn) return CUDA_ERROR_INVALID_HANDLE;
    if (!gx || !gy || !gz || !bx || !by || !bz || (uint64_t)bx * by * bz > 1024) return CUDA_ERROR_INVALID_VALUE;
    if (smem > (unsigned)rv_conf()->smem_per_block_optin) return CUDA_ERROR_INVALID_VALUE;
    rv_stream *s = rv_stream_resolve(hStream);
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    rv_kernel_op k = {fn, {gx, gy, gz}, {bx, by, bz}, smem, NULL, 0};
    uint8_t small[RV_PARAM_STACK], *buf = small;
    if (fn->param_bytes > sizeof small && !(buf = malloc(fn->param_bytes))) return CUDA_ERROR_OUT_OF_MEMORY;
    int np = rv_launch_params(fn, kernelParams, extra, buf, buf == small ? (uint32_t)sizeof small : fn->param_bytes);
    if (np >= 0) k.params = buf, k.param_bytes = (uint32_t)np;
    k.feat = rv_kfeat_now(&k, NULL);
    k.host_tag = rv_values_take_tag(); /* set only for this thread's next launch */
    c->corr = rv_next_corr();
    CUresult r = CUDA_SUCCESS;
    if (s->capture) r = rv_graph_capture_kernel(s, &k) ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    else rv_launch_now(s, &k, c->corr, 0);
    if (buf != small) free(buf);
    return r;
}

// cuLaunchKernel: start = max(stream ready + eager gap, host now), end = start + predicted; never executes
RV_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY, unsigned int gridDimZ,
                                  unsigned int blockDimX, unsigned int blockDimY, unsigned int blockDimZ,
                                  unsigned int sharedMemBytes, CUstream hStream, void **kernelParams, void **extra) {
    API_ENTER();
    API_RETURN(launch(&rv__call, f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                      kernelParams, extra));
}
RV_ALIAS(cuLaunchKernel_ptsz, cuLaunchKernel);

// cuLaunchKernelEx: as cuLaunchKernel; cluster dimensions and other attributes do not change timing
RV_EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f, void **kernelParams, void **extra) {
    API_ENTER();
    if (!config) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    API_RETURN(launch(&rv__call, f, config->gridDimX, config->gridDimY, config->gridDimZ, config->blockDimX,
                      config->blockDimY, config->blockDimZ, config->sharedMemBytes, config->hStream, kernelParams, extra));
}
RV_ALIAS(cuLaunchKernelEx_ptsz, cuLaunchKernelEx);

// cuLaunchCooperativeKernel: as cuLaunchKernel
RV_EXPORT CUresult cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                             unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                             unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                             void **kernelParams) {
    API_ENTER();
    API_RETURN(launch(&rv__call, f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream,
                      kernelParams, NULL));
}
RV_ALIAS(cuLaunchCooperativeKernel_ptsz, cuLaunchCooperativeKernel);

/* Resident blocks per SM for a block size and dynamic shared memory, from the profile's limits. */
static int blocks_per_sm(int block, size_t smem) {
    const rv_devconf *c = rv_conf();
    if (block <= 0) return 0;
    int n = c->max_threads_per_sm / block;
    if (smem) {
        int m = (int)((size_t)c->smem_per_sm / (smem + 1024));
        if (m < n) n = m;
    }
    return n > 32 ? 32 : n;
}

// cuOccupancyMaxActiveBlocksPerMultiprocessor: thread, shared-memory and 32-block limits of the profile
RV_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int *numBlocks, CUfunction func, int blockSize,
                                                              size_t dynamicSMemSize) {
    API_ENTER();
    if (!numBlocks) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *numBlocks = blocks_per_sm(blockSize, dynamicSMemSize);
    API_RETURN(CUDA_SUCCESS);
}

// cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags: as above
RV_EXPORT CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int *numBlocks, CUfunction func, int blockSize,
                                                                       size_t dynamicSMemSize, unsigned int flags) {
    API_ENTER();
    if (!numBlocks) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *numBlocks = blocks_per_sm(blockSize, dynamicSMemSize);
    API_RETURN(CUDA_SUCCESS);
}

static CUresult potential(int *minGridSize, int *blockSize, CUoccupancyB2DSize fn, size_t dyn, int limit) {
    if (!minGridSize || !blockSize) return CUDA_ERROR_INVALID_VALUE;
    int best = 0, best_bs = 32;
    int max_bs = limit > 0 && limit < 1024 ? limit : 1024;
    for (int bs = 32; bs <= max_bs; bs += 32) {
        size_t smem = fn ? fn(bs) : dyn;
        int occ = blocks_per_sm(bs, smem) * bs;
        if (occ > best) best = occ, best_bs = bs;
    }
    *blockSize = best_bs;
    *minGridSize = blocks_per_sm(best_bs, fn ? fn(best_bs) : dyn) * rv_conf()->sm_count;
    return CUDA_SUCCESS;
}

// cuOccupancyMaxPotentialBlockSize: the block size with the highest occupancy under the profile's limits
RV_EXPORT CUresult cuOccupancyMaxPotentialBlockSize(int *minGridSize, int *blockSize, CUfunction func,
                                                    CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                    size_t dynamicSMemSize, int blockSizeLimit) {
    API_ENTER();
    API_RETURN(potential(minGridSize, blockSize, blockSizeToDynamicSMemSize, dynamicSMemSize, blockSizeLimit));
}

// cuOccupancyMaxPotentialBlockSizeWithFlags: as above
RV_EXPORT CUresult cuOccupancyMaxPotentialBlockSizeWithFlags(int *minGridSize, int *blockSize, CUfunction func,
                                                             CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                             size_t dynamicSMemSize, int blockSizeLimit,
                                                             unsigned int flags) {
    API_ENTER();
    API_RETURN(potential(minGridSize, blockSize, blockSizeToDynamicSMemSize, dynamicSMemSize, blockSizeLimit));
}

// cuOccupancyAvailableDynamicSMemPerBlock: what is left of the SM's shared memory for numBlocks blocks
RV_EXPORT CUresult cuOccupancyAvailableDynamicSMemPerBlock(size_t *dynamicSmemSize, CUfunction func, int numBlocks,
                                                           int blockSize) {
    API_ENTER();
    if (!dynamicSmemSize || numBlocks <= 0) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    size_t v = (size_t)rv_conf()->smem_per_sm / (size_t)numBlocks;
    v = v > 1024 ? v - 1024 : 0;
    if (v > (size_t)rv_conf()->smem_per_block_optin) v = (size_t)rv_conf()->smem_per_block_optin;
    *dynamicSmemSize = v;
    API_RETURN(CUDA_SUCCESS);
}

/* Clusters that fit at once: per GPC, floor(SMs x blocks per SM / cluster size), with the GPC layout
 * of the profile (`cluster_gpc_sms`; the H200's reproduces every cuOccupancyMaxActiveClusters answer of
 * the real card for sizes 3..32, which cuBLAS and cuDNN probe at start-up to pick their kernels' cluster
 * shapes; see docs/driver.md). Sizes 1 and 2 use every SM; no layout: GPCs of 16 SMs. */
static int max_active_clusters(const rv_devconf *c, int per_sm, unsigned cs) {
    if (cs <= 2) return c->sm_count * per_sm / (int)cs; /* a pair fits any TPC (the H200 answers 66) */
    int n = 0, any = 0;
    for (const char *p = c->cluster_gpc_sms; *p;) {
        char *end;
        long sms = strtol(p, &end, 10);
        if (end == p) break;
        n += (int)sms * per_sm / (int)cs, any = 1;
        p = *end == ',' ? end + 1 : end;
    }
    if (!any) n = (c->sm_count / 16) * (16 * per_sm / (int)cs);
    return n;
}

// cuOccupancyMaxActiveClusters: clusters placed inside GPCs (the profile's layout); sizes past 16 answer too
RV_EXPORT CUresult cuOccupancyMaxActiveClusters(int *numClusters, CUfunction func, const CUlaunchConfig *config) {
    API_ENTER();
    if (!numClusters || !config) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    unsigned cs = 1;
    for (unsigned i = 0; i < config->numAttrs; ++i)
        if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
            cs = config->attrs[i].value.clusterDim.x * config->attrs[i].value.clusterDim.y * config->attrs[i].value.clusterDim.z;
    if (!cs) cs = 1;
    int per_sm = blocks_per_sm((int)(config->blockDimX * config->blockDimY * config->blockDimZ), config->sharedMemBytes);
    if (per_sm < 1) per_sm = 1;
    *numClusters = max_active_clusters(rv_conf(), per_sm, cs);
    API_RETURN(CUDA_SUCCESS);
}

// cuOccupancyMaxPotentialClusterSize: 8 (portable maximum), 16 where non-portable sizes are allowed
RV_EXPORT CUresult cuOccupancyMaxPotentialClusterSize(int *clusterSize, CUfunction func, const CUlaunchConfig *config) {
    API_ENTER();
    if (!clusterSize) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    *clusterSize = rv_conf()->cc_major >= 9 ? 8 : 1;
    API_RETURN(CUDA_SUCCESS);
}
