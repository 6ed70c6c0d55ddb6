/* revati driver: tensor map (TMA descriptor) encoding, validated like the real driver; contents are revati's own. */
#include <string.h>

#include "internal.h"

/* The descriptor's 128 bytes are never read by a device (kernels do not run): revati stores the
 * address and shape in them so that cuTensorMapReplaceAddress and debugging have something to show. */
static void fill(CUtensorMap *m, void *addr, unsigned dtype, unsigned rank, const cuuint64_t *dims, unsigned swizzle) {
    memset(m, 0, sizeof *m);
    m->opaque[0] = (cuuint64_t)(uintptr_t)addr;
    m->opaque[1] = (cuuint64_t)dtype | ((cuuint64_t)rank << 8) | ((cuuint64_t)swizzle << 16) | (0x5256ULL << 48);
    for (unsigned i = 0; i < rank && i < 5; ++i) m->opaque[2 + i] = dims[i];
}

int rv_tensormap_is_ours(const void *p) {
    uint64_t w[2];
    memcpy(w, p, sizeof w);
    return (w[1] >> 48) == 0x5256ULL && rv_dev_addr(w[0]);
}

static CUresult check_common(CUtensorMap *m, CUtensorMapDataType dtype, cuuint32_t rank, void *addr,
                             const cuuint64_t *dims, const cuuint64_t *strides, const cuuint32_t *estrides,
                             CUtensorMapInterleave interleave, unsigned min_rank) {
    if (!m || ((uintptr_t)m & 63) || !dims || !estrides) return CUDA_ERROR_INVALID_VALUE;
    if (rank < min_rank || rank > 5 || (unsigned)dtype > CU_TENSOR_MAP_DATA_TYPE_16U6_ALIGN16B) return CUDA_ERROR_INVALID_VALUE;
    uintptr_t align = interleave == CU_TENSOR_MAP_INTERLEAVE_32B ? 32 : 16;
    if (!addr || ((uintptr_t)addr & (align - 1))) return CUDA_ERROR_INVALID_VALUE;
    for (unsigned i = 0; i < rank; ++i) {
        if (!dims[i] || dims[i] > (1ULL << 32)) return CUDA_ERROR_INVALID_VALUE;
        if (!estrides[i] || estrides[i] > 8) return CUDA_ERROR_INVALID_VALUE;
    }
    for (unsigned i = 0; i + 1 < rank; ++i) /* strides of dimensions 1.. (dimension 0 is packed) */
        if (!strides || strides[i] % 16 || strides[i] >= (1ULL << 40)) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
}

// cuTensorMapEncodeTiled: checks the documented limits (alignment, rank <= 5, box <= 256) and fills the descriptor
RV_EXPORT CUresult cuTensorMapEncodeTiled(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType, cuuint32_t tensorRank,
                                          void *globalAddress, const cuuint64_t *globalDim,
                                          const cuuint64_t *globalStrides, const cuuint32_t *boxDim,
                                          const cuuint32_t *elementStrides, CUtensorMapInterleave interleave,
                                          CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion,
                                          CUtensorMapFloatOOBfill oobFill) {
    API_ENTER();
    CUresult r = check_common(tensorMap, tensorDataType, tensorRank, globalAddress, globalDim, globalStrides,
                              elementStrides, interleave, 1);
    if (r != CUDA_SUCCESS) API_RETURN(r);
    if (!boxDim) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    for (unsigned i = 0; i < tensorRank; ++i)
        if (!boxDim[i] || boxDim[i] > 256) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    fill(tensorMap, globalAddress, tensorDataType, tensorRank, globalDim, swizzle);
    API_RETURN(CUDA_SUCCESS);
}

// cuTensorMapEncodeIm2col: as cuTensorMapEncodeTiled for im2col layouts (rank 3..5)
RV_EXPORT CUresult cuTensorMapEncodeIm2col(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType, cuuint32_t tensorRank,
                                           void *globalAddress, const cuuint64_t *globalDim,
                                           const cuuint64_t *globalStrides, const int *pixelBoxLowerCorner,
                                           const int *pixelBoxUpperCorner, cuuint32_t channelsPerPixel,
                                           cuuint32_t pixelsPerColumn, const cuuint32_t *elementStrides,
                                           CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
                                           CUtensorMapL2promotion l2Promotion, CUtensorMapFloatOOBfill oobFill) {
    API_ENTER();
    CUresult r = check_common(tensorMap, tensorDataType, tensorRank, globalAddress, globalDim, globalStrides,
                              elementStrides, interleave, 3);
    if (r != CUDA_SUCCESS) API_RETURN(r);
    if (!pixelBoxLowerCorner || !pixelBoxUpperCorner || !channelsPerPixel || channelsPerPixel > 256 ||
        !pixelsPerColumn || pixelsPerColumn > 1024)
        API_RETURN(CUDA_ERROR_INVALID_VALUE);
    fill(tensorMap, globalAddress, tensorDataType, tensorRank, globalDim, swizzle);
    API_RETURN(CUDA_SUCCESS);
}

// cuTensorMapEncodeIm2colWide: as cuTensorMapEncodeIm2col for the wide mode
RV_EXPORT CUresult cuTensorMapEncodeIm2colWide(CUtensorMap *tensorMap, CUtensorMapDataType tensorDataType,
                                               cuuint32_t tensorRank, void *globalAddress, const cuuint64_t *globalDim,
                                               const cuuint64_t *globalStrides, int pixelBoxLowerCornerWidth,
                                               int pixelBoxUpperCornerWidth, cuuint32_t channelsPerPixel,
                                               cuuint32_t pixelsPerColumn, const cuuint32_t *elementStrides,
                                               CUtensorMapInterleave interleave, CUtensorMapIm2ColWideMode mode,
                                               CUtensorMapSwizzle swizzle, CUtensorMapL2promotion l2Promotion,
                                               CUtensorMapFloatOOBfill oobFill) {
    API_ENTER();
    CUresult r = check_common(tensorMap, tensorDataType, tensorRank, globalAddress, globalDim, globalStrides,
                              elementStrides, interleave, 3);
    if (r != CUDA_SUCCESS) API_RETURN(r);
    if (!channelsPerPixel || !pixelsPerColumn) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    fill(tensorMap, globalAddress, tensorDataType, tensorRank, globalDim, swizzle);
    API_RETURN(CUDA_SUCCESS);
}

// cuTensorMapReplaceAddress: the new address must keep the 16-byte alignment
RV_EXPORT CUresult cuTensorMapReplaceAddress(CUtensorMap *tensorMap, void *globalAddress) {
    API_ENTER();
    if (!tensorMap || !globalAddress || ((uintptr_t)globalAddress & 15)) API_RETURN(CUDA_ERROR_INVALID_VALUE);
    tensorMap->opaque[0] = (cuuint64_t)(uintptr_t)globalAddress;
    API_RETURN(CUDA_SUCCESS);
}
