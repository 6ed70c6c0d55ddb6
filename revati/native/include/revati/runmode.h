/* revati run mode: how this run runs (deterministic or measured) and who is calling (thread id). */
#ifndef REVATI_RUNMODE_H
#define REVATI_RUNMODE_H

#include "revati/types.h"

/* Whether the run is deterministic (REVATI_DETERMINISTIC=1): read once. */
RV_API int rv_deterministic(void);
/* Current thread id (gettid), cached per thread and reset in a fork child. */
RV_API int rv_tid(void);
/* Current process id, cached at load and in a fork child (a vfork child, which shares the parent's
 * memory until its exec, reads the parent's: the wait engine uses it, which such a child does not run). */
RV_API int rv_pid(void);

#endif
