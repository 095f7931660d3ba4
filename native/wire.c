/*
 * The agent's connection to jdryad (see wire.h): the socket, frames, the reader role, the
 * mailboxes of threads waiting for a reply, and a forked child's own connection.
 */
#include "wire.h"
#include "forks.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

/* ---- the connection ----
 * Concurrency: any agent thread may read the socket, one at a time (the reader role).  The
 * reader reads one whole frame, gives the role up, and then either handles the request itself
 * (so a long CALL never blocks the socket) or, for a reply to another thread's callback, copies
 * it into that thread's mailbox and wakes it.  Sending is serialised by a separate lock. */
int sock = -1;
static uint64_t sock_dev, sock_ino; /* the socket's identity: the program may close and reuse fds */
int agent_pid;

static void lost(void)
{
    jd_puts2("jdryad-agent: lost connection to jdryad\n", 0);
    sys1(SYS_exit_group, 127);
    __builtin_unreachable();
}
/* Waits until the socket is ready (a program that sets O_NONBLOCK on every descriptor makes
   reads and writes return EAGAIN; that must neither spin nor look like a lost connection). */
static void wait_ready(short events)
{
    struct pollfd {
        int fd;
        short events, revents;
    } p = {sock, events, 0};
    sys3(SYS_poll, &p, 1, -1);
}
static void send_all(struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr m;
        jd_memset(&m, 0, sizeof m);
        m.msg_iov = iov;
        m.msg_iovlen = n;
        long r = sys3(SYS_sendmsg, sock, &m, MSG_NOSIGNAL);
        if (r == -4 /* EINTR */)
            continue;
        if (r == -11 /* EAGAIN */) {
            wait_ready(4 /* POLLOUT */);
            continue;
        }
        if (r <= 0)
            lost();
        while (n > 0 && (size_t)r >= iov->iov_len) {
            r -= iov->iov_len;
            iov++, n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + r;
            iov->iov_len -= r;
        }
    }
}
/* Descriptors that came with the frames read (SCM_RIGHTS: SET_FDS's), in order, until taken. */
#define MAX_PASSED 64
static int passed[MAX_PASSED];
static int npassed;

/* Keeps the descriptors a message carried (close-on-exec until placed); those beyond room are closed. */
static void keep_passed(struct msghdr *m)
{
    for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *fds = (int *)CMSG_DATA(c);
        for (size_t i = 0; i < k; i++) {
            if (npassed < MAX_PASSED)
                passed[npassed++] = fds[i];
            else
                sys1(SYS_close, fds[i]);
        }
    }
}

int jd_take_passed(int *out, int max)
{
    int n = npassed < max ? npassed : max;
    for (int i = 0; i < n; i++)
        out[i] = passed[i];
    for (int i = n; i < npassed; i++)
        sys1(SYS_close, passed[i]);
    npassed = 0;
    return n;
}

/* read() of the socket, as recvmsg: descriptors Java passes along (SET_FDS) are kept, not lost. */
static long read_socket(void *p, size_t n)
{
    union {
        char buf[CMSG_SPACE(sizeof(int) * MAX_PASSED)];
        struct cmsghdr align;
    } control;
    struct iovec iov = {p, n};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control.buf;
    m.msg_controllen = sizeof control.buf;
    long r = sys3(SYS_recvmsg, sock, &m, MSG_CMSG_CLOEXEC);
    if (r > 0 && m.msg_controllen > 0)
        keep_passed(&m);
    return r;
}

static void recv_all(void *p, size_t n)
{
    while (n > 0) {
        long r = read_socket(p, n);
        if (r == -4)
            continue;
        if (r == -11 /* EAGAIN */) {
            wait_ready(1 /* POLLIN */);
            continue;
        }
        if (r <= 0)
            lost();
        p = (char *)p + r;
        n -= r;
    }
}
#define FUTEX_WAIT_P 128
#define FUTEX_WAKE_P 129
static volatile int generation, send_gen;
static void futex_wait(volatile int *w, int v) { sys6(SYS_futex, (long)w, FUTEX_WAIT_P, v, 0, 0, 0); }
static void futex_wake(volatile int *w, int n) { sys6(SYS_futex, (long)w, FUTEX_WAKE_P, n, 0, 0, 0); }
static void wake_waiters(void)
{
    __atomic_add_fetch(&generation, 1, __ATOMIC_ACQ_REL);
    futex_wake(&generation, 0x7fffffff);
}

void send_frame(uint32_t type, uint64_t seq, const void *payload, size_t len)
{
    struct hdr h = {(uint32_t)len, type, seq};
    struct iovec iov[2] = {{&h, sizeof h}, {(void *)payload, len}};
    uintptr_t me = jd_tp();
    for (;;) {
        int g = __atomic_load_n(&send_gen, __ATOMIC_ACQUIRE);
        uintptr_t z = 0;
        if (__atomic_compare_exchange_n(&send_lock, &z, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            break;
        futex_wait(&send_gen, g);
    }
    send_all(iov, 2);
    __atomic_store_n(&send_lock, 0, __ATOMIC_RELEASE);
    __atomic_add_fetch(&send_gen, 1, __ATOMIC_ACQ_REL);
    futex_wake(&send_gen, 0x7fffffff);
}

/* Per-invocation buffers, recycled. */
static struct ctx *volatile ctx_free;
struct ctx *ctx_get(void)
{
    spin_lock(&ctx_lock);
    struct ctx *c = ctx_free;
    if (c)
        ctx_free = c->next;
    spin_unlock(&ctx_lock);
    if (!c)
        c = jd_alloc(sizeof *c, 16);
    c->in.len = c->out.len = 0;
    return c;
}
void ctx_put(struct ctx *c)
{
    spin_lock(&ctx_lock);
    c->next = ctx_free;
    ctx_free = c;
    spin_unlock(&ctx_lock);
}

/* Mailboxes of threads waiting for the reply to their callback. */
static struct waiter waiters[NWAIT];

struct waiter *waiter_register(uint64_t seq, struct buf *b)
{
    for (;;) {
        for (int i = 0; i < NWAIT; i++) {
            uint64_t z = 0;
            if (waiters[i].seq == 0 &&
                __atomic_compare_exchange_n(&waiters[i].seq, &z, seq, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
                waiters[i].buf = b;
                waiters[i].len = 0;
                __atomic_store_n(&waiters[i].done, 0, __ATOMIC_RELEASE);
                return &waiters[i];
            }
        }
        sys0(SYS_sched_yield);
    }
}

/* Reads frames until `w` (or nothing: 0) has its reply, then returns 1 with the reply in *in, or
   until a request from Java arrives: returns 0 with its header in *h and its payload, read into
   b, in *in. */
int jd_wire_next(struct waiter *w, struct buf *b, struct hdr *h, struct in *in)
{
    for (;;) {
        if (w && __atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
            *in = (struct in){w->buf->p, w->len, 0, 0};
            __atomic_store_n(&w->seq, 0, __ATOMIC_RELEASE);
            return 1;
        }
        int g = __atomic_load_n(&generation, __ATOMIC_ACQUIRE);
        uintptr_t z = 0;
        if (!__atomic_compare_exchange_n(&reader_role, &z, jd_tp(), 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
            futex_wait(&generation, g);
            continue;
        }
        if (w && __atomic_load_n(&w->done, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&reader_role, 0, __ATOMIC_RELEASE);
            wake_waiters();
            continue;
        }
        recv_all(h, sizeof *h);
        if (h->len > JD_MAX_FRAME)
            jd_die("protocol error: frame too large", 127);
        if (h->type & JD_REPLY) {
            struct waiter *t = 0;
            for (int i = 0; i < NWAIT && !t; i++)
                if (waiters[i].seq == h->seq && !waiters[i].done)
                    t = &waiters[i];
            if (!t || h->seq == 0)
                jd_die("protocol error: unexpected reply", 127);
            buf_reserve(t->buf, h->len + 1);
            recv_all(t->buf->p, h->len);
            t->len = h->len;
            __atomic_store_n(&t->done, 1, __ATOMIC_RELEASE);
            __atomic_store_n(&reader_role, 0, __ATOMIC_RELEASE);
            wake_waiters();
            continue;
        }
        buf_reserve(b, h->len + 1);
        recv_all(b->p, h->len);
        __atomic_store_n(&reader_role, 0, __ATOMIC_RELEASE);
        wake_waiters();
        *in = (struct in){b->p, h->len, 0, 0};
        return 0;
    }
}

/* ---- forked children ----
 * A child made by fork shares the parent's socket, which only the parent may use. Locks held at
 * fork time by the parent's other threads would stay held for ever in the child: they are
 * released by a pthread_atfork handler (which runs in the child's only thread). A child that
 * calls into jdryad (a lazy first call, dlopen, dlsym...) opens its own connection (HELLO_CHILD),
 * on which Java gives it a link session of its own and sends it requests, as to the parent. */
char *sock_path;
volatile int locks_reset_pid;

void reset_for_child(void)
{
    jd_cached_pid = (int)sys0(SYS_getpid);
    jd_release_locks();
    generation = send_gen = 0;
    for (int i = 0; i < NWAIT; i++) {
        waiters[i].seq = 0;
        waiters[i].done = 0;
    }
    locks_reset_pid = (int)sys0(SYS_getpid);
}

static int out_of_the_way(int fd);

int connect_socket(void)
{
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    size_t pl = jd_strlen(sock_path);
    if (pl >= sizeof sa.sun_path)
        return -1;
    jd_memcpy(sa.sun_path, sock_path, pl);
    int fd = (int)sys3(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (sys3(SYS_connect, fd, &sa, sizeof sa) < 0) {
        sys1(SYS_close, fd);
        return -1;
    }
    return out_of_the_way(fd);
}

/* fd moved up to the top of the first 1024 descriptors (close-on-exec kept), where the program's
   own open() and pipe() calls, which take the lowest free number, do not meet it: the program sees
   the descriptors it would see natively (a subprocess with pass_fds listed the agent's socket as
   its fd 3), and select()'s FD_SETSIZE still holds it. A program that closes "all" descriptors, or
   dup2s onto this one, is noticed by socket_is_ours(). fd itself when no higher one is free. */
static int out_of_the_way(int fd)
{
    struct rlimit lim;
    long top = 1024;
    if (sys2(SYS_getrlimit, RLIMIT_NOFILE, (long)&lim) == 0 && lim.rlim_cur < (rlim_t)top)
        top = (long)lim.rlim_cur;
    long floor = top - 64;
    if (floor <= fd)
        return fd;
    int high = (int)sys3(SYS_fcntl, fd, F_DUPFD_CLOEXEC, floor);
    if (high < 0)
        return fd;
    if (high >= top) {
        sys1(SYS_close, high);
        return fd;
    }
    sys1(SYS_close, fd);
    return high;
}

/* Makes fd the agent's connection, remembering its identity. */
void use_socket(int fd)
{
    struct stat st;
    sock = fd;
    if (fd >= 0 && sys2(SYS_fstat, fd, (long)&st) == 0) {
        sock_dev = st.st_dev;
        sock_ino = st.st_ino;
    }
}

/* Whether sock is still the connection use_socket() was given (a program that closed "all"
   descriptors may have reused the number for one of its own files). */
int socket_is_ours(void)
{
    struct stat st;
    return sys2(SYS_fstat, sock, (long)&st) == 0 && st.st_dev == sock_dev && st.st_ino == sock_ino;
}

/* Makes this process a child connected to jdryad on its own socket; -1 when that fails. */
int connect_as_child(void)
{
    int me = (int)sys0(SYS_getpid);
    spin_lock(&child_lock);
    if (agent_pid != me) {
        int parent = agent_pid;
        if (socket_is_ours()) /* our copy of the parent's connection, unless the program reused the number */
            sys1(SYS_close, sock);
        use_socket(connect_socket());
        agent_pid = me;
        if (sock >= 0) {
            /* the generation is our copy of the parent's: the link state we were forked in */
            uint64_t b[3] = {(uint64_t)me, (uint64_t)parent, jd_link_generation};
            send_frame(JD_HELLO_CHILD, 0, b, sizeof b);
        }
    }
    spin_unlock(&child_lock);
    return sock >= 0 ? 0 : -1;
}
