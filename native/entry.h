/*
 * Entering the program (entry.c, mechanism 3 of DESIGN.md): the ENTER request.
 */
#ifndef JDRYAD_ENTRY_H
#define JDRYAD_ENTRY_H

#include "wire.h"

/* The agent's auxiliary vector as the kernel gave it (set by main; ENTER patches it, since
   glibc's getauxval reads it). */
extern ElfW(auxv_t) *orig_auxv;

/* The agent's own argv as the kernel placed it (set by main): after the agent's exec as the
   program (agent.c), the same strings as the program's, in the area /proc/PID/cmdline shows. */
extern int jd_orig_argc;
extern char **jd_orig_argv;

/* Notes where the kernel put the agent's environment strings (main calls it first thing): the
   run right after argv's strings, which /proc/PID/environ shows. */
void jd_note_env_area(int argc, char **argv, char **envp);

/* ENTER: on success replies itself and never returns; returns (with the error in out) only for
   a malformed request or a thread other than the main one. */
void enter(struct hdr *h, struct in *in, struct buf *out);

/* SET_AUXV: the program's auxv entries into the agent's own (getauxval's), before initialisers. */
void set_auxv(struct in *in, struct buf *out);

/* Names the process (/proc/PID/comm) after path's base name, as the kernel does at exec. */
void jd_name_process(const char *path);

/* agent_asm.S: copies the stack image to sp, switches to it and jumps to entry with rdx = fini. */
void jdryad_enter_jump(const void *src, size_t len, void *sp, void *entry, void *fini)
    __attribute__((noreturn));

#endif
