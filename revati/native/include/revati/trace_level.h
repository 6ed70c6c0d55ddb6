/* revati trace levels (trace_level.c): which calls are pure queries, and their counts. */
#ifndef REVATI_TRACE_LEVEL_H
#define REVATI_TRACE_LEVEL_H

#include <stddef.h>

#include "revati/types.h"

/* 1 when REVATI_TRACE_LEVEL=verbose: every call is written. */
RV_API int rv_trace_verbose(void);
/* Whether the call `name` (a string literal) only reads state; cached per name pointer. */
RV_API int rv_is_query(const char *name);
/* Count one call of a query on this thread (trace.c: written at counts 1, 2, 4, ... and in the end
 * line's "queries", keyed "name@tid"). */
RV_API void rv_count_query(const char *name);

#endif
