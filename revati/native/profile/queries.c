/* revati profile shim: the query log (issue 16): every answer the real driver gives that can steer a
 * library's choice of kernel, as `q` lines: device attributes, memory figures, occupancy and cluster
 * queries, function attributes, export tables asked for. Functions are named by their kernel name
 * so the answers can be replayed against the stand-in (tools/replay_answers.py). */
#include <stdio.h>
#include <string.h>

#include "profile.h"


#define LINE 2048

static int result_of(const CUpti_CallbackData *cb) {
    return cb->functionReturnValue ? *(const int *)cb->functionReturnValue : 0;
}

static const char *kname(CUkernel k) {
    const char *name = NULL;
    rp_busy++;
    CUresult r = rp_drv.KernelGetName ? rp_drv.KernelGetName(&name, k) : CUDA_ERROR_NOT_SUPPORTED;
    rp_busy--;
    return r == CUDA_SUCCESS && name ? name : rp_func_name((CUfunction)k);
}

/* a launch config as the fields occupancy/cluster queries read */
static int put_config(char *p, size_t cap, const CUlaunchConfig *c) {
    if (!c) return snprintf(p, cap, "\"config\":null");
    unsigned cx = 0, cy = 0, cz = 0;
    for (unsigned i = 0; i < c->numAttrs; ++i)
        if (c->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION)
            cx = c->attrs[i].value.clusterDim.x, cy = c->attrs[i].value.clusterDim.y, cz = c->attrs[i].value.clusterDim.z;
    return snprintf(p, cap, "\"grid\":[%u,%u,%u],\"block\":[%u,%u,%u],\"smem\":%u,\"cluster\":[%u,%u,%u]", c->gridDimX,
                    c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ, c->sharedMemBytes, cx, cy, cz);
}

static void emit(const char *call, int res, const char *in, const char *out) {
    char buf[LINE * 2 + 256];
    int n = snprintf(buf, sizeof buf, "{\"k\":\"q\",\"call\":\"%s\",\"res\":%d,\"in\":{%s},\"out\":{%s}}", call, res, in,
                     out);
    if (n > 0 && (size_t)n < sizeof buf) rp_out_write(buf, (size_t)n);
}

static void put_fname(char *in, size_t cap, CUfunction f) {
    rp_line l = {in, in + cap - 1};
    rp_put(&l, "\"func\":");
    rp_put_str(&l, f ? rp_func_name(f) : "?");
    *l.p = 0;
}

void rp_query_exit(CUpti_CallbackId id, const CUpti_CallbackData *cb) {
    const void *p = cb->functionParams;
    int res = result_of(cb);
    char in[LINE], out[LINE];
    in[0] = out[0] = 0;
    size_t k;
    switch (id) {
    case CUPTI_DRIVER_TRACE_CBID_cuDeviceGetAttribute: {
        const cuDeviceGetAttribute_params *a = p;
        snprintf(in, sizeof in, "\"attr\":%d,\"dev\":%d", (int)a->attrib, (int)a->dev);
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->pi);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuDeviceGetCount: {
        const cuDeviceGetCount_params *a = p;
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->count);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuDriverGetVersion: {
        const cuDriverGetVersion_params *a = p;
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->driverVersion);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuDeviceTotalMem_v2: {
        const cuDeviceTotalMem_v2_params *a = p;
        snprintf(in, sizeof in, "\"dev\":%d", (int)a->dev);
        if (!res) snprintf(out, sizeof out, "\"v\":%zu", *a->bytes);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuMemGetInfo_v2: {
        const cuMemGetInfo_v2_params *a = p;
        if (!res) snprintf(out, sizeof out, "\"free\":%zu,\"total\":%zu", *a->free, *a->total);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuDeviceGetName: {
        const cuDeviceGetName_params *a = p;
        snprintf(in, sizeof in, "\"dev\":%d", (int)a->dev);
        if (!res) {
            rp_line l = {out, out + sizeof out - 1};
            rp_put(&l, "\"v\":");
            rp_put_str(&l, a->name);
            *l.p = 0;
        }
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuDeviceComputeCapability: {
        const cuDeviceComputeCapability_params *a = p;
        snprintf(in, sizeof in, "\"dev\":%d", (int)a->dev);
        if (!res) snprintf(out, sizeof out, "\"major\":%d,\"minor\":%d", *a->major, *a->minor);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuCtxGetLimit: {
        const cuCtxGetLimit_params *a = p;
        snprintf(in, sizeof in, "\"limit\":%d", (int)a->limit);
        if (!res) snprintf(out, sizeof out, "\"v\":%zu", *a->pvalue);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuFuncGetAttribute: {
        const cuFuncGetAttribute_params *a = p;
        put_fname(in, sizeof in, a->hfunc);
        k = strlen(in);
        snprintf(in + k, sizeof in - k, ",\"attr\":%d", (int)a->attrib);
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->pi);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuKernelGetAttribute: {
        const cuKernelGetAttribute_params *a = p;
        rp_line l = {in, in + sizeof in - 1};
        rp_put(&l, "\"func\":");
        rp_put_str(&l, kname(a->kernel));
        *l.p = 0;
        k = strlen(in);
        snprintf(in + k, sizeof in - k, ",\"attr\":%d,\"dev\":%d", (int)a->attrib, (int)a->dev);
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->pi);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuOccupancyMaxActiveBlocksPerMultiprocessor: {
        const cuOccupancyMaxActiveBlocksPerMultiprocessor_params *a = p;
        put_fname(in, sizeof in, a->func);
        k = strlen(in);
        snprintf(in + k, sizeof in - k, ",\"block\":%d,\"smem\":%zu,\"flags\":0", a->blockSize, a->dynamicSMemSize);
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->numBlocks);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags: {
        const cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags_params *a = p;
        put_fname(in, sizeof in, a->func);
        k = strlen(in);
        snprintf(in + k, sizeof in - k, ",\"block\":%d,\"smem\":%zu,\"flags\":%u", a->blockSize, a->dynamicSMemSize,
                 a->flags);
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->numBlocks);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuOccupancyMaxPotentialBlockSize: {
        const cuOccupancyMaxPotentialBlockSize_params *a = p;
        put_fname(in, sizeof in, a->func);
        k = strlen(in);
        snprintf(in + k, sizeof in - k, ",\"smem\":%zu,\"limit\":%d,\"b2d\":%d", a->dynamicSMemSize,
                 a->blockSizeLimit, a->blockSizeToDynamicSMemSize != NULL);
        if (!res) snprintf(out, sizeof out, "\"min_grid\":%d,\"block\":%d", *a->minGridSize, *a->blockSize);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuOccupancyMaxActiveClusters: {
        const cuOccupancyMaxActiveClusters_params *a = p;
        put_fname(in, sizeof in, a->func);
        k = strlen(in);
        in[k++] = ',';
        put_config(in + k, sizeof in - k, a->config);
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->numClusters);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuOccupancyMaxPotentialClusterSize: {
        const cuOccupancyMaxPotentialClusterSize_params *a = p;
        put_fname(in, sizeof in, a->func);
        k = strlen(in);
        in[k++] = ',';
        put_config(in + k, sizeof in - k, a->config);
        if (!res) snprintf(out, sizeof out, "\"v\":%d", *a->clusterSize);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuOccupancyAvailableDynamicSMemPerBlock: {
        const cuOccupancyAvailableDynamicSMemPerBlock_params *a = p;
        put_fname(in, sizeof in, a->func);
        k = strlen(in);
        snprintf(in + k, sizeof in - k, ",\"blocks\":%d,\"block\":%d", a->numBlocks, a->blockSize);
        if (!res) snprintf(out, sizeof out, "\"v\":%zu", *a->dynamicSmemSize);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuMemGetAllocationGranularity: {
        const cuMemGetAllocationGranularity_params *a = p;
        snprintf(in, sizeof in, "\"option\":%d,\"type\":%d,\"loc\":%d,\"handle\":%d", (int)a->option,
                 a->prop ? (int)a->prop->type : -1, a->prop ? (int)a->prop->location.type : -1,
                 a->prop ? (int)a->prop->requestedHandleTypes : -1);
        if (!res) snprintf(out, sizeof out, "\"v\":%zu", *a->granularity);
        break;
    }
    case CUPTI_DRIVER_TRACE_CBID_cuGetExportTable: {
        const cuGetExportTable_params *a = p;
        const unsigned char *u = a->pExportTableId ? (const unsigned char *)a->pExportTableId->bytes : NULL;
        if (!u) return;
        char *q = in + snprintf(in, sizeof in, "\"uuid\":\"");
        for (int i = 0; i < 16; ++i) q += sprintf(q, "%02x", u[i]);
        sprintf(q, "\"");
        break;
    }
    default:
        return;
    }
    emit(cb->functionName, res, in, out);
}
