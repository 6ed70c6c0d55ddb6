/* revati open brackets (include/revati/open_brackets.h): a process-wide table of the outermost
 * brackets its threads are in, as their real entry instants. A thread claims a free slot (a bit of
 * one mask) when it enters and frees it when it leaves; a clock reader sums, over the other set
 * slots, how long each has run up to its reading instant. An entry of 0 counts nothing (a slot being
 * claimed or released, or a thread blocked in a hold). The fast path, no other thread in a bracket,
 * is one atomic load. */
#include "revati/open_brackets.h"

#include <stdatomic.h>

#define OPEN_SLOTS 64

static _Atomic uint64_t g_mask;
static _Atomic uint64_t g_entry[OPEN_SLOTS];
static __thread int t_slot = -1;

void rv_open_begin(uint64_t entry) {
    uint64_t m = atomic_load_explicit(&g_mask, memory_order_relaxed);
    for (;;) {
        if (m == UINT64_MAX) return; /* all taken: this bracket is not tracked */
        int i = __builtin_ctzll(~m);
        if (atomic_compare_exchange_weak_explicit(&g_mask, &m, m | (1ULL << i), memory_order_acquire,
                                                  memory_order_relaxed)) {
            t_slot = i;
            atomic_store_explicit(&g_entry[i], entry, memory_order_release);
            return;
        }
    }
}

void rv_open_end(void) {
    int i = t_slot;
    if (i < 0) return;
    t_slot = -1;
    atomic_store_explicit(&g_entry[i], 0, memory_order_release);
    atomic_fetch_and_explicit(&g_mask, ~(1ULL << i), memory_order_release);
}

void rv_open_move(uint64_t entry) {
    if (t_slot >= 0) atomic_store_explicit(&g_entry[t_slot], entry, memory_order_release);
}

uint64_t rv_open_part(uint64_t real) {
    uint64_t m = atomic_load_explicit(&g_mask, memory_order_acquire);
    if (t_slot >= 0) m &= ~(1ULL << t_slot);
    uint64_t sum = 0;
    while (m) {
        int i = __builtin_ctzll(m);
        m &= m - 1;
        uint64_t e = atomic_load_explicit(&g_entry[i], memory_order_acquire);
        if (e && real > e) sum += real - e;
    }
    return sum;
}

void rv_open_atfork_child(void) {
    for (int i = 0; i < OPEN_SLOTS; ++i)
        if (i != t_slot) atomic_store_explicit(&g_entry[i], 0, memory_order_relaxed);
    atomic_store_explicit(&g_mask, t_slot >= 0 ? 1ULL << t_slot : 0, memory_order_relaxed);
}
