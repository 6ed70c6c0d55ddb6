/* revati clock interposers: libc's clock reads answer the virtual clock (CPU-time clocks stay real). */
#include <errno.h>
#include <stddef.h>
#include <sys/time.h>
#include <time.h>

#include "revati/hosttime.h"
#include "revati/vclock.h"

/* libc declares these pointers nonnull; programs still pass NULL, and the compiler must not drop the test */
static inline int is_null(const void *p) {
    const void *volatile q = p;
    return q == NULL;
}

/* tools/bench_overhead.py switches the clock interposers to plain libc to time the same loop both ways
 * in one process (one predictable branch per read). */
static int g_passthrough;

// revati_clock_passthrough: 1 makes the clock reads real (benchmarks only), 0 virtual again
RV_EXPORT void revati_clock_passthrough(int on) { g_passthrough = on; }

/* The virtual reading of a virtualised clock: base + vnow, charging the deterministic CPU gap. */
static inline int64_t vread(int64_t base) {
    rv_enter();
    rv_vtick();
    uint64_t v = rv_vnow();
    rv_leave();
    return base + (int64_t)v;
}

// clock_gettime: REALTIME/MONOTONIC/BOOTTIME/TAI (and _RAW, _COARSE) read the virtual clock
RV_EXPORT int clock_gettime(clockid_t id, struct timespec *ts) {
    int64_t base;
    if (g_passthrough || rv_clock_base(id, &base) != 0) return rv_real_clock_gettime(id, ts);
    if (is_null(ts)) {
        errno = EFAULT;
        return -1;
    }
    rv_ns_to_ts((uint64_t)vread(base), ts);
    return 0;
}

// gettimeofday: CLOCK_REALTIME, virtual; the obsolete timezone argument is answered as UTC
RV_EXPORT int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    int64_t base;
    rv_clock_base(CLOCK_REALTIME, &base);
    if (!is_null(tv)) {
        int64_t ns = vread(base);
        tv->tv_sec = (time_t)(ns / 1000000000LL);
        tv->tv_usec = (suseconds_t)((ns % 1000000000LL) / 1000);
    }
    if (tz) {
        struct timezone *z = tz;
        z->tz_minuteswest = 0;
        z->tz_dsttime = 0;
    }
    return 0;
}

// time: seconds of virtual CLOCK_REALTIME
RV_EXPORT time_t time(time_t *out) {
    int64_t base;
    rv_clock_base(CLOCK_REALTIME, &base);
    time_t t = (time_t)(vread(base) / 1000000000LL);
    if (out) *out = t;
    return t;
}

// timespec_get: TIME_UTC is virtual CLOCK_REALTIME
RV_EXPORT int timespec_get(struct timespec *ts, int base_id) {
    if (base_id != TIME_UTC) return 0;
    int64_t base;
    rv_clock_base(CLOCK_REALTIME, &base);
    rv_ns_to_ts((uint64_t)vread(base), ts);
    return base_id;
}

/* struct timeb, as <sys/timeb.h> defines it (the header is deprecated; the ABI is stable) */
struct rv_timeb {
    time_t time;
    unsigned short millitm;
    short timezone;
    short dstflag;
};

// ftime: virtual CLOCK_REALTIME in seconds and milliseconds (obsolete, still exported by glibc)
RV_EXPORT int ftime(struct rv_timeb *tp) {
    int64_t base;
    rv_clock_base(CLOCK_REALTIME, &base);
    int64_t ns = vread(base);
    tp->time = (time_t)(ns / 1000000000LL);
    tp->millitm = (unsigned short)((ns % 1000000000LL) / 1000000);
    tp->timezone = 0;
    tp->dstflag = 0;
    return 0;
}
