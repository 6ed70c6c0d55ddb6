#!/bin/sh
# Rebuild the sample fatbins from fatbin_sample.cu (needs nvcc from CUDA 12.8+; run in this folder).
set -e
NVCC=${NVCC:-nvcc}
G="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a -gencode arch=compute_90,code=sm_90"
$NVCC -fatbin $G --compress-mode=size -o fatbin_sample_zstd.fatbin fatbin_sample.cu
$NVCC -fatbin $G -Xfatbin -compress-all --compress-mode=speed -o fatbin_sample_lz4.fatbin fatbin_sample.cu
$NVCC -fatbin $G --compress-mode=none -o fatbin_sample_plain.fatbin fatbin_sample.cu
$NVCC -fatbin -gencode arch=compute_90,code=compute_90 --compress-mode=none -o fatbin_sample_ptx.fatbin fatbin_sample.cu
