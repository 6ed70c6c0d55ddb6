/* revati library-call context: names of cuBLAS enums (names.c). */
#ifndef REVATI_LIBCALLS_NAMES_H
#define REVATI_LIBCALLS_NAMES_H

const char *rv_compute_name(int cublas_compute_type);
const char *rv_trans_name(int cublas_operation);
const char *rv_epilogue_name(unsigned cublaslt_epilogue);

#endif
