/* revati predictor core: XGBoost models through the C library that the xgboost wheel ships (dlopen'ed). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "xgb.h"

typedef uint64_t bst_ulong;
typedef int (*create_fn)(const void *const *dmats, bst_ulong len, void **out);
typedef int (*load_fn)(void *handle, const char *fname);
typedef int (*set_param_fn)(void *handle, const char *name, const char *value);
typedef int (*predict_dense_fn)(void *handle, const char *values, const char *config, void *m,
                                const bst_ulong **out_shape, bst_ulong *out_dim, const float **out_result);
typedef const char *(*last_error_fn)(void);

struct rv_xgb {
    void *dl;
    create_fn create;
    load_fn load;
    set_param_fn set_param;
    predict_dense_fn predict;
    last_error_fn last_error;
};

rv_xgb *rv_xgb_open(const char *lib, char *err, int errlen) {
    if (!lib || !*lib) {
        snprintf(err, (size_t)errlen, "no XGBoost library given (pip install 'revati[predict]' for xgboost)");
        return NULL;
    }
    void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        snprintf(err, (size_t)errlen, "cannot load %s: %s", lib, dlerror());
        return NULL;
    }
    rv_xgb *x = calloc(1, sizeof *x);
    x->dl = dl;
    x->create = (create_fn)dlsym(dl, "XGBoosterCreate");
    x->load = (load_fn)dlsym(dl, "XGBoosterLoadModel");
    x->set_param = (set_param_fn)dlsym(dl, "XGBoosterSetParam");
    x->predict = (predict_dense_fn)dlsym(dl, "XGBoosterPredictFromDense");
    x->last_error = (last_error_fn)dlsym(dl, "XGBGetLastError");
    if (!x->create || !x->load || !x->set_param || !x->predict || !x->last_error) {
        snprintf(err, (size_t)errlen, "%s lacks the XGBoost C API (XGBoosterPredictFromDense)", lib);
        free(x);
        return NULL;
    }
    return x;
}

void *rv_xgb_load(rv_xgb *x, const char *file, char *err, int errlen) {
    void *h = NULL;
    if (x->create(NULL, 0, &h) != 0 || x->load(h, file) != 0) {
        snprintf(err, (size_t)errlen, "XGBoost cannot load %s: %s", file, x->last_error());
        return NULL;
    }
    /* one thread: the caller is a launch path inside someone else's process */
    x->set_param(h, "nthread", "1");
    return h;
}

int rv_xgb_predict(rv_xgb *x, void *booster, const float *row, int n, double *out) {
    char values[256];
    snprintf(values, sizeof values,
             "{\"data\":[%llu,true],\"shape\":[1,%d],\"typestr\":\"<f4\",\"version\":3}",
             (unsigned long long)(uintptr_t)row, n);
    static const char config[] =
        "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,\"strict_shape\":false,"
        "\"missing\":NaN}";
    const bst_ulong *shape;
    bst_ulong dim;
    const float *res;
    if (x->predict(booster, values, config, NULL, &shape, &dim, &res) != 0) return -1;
    *out = res[0];
    return 0;
}

const char *rv_xgb_error(rv_xgb *x) { return x->last_error(); }
