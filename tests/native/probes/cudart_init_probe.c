/* Probe: load the real CUDA runtime (argv[1], e.g. libcudart.so.13) under whatever libcuda.so.1 the
 * library path finds, and print one JSON line with the results of its first calls. An integrity
 * check the runtime rejects shows as error 103 (cudaErrorSoftwareValidityNotEstablished) here. */
#include <dlfcn.h>
#include <stdio.h>

typedef int (*int_ptr_fn)(int *);
typedef int (*ptr_fn)(void *);
typedef const char *(*name_fn)(int);

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH/libcudart.so.13\n", argv[0]);
        return 2;
    }
    void *rt = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!rt) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], dlerror());
        return 2;
    }
    int_ptr_fn get_count = (int_ptr_fn)dlsym(rt, "cudaGetDeviceCount");
    int_ptr_fn drv_version = (int_ptr_fn)dlsym(rt, "cudaDriverGetVersion");
    int_ptr_fn rt_version = (int_ptr_fn)dlsym(rt, "cudaRuntimeGetVersion");
    ptr_fn cuda_free = (ptr_fn)dlsym(rt, "cudaFree");
    name_fn err_name = (name_fn)dlsym(rt, "cudaGetErrorName");
    if (!get_count || !drv_version || !rt_version || !cuda_free || !err_name) {
        fprintf(stderr, "%s lacks a runtime entry point\n", argv[1]);
        return 2;
    }
    int dv = -1, rv = -1, count = -1;
    int r_dv = drv_version(&dv);
    int r_rv = rt_version(&rv);
    int r_count = get_count(&count);
    int r_free = cuda_free(NULL);
    /* a second call shows whether the first failure is sticky */
    int count2 = -1;
    int r_count2 = get_count(&count2);
    printf("{\"driver_version\": %d, \"driver_version_rc\": %d, \"runtime_version\": %d, "
           "\"runtime_version_rc\": %d, \"count\": %d, \"count_rc\": %d, \"count_err\": \"%s\", "
           "\"free_rc\": %d, \"free_err\": \"%s\", \"count2\": %d, \"count2_rc\": %d}\n",
           dv, r_dv, rv, r_rv, count, r_count, err_name(r_count), r_free, err_name(r_free), count2, r_count2);
    return 0;
}
