/*
 * Waiting for a debugger to attach (attach.c): the WAIT_DEBUGGER request of
 * `jdryad run --wait-for-debugger`.
 */
#ifndef JDRYAD_ATTACH_H
#define JDRYAD_ATTACH_H

#include "wire.h"

/* WAIT_DEBUGGER: lets any process of the user ptrace this one (Yama), writes the request's line to
   stderr and blocks until a debugger has attached and let it go on; replies with the tracer's pid
   (0: the debugger detached again) or -errno. */
void wait_debugger(struct in *in, struct buf *out);

/* The wait itself, named so that the attached debugger's `bt` says what it stopped in. Returns the
   tracer's pid, 0 when a debugger came and went, or -errno when /proc cannot tell. */
long jdryad_wait_for_debugger(void);

#endif
