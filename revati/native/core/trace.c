/* revati trace writer: buffered JSON Lines, one stream per process, renamed on close. */
#include "revati/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "revati/devconf.h"
#include "revati/log.h"
#include "revati/runmode.h"
#include "revati/vclock.h"

#define BUF_CAP (1 << 20)
#define MAX_UNIMPL 1024
#define MISSING_SLOTS 8192

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_state; /* 0: not opened, 1: open, 2: disabled or closed */
static int g_fd = -1;
static char g_tmp_path[4300], g_final_path[4200];
static char *g_buf;
static size_t g_len;
static uint64_t g_seq;
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

static void write_all(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(g_fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            rv_error("trace write failed: %s", strerror(errno));
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void flush_locked(void) {
    if (g_fd >= 0 && g_len) write_all(g_buf, g_len);
    g_len = 0;
}

static void atfork_child(void) {
    /* the child owns a fresh stream: the parent's buffered lines are the parent's to write */
    pthread_mutex_init(&g_mu, NULL);
    t_trace_tid = 0;
    atomic_store(&g_thread_ordinal, 0);
    g_lid = -1;
    if (g_state == 1) {
        if (g_fd >= 0) close(g_fd);
        g_fd = -1;
        g_state = 0;
    }
    g_len = 0;
    g_seq = 0;
    g_n_unimpl = 0;
    for (int i = 0; i < MISSING_SLOTS; ++i) { free(g_missing[i].name); g_missing[i].name = NULL; g_missing[i].count = 0; }
}

static void atfork_prepare(void) { pthread_mutex_lock(&g_mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_mu); }

static void register_atfork(void) { pthread_atfork(atfork_prepare, atfork_parent, atfork_child); }

static void at_exit_close(void) { rv_trace_close(); }

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
    if (n > 0 && (size_t)n < sizeof line) {
        memcpy(g_buf + g_len, line, (size_t)n);
        g_len += (size_t)n;
    }
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
            g_fd = open(g_tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (g_fd < 0 && errno != EEXIST) break;
            if (g_fd >= 0 && access(g_final_path, F_OK) == 0) { close(g_fd); unlink(g_tmp_path); g_fd = -1; continue; }
            if (g_fd >= 0) g_lid = lid;
        }
    } else {
        snprintf(g_final_path, sizeof g_final_path, "%s/proc-%d.jsonl", evdir, (int)getpid());
        snprintf(g_tmp_path, sizeof g_tmp_path, "%s.tmp", g_final_path);
        g_fd = open(g_tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    }
    if (g_fd < 0) {
        g_state = 2;
        rv_error("cannot open trace %s: %s", g_tmp_path, strerror(errno));
        return 0;
    }
    if (!g_buf) g_buf = malloc(BUF_CAP);
    if (!g_buf) { close(g_fd); g_fd = -1; g_state = 2; return 0; }
    g_len = 0;
    g_state = 1;
    static int registered;
    if (!registered) { registered = 1; atexit(at_exit_close); }
    emit_proc_header_locked();
    return 1;
}

static void emit_locked(const char *kind, const char *fmt, va_list ap) {
    char head[96];
    int hn = snprintf(head, sizeof head, "{\"k\":\"%s\",\"seq\":%llu,\"tid\":%d,", kind,
                      (unsigned long long)g_seq++, trace_tid());
    if (g_len + (size_t)hn + 4096 > BUF_CAP) flush_locked();
    memcpy(g_buf + g_len, head, (size_t)hn);
    size_t room = BUF_CAP - g_len - (size_t)hn - 2;
    va_list ap2;
    va_copy(ap2, ap);
    int bn = vsnprintf(g_buf + g_len + hn, room, fmt, ap2);
    va_end(ap2);
    if (bn < 0) bn = 0;
    if ((size_t)bn >= room) {
        /* larger than what is left of the buffer: write the head, then the body from the heap */
        g_len += (size_t)hn;
        flush_locked();
        char *big = malloc((size_t)bn + 3);
        if (!big) return;
        vsnprintf(big, (size_t)bn + 1, fmt, ap);
        big[bn] = '}';
        big[bn + 1] = '\n';
        write_all(big, (size_t)bn + 2);
        free(big);
        return;
    }
    g_len += (size_t)hn + (size_t)bn;
    g_buf[g_len++] = '}';
    g_buf[g_len++] = '\n';
}

void rv_trace_emit(const char *kind, const char *fmt, ...) {
    pthread_mutex_lock(&g_mu);
    if (open_locked()) {
        va_list ap;
        va_start(ap, fmt);
        emit_locked(kind, fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&g_mu);
}

void rv_trace_flush(void) {
    pthread_mutex_lock(&g_mu);
    if (g_state == 1) flush_locked();
    pthread_mutex_unlock(&g_mu);
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
    if (i < MAX_UNIMPL) g_unimpl[i].count++;
    pthread_mutex_unlock(&g_mu);
    if (first) rv_warn("%s is not implemented by revati's stand-in (counted; listed by revati report)", name);
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

static void append_raw_locked(const char *s) {
    size_t n = strlen(s);
    if (g_len + n > BUF_CAP) flush_locked();
    if (n > BUF_CAP) { write_all(s, n); return; }
    memcpy(g_buf + g_len, s, n);
    g_len += n;
}

void rv_trace_close(void) {
    pthread_mutex_lock(&g_mu);
    if (g_state != 1) { pthread_mutex_unlock(&g_mu); return; }
    char head[256];
    snprintf(head, sizeof head,
             "{\"k\":\"end\",\"seq\":%llu,\"tid\":%d,\"ts_ns\":%llu,\"wt_ns\":%llu,\"overhead_ns\":%llu,\"unimpl\":{",
             (unsigned long long)g_seq++, trace_tid(), (unsigned long long)rv_vnow(),
             (unsigned long long)rv_wall_ns(), rv_deterministic() ? 0ULL : (unsigned long long)rv_overhead_ns());
    append_raw_locked(head);
    char esc[2048], item[2200];
    for (int i = 0; i < g_n_unimpl; ++i) {
        snprintf(item, sizeof item, "%s\"%s\":%llu", i ? "," : "",
                 rv_json_escape(esc, sizeof esc, g_unimpl[i].name), (unsigned long long)g_unimpl[i].count);
        append_raw_locked(item);
    }
    append_raw_locked("},\"missing\":{");
    int first = 1;
    for (int s = 0; s < MISSING_SLOTS; ++s) {
        if (!g_missing[s].name) continue;
        snprintf(item, sizeof item, "%s\"%s\":%llu", first ? "" : ",",
                 rv_json_escape(esc, sizeof esc, g_missing[s].name), (unsigned long long)g_missing[s].count);
        append_raw_locked(item);
        first = 0;
    }
    append_raw_locked("}}\n");
    flush_locked();
    close(g_fd);
    g_fd = -1;
    g_state = 2;
    if (rename(g_tmp_path, g_final_path) != 0) rv_error("cannot rename trace: %s", strerror(errno));
    pthread_mutex_unlock(&g_mu);
}
