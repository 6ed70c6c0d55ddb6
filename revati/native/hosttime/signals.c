/* revati signal interposers: handlers the program installs are wrapped so that the wait engine knows
 * when one ran. A signal that arrives just as a real wait slice ends (timed out, then handled on the
 * way back) is invisible to the call's result; the program, natively, would have seen EINTR from its
 * one long wait, so the engine ends the wait as interrupted when the count moved. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "revati/hosttime.h"

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static struct sigaction g_user[NSIG]; /* what the program installed, as it gave it */
static _Atomic int g_wrapped[NSIG];
static _Atomic int g_revati[NSIG]; /* revati's own handler holds the default disposition's place */
static void (*g_revati_handler[NSIG])(int); /* revati's handler for a signal it has taken, if any */

static int install_revati(sigaction_fn real, int sig) {
    struct sigaction mine;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = g_revati_handler[sig];
    sigemptyset(&mine.sa_mask);
    mine.sa_flags = SA_RESETHAND; /* a second delivery takes the default action */
    if (real(sig, &mine, NULL) != 0) return 0;
    atomic_store(&g_revati[sig], 1);
    return 1;
}
/* initial-exec: the trampoline runs in signal context, where a first access through __tls_get_addr
 * could allocate */
static __thread unsigned t_handled __attribute__((tls_model("initial-exec"))); /* handlers run on this thread */

unsigned rv_signals_handled(void) { return __atomic_load_n(&t_handled, __ATOMIC_RELAXED); }

static sigaction_fn real_sigaction(void) {
    static sigaction_fn f;
    if (!f) f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    return f;
}

static _Atomic int g_main_in_check;                /* the main thread is in a wait engine check */
static _Atomic unsigned long long g_main_prog_mask; /* its program mask meanwhile (bit sig-1) */

_Static_assert(NSIG <= 65, "Linux's signals are 1..64: one word of a sigset_t holds them");

unsigned long long rv_sigset_bits(const sigset_t *set) {
    /* glibc's sigset_t on Linux: signal sig is bit sig-1 of its first word (signals 1..64 are all
     * Linux has); one load instead of 64 sigismember calls at every wait step */
    unsigned long long bits;
    memcpy(&bits, set, sizeof bits);
    return bits;
}

void rv_signals_main_check_begin(const sigset_t *program_mask) {
    if (rv_tid() != rv_pid()) return;
    atomic_store(&g_main_prog_mask, rv_sigset_bits(program_mask));
    atomic_store(&g_main_in_check, 1);
}

void rv_signals_main_check_end(void) {
    if (rv_tid() == rv_pid()) atomic_store(&g_main_in_check, 0);
}

static int read_status(const char *path, const char *const keys[], unsigned long long out[], int n, char *state);

/* A kill() (SI_USER: process-directed) handled on a thread other than the main one while the main
 * thread accepts the signal by its program's own mask: the kernel chose this thread only because
 * the main thread was blocking everything for a moment in revati's wait engine (or the signal was
 * taken on unmasking), where natively the main thread gets it. Python runs handlers on the main
 * thread only, and a main thread parked in an untimed wait would never see it: send it to the main
 * thread (tgkill: the handler then sees SI_TKILL from this process) instead of handling it here. */
static int forward_to_main(int sig, const siginfo_t *info) {
    if (!info || info->si_code != SI_USER || sig > 64) return 0;
    pid_t pid = getpid();
    if (syscall(SYS_gettid) == pid) return 0;
    unsigned long long blocked;
    char state = 0;
    if (atomic_load(&g_main_in_check)) {
        blocked = atomic_load(&g_main_prog_mask);
    } else {
        static const char *const keys[] = {"SigBlk:"};
        char path[64] = "/proc/self/task/", digits[16];
        int n = 0; /* no snprintf in a signal handler */
        for (unsigned v = (unsigned)pid; v && n < 15; v /= 10) digits[n++] = (char)('0' + v % 10);
        size_t at = strlen(path);
        while (n) path[at++] = digits[--n];
        memcpy(path + at, "/status", 8);
        if (!read_status(path, keys, &blocked, 1, &state)) return 0;
    }
    if (state == 'Z' || state == 'X' || state == 'T' || state == 't') return 0;
    if (blocked & (1ULL << (sig - 1))) return 0;
    rv_signal_sending();
    return syscall(SYS_tgkill, pid, pid, sig) == 0;
}

static void trampoline(int sig, siginfo_t *info, void *uctx) {
    if (sig <= 0 || sig >= NSIG) return;
    int saved = errno;
    int fwd = forward_to_main(sig, info);
    errno = saved;
    if (fwd) return;
    __atomic_add_fetch(&t_handled, 1, __ATOMIC_RELAXED);
    const struct sigaction *u = &g_user[sig];
    if (u->sa_flags & SA_SIGINFO) {
        if (u->sa_sigaction && u->sa_sigaction != trampoline) u->sa_sigaction(sig, info, uctx);
    } else if (u->sa_handler != SIG_DFL && u->sa_handler != SIG_IGN && u->sa_handler) {
        u->sa_handler(sig);
    }
}

// sigaction: handlers are installed behind a counting trampoline; queries answer what the program set
RV_EXPORT int sigaction(int sig, const struct sigaction *restrict act, struct sigaction *restrict old) {
    sigaction_fn real = real_sigaction();
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    if (sig <= 0 || sig >= NSIG) return real(sig, act, old);
    struct sigaction prev_user = g_user[sig];
    int was_wrapped = atomic_load(&g_wrapped[sig]);
    int rc;
    /* The program reinstalls a disposition that showed the trampoline (LLVM's crash handler, in
     * Triton, saves what it replaced and restores it before re-raising; SA_RESETHAND resets the
     * kernel's copy behind our back): keep the program's handler. Storing the trampoline as the
     * program's own handler would make it call itself forever (vLLM's engine spun at SIGTERM). */
    if (act && (act->sa_flags & SA_SIGINFO) && act->sa_sigaction == trampoline) {
        struct sigaction mine = *act;
        if (was_wrapped) mine.sa_flags = prev_user.sa_flags | SA_SIGINFO;
        rc = real(sig, was_wrapped ? &mine : NULL, old);
        if (rc == 0 && old) *old = prev_user;
        return rc;
    }
    if (act && !(act->sa_flags & SA_SIGINFO ? act->sa_sigaction == NULL
                                            : act->sa_handler == SIG_DFL || act->sa_handler == SIG_IGN)) {
        struct sigaction mine = *act;
        mine.sa_flags |= SA_SIGINFO;
        mine.sa_sigaction = trampoline;
        g_user[sig] = *act; /* before the kernel can deliver to the trampoline */
        rc = real(sig, &mine, old);
        if (rc == 0) atomic_store(&g_wrapped[sig], 1);
        else g_user[sig] = prev_user;
    } else if (act && !(act->sa_flags & SA_SIGINFO) && act->sa_handler == SIG_DFL && g_revati_handler[sig]) {
        /* back to the default (Python does this before dying of SIGINT): revati's handler stands in
         * for it, closes the trace and then takes the default action */
        rc = real(sig, NULL, old);
        if (rc == 0) {
            atomic_store(&g_wrapped[sig], 0);
            install_revati(real, sig);
        }
        if (rc == 0 && old && was_wrapped) *old = prev_user;
        return rc;
    } else {
        rc = real(sig, act, old);
        if (rc == 0 && act) atomic_store(&g_wrapped[sig], 0);
    }
    if (rc == 0 && old && (was_wrapped || ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction == trampoline)))
        *old = prev_user;
    if (rc == 0 && old && !was_wrapped && atomic_load(&g_revati[sig])) {
        memset(old, 0, sizeof *old); /* the program sees the default it never changed */
        old->sa_handler = SIG_DFL;
    }
    if (rc == 0 && act) atomic_store(&g_revati[sig], 0);
    return rc;
}

int rv_signal_take_default(int sig, void (*handler)(int)) {
    sigaction_fn real = real_sigaction();
    if (!real || sig <= 0 || sig >= NSIG) return 0;
    struct sigaction cur;
    if (real(sig, NULL, &cur) != 0) return 0;
    g_revati_handler[sig] = handler; /* also taken later, when the program resets the default */
    if ((cur.sa_flags & SA_SIGINFO) || cur.sa_handler != SIG_DFL) return 0;
    return install_revati(real, sig);
}

void rv_signal_reset_default(int sig) {
    sigaction_fn real = real_sigaction();
    if (!real || sig <= 0 || sig >= NSIG) return;
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    g_revati_handler[sig] = NULL;
    real(sig, &dfl, NULL);
    atomic_store(&g_revati[sig], 0);
}

// signal: through the interposed sigaction (BSD semantics, as glibc's signal)
RV_EXPORT __sighandler_t signal(int sig, __sighandler_t handler) {
    struct sigaction act, old;
    memset(&act, 0, sizeof act);
    act.sa_handler = handler;
    sigemptyset(&act.sa_mask);
    if (sig > 0 && sig < NSIG) sigaddset(&act.sa_mask, sig);
    act.sa_flags = SA_RESTART;
    if (sigaction(sig, &act, &old) < 0) return SIG_ERR;
    return old.sa_handler;
}

/* The hex masks of a /proc status file's lines named in keys (bit sig-1 = signal sig); 0 if unreadable.
 * state: the State letter. */
static int read_status(const char *path, const char *const keys[], unsigned long long out[], int n, char *state) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char buf[4096];
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) return 0;
    buf[len] = 0;
    for (int i = 0; i < n; ++i) {
        char *p = strstr(buf, keys[i]);
        if (!p) return 0;
        out[i] = strtoull(p + strlen(keys[i]), NULL, 16);
    }
    if (state) {
        char *p = strstr(buf, "State:");
        *state = p ? p[7] : 0;
    }
    return 1;
}

int rv_signals_for_main_thread(const sigset_t *callers_mask, sigset_t *out) {
    sigemptyset(out);
    pid_t pid = (pid_t)rv_pid(), tid = (pid_t)rv_tid(); /* cached: this runs at every wait step */
    if (tid == pid) return 0;
    sigset_t pend;
    if (sigpending(&pend) != 0) return 0;
    unsigned long long cand = rv_sigset_bits(&pend) & ~rv_sigset_bits(callers_mask) &
                              ~(1ULL << (SIGKILL - 1)) & ~(1ULL << (SIGSTOP - 1));
    if (!cand) return 0;
    /* process-directed (shared) and not this thread's own; the main thread alive and not blocking it */
    static const char *const mine_keys[] = {"SigPnd:", "ShdPnd:"};
    static const char *const main_keys[] = {"SigBlk:"};
    unsigned long long mine[2], main_blk[1];
    char path[64], state = 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
    if (!read_status(path, mine_keys, mine, 2, NULL)) return 0;
    snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)pid);
    if (!read_status(path, main_keys, main_blk, 1, &state)) return 0;
    if (state == 'Z' || state == 'X' || state == 'T' || state == 't') return 0;
    unsigned long long theirs = cand & mine[1] & ~mine[0] & ~main_blk[0];
    for (int sig = 1; sig <= 64; ++sig)
        if (theirs & (1ULL << (sig - 1))) sigaddset(out, sig);
    return theirs != 0;
}

/* ---- signals sent: counted in the world before they go (the fast advance, world.c) ------------ */

/* A parked thread woken by a signal runs its handler before it unparks; a signal sent by a world
 * process is counted first, so that the next advance is left to the kernel's view of the threads. */
#define NEXT(type, name) \
    static type real_; \
    if (!real_) real_ = (type)dlsym(RTLD_NEXT, name)

typedef int (*kill_fn)(pid_t, int);
typedef int (*tgkill_fn)(pid_t, pid_t, int);
typedef int (*pthread_kill_fn)(pthread_t, int);
typedef int (*sigqueue_fn)(pid_t, int, const union sigval);

// kill: counted (a signal, not the existence probe sig 0), then libc's
RV_EXPORT int kill(pid_t pid, int sig) {
    NEXT(kill_fn, "kill");
    if (sig) rv_signal_sending();
    return real_(pid, sig);
}

// killpg: counted, then libc's
RV_EXPORT int killpg(pid_t pg, int sig) {
    NEXT(kill_fn, "killpg");
    if (sig) rv_signal_sending();
    return real_(pg, sig);
}

// tgkill: counted, then libc's
RV_EXPORT int tgkill(pid_t tgid, pid_t tid, int sig) {
    NEXT(tgkill_fn, "tgkill");
    if (sig) rv_signal_sending();
    return real_(tgid, tid, sig);
}

// pthread_kill: counted, then libc's
RV_EXPORT int pthread_kill(pthread_t t, int sig) {
    NEXT(pthread_kill_fn, "pthread_kill");
    if (sig) rv_signal_sending();
    return real_(t, sig);
}

// sigqueue: counted, then libc's
RV_EXPORT int sigqueue(pid_t pid, int sig, const union sigval v) {
    NEXT(sigqueue_fn, "sigqueue");
    if (sig) rv_signal_sending();
    return real_(pid, sig, v);
}
