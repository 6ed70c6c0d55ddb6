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
    /* H100-SXM-80GB; the values the launcher writes from revati/devices/profiles.toml */
    snprintf(c->name, sizeof c->name, "NVIDIA H100 80GB HBM3");
    snprintf(c->profile, sizeof c->profile, "H100-SXM-80GB");
    c->count = 1;
    c->mem_bytes = 85520809984ULL;
    c->reserved_bytes = 491651072ULL;
    c->context_bytes = 552402944ULL;
    c->sm_count = 132;
    c->cc_major = 9;
    c->cc_minor = 0;
    c->clock_khz = 1980000;
    c->mem_clock_khz = 2619000;
    c->mem_bus_width = 5120;
    c->l2_bytes = 52428800;
    c->smem_per_block_optin = 232448;
    c->smem_per_sm = 233472;
    c->regs_per_sm = 65536;
    c->max_threads_per_sm = 2048;
    c->peak_bf16_tflops = 989.4;
    c->peak_fp16_tflops = 989.4;
    c->peak_fp32_tflops = 66.9;
    c->peak_fp8_tflops = 1978.9;
    c->mem_bw_gbs = 3352.0;
    c->h2d_bw_gbs = 55.0;
    c->d2d_bw_gbs = 1500.0;
    c->nvlink_bw_gbs = 450.0;
    c->nvlink_latency_ns = 2000;
    c->nccl_bw_eff = 0.8;
    c->kernel_base_ns = 3000;
    c->kernel_wave_ns = 2000;
    c->api_host_ns = 0;
    c->pci_bus_base = 0x18;
}

static void apply(rv_devconf *c, const char *k, const char *v) {
#define STR(field) if (!strcmp(k, #field)) { snprintf(c->field, sizeof c->field, "%s", v); return; }
#define INT(field) if (!strcmp(k, #field)) { c->field = (int)strtol(v, NULL, 0); return; }
#define U64(field) if (!strcmp(k, #field)) { c->field = strtoull(v, NULL, 0); return; }
#define DBL(field) if (!strcmp(k, #field)) { c->field = strtod(v, NULL); return; }
    STR(name) STR(profile) INT(count) U64(mem_bytes) U64(reserved_bytes) U64(context_bytes) INT(sm_count)
    INT(cc_major) INT(cc_minor) INT(clock_khz) INT(mem_clock_khz) INT(mem_bus_width) INT(l2_bytes)
    INT(smem_per_block_optin) INT(smem_per_sm) INT(regs_per_sm) INT(max_threads_per_sm)
    DBL(peak_bf16_tflops) DBL(peak_fp16_tflops) DBL(peak_fp32_tflops) DBL(peak_fp8_tflops)
    DBL(mem_bw_gbs) DBL(h2d_bw_gbs) DBL(d2d_bw_gbs) DBL(nvlink_bw_gbs) U64(nvlink_latency_ns) DBL(nccl_bw_eff) U64(kernel_base_ns)
    U64(kernel_wave_ns) U64(api_host_ns) INT(pci_bus_base)
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
