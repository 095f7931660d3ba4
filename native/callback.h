/*
 * The seam between the agent's runtime (runtime.c, lazy.c) and Java: a program thread's callback
 * (callback.c).  The callback waits for its reply by serving Java's requests (requests.c), and
 * those requests fill the runtime's tables (OBJECT_TABLE, SET_FINI, SET_EXE, LAZY_SETUP).  So
 * runtime.c and lazy.c call into callback.c, which calls back into them through requests.c:
 * that cycle cannot be avoided, because Java may need requests served (memory mapped,
 * initialisers run, tables replaced) before it can answer the thread that asked.
 */
#ifndef JDRYAD_CALLBACK_H
#define JDRYAD_CALLBACK_H

#include "util.h"

struct jd_cbreply {
    int64_t status;
    uint64_t v[4];
    const char *s[2]; /* valid until jd_callback_end() */
    void *ctx;
    char scratch[1024]; /* the strings of a reply received without the shared buffers (vfork child);
                           Java's Protocol.CHILD_REPLY_MAX */
};
/* Sends a callback of type with the given fields and waits (serving Java) for the reply.
 * Call jd_callback_end(r) after copying what is needed from the reply. */
struct jd_cbargs {
    int nq;
    uint64_t q[4];
    int ns;
    const char *s[2];
};
int jd_callback(uint32_t type, const struct jd_cbargs *args, struct jd_cbreply *r);
void jd_callback_end(struct jd_cbreply *r);

#endif
