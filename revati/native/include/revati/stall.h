/* revati host stalls: time a thread of the program waited for a core (its kernel run delay), which the
 * CPU host clock excludes from virtual time (core/stall.c, committed by core/vclock.c). */
#ifndef REVATI_STALL_H
#define REVATI_STALL_H

#include <stdint.h>

#include "revati/types.h"

/* The calling thread's run delay since its last reading, for a gap of host code of gap_ns that ends
 * now (at most gap_ns); 0 inside a wait (the slice's delay is kept: rv_stall_wait_end), or when the
 * kernel's figure cannot be read. Reads /proc/thread-self/schedstat (about 1 us). */
RV_API uint64_t rv_stall_gap(uint64_t gap_ns);
/* Take a new reading without counting the delay since the last one (it fell inside a bracket, whose
 * whole real time is excluded already). */
RV_API void rv_stall_rebase(void);
/* The wait engine's waits (rv_wait_begin .. rv_wait_end): the delays of a waiter's intermediate
 * slices are its own bookkeeping; only the last one, the wake that ends the wait, is host time lost
 * to load. rv_stall_wait_end returns it. */
RV_API void rv_stall_wait_begin(void);
RV_API uint64_t rv_stall_wait_end(void);
/* The calling thread leaves a bracket at start_real (its gap of host code begins), or enters one (0). */
RV_API void rv_stall_mark_gap(uint64_t start_real);
/* A waiter at its deadline: the stalls the process's other threads have accrued in their current gaps
 * of host code, not yet read by them (each is taken once: the thread's own next reading starts after
 * it); the largest of them (placed at the end of their gaps, now, their union is the largest), in
 * real ns. */
RV_API uint64_t rv_stall_take_others(uint64_t now_real);

/* vclock.c: the same around the wait engine's waits, committing the last wake's delay (called by
 * rv_wait_begin / rv_wait_end; never below the wait's deadline once reached); the stalls excluded so far (real ns, part of rv_overhead_ns); whether
 * the CPU host clock is on. */
RV_API void rv_stall_wait_enter(void);
RV_API void rv_stall_wait_leave(rv_vtime_ns deadline);
/* A waiter whose deadline came: exclude the stalls of the process's other threads in their current
 * gaps (rv_stall_take_others) now; whether any was. */
RV_API int rv_stall_commit_others(void);
/* vclock.c: around a stretch blocked for other processes (rv_blocked_begin / rv_blocked_end, hold.c),
 * whose real time rv_blocked excludes itself. Begin: outside a bracket, the stall of the host gap
 * that ends there is taken now (as rv_enter takes a gap's). End: the run delay accrued while blocked
 * (the wait for a core after the wake, a hold's slices) is dropped, not left to the next gap, where
 * it was excluded a second time (a collective's rendezvous at 4 ranks on 2 cores lost its host time:
 * docs/coordination.md, "A collective's virtual time"). */
RV_API void rv_stall_blocked_begin(void);
RV_API void rv_stall_blocked_end(void);
RV_API uint64_t rv_stall_ns(void);
RV_API int rv_host_clock_cpu(void);

#endif
