/* Launch-cost probe: times N cuLaunchKernel calls on the stand-in driver (interception + prediction +
 * trace write) and prints one JSON line with the per-launch samples' median, p99 and mean in ns. */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

/* raw clock: libc's clock_gettime may be the interposed, virtual one */
static uint64_t real_ns(void) {
    struct timespec ts;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t ticks(void) {
#if defined(__x86_64__)
    return __rdtsc();
#else
    return real_ns();
#endif
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

#define CHECK(x)                                                        \
    do {                                                                \
        CUresult r_ = (x);                                              \
        if (r_ != CUDA_SUCCESS) {                                       \
            fprintf(stderr, "launch_probe: %s failed: %d\n", #x, (int)r_); \
            return 1;                                                   \
        }                                                               \
    } while (0)

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 100000;
    /* with a second argument D: launch i's grid is 1 + i % D, so D distinct kernel templates */
    int distinct = argc > 2 ? atoi(argv[2]) : 0;
    if (n <= 0) {
        fprintf(stderr, "launch_probe: the launch count must be positive\n");
        return 2;
    }
    CUcontext ctx;
    CUmodule mod;
    CUfunction fn;
    CUstream s;
    static char image[64];
    CHECK(cuInit(0));
    CHECK(cuDevicePrimaryCtxRetain(&ctx, 0));
    CHECK(cuCtxSetCurrent(ctx));
    CHECK(cuModuleLoadData(&mod, image));
    CHECK(cuModuleGetFunction(&fn, mod, "bench_kernel_with_a_typical_mangled_length_Z3fooILi128EEvPKfPfi"));
    CHECK(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
    uint64_t *dt = malloc(sizeof *dt * (size_t)n);
    for (int i = 0; i < 1000; ++i) CHECK(cuLaunchKernel(fn, 128, 1, 1, 256, 1, 1, 0, s, NULL, NULL));
    uint64_t r0 = real_ns(), t0 = ticks();
    for (int i = 0; i < n; ++i) {
        uint64_t a = ticks();
        unsigned gx = distinct > 0 ? 1 + (unsigned)(i % distinct) : 128 + (unsigned)(i & 7);
        cuLaunchKernel(fn, gx, 1, 1, 256, 1, 1, 0, s, NULL, NULL);
        dt[i] = ticks() - a;
    }
    uint64_t r1 = real_ns(), t1 = ticks();
    double ns_per_tick = (double)(r1 - r0) / (double)(t1 - t0 ? t1 - t0 : 1);
    double total = 0;
    for (int i = 0; i < n; ++i) total += (double)dt[i];
    qsort(dt, (size_t)n, sizeof *dt, cmp);
    printf("{\"launches\":%d,\"median_ns\":%.1f,\"p99_ns\":%.1f,\"mean_ns\":%.1f,\"loop_ns_per_launch\":%.1f}\n", n,
           dt[n / 2] * ns_per_tick, dt[(size_t)((double)n * 0.99)] * ns_per_tick, total / n * ns_per_tick,
           (double)(r1 - r0) / n);
    CHECK(cuStreamSynchronize(s));
    free(dt);
    return 0;
}
