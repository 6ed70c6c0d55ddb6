/* revati native types: virtual time and export macro. */
#ifndef REVATI_TYPES_H
#define REVATI_TYPES_H

#include <stdint.h>

/* A virtual instant: ns since the run's virtual epoch. */
typedef uint64_t rv_vtime_ns;
/* A virtual duration in ns. */
typedef uint64_t rv_vdur_ns;

#define RV_VTIME_INVALID UINT64_MAX

/* Symbols that the emulated program may call (CUDA, NVML, libc names, revati_*). */
#define RV_EXPORT __attribute__((visibility("default")))
/* Symbols shared between revati's own libraries (librevati.so -> libcuda.so.1). */
#define RV_API __attribute__((visibility("default")))

#endif
