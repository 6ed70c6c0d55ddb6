/* revati driver: a launch's kernel parameters as one flat buffer laid out as the kernel's parameter bank. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The parameter layout of f from its image (fatbin_elf.c read EIATTR_KPARAM_INFO); -1 when unknown. */
void rv_func_set_layout(rv_func *f, const rv_func_info *fi) {
    f->nparams = -1;
    if (!fi || fi->nparams < 0) return;
    int n = fi->nparams;
    uint16_t *off = malloc((size_t)(n ? n : 1) * sizeof *off), *size = malloc((size_t)(n ? n : 1) * sizeof *size);
    if (!off || !size) {
        free(off), free(size);
        return;
    }
    uint32_t end = 0;
    for (int i = 0; i < n; ++i) {
        off[i] = fi->param_off[i], size[i] = fi->param_size[i];
        if ((uint32_t)off[i] + size[i] > end) end = (uint32_t)off[i] + size[i];
    }
    f->param_off = off, f->param_size = size;
    f->param_bytes = fi->param_bytes > end ? (uint32_t)fi->param_bytes : end;
    f->nparams = n;
}

int rv_launch_params(const rv_func *f, void **kernelParams, void **extra, uint8_t *buf, uint32_t cap) {
    if (kernelParams) {
        if (!f || f->nparams < 0 || f->param_bytes > cap) return -1;
        memset(buf, 0, f->param_bytes); /* padding between parameters reads as zero */
        for (int i = 0; i < f->nparams; ++i) {
            if (!kernelParams[i]) return -1;
            memcpy(buf + f->param_off[i], kernelParams[i], f->param_size[i]);
        }
        return (int)f->param_bytes;
    }
    /* extra: {CU_LAUNCH_PARAM_BUFFER_POINTER, p, CU_LAUNCH_PARAM_BUFFER_SIZE, &size, CU_LAUNCH_PARAM_END} */
    const void *p = NULL;
    size_t n = 0;
    for (int i = 0; extra && i < 64 && extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
        if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) p = extra[i + 1];
        else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE && extra[i + 1]) n = *(const size_t *)extra[i + 1];
    }
    if (!extra) return f && f->nparams == 0 ? 0 : -1;
    if (!p || n > cap) return -1;
    memcpy(buf, p, n);
    return (int)n;
}

void rv_kernel_op_own_params(rv_kernel_op *k) {
    if (!k->params) return;
    uint8_t *copy = malloc(k->param_bytes ? k->param_bytes : 1);
    if (copy) memcpy(copy, k->params, k->param_bytes);
    k->params = copy;
    if (!copy) k->param_bytes = 0;
}

CUresult rv_kernel_op_from_node(rv_kernel_op *k, const CUDA_KERNEL_NODE_PARAMS *p) {
    rv_func *f = rv_func_from(p->func ? (void *)p->func : (void *)p->kern);
    if (!f) return CUDA_ERROR_INVALID_VALUE;
    *k = (rv_kernel_op){f, {p->gridDimX, p->gridDimY, p->gridDimZ}, {p->blockDimX, p->blockDimY, p->blockDimZ},
                        p->sharedMemBytes, NULL, 0};
    uint8_t small[RV_PARAM_STACK];
    uint32_t cap = f->param_bytes > sizeof small ? f->param_bytes : (uint32_t)sizeof small;
    uint8_t *buf = cap > sizeof small ? malloc(cap) : small;
    int n = buf ? rv_launch_params(f, p->kernelParams, p->extra, buf, cap) : -1;
    if (n >= 0) {
        k->params = buf, k->param_bytes = (uint32_t)n;
        rv_kernel_op_own_params(k);
    }
    if (buf != small) free(buf);
    return CUDA_SUCCESS;
}
