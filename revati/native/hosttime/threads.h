/* Thread counting for the fast advance (threads.c), used by the wait engine (world.c) and revati's
 * own threads (watchdog.c). */
#ifndef REVATI_HOSTTIME_THREADS_H
#define REVATI_HOSTTIME_THREADS_H

#include <pthread.h>

/* The real pthread_create, for revati's own threads: never counted (they run no program code). */
int rv_real_pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg);
/* How many of this process's threads are revati's own, and whether the caller is one. */
int rv_own_threads(void);
int rv_thread_is_own(void);
/* The kernel's count of this process's threads (-1 if unreadable). */
int rv_kernel_threads(void);
/* ... less revati's own: the threads that may run the program (-1 if unreadable). */
int rv_program_threads(void);
/* Whether libzmq is loaded in this process (its clock cache needs real time to pass after a jump). */
int rv_zmq_loaded(void);

#endif
