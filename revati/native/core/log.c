/* revati native logging and fatal errors. */
#include "revati/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "revati/runmode.h"

static int g_level = -1;

static int read_level(void) {
    const char *s = getenv("REVATI_LOG");
    if (!s || !*s) return RV_LOG_WARN;
    if (!strcmp(s, "error")) return RV_LOG_ERROR;
    if (!strcmp(s, "warn") || !strcmp(s, "warning")) return RV_LOG_WARN;
    if (!strcmp(s, "info")) return RV_LOG_INFO;
    if (!strcmp(s, "debug")) return RV_LOG_DEBUG;
    return RV_LOG_WARN;
}

int rv_log_enabled(int level) {
    if (g_level < 0) g_level = read_level();
    return level <= g_level;
}

static const char *level_name(int level) {
    switch (level) {
    case RV_LOG_ERROR: return "error";
    case RV_LOG_WARN: return "warning";
    case RV_LOG_INFO: return "info";
    default: return "debug";
    }
}

static const char *basename_of(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

void rv_log_at(int level, const char *file, int line, const char *fmt, ...) {
    if (!rv_log_enabled(level)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* one write() per line so lines of several processes do not interleave */
    char buf[1200];
    int n = snprintf(buf, sizeof buf, "[revati %d:%d %s:%d] %s: %s\n", (int)getpid(), rv_tid(),
                     basename_of(file), line, level_name(level), msg);
    if (n > (int)sizeof buf) n = sizeof buf;
    if (write(2, buf, (size_t)n) < 0) { /* nothing left to report to */ }
}

static void (*g_fatal_sink)(const char *msg);

void rv_set_fatal_sink(void (*sink)(const char *msg)) { g_fatal_sink = sink; }

void rv_fatal_at(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char buf[1200];
    int n = snprintf(buf, sizeof buf, "[revati %d:%d %s:%d] fatal: %s\n", (int)getpid(), rv_tid(),
                     basename_of(file), line, msg);
    if (n > (int)sizeof buf) n = sizeof buf;
    if (write(2, buf, (size_t)n) < 0) { /* nothing left to report to */ }
    if (g_fatal_sink) g_fatal_sink(msg);
    _exit(86);
}
