/* revati trace writer: JSON Lines, one stream per process, written straight into a shared mapping of
 * the file (trace_sink.c) so that a crash or a kill loses nothing already emitted; renamed on close. */
#include "revati/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "revati/devconf.h"
#include "revati/hosttime.h"
#include "revati/log.h"
#include "revati/runmode.h"
#include "revati/vclock.h"
#include "revati/trace_level.h"
#include "trace_compact.h"
#include "trace_sink.h"

#define LINE_ROOM 4096 /* room asked of the sink for a line before its length is known */
#define MAX_UNIMPL 1024
#define MISSING_SLOTS 8192

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_state; /* 0: not opened, 1: open, 2: disabled or closed */
static int g_fd = -1;
static char g_tmp_path[4300], g_final_path[4200];
static rv_sink g_sink = {.fd = -1};
/* the compact records of the hot kinds (trace_compact.c), beside the JSON stream */
static rv_sink g_bin = {.fd = -1};
static int g_bin_open;
static char g_bin_tmp[4300], g_bin_final[4200];
static uint64_t g_seq;
static uint64_t g_dropped; /* events not written after the disk filled */
static _Atomic uint64_t g_corr;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static struct { const char *name; uint64_t count; } g_unimpl[MAX_UNIMPL];
static int g_n_unimpl;
static struct { char *name; uint64_t count; } g_missing[MISSING_SLOTS];

static __thread int t_trace_tid; /* what events carry: the OS tid, or a per-process ordinal */
static _Atomic int g_thread_ordinal;
static int g_lid = -1; /* logical process id in deterministic mode */

/* Deterministic runs name threads by the order they first write an event, so that thread ids are
 * the same from run to run. */
static int trace_tid(void) {
    if (!t_trace_tid) t_trace_tid = rv_deterministic() ? atomic_fetch_add(&g_thread_ordinal, 1) + 1 : rv_tid();
    return t_trace_tid;
}

int rv_trace_enabled(void) {
    const char *d = getenv("REVATI_RUN_DIR");
    return d && *d;
}

uint64_t rv_next_corr(void) { return atomic_fetch_add(&g_corr, 1) + 1; }

const char *rv_json_escape(char *dst, size_t n, const char *src) {
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (n == 0) return dst;
    for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p; ++p) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            if (o + 2 >= n) break;
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20) {
            if (o + 6 >= n) break;
            dst[o++] = '\\'; dst[o++] = 'u'; dst[o++] = '0'; dst[o++] = '0';
            dst[o++] = hex[c >> 4]; dst[o++] = hex[c & 15];
        } else if (c >= 0x80) {
            /* bytes outside ASCII are replaced: kernel and API names are ASCII; this keeps the line
             * valid UTF-8 whatever the program passes */
            if (o + 1 >= n) break;
            dst[o++] = '?';
        } else {
            if (o + 1 >= n) break;
            dst[o++] = (char)c;
        }
    }
    dst[o] = 0;
    return dst;
}

/* The disk (or RLIMIT_FSIZE) refused to grow the stream: one last line says so, from the room the
 * sink keeps for it; later events are counted, not written. */
static void stream_full_locked(void) {
    if (g_dropped++) return;
    if (!g_sink.full && g_bin.full) g_sink.err = g_bin.err;
    char line[320];
    int n = snprintf(line, sizeof line,
                     "{\"k\":\"lost\",\"seq\":%llu,\"tid\":%d,\"why\":\"%s\",\"ts_ns\":%llu}\n",
                     (unsigned long long)g_seq++, trace_tid(), strerror(g_sink.err),
                     (unsigned long long)rv_vnow());
    if (n > 0 && (size_t)n < sizeof line) rv_sink_put_reserved(&g_sink, line, (size_t)n);
    rv_error("trace stream %s cannot grow (%s): later events are not written", g_tmp_path,
             strerror(g_sink.err));
}

/* Copy a complete line into the stream; 0, or -1 when the stream could not grow. */
static int put_line_locked(const char *line, size_t n) {
    size_t avail;
    char *dst = rv_sink_room(&g_sink, n, &avail);
    if (!dst) { stream_full_locked(); return -1; }
    memcpy(dst, line, n);
    rv_sink_commit(&g_sink, n);
    return 0;
}

static void query_counts_reset(void);

static void atfork_child(void) {
    /* the child owns a fresh stream: the parent's buffered lines are the parent's to write */
    pthread_mutex_init(&g_mu, NULL);
    t_trace_tid = 0;
    atomic_store(&g_thread_ordinal, 0);
    g_lid = -1;
    if (g_state == 1) {
        rv_sink_forget(&g_sink); /* the mapping and the file are the parent's */
        rv_sink_forget(&g_bin);
        g_bin_open = 0;
        g_fd = -1;
        g_state = 0;
    }
    g_seq = 0;
    g_dropped = 0;
    query_counts_reset();
    rv_compact_reset();
    g_n_unimpl = 0;
    for (int i = 0; i < MISSING_SLOTS; ++i) { free(g_missing[i].name); g_missing[i].name = NULL; g_missing[i].count = 0; }
}

static void atfork_prepare(void) { pthread_mutex_lock(&g_mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_mu); }

static void register_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

static void at_exit_close(void) { rv_trace_close(); }

static void close_stream_locked(int sig);

/* A fatal or terminating signal: end the stream with an `end` line that names the signal, rename it,
 * then die of the signal as the program would have. The lock is taken if it can be; the thread that
 * crashed may hold it (a fault inside the writer), and the process is ending either way. */
static void on_signal(int sig) {
    int locked = 0;
    for (int i = 0; i < 1000 && !locked; ++i) {
        locked = pthread_mutex_trylock(&g_mu) == 0;
        if (!locked) usleep(10);
    }
    if (g_state == 1) close_stream_locked(sig);
    if (locked) pthread_mutex_unlock(&g_mu);
    rv_signal_reset_default(sig);
    raise(sig); /* pending until this handler returns; a fault re-faults with the default action */
}

static void take_signals(void) {
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTERM, SIGINT, SIGHUP, SIGQUIT};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; ++i) rv_signal_take_default(sigs[i], on_signal);
}

static int env_rank(void) {
    const char *names[] = {"RANK", "LOCAL_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", NULL};
    for (int i = 0; names[i]; ++i) {
        const char *v = getenv(names[i]);
        if (v && *v) return atoi(v);
    }
    return -1;
}


static void emit_proc_header_locked(void) {
    char argv_json[8192];
    size_t o = 0;
    argv_json[o++] = '[';
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char raw[4096];
        ssize_t n = read(fd, raw, sizeof raw - 1);
        close(fd);
        if (n > 0) {
            raw[n] = 0;
            int first = 1;
            for (ssize_t i = 0; i < n; i += (ssize_t)strlen(raw + i) + 1) {
                char esc[2048];
                rv_json_escape(esc, sizeof esc, raw + i);
                size_t need = strlen(esc) + 4;
                if (o + need >= sizeof argv_json - 2) break;
                o += (size_t)snprintf(argv_json + o, sizeof argv_json - o, "%s\"%s\"", first ? "" : ",", esc);
                first = 0;
            }
        }
    }
    argv_json[o++] = ']';
    argv_json[o] = 0;
    const rv_devconf *c = rv_devconf_get();
    char prof[128];
    rv_json_escape(prof, sizeof prof, c->profile);
    char line[10000];
    int n = snprintf(line, sizeof line,
                     "{\"k\":\"proc\",\"seq\":%llu,\"tid\":%d,\"pid\":%d,\"ppid\":%d,\"rank\":%d,"
                     "\"argv\":%s,\"device\":\"%s\",\"num_gpus\":%d,\"ts_ns\":%llu,\"wt_ns\":%llu}\n",
                     (unsigned long long)g_seq++, trace_tid(), g_lid >= 0 ? g_lid : (int)getpid(),
                     g_lid >= 0 ? 0 : (int)getppid(), env_rank(), argv_json, prof, c->count,
                     (unsigned long long)rv_vnow(), (unsigned long long)rv_wall_ns());
    if (n > 0 && (size_t)n < sizeof line) put_line_locked(line, (size_t)n);
}

/* The .bin stream beside the JSON one (same name, .bin for .jsonl); without it every event is a
 * JSON line. */
static void open_compact_locked(void) {
    g_bin_open = 0;
    if (!rv_compact_enabled()) return;
    size_t stem = strlen(g_final_path) - strlen(".jsonl");
    snprintf(g_bin_final, sizeof g_bin_final, "%.*s.bin", (int)stem, g_final_path);
    snprintf(g_bin_tmp, sizeof g_bin_tmp, "%s.tmp", g_bin_final);
    int fd = open(g_bin_tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || rv_sink_open(&g_bin, fd) != 0 || rv_compact_start(&g_bin) != 0) {
        rv_warn("cannot write compact trace records to %s (%s): events are written as JSON lines",
                g_bin_tmp, strerror(errno));
        if (fd >= 0) { rv_sink_forget(&g_bin); unlink(g_bin_tmp); }
        return;
    }
    g_bin_open = 1;
}

static int open_locked(void) {
    if (g_state == 1) return 1;
    if (g_state == 2) return 0;
    const char *dir = getenv("REVATI_RUN_DIR");
    if (!dir || !*dir) { g_state = 2; return 0; }
    pthread_once(&g_atfork_once, register_atfork);
    char evdir[4200];
    snprintf(evdir, sizeof evdir, "%s/events", dir);
    mkdir(evdir, 0777);
    if (rv_deterministic()) {
        /* pids differ from run to run: number the streams in the order processes open them */
        g_fd = -1;
        for (int lid = 0; lid < 100000 && g_fd < 0; ++lid) {
            snprintf(g_final_path, sizeof g_final_path, "%s/proc-%d.jsonl", evdir, lid);
            snprintf(g_tmp_path, sizeof g_tmp_path, "%s.tmp", g_final_path);
            g_fd = open(g_tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (g_fd < 0 && errno != EEXIST) break;
            if (g_fd >= 0 && access(g_final_path, F_OK) == 0) { close(g_fd); unlink(g_tmp_path); g_fd = -1; continue; }
            if (g_fd >= 0) g_lid = lid;
        }
    } else {
        snprintf(g_final_path, sizeof g_final_path, "%s/proc-%d.jsonl", evdir, (int)getpid());
        snprintf(g_tmp_path, sizeof g_tmp_path, "%s.tmp", g_final_path);
        g_fd = open(g_tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (g_fd < 0) {
        g_state = 2;
        rv_error("cannot open trace %s: %s", g_tmp_path, strerror(errno));
        return 0;
    }
    if (rv_sink_open(&g_sink, g_fd) != 0) {
        rv_error("cannot map trace %s: %s", g_tmp_path, strerror(errno));
        close(g_fd);
        unlink(g_tmp_path);
        g_fd = -1;
        g_state = 2;
        return 0;
    }
    g_state = 1;
    g_dropped = 0;
    open_compact_locked();
    static int registered;
    if (!registered) { registered = 1; atexit(at_exit_close); }
    take_signals();
    emit_proc_header_locked();
    return 1;
}

static int put_line_cb(const char *line, size_t n) { return put_line_locked(line, n); }

/* A hot kind as a compact record; 1 when written (or lost to a full disk), 0 to write the line. */
static int emit_compact_locked(const char *kind, const char *fmt, va_list ap, uint32_t *tmpl_id) {
    int lane = rv_compact_lane(kind);
    if (lane < 0) return 0;
    static char body[16384];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(body, sizeof body, fmt, ap2);
    va_end(ap2);
    if (n < 0 || (size_t)n >= sizeof body) return 0;
    int rc = rv_compact_put(&g_bin, lane, trace_tid(), body, (size_t)n, put_line_cb, tmpl_id);
    if (rc < 0) {
        stream_full_locked();
        return 1;
    }
    if (rc > 0) g_seq++;
    return rc;
}

static void emit_locked(const char *kind, const char *fmt, va_list ap, uint32_t *tmpl_id) {
    if (g_dropped) { g_dropped++; return; }
    if (g_bin_open && emit_compact_locked(kind, fmt, ap, tmpl_id)) return;
    char head[96];
    int hn = snprintf(head, sizeof head, "{\"k\":\"%s\",\"seq\":%llu,\"tid\":%d,", kind,
                      (unsigned long long)g_seq, trace_tid());
    size_t avail;
    char *dst = rv_sink_room(&g_sink, LINE_ROOM, &avail);
    if (!dst) { stream_full_locked(); return; }
    va_list ap2;
    va_copy(ap2, ap);
    int bn = vsnprintf(dst + hn, avail - (size_t)hn - 2, fmt, ap2);
    va_end(ap2);
    if (bn < 0) bn = 0;
    if ((size_t)bn >= avail - (size_t)hn - 2) {
        /* longer than the room asked for: ask for its length and format it again */
        dst = rv_sink_room(&g_sink, (size_t)hn + (size_t)bn + 2, &avail);
        if (!dst) { stream_full_locked(); return; }
        vsnprintf(dst + hn, (size_t)bn + 1, fmt, ap);
    }
    memcpy(dst, head, (size_t)hn);
    dst[hn + bn] = '}';
    dst[hn + bn + 1] = '\n';
    rv_sink_commit(&g_sink, (size_t)hn + (size_t)bn + 2);
    g_seq++;
}

void rv_trace_emit(const char *kind, const char *fmt, ...) {
    pthread_mutex_lock(&g_mu);
    if (open_locked()) {
        va_list ap;
        va_start(ap, fmt);
        emit_locked(kind, fmt, ap, NULL);
        va_end(ap);
    }
    pthread_mutex_unlock(&g_mu);
}

void rv_trace_emit_keep(rv_trace_tmpl *c, const char *kind, const char *fmt, ...) {
    c->id = 0;
    pthread_mutex_lock(&g_mu);
    if (open_locked()) {
        uint32_t id = 0;
        va_list ap;
        va_start(ap, fmt);
        emit_locked(kind, fmt, ap, &id);
        va_end(ap);
        if (id && g_bin_open) c->id = id, c->tid = trace_tid(), c->gen = rv_compact_gen();
    }
    pthread_mutex_unlock(&g_mu);
}

int rv_trace_emit_kept(const rv_trace_tmpl *c, const char *kind, uint64_t ts, uint64_t end, uint64_t corr,
                       uint64_t x) {
    int done = 0;
    pthread_mutex_lock(&g_mu);
    if (c->id && g_state == 1 && g_bin_open && c->gen == rv_compact_gen() && c->tid == trace_tid()) {
        if (g_dropped) {
            g_dropped++;
            done = 1;
        } else {
            int rc = rv_compact_put_id(&g_bin, rv_compact_lane(kind), c->id, ts, end, corr, 0, x);
            if (rc < 0) stream_full_locked();
            else if (rc > 0) g_seq++;
            done = rc != 0;
        }
    }
    pthread_mutex_unlock(&g_mu);
    return done;
}

int rv_trace_thread(void) { return trace_tid(); }

void rv_trace_flush(void) {
    /* nothing is buffered: every line is in the file's pages as soon as it is written */
}

void rv_unimplemented(const char *name) {
    pthread_mutex_lock(&g_mu);
    int i;
    for (i = 0; i < g_n_unimpl; ++i)
        if (g_unimpl[i].name == name || !strcmp(g_unimpl[i].name, name)) break;
    int first = 0;
    if (i == g_n_unimpl && g_n_unimpl < MAX_UNIMPL) {
        g_unimpl[g_n_unimpl].name = name;
        g_unimpl[g_n_unimpl].count = 0;
        g_n_unimpl++;
        first = 1;
    }
    uint64_t n = 0;
    if (i < MAX_UNIMPL) n = ++g_unimpl[i].count;
    pthread_mutex_unlock(&g_mu);
    if (first) rv_warn("%s is not implemented by revati's stand-in (counted; listed by revati report)", name);
    /* the count also reaches the stream at 1, 2, 4, 8, ...: a process that never writes its end line
     * (killed) still shows each name met, with a count at least half the true one */
    if (n && !(n & (n - 1))) {
        char esc[256];
        rv_trace_emit("unimpl", "\"name\":\"%s\",\"n\":%llu", rv_json_escape(esc, sizeof esc, name),
                      (unsigned long long)n);
    }
}

int rv_trace_proc_id(void) {
    pthread_mutex_lock(&g_mu);
    int open = open_locked();
    pthread_mutex_unlock(&g_mu);
    if (!open) return -1;
    return g_lid >= 0 ? g_lid : (int)getpid();
}

void rv_count_missing(const char *kernel_name) {
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = kernel_name; *p; ++p) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    pthread_mutex_lock(&g_mu);
    for (int probe = 0; probe < MISSING_SLOTS; ++probe) {
        size_t s = (size_t)((h + (uint64_t)probe) % MISSING_SLOTS);
        if (!g_missing[s].name) {
            g_missing[s].name = strdup(kernel_name);
            g_missing[s].count = 1;
            break;
        }
        if (!strcmp(g_missing[s].name, kernel_name)) { g_missing[s].count++; break; }
    }
    pthread_mutex_unlock(&g_mu);
}

#define QUERY_SLOTS 4096
static pthread_mutex_t g_query_mu = PTHREAD_MUTEX_INITIALIZER;
static struct { const char *name; int tid; uint64_t n; } g_queries[QUERY_SLOTS];

void rv_count_query(const char *name) {
    int tid = rv_trace_thread();
    uintptr_t h = (((uintptr_t)name >> 3) ^ ((uintptr_t)tid * 0x9E3779B1u)) * 0x9E3779B97F4A7C15ULL;
    uint64_t n = 0;
    pthread_mutex_lock(&g_query_mu);
    for (int probe = 0; probe < QUERY_SLOTS; ++probe) {
        size_t s = (size_t)((h >> 20) + (uintptr_t)probe) % QUERY_SLOTS;
        if (!g_queries[s].name) { g_queries[s].name = name; g_queries[s].tid = tid; }
        if (g_queries[s].name == name && g_queries[s].tid == tid) { n = ++g_queries[s].n; break; }
    }
    pthread_mutex_unlock(&g_query_mu);
    /* the count also reaches the stream at 1, 2, 4, 8, ...: a killed process keeps its counts
     * within a factor of two, at a few lines per name and thread */
    if (n && !(n & (n - 1)))
        rv_trace_emit("queries", "\"name\":\"%s\",\"n\":%llu", name, (unsigned long long)n);
}

static int query_before(int a, int b) {
    int c = strcmp(g_queries[a].name, g_queries[b].name);
    return c < 0 || (c == 0 && g_queries[a].tid < g_queries[b].tid);
}

/* The counts as the inside of a JSON object, sorted by name and thread (the table's order follows
 * name addresses, which differ from run to run); an insertion sort, since this may run in a signal
 * handler, where qsort could allocate. */
static size_t query_counts_json(char *dst, size_t cap) {
    static int order[QUERY_SLOTS];
    size_t o = 0;
    int n = 0;
    pthread_mutex_lock(&g_query_mu);
    for (int s = 0; s < QUERY_SLOTS; ++s) {
        if (!g_queries[s].name) continue;
        int j = n++;
        while (j > 0 && query_before(s, order[j - 1])) { order[j] = order[j - 1]; --j; }
        order[j] = s;
    }
    for (int i = 0; i < n && o + 128 < cap; ++i) {
        int s = order[i];
        o += (size_t)snprintf(dst + o, cap - o, "%s\"%s@%d\":%llu", i ? "," : "", g_queries[s].name,
                              g_queries[s].tid, (unsigned long long)g_queries[s].n);
    }
    pthread_mutex_unlock(&g_query_mu);
    dst[o] = 0;
    return o;
}

static void query_counts_reset(void) {
    memset(g_queries, 0, sizeof g_queries);
    pthread_mutex_init(&g_query_mu, NULL);
}

/* The end line is built here, not on the heap: it may be written from a signal handler. */
static char g_end_line[1 << 18];

static size_t end_add(size_t o, const char *str) {
    size_t n = strlen(str);
    if (o + n + 8 >= sizeof g_end_line) return o; /* no room: this item is left out */
    memcpy(g_end_line + o, str, n);
    return o + n;
}

/* The end line (with the signal that ended the process, when one did), then the final name. After a
 * full disk it goes into the room the sink kept, if it fits. */
static void close_stream_locked(int sig) {
    char item[2400], esc[2048];
    snprintf(item, sizeof item,
             "{\"k\":\"end\",\"seq\":%llu,\"tid\":%d,\"ts_ns\":%llu,\"wt_ns\":%llu,\"overhead_ns\":%llu,",
             (unsigned long long)g_seq++, trace_tid(), (unsigned long long)rv_vnow(),
             (unsigned long long)rv_wall_ns(), rv_deterministic() ? 0ULL : (unsigned long long)rv_overhead_ns());
    size_t o = end_add(0, item);
    if (sig) {
        snprintf(item, sizeof item, "\"signal\":%d,", sig);
        o = end_add(o, item);
    }
    if (g_dropped) {
        snprintf(item, sizeof item, "\"dropped\":%llu,", (unsigned long long)(g_dropped - 1));
        o = end_add(o, item);
    }
    o = end_add(o, "\"unimpl\":{");
    for (int i = 0; i < g_n_unimpl; ++i) {
        snprintf(item, sizeof item, "%s\"%s\":%llu", i ? "," : "",
                 rv_json_escape(esc, sizeof esc, g_unimpl[i].name), (unsigned long long)g_unimpl[i].count);
        o = end_add(o, item);
    }
    o = end_add(o, "},\"queries\":{");
    static char queries[1 << 16];
    query_counts_json(queries, sizeof queries);
    o = end_add(o, queries);
    o = end_add(o, "},\"missing\":{");
    int first = 1;
    for (int s = 0; s < MISSING_SLOTS; ++s) {
        if (!g_missing[s].name) continue;
        snprintf(item, sizeof item, "%s\"%s\":%llu", first ? "" : ",",
                 rv_json_escape(esc, sizeof esc, g_missing[s].name), (unsigned long long)g_missing[s].count);
        size_t o2 = end_add(o, item);
        if (o2 == o) break;
        o = o2;
        first = 0;
    }
    memcpy(g_end_line + o, "}}\n", 3);
    o += 3;
    if (g_sink.full) rv_sink_put_reserved(&g_sink, g_end_line, o);
    else put_line_locked(g_end_line, o);
    if (g_bin_open) {
        /* the records first: a stream renamed .jsonl has its .bin renamed too */
        rv_sink_close(&g_bin);
        g_bin_open = 0;
        if (rename(g_bin_tmp, g_bin_final) != 0) rv_error("cannot rename trace: %s", strerror(errno));
    }
    rv_sink_close(&g_sink);
    g_fd = -1;
    g_state = 2;
    if (rename(g_tmp_path, g_final_path) != 0) rv_error("cannot rename trace: %s", strerror(errno));
}

void rv_trace_close(void) {
    pthread_mutex_lock(&g_mu);
    if (g_state == 1) close_stream_locked(0);
    pthread_mutex_unlock(&g_mu);
}
