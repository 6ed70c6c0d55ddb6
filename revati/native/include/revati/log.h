/* revati native logging: level from REVATI_LOG (error|warn|info|debug), read once. */
#ifndef REVATI_LOG_H
#define REVATI_LOG_H

#include "revati/types.h"

enum rv_log_level { RV_LOG_ERROR = 0, RV_LOG_WARN = 1, RV_LOG_INFO = 2, RV_LOG_DEBUG = 3 };

RV_API int rv_log_enabled(int level);
RV_API void rv_log_at(int level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* One line to stderr and to the trace, then _exit(86): the supervisor reports it, never hangs. */
RV_API void rv_fatal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
/* Where rv_fatal_at sends the message before exiting: core/fatal.c installs the trace writer's
 * `fatal` event at load (log.c sits below the writer, so it calls it through this pointer). */
RV_API void rv_set_fatal_sink(void (*sink)(const char *msg));

#define rv_error(...) rv_log_at(RV_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define rv_warn(...) rv_log_at(RV_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define rv_info(...) rv_log_at(RV_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define rv_debug(...)                                                                             \
    do {                                                                                          \
        if (rv_log_enabled(RV_LOG_DEBUG)) rv_log_at(RV_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__); \
    } while (0)
#define rv_fatal(...) rv_fatal_at(__FILE__, __LINE__, __VA_ARGS__)

#endif
