/* librevati_nccl.so: no code of its own. Its dependencies, in order, are librevati.so (revati's NCCL
 * wrappers) and libnccl.so.2 (the real NCCL), so a lookup through its handle finds a wrapper before
 * NCCL's own definition. nccl/dlopen.c hands its handle to programs that dlopen NCCL. */

// revati_nccl_shim: marks the shim (a lookup through a dlopen'ed NCCL handle finds it: tests)
__attribute__((visibility("default"))) int revati_nccl_shim(void) { return 1; }
