/* revati host markers: the Python side (revati.markers) calls revati_mark through ctypes. */
#include <stdio.h>

#include "revati/trace.h"
#include "revati/vclock.h"

// revati_mark: a host marker at the current virtual time; args_json is a JSON object or NULL
RV_EXPORT void revati_mark(const char *name, const char *args_json) {
    rv_enter();
    char esc[512];
    rv_trace_emit("marker", "\"name\":\"%s\",\"ts_ns\":%llu,\"wt_ns\":%llu,\"args\":%s",
                  rv_json_escape(esc, sizeof esc, name), (unsigned long long)rv_vnow(),
                  (unsigned long long)rv_wall_ns(), args_json && *args_json ? args_json : "{}");
    rv_leave();
}

// revati_vnow_ns: the host's virtual time, for Python code that wants it without a libc clock
RV_EXPORT unsigned long long revati_vnow_ns(void) { return (unsigned long long)rv_vnow(); }

// revati_own_begin: from here to revati_own_end, this thread's real time is revati's own (excluded
// from virtual time, as any interposed call's), and the modelled costs of what it calls (driver
// calls' host costs, clock reads) are not charged; for Python-side bookkeeping such as the vLLM
// plugin's hooks. Pairs nest.
RV_EXPORT void revati_own_begin(void) { rv_own_enter(); }

// revati_own_end: closes revati_own_begin
RV_EXPORT void revati_own_end(void) { rv_own_leave(); }
