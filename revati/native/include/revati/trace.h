/* revati trace writer: one JSON Lines stream per process (see docs/trace-format.md). */
#ifndef REVATI_TRACE_H
#define REVATI_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "revati/runmode.h" /* rv_tid and rv_deterministic, which every writer of events uses */
#include "revati/types.h"

/* Write {"k":"<kind>","seq":N,"tid":T,<fields>}\n; fmt expands to the remaining fields (no braces,
 * no leading comma). Thread-safe; a no-op when REVATI_RUN_DIR is unset. */
RV_API void rv_trace_emit(const char *kind, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Escape src as the inside of a JSON string into dst (always NUL-terminated, truncated to n). */
RV_API const char *rv_json_escape(char *dst, size_t n, const char *src);
/* Whether a trace is being written (REVATI_RUN_DIR set). */
RV_API int rv_trace_enabled(void);
/* This process's stream number: proc-<n>.jsonl (the order of appearance in deterministic mode, else
 * the pid); opens the stream if needed; -1 when no trace is written. */
RV_API int rv_trace_proc_id(void);
/* Next correlation id (process-wide, from 1). */
RV_API uint64_t rv_next_corr(void);
/* Count a call the stand-in does not implement: warn once per name; counts go to the end line. */
RV_API void rv_unimplemented(const char *name);
/* Count a kernel launch that the duration table lacked (written to the end line as "missing"). */
RV_API void rv_count_missing(const char *kernel_name);
/* Flush buffered lines to the file (the writer also flushes when its buffer fills and at exit). */
RV_API void rv_trace_flush(void);
/* Write the end line, flush and rename the stream to its final name (called at exit). */
RV_API void rv_trace_close(void);
/* The thread id events of this thread carry (the OS tid, or an ordinal in deterministic runs). */
RV_API int rv_trace_thread(void);

#endif
