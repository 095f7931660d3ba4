/*
 * The agent's connection to jdryad (wire.c): the socket and its identity, frames (protocol.h),
 * the reader role, the mailboxes of threads waiting for a reply, the per-invocation buffers and a
 * forked child's own connection.  It moves frames and knows nothing of what they ask: requests.c
 * serves Java's requests, callback.c sends program threads' callbacks.
 */
#ifndef JDRYAD_WIRE_H
#define JDRYAD_WIRE_H

#include "util.h"

struct hdr {
    uint32_t len, type;
    uint64_t seq;
};


extern int sock;          /* the agent's connection; -1: none (the program closed it) */
extern char *sock_path;   /* where jdryad listens (JDRYAD_SOCKET) */
extern int agent_pid;     /* the process the connection belongs to */
extern volatile int locks_reset_pid; /* the process whose fork handler released the locks */

int connect_socket(void);     /* a new connection to jdryad; -1 when that fails */
void use_socket(int fd);      /* makes fd the agent's connection, remembering its identity */
int socket_is_ours(void);     /* whether sock is still that connection */
int jd_take_passed(int *out, int max); /* the descriptors SCM_RIGHTS brought, in order (at most max; the rest closed) */
int connect_as_child(void);   /* a forked child's own connection (HELLO_CHILD); -1 when that fails */
void reset_for_child(void);   /* the pthread_atfork child handler */

/* Sends one frame (serialised with other threads' frames). */
void send_frame(uint32_t type, uint64_t seq, const void *payload, size_t len);

/* Per-invocation buffers, recycled. */
struct ctx {
    struct buf in, out;
    struct ctx *next;
};
struct ctx *ctx_get(void);
void ctx_put(struct ctx *c);

/* Mailboxes of threads waiting for the reply to their callback. */
#define NWAIT 256
struct waiter {
    volatile uint64_t seq;
    struct buf *buf;
    volatile size_t len;
    volatile int done;
};
struct waiter *waiter_register(uint64_t seq, struct buf *b);

/* Reads frames until w (0: none) has its reply (returns 1, the reply in *in), or until a request
   arrives (returns 0, its header in *h, its payload read into b and described by *in). */
int jd_wire_next(struct waiter *w, struct buf *b, struct hdr *h, struct in *in);

#endif
