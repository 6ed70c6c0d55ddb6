/* revati profile shim: SIGTERM flush (term.c). No CUDA here, so that a test can build it alone. */
#ifndef REVATI_PROFILE_TERM_H
#define REVATI_PROFILE_TERM_H

/* When SIGTERM has the default disposition (the program did not take it), catch it: a thread of the
 * shim's own runs `flush`, then the signal's default action ends the process as it would have
 * without the shim. Returns 1 when installed, 0 when the program handles SIGTERM itself (it then exits
 * through exit() and the atexit flush, or as it chooses) or the thread could not be started. */
int rp_term_install(void (*flush)(void));

#endif
