/* revati run mode: how this run runs (deterministic or measured) and who is calling (thread id). */
#ifndef REVATI_RUNMODE_H
#define REVATI_RUNMODE_H

#include "revati/types.h"

/* Whether the run is deterministic (REVATI_DETERMINISTIC=1): read once. */
RV_API int rv_deterministic(void);
/* Current thread id (gettid), cached per thread and reset in a fork child. */
RV_API int rv_tid(void);

#endif
