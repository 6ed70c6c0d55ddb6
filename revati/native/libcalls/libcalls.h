/* revati library-call context: which public library call (cuBLASLt, cuBLAS, cuDNN, NCCL) is launching
 * kernels on this thread, as a JSON object the launch path copies into each kernel's `op` field.
 *
 * librevati_libcalls.so is preloaded into an emulated run (revati/launch/env.py) and into a profiled
 * run on a real GPU. Each interposed entry point describes its call, pushes the description, calls the
 * real library (found with dlsym RTLD_NEXT, or in the already loaded library by soname), and pops.
 * Nested calls (cuBLAS calling cuBLASLt) keep the outermost description: the call the program made.
 * The describing work is the emulator's own: under revati it is bracketed by rv_enter/rv_leave so it
 * never reaches virtual time; the real library call is not.
 */
#ifndef REVATI_LIBCALLS_H
#define REVATI_LIBCALLS_H

#include <stddef.h>
#include <stdint.h>

#include "revati/features.h"

#define RV_EXPORT __attribute__((visibility("default")))

/* The accessor the driver (and the profile shim) finds with dlsym: this thread's current op object,
 * or NULL outside any interposed library call. */
RV_EXPORT const char *revati_op_context(void);

/* One saved context: what push replaced, restored by pop. */
typedef struct rv_opctx_saved {
    char text[RV_FEAT_OP_MAX];
    size_t len;
} rv_opctx_saved;

/* Make json (len bytes, an object) the current context; the previous one goes to *saved. */
void rv_opctx_push(const char *json, size_t len, rv_opctx_saved *saved);
void rv_opctx_pop(const rv_opctx_saved *saved);

/* Brackets for the describing work (no-ops without librevati.so). */
void rv_libcalls_enter(void);
void rv_libcalls_leave(void);

/* The real entry point `name`, from the next library in the search order or from a loaded library of
 * one of the sonames (NULL-terminated list); NULL (and one error line) when neither has it. */
void *rv_real_symbol(const char *name, const char *const *sonames);

/* A bounded JSON object writer (snprintf-based: it runs once per library call, not per launch). */
typedef struct rv_obj {
    char buf[RV_FEAT_OP_MAX];
    size_t len;
    int full;
} rv_obj;
void rv_obj_begin(rv_obj *o, const char *lib, const char *op);
void rv_obj_int(rv_obj *o, const char *key, long long v);
void rv_obj_str(rv_obj *o, const char *key, const char *v);
/* Close the object; returns its length (0 when it did not fit). */
size_t rv_obj_end(rv_obj *o);

/* CUDA data type names shared by cuBLAS, cuBLASLt and cuDNN descriptions ("bf16", "f32", ...). */
const char *rv_cuda_dtype_name(int cuda_data_type);

#endif
