/* revati process interposers: before a process image is replaced or a child spawned, this process's
 * virtual now is published to the world, so the new image starts no earlier (fork children share the
 * parent's clock state through memory). A new child joins the world's process list at once (parent
 * side after fork/posix_spawn, child side before exec): otherwise a sleeper could find the world idle
 * while the child is still loading, and jump. A thread that waits for a child (waitpid, wait4,
 * waitid, wait, wait3, without WNOHANG) is published as parked meanwhile, as an untimed wait (the
 * fast advance, world.c): a launcher waiting for its ranks no longer keeps every advance on the /proc
 * path. */
#include <dlfcn.h>
#include <errno.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "revati/vclock.h"
#include "threads.h"
#include "world_scan.h"

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);

#define REAL(type, name) static type real; if (!real) real = (type)dlsym(RTLD_NEXT, name)

typedef pid_t (*fork_fn)(void);

// fork: the child joins the world before the parent can look for running threads
RV_EXPORT pid_t fork(void) {
    REAL(fork_fn, "fork");
    pid_t pid = real();
    if (pid > 0) rv_world_register_pid((int32_t)pid);
    return pid;
}

static void before_exec(void) {
    rv_publish_high();
    rv_world_register_self(); /* a vfork child: its parent resumes when the exec is done */
}

// execve: publish the virtual now, then exec
RV_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    before_exec();
    REAL(execve_fn, "execve");
    return real(path, argv, envp);
}

// execv: publish the virtual now, then exec
RV_EXPORT int execv(const char *path, char *const argv[]) {
    before_exec();
    REAL(execv_fn, "execv");
    return real(path, argv);
}

// execvp: publish the virtual now, then exec
RV_EXPORT int execvp(const char *file, char *const argv[]) {
    before_exec();
    REAL(execv_fn, "execvp");
    return real(file, argv);
}

// execvpe: publish the virtual now, then exec
RV_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    before_exec();
    REAL(execve_fn, "execvpe");
    return real(file, argv, envp);
}

// fexecve: publish the virtual now, then exec
RV_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    before_exec();
    REAL(fexecve_fn, "fexecve");
    return real(fd, argv, envp);
}

// posix_spawn: publish the virtual now, then spawn
RV_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    rv_publish_high();
    REAL(spawn_fn, "posix_spawn");
    pid_t child = 0;
    int rc = real(&child, path, fa, attr, argv, envp);
    if (rc == 0) rv_world_register_pid((int32_t)child);
    if (pid) *pid = child;
    return rc;
}

// posix_spawnp: publish the virtual now, then spawn
RV_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    rv_publish_high();
    REAL(spawn_fn, "posix_spawnp");
    pid_t child = 0;
    int rc = real(&child, file, fa, attr, argv, envp);
    if (rc == 0) rv_world_register_pid((int32_t)child);
    if (pid) *pid = child;
    return rc;
}

/* A wait for a child: parked meanwhile (a child's exit ends it, and the kernel shows the waiter
 * runnable from then on, as for any wait a real event ends). When it returns a child's exit and no
 * other thread of this process runs, the waiter's clock is set to when the child exited (never below
 * where it was when the wait began, nor below what the program read): natively the parent wakes
 * then. Before, the waiter's clock ran on with the world's reference clock meanwhile, which a busy
 * world lags by everything it excludes (holds, revati's own time, stalls): sglang_serve.py's launcher
 * came out of its wait for the rate-4 client hundreds of virtual seconds ahead of SGLang's TP2
 * schedulers, started the rate-32 client there, and every zero-timeout poll after the client's first
 * request then held until the schedulers' idle loop caught up (the rate-32 warm-up "hang"). */
static rv_vtime_ns wait_begins(void) { return rv_clock_ready() ? rv_vnow_peek() : RV_VTIME_INVALID; }

/* A child that exited ahead of this process's clock, in a process with other threads: the waiting
 * thread sleeps until the exit instead, and the clock is not moved. Raised to the exit (the
 * process's one clock), every other thread jumped with it: vLLM's benchmark client reaps in a
 * thread the compile helpers its import of humming starts in the background, which ran busy beside
 * a world that excluded its own overhead and exited 0.6-1 s of virtual time ahead of it; each token
 * the API server streamed meanwhile reached the client's event loop after that jump (a 0.3-1 s
 * gap in the last requests of the README's rate-32 benchmark; docs/coordination.md, "A wait for a
 * child"). Natively the other threads run on while the waiter's wait lasts. */
static void woken_by_exit(pid_t child, rv_vtime_ns began) {
    rv_vtime_ns at;
    if (child <= 0 || began == RV_VTIME_INVALID || !rv_proc_exit_at((int32_t)child, &at)) return;
    rv_enter();
    int later = at > rv_vnow_peek() && rv_program_threads() > 1;
    if (!later && !rv_own_others_run()) rv_wake_at(at > began ? at : began);
    rv_leave();
    if (later) rv_sleep_until(at, "child exit");
}

/* Whether a wait's answer is a child's exit: without WUNTRACED or WCONTINUED it can be nothing else */
static int exited(int options, const int *status) {
    if (!(options & (WUNTRACED | WCONTINUED))) return 1;
    return status && (WIFEXITED(*status) || WIFSIGNALED(*status));
}

#define PARKED(why, call, child_of)            \
    do {                                       \
        rv_park park_;                         \
        rv_vtime_ns began_ = wait_begins();    \
        rv_park_begin(&park_, why);            \
        __typeof__(call) r_ = (call);          \
        int e_ = errno;                        \
        rv_park_end(&park_);                   \
        woken_by_exit(child_of(r_), began_);   \
        errno = e_;                            \
        return r_;                             \
    } while (0)

typedef pid_t (*waitpid_fn)(pid_t, int *, int);
typedef pid_t (*wait4_fn)(pid_t, int *, int, struct rusage *);
typedef pid_t (*wait3_fn)(int *, int, struct rusage *);
typedef pid_t (*wait_fn)(int *);
typedef int (*waitid_fn)(idtype_t, id_t, siginfo_t *, int);

// waitpid: a blocking wait for a child is parked meanwhile (the fast advance)
RV_EXPORT pid_t waitpid(pid_t pid, int *status, int options) {
    REAL(waitpid_fn, "waitpid");
    if (options & WNOHANG) return real(pid, status, options);
#define CHILD(r) ((r) > 0 && exited(options, status) ? (r) : 0)
    PARKED("waitpid", real(pid, status, options), CHILD);
}

// wait4: a blocking wait for a child is parked meanwhile
RV_EXPORT pid_t wait4(pid_t pid, int *status, int options, struct rusage *ru) {
    REAL(wait4_fn, "wait4");
    if (options & WNOHANG) return real(pid, status, options, ru);
    PARKED("wait4", real(pid, status, options, ru), CHILD);
}

// wait3: a blocking wait for a child is parked meanwhile
RV_EXPORT pid_t wait3(int *status, int options, struct rusage *ru) {
    REAL(wait3_fn, "wait3");
    if (options & WNOHANG) return real(status, options, ru);
    PARKED("wait3", real(status, options, ru), CHILD);
}

// wait: a blocking wait for a child is parked meanwhile
RV_EXPORT pid_t wait(int *status) {
    REAL(wait_fn, "wait");
    int options = 0;
    PARKED("wait", real(status), CHILD);
}

// waitid: a blocking wait for a child is parked meanwhile
RV_EXPORT int waitid(idtype_t idtype, id_t id, siginfo_t *info, int options) {
    REAL(waitid_fn, "waitid");
    if (options & WNOHANG) return real(idtype, id, info, options);
#define WAITID_CHILD(r)                                                                                        \
    ((r) == 0 && info && info->si_pid > 0 &&                                                                   \
             (info->si_code == CLD_EXITED || info->si_code == CLD_KILLED || info->si_code == CLD_DUMPED)       \
         ? info->si_pid                                                                                        \
         : 0)
    PARKED("waitid", real(idtype, id, info, options), WAITID_CHILD);
}
