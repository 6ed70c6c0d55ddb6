/* revati messages carry time: a message a process sends at its virtual time t, through a pipe or a
 * socket, is never received before t. Each write to a pipe or socket publishes the sender's virtual
 * now as the stamp of that channel (a pipe or FIFO: its inode; a socket: its direction, from the
 * two ends' addresses), and a read of a pipe or socket that returns data raises the receiver's clock
 * (as adopted time) to the stamp of the channel it read. revati does not read the data, so the stamp
 * is the channel's latest send, not the message's: conservative when a later send's data is not read
 * yet, and channels that hash to one entry share it. Messages through shared memory, which revati
 * does not see (vLLM's broadcast queue), stamp the sending process instead (revati_message_sent) and
 * raise the receiver to the latest stamp of every other process that sent since it last looked.
 * docs/coordination.md ("Messages carry time"). */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include "revati/hosttime.h"
#include "revati/vclock.h"
#include "world_scan.h"

/* What each fd number is, asked once (an fstat, and a socket's two addresses) and kept until the
 * number may name something else: forgotten when the fd is closed or replaced through the calls
 * below (close, close_range, dup2, dup3) and when one of the calls below hands the number out anew
 * (socket, socketpair, pipe, pipe2, accept, accept4), so a number closed behind revati's back (libc's
 * own fclose) and reused by one of those is asked again. Not covered: a number closed and reopened
 * both behind revati's back (fclose, then fopen or popen of libc's own): it keeps its old answer
 * (docs/coordination.md). The answer: 0 unknown; FD_KNOWN alone: not a channel; FD_KNOWN|FD_CHANNEL
 * with the channel entry this end sends to (bits 12-23) and the one it receives from (bits 0-11). */
#define FD_KINDS 65536
#define FD_KNOWN 0x80000000u
#define FD_CHANNEL 0x40000000u
#define FD_EVENT 0x20000000u /* an fd of no file type (an anonymous inode): its writes are eventfd signals */
#define SLOT_MASK 0xfffu
_Static_assert(RV_CHANNELS == SLOT_MASK + 1, "channel entries: 12 bits");
static _Atomic uint32_t g_fd_info[FD_KINDS];

static void forget_fd(int fd) {
    if (fd >= 0 && fd < FD_KINDS) atomic_store_explicit(&g_fd_info[fd], 0, memory_order_relaxed);
}

/* FNV-1a over a few byte ranges: a channel's entry */
static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}
#define FNV0 1469598103934665603ULL

/* An address as both ends see it: the family, and for IP the port and address only (an IPv4
 * address mapped into IPv6, as a dual-stack listener's accepted sockets show the peer, is taken as
 * IPv4; flow labels and padding are left out); for Unix sockets the name. */
static uint64_t hash_addr(uint64_t h, const struct sockaddr_storage *a, socklen_t len) {
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    sa_family_t f = a->ss_family;
    if (f == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)a;
        if (memcmp(s6->sin6_addr.s6_addr, v4mapped, 12) == 0) {
            f = AF_INET;
            h = fnv(fnv(h, &f, sizeof f), &s6->sin6_port, sizeof s6->sin6_port);
            return fnv(h, s6->sin6_addr.s6_addr + 12, 4);
        }
        h = fnv(fnv(h, &f, sizeof f), &s6->sin6_port, sizeof s6->sin6_port);
        return fnv(h, s6->sin6_addr.s6_addr, 16);
    }
    if (f == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)a;
        h = fnv(fnv(h, &f, sizeof f), &s4->sin_port, sizeof s4->sin_port);
        return fnv(h, &s4->sin_addr, sizeof s4->sin_addr);
    }
    return fnv(h, a, len);
}

/* A connected socket's entries: its direction from this end is (own address, peer's address), the
 * other end sees the same pair swapped, so the entry this end sends to is the one the other end
 * receives from. Two unnamed Unix ends (a socketpair) have no addresses: their entry is the
 * creator's pid (SO_PEERCRED, the same at both ends and in every process that inherits them), both
 * directions. An unconnected socket (no peer) shares entry 0 with every other one. */
static uint32_t socket_slots(int fd) {
    struct sockaddr_storage a, b;
    socklen_t la = sizeof a, lb = sizeof b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (getsockname(fd, (struct sockaddr *)&a, &la) != 0 || getpeername(fd, (struct sockaddr *)&b, &lb) != 0)
        return 0;
    if (la > sizeof a) la = sizeof a;
    if (lb > sizeof b) lb = sizeof b;
    if (a.ss_family == AF_UNIX && la <= sizeof(sa_family_t) && lb <= sizeof(sa_family_t)) {
        struct ucred cr;
        socklen_t lc = sizeof cr;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &lc) != 0) cr.pid = 0;
        uint32_t k = (uint32_t)fnv(fnv(FNV0, "pair", 4), &cr.pid, sizeof cr.pid) & SLOT_MASK;
        return k << 12 | k;
    }
    uint32_t send = (uint32_t)hash_addr(hash_addr(FNV0, &a, la), &b, lb) & SLOT_MASK;
    uint32_t recv = (uint32_t)hash_addr(hash_addr(FNV0, &b, lb), &a, la) & SLOT_MASK;
    return send << 12 | recv;
}

/* fd's answer (asked now if unknown). socket: a socket call's fd, a socket without an fstat. */
static uint32_t fd_info(int fd, int socket) {
    if (fd >= 0 && fd < FD_KINDS) {
        uint32_t k = atomic_load_explicit(&g_fd_info[fd], memory_order_relaxed);
        if (k) return k;
    }
    int e = errno;
    struct stat st;
    uint32_t k = FD_KNOWN;
    if (fstat(fd, &st) == 0) {
        if (S_ISSOCK(st.st_mode) || (socket && !S_ISFIFO(st.st_mode))) {
            k |= FD_CHANNEL | socket_slots(fd);
        } else if (S_ISFIFO(st.st_mode)) { /* one direction: both ends name the same inode */
            uint32_t s = (uint32_t)fnv(fnv(FNV0, &st.st_dev, sizeof st.st_dev), &st.st_ino, sizeof st.st_ino) & SLOT_MASK;
            k |= FD_CHANNEL | s << 12 | s;
        } else if ((st.st_mode & S_IFMT) == 0) { /* libzmq's mailboxes wake their I/O threads so */
            k |= FD_EVENT;
        }
    } else if (socket) {
        k |= FD_CHANNEL; /* entry 0 */
    } else {
        errno = e;
        return FD_KNOWN;
    }
    errno = e;
    if (fd >= 0 && fd < FD_KINDS) atomic_store_explicit(&g_fd_info[fd], k, memory_order_relaxed);
    return k;
}

/* Before a write to fd: publish this process's now as its channel's stamp (before, so that a
 * receiver woken by the data finds it). Returns whether the write can end a wait (a message, an
 * eventfd signal): sent() counts it. */
static int sending(int fd, int socket) {
    if (!rv_clock_ready()) return 0;
    uint32_t k = fd_info(fd, socket);
    if (!(k & FD_CHANNEL)) return (k & FD_EVENT) != 0;
    rv_enter();
    _Atomic uint64_t *at = &rv_world_get()->chan_at[(k >> 12) & SLOT_MASK];
    rv_vtime_ns now = rv_vnow();
    uint64_t prev = atomic_load_explicit(at, memory_order_relaxed);
    while (now > prev && !atomic_compare_exchange_weak(at, &prev, now)) {}
    rv_leave();
    return 1;
}

/* After such a write (r: its result): it may end another thread's wait; a waiter doing its checks
 * since counts as running (world.c). Counted after the write, so that a waiter whose real call began
 * before the count is one the write may have woken. */
static ssize_t sent(int ev, ssize_t r) {
    if (ev && r >= 0) {
        int e = errno;
        rv_world_event();
        errno = e;
    }
    return r;
}

/* the stamp of each entry that this process has already been raised to (or found behind it): its
 * clock only grows, so the same stamp needs no second look */
static _Atomic uint64_t g_chan_seen[RV_CHANNELS];

/* After a read of fd that returned r: raise this process to the stamp of the channel read. */
static void received(int fd, ssize_t r, int socket) {
    if (r <= 0 || !rv_clock_ready()) return;
    uint32_t k = fd_info(fd, socket);
    if (!(k & FD_CHANNEL)) return;
    uint32_t slot = k & SLOT_MASK;
    uint64_t at = atomic_load_explicit(&rv_world_get()->chan_at[slot], memory_order_acquire);
    if (!at || at == atomic_load_explicit(&g_chan_seen[slot], memory_order_relaxed)) return;
    int e = errno;
    rv_enter();
    rv_vtime_ns now = rv_vnow_peek();
    if (at > now) rv_adopt_charges(at - now);
    atomic_store_explicit(&g_chan_seen[slot], at, memory_order_relaxed);
    rv_leave();
    errno = e;
}

/* ---- messages through shared memory: stamped per process ------------------------------------- */

/* what this process saw at its last look: the world's send count, its own, and each slot's (a slot's
 * owner may change) */
static _Atomic uint32_t g_seen_total;
static _Atomic uint32_t g_own_sends, g_own_seen;
static int32_t g_seen_pid[RV_MAX_PROCS];
static uint32_t g_seen_sends[RV_MAX_PROCS];

/* Whether another process sent since the last look (the world's count grew by more than this
 * process's own sends). */
static int others_sent(void) {
    uint32_t total = atomic_load_explicit(&rv_world_get()->sends, memory_order_acquire);
    uint32_t own = atomic_load_explicit(&g_own_sends, memory_order_relaxed);
    uint32_t grew = total - atomic_load_explicit(&g_seen_total, memory_order_relaxed);
    return grew != own - atomic_load_explicit(&g_own_seen, memory_order_relaxed);
}

static void shm_sending(void) {
    if (!rv_clock_ready()) return;
    rv_enter();
    rv_charges *c = rv_own_charges();
    if (c) {
        rv_vtime_ns now = rv_vnow();
        uint64_t prev = atomic_load_explicit(&c->sent_at, memory_order_relaxed);
        while (now > prev && !atomic_compare_exchange_weak(&c->sent_at, &prev, now)) {}
        atomic_fetch_add_explicit(&c->sends, 1, memory_order_release);
        atomic_fetch_add_explicit(&g_own_sends, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&rv_world_get()->sends, 1, memory_order_release);
    }
    rv_leave();
}

/* The look itself (in a bracket): the latest stamp of every other process that sent since. */
static void look(void) {
    rv_world *w = rv_world_get();
    atomic_store_explicit(&g_seen_total, atomic_load_explicit(&w->sends, memory_order_acquire), memory_order_relaxed);
    atomic_store_explicit(&g_own_seen, atomic_load_explicit(&g_own_sends, memory_order_relaxed), memory_order_relaxed);
    rv_charges *mine = rv_own_charges();
    rv_vtime_ns latest = 0;
    for (int i = 0, hi_ = rv_charges_hi(w); i < hi_; ++i) {
        rv_charges *c = &w->charges[i];
        int32_t pid = atomic_load_explicit(&c->pid, memory_order_relaxed);
        if (!pid || c == mine) continue;
        uint32_t n = atomic_load_explicit(&c->sends, memory_order_acquire);
        if (pid == g_seen_pid[i] && n == g_seen_sends[i]) continue;
        g_seen_pid[i] = pid;
        g_seen_sends[i] = n;
        if (!n) continue;
        rv_vtime_ns at = atomic_load_explicit(&c->sent_at, memory_order_relaxed);
        if (at > latest) latest = at;
    }
    rv_vtime_ns now = rv_vnow_peek();
    if (latest > now) rv_adopt_charges(latest - now);
}

void rv_msg_received(void) {
    if (!rv_clock_ready() || !others_sent()) return; /* nobody else sent: one comparison */
    int e = errno;
    rv_enter();
    look();
    rv_leave();
    errno = e;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*send_fn)(int, const void *, size_t, int);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef ssize_t (*readv_fn)(int, const struct iovec *, int);
typedef ssize_t (*recv_fn)(int, void *, size_t, int);
typedef ssize_t (*recvfrom_fn)(int, void *, size_t, int, struct sockaddr *, socklen_t *);
typedef ssize_t (*recvmsg_fn)(int, struct msghdr *, int);
typedef int (*eventfd_write_fn)(int, eventfd_t);
typedef int (*close_fn)(int);
typedef int (*close_range_fn)(unsigned, unsigned, int);
typedef int (*dup2_fn)(int, int);
typedef int (*dup3_fn)(int, int, int);
typedef int (*socket_fn)(int, int, int);
typedef int (*socketpair_fn)(int, int, int, int[2]);
typedef int (*pipe_fn)(int[2]);
typedef int (*pipe2_fn)(int[2], int);
typedef int (*accept_fn)(int, struct sockaddr *, socklen_t *);
typedef int (*accept4_fn)(int, struct sockaddr *, socklen_t *, int);
typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);

#define NEXT(name)        \
    static name##_fn real_; \
    if (!real_) real_ = (name##_fn)dlsym(RTLD_NEXT, #name)

// write: a write to a pipe or socket is a message sent at this process's now
RV_EXPORT ssize_t write(int fd, const void *buf, size_t n) {
    NEXT(write);
    int ev = sending(fd, 0);
    return sent(ev, real_(fd, buf, n));
}

// eventfd_write: glibc's writes the eventfd itself (no interposed write): counted as an event that
// can end a wait, as a write of an eventfd is
RV_EXPORT int eventfd_write(int fd, eventfd_t value) {
    NEXT(eventfd_write);
    return (int)sent(rv_clock_ready(), real_(fd, value));
}

// writev: as write
RV_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt) {
    NEXT(writev);
    int ev = sending(fd, 0);
    return sent(ev, real_(fd, iov, cnt));
}

// send: a message sent at this process's now
RV_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags) {
    NEXT(send);
    int ev = sending(fd, 1);
    return sent(ev, real_(fd, buf, n, flags));
}

// sendto: as send
RV_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tl) {
    NEXT(sendto);
    int ev = sending(fd, 1);
    return sent(ev, real_(fd, buf, n, flags, to, tl));
}

// sendmsg: as send
RV_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags) {
    NEXT(sendmsg);
    int ev = sending(fd, 1);
    return sent(ev, real_(fd, m, flags));
}

// read: data read from a pipe or socket raises this process's clock to its senders' send time
RV_EXPORT ssize_t read(int fd, void *buf, size_t n) {
    NEXT(read);
    ssize_t r = real_(fd, buf, n);
    received(fd, r, 0);
    return r;
}

// readv: as read
RV_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt) {
    NEXT(readv);
    ssize_t r = real_(fd, iov, cnt);
    received(fd, r, 0);
    return r;
}

// recv: as read
RV_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags) {
    NEXT(recv);
    ssize_t r = real_(fd, buf, n, flags);
    received(fd, r, 1);
    return r;
}

// recvfrom: as read
RV_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fl) {
    NEXT(recvfrom);
    ssize_t r = real_(fd, buf, n, flags, from, fl);
    received(fd, r, 1);
    return r;
}

// recvmsg: as read
RV_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags) {
    NEXT(recvmsg);
    ssize_t r = real_(fd, m, flags);
    received(fd, r, 1);
    return r;
}

// revati_message_sent: a message leaves this process through a channel revati does not see (shared
// memory: vLLM's broadcast queue, through its plugin): stamped as a write to a socket is
RV_EXPORT void revati_message_sent(void) { shm_sending(); }

// revati_message_received: a message came through such a channel: this process is raised to its
// senders' send time as for a read of a socket
RV_EXPORT void revati_message_received(void) { rv_msg_received(); }

/* ---- fd numbers that change what they name: the kind cache forgets them ---------------------- */

// close: the number may be handed out again
RV_EXPORT int close(int fd) {
    NEXT(close);
    forget_fd(fd);
    return real_(fd);
}

// close_range: as close, for each number of the range
RV_EXPORT int close_range(unsigned first, unsigned last, int flags) {
    NEXT(close_range);
    for (unsigned fd = first; fd <= last && fd < FD_KINDS; ++fd) forget_fd((int)fd);
    return real_ ? real_(first, last, flags) : (errno = ENOSYS, -1);
}

// dup2: newfd now names what oldfd names
RV_EXPORT int dup2(int oldfd, int newfd) {
    NEXT(dup2);
    forget_fd(newfd);
    return real_(oldfd, newfd);
}

// dup3: as dup2
RV_EXPORT int dup3(int oldfd, int newfd, int flags) {
    NEXT(dup3);
    forget_fd(newfd);
    return real_(oldfd, newfd, flags);
}

// socket: a new number (maybe reused behind revati's back)
RV_EXPORT int socket(int domain, int type, int protocol) {
    NEXT(socket);
    int fd = real_(domain, type, protocol);
    forget_fd(fd);
    return fd;
}

// socketpair: as socket, two numbers
RV_EXPORT int socketpair(int domain, int type, int protocol, int sv[2]) {
    NEXT(socketpair);
    int r = real_(domain, type, protocol, sv);
    if (r == 0) forget_fd(sv[0]), forget_fd(sv[1]);
    return r;
}

// pipe: as socketpair
RV_EXPORT int pipe(int fds[2]) {
    NEXT(pipe);
    int r = real_(fds);
    if (r == 0) forget_fd(fds[0]), forget_fd(fds[1]);
    return r;
}

// pipe2: as pipe
RV_EXPORT int pipe2(int fds[2], int flags) {
    NEXT(pipe2);
    int r = real_(fds, flags);
    if (r == 0) forget_fd(fds[0]), forget_fd(fds[1]);
    return r;
}

// accept: as socket
RV_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len) {
    NEXT(accept);
    int r = real_(fd, addr, len);
    forget_fd(r);
    return r;
}

// accept4: as accept
RV_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    NEXT(accept4);
    int r = real_(fd, addr, len, flags);
    forget_fd(r);
    return r;
}

// connect: the listener's wait may end (its fd turns readable), so it is counted as an event of the
// world, after the call, as a send is; the socket is asked anew what it is (its peer is known now)
RV_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len) {
    NEXT(connect);
    int r = real_(fd, addr, len);
    int e = errno;
    forget_fd(fd);
    if ((r == 0 || e == EINPROGRESS) && rv_clock_ready()) rv_world_event();
    errno = e;
    return r;
}
