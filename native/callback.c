/*
 * Program threads' callbacks to Java (see callback.h): on the agent's connection, waiting for the
 * reply by serving Java's requests, or on a connection of its own where the shared one cannot be
 * used (a vfork child, a closed socket, a signal handler inside the agent).
 */
#include "callback.h"
#include "requests.h"
#include "wire.h"

#include <sys/socket.h>

static uint64_t cb_seq;

/* Reads exactly n bytes from fd; -1 at end of file or on error. */
static int read_exact(int fd, void *p, size_t n)
{
    while (n > 0) {
        long k = sys3(SYS_read, fd, p, n);
        if (k == -4)
            continue;
        if (k <= 0)
            return -1;
        p = (char *)p + k;
        n -= (size_t)k;
    }
    return 0;
}

/* One callback on a connection of its own, with nothing but the stack: for a child that shares
 * its parent's memory (vfork, clone(CLONE_VM): no atfork handler ran). Such a child must change
 * none of the agent's state, which is its parent's too; patching the GOT slot is fine, since the
 * binding holds for both. */
static int callback_alone(uint32_t type, const struct jd_cbargs *a, struct jd_cbreply *r)
{
    int fd = connect_socket();
    if (fd < 0)
        return -1;
    uint64_t out[2 + 1 + 4];
    int n = 0;
    out[n++] = (uint64_t)sys0(SYS_getpid);
    out[n++] = (uint64_t)agent_pid;
    struct hdr h = {16, JD_HELLO_CHILD, 0};
    struct iovec iov[2] = {{&h, sizeof h}, {out, 16}};
    struct msghdr m = {0};
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    int ok = sys3(SYS_sendmsg, fd, &m, MSG_NOSIGNAL) == (long)(sizeof h + 16);
    n = 0;
    out[n++] = (uint64_t)jd_gettid();
    for (int i = 0; i < a->nq && i < 4; i++)
        out[n++] = a->q[i];
    struct hdr c = {(uint32_t)(8 * n), type, 1};
    iov[0].iov_base = &c;
    iov[1].iov_base = out;
    iov[1].iov_len = 8 * (size_t)n;
    ok = ok && a->ns == 0 && sys3(SYS_sendmsg, fd, &m, MSG_NOSIGNAL) == (long)(sizeof c + 8 * (size_t)n);
    struct hdr rh;
    ok = ok && read_exact(fd, &rh, sizeof rh) == 0 && rh.type == (type | JD_REPLY) && rh.len <= sizeof r->scratch &&
         read_exact(fd, r->scratch, rh.len) == 0;
    sys1(SYS_close, fd);
    if (!ok)
        return -1;
    struct in in = {r->scratch, rh.len, 0, 0};
    r->ctx = 0;
    r->status = (int64_t)get_q(&in);
    for (int i = 0; i < 4; i++)
        r->v[i] = get_q(&in);
    r->s[0] = get_s(&in);
    r->s[1] = get_s(&in);
    return in.bad ? -1 : 0;
}

int jd_callback(uint32_t type, const struct jd_cbargs *a, struct jd_cbreply *r)
{
    /* A lazy first call can always be answered on a connection of its own (it needs no request
       from Java); other callbacks fall back to glibc where the shared connection cannot serve. */
    int lazy = type == JD_CB_LAZY && sock_path;
    if (sock < 0)
        return lazy ? callback_alone(type, a, r) : -1; /* the program closed our socket */
    if (jd_holds_agent_lock())
        return lazy ? callback_alone(type, a, r) : -1; /* a signal handler interrupted the agent here */
    int me = (int)sys0(SYS_getpid);
    if (me != agent_pid) {
        if (locks_reset_pid != me) /* no fork handler ran: memory shared with the parent (vfork) */
            return lazy ? callback_alone(type, a, r) : -1;
        if (connect_as_child() != 0)
            return -1;
    }
    /* A program that closed "all" descriptors (daemons do) may have closed the socket, and the
       number may now name one of its own files: never write there. Without the socket, jdryad's
       dl* functions fall back to glibc's. */
    if (!socket_is_ours()) {
        sock = -1;
        return lazy ? callback_alone(type, a, r) : -1;
    }
    struct ctx *c = ctx_get();
    put_q(&c->out, (uint64_t)jd_gettid()); /* every callback says which thread asks */
    for (int i = 0; i < a->nq; i++)
        put_q(&c->out, a->q[i]);
    for (int i = 0; i < a->ns; i++)
        put_s(&c->out, a->s[i]);
    uint64_t seq = __atomic_add_fetch(&cb_seq, 1, __ATOMIC_ACQ_REL);
    struct waiter *w = waiter_register(seq, &c->in);
    send_frame(type, seq, c->out.p, c->out.len);
    struct in in = jd_serve(w);
    r->ctx = c;
    r->status = (int64_t)get_q(&in);
    for (int i = 0; i < 4; i++)
        r->v[i] = get_q(&in);
    r->s[0] = get_s(&in);
    r->s[1] = get_s(&in);
    if (in.bad)
        jd_die("protocol error: malformed callback reply", 127);
    return 0;
}
void jd_callback_end(struct jd_cbreply *r)
{
    if (r->ctx)
        ctx_put(r->ctx);
}
