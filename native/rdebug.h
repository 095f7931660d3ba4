/*
 * The r_debug rendezvous (rdebug.c, mechanism 1 of DESIGN.md): what debuggers see of the loaded
 * objects.  Java sends each change of the list (R_DEBUG_UPDATE); the agent keeps a link-map node
 * per jdryad object (also their dlopen handles), rebuilds glibc's r_debug list from glibc's own
 * host entries and those nodes, and announces the change through r_brk, jdryad_dl_activity and
 * the activity ring (jdryad_activity.h).
 */
#ifndef JDRYAD_RDEBUG_H
#define JDRYAD_RDEBUG_H

#include "util.h"

extern struct r_debug *rdebug;      /* glibc's, found through the agent's DT_DEBUG at start-up */
extern struct link_map *host_head;  /* glibc's original r_map */
extern struct jdryad_query_info jdryad_query_info; /* where gdb finds the Java side's query server */

/* R_DEBUG_UPDATE (under state_lock). */
void r_debug_update(struct in *in, struct buf *out);

/* RESERVE_NODE (takes state_lock): a jdryad object's node before it is on the list (LD_AUDIT's
   la_objopen at start-up gets it before the program's objects are announced). */
void reserve_node(struct in *in, struct buf *out);

/* Whether h is one of the link-map nodes Java hands out as jdryad objects' dlopen handles. */
int jd_is_jdryad_handle(const void *h);

/* The hook debuggers break on (exported by name; addresses sent in HELLO). */
void jdryad_dl_activity(const struct jdryad_activity *activity);

#endif
