/* The wait engine's view of the world (world.c), shared with the conservative hold (hold.c): the
 * registered waiters, and whether a world process has a running thread. */
#ifndef REVATI_HOSTTIME_WORLD_SCAN_H
#define REVATI_HOSTTIME_WORLD_SCAN_H

#include <stdint.h>

#include "revati/hosttime.h"

/* A small /proc file's first line into buf (left as it is when the file cannot be read). */
void rv_read_proc_line(const char *path, char *buf, size_t n);

/* The thread where the last scan found the program running (a hint, shared by the scans). */
int32_t rv_last_busy_tid(void);

typedef struct waiter_set {
    int n;
    int32_t pid[RV_MAX_WAITERS];
    int32_t tid[RV_MAX_WAITERS];
    uint8_t blocking[RV_MAX_WAITERS];
    uint8_t inert[RV_MAX_WAITERS]; /* an inert timed wait (world.c): no laggard for a hold */
    rv_vtime_ns deadline[RV_MAX_WAITERS]; /* on its owner's clock (an instant of the one virtual time) */
    rv_vtime_ns target[RV_MAX_WAITERS]; /* a hold's absolute target; RV_VTIME_INVALID: not a hold */
    int slot[RV_MAX_WAITERS];
    uint32_t events_seen[RV_MAX_WAITERS]; /* the world's events when each waiter's last real call began */
    uint32_t events;                      /* ... and when the set was collected */
    int events_rule; /* 1: a waiter checking after an event counts as running (the idle test); 0 (the
                        holds): it does not, since its checks do not advance its process's clock */
} waiter_set;

/* Processes' clocks, each looked up once per scan, all against one reading of the world's reference
 * (deadlines and hold targets are instants on their owners' clocks: the world's idle jumps move each
 * process by its own amount, core/vclock.c, raise_world). Set n to 0 before a scan. */
typedef struct rv_clock_cache {
    int n;
    rv_vtime_ns ref; /* read at the scan's first lookup */
    int32_t pid[RV_MAX_PROCS];
    rv_vtime_ns clock[RV_MAX_PROCS];
} rv_clock_cache;

/* Process pid's clock now: this process's as it reads it, another's from its published terms; for a
 * process that has published none, the reference clock itself (ref_if_missing) or 0. */
rv_vtime_ns rv_clock_cache_get(rv_clock_cache *cc, int32_t pid, int ref_if_missing);

/* A snapshot of the waiter table. */
void rv_collect_waiters(rv_world *w, waiter_set *s);
/* Whether a thread of world process pid (slot idx of w->procs), other than the registered waiters
 * doing their checks and the caller, runs (kernel state R or D); a process found gone is reclaimed. */
int rv_proc_runs(rv_world *w, int idx, int32_t pid, const waiter_set *ws);

/* Publish the wait as blocked for the fast advance (verify: a real event may end it); a hold parks
 * itself through this, the engine's steps do it themselves. */
void rv_wait_park(rv_wait *wt, int verify);
/* A counted thread ends (threads.c): a wait it never left is unparked. */
void rv_world_thread_ends(void);

/* Whether a thread of this process other than the caller and its holding threads runs (or is
 * runnable). */
int rv_own_others_run(void);

/* An event that can end another thread's wait happened (a message, an eventfd write, a condition
 * signal): counted in the world, so that a waiter doing its checks since then counts as running. */
void rv_world_event(void);
/* A hold's own wait begins (1) or ends (0) in this thread: it is no wait of the program's (world.c). */
void rv_hold_scope(int on);
/* Spin until t0 (0: now) + the thread's revati_checks_spin_ns (0 unless a test set it, and then no
 * clock is read): a thread kept off its core in its wait checks or its hold's looks. */
void rv_checks_spin(uint64_t t0);

#endif
