/* revati fatal errors reach the trace: the sink that rv_fatal() calls, above log.c and trace.c. */
#include "revati/log.h"
#include "revati/trace.h"

// the fatal sink: a `fatal` event with the message, then the stream is closed (before _exit)
static void trace_fatal(const char *msg) {
    char esc[1100];
    rv_trace_emit("fatal", "\"msg\":\"%s\"", rv_json_escape(esc, sizeof esc, msg));
    rv_trace_close();
}

/* Installed when librevati.so loads. log.c, below the clock and the trace writer, cannot call the
 * writer itself without a loop (writer -> clock -> log -> writer); it calls this sink instead. */
__attribute__((constructor)) static void install_fatal_sink(void) { rv_set_fatal_sink(trace_fatal); }
