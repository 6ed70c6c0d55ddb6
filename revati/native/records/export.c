/* revati exports, write side: the text of Chrome JSON slices and the bytes of Perfetto slice packets,
 * row by row from columns the exporters (revati/exporters/fast.py, ctypes) already laid out. The
 * Python exporters remain the reference path; tests/unit/test_export_fast.py compares the two. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define RV_EXPORT __attribute__((visibility("default")))

enum { SEG_NONE = 0, SEG_INT = 1, SEG_US = 2, SEG_DICT = 3 };

static uint8_t *put_uint(uint8_t *p, uint64_t v) {
    uint8_t tmp[20];
    int n = 0;
    do {
        tmp[n++] = (uint8_t)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static uint8_t *put_int(uint8_t *p, int64_t v) {
    if (v < 0) {
        *p++ = '-';
        return put_uint(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_uint(p, (uint64_t)v);
}

/* ns as µs with three decimals, floor division as numpy's divmod: -1 -> "-1.999" */
static uint8_t *put_us(uint8_t *p, int64_t ns) {
    int64_t q = ns / 1000, r = ns % 1000;
    if (r < 0) {
        r += 1000;
        q -= 1;
    }
    p = put_int(p, q);
    *p++ = '.';
    *p++ = (uint8_t)('0' + r / 100);
    *p++ = (uint8_t)('0' + r / 10 % 10);
    *p++ = (uint8_t)('0' + r % 10);
    return p;
}

/* Rows r0.. of a table of text rows. Row r is, for each segment s: the literal
 * lit[lit_off[s] .. lit_off[s+1]), then field s by kind[s]: none, cols[s][r] as a decimal integer,
 * as µs from ns, or dictionary entry cols[s][r] (dict[dict_off[c] .. dict_off[c+1]), longest
 * max_dict bytes). Writes whole rows to out while they fit in cap; returns the next row, *used the
 * bytes written; -1 - s when segment s names a dictionary entry out of range. */
RV_EXPORT int64_t rv_format_rows(int64_t r0, int64_t nrows, int64_t nseg, const uint8_t *lit,
                                 const int64_t *lit_off, const int32_t *kind, const int64_t *const *cols,
                                 const uint8_t *dict, const int64_t *dict_off, int64_t n_dict, int64_t max_dict,
                                 uint8_t *out, int64_t cap, int64_t *used) {
    int64_t row_max = lit_off[nseg] - lit_off[0];
    for (int64_t s = 0; s < nseg; ++s) row_max += kind[s] == SEG_DICT ? max_dict : kind[s] == SEG_NONE ? 0 : 26;
    uint8_t *p = out, *stop = out + cap;
    int64_t r = r0;
    for (; r < nrows && p + row_max <= stop; ++r) {
        for (int64_t s = 0; s < nseg; ++s) {
            int64_t l0 = lit_off[s], l1 = lit_off[s + 1];
            memcpy(p, lit + l0, (size_t)(l1 - l0));
            p += l1 - l0;
            switch (kind[s]) {
            case SEG_INT: p = put_int(p, cols[s][r]); break;
            case SEG_US: p = put_us(p, cols[s][r]); break;
            case SEG_DICT: {
                int64_t c = cols[s][r];
                if (c < 0 || c >= n_dict) return -1 - s;
                memcpy(p, dict + dict_off[c], (size_t)(dict_off[c + 1] - dict_off[c]));
                p += dict_off[c + 1] - dict_off[c];
                break;
            }
            default: break;
            }
        }
    }
    *used = p - out;
    return r;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static int varint_len(uint64_t v) {
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        ++n;
    }
    return n;
}

/* Perfetto slice packets i0.. of n, each a Trace.packet field: for event i, slice sl[i], a begin
 * when beg[i] (template bcode[sl]) else an end (template ecode[sl]); template t is its packet fields
 * tmpl[off[2t] .. off[2t+1]) and its track_event's tmpl[off[2t+1] .. off[2t+2]). The packet is the
 * fields, timestamp tm[i] - tm[i-1] (tm[i] for the first: times are non-decreasing, on an
 * incremental clock), then the track_event, to which a begin adds its correlation id (when
 * non-zero), flow ids fo_ids[fo_off[sl] .. fo_off[sl+1]) and terminating flow ids likewise, as
 * varints. Writes whole packets while they fit in cap; returns the next event, *used the bytes
 * written. */
RV_EXPORT int64_t rv_perfetto_packets(int64_t i0, int64_t n, const int64_t *sl, const uint8_t *beg,
                                      const int64_t *tm, const int64_t *bcode, const int64_t *ecode,
                                      const int64_t *corr, const int64_t *fo_off, const uint64_t *fo_ids,
                                      const int64_t *fi_off, const uint64_t *fi_ids, const uint8_t *tmpl,
                                      const int64_t *off, uint8_t *out, int64_t cap, int64_t *used) {
    uint8_t *p = out, *stop = out + cap;
    int64_t i = i0;
    for (; i < n; ++i) {
        int64_t s = sl[i], t = beg[i] ? bcode[s] : ecode[s];
        uint64_t dt = (uint64_t)(tm[i] - (i ? tm[i - 1] : 0));
        const uint8_t *outer = tmpl + off[2 * t], *te = tmpl + off[2 * t + 1];
        int64_t n_outer = off[2 * t + 1] - off[2 * t], n_te = off[2 * t + 2] - off[2 * t + 1];
        int64_t nfo = beg[i] ? fo_off[s + 1] - fo_off[s] : 0, nfi = beg[i] ? fi_off[s + 1] - fi_off[s] : 0;
        uint64_t c = beg[i] ? (uint64_t)corr[s] : 0;
        int64_t te_len = n_te + (c ? 2 + varint_len(c) : 0);
        for (int64_t k = 0; k < nfo; ++k) te_len += 2 + varint_len(fo_ids[fo_off[s] + k]);
        for (int64_t k = 0; k < nfi; ++k) te_len += 2 + varint_len(fi_ids[fi_off[s] + k]);
        int64_t body = n_outer + 1 + varint_len(dt) + 1 + varint_len((uint64_t)te_len) + te_len;
        if (p + 1 + varint_len((uint64_t)body) + body > stop) break;
        *p++ = 0x0a; /* Trace.packet */
        p = put_varint(p, (uint64_t)body);
        memcpy(p, outer, (size_t)n_outer);
        p += n_outer;
        *p++ = 0x40; /* TracePacket.timestamp */
        p = put_varint(p, dt);
        *p++ = 0x5a; /* TracePacket.track_event */
        p = put_varint(p, (uint64_t)te_len);
        memcpy(p, te, (size_t)n_te);
        p += n_te;
        if (c) { /* TrackEvent.correlation_id = 52 */
            *p++ = 0xa0;
            *p++ = 0x03;
            p = put_varint(p, c);
        }
        for (int64_t k = 0; k < nfo; ++k) { /* flow_ids_old = 36, varint */
            *p++ = 0xa0;
            *p++ = 0x02;
            p = put_varint(p, fo_ids[fo_off[s] + k]);
        }
        for (int64_t k = 0; k < nfi; ++k) { /* terminating_flow_ids_old = 42, varint */
            *p++ = 0xd0;
            *p++ = 0x02;
            p = put_varint(p, fi_ids[fi_off[s] + k]);
        }
    }
    *used = p - out;
    return i;
}
