/* revati profile shim: the per-process JSON-lines stream, one mutex, reopened in a forked child. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "profile.h"

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static FILE *out_f;
static pid_t out_pid;

static void open_locked(void) {
    const char *dir = getenv("REVATI_PROFILE_DIR");
    if (!dir || !*dir) dir = ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/raw", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/raw/prof-%d.jsonl", dir, (int)getpid());
    out_f = fopen(path, "w");
    if (!out_f) {
        fprintf(stderr, "[revati profile] cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    setvbuf(out_f, NULL, _IOFBF, 1 << 20);
    out_pid = getpid();
}

void rp_out_write(const char *line, size_t n) {
    pthread_mutex_lock(&out_mu);
    if (!out_f || out_pid != getpid()) {
        out_f = NULL; /* a forked child must not share the parent's buffer */
        open_locked();
    }
    if (out_f) {
        fwrite(line, 1, n, out_f);
        fputc('\n', out_f);
    }
    pthread_mutex_unlock(&out_mu);
}

void rp_out_flush(void) {
    pthread_mutex_lock(&out_mu);
    if (out_f && out_pid == getpid()) fflush(out_f);
    pthread_mutex_unlock(&out_mu);
}

void rp_out_close(void) {
    pthread_mutex_lock(&out_mu);
    if (out_f && out_pid == getpid()) fclose(out_f);
    out_f = NULL;
    pthread_mutex_unlock(&out_mu);
}

void rp_put(rp_line *l, const char *s) {
    while (*s && l->p < l->end) *l->p++ = *s++;
}

void rp_put_u64(rp_line *l, uint64_t v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10), v /= 10;
    while (v);
    while (n && l->p < l->end) *l->p++ = tmp[--n];
}

void rp_put_i64(rp_line *l, int64_t v) {
    if (v < 0) {
        rp_put(l, "-");
        rp_put_u64(l, (uint64_t)0 - (uint64_t)v);
    } else {
        rp_put_u64(l, (uint64_t)v);
    }
}

void rp_put_str(rp_line *l, const char *s) {
    static const char hex[] = "0123456789abcdef";
    rp_put(l, "\"");
    for (; s && *s && l->p + 6 < l->end; ++s) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            *l->p++ = '\\';
            *l->p++ = (char)c;
        } else if (c < 0x20) {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            rp_put(l, u);
        } else {
            *l->p++ = (char)c;
        }
    }
    rp_put(l, "\"");
}

int rp_line_ok(const rp_line *l) { return l->p < l->end; }
