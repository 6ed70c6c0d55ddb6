/* revati library-call context: short names for CUDA data types, cuBLAS compute types and epilogues. */
#include "cublas_abi.h"
#include "libcalls.h"
#include "names.h"

const char *rv_cuda_dtype_name(int t) {
    switch (t) {
    case DT_R_16F: return "f16";
    case DT_R_16BF: return "bf16";
    case DT_R_32F: return "f32";
    case DT_R_64F: return "f64";
    case DT_R_8I: return "i8";
    case DT_R_8U: return "u8";
    case DT_R_32I: return "i32";
    case DT_R_8F_E4M3: return "fp8e4m3";
    case DT_R_8F_E5M2: return "fp8e5m2";
    case DT_R_8F_UE8M0: return "fp8ue8m0";
    case DT_R_4F_E2M1: return "fp4e2m1";
    case DT_C_32F: return "c32";
    case DT_C_64F: return "c64";
    case DT_C_16F: return "c16";
    default: return "other";
    }
}

/* cublasComputeType_t */
const char *rv_compute_name(int t) {
    switch (t) {
    case 64: return "f16";
    case 65: return "f16_pedantic";
    case 68: return "f32";
    case 69: return "f32_pedantic";
    case 74: return "f32_fast_f16";
    case 75: return "f32_fast_bf16";
    case 77: return "f32_fast_tf32";
    case 70: return "f64";
    case 71: return "f64_pedantic";
    case 72: return "i32";
    case 73: return "i32_pedantic";
    default: return "other";
    }
}

/* cublasOperation_t */
const char *rv_trans_name(int op) {
    switch (op) {
    case 0: return "n";
    case 1: return "t";
    case 2: return "c";
    default: return "other";
    }
}

/* cublasLtEpilogue_t: RELU 2, BIAS 4, GELU 32, AUX 128 (flags), DRELU 8|128, DGELU 64|128, BGRAD 16 */
const char *rv_epilogue_name(unsigned e) {
    switch (e) {
    case 1: return "default";
    case 2: return "relu";
    case 2 | 128: return "relu_aux";
    case 4: return "bias";
    case 2 | 4: return "relu_bias";
    case 2 | 128 | 4: return "relu_aux_bias";
    case 32: return "gelu";
    case 32 | 128: return "gelu_aux";
    case 32 | 4: return "gelu_bias";
    case 32 | 128 | 4: return "gelu_aux_bias";
    case 8 | 128: return "drelu";
    case 8 | 128 | 16: return "drelu_bgrad";
    case 64 | 128: return "dgelu";
    case 64 | 128 | 16: return "dgelu_bgrad";
    case 256: return "bgrada";
    case 512: return "bgradb";
    default: return "other";
    }
}
