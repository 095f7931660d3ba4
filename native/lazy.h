/*
 * The lazy resolver's seam: the trampoline (lazy_asm.S) saves the caller's argument state and
 * calls jd_lazy_fixup (lazy.c), which asks Java for the slot's answer and patches the slot.
 */
#ifndef JDRYAD_LAZY_H
#define JDRYAD_LAZY_H

#include <stdint.h>

/* How the trampoline saves the vector state; chosen once from CPUID by jd_lazy_init. */
enum jd_lazy_save { JD_SAVE_FXSAVE = 0, JD_SAVE_XSAVE = 1, JD_SAVE_XSAVEC = 2 };
extern uint32_t jd_lazy_save_kind;
extern uint64_t jd_lazy_frame_size; /* bytes below the 64-byte aligned frame: GPRs + state area */

void jd_lazy_init(void);

/* Called by the trampoline with GOT[1] (Java's id of the object), the PLT's relocation index
   and the return address of the call into the PLT; returns the function to jump to. */
uintptr_t jd_lazy_fixup(uint64_t object, uint64_t reloc_index, uintptr_t caller);

/* The trampoline itself: GOT[2] of every lazily bound jdryad object. */
void jdryad_lazy_resolve(void);

#endif
