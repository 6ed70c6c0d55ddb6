/* revati time warp: jump the world clock (vclock.c) and record the jump as a `sync` event (trace.c). */
#include "revati/trace.h"
#include "revati/vclock.h"

static void advance(rv_vtime_ns t, const char *why, int world) {
    rv_enter();
    rv_vtime_ns from;
    if (world ? rv_vjump_world(t, &from) : rv_vjump_to(t, &from))
        rv_trace_emit("sync", "\"why\":\"%s\",\"ts_ns\":%llu,\"end_ns\":%llu,\"wt_ns\":%llu", why ? why : "?",
                      (unsigned long long)from, (unsigned long long)t, (unsigned long long)rv_wall_ns());
    rv_leave();
}

// rv_vadvance_to: this process jumps; written as {"k":"sync","why",...,"ts_ns":from,"end_ns":to}
void rv_vadvance_to(rv_vtime_ns t, const char *why) { advance(t, why, 0); }

// rv_vadvance_world: the world jumps (every process's clock); written the same way
void rv_vadvance_world(rv_vtime_ns t, const char *why) { advance(t, why, 1); }
