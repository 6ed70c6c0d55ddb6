/* revati device configuration: the profile the launcher wrote to $REVATI_RUN_DIR/device.conf. */
#ifndef REVATI_DEVCONF_H
#define REVATI_DEVCONF_H

#include <stdint.h>

#include "revati/types.h"

typedef struct rv_devconf {
    char name[96];            /* e.g. "NVIDIA H100 80GB HBM3" (what the driver and NVML report) */
    char profile[64];         /* profile key, e.g. "H100-SXM-80GB" */
    int count;                /* devices visible to each process */
    uint64_t mem_bytes;       /* physical device memory: NVML's total */
    uint64_t reserved_bytes;  /* what the driver keeps: CUDA's total is mem_bytes - reserved_bytes */
    uint64_t context_bytes;   /* what a fresh context takes: free = CUDA total - context - allocations */
    int sm_count;
    int cc_major, cc_minor;
    int clock_khz;            /* SM clock */
    int mem_clock_khz;
    int mem_bus_width;        /* bits */
    int l2_bytes;
    int smem_per_block_optin; /* bytes */
    int smem_per_sm;          /* bytes */
    int regs_per_sm;
    int max_threads_per_sm;
    double peak_bf16_tflops, peak_fp16_tflops, peak_fp32_tflops, peak_fp8_tflops;
    double mem_bw_gbs;        /* HBM bandwidth, GB/s */
    double h2d_bw_gbs;        /* host<->device copy bandwidth, GB/s */
    double d2d_bw_gbs;        /* device-local copy bandwidth, GB/s */
    double nvlink_bw_gbs;     /* per-GPU interconnect bandwidth, GB/s */
    uint64_t nvlink_latency_ns; /* collectives: cost of one step between GPUs */
    double nccl_bw_eff;       /* collectives: fraction of nvlink_bw_gbs NCCL achieves */
    uint64_t kernel_base_ns;  /* analytical predictor: per-launch constant */
    uint64_t kernel_wave_ns;  /* analytical predictor: cost per wave of blocks */
    uint64_t api_host_ns;     /* modelled host cost of one driver call */
    int pci_bus_base;         /* PCI bus id of device 0; device i gets base + i */
} rv_devconf;

/* The configuration (read once; H100-SXM-80GB defaults when no device.conf is found). */
RV_API const rv_devconf *rv_devconf_get(void);
/* The memory the CUDA driver reports as total (cuDeviceTotalMem, cuMemGetInfo). */
RV_API uint64_t rv_devconf_cuda_total(const rv_devconf *c);
/* A stable 16-byte UUID for device i (driver and NVML agree on it). */
RV_API void rv_dev_uuid(int i, unsigned char out[16]);

#endif
