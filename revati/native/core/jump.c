/* revati time warp: jump the world clock (vclock.c) and record the jump as a `sync` event (trace.c). */
#include "revati/trace.h"
#include "revati/vclock.h"

// rv_vadvance_to: a jump to a later instant is written as {"k":"sync","why",...,"ts_ns":from,"end_ns":to}
void rv_vadvance_to(rv_vtime_ns t, const char *why) {
    rv_enter();
    rv_vtime_ns from;
    if (rv_vjump_to(t, &from))
        rv_trace_emit("sync", "\"why\":\"%s\",\"ts_ns\":%llu,\"end_ns\":%llu,\"wt_ns\":%llu", why ? why : "?",
                      (unsigned long long)from, (unsigned long long)t, (unsigned long long)rv_wall_ns());
    rv_leave();
}
