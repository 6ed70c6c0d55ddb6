/* revati compact trace records (trace_compact.h). An event's JSON body is split into its template (the
 * body with the values of ts_ns, end_ns, corr, wt_ns and the kind's one varying count set to 0) and
 * those values. A template is interned per (kind, thread, text): its first use writes one `tmpl` line
 * into the JSON stream; every use writes six varints into the .bin stream:
 *   zigzag(ts - the lane's previous end), zigzag(end - ts), corr code, wt code, x, template id + 1
 * (corr/wt code: 0 for 0, else zigzag(value - the previous non-zero value) + 1). The last varint is
 * never 0, so a stream cut after a whole record never ends in a zero byte: the zero tail that a killed
 * process leaves is cut without losing a record, and a record cut short is dropped whole. The event's
 * seq is not stored: records take, in order, the seq numbers the JSON lines do not hold. */
#include "trace_compact.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_LANES 7
#define N_VALUES 5 /* ts_ns, end_ns, corr, wt_ns, x */
#define MAX_TEMPLATES (1u << 17)
#define SLOTS (1u << 18)
#define ARENA_MAX (64u << 20)
#define MAX_BODY 16384
#define MAGIC "RVBIN01\n"

static const char *const g_lane_kind[N_LANES] = {"api", "kernel", "memcpy", "memset", "sync", "collective", "graph"};
/* per lane, the one other integer field whose value varies from event to event (NULL: none) */
static const char *const g_lane_x[N_LANES] = {NULL, NULL, "bytes", "bytes", NULL, "match", NULL};

static struct { uint64_t hash; uint32_t id; uint32_t off; } g_slot[SLOTS]; /* id 0: empty */
static char *g_arena;      /* per template: lane (1 byte), tid (4), body length (4), body */
static size_t g_arena_len, g_arena_cap;
static uint32_t g_n_templates; /* ids given in this stream (ids stay valid: their lines are written) */
static uint32_t g_n_live;      /* of them, those the table still recognises */
static uint64_t g_prev_end[N_LANES], g_last_corr, g_last_wt;
static uint64_t g_gen = 1; /* bumped by every reset: template ids of an earlier stream are void */

int rv_compact_lane(const char *kind) {
    for (int i = 0; i < N_LANES; ++i)
        if (!strcmp(kind, g_lane_kind[i])) return i;
    return -1;
}

int rv_compact_enabled(void) {
    static int on = -1;
    if (on < 0) {
        const char *f = getenv("REVATI_TRACE_FORMAT");
        on = !(f && !strcmp(f, "jsonl"));
    }
    return on;
}

void rv_compact_reset(void) {
    memset(g_slot, 0, sizeof g_slot);
    free(g_arena);
    g_arena = NULL;
    g_arena_len = g_arena_cap = 0;
    g_n_templates = g_n_live = 0;
    memset(g_prev_end, 0, sizeof g_prev_end);
    g_last_corr = g_last_wt = 0;
    g_gen++;
}

uint64_t rv_compact_gen(void) { return g_gen; }

int rv_compact_start(rv_sink *bin) {
    rv_compact_reset();
    size_t avail;
    char *dst = rv_sink_room(bin, sizeof MAGIC - 1, &avail);
    if (!dst) return -1;
    memcpy(dst, MAGIC, sizeof MAGIC - 1);
    rv_sink_commit(bin, sizeof MAGIC - 1);
    return 0;
}

/* The index (0..3) of a varying common field, 4 for the lane's x field, or -1. */
static int varying(int lane, const char *key, size_t n) {
    switch (n) {
    case 4: return memcmp(key, "corr", 4) ? -1 : 2;
    case 6: return memcmp(key, "end_ns", 6) ? -1 : 1;
    case 5:
        if (!memcmp(key, "ts_ns", 5)) return 0;
        if (!memcmp(key, "wt_ns", 5)) return 3;
        break;
    default: break;
    }
    const char *x = g_lane_x[lane];
    return x && strlen(x) == n && !memcmp(x, key, n) ? 4 : -1;
}

/* The index just after the string whose opening quote is b[i]; 0 if it does not end. */
static size_t skip_string(const char *b, size_t n, size_t i) {
    for (++i; i < n;) {
        const char *q = memchr(b + i, '"', n - i);
        if (!q) return 0;
        size_t at = (size_t)(q - b), bs = 0;
        while (at - bs > i && b[at - bs - 1] == '\\') ++bs; /* an even run of backslashes: it ends */
        if (!(bs & 1)) return at + 1;
        i = at + 1;
    }
    return 0;
}

/* End of the JSON value starting at b[i] (a string, object, array or literal); 0 if malformed. */
static size_t skip_value(const char *b, size_t n, size_t i) {
    if (i < n && b[i] == '"') return skip_string(b, n, i);
    int depth = 0;
    for (; i < n; ++i) {
        char c = b[i];
        if (c == '"') {
            i = skip_string(b, n, i);
            if (!i) return 0;
            --i;
        } else if (c == '{' || c == '[') ++depth;
        else if (c == '}' || c == ']') {
            if (--depth < 0) return 0;
            if (!depth) return i + 1;
        } else if (c == ',' && !depth) return i;
    }
    return depth ? 0 : n;
}

/* Copy body into out with the varying values replaced by 0, read into v[]; the template's length,
 * or 0 when the body is not a flat list of "key":value pairs in which each varying key appears once
 * with an unsigned integer. */
static size_t make_template(int lane, const char *b, size_t n, char *out, uint64_t v[N_VALUES]) {
    size_t i = 0, o = 0;
    unsigned seen = 0;
    memset(v, 0, sizeof(uint64_t) * N_VALUES);
    while (i < n) {
        if (b[i] != '"') return 0;
        const char *key = b + i + 1;
        const char *q = memchr(key, '"', n - i - 1);
        if (!q || (size_t)(q - b) + 1 >= n || q[1] != ':') return 0;
        size_t klen = (size_t)(q - key), vstart = (size_t)(q - b) + 2;
        memcpy(out + o, b + i, vstart - i);
        o += vstart - i;
        int idx = varying(lane, key, klen);
        size_t vend;
        if (idx >= 0) {
            if (seen & (1u << idx)) return 0;
            seen |= 1u << idx;
            uint64_t x = 0;
            vend = vstart;
            while (vend < n && b[vend] >= '0' && b[vend] <= '9') x = x * 10 + (uint64_t)(b[vend++] - '0');
            if (vend == vstart || vend - vstart > 20) return 0;
            v[idx] = x;
            out[o++] = '0';
        } else {
            vend = skip_value(b, n, vstart);
            if (!vend || vend == vstart) return 0;
            memcpy(out + o, b + vstart, vend - vstart);
            o += vend - vstart;
        }
        if (vend == n) break;
        if (b[vend] != ',') return 0;
        out[o++] = ',';
        i = vend + 1;
    }
    return o;
}

/* A hash of n bytes, eight at a time (multiply and fold). */
static uint64_t hash_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *c = p;
    for (; n >= 8; c += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, c, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    memcpy(&w, c, n);
    h = (h ^ w ^ ((uint64_t)n << 56)) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 32);
}

/* Forget the templates the table recognises, keeping their ids given: when the table or its arena is
 * full (a long run meets new bodies without end: FlashAttention-3's per-replay KV lengths, the eager
 * launches of each new batch shape), it starts over, and a body met again writes its template line
 * again under a new id. Ids never repeat in a stream, and an id kept by a graph node stays valid
 * (rv_compact_put_id): its line is in the stream. Memory stays within SLOTS and ARENA_MAX. */
static void forget_templates(void) {
    memset(g_slot, 0, sizeof g_slot);
    g_arena_len = 0;
    g_n_live = 0;
}

/* The template's id (from 1), interning it (and writing its line) when new; 0 when the body cannot
 * be held (over ARENA_MAX, or no memory) or the line could not be written (-1 through *err). */
static uint32_t intern(int lane, int tid, const char *t, size_t n, rv_put_line_fn put_line, int *err) {
    uint64_t h = hash_bytes(((uint64_t)(unsigned)lane << 32) | (uint32_t)tid, t, n);
    size_t s = (size_t)(h & (SLOTS - 1));
    for (;; s = (s + 1) & (SLOTS - 1)) {
        if (!g_slot[s].id) break;
        if (g_slot[s].hash != h) continue;
        const char *a = g_arena + g_slot[s].off;
        uint32_t alen;
        int32_t atid;
        memcpy(&atid, a + 1, 4);
        memcpy(&alen, a + 5, 4);
        if (a[0] == (char)lane && atid == tid && alen == n && !memcmp(a + 9, t, n)) return g_slot[s].id;
    }
    if (n + 9 > ARENA_MAX || g_n_templates == UINT32_MAX - 1) return 0;
    if (g_n_live + 1 >= MAX_TEMPLATES || g_arena_len + n + 9 > ARENA_MAX) {
        forget_templates();
        s = (size_t)(h & (SLOTS - 1)); /* the table is empty: the first probe slot is free */
    }
    if (g_arena_len + n + 9 > g_arena_cap) {
        size_t cap = g_arena_cap ? g_arena_cap * 2 : (1u << 16);
        while (cap < g_arena_len + n + 9) cap *= 2;
        char *a = realloc(g_arena, cap);
        if (!a) return 0;
        g_arena = a;
        g_arena_cap = cap;
    }
    uint32_t id = g_n_templates + 1;
    static char line[MAX_BODY + 160];
    int hn = snprintf(line, sizeof line, "{\"k\":\"tmpl\",\"id\":%u,\"line\":{\"k\":\"%s\",\"seq\":0,\"tid\":%d,",
                      (unsigned)id, g_lane_kind[lane], tid);
    memcpy(line + hn, t, n);
    memcpy(line + hn + n, "}}\n", 3);
    if (put_line(line, (size_t)hn + n + 3) != 0) {
        *err = -1;
        return 0;
    }
    char *a = g_arena + g_arena_len;
    a[0] = (char)lane;
    memcpy(a + 1, &tid, 4);
    uint32_t len32 = (uint32_t)n;
    memcpy(a + 5, &len32, 4);
    memcpy(a + 9, t, n);
    g_slot[s].hash = h;
    g_slot[s].id = id;
    g_slot[s].off = (uint32_t)g_arena_len;
    g_arena_len += n + 9;
    g_n_templates = id;
    g_n_live++;
    return id;
}

static uint64_t zigzag(uint64_t delta) {
    int64_t d = (int64_t)delta;
    return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static size_t put_varint(unsigned char *dst, uint64_t v) {
    size_t o = 0;
    while (v >= 0x80) {
        dst[o++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    dst[o++] = (unsigned char)v;
    return o;
}

static uint64_t code_of(uint64_t v, uint64_t *last) {
    if (!v) return 0;
    uint64_t c = zigzag(v - *last) + 1;
    *last = v;
    return c;
}

/* The record of an event whose template is id (its values given). */
static int put_record(rv_sink *bin, int lane, uint32_t id, const uint64_t v[N_VALUES]) {
    size_t avail;
    unsigned char *dst = (unsigned char *)rv_sink_room(bin, 6 * 10, &avail);
    if (!dst) return -1;
    size_t o = 0;
    uint64_t ts = v[0], end = v[1];
    o += put_varint(dst + o, zigzag(ts - g_prev_end[lane]));
    o += put_varint(dst + o, zigzag(end - ts));
    o += put_varint(dst + o, code_of(v[2], &g_last_corr));
    o += put_varint(dst + o, code_of(v[3], &g_last_wt));
    o += put_varint(dst + o, v[4]);
    o += put_varint(dst + o, (uint64_t)id);
    g_prev_end[lane] = end;
    rv_sink_commit(bin, o);
    return 1;
}

int rv_compact_put(rv_sink *bin, int lane, int tid, const char *body, size_t n, rv_put_line_fn put_line,
                   uint32_t *tmpl_id) {
    static char t[MAX_BODY];
    uint64_t v[N_VALUES];
    if (lane < 0 || lane >= N_LANES || n >= MAX_BODY) return 0;
    size_t tn = make_template(lane, body, n, t, v);
    if (!tn) return 0;
    int err = 0;
    uint32_t id = intern(lane, tid, t, tn, put_line, &err);
    if (err) return -1;
    if (!id) return 0;
    if (tmpl_id) *tmpl_id = id;
    return put_record(bin, lane, id, v);
}

int rv_compact_put_id(rv_sink *bin, int lane, uint32_t id, uint64_t ts, uint64_t end, uint64_t corr, uint64_t wt,
                      uint64_t x) {
    if (lane < 0 || lane >= N_LANES || !id || id > g_n_templates) return 0;
    const uint64_t v[N_VALUES] = {ts, end, corr, wt, x};
    return put_record(bin, lane, id, v);
}
