/* revati device configuration: parse $REVATI_RUN_DIR/device.conf (key=value) once. */
#include "revati/devconf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "revati/log.h"

static rv_devconf g_conf;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void set_defaults(rv_devconf *c) {
    /* the default profile's values, generated from revati/devices/profiles.toml */
#define STR(n, size, value) snprintf(c->n, sizeof c->n, "%s", value);
#define INT(n, value) c->n = value;
#define U64(n, value) c->n = value;
#define DBL(n, value) c->n = value;
    RV_DEVCONF_FIELDS(STR, INT, U64, DBL)
#undef STR
#undef INT
#undef U64
#undef DBL
}

static void apply(rv_devconf *c, const char *k, const char *v) {
#define STR(n, size, value) if (!strcmp(k, #n)) { snprintf(c->n, sizeof c->n, "%s", v); return; }
#define INT(n, value) if (!strcmp(k, #n)) { c->n = (int)strtol(v, NULL, 0); return; }
#define U64(n, value) if (!strcmp(k, #n)) { c->n = strtoull(v, NULL, 0); return; }
#define DBL(n, value) if (!strcmp(k, #n)) { c->n = strtod(v, NULL); return; }
    RV_DEVCONF_FIELDS(STR, INT, U64, DBL)
#undef STR
#undef INT
#undef U64
#undef DBL
    rv_warn("device.conf: unknown key '%s' ignored", k);
}

static void load(void) {
    set_defaults(&g_conf);
    char path[4096];
    const char *explicit_path = getenv("REVATI_DEVICE_CONF");
    const char *run = getenv("REVATI_RUN_DIR");
    if (explicit_path && *explicit_path) snprintf(path, sizeof path, "%s", explicit_path);
    else if (run && *run) snprintf(path, sizeof path, "%s/device.conf", run);
    else path[0] = 0;
    if (path[0]) {
        FILE *f = fopen(path, "r");
        if (!f) {
            rv_warn("cannot read %s; assuming %s", path, g_conf.profile);
        } else {
            char line[512];
            while (fgets(line, sizeof line, f)) {
                char *nl = strchr(line, '\n');
                if (nl) *nl = 0;
                if (!line[0] || line[0] == '#') continue;
                char *eq = strchr(line, '=');
                if (!eq) continue;
                *eq = 0;
                apply(&g_conf, line, eq + 1);
            }
            fclose(f);
        }
    }
    const char *n = getenv("REVATI_GPUS"); /* an explicit count overrides the file */
    if (n && *n) g_conf.count = atoi(n);
    if (g_conf.count < 1) g_conf.count = 1;
    if (g_conf.count > 64) g_conf.count = 64;
}

const rv_devconf *rv_devconf_get(void) {
    pthread_once(&g_once, load);
    return &g_conf;
}

uint64_t rv_devconf_cuda_total(const rv_devconf *c) {
    return c->reserved_bytes < c->mem_bytes ? c->mem_bytes - c->reserved_bytes : 0;
}

void rv_dev_uuid(int i, unsigned char out[16]) {
    /* fixed, distinct per device and profile: FNV-1a of the profile name, then the index */
    const rv_devconf *c = rv_devconf_get();
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = c->profile; *p; ++p) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    uint64_t a = h ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1));
    uint64_t b = (h * 31u) + (uint64_t)i;
    for (int k = 0; k < 8; ++k) out[k] = (unsigned char)(a >> (8 * k));
    for (int k = 0; k < 8; ++k) out[8 + k] = (unsigned char)(b >> (8 * k));
    out[6] = (unsigned char)((out[6] & 0x0f) | 0x40); /* version 4 */
    out[8] = (unsigned char)((out[8] & 0x3f) | 0x80); /* RFC 4122 variant */
}
