/*
 * Serving Java's requests (requests.c): the loop every waiting thread runs, and what the
 * requests need to know of the agent's own image (set at start-up by agent.c).
 */
#ifndef JDRYAD_REQUESTS_H
#define JDRYAD_REQUESTS_H

#include "wire.h"

/* Reads frames and serves Java's requests until w (0: none, the main thread until ENTER) has
   its reply, which it returns. */
struct in jd_serve(struct waiter *w);

extern uintptr_t tls_image_addr;        /* the agent's module-1 TLS init image (PT_TLS) */
extern size_t tls_image_size;
extern uintptr_t relro_start, relro_end; /* the agent's PT_GNU_RELRO, in whole pages */
extern size_t page_size;
extern uintptr_t main_tp;               /* the main thread's thread pointer */

#endif
