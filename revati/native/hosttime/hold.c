/* revati conservative holds: before a process jumps its clock past t (a GPU sync) or observes that
 * nothing arrived by t (an fd poll with a zero timeout, or a timed fd wait that timed out), it waits,
 * in real time excluded from its own clock, until no other world process could still act before t.
 * A process could act before t when one of its threads runs while its clock is behind t, or when one
 * of its timed waits (a sleep, a poll timeout, another process's hold) ends before t. The hold is
 * registered in the waiter table with t as its deadline, so that the wait engine's idle jumps (world.c)
 * reach it in order. docs/coordination.md ("Conservative holds") gives the rule and the arguments for
 * causality and deadlock freedom. */
#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "revati/log.h"
#include "revati/runmode.h"
#include "revati/stall.h"
#include "revati/vclock.h"
#include "world_scan.h"

#define HOLD_SLICE_MIN_NS 20000ULL  /* first real slice between two looks at the others */
#define HOLD_SLICE_MAX_NS 2000000ULL /* slices double up to this (a jump of the world wakes a hold at once;
                                         the slice only bounds how late it sees a laggard pass t) */
#define LAGGARD_REUSE_NS 200000ULL   /* a "someone could act before t" found this recently by any thread of
                                         this process answers for every later target without a look */
#define DET_BACKSTOP_NS 2000000000ULL /* deterministic mode: a laggard that runs without charging time
                                         never passes t; give up after this much real time */

static int g_enabled = -1;

/* on unless REVATI_HOLD=0 (which shows what a run does without them) */
static int holds_enabled(void) { return rv_env_switch("REVATI_HOLD", &g_enabled); }

int rv_holds_enabled(void) { return holds_enabled(); }

typedef struct hold_scratch {
    rv_clock_cache clocks;
    waiter_set waiters;
} hold_scratch;

static __thread hold_scratch *t_scratch;

/* The last positive look of this process: at real time g_lag_real, a process could act before
 * g_lag_t. A positive answer holds for every later target too (the same laggard is behind it), so the
 * holds of a process's threads (vLLM's engine has six gloo loops and a dozen NCCL watchdogs, all held
 * at their timeouts) share one look per LAGGARD_REUSE_NS instead of each scanning /proc every slice:
 * those scans kept both cores busy, starving the processes the holds waited for. */
static _Atomic uint64_t g_lag_real;
static _Atomic rv_vtime_ns g_lag_t;

static int laggard_uncached(rv_world *w, rv_vtime_ns t, int events_rule);

/* What this thread's last look found before t (REVATI_LOG=info names it for a hold of 20 ms or more
 * of real time: which process kept it, and how) */
#define HOLD_EXPLAIN_NS 20000000ULL
enum { LAG_NONE, LAG_WAIT, LAG_HOLD, LAG_RUNS };
static __thread struct {
    int kind;
    int32_t pid, tid;
    rv_vtime_ns at; /* the laggard's deadline, hold target or clock */
} t_lag;

/* events_rule: a waiter doing its checks after an event of the world counts as running (the idle
 * test's rule, world.c); holds leave it out (below), the own advance of a blocked process keeps it:
 * such a waiter may be about to send (an I/O thread handed a message through an eventfd), and the
 * own advance, unlike a hold, does not wait for the real time its clock takes to the target. A
 * positive answer without the rule is one with it too, so the shared answer serves both; only answers
 * without it are shared. */
static int laggard_rule(rv_world *w, rv_vtime_ns t, int events_rule) {
    uint64_t now = rv_real_ns(), at = atomic_load_explicit(&g_lag_real, memory_order_acquire);
    if (at && now - at < LAGGARD_REUSE_NS && atomic_load_explicit(&g_lag_t, memory_order_relaxed) <= t) return 1;
    if (!laggard_uncached(w, t, events_rule)) return 0;
    if (!events_rule) {
        atomic_store_explicit(&g_lag_t, t, memory_order_relaxed);
        atomic_store_explicit(&g_lag_real, now, memory_order_release);
    }
    return 1;
}

static int laggard(rv_world *w, rv_vtime_ns t) { return laggard_rule(w, t, 0); }

static int laggard_uncached(rv_world *w, rv_vtime_ns t, int events_rule) {
    if (!t_scratch) t_scratch = malloc(sizeof *t_scratch);
    if (!t_scratch) return 0;
    int32_t me = (int32_t)rv_pid();
    /* who is behind t: cheap (published terms; a process without them reads as the reference clock);
     * only those are looked at further */
    int behind[RV_MAX_PROCS], nb = 0, others = 0;
    t_scratch->clocks.n = 0;
    for (int i = 0, hi_ = rv_procs_hi(w); i < hi_; ++i) {
        int32_t pid = atomic_load_explicit(&w->procs[i], memory_order_relaxed);
        if (!pid || pid == me) continue;
        others++;
        if (rv_clock_cache_get(&t_scratch->clocks, pid, 1) < t) behind[nb++] = i;
    }
    if (!others) return 0;
    /* a timed wait of another process that ends before t: that process runs again before t */
    waiter_set *ws = &t_scratch->waiters;
    rv_collect_waiters(w, ws);
    /* a waiter checking after an event is not a laggard for a hold: its checks do not advance its
     * clock, so a hold waiting on it waited for as long as the world's events kept coming (GIL signals,
     * gloo's traffic): SGLang's TP2 scheduler held for minutes after its warm-up request */
    ws->events_rule = events_rule;
    for (int k = 0; k < ws->n; ++k) {
        int32_t pid = ws->pid[k];
        if (pid <= 0 || pid == me || ws->deadline[k] == RV_VTIME_INVALID) continue;
        /* an inert timed wait (world.c): at its timeout its thread waits again, doing nothing */
        if (ws->inert[k] && ws->target[k] == RV_VTIME_INVALID) continue;
        int64_t d;
        if (ws->target[k] != RV_VTIME_INVALID) {
            /* another hold: it ends, and its process acts again, at its target itself. Holds are
             * ordered by their targets (a hold waits only for holds with earlier targets), which a
             * comparison through the holder's moving clock delta would not keep */
            d = (int64_t)ws->target[k];
        } else {
            /* the deadline on the owner's clock, as the owner published it. Before, it was taken from
             * the registration in reference terms plus the owner's clock delta now, which reads late
             * by whatever moved that delta since the registration (an own jump of the owner, its idle
             * lead) */
            d = (int64_t)ws->deadline[k];
        }
        if (d >= (int64_t)t) continue;
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task/%d", (int)pid, (int)ws->tid[k]);
        if (access(path, F_OK) == 0) {
            rv_debug("hold: waiter %d/%d ends at %lld, before %llu", (int)pid, (int)ws->tid[k], (long long)d,
                     (unsigned long long)t);
            t_lag.kind = ws->target[k] != RV_VTIME_INVALID ? LAG_HOLD : LAG_WAIT;
            t_lag.pid = pid;
            t_lag.tid = ws->tid[k];
            t_lag.at = (rv_vtime_ns)d;
            return 1; /* (a slot whose thread is gone: the engine reclaims it) */
        }
    }
    /* a process behind t with a running thread */
    for (int k = 0; k < nb; ++k) {
        int32_t pid = atomic_load_explicit(&w->procs[behind[k]], memory_order_relaxed);
        if (pid && pid != me && rv_proc_runs(w, behind[k], pid, ws)) {
            rv_debug("hold: process %d runs at %llu, before %llu", (int)pid,
                     (unsigned long long)rv_clock_cache_get(&t_scratch->clocks, pid, 1), (unsigned long long)t);
            t_lag.kind = LAG_RUNS;
            t_lag.pid = pid;
            t_lag.tid = rv_last_busy_tid();
            t_lag.at = rv_clock_cache_get(&t_scratch->clocks, pid, 1);
            return 1;
        }
    }
    return 0;
}

int rv_laggard_before(rv_vtime_ns t) {
    rv_enter();
    int r = laggard(rv_world_get(), t);
    rv_leave();
    return r;
}

int rv_laggard_before_strict(rv_vtime_ns t) {
    rv_enter();
    int r = laggard_rule(rv_world_get(), t, 1);
    rv_leave();
    return r;
}

/* Whether the world has a process besides this one (a hold is a no-op otherwise). */
static int world_has_others(rv_world *w) {
    int32_t me = (int32_t)rv_pid();
    for (int i = 0, hi_ = rv_procs_hi(w); i < hi_; ++i) {
        int32_t pid = atomic_load_explicit(&w->procs[i], memory_order_relaxed);
        if (pid && pid != me) return 1;
    }
    return 0;
}

/* ---- blocked time: excluded while no other thread of the process runs ----------------------- */

static _Atomic uint64_t g_excluded_upto; /* real ns up to which this process's blocked time is excluded */

void rv_blocked_begin(rv_blocked *b) {
    rv_stall_blocked_begin();
    rv_bracket_blocked();
    b->start = b->mark = rv_real_ns();
    b->idle_real = atomic_load_explicit(&rv_world_get()->idle_real, memory_order_relaxed);
    b->excluded = 0;
}

void rv_blocked_mark(rv_blocked *b) {
    uint64_t now = rv_real_ns();
    uint64_t idle = atomic_load_explicit(&rv_world_get()->idle_real, memory_order_relaxed);
    uint64_t idle_d = idle > b->idle_real ? idle - b->idle_real : 0;
    /* the stretch since the last mark counts as blocked when, seen now, no other thread of this
     * process runs (one clock per process: a running thread's time is the process's time) */
    if (now > b->mark && !rv_own_others_run()) {
        uint64_t upto = atomic_load(&g_excluded_upto), from = b->mark;
        for (;;) {
            if (upto >= now) {
                from = now; /* another blocked thread of this process excluded it already */
                break;
            }
            if (upto > from) from = upto;
            if (atomic_compare_exchange_weak(&g_excluded_upto, &upto, now)) break;
        }
        uint64_t part = now - from;
        /* the world's idle time is excluded from every clock already */
        part = part > idle_d ? part - idle_d : 0;
        /* excluded now, not when the wait ends: another thread of this process that reads the clock
         * later in the wait must not count it (pulled back below that reading at the end, the
         * process's clock stood still for as long: a serving benchmark's tokens came at one instant) */
        b->excluded += rv_exclude_own(part);
    }
    b->mark = now;
    b->idle_real = idle;
}

void rv_blocked_end(rv_blocked *b) {
    rv_blocked_mark(b);
    rv_stall_blocked_end();
    uint64_t span = b->mark > b->start ? b->mark - b->start : 0;
    /* inside a bracket, the rest ran beside other threads of this process (or was read by them): not
     * revati's time; this also ends the bracket's pause */
    rv_bracket_skip(span > b->excluded ? span - b->excluded : 0);
}

/* A long hold, named at info level: its real length, its target, and the last laggard this thread's
 * own looks found (a shared answer from another thread's look leaves it unnamed). */
static void explain_hold(uint64_t start, rv_vtime_ns v0, rv_vtime_ns t, const char *why, unsigned looks) {
    static const char *const kinds[] = {"none found by this thread (a shared answer)", "a timed wait ending at",
                                        "a hold to", "a running thread, its process's clock at"};
    char comm[32] = "?";
    if (t_lag.kind != LAG_NONE) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/task/%d/comm", (int)t_lag.pid, (int)t_lag.tid);
        rv_read_proc_line(path, comm, sizeof comm);
    }
    rv_info("hold (%s) of %.1f ms of real time, %u looks, from %.3f ms to %.3f ms: last laggard %s %.3f ms, "
            "process %d thread %d (%s)",
            why, (double)(rv_real_ns() - start) / 1e6, looks, (double)v0 / 1e6, (double)t / 1e6,
            kinds[t_lag.kind], (double)t_lag.at / 1e6, (int)t_lag.pid, (int)t_lag.tid, comm);
}

int rv_hold_until(rv_vtime_ns t, const char *why) {
    if (!holds_enabled()) return 0;
    rv_enter();
    rv_world *w = rv_world_get();
    if (!world_has_others(w) || !laggard(w, t)) {
        /* no wait: the look is counted as the caller's time, not excluded, so that a loop of
         * zero-timeout polls advances its clock (natively each poll costs time too); excluded, the
         * loop's clock would stand still while others wait for it to pass their holds */
        rv_leave_discard();
        return 0;
    }
    uint64_t start = rv_real_ns();
    rv_blocked blk;
    rv_blocked_begin(&blk);
    rv_vtime_ns v0 = rv_vnow_peek(); /* frozen in this bracket: only a jump of the world moves it */
    rv_wait wt;
    rv_hold_scope(1); /* the hold's own wait does not count in its thread's inert streak */
    rv_wait_begin(&wt, t, why); /* registered: the engine's idle jumps reach t in order */
    if (wt.slot >= 0) {
        atomic_store(&w->waiters[wt.slot].target, t);
        atomic_store(&w->waiters[wt.slot].hold, 1);
    }
    /* blocked until the world's futex moves (revati's own): nothing but a jump ends it */
    rv_wait_park(&wt, 0);
    rv_debug("hold at %llu (%s): another process could act before it", (unsigned long long)t, why);
    uint64_t slice = HOLD_SLICE_MIN_NS;
    unsigned looks = 0;
    t_lag.kind = LAG_NONE;
    for (;;) {
        looks++;
        if (wt.slot >= 0) atomic_store(&w->waiters[wt.slot].blocking, 1);
        struct timespec ts;
        rv_ns_to_ts(slice, &ts);
        uint32_t gen = atomic_load(&w->gen);
        rv_gen_wait(w, gen, &ts);
        if (wt.slot >= 0) atomic_store(&w->waiters[wt.slot].blocking, 0);
        rv_checks_spin(0);
        rv_blocked_mark(&blk);
        slice = slice * 2 > HOLD_SLICE_MAX_NS ? HOLD_SLICE_MAX_NS : slice * 2;
        /* an idle jump of the world (another waiter's engine) may have carried this clock to t */
        if ((t > v0 && rv_vnow_peek() >= t) || !laggard(w, t)) break;
        if (rv_deterministic() && rv_real_ns() - start > DET_BACKSTOP_NS) {
            static _Atomic int warned;
            if (!atomic_exchange(&warned, 1))
                rv_warn("deterministic mode: a hold (%s) gave up after %llu s of real time while another process "
                        "ran without charging time; virtual times may differ between runs",
                        why, (unsigned long long)(DET_BACKSTOP_NS / 1000000000ULL));
            break;
        }
    }
    rv_wait_end(&wt);
    rv_hold_scope(0);
    if (rv_real_ns() - start >= HOLD_EXPLAIN_NS && rv_log_enabled(RV_LOG_INFO)) explain_hold(start, v0, t, why, looks);
    /* this process was blocked in virtual time meanwhile: the hold's real time is not its time,
     * except while another of its threads ran (then the process ran; one clock per process, and two
     * threads holding at once must not both take their time off it) */
    rv_blocked_end(&blk);
    rv_leave();
    return 1;
}

static void hold_hook(rv_vtime_ns t, const char *why) { (void)rv_hold_until(t, why); }

__attribute__((constructor)) static void hold_load(void) { rv_set_jump_hold(hold_hook); }

// revati_advance_ns: jump this process's clock by ns as a GPU sync does, held (for tests and tools)
RV_EXPORT void revati_advance_ns(unsigned long long ns) {
    rv_enter();
    rv_vtime_ns t = rv_vnow() + ns;
    rv_vadvance_to(t, "revati_advance_ns");
    rv_leave();
}

// revati_charge_ns: charge ns of modelled host time to this process, as a driver call's host cost
// is charged: the clock moves on without a hold (for tests and tools)
RV_EXPORT void revati_charge_ns(unsigned long long ns) { rv_vcharge(ns); }
