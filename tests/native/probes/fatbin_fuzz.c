/* fatbin fuzz probe: mutated images through rv_image_parse_buffer (built with ASan/UBSan by the test).
 *
 *   fatbin_fuzz TRIES SEED FILE...
 * Each try truncates the image or flips/overwrites a few bytes (often in the headers), parses it and,
 * if something comes back, reads every name, attribute and a global. Prints "FILE parsed/tries" lines;
 * any out-of-bounds access aborts through the sanitizers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revati/fatbin.h"

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: fatbin_fuzz TRIES SEED FILE...\n");
        return 2;
    }
    long tries = atol(argv[1]);
    unsigned seed = (unsigned)atol(argv[2]);
    for (int f = 3; f < argc; ++f) {
        FILE *fp = fopen(argv[f], "rb");
        if (!fp) {
            fprintf(stderr, "fatbin_fuzz: cannot read %s\n", argv[f]);
            return 2;
        }
        fseek(fp, 0, SEEK_END);
        long n = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        unsigned char *orig = malloc((size_t)n);
        if (!orig || fread(orig, 1, (size_t)n, fp) != (size_t)n) return 2;
        fclose(fp);
        long parsed = 0;
        for (long t = 0; t < tries; ++t) {
            long len = n;
            int mode = rand_r(&seed) % 4;
            if (mode == 0) len = rand_r(&seed) % n;
            /* an exact-size copy, so that reading one byte past the end is caught */
            unsigned char *b = malloc(len ? (size_t)len : 1);
            memcpy(b, orig, (size_t)len);
            int flips = 1 + rand_r(&seed) % 16;
            for (int k = 0; k < flips && mode != 0; ++k) {
                long span = mode == 3 ? (n < 400 ? n : 400) : n;
                long pos = rand_r(&seed) % span;
                if (mode == 2) b[pos] = 0xff;
                else b[pos] ^= (unsigned char)(1u << (rand_r(&seed) % 8));
            }
            rv_image *img = rv_image_parse_buffer(b, (size_t)len, 9, 0);
            if (img) {
                parsed++;
                for (int i = 0; i < rv_image_function_count(img); ++i) {
                    rv_func_info fi;
                    rv_image_function_info(img, i, &fi);
                    if (rv_image_find_function(img, rv_image_function_name(img, i)) < 0) abort();
                }
                uint64_t size;
                for (int i = 0; i < rv_image_global_count(img); ++i)
                    if (!rv_image_global(img, rv_image_global_name(img, i, &size), &size)) abort();
                rv_image_free(img);
            }
            free(b);
        }
        printf("%s %ld/%ld\n", argv[f], parsed, tries);
        free(orig);
    }
    return 0;
}
