/* revati process interposers: before a process image is replaced or a child spawned, this process's
 * virtual now is published to the world, so the new image starts no earlier (fork children share the
 * parent's clock state through memory and need nothing). */
#include <dlfcn.h>
#include <spawn.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "revati/vclock.h"

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);

#define REAL(type, name) static type real; if (!real) real = (type)dlsym(RTLD_NEXT, name)

// execve: publish the virtual now, then exec
RV_EXPORT int execve(const char *path, char *const argv[], char *const envp[]) {
    rv_publish_high();
    REAL(execve_fn, "execve");
    return real(path, argv, envp);
}

// execv: publish the virtual now, then exec
RV_EXPORT int execv(const char *path, char *const argv[]) {
    rv_publish_high();
    REAL(execv_fn, "execv");
    return real(path, argv);
}

// execvp: publish the virtual now, then exec
RV_EXPORT int execvp(const char *file, char *const argv[]) {
    rv_publish_high();
    REAL(execv_fn, "execvp");
    return real(file, argv);
}

// execvpe: publish the virtual now, then exec
RV_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[]) {
    rv_publish_high();
    REAL(execve_fn, "execvpe");
    return real(file, argv, envp);
}

// fexecve: publish the virtual now, then exec
RV_EXPORT int fexecve(int fd, char *const argv[], char *const envp[]) {
    rv_publish_high();
    REAL(fexecve_fn, "fexecve");
    return real(fd, argv, envp);
}

// posix_spawn: publish the virtual now, then spawn
RV_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    rv_publish_high();
    REAL(spawn_fn, "posix_spawn");
    return real(pid, path, fa, attr, argv, envp);
}

// posix_spawnp: publish the virtual now, then spawn
RV_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[]) {
    rv_publish_high();
    REAL(spawn_fn, "posix_spawnp");
    return real(pid, file, fa, attr, argv, envp);
}
