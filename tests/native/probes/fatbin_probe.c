/* fatbin probe: run revati's fatbin reader over real images and print what it read as JSON.
 *
 *   fatbin_probe file PATH MAJOR MINOR [--global NAME]...
 *       parse one image file (fatbin, cubin or PTX) through rv_image_parse_file; print every kernel
 *       (with its cubin attributes), every global and the looked-up globals.
 *   fatbin_probe scan SECTION MAJOR MINOR NAMES_OUT [--global NAME]...
 *       SECTION is a dump of a library's .nv_fatbin section (fatbins back to back). Each fatbin is
 *       handed to rv_image_parse as a bare pointer, as the runtime does; every kernel name goes to
 *       NAMES_OUT (one per line), a summary (counts, timing, looked-up globals) to stdout.
 *   fatbin_probe ptr PATH MAJOR MINOR [wrap]
 *       parse a whole file's bytes through rv_image_parse (pointer path); print counts. With `wrap`,
 *       hand over a fatbin wrapper {0x466243b1, 1, bytes, NULL} instead, as in .nvFatBinSegment.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "revati/fatbin.h"

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(sz > 0 ? (size_t)sz : 1);
    if (!buf || fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    *n = (size_t)sz;
    return buf;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void print_lookups(const rv_image *img, int argc, char **argv, int first) {
    printf("\"lookups\":{");
    int comma = 0;
    for (int a = first; a + 1 < argc; ++a) {
        if (strcmp(argv[a], "--global")) continue;
        uint64_t size = 0;
        int found = rv_image_global(img, argv[a + 1], &size);
        printf("%s", comma ? "," : "");
        json_str(stdout, argv[a + 1]);
        if (found) printf(":%llu", (unsigned long long)size);
        else printf(":null");
        comma = 1;
    }
    printf("}");
}

static int cmd_file(int argc, char **argv) {
    rv_image *img = rv_image_parse_file(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (!img) {
        printf("{\"parsed\":false}\n");
        return 0;
    }
    printf("{\"parsed\":true,\"sm\":%d,\"ptx\":%s,\"compatible\":%s,\"kernels\":[", rv_image_sm(img),
           rv_image_from_ptx(img) ? "true" : "false", rv_image_compatible(img) ? "true" : "false");
    for (int i = 0; i < rv_image_function_count(img); ++i) {
        rv_func_info fi;
        rv_image_function_info(img, i, &fi);
        printf("%s{\"name\":", i ? "," : "");
        json_str(stdout, rv_image_function_name(img, i));
        printf(",\"found_at\":%d,\"regs\":%d,\"max_threads\":%d,\"static_smem\":%llu,\"const0\":%llu,"
               "\"param_bytes\":%llu,\"code_bytes\":%llu,\"local_bytes\":%llu,\"max_threads_per_block\":%d",
               rv_image_find_function(img, rv_image_function_name(img, i)), fi.regs, fi.max_threads,
               (unsigned long long)fi.static_smem, (unsigned long long)fi.const0_bytes,
               (unsigned long long)fi.param_bytes, (unsigned long long)fi.code_bytes,
               (unsigned long long)fi.local_bytes, fi.max_threads_per_block);
        printf(",\"nparams\":%d,\"params\":[", fi.nparams);
        for (int p = 0; p < fi.nparams; ++p) printf("%s[%u,%u]", p ? "," : "", fi.param_off[p], fi.param_size[p]);
        printf("]}");
    }
    printf("],\"globals\":{");
    for (int i = 0; i < rv_image_global_count(img); ++i) {
        uint64_t size = 0;
        const char *name = rv_image_global_name(img, i, &size);
        printf("%s", i ? "," : "");
        json_str(stdout, name);
        printf(":%llu", (unsigned long long)size);
    }
    printf("},\"missing_function\":%d,", rv_image_find_function(img, "no_such_kernel"));
    print_lookups(img, argc, argv, 5);
    printf("}\n");
    rv_image_free(img);
    return 0;
}

static int cmd_scan(int argc, char **argv) {
    size_t n = 0;
    unsigned char *buf = slurp(argv[2], &n);
    if (!buf) {
        fprintf(stderr, "fatbin_probe: cannot read %s\n", argv[2]);
        return 2;
    }
    FILE *names = fopen(argv[5], "w");
    if (!names) {
        fprintf(stderr, "fatbin_probe: cannot write %s\n", argv[5]);
        return 2;
    }
    int major = atoi(argv[3]), minor = atoi(argv[4]);
    long containers = 0, parsed = 0, kernels = 0, globals = 0, ptx = 0, compatible = 0;
    double worst = 0, t0 = now_ms();
    size_t off = 0;
    /* looked-up globals: the largest size seen in any fatbin */
    uint64_t found[64] = {0};
    int nlook = 0;
    const char *look[64];
    for (int a = 6; a + 1 < argc && nlook < 64; ++a)
        if (!strcmp(argv[a], "--global")) look[nlook++] = argv[a + 1];
    while (off + 16 <= n) {
        uint32_t magic;
        uint16_t hs;
        uint64_t body;
        memcpy(&magic, buf + off, 4);
        memcpy(&hs, buf + off + 6, 2);
        memcpy(&body, buf + off + 8, 8);
        if (magic != 0xba55ed50u) { /* padding between fatbins */
            off += 8;
            continue;
        }
        containers++;
        double t = now_ms();
        rv_image *img = rv_image_parse(buf + off, major, minor);
        double dt = now_ms() - t;
        if (dt > worst) worst = dt;
        if (img) {
            parsed++;
            ptx += rv_image_from_ptx(img);
            compatible += rv_image_compatible(img);
            kernels += rv_image_function_count(img);
            globals += rv_image_global_count(img);
            for (int i = 0; i < rv_image_function_count(img); ++i) fprintf(names, "%s\n", rv_image_function_name(img, i));
            for (int k = 0; k < nlook; ++k) {
                uint64_t size = 0;
                if (rv_image_global(img, look[k], &size) && size > found[k]) found[k] = size;
            }
            rv_image_free(img);
        }
        off += (size_t)hs + body;
    }
    fclose(names);
    printf("{\"containers\":%ld,\"parsed\":%ld,\"compatible\":%ld,\"from_ptx\":%ld,\"kernels\":%ld,"
           "\"globals\":%ld,\"total_ms\":%.1f,\"worst_ms\":%.2f,\"lookups\":{",
           containers, parsed, compatible, ptx, kernels, globals, now_ms() - t0, worst);
    for (int k = 0; k < nlook; ++k) {
        printf("%s", k ? "," : "");
        json_str(stdout, look[k]);
        printf(":%llu", (unsigned long long)found[k]);
    }
    printf("}}\n");
    free(buf);
    return 0;
}

static int cmd_ptr(int argc, char **argv) {
    size_t n = 0;
    unsigned char *buf = slurp(argv[2], &n);
    if (!buf) {
        fprintf(stderr, "fatbin_probe: cannot read %s\n", argv[2]);
        return 2;
    }
    struct {
        int magic, version;
        const void *data, *filename_or_fatbins;
    } wrapper = {0x466243b1, 1, buf, NULL};
    int wrap = argc > 5 && !strcmp(argv[5], "wrap");
    rv_image *img = rv_image_parse(wrap ? (const void *)&wrapper : buf, atoi(argv[3]), atoi(argv[4]));
    printf("{\"parsed\":%s,\"kernels\":%d,\"globals\":%d,\"sm\":%d}\n", img ? "true" : "false",
           rv_image_function_count(img), rv_image_global_count(img), rv_image_sm(img));
    rv_image_free(img);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 5 && !strcmp(argv[1], "file")) return cmd_file(argc, argv);
    if (argc >= 6 && !strcmp(argv[1], "scan")) return cmd_scan(argc, argv);
    if (argc >= 5 && !strcmp(argv[1], "ptr")) return cmd_ptr(argc, argv);
    fprintf(stderr, "usage: fatbin_probe file|scan|ptr PATH MAJOR MINOR [NAMES_OUT] [--global NAME]...\n");
    return 2;
}
