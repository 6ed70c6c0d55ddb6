/* revati fatbin reader: kernel names and global symbol sizes from the images the runtime loads. */
#ifndef REVATI_FATBIN_H
#define REVATI_FATBIN_H

#include <stddef.h>
#include <stdint.h>

#include "revati/types.h"

typedef struct rv_image rv_image;

/* What the cubin says about one kernel (0 where it does not say). */
typedef struct rv_func_info {
    int regs;              /* registers per thread */
    int max_threads;       /* from __launch_bounds__ / reqntid, else 0 */
    uint64_t static_smem;  /* static shared memory (CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES) */
    uint64_t local_bytes;  /* stack frame bytes per thread (.nv.info FRAME_SIZE) */
    uint64_t const0_bytes; /* bytes of .nv.constant0.<kernel> (driver area + parameters) */
    uint64_t param_bytes;  /* kernel parameter bytes (.nv.info CBANK_PARAM_SIZE) */
    uint64_t code_bytes;   /* bytes of .text.<kernel> */
    int max_threads_per_block; /* CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: bounds and register file */
    /* Parameter layout from the .nv.info.<kernel> EIATTR_KPARAM_INFO records, in ordinal order:
     * nparams -1 when the cubin does not say (PTX, stripped); the arrays are owned by the image. */
    int nparams;
    uint16_t *param_off;  /* byte offset of parameter i in the parameter buffer */
    uint16_t *param_size; /* its size in bytes */
} rv_func_info;

/* Parse an image as given to cuModuleLoadData / cuModuleLoadFatBinary / cuLibraryLoadData: a fatbin
 * wrapper (magic 0x466243b1), a fatbin (magic 0xba55ed50) or a bare ELF cubin. For a fatbin, the cubin
 * for the closest SM <= (sm_major, sm_minor) is read (compressed entries are decompressed). Returns NULL
 * when nothing can be read (the caller then works without names/sizes and logs once). */
RV_API rv_image *rv_image_parse(const void *image, int sm_major, int sm_minor);
/* Parse an image from a file (cuModuleLoad / cuLibraryLoadFromFile). */
RV_API rv_image *rv_image_parse_file(const char *path, int sm_major, int sm_minor);
/* Parse an image of known size (a fatbin, an ELF cubin or PTX text) held in memory. */
RV_API rv_image *rv_image_parse_buffer(const void *data, size_t size, int sm_major, int sm_minor);
/* Number of kernel entry functions and the i-th one's name (owned by the image). */
RV_API int rv_image_function_count(const rv_image *img);
RV_API const char *rv_image_function_name(const rv_image *img, int i);
/* Index of the kernel named name, or -1. */
RV_API int rv_image_find_function(const rv_image *img, const char *name);
/* The i-th kernel's attributes from the cubin: 1 if i is valid, else 0. */
RV_API int rv_image_function_info(const rv_image *img, int i, rv_func_info *out);
/* Look up a global (device variable) symbol: 1 and *size if found, else 0. */
RV_API int rv_image_global(const rv_image *img, const char *name, uint64_t *size);
/* Number of globals and the i-th one's name (sorted by name) and size. */
RV_API int rv_image_global_count(const rv_image *img);
RV_API const char *rv_image_global_name(const rv_image *img, int i, uint64_t *size);
/* SM of the code object that was read (e.g. 90), and whether it was PTX text (no ELF for any arch). */
RV_API int rv_image_sm(const rv_image *img);
RV_API int rv_image_from_ptx(const rv_image *img);
/* Whether a real driver could load the image on the device (a cubin of the device's major version
 * and an older or equal minor, or PTX to JIT): if 0, the names come from code for another arch and
 * the real driver would fail with CUDA_ERROR_NO_BINARY_FOR_GPU. */
RV_API int rv_image_compatible(const rv_image *img);
RV_API void rv_image_free(rv_image *img);

#endif
