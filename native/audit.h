/*
 * LD_AUDIT's PLT hooks (la_x86_64_gnu_pltenter / la_x86_64_gnu_pltexit): the seam between the
 * profiling trampoline (audit_asm.S: GOT[2] of every object an audit module watches calls from)
 * and its C part (audit.c). Java (run/Auditing.java) prepares everything: the modules' hooks,
 * one table per watched object with one entry per PLT slot, filled at the slot's first call
 * (which still asks Java, through the lazy resolver); the slot itself is never patched, so
 * every call comes back here, as through glibc's _dl_runtime_profile.
 */
#ifndef JDRYAD_AUDIT_H
#define JDRYAD_AUDIT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* link.h's rtld-audit types */
#endif
#include <link.h>
#include <stdint.h>

/* One PLT slot: where it goes, the la_* arguments glibc would pass (a synthesized Elf64_Sym, its
   index, the referrer's and the definer's cookie arrays, one uintptr_t per module, the name),
   enterexit (bits 2i and 2i+1: LA_SYMB_NOPLTENTER and LA_SYMB_NOPLTEXIT for module i, 16 modules
   at most; bits 32-63: the flags la_symbind64 left, LA_SYMB_ALTVALUE included, which every
   la_pltenter gets), and
   ready, stored last (non-zero once Java has written the rest). */
struct jd_audit_slot {
    uint64_t target, sym, ndx, refcook, defcook, symname, enterexit, ready;
};
struct jd_audit_table {
    uint64_t count;
    struct jd_audit_slot s[];
};
struct jd_audit_module {
    uint64_t pltenter, pltexit; /* 0: the module has none */
};
/* Written by Java with process_vm_writev; tables is indexed by GOT[1] (Java's lazy id). */
struct jd_audit_config {
    uint64_t nmodules;
    const struct jd_audit_module *modules;
    uint64_t ntables;
    struct jd_audit_table *const *tables;
};
extern struct jd_audit_config jdryad_audit_config;

/* The bytes of each vector register the trampoline saves into lr_vector / lrv_vector0-1 and
   restores from there: 64 (AVX-512), 32 (AVX) or 0 (xmm only), chosen once at start-up. */
extern int jdryad_audit_vector_bytes;

/* Called by the trampoline: the target to call, after every module's la_pltenter; *framesize
   stays -1 unless a module asked for la_pltexit with the bytes of stack arguments to copy. An
   lr_xmm register a module changed goes into lr_vector, which the trampoline reloads whole. */
uintptr_t jd_audit_enter(uint64_t object, uint64_t index, uintptr_t caller, La_x86_64_regs *regs, long *framesize);

/* Called by the trampoline after the target returned: every module's la_pltexit. */
void jd_audit_exit(uint64_t object, uint64_t index, const La_x86_64_regs *in, La_x86_64_retval *out);

/* The trampoline itself. */
void jdryad_audit_profile(void);

#endif
