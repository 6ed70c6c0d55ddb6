/* revati sleep interposers: sleeps wait in virtual time (a jump once the world is idle). */
#include <dlfcn.h>
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "revati/log.h"
#include "revati/vclock.h"

typedef int (*clock_nanosleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

/* Sleep until the virtual deadline. 0, or EINTR (a signal: a real event wins) with *left set. */
static int vsleep_until(rv_vtime_ns deadline, const char *why, uint64_t *left) {
    rv_wait w;
    rv_idle_token idle = rv_idle_begin();
    rv_enter();
    rv_debug("%s until %llu (now %llu)", why, (unsigned long long)deadline, (unsigned long long)rv_vnow());
    rv_wait_begin_poll(&w, deadline, why);
    w.idle = idle;
    w.idle_tracked = 1;
    w.sleeper = 1; /* only the deadline or a signal ends it: no kernel state to check before an advance */
    rv_leave();
    int rc = 0;
    for (;;) {
        uint64_t slice;
        int st = rv_wait_step(&w, &slice);
        if (st > 0) break;
        if (st < 0 || rv_wait_sleep(&w, slice) < 0) {
            rc = EINTR;
            break;
        }
    }
    rv_enter();
    if (rc && left) {
        rv_vtime_ns now = rv_vnow();
        *left = deadline > now ? deadline - now : 0;
    }
    rv_wait_end(&w);
    rv_leave();
    rv_idle_end(w.idle, rc ? 0 : deadline);
    return rc;
}

int rv_sleep_until(rv_vtime_ns deadline, const char *why) { return vsleep_until(deadline, why, NULL); }

static int valid_ts(const struct timespec *ts) {
    return ts && ts->tv_nsec >= 0 && ts->tv_nsec < 1000000000L && ts->tv_sec >= 0;
}

/* A relative virtual sleep of ns. */
static int vsleep_for(uint64_t ns, const char *why, uint64_t *left) {
    rv_enter();
    rv_vtick();
    rv_vtime_ns deadline = rv_vnow() + ns;
    rv_leave();
    if (ns == 0) return 0;
    return vsleep_until(deadline, why, left);
}

// nanosleep: relative, on the virtual clock; EINTR leaves the virtual remainder in *rem
RV_EXPORT int nanosleep(const struct timespec *req, struct timespec *rem) {
    if (!valid_ts(req)) {
        errno = EINVAL;
        return -1;
    }
    uint64_t left = 0;
    int rc = vsleep_for(rv_ts_to_ns(req), "nanosleep", &left);
    if (rc) {
        if (rem) rv_ns_to_ts(left, rem);
        errno = rc;
        return -1;
    }
    return 0;
}

// clock_nanosleep: relative or TIMER_ABSTIME on a virtualised clock; CPU-time clocks stay real
RV_EXPORT int clock_nanosleep(clockid_t id, int flags, const struct timespec *req, struct timespec *rem) {
    int64_t base;
    if (rv_clock_base(id, &base) != 0) {
        static clock_nanosleep_fn real;
        if (!real) real = (clock_nanosleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
        return real ? real(id, flags, req, rem) : ENOTSUP;
    }
    if (!valid_ts(req)) return EINVAL;
    uint64_t left = 0;
    int rc;
    if (flags & TIMER_ABSTIME) {
        int64_t target = (int64_t)rv_ts_to_ns(req) - base;
        rv_enter();
        rv_vtick();
        rv_vtime_ns now = rv_vnow();
        rv_leave();
        if (target <= 0 || (rv_vtime_ns)target <= now) return 0;
        rc = vsleep_until((rv_vtime_ns)target, "clock_nanosleep", NULL);
    } else {
        rc = vsleep_for(rv_ts_to_ns(req), "clock_nanosleep", &left);
        if (rc && rem) rv_ns_to_ts(left, rem);
    }
    return rc;
}

// usleep: microseconds of virtual time
RV_EXPORT int usleep(useconds_t us) {
    uint64_t left;
    int rc = vsleep_for((uint64_t)us * 1000ULL, "usleep", &left);
    if (rc) {
        errno = rc;
        return -1;
    }
    return 0;
}

// sleep: seconds of virtual time; returns the whole seconds left when a signal interrupts it
RV_EXPORT unsigned int sleep(unsigned int s) {
    uint64_t left = 0;
    int rc = vsleep_for((uint64_t)s * 1000000000ULL, "sleep", &left);
    return rc ? (unsigned int)((left + 999999999ULL) / 1000000000ULL) : 0;
}
