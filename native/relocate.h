/*
 * RELOCATE_RELATIVE (relocate.c): an object's R_X86_64_RELATIVE and DT_RELR relocations carried
 * out from its own mapped tables, so that Java never builds or sends those hundreds of thousands
 * of words.  Java decides the base and which entries these are; the agent only checks and stores.
 */
#ifndef JDRYAD_RELOCATE_H
#define JDRYAD_RELOCATE_H

#include "util.h"

/* Serves one RELOCATE_RELATIVE request (protocol.h): reads it from in, puts the reply in out. */
void jd_relocate_relative(struct in *in, struct buf *out);

#endif
