/* revati predictor core: the slice of the XGBoost C API that evaluation needs (see xgb.c). */
#ifndef REVATI_PREDICT_XGB_H
#define REVATI_PREDICT_XGB_H

#include <stdint.h>

typedef struct rv_xgb rv_xgb;

/* dlopen libxgboost.so and resolve the calls; NULL and a one-line reason on failure. */
rv_xgb *rv_xgb_open(const char *lib, char *err, int errlen);
/* Load a model file (XGBoost JSON/UBJSON); returns the booster or NULL. */
void *rv_xgb_load(rv_xgb *x, const char *file, char *err, int errlen);
/* Predict one row of n float features; 0 on success. */
int rv_xgb_predict(rv_xgb *x, void *booster, const float *row, int n, double *out);
const char *rv_xgb_error(rv_xgb *x);

#endif
