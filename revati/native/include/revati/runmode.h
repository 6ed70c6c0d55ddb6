/* revati run mode: how this run runs (deterministic or measured) and who is calling (thread id). */
#ifndef REVATI_RUNMODE_H
#define REVATI_RUNMODE_H

#include "revati/types.h"

/* Whether the run is deterministic (REVATI_DETERMINISTIC=1): read once. */
RV_API int rv_deterministic(void);
/* A protocol switch that is on unless its environment variable starts with '0' (REVATI_HOLD,
 * REVATI_FAST_ADVANCE, REVATI_OWN_ADVANCE): read once into *cache, which starts at -1. */
RV_API int rv_env_switch(const char *name, int *cache);
/* Current thread id (gettid), cached per thread and reset in a fork child. */
RV_API int rv_tid(void);
/* Current process id, cached at load and in a fork child (a vfork child, which shares the parent's
 * memory until its exec, reads the parent's: the wait engine uses it, which such a child does not run). */
RV_API int rv_pid(void);

#endif
