/* revati time warp: jump the world clock (vclock.c) and record the jump as a `sync` event (trace.c). */
#include <stdatomic.h>

#include "revati/trace.h"
#include "revati/vclock.h"

/* The conservative hold a process's own jump waits for (hosttime/hold.c installs it). */
static void (*_Atomic g_hold)(rv_vtime_ns, const char *);

void rv_set_jump_hold(void (*hold)(rv_vtime_ns t, const char *why)) { atomic_store(&g_hold, hold); }

enum { OWN_CHARGED, OWN_IDLE, WORLD };

static void advance(rv_vtime_ns t, const char *why, int kind, int hold, void (*then)(rv_vtime_ns)) {
    rv_enter();
    if (hold) {
        void (*h)(rv_vtime_ns, const char *) = atomic_load(&g_hold);
        if (h && t != RV_VTIME_INVALID && t > rv_vnow()) h(t, why ? why : "?");
    }
    rv_vtime_ns from;
    int moved = kind == WORLD ? rv_vjump_world(t, &from) : kind == OWN_IDLE ? rv_vjump_idle(t, &from) : rv_vjump_to(t, &from);
    if (then) then(t); /* the wake-ups first: the trace event is written while the woken run */
    if (moved)
        rv_trace_emit("sync", "\"why\":\"%s\",\"ts_ns\":%llu,\"end_ns\":%llu,\"wt_ns\":%llu", why ? why : "?",
                      (unsigned long long)from, (unsigned long long)t, (unsigned long long)rv_wall_ns());
    rv_leave();
}

// rv_vadvance_to: this process jumps, once no other process could still act before t (the hold);
// written as {"k":"sync","why",...,"ts_ns":from,"end_ns":to}
void rv_vadvance_to(rv_vtime_ns t, const char *why) { advance(t, why, OWN_CHARGED, 1, NULL); }

// rv_vadvance_unheld: this process jumps at once (a wait that reached its own deadline: idle time,
// adopted rather than charged)
void rv_vadvance_unheld(rv_vtime_ns t, const char *why) { advance(t, why, OWN_IDLE, 0, NULL); }

// rv_vadvance_world: the world jumps (every process's clock), then wake(t) wakes whom it made due
// (before the event is written: the critical path of a hand-over); written the same way
void rv_vadvance_world(rv_vtime_ns t, const char *why, void (*wake)(rv_vtime_ns)) { advance(t, why, WORLD, 0, wake); }
