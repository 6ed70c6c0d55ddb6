/* revati fatbin reader (placeholder until the parser lands: reads nothing). */
#include "revati/fatbin.h"

rv_image *rv_image_parse(const void *image, int sm_major, int sm_minor) { return NULL; }
rv_image *rv_image_parse_file(const char *path, int sm_major, int sm_minor) { return NULL; }
int rv_image_function_count(const rv_image *img) { return 0; }
const char *rv_image_function_name(const rv_image *img, int i) { return NULL; }
int rv_image_global(const rv_image *img, const char *name, uint64_t *size) { return 0; }
void rv_image_free(rv_image *img) {}
