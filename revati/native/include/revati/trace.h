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
/* A hot event's template kept by its caller (a graph node, written again at every replay): the
 * compact record's template id in the stream it was interned in, for the thread that wrote it. */
typedef struct rv_trace_tmpl {
    uint32_t id; /* 0: none kept */
    int tid;
    uint64_t gen;
} rv_trace_tmpl;
/* As rv_trace_emit; when the event is written as a compact record, c keeps its template (else c->id = 0). */
RV_API void rv_trace_emit_keep(rv_trace_tmpl *c, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Write the event whose template c keeps, with these values of ts_ns, end_ns, corr and the kind's
 * varying count x (0 for a kind without one): the record rv_trace_emit would write for the same body,
 * without formatting or parsing it. The caller vouches that every other field is what the kept body
 * held. 1: written; 0: c keeps no template usable now (none, another thread's, an earlier stream's,
 * or the stream writes JSON lines): the caller writes the event with rv_trace_emit_keep. */
RV_API int rv_trace_emit_kept(const rv_trace_tmpl *c, const char *kind, uint64_t ts, uint64_t end, uint64_t corr,
                              uint64_t x);
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
