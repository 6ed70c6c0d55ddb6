/* revati kernel features: what one kernel launch does, as the trace's `args`, `op` and `sig` fields.
 *
 * One C unit (native/features/) compiled into both the stand-in driver (libcuda.so.1) and the real-GPU
 * pass-through shim, so that a kernel recorded under revati and the same kernel profiled on a GPU get
 * the same features and the same signature. It depends on nothing but libc.
 *
 * Input (rv_feat_in): the kernel's name, grid, block and dynamic shared memory; its parameter bytes as
 * one flat buffer with the layout from the cubin (nparams, and each parameter's offset and size in
 * that buffer); a callback that says whether an 8-byte value points into device memory; and the
 * library-call context (the JSON object of the public library call that is launching the kernel, as
 * kept by native/libcalls, or NULL).
 *
 * Output (rv_feat_out), each a NUL-terminated JSON text:
 *   args  a list, one entry per parameter in order: a parameter of at most 8 bytes is its unsigned
 *         little-endian value, or null when it is 8 bytes and points into device memory (is_devptr)
 *         or lies in the upper user address range [0x5500'0000'0000, 0x8000'0000'0000) where host
 *         addresses and stack bytes live (the unit's own rule, features/mask.h); a larger
 *         parameter (a struct) is a list of its 8-byte words (the tail word zero-padded) under the same
 *         rule; a driver-encoded CUtensorMap inside a parameter is 16 nulls. With no layout
 *         (nparams < 0) args is the empty text and the field is left out.
 *   op    an object decoded from the kernel itself where revati knows the kernel (torch's flash and
 *         memory-efficient attention forward kernels, cuDNN's SDPA forward kernels); otherwise the
 *         library-call object when one is given; else empty text.
 *         FlashAttention-3's op also carries the KV lengths read from device memory when read_dev
 *         is given (then mem_read says whether they were), so such launches are never memoised.
 *   sig   16 lowercase hex digits: FNV-1a 64 over "name|gx,gy,gz|bx,by,bz|smem|args|op" (args and op
 *         as the texts above; empty text where absent).
 * The cost is one pass over the parameter bytes and one over the output text (see docs/benchmarks.md).
 * The API is stable: the profile shim builds against it.
 */
#ifndef REVATI_FEATURES_H
#define REVATI_FEATURES_H

#include <stddef.h>
#include <stdint.h>

/* Whether an 8-byte value points into device memory (1) or not (0). */
typedef int (*rv_feat_is_devptr)(uint64_t value, void *user);
/* Whether the 128 bytes at p are a CUtensorMap the driver encoded (1) or not (0). Its bytes are the
 * driver's own encoding of a device address and shape (the stand-in's differs from NVIDIA's), so they
 * are written as 16 nulls, like a pointer. Asked at 64-byte aligned offsets inside parameters. */
typedef int (*rv_feat_is_tensormap)(const unsigned char *p, void *user);
/* Read n bytes of device memory at addr into dst: 1 when read (the range lies in one allocation and
 * holds values the program put there), 0 otherwise. Asked only by kernels whose work is set by device
 * memory (FlashAttention-3's per-sequence KV lengths, attn_params.c). */
typedef int (*rv_feat_read_dev)(uint64_t addr, void *dst, size_t n, void *user);

typedef struct rv_feat_in {
    const char *name;             /* kernel name as the trace's `name` field holds it (mangled) */
    unsigned grid[3], block[3];
    unsigned smem;                /* dynamic shared memory bytes */
    const unsigned char *params;  /* the parameter buffer (may be NULL when nparams <= 0) */
    size_t params_len;            /* bytes readable at params */
    int nparams;                  /* number of parameters; < 0: layout unknown */
    const uint16_t *param_off;    /* offset of parameter i in params */
    const uint16_t *param_size;   /* size of parameter i in bytes */
    rv_feat_is_devptr is_devptr;  /* NULL: no value is masked */
    void *user;                   /* passed to is_devptr */
    const char *op_json;          /* library-call context (a JSON object) or NULL */
    uint64_t name_fnv;            /* optional: rv_fnv1a(RV_FNV_OFFSET, name, strlen(name)), cached by the
                                     caller per kernel; 0: computed here */
    rv_feat_is_tensormap is_tensormap; /* optional (NULL: none): 128 driver-encoded bytes? */
    rv_feat_read_dev read_dev;    /* optional (NULL: device memory is not read; the profile shim) */
} rv_feat_in;

/* Largest parameter buffer a launch may pass (CUDA 12.1+: 32764 bytes), and an args size that holds
 * any layout of it (at most 5 characters per parameter byte: "255," per 1-byte parameter, brackets
 * around a 9-byte struct). The writer is bounded anyway: a full buffer truncates, never overflows. */
#define RV_FEAT_PARAMS_MAX 32768
#define RV_FEAT_ARGS_MAX (RV_FEAT_PARAMS_MAX * 5 + 64)
#define RV_FEAT_OP_MAX 1024

typedef struct rv_feat_out {
    char args[RV_FEAT_ARGS_MAX];
    size_t args_len;
    char op[RV_FEAT_OP_MAX];
    size_t op_len;
    char sig[17];
    int mem_read; /* 1: op holds values read from device memory; -1: they were to be read and could not
                     be (op from the parameters alone); 0: the kernel's op does not depend on memory */
    uint64_t h_args; /* the signature's hash state after "name|...|args|" (for rv_features_op) */
} rv_feat_out;

/* Compute args, op and sig of one launch into out. Returns 0; -1 if in is unusable (no name). */
int rv_features(const rv_feat_in *in, rv_feat_out *out);

/* The op and sig of a launch whose args text is already known (h_args: its rv_feat_out's h_args): the
 * same op and sig as rv_features, without writing args again (a graph replay of a kernel whose op
 * depends on device memory). out->args is left as it was. Returns 0; -1 if in is unusable. */
int rv_features_op(const rv_feat_in *in, uint64_t h_args, rv_feat_out *out);

/* A per-thread memo of rv_features (cache.c): launches that repeat an earlier one once device pointers
 * are masked get its texts copied instead of formatted and hashed again. Not thread-safe: one per
 * thread. The output is byte for byte what rv_features writes. */
typedef struct rv_feat_cache rv_feat_cache;
rv_feat_cache *rv_feat_cache_new(void);
void rv_feat_cache_free(rv_feat_cache *c);
int rv_features_cached(rv_feat_cache *c, const rv_feat_in *in, rv_feat_out *out);

/* FNV-1a 64 of n bytes continuing from h (start with RV_FNV_OFFSET). */
#define RV_FNV_OFFSET 14695981039346656037ULL
uint64_t rv_fnv1a(uint64_t h, const void *data, size_t n);

/* The op object decoded from the kernel itself (flash-attention forward parameters, memory-efficient
 * and cuDNN SDPA attention structs), written to dst (room n); returns its length, 0 when the kernel is
 * not one revati decodes. Used by rv_features, before the library-call context: a kernel that says
 * its own shape is described the same on a real GPU and under the stand-in. mem_read (NULL: not
 * wanted) gets rv_feat_out's mem_read. */
size_t rv_feat_kernel_op(const rv_feat_in *in, char *dst, size_t n, int *mem_read);
/* The memory-efficient, cuDNN SDPA and FlashAttention-3 part of rv_feat_kernel_op (features/attn_params.c);
 * *mem_read as rv_feat_out's. */
size_t rv_feat_attn_params_op(const rv_feat_in *in, char *dst, size_t n, int *mem_read);

#endif
