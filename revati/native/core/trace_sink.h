/* revati trace sink: the stream file mapped in windows, so that what is written survives any death of
 * the process (SIGKILL included: the pages belong to the file, not to the process). */
#ifndef REVATI_TRACE_SINK_H
#define REVATI_TRACE_SINK_H

#include <stddef.h>
#include <stdint.h>

/* Bytes kept free at the end of every window for the last line written when the disk is full. */
#define RV_SINK_RESERVE 512

typedef struct {
    int fd;
    char *map;        /* the current window, or NULL */
    size_t map_len;   /* its length */
    uint64_t map_off; /* the file offset it starts at (page aligned) */
    size_t pos;       /* bytes used in the window */
    int full;         /* the disk (or RLIMIT_FSIZE) refused more: nothing more is written */
    int err;          /* errno of the refusal */
} rv_sink;

/* Start writing fd (empty, opened O_RDWR) through a first window; 0, or -1 with errno. */
int rv_sink_open(rv_sink *s, int fd);
/* A pointer to at least n free bytes (not counting the reserve), moving to a new window if needed;
 * NULL when the file cannot grow (s->full is then set). The caller writes, then rv_sink_commit. */
char *rv_sink_room(rv_sink *s, size_t n, size_t *avail);
void rv_sink_commit(rv_sink *s, size_t n);
/* Write a line into the reserve of the current window (for the last line after the disk filled). */
void rv_sink_put_reserved(rv_sink *s, const char *line, size_t n);
/* Bytes written so far (the stream's true length). */
uint64_t rv_sink_length(const rv_sink *s);
/* Unmap, cut the file to its true length and close it. Safe in a signal handler. */
void rv_sink_close(rv_sink *s);
/* Drop the mapping and descriptor without touching the file (a fork child: the file is the parent's). */
void rv_sink_forget(rv_sink *s);

#endif
