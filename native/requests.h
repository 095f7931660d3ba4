/*
 * Serving Java's requests (the dispatch is still in agent.c).
 */
#ifndef JDRYAD_REQUESTS_H
#define JDRYAD_REQUESTS_H

#include "wire.h"

/* Reads frames and serves Java's requests until w (0: none, the main thread until ENTER) has
   its reply, which it returns. */
struct in jd_serve(struct waiter *w);

#endif
