/* revati compact records, read side (the writer is native/core/trace_compact.c; the format is in
 * docs/trace-format.md, "Compact records"): decodes a .bin stream's varints into its events' values
 * in one pass, for revati/trace/compact.py (ctypes). */
#include <stddef.h>
#include <stdint.h>

#define RV_EXPORT __attribute__((visibility("default")))
#define N_LANES 7

static int64_t unzigzag(uint64_t u) { return (int64_t)((u >> 1) ^ (0 - (u & 1))); }

/* Decode the records in buf[0..n) (after the magic, zero tail already cut). lane_of[id] is the lane
 * of template id (-1: no such template; ids < n_templates). out holds 6 columns of cap entries: ts,
 * end, corr, wt, x, template id. Returns the number of whole records; *rest is the number of bytes
 * after them (a record cut short); -1 - i when record i names an unknown template. */
RV_EXPORT int64_t rv_records_decode(const uint8_t *buf, size_t n, const int8_t *lane_of, size_t n_templates,
                                    int64_t *out, size_t cap, size_t *rest) {
    int64_t *ts = out, *end = out + cap, *corr = out + 2 * cap, *wt = out + 3 * cap, *x = out + 4 * cap,
            *id = out + 5 * cap;
    int64_t prev_end[N_LANES] = {0};
    uint64_t last_corr = 0, last_wt = 0;
    size_t i = 0, r = 0, done = 0;
    while (r < cap) {
        uint64_t v[6];
        int f;
        for (f = 0; f < 6; ++f) {
            uint64_t val = 0;
            unsigned shift = 0;
            for (;;) {
                if (i >= n) goto out;
                uint8_t b = buf[i++];
                if (shift < 64) val |= (uint64_t)(b & 0x7f) << shift;
                shift += 7;
                if (!(b & 0x80)) break;
            }
            v[f] = val;
        }
        if (v[5] >= n_templates || lane_of[v[5]] < 0) return -1 - (int64_t)r;
        int lane = lane_of[v[5]];
        int64_t t = prev_end[lane] + unzigzag(v[0]);
        int64_t e = t + unzigzag(v[1]);
        prev_end[lane] = e;
        if (v[2]) last_corr += (uint64_t)unzigzag(v[2] - 1);
        if (v[3]) last_wt += (uint64_t)unzigzag(v[3] - 1);
        ts[r] = t;
        end[r] = e;
        corr[r] = v[2] ? (int64_t)last_corr : 0;
        wt[r] = v[3] ? (int64_t)last_wt : 0;
        x[r] = (int64_t)v[4];
        id[r] = (int64_t)v[5];
        ++r;
        done = i;
    }
out:
    *rest = n - done;
    return (int64_t)r;
}
