/* revati predictor core: gradient-boosted trees walked natively (the trees of an XGBoost model).
 *
 * libxgboost's single-row prediction costs about 2 ms per call here (its per-call setup dominates;
 * docs/benchmarks.md), far above the 50 us budget of an uncached launch. `revati train` therefore
 * also writes each booster's trees as text (xgb-<family>.trees) and the driver walks them: the same
 * sums XGBoost computes (tests compare both), in about a microsecond. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trees.h"

typedef struct tnode {
    int left, right, feat, dflt_left; /* left < 0: a leaf */
    float thr;                        /* split threshold, or the leaf value */
} tnode;

struct rv_trees {
    double base;
    int ntrees;
    tnode **nodes;
};

/* Format: "base B", "trees N", then per tree "t NODES" and NODES lines "left right feat thr dflt". */
rv_trees *rv_trees_load(const char *file, char *err, int errlen) {
    FILE *f = fopen(file, "r");
    if (!f) {
        snprintf(err, (size_t)errlen, "%s cannot be read", file);
        return NULL;
    }
    rv_trees *t = calloc(1, sizeof *t);
    if (fscanf(f, "base %lf\ntrees %d\n", &t->base, &t->ntrees) != 2 || t->ntrees < 0 || t->ntrees > 100000)
        goto bad;
    t->nodes = calloc((size_t)t->ntrees, sizeof *t->nodes);
    for (int i = 0; i < t->ntrees; ++i) {
        int n;
        if (fscanf(f, "t %d\n", &n) != 1 || n < 1 || n > 1 << 20) goto bad;
        tnode *nd = t->nodes[i] = calloc((size_t)n, sizeof *nd);
        for (int j = 0; j < n; ++j) {
            if (fscanf(f, "%d %d %d %f %d\n", &nd[j].left, &nd[j].right, &nd[j].feat, &nd[j].thr, &nd[j].dflt_left) != 5)
                goto bad;
            if (nd[j].left >= n || nd[j].right >= n || (nd[j].left >= 0 && (nd[j].feat < 0 || nd[j].right < 0)))
                goto bad;
        }
    }
    fclose(f);
    return t;
bad:
    snprintf(err, (size_t)errlen, "%s: malformed tree file (retrain with revati train)", file);
    fclose(f);
    rv_trees_free(t);
    return NULL;
}

void rv_trees_free(rv_trees *t) {
    if (!t) return;
    for (int i = 0; i < t->ntrees && t->nodes; ++i) free(t->nodes[i]);
    free(t->nodes);
    free(t);
}

double rv_trees_predict(const rv_trees *t, const float *row, int n) {
    /* summed in float, as XGBoost sums a row's leaves: a double sum drifts from its predictions by up
     * to ~1e-5 relative when the margin is large (log2 of a duration in ns, ~30) */
    float sum = (float)t->base;
    for (int i = 0; i < t->ntrees; ++i) {
        const tnode *nd = t->nodes[i];
        int j = 0;
        for (int guard = 0; nd[j].left >= 0 && guard < 1 << 20; ++guard) {
            float x = nd[j].feat < n ? row[nd[j].feat] : NAN;
            /* XGBoost's rule: missing goes the default way, else x < threshold goes left */
            j = isnan(x) ? (nd[j].dflt_left ? nd[j].left : nd[j].right) : x < nd[j].thr ? nd[j].left : nd[j].right;
        }
        sum += nd[j].thr;
    }
    return sum;
}
