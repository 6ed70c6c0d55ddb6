// Source of the sample images under tests/native/probes (fatbin_sample_*.fatbin): a few kernels with
// known names, parameter sizes, shared memory and launch bounds, plus device globals of known sizes.
// Regenerate with tests/native/probes/fatbin_sample_build.sh (needs nvcc; the tests use the outputs).
__device__ float rv_table[37];
__device__ double rv_scalar;
__constant__ int rv_consts[5];

__global__ void __launch_bounds__(256) rv_scale(float *x, float a, int n) {
    __shared__ float tile[64];
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    tile[threadIdx.x % 64] = i < n ? x[i] : 0.f;
    __syncthreads();
    if (i < n) x[i] = a * tile[(threadIdx.x + 1) % 64] + rv_table[i % 37] + rv_consts[i % 5];
}

extern "C" __global__ void rv_plain_c(int *y, int n) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) y[i] += i * (int)rv_scalar;
}

template <int K> __global__ void rv_templ(double *z) {
    double acc = 0;
#pragma unroll
    for (int k = 0; k < K; ++k) acc += z[k] * (k + 1);
    z[threadIdx.x] = acc;
}
template __global__ void rv_templ<16>(double *);
