/* revati fatbin reader: kernel names and global symbol sizes from the images the runtime loads. */
#ifndef REVATI_FATBIN_H
#define REVATI_FATBIN_H

#include <stddef.h>
#include <stdint.h>

#include "revati/types.h"

typedef struct rv_image rv_image;

/* Parse an image as given to cuModuleLoadData / cuModuleLoadFatBinary / cuLibraryLoadData: a fatbin
 * wrapper (magic 0x466243b1), a fatbin (magic 0xba55ed50) or a bare ELF cubin. For a fatbin, the cubin
 * for the closest SM <= (sm_major, sm_minor) is read (compressed entries are decompressed). Returns NULL
 * when nothing can be read (the caller then works without names/sizes and logs once). */
RV_API rv_image *rv_image_parse(const void *image, int sm_major, int sm_minor);
/* Parse an image from a file (cuModuleLoad / cuLibraryLoadFromFile). */
RV_API rv_image *rv_image_parse_file(const char *path, int sm_major, int sm_minor);
/* Number of kernel entry functions and the i-th one's name (owned by the image). */
RV_API int rv_image_function_count(const rv_image *img);
RV_API const char *rv_image_function_name(const rv_image *img, int i);
/* Look up a global (device variable) symbol: 1 and *size if found, else 0. */
RV_API int rv_image_global(const rv_image *img, const char *name, uint64_t *size);
RV_API void rv_image_free(rv_image *img);

#endif
