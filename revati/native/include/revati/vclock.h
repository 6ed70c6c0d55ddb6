/* revati virtual clock: the host's virtual time, time jumps and overhead exclusion. */
#ifndef REVATI_VCLOCK_H
#define REVATI_VCLOCK_H

#include "revati/types.h"

/* Host virtual now: real host execution time (times REVATI_HOST_SPEED) minus revati's own time,
 * plus jumps. Inside an rv_enter/rv_leave bracket it stays at its entry value (plus jumps). */
RV_API rv_vtime_ns rv_vnow(void);
/* Time warp: if t is later than now, jump this process's clock to t and write a sync event (core/jump.c:
 * the clock moves in vclock.c, the trace records it, so that the clock does not depend on the trace).
 * A GPU sync: first the conservative hold if enabled (REVATI_HOLD=1), then only
 * this process moves; an idle waiter among the others adopts the jump when its wait ends, as it
 * adopts charges (docs/coordination.md). */
RV_API void rv_vadvance_to(rv_vtime_ns t, const char *why);
/* The same without the conservative hold (a wait that reached its own deadline). */
RV_API void rv_vadvance_unheld(rv_vtime_ns t, const char *why);
/* The hold rv_vadvance_to runs before a jump (hosttime/hold.c: rv_hold_until). */
RV_API void rv_set_jump_hold(void (*hold)(rv_vtime_ns t, const char *why));
/* Called after each jump of this process's own clock (hosttime/world.c wakes its sleeping threads). */
RV_API void rv_set_own_jump_hook(void (*fn)(void));
/* The same for the whole world: every process's clock moves by the jump (the wait engine, once no
 * thread of the world runs); then wake(t), if not NULL, wakes the waiters it made due, before the
 * jump's trace event is written (that formatting is off the hand-over's critical path). */
RV_API void rv_vadvance_world(rv_vtime_ns t, const char *why, void (*wake)(rv_vtime_ns t));
/* The jump alone, inside an rv_enter/rv_leave bracket: if t is later than now, move this process's
 * clock (rv_vjump_to) or the world clock (rv_vjump_world) to t, set *from to the time before, and
 * return 1; else return 0. */
RV_API int rv_vjump_to(rv_vtime_ns t, rv_vtime_ns *from);
RV_API int rv_vjump_world(rv_vtime_ns t, rv_vtime_ns *from);
/* rv_vjump_to for time that passed while the process was blocked (its own wait's deadline): adopted
 * time, not a charge (other processes do not adopt it) */
RV_API int rv_vjump_idle(rv_vtime_ns t, rv_vtime_ns *from);
/* This process's clock raised to t by its lead, quietly: no trace event, no wake-ups (the world's idle
 * jump to t, which woke whom it made due, already moved the process there from its published terms;
 * this makes up what those lagged by) */
RV_API void rv_vreach_floor(rv_vtime_ns t);
/* Charge modelled host time (e.g. the host cost of a driver call). Nothing is charged while the
 * thread is in revati's own work (rv_own_enter): a call revati's own code makes is not the program's. */
RV_API void rv_vcharge(rv_vdur_ns d);
/* revati's own work on this thread (the Python side's begin_own/end_own: an engine plugin's hooks, host
 * runs of kernels): a bracket, and inside it modelled costs (driver calls' host costs, clock reads'
 * charges) are not charged either. Pairs nest. */
RV_API void rv_own_enter(void);
RV_API void rv_own_leave(void);
/* Bracket every interposed entry point: the real time between them is revati's overhead. */
RV_API void rv_enter(void);
RV_API void rv_leave(void);
/* Real monotonic time in ns, never virtualised (for wall figures and overhead accounting). */
RV_API uint64_t rv_real_ns(void);
/* The value for a `wt_ns` field: real monotonic ns, or 0 in deterministic mode (REVATI_DETERMINISTIC=1),
 * where nothing measured may reach the trace. Use it, not rv_real_ns(), in emitted events. */
RV_API uint64_t rv_wall_ns(void);
/* Total real time excluded as overhead so far, in ns. */
RV_API uint64_t rv_overhead_ns(void);

#endif
