/* The card's power limit in virtual time: sustained compute-bound work runs slower.
 *
 * A GEMM timed alone runs at the boost clock; back to back, compute-bound GEMMs draw a card to its
 * board power limit within tens of milliseconds and the driver lowers the SM clock (an H100: 1,980
 * MHz to 1,100-1,450 MHz, throttle reason "software power cap"; tools/power_probe.py). Memory-bound
 * work does not. Each device keeps u, the share of recent GPU time spent in compute-bound kernels (an
 * exponential average with time constant power_tau_ns, decaying through idle time and other kernels);
 * a compute-bound kernel runs power_stretch longer at a fully loaded card, in proportion to how far u
 * is past power_onset (docs/predictors.md, "The card's power limit"). Durations measured elsewhere
 * (the recorded predictor) carry their own clock and are left alone. */
#include <math.h>
#include <pthread.h>

#include "internal.h"

#define MAX_DEV 64

static struct {
    rv_vtime_ns t; /* when u was last brought up to date */
    double u;
} g_pw[MAX_DEV];
static pthread_mutex_t g_pw_mu = PTHREAD_MUTEX_INITIALIZER;

rv_vdur_ns rv_power_stretch(int dev, rv_vtime_ns start, rv_vdur_ns dur, int heavy) {
    const rv_devconf *c = rv_conf();
    if (c->power_stretch <= 0 || c->power_tau_ns == 0 || dev < 0 || dev >= MAX_DEV) return dur;
    double tau = (double)c->power_tau_ns, onset = c->power_onset;
    pthread_mutex_lock(&g_pw_mu);
    double u = g_pw[dev].u;
    if (start > g_pw[dev].t) u *= exp(-(double)(start - g_pw[dev].t) / tau); /* idle since */
    double out = (double)dur;
    if (heavy && onset < 1 && u > onset) out *= 1 + c->power_stretch * fmin(1, (u - onset) / (1 - onset));
    /* through the kernel: toward 1 while compute-bound work runs, toward 0 otherwise */
    double keep = exp(-out / tau);
    u = heavy ? 1 - (1 - u) * keep : u * keep;
    rv_vtime_ns end = start + (rv_vtime_ns)llround(out);
    if (end > g_pw[dev].t) g_pw[dev].t = end, g_pw[dev].u = u;
    else if (u > g_pw[dev].u) g_pw[dev].u = u; /* a kernel beside later work (another stream) */
    pthread_mutex_unlock(&g_pw_mu);
    return (rv_vdur_ns)llround(out);
}
