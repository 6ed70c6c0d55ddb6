/* revati open brackets: the real time this process's threads have spent so far inside their
 * outermost rv_enter/rv_leave brackets (core/open_brackets.c). rv_leave adds a bracket's real time to
 * the process's overhead only when it ends; a clock read by another thread of the process before
 * then subtracts the part that has run up to its reading instant, so that revati's time in a long
 * bracket (a CUDA graph launch with its GIL released) never reaches a reading that the clock's
 * no-going-back rule would then keep. */
#ifndef REVATI_OPEN_BRACKETS_H
#define REVATI_OPEN_BRACKETS_H

#include <stdint.h>

#include "revati/types.h"

/* The calling thread opens its outermost bracket at real instant entry (a slot among 64; with all
 * taken, the bracket is not tracked: its time reaches other threads' readings until it ends). */
RV_API void rv_open_begin(uint64_t entry);
/* Its bracket ends (after its time was added to the overhead), or is left without counting it. */
RV_API void rv_open_end(void);
/* Its bracket's counted part now starts at entry (a hold moved it); 0: nothing counts from now until
 * the next move (the thread is blocked in a hold, whose time is its own to exclude or not). */
RV_API void rv_open_move(uint64_t entry);
/* Real ns that the other threads' open brackets have run up to real instant `real`. */
RV_API uint64_t rv_open_part(uint64_t real);
/* In a fork child: only the forking thread exists; others' slots are freed. */
RV_API void rv_open_atfork_child(void);

#endif
