/* revati driver: copies and memsets, performed on the host mirror up to REVATI_MATERIALIZE_MAX, always timed. */
#include <string.h>

#include "internal.h"
#include "values/values.h"

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

static int is_device(uint64_t p, int *dev) {
    rv_alloc a;
    if (!rv_alloc_find(p, &a) || a.kind == RV_MEM_HOST) return 0;
    if (dev) *dev = a.dev;
    return 1;
}

/* A device range is valid when an allocation (or VMM mapping) covers it. */
static int device_range_ok(uint64_t p, size_t n) {
    rv_alloc a;
    if (!rv_alloc_find(p, &a) || a.kind == RV_MEM_HOST) return 0;
    return p + n <= a.base + a.size;
}

static CUresult do_copy(const char *why, uint64_t dst, uint64_t src, size_t n, CUstream hs, int async,
                        const char *kind, uint64_t corr) {
    if (n == 0) return CUDA_SUCCESS;
    int ddev = -1, sdev = -1;
    int dd = is_device(dst, &ddev), sd = is_device(src, &sdev);
    if (!kind) kind = dd && sd ? (ddev != sdev ? "PtoP" : "DtoD") : dd ? "HtoD" : sd ? "DtoH" : "HtoH";
    if (!strcmp(kind, "DtoD") && dd && sd && ddev != sdev) kind = "PtoP"; /* across devices: NVLink */
    if (!strcmp(kind, "HtoD") || !strcmp(kind, "DtoD") || !strcmp(kind, "PtoP"))
        if (!device_range_ok(dst, n)) return CUDA_ERROR_INVALID_VALUE;
    if (!strcmp(kind, "DtoH") || !strcmp(kind, "DtoD") || !strcmp(kind, "PtoP"))
        if (!device_range_ok(src, n)) return CUDA_ERROR_INVALID_VALUE;
    if (!dst || !src) return CUDA_ERROR_INVALID_VALUE;
    rv_stream *s = rv_stream_resolve(hs);
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    if (s->capture) {
        if (!async) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
        return rv_graph_capture_copy_at(s, kind, n, dst, src, 0, 0) ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    /* into pageable (unregistered) host memory, an async copy returns only once it has completed,
     * as the real driver's does */
    if (async && !strcmp(kind, "DtoH") && !rv_alloc_find(dst, NULL)) async = 0;
    if (n <= rv_materialize_max()) memmove((void *)dst, (const void *)src, n);
    rv_values_copy(kind, dst, src, n, s->dev, why);
    rv_vtime_ns end = rv_copy_now(s, kind, n, corr, 0);
    if (!async) rv_vadvance_to(end, why);
    return CUDA_SUCCESS;
}

#define COPY(res, dst, src, n, stream, async, kind) \
    do {                                             \
        rv__call.corr = rv_next_corr();              \
        rv__call.bytes = (n);                        \
        API_ARGS("bytes=%zu", (size_t)(n));          \
        res = do_copy(rv__call.name, (uint64_t)(dst), (uint64_t)(src), (n), (stream), (async), (kind), rv__call.corr); \
    } while (0)

// cuMemcpyHtoD_v2: blocking: the host jumps to the copy's end
RV_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcHost, ByteCount, NULL, 0, "HtoD");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyHtoD_v2_ptds, cuMemcpyHtoD_v2);

// cuMemcpyDtoH_v2: blocking: the host jumps to the copy's end
RV_EXPORT CUresult cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dstHost, srcDevice, ByteCount, NULL, 0, "DtoH");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyDtoH_v2_ptds, cuMemcpyDtoH_v2);

// cuMemcpyDtoD_v2: blocking on the legacy stream
RV_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcDevice, ByteCount, NULL, 0, "DtoD");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyDtoD_v2_ptds, cuMemcpyDtoD_v2);

// cuMemcpyHtoDAsync_v2: enqueued on the stream; values are copied at once
RV_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dstDevice, const void *srcHost, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcHost, ByteCount, hStream, 1, "HtoD");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyHtoDAsync_v2_ptsz, cuMemcpyHtoDAsync_v2);

// cuMemcpyDtoHAsync_v2: enqueued on the stream (blocking into pageable memory); values are copied at once
RV_EXPORT CUresult cuMemcpyDtoHAsync_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dstHost, srcDevice, ByteCount, hStream, 1, "DtoH");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyDtoHAsync_v2_ptsz, cuMemcpyDtoHAsync_v2);

// cuMemcpyDtoDAsync_v2: enqueued on the stream
RV_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dstDevice, CUdeviceptr srcDevice, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcDevice, ByteCount, hStream, 1, "DtoD");
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyDtoDAsync_v2_ptsz, cuMemcpyDtoDAsync_v2);

// cuMemcpy: unified addressing: the direction comes from the pointers
RV_EXPORT CUresult cuMemcpy(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dst, src, ByteCount, NULL, 0, NULL);
    API_RETURN(r);
}
RV_ALIAS(cuMemcpy_ptds, cuMemcpy);

// cuMemcpyAsync: unified addressing, enqueued on the stream
RV_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dst, src, ByteCount, hStream, 1, NULL);
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyAsync_ptsz, cuMemcpyAsync);

// cuMemcpyPeer: device to device across devices, charged at the interconnect bandwidth
RV_EXPORT CUresult cuMemcpyPeer(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                CUcontext srcContext, size_t ByteCount) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcDevice, ByteCount, NULL, 0, NULL);
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyPeer_ptds, cuMemcpyPeer);

// cuMemcpyPeerAsync: as cuMemcpyPeer, enqueued on the stream
RV_EXPORT CUresult cuMemcpyPeerAsync(CUdeviceptr dstDevice, CUcontext dstContext, CUdeviceptr srcDevice,
                                     CUcontext srcContext, size_t ByteCount, CUstream hStream) {
    API_ENTER();
    CUresult r;
    COPY(r, dstDevice, srcDevice, ByteCount, hStream, 1, NULL);
    API_RETURN(r);
}
RV_ALIAS(cuMemcpyPeerAsync_ptsz, cuMemcpyPeerAsync);

static uint64_t copy2d_ptr(CUmemorytype t, const void *host, CUdeviceptr dev) {
    return t == CU_MEMORYTYPE_HOST ? (uint64_t)host : (uint64_t)dev;
}

static CUresult copy2d(const char *why, const CUDA_MEMCPY2D *p, CUstream hs, int async, uint64_t corr) {
    if (!p || p->srcMemoryType == CU_MEMORYTYPE_ARRAY || p->dstMemoryType == CU_MEMORYTYPE_ARRAY)
        return CUDA_ERROR_NOT_SUPPORTED;
    uint64_t s = copy2d_ptr(p->srcMemoryType, p->srcHost, p->srcDevice) + p->srcY * p->srcPitch + p->srcXInBytes;
    uint64_t d = copy2d_ptr(p->dstMemoryType, p->dstHost, p->dstDevice) + p->dstY * p->dstPitch + p->dstXInBytes;
    size_t total = p->WidthInBytes * p->Height;
    int sdev = p->srcMemoryType != CU_MEMORYTYPE_HOST && is_device(s, NULL);
    int ddev = p->dstMemoryType != CU_MEMORYTYPE_HOST && is_device(d, NULL);
    const char *kind = sdev && ddev ? "DtoD" : ddev ? "HtoD" : sdev ? "DtoH" : "HtoH";
    rv_stream *st = rv_stream_resolve(hs);
    if (!st) return CUDA_ERROR_INVALID_HANDLE;
    if (st->capture) return rv_graph_capture_copy(st, kind, total) ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (total <= rv_materialize_max())
        for (size_t y = 0; y < p->Height; ++y)
            memmove((void *)(d + y * p->dstPitch), (const void *)(s + y * p->srcPitch), p->WidthInBytes);
    for (size_t y = 0; y < p->Height; ++y)
        rv_values_copy(kind, d + y * p->dstPitch, s + y * p->srcPitch, p->WidthInBytes, st->dev, why);
    rv_vtime_ns end = rv_copy_now(st, kind, total, corr, 0);
    if (!async) rv_vadvance_to(end, why);
    return CUDA_SUCCESS;
}

// cuMemcpy2D_v2: row by row on the host mirror; charged as one copy of width*height bytes
RV_EXPORT CUresult cuMemcpy2D_v2(const CUDA_MEMCPY2D *pCopy) {
    API_ENTER();
    rv__call.corr = rv_next_corr();
    API_RETURN(copy2d(rv__call.name, pCopy, NULL, 0, rv__call.corr));
}
RV_ALIAS(cuMemcpy2D_v2_ptds, cuMemcpy2D_v2);
RV_ALIAS(cuMemcpy2DUnaligned_v2, cuMemcpy2D_v2);
RV_ALIAS(cuMemcpy2DUnaligned_v2_ptds, cuMemcpy2D_v2);

// cuMemcpy2DAsync_v2: as cuMemcpy2D_v2, enqueued on the stream
RV_EXPORT CUresult cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D *pCopy, CUstream hStream) {
    API_ENTER();
    rv__call.corr = rv_next_corr();
    API_RETURN(copy2d(rv__call.name, pCopy, hStream, 1, rv__call.corr));
}
RV_ALIAS(cuMemcpy2DAsync_v2_ptsz, cuMemcpy2DAsync_v2);

static CUresult do_memset(const char *why, uint64_t dst, size_t pitch, size_t width, size_t height,
                          unsigned value, int elem, CUstream hs, int async, uint64_t corr) {
    size_t bytes = width * (size_t)elem;
    if (!pitch) pitch = bytes;
    if (!device_range_ok(dst, pitch * (height - 1) + bytes)) return CUDA_ERROR_INVALID_VALUE;
    rv_stream *s = rv_stream_resolve(hs);
    if (!s) return CUDA_ERROR_INVALID_HANDLE;
    uint64_t total = (uint64_t)bytes * height;
    if (s->capture) {
        int ok = height == 1 ? rv_graph_capture_copy_at(s, NULL, total, dst, 0, value, elem) : rv_graph_capture_copy(s, NULL, total);
        return ok ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }
    if (total <= rv_materialize_max() || value == 0) {
        for (size_t y = 0; y < height; ++y) {
            uint8_t *row = (uint8_t *)(dst + y * pitch);
            if (elem == 1 || value == 0) {
                /* zeroing whole pages gives them back instead of committing them */
                if (value == 0 && bytes >= (1 << 20)) {
                    uint64_t a = align_up((uint64_t)row, 4096), e = ((uint64_t)row + bytes) & ~4095ULL;
                    memset(row, 0, a - (uint64_t)row);
                    rv_mem_discard(a, e - a);
                    memset((void *)e, 0, (uint64_t)row + bytes - e);
                } else if (total <= rv_materialize_max()) {
                    memset(row, (int)(value & 0xff), bytes);
                }
            } else if (elem == 2) {
                for (size_t i = 0; i < width; ++i) ((uint16_t *)row)[i] = (uint16_t)value;
            } else {
                for (size_t i = 0; i < width; ++i) ((uint32_t *)row)[i] = value;
            }
        }
    }
    rv_values_clear(dst, pitch * (height - 1) + bytes);
    rv_vtime_ns end = rv_copy_now(s, NULL, total, corr, 0);
    if (!async) rv_vadvance_to(end, why);
    return CUDA_SUCCESS;
}

#define MEMSET(dst, pitch, w, h, v, elem, stream, async)                                          \
    do {                                                                                          \
        rv__call.corr = rv_next_corr();                                                           \
        rv__call.bytes = (uint64_t)(w) * (h) * (elem);                                              \
        API_ARGS("bytes=%zu", (size_t)(w) * (size_t)(h) * (elem));                                 \
        API_RETURN(do_memset(rv__call.name, dst, pitch, w, h, v, elem, stream, async, rv__call.corr)); \
    } while (0)

// cuMemsetD8_v2: performed on the host mirror (up to REVATI_MATERIALIZE_MAX); blocking
RV_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dstDevice, unsigned char uc, size_t N) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, uc, 1, NULL, 0);
}
RV_ALIAS(cuMemsetD8_v2_ptds, cuMemsetD8_v2);

// cuMemsetD16_v2: as cuMemsetD8_v2 with 16-bit elements
RV_EXPORT CUresult cuMemsetD16_v2(CUdeviceptr dstDevice, unsigned short us, size_t N) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, us, 2, NULL, 0);
}
RV_ALIAS(cuMemsetD16_v2_ptds, cuMemsetD16_v2);

// cuMemsetD32_v2: as cuMemsetD8_v2 with 32-bit elements
RV_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr dstDevice, unsigned int ui, size_t N) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, ui, 4, NULL, 0);
}
RV_ALIAS(cuMemsetD32_v2_ptds, cuMemsetD32_v2);

// cuMemsetD8Async: enqueued on the stream
RV_EXPORT CUresult cuMemsetD8Async(CUdeviceptr dstDevice, unsigned char uc, size_t N, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, uc, 1, hStream, 1);
}
RV_ALIAS(cuMemsetD8Async_ptsz, cuMemsetD8Async);

// cuMemsetD16Async: enqueued on the stream
RV_EXPORT CUresult cuMemsetD16Async(CUdeviceptr dstDevice, unsigned short us, size_t N, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, us, 2, hStream, 1);
}
RV_ALIAS(cuMemsetD16Async_ptsz, cuMemsetD16Async);

// cuMemsetD32Async: enqueued on the stream
RV_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dstDevice, unsigned int ui, size_t N, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, 0, N, 1, ui, 4, hStream, 1);
}
RV_ALIAS(cuMemsetD32Async_ptsz, cuMemsetD32Async);

// cuMemsetD2D8_v2: pitched rows; blocking
RV_EXPORT CUresult cuMemsetD2D8_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width, size_t Height) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, uc, 1, NULL, 0);
}
RV_ALIAS(cuMemsetD2D8_v2_ptds, cuMemsetD2D8_v2);

// cuMemsetD2D16_v2: pitched rows of 16-bit elements; blocking
RV_EXPORT CUresult cuMemsetD2D16_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width, size_t Height) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, us, 2, NULL, 0);
}
RV_ALIAS(cuMemsetD2D16_v2_ptds, cuMemsetD2D16_v2);

// cuMemsetD2D16Async: pitched rows of 16-bit elements, enqueued on the stream
RV_EXPORT CUresult cuMemsetD2D16Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned short us, size_t Width,
                                      size_t Height, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, us, 2, hStream, 1);
}
RV_ALIAS(cuMemsetD2D16Async_ptsz, cuMemsetD2D16Async);

// cuMemsetD2D32_v2: pitched rows of 32-bit elements; blocking
RV_EXPORT CUresult cuMemsetD2D32_v2(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width, size_t Height) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, ui, 4, NULL, 0);
}
RV_ALIAS(cuMemsetD2D32_v2_ptds, cuMemsetD2D32_v2);

// cuMemsetD2D8Async: pitched rows, enqueued on the stream
RV_EXPORT CUresult cuMemsetD2D8Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned char uc, size_t Width,
                                     size_t Height, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, uc, 1, hStream, 1);
}
RV_ALIAS(cuMemsetD2D8Async_ptsz, cuMemsetD2D8Async);

// cuMemsetD2D32Async: pitched rows of 32-bit elements, enqueued on the stream
RV_EXPORT CUresult cuMemsetD2D32Async(CUdeviceptr dstDevice, size_t dstPitch, unsigned int ui, size_t Width,
                                      size_t Height, CUstream hStream) {
    API_ENTER();
    MEMSET(dstDevice, dstPitch, Width, Height, ui, 4, hStream, 1);
}
RV_ALIAS(cuMemsetD2D32Async_ptsz, cuMemsetD2D32Async);

static CUresult copy3d(const char *why, const CUDA_MEMCPY3D *p, CUstream hs, int async, uint64_t corr) {
    if (!p || p->srcMemoryType == CU_MEMORYTYPE_ARRAY || p->dstMemoryType == CU_MEMORYTYPE_ARRAY)
        return CUDA_ERROR_NOT_SUPPORTED;
    size_t depth = p->Depth ? p->Depth : 1, height = p->Height ? p->Height : 1;
    size_t sslice = p->srcPitch * (p->srcHeight ? p->srcHeight : height);
    size_t dslice = p->dstPitch * (p->dstHeight ? p->dstHeight : height);
    uint64_t s = copy2d_ptr(p->srcMemoryType, p->srcHost, p->srcDevice) + p->srcZ * sslice + p->srcY * p->srcPitch +
                 p->srcXInBytes;
    uint64_t d = copy2d_ptr(p->dstMemoryType, p->dstHost, p->dstDevice) + p->dstZ * dslice + p->dstY * p->dstPitch +
                 p->dstXInBytes;
    uint64_t total = (uint64_t)p->WidthInBytes * height * depth;
    int sdev = p->srcMemoryType != CU_MEMORYTYPE_HOST && is_device(s, NULL);
    int ddev = p->dstMemoryType != CU_MEMORYTYPE_HOST && is_device(d, NULL);
    const char *kind = sdev && ddev ? "DtoD" : ddev ? "HtoD" : sdev ? "DtoH" : "HtoH";
    rv_stream *st = rv_stream_resolve(hs);
    if (!st) return CUDA_ERROR_INVALID_HANDLE;
    if (st->capture) return rv_graph_capture_copy(st, kind, total) ? CUDA_SUCCESS : CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (total <= rv_materialize_max())
        for (size_t z = 0; z < depth; ++z)
            for (size_t y = 0; y < height; ++y)
                memmove((void *)(d + z * dslice + y * p->dstPitch), (const void *)(s + z * sslice + y * p->srcPitch),
                        p->WidthInBytes);
    for (size_t z = 0; z < depth; ++z)
        for (size_t y = 0; y < height; ++y)
            rv_values_copy(kind, d + z * dslice + y * p->dstPitch, s + z * sslice + y * p->srcPitch, p->WidthInBytes,
                           st->dev, why);
    rv_vtime_ns end = rv_copy_now(st, kind, total, corr, 0);
    if (!async) rv_vadvance_to(end, why);
    return CUDA_SUCCESS;
}

// cuMemcpy3D_v2: slice by slice, row by row on the host mirror; charged as one copy (arrays unsupported)
RV_EXPORT CUresult cuMemcpy3D_v2(const CUDA_MEMCPY3D *pCopy) {
    API_ENTER();
    rv__call.corr = rv_next_corr();
    API_RETURN(copy3d(rv__call.name, pCopy, NULL, 0, rv__call.corr));
}
RV_ALIAS(cuMemcpy3D_v2_ptds, cuMemcpy3D_v2);

// cuMemcpy3DAsync_v2: as cuMemcpy3D_v2, enqueued on the stream
RV_EXPORT CUresult cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D *pCopy, CUstream hStream) {
    API_ENTER();
    rv__call.corr = rv_next_corr();
    API_RETURN(copy3d(rv__call.name, pCopy, hStream, 1, rv__call.corr));
}
RV_ALIAS(cuMemcpy3DAsync_v2_ptsz, cuMemcpy3DAsync_v2);

// cuMemcpyBatchAsync_v2: each copy in order on the stream (attributes do not change timing)
RV_EXPORT CUresult cuMemcpyBatchAsync_v2(CUdeviceptr *dsts, CUdeviceptr *srcs, size_t *sizes, size_t count,
                                         CUmemcpyAttributes *attrs, size_t *attrsIdxs, size_t numAttrs, CUstream hStream) {
    API_ENTER();
    if (!count || !dsts || !srcs || !sizes) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    if (!hStream || hStream == CU_STREAM_LEGACY) API_RETURN(CUDA_ERROR_INVALID_VALUE); /* the legacy stream is refused */
    rv__call.corr = rv_next_corr();
    API_ARGS("count=%zu", count);
    for (size_t i = 0; i < count; ++i) {
        CUresult r = do_copy(rv__call.name, dsts[i], srcs[i], sizes[i], hStream, 1, NULL, rv__call.corr);
        if (r != CUDA_SUCCESS) API_RETURN(r);
    }
    API_RETURN(CUDA_SUCCESS);
}
RV_ALIAS(cuMemcpyBatchAsync_v2_ptsz, cuMemcpyBatchAsync_v2);
