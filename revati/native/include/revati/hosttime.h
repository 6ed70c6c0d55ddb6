/* revati host time: the world clock shared by every process of a run, and the wait engine that the
 * libc interposers (revati/native/hosttime/) use. See docs/host-time.md. */
#ifndef REVATI_HOSTTIME_H
#define REVATI_HOSTTIME_H

#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "revati/types.h"

#define RV_WORLD_MAGIC 0x52565457u /* "RVTW" */
#define RV_WORLD_VERSION 15u
#define RV_MAX_PROCS 512
#define RV_MAX_WAITERS 2048
#define RV_CHANNELS 4096 /* message stamps: one per channel, channels hashed to them (messages.c) */

/* One process's published clock terms, on its own cache line: its modelled charges (its own, not
 * adopted ones: idle processes adopt their growth), and what else separates its clock from the
 * world's reference clock, so that another process can tell where this one's clock is
 * (rv_proc_clock: reference + charges + adopted - (overhead + foreign) x host speed). */
typedef struct rv_charges {
    _Atomic int32_t pid;
    _Atomic uint32_t sends;    /* messages sent through shared memory (revati_message_sent): bumped at each */
    _Atomic uint64_t ns;       /* own modelled charges and own jumps */
    _Atomic uint64_t adopted;  /* others' charges adopted at the end of idle waits */
    _Atomic uint64_t overhead; /* revati's own real ns, excluded */
    _Atomic uint64_t foreign;  /* others' overhead excluded while idle (real ns) */
    _Atomic uint64_t sent_at;  /* the process's virtual now at its latest such send (messages.c) */
    /* the fast advance (world.c, docs/coordination.md): the process's live threads as counted by the
     * pthread_create interposer (threads.c), how many of them are parked (published as blocked in a
     * wait revati sees), a generation bumped whenever one unparks or a thread ends, and the kernel's
     * thread count read when the last thread parked, with the generation it was read at (gen << 32 |
     * count): the count is trusted only while that generation is current */
    _Atomic int32_t threads;
    _Atomic int32_t parked;
    _Atomic uint32_t pgen;
    _Atomic uint32_t flags;   /* RV_PROC_ZMQ: libzmq is loaded (a jump needs the settle pause) */
    _Atomic uint64_t checked; /* pgen << 32 | kernel thread count, when the process was last full */
    _Atomic uint64_t exit_at; /* the process's virtual now when it exited (its exit handlers began); 0
                                 while it runs, or when it ended without them (a kill): a parent's wait
                                 for it ends there (procs.c) */
    _Atomic uint64_t lead_until; /* the process's idle lead: its clock's jump term is max(J, this)
                                    (core/vclock.c, g_lead_until) */
    char pad[40];
} rv_charges;

#define RV_PROC_ZMQ 1u

/* A thread in an interposed timed wait. pid == 0: free slot. */
typedef struct rv_waiter {
    _Atomic int32_t pid;
    _Atomic int32_t tid;
    _Atomic uint64_t deadline; /* virtual ns on the owner's clock: an instant of the one virtual time,
                                  comparable across processes (each moved to the target by the world's
                                  idle jumps); RV_VTIME_INVALID: none */
    _Atomic uint32_t blocking; /* 1 while in the real blocking call: if the kernel then shows the
                                  thread runnable, something (an event, its slice's end) woke it */
    _Atomic uint32_t hold;     /* 1: a conservative hold (hold.c), whose target is `target` */
    _Atomic uint64_t target;   /* a hold's target: the owner's virtual instant itself, not in reference
                                  terms (the owner's clock moves against the reference while it holds,
                                  and holds are ordered by their targets) */
    _Atomic uint32_t parked;   /* 1: published as blocked (counted in its process's parked) */
    _Atomic uint32_t verify;   /* 1: a real event can end the wait (fd, condition, futex): the kernel's
                                  state of the thread is read before an advance; 0: only a deadline or
                                  a signal ends it (sleeps, holds) */
    _Atomic uint32_t wake;     /* futex word of a parked sleep: bumped when an advance makes it due */
    _Atomic uint32_t events_seen; /* the world's `events` when the waiter's last real call began: a
                                     waiter doing its checks after an event came counts as running */
    _Atomic uint32_t inert;       /* 1: an inert timed wait (world.c, "Inert timed waits"): its timeout
                                     makes no other process wait for it */
} rv_waiter;

/* The shared state: $REVATI_RUN_DIR/clock.shm mapped MAP_SHARED by every process of the run (or an
 * anonymous shared mapping, still shared with fork children, when REVATI_RUN_DIR is unset). */
typedef struct rv_world {
    uint32_t magic, version;
    uint64_t epoch_real;    /* real CLOCK_MONOTONIC ns at virtual 0 */
    int64_t base_realtime;  /* CLOCK_REALTIME ns shown at virtual 0 */
    int64_t base_monotonic; /* CLOCK_MONOTONIC (and _RAW, _COARSE) ns shown at virtual 0 */
    int64_t base_boottime;  /* CLOCK_BOOTTIME ns shown at virtual 0 */
    int64_t base_tai;       /* CLOCK_TAI ns shown at virtual 0 */
    _Atomic uint64_t jump;  /* world jump offset J: every process's clock is its own run time + J */
    _Atomic uint64_t high;  /* highest virtual time published (at exec/spawn/exit): new processes start there */
    _Atomic uint32_t gen;   /* futex word: bumped at every jump so sleepers re-check */
    _Atomic uint32_t activity; /* bumped when a waiter leaves a wait (a thread turned running) */
    _Atomic uint64_t jumps_made;
    _Atomic uint64_t idle_real;      /* I: real ns during which the whole world was known idle (idle
                                        checks, pauses, wake-up latency): excluded from every clock */
    _Atomic uint64_t idle_upto;      /* real ns up to which idle time has been counted in I */
    _Atomic uint32_t idle_lock;      /* spinlock over idle_real/idle_upto */
    _Atomic uint32_t sends;          /* bumped at every such send by any process (messages.c) */
    _Atomic uint64_t wake_target;    /* the last idle jump: its target (a waiter's deadline) */
    _Atomic uint64_t wake_real;      /* ... and the real ns when it was made */
    _Atomic uint64_t ov_union;       /* U: real ns covered by some process's overhead bracket (the
                                        union over processes; intervals are merged as they end) */
    _Atomic uint64_t ov_upto;        /* real ns up to which U is counted */
    _Atomic uint64_t busy_seen_real; /* real ns when a scan last found a running thread: waiters that
                                        look within 200 us reuse that answer instead of scanning */
    _Atomic uint32_t adv_epoch;      /* bumped by every idle advance (fast or not): an advancer claims
                                        the epoch it looked from, so two cannot both advance on one look */
    _Atomic uint32_t signals_sent;   /* signals sent by world processes (kill, tgkill, ...) */
    _Atomic uint32_t signals_seen;   /* ... up to the last idle advance: the fast advance needs none since */
    _Atomic int32_t waiters_hi;      /* waiter slots in use are below this */
    _Atomic int32_t procs_hi;        /* procs[] entries ever claimed are below this (rv_procs_hi) */
    _Atomic int32_t charges_hi;      /* charges[] slots ever claimed are below this (rv_charges_hi) */
    _Atomic uint32_t gen_waiters;    /* threads in a futex wait on gen: a jump wakes them only if any */
    _Atomic uint64_t fast_jumps;     /* idle advances taken by the fast path */
    _Atomic uint64_t slow_jumps;     /* ... and by the /proc path */
    _Atomic uint64_t fast_ns;        /* real ns the fast advances' looks took (the advancer's, from its
                                        parking to the epoch claimed; their real time is excluded) */
    _Atomic uint64_t fast_wake_ns;   /* ... and their jumps and wakes of the due waiters */
    _Atomic uint32_t events;         /* bumped at every event that can end another thread's wait: a
                                        message sent (pipe, socket), an eventfd written, a condition
                                        signalled (world.c: a waiter's checks after one are running) */
    _Atomic uint32_t own_advances;   /* jumps of one blocked process to its own earliest deadline (world.c,
                                        own_advance) */
    _Atomic uint64_t floor;          /* the latest idle jump of the world: every process's clock is at it at
                                        least from then on (core/vclock.c, raise_world) */
    _Atomic int32_t procs[RV_MAX_PROCS];
    rv_waiter waiters[RV_MAX_WAITERS];
    rv_charges charges[RV_MAX_PROCS];
    /* messages.c: the latest virtual send time of each channel (a pipe, a socket's direction), by
     * hash; channels that share an entry share its stamp (a receiver may be raised needlessly) */
    _Atomic uint64_t chan_at[RV_CHANNELS];
} rv_world;

/* Bounds of the scans of procs[] and charges[]: slots are claimed lowest free first and never
 * above these, so that a look at the world touches the slots in use, not all RV_MAX_PROCS. A
 * claimer raises the bound after its claim, before its process can park (world.c, vclock.c). */
static inline int rv_hi_of(_Atomic int32_t *hi) {
    int h = atomic_load_explicit(hi, memory_order_acquire);
    return h < 0 ? 0 : h > RV_MAX_PROCS ? RV_MAX_PROCS : h;
}
static inline int rv_procs_hi(struct rv_world *w) { return rv_hi_of(&w->procs_hi); }
static inline int rv_charges_hi(struct rv_world *w) { return rv_hi_of(&w->charges_hi); }
static inline void rv_raise_hi(_Atomic int32_t *hi, int v) {
    int32_t h = atomic_load(hi);
    while (h < v && !atomic_compare_exchange_weak(hi, &h, v)) {}
}

/* A futex wait on the world's jump word (gen) for at most ts, counted in gen_waiters so that a jump
 * makes the wake call only when someone waits. */
RV_API long rv_gen_wait(struct rv_world *w, uint32_t seen, const struct timespec *ts);

/* The world (mapped on first use; never NULL after it). */
RV_API rv_world *rv_world_get(void);
/* Clock bases (ns) for a clock id, or -1 when the clock id is not virtualised (CPU-time clocks). */
RV_API int rv_clock_base(clockid_t id, int64_t *base);
/* Real clock_gettime (libc's, through the vDSO), bypassing the interposer. */
RV_API int rv_real_clock_gettime(clockid_t id, struct timespec *ts);
/* A futex call of revati's own, in real time: libc's syscall(SYS_futex, ...), bypassing the
 * interposed syscall (which waits out timed futex waits in virtual time). */
RV_API long rv_real_futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *timeout,
                          uint32_t *uaddr2, uint32_t val3);
/* Deterministic mode: the modelled CPU gap charged per interposed clock read (REVATI_CPU_GAP_NS,
 * default 100 ns). rv_vtick() charges it when deterministic; otherwise it does nothing. */
RV_API uint64_t rv_cpu_gap_ns(void);
RV_API void rv_vtick(void);
/* The virtual now without recording it as seen (the wait engine's own reads: the program has not
 * seen that value, so later exclusions of idle time may still pull the clock below it). */
RV_API rv_vtime_ns rv_vnow_peek(void);
/* A wait that timed out returns at its deadline t: t counts as seen (the clock never reads below it
 * again in this process), as a clock read of t would; later exclusions are floored there. */
RV_API void rv_vnow_reached(rv_vtime_ns t);
/* The world's reference clock at the real present (also inside a bracket): run time since the epoch
 * less the world's idle time, plus the world jump term J, without any process's overhead, charges and
 * jumps: what other processes' clocks are computed from (rv_proc_clock). */
RV_API rv_vtime_ns rv_world_ref_live(void);
/* Exclude the real interval [from, to] from every process's clock: the whole world was idle in it.
 * Overlaps with intervals already counted are counted once. */
RV_API void rv_exclude_idle(uint64_t from_real, uint64_t to_real);
/* A thread of this process starts / ends blocking (a wait). If, when it ends, no other thread of the
 * process runs, the other processes' overhead that accrued meanwhile is excluded from this
 * process's clock too (this process was idle, waiting, while revati, not the program, worked
 * elsewhere), and the largest growth of another process's charges is adopted. */
typedef struct rv_idle_token {
    uint64_t union_ns, own_ns;
    int ok; /* 2: a nested wait, which the outer one accounts for */
} rv_idle_token;
RV_API rv_idle_token rv_idle_begin(void);
/* floor: the clock is not pulled below it (a timed-out wait's deadline), nor below what the program
 * has already read. */
RV_API void rv_idle_end(rv_idle_token t, rv_vtime_ns floor);
/* Charges other processes published meanwhile, adopted at the end of an idle wait: the largest
 * growth of any one process's charges (processes that ran in parallel charged in parallel). */
RV_API void rv_adopt_charges(uint64_t ns);
/* Others' overhead excluded from this process so far (ns), and the call that adds to it. */
RV_API uint64_t rv_foreign_overhead_ns(void);
RV_API void rv_exclude_foreign(uint64_t ns, rv_vtime_ns floor);
/* The world's overhead union U and this process's own overhead (for rv_idle_end). */
RV_API uint64_t rv_overhead_union_ns(void);
/* Host speed factor (REVATI_HOST_SPEED). */
RV_API double rv_host_speed(void);
/* The clock of world process pid now, from its published terms (its clock is reference + delta);
 * 0 with *clock untouched when it has published none. Conservative within a bracket of that process
 * (its clock is frozen there while this reads it as running). */
RV_API int rv_proc_clock(int32_t pid, rv_vtime_ns ref_now, rv_vtime_ns *clock);
/* Exclude up to ns of real time from this process's clock only (not from the world's overhead
 * union): a hold's wait for other processes, during which this process is blocked in virtual time;
 * never below what the program has already read. Returns the real ns excluded. Inside a bracket,
 * the bracket's measured span shrinks by the same amount (its open slot is left as it is). */
RV_API uint64_t rv_exclude_own(uint64_t ns);
/* Inside a bracket: the last ns of real time were not revati's (a thread blocked while other threads
 * of its process ran): the bracket's measured span shrinks by ns, nothing is excluded. */
RV_API void rv_bracket_skip(uint64_t ns);
/* Inside a bracket: the thread blocks from now on (a hold), so other threads' clock readings stop
 * counting its bracket as revati's time until rv_bracket_skip says where the
 * counted part resumes; blocked time is excluded, or not, by rv_blocked_* (open_brackets.h). */
RV_API void rv_bracket_blocked(void);
/* Real time a thread spends blocked for other processes (a hold, a collective's rendezvous): excluded
 * from this process's clock only for the stretches in which no other thread of it ran, once however
 * many of its threads were blocked then, and not again for stretches the world's idle time already
 * excluded (hold.c). Begin, mark at each wake-up, end (inside or outside a bracket). */
typedef struct rv_blocked {
    uint64_t start, mark, idle_real, excluded;
} rv_blocked;
RV_API void rv_blocked_begin(rv_blocked *b);
RV_API void rv_blocked_mark(rv_blocked *b);
RV_API void rv_blocked_end(rv_blocked *b);
/* This process's slot of published clock terms (NULL if none could be claimed). */
RV_API rv_charges *rv_own_charges(void);
/* Whether the clock is set up (interposers called during its set-up pass straight through). */
RV_API int rv_clock_ready(void);
/* Messages carry time (messages.c): a write to a pipe or socket publishes the sender's now as its
 * channel's stamp, and a read that returns data raises the receiver to the stamp of the channel it
 * read. Messages through shared memory (revati_message_sent) stamp the sending process instead: this
 * call (a revati_message_received, an fd wait that finds an fd ready) raises the caller to the latest
 * such stamp of every process that sent since it last looked. */
RV_API void rv_msg_received(void);
/* Publish this process's virtual now as the world's high-water mark (before exec/spawn, at exit). */
RV_API void rv_publish_high(void);
/* At exit: publish this process's virtual now as its exit time (rv_charges.exit_at). */
RV_API void rv_publish_exit(void);
/* The exit time that process pid published (1), or 0 if it published none. */
RV_API int rv_proc_exit_at(int32_t pid, rv_vtime_ns *at);
/* An untimed wait that one known event ended (a child's exit) took this process's clock to t: the
 * clock is set to t, lowered by excluding the difference (not below what the program has read) or
 * raised by adopting it. */
RV_API void rv_wake_at(rv_vtime_ns t);
/* The calling thread sleeps until virtual time deadline, as a sleep of the program does (parked with
 * that deadline; the rest of the process runs on meanwhile). 0, or EINTR (a signal ended it). */
RV_API int rv_sleep_until(rv_vtime_ns deadline, const char *why);
/* Leave a bracket without counting its real time as overhead (time that ran in parallel with
 * running threads of the world, e.g. a waiter's scan that found the world busy). */
RV_API void rv_leave_discard(void);
/* Signal handlers (installed through the interposed sigaction/signal) run on this thread so far. */
RV_API unsigned rv_signals_handled(void);
/* Install revati's own handler for sig only if the program's disposition is the default; the program
 * keeps seeing the default (queries answer SIG_DFL), any handler it installs replaces revati's, and a
 * later reset to the default puts revati's back. 1 when installed now. rv_signal_reset_default(sig) puts the default back (before re-raising). */
RV_API int rv_signal_take_default(int sig, void (*handler)(int));
RV_API void rv_signal_reset_default(int sig);
/* On a thread other than the main one: the pending signals that callers_mask lets through which the
 * kernel queued for the whole process (kill) and the live main thread does not block, i.e. those the
 * kernel hands to the main thread natively (it prefers the main thread when it accepts the signal).
 * Returns whether there is any; reads /proc only when a signal is pending. */
RV_API int rv_signals_for_main_thread(const sigset_t *callers_mask, sigset_t *out);
/* Signals 1..64 of set as bits: signal sig is bit sig-1 (glibc's layout on Linux). */
RV_API unsigned long long rv_sigset_bits(const sigset_t *set);
/* The main thread brackets its wait engine's checks (all signals blocked) with these, publishing
 * the program's own mask meanwhile: a kill() the kernel handed to another thread because the main
 * thread was in revati's check is forwarded to the main thread by the handler trampoline. */
RV_API void rv_signals_main_check_begin(const sigset_t *program_mask);
RV_API void rv_signals_main_check_end(void);
/* Process registry: a pid joins the world at load, in fork children, and, to leave no gap in
 * which a starting child is unknown, in the parent right after fork/posix_spawn and in a vfork child
 * just before it execs. */
RV_API void rv_world_register_self(void);
RV_API void rv_world_register_pid(int32_t pid);

/* The terms of this process's clock (vnow's formula, docs/host-time.md), for diagnostics: a long
 * wait that times out logs how much each moved while it waited (REVATI_LOG=info). */
typedef struct rv_clock_terms {
    uint64_t real, vnow, jump, idle, charges, adopted, overhead, stall, foreign;
} rv_clock_terms;
RV_API void rv_clock_terms_now(rv_clock_terms *t);

/* Wait engine. A wait is: rv_wait_begin(deadline), then repeatedly rv_wait_step() which returns
 * 1 when the virtual deadline is reached (jumping the clock if the world is idle), 0 with the real
 * slice (ns) to block for in the real call, or -1 when a signal arrived during its checks (its
 * handler has run: end the wait as the interrupted real call would, EINTR or a spurious wakeup);
 * rv_wait_end() when the wait is over (for any reason). */
typedef struct rv_wait {
    rv_vtime_ns deadline;
    int slot;
    uint64_t slice_ns;
    uint32_t gen_seen;  /* the world's futex word when the step decided to block */
    uint32_t activity;  /* the world's activity count at the first idle observation */
    int idle_seen;      /* the previous step found the world idle (a jump needs two in a row) */
    unsigned signals;   /* rv_signals_handled() when the last real slice began */
    uint64_t real_start; /* real ns when the wait began (deterministic mode's backstop) */
    uint64_t idle_since; /* real ns of the first of the two idle observations */
    uint64_t step_real;  /* real ns when the previous step ended */
    rv_idle_token idle;  /* for rv_idle_end at the end of the wait */
    int idle_tracked;    /* the caller set idle (sleeps, fd waits): at the deadline, the others'
                            overhead so far is excluded first (set after rv_wait_begin) */
    uint64_t length;     /* virtual ns from the start of the wait to its deadline */
    uint64_t progress;      /* deterministic mode: the world's progress towards the deadline (det_progress) */
    uint64_t progress_real; /* ... and the real ns when it last moved (0: not looked at yet) */
    int sleeper;         /* 1: only the deadline or a signal ends it (set after rv_wait_begin) */
    uint32_t wake_seen;  /* the slot's wake word when the step decided to block */
    uint32_t epoch;      /* the world's advance epoch at the first idle observation */
    uint32_t sigs;       /* the world's signals_sent at the first idle observation */
    uint64_t jumps0;     /* the world's jumps_made when the wait began */
    int fast_look;       /* a wait a real event ends: the last step found the world idle by the fast
                            rule and let the real call look once (it found nothing if we are back) */
    uint64_t fast_gens;  /* ... the sum of the processes' generations then, and the advance epoch */
    uint32_t fast_epoch;
    int looked;          /* a real call of this wait has looked for its event and found none since the
                            wait began (the own advance needs it: world.c, own_advance) */
    uint64_t own_look_real; /* real ns of this wait's last own-advance look */
    int inert;           /* this thread's timed waits like this one timed out and it did nothing the
                            world sees in between, twice in a row (world.c, "Inert timed waits") */
    int timed_out;       /* the wait reached its deadline (its last step said so) */
    int noted;           /* rv_wait_end has taken its outcome into the thread's inert streak */
    const char *why;
    rv_clock_terms start; /* REVATI_LOG=info, waits of at least 1 s: the clock's terms at the start */
} rv_wait;
RV_API void rv_wait_begin(rv_wait *w, rv_vtime_ns deadline, const char *why);
/* The same for a wait that may be an inert poll (world.c, "Inert timed waits"): an fd wait or a
 * sleep. A condition, semaphore, mutex or futex wait never is: its timeout may be the action (the
 * GIL's 5 ms wait asks the holder to drop the GIL when it times out, a change no event shows). */
RV_API void rv_wait_begin_poll(rv_wait *w, rv_vtime_ns deadline, const char *why);
RV_API int rv_wait_step(rv_wait *w, uint64_t *real_slice_ns);
RV_API void rv_wait_end(rv_wait *w);
/* Block on the world's futex for at most slice ns (sleep-type waits); returns -1/EINTR on a signal. */
RV_API int rv_wait_sleep(rv_wait *w, uint64_t slice_ns);
/* Untimed waits (an infinite poll, pthread_cond_wait, sem_wait): published as parked for the fast
 * advance, with no deadline; a real event ends them (their thread's kernel state is checked). */
typedef struct rv_park {
    int slot;
} rv_park;
RV_API void rv_park_begin(rv_park *p, const char *why);
RV_API void rv_park_end(rv_park *p);
/* The world's idle advances so far: taken by the fast path (every thread parked) and by the /proc
 * path (exported for tests and tools as revati_advances). */
RV_API void rv_world_advances(uint64_t *fast, uint64_t *slow, uint64_t *look_ns, uint64_t *wake_ns);
/* Whether a signal was sent in the world (kill, tgkill, ...): bumps the world's count before it
 * is sent, so that the fast advance leaves the next advance to the kernel's view. */
RV_API void rv_signal_sending(void);
/* Whether no thread of the world is running (exported for tests through revati_world_idle). */
RV_API int rv_world_idle(void);

/* Conservative holds (hold.c). A process must not observe "nothing arrived" at virtual time t, nor
 * jump past t, while another world process could still act before t: one of its threads runs while
 * its clock is behind t, or one of its timed waits ends before t. rv_hold_until(t) blocks (in real
 * time, excluded from this process's clock) until no such process exists; a no-op in a world of one
 * process, and unless REVATI_HOLD=1 (opt-in for now). docs/coordination.md gives the rule and why it cannot deadlock. */
/* Returns 1 if it had to wait. */
RV_API int rv_hold_until(rv_vtime_ns t, const char *why);
/* Whether another process of the world could act before t (the test rv_hold_until repeats). */
RV_API int rv_laggard_before(rv_vtime_ns t);
/* The same, counting a waiter doing its checks after an event of the world as running (the own
 * advance of a blocked process, world.c). */
RV_API int rv_laggard_before_strict(rv_vtime_ns t);
/* Whether holds are on (REVATI_HOLD, default on); the own advance of a blocked process needs them. */
RV_API int rv_holds_enabled(void);

/* Conversions. */
static inline uint64_t rv_ts_to_ns(const struct timespec *ts) {
    if (ts->tv_sec < 0) return 0;
    return (uint64_t)ts->tv_sec * 1000000000ULL + (uint64_t)ts->tv_nsec;
}
static inline void rv_ns_to_ts(uint64_t ns, struct timespec *ts) {
    ts->tv_sec = (time_t)(ns / 1000000000ULL);
    ts->tv_nsec = (long)(ns % 1000000000ULL);
}

#endif
