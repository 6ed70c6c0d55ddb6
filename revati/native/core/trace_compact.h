/* revati compact trace records: the hot event kinds (api, kernel, memcpy, memset, sync, collective,
 * graph) as a template (the event's line with its varying numbers set to 0, written once as a `tmpl`
 * line of the JSON stream) plus one record of six varints per event in proc-<id>.bin (see
 * docs/trace-format.md, "Compact records"). Internal to the writer (trace.c); called under its lock. */
#ifndef REVATI_TRACE_COMPACT_H
#define REVATI_TRACE_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "trace_sink.h"

/* The kind's lane (0..6), or -1 for a kind written as a JSON line. */
int rv_compact_lane(const char *kind);
/* Whether compact records are written (REVATI_TRACE_FORMAT is not `jsonl`). */
int rv_compact_enabled(void);

/* Writes a complete line (the template line) into the JSON stream; 0 on success. */
typedef int (*rv_put_line_fn)(const char *line, size_t n);

/* Write the event (lane, thread tid, body = the fields after "tid":T, as the JSON line would hold
 * them) as a record into bin. 1: written (its template's id in *tmpl_id when not NULL); 0: not
 * written (a body the template cannot hold: not flat, or over the arena), so the caller writes the
 * JSON line; -1: a sink could not grow. A full template table forgets its templates and goes on. */
int rv_compact_put(rv_sink *bin, int lane, int tid, const char *body, size_t n, rv_put_line_fn put_line,
                   uint32_t *tmpl_id);
/* Write a record of template id (interned by rv_compact_put in this stream, for this lane and the
 * calling thread) with these values: the bytes rv_compact_put writes for the same event, without
 * formatting or parsing its body. 1: written; 0: id is not a template of this stream; -1: full. */
int rv_compact_put_id(rv_sink *bin, int lane, uint32_t id, uint64_t ts, uint64_t end, uint64_t corr, uint64_t wt,
                      uint64_t x);
/* The stream's generation: changes at every reset (template ids kept from before are void). */
uint64_t rv_compact_gen(void);

/* Start a new stream's records (writes the file magic into bin); 0, or -1 when bin is full. */
int rv_compact_start(rv_sink *bin);
/* Forget every template and delta (a forked child starts its own stream). */
void rv_compact_reset(void);

#endif
