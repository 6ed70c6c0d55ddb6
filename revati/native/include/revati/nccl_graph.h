/* revati: NCCL operations captured into CUDA graphs, met again at each replay. The NCCL interposer
 * (librevati.so, native/nccl/graph_ops.c) keeps each captured operation with the kernel node NCCL
 * captured for it (the driver's gnode.coll list); the driver's cuGraphLaunch calls these when its
 * replay reaches such a node. docs/coordination.md, "Collectives in CUDA graphs". */
#ifndef REVATI_NCCL_GRAPH_H
#define REVATI_NCCL_GRAPH_H

#include <stdint.h>

#include "revati/types.h"

/* Publish, for each operation in the node's list `coll`, this rank's arrival at virtual time
 * `arrival` on device dev, trace stream `track`; a state for rv_nccl_replay_wait, or NULL when no
 * operation is to be met (communicator gone). Call inside revati's bracket. */
RV_API void *rv_nccl_replay_publish(void *coll, int dev, unsigned long long track, uint64_t arrival);
/* Wait for every rank of those operations (a real wait: call outside revati's bracket), write their
 * collective events, free the state; the latest end. */
RV_API uint64_t rv_nccl_replay_wait(void *state);

#endif
