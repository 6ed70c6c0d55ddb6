/* revati NCCL interposer: the communication model. A collective over n ranks on the profile's
 * interconnect (nvlink_bw_gbs per GPU and direction, of which nccl_bw_eff is achieved; one step costs
 * nvlink_latency_ns): ring and, for all-reduce, tree, whichever is faster, as NCCL chooses.
 * docs/coordination.md has the table. */
#include <string.h>

#include "rendezvous.h"
#include "revati/devconf.h"

static unsigned ceil_log2(int n) {
    unsigned k = 0;
    while ((1 << k) < n) ++k;
    return k;
}

uint64_t rv_coll_model_ns(const char *op, uint64_t bytes, int n, const char **algo) {
    const rv_devconf *c = rv_devconf_get();
    double eff = c->nccl_bw_eff > 0 ? c->nccl_bw_eff : 1.0;
    double bw = c->nvlink_bw_gbs * eff; /* GB/s = bytes per ns */
    double lat = (double)c->nvlink_latency_ns;
    if (n <= 1 || bw <= 0) {
        *algo = "local";
        return 0;
    }
    double b = (double)bytes, t;
    if (!strcmp(op, "allreduce")) {
        double ring = 2.0 * (n - 1) / n * b / bw + 2.0 * (n - 1) * lat;
        double tree = 2.0 * b / bw + 2.0 * ceil_log2(n) * lat;
        *algo = tree < ring ? "tree" : "ring";
        t = tree < ring ? tree : ring;
    } else if (!strcmp(op, "allgather") || !strcmp(op, "reducescatter") || !strcmp(op, "alltoall") ||
               !strcmp(op, "gather")) {
        *algo = "ring";
        t = (double)(n - 1) / n * b / bw + (n - 1) * lat;
    } else if (!strcmp(op, "broadcast") || !strcmp(op, "reduce")) {
        *algo = "ring";
        t = b / bw + (n - 1) * lat;
    } else { /* send / recv */
        *algo = "p2p";
        t = b / bw + lat;
    }
    return (uint64_t)(t + 0.5);
}
