/* revati predictor core: boosted trees walked natively (see trees.c). */
#ifndef REVATI_PREDICT_TREES_H
#define REVATI_PREDICT_TREES_H

typedef struct rv_trees rv_trees;

rv_trees *rv_trees_load(const char *file, char *err, int errlen);
void rv_trees_free(rv_trees *t);
/* base + the sum of one leaf per tree for a row of n features (NaN: missing). */
double rv_trees_predict(const rv_trees *t, const float *row, int n);

#endif
