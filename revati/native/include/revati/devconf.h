/* revati device configuration: the profile the launcher wrote to $REVATI_RUN_DIR/device.conf. */
#ifndef REVATI_DEVCONF_H
#define REVATI_DEVCONF_H

#include <stdint.h>

#include "revati/gen/devconf_fields.h"
#include "revati/types.h"

/* The fields, their types and the default profile's values are generated from
 * revati/devices/profiles.py and profiles.toml (tools/gen_devconf.py): see gen/devconf_fields.h. */
typedef struct rv_devconf {
#define RV_DEVCONF_STR(n, size, value) char n[size];
#define RV_DEVCONF_INT(n, value) int n;
#define RV_DEVCONF_U64(n, value) uint64_t n;
#define RV_DEVCONF_DBL(n, value) double n;
    RV_DEVCONF_FIELDS(RV_DEVCONF_STR, RV_DEVCONF_INT, RV_DEVCONF_U64, RV_DEVCONF_DBL)
#undef RV_DEVCONF_STR
#undef RV_DEVCONF_INT
#undef RV_DEVCONF_U64
#undef RV_DEVCONF_DBL
} rv_devconf;

/* The configuration (read once; the default profile's values when no device.conf is found). */
RV_API const rv_devconf *rv_devconf_get(void);
/* The memory the CUDA driver reports as total (cuDeviceTotalMem, cuMemGetInfo). */
RV_API uint64_t rv_devconf_cuda_total(const rv_devconf *c);
/* A stable 16-byte UUID for device i (driver and NVML agree on it). */
RV_API void rv_dev_uuid(int i, unsigned char out[16]);

#endif
