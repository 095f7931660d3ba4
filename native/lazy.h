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

/* ---- the fast path ----
 * Java prepares each lazily bound object's answers while the program runs: a table of entries
 * (target, GOT slot, symbol name, symbol version, target ^ slot ^ name ^ version ^ JD_LAZY_KEY),
 * valid while its generation equals jd_lazy_generation (Java bumps that when a scope changes).
 * The name and version point at strings Java wrote into the agent once per object (they are
 * only for the binding hook, jdryad_binding.h). A first call that finds a whole entry answers
 * itself and appends a record to the log, a file mapping shared with Java that outlives the
 * process (forked children share it too). Anything else asks Java. Layouts: LazyTables.java. */
#define JD_LAZY_KEY 0x6a64727961644b59ULL
#define JD_LAZY_LOG_MAGIC 0x31676f6c797a616cULL /* "lazylog1" */
#define JD_LAZY_ENTRY_WORDS 5
struct jd_lazy_table {
    volatile uint64_t generation;
    uint64_t count;
    volatile uint64_t e[]; /* JD_LAZY_ENTRY_WORDS * count words */
};
struct jd_lazy_log {
    uint64_t magic, capacity;
    volatile uint64_t next, dropped;
    uint64_t reserved[4];
};
struct jd_lazy_record {
    volatile uint64_t seq; /* index + 1, stored last */
    uint64_t object, index, caller, tid, pid, time_ns, target;
};
extern volatile uint64_t jd_lazy_generation; /* written by Java */
void jd_lazy_configure(struct jd_lazy_log *log, struct jd_lazy_table *volatile *tables, uint64_t ntables,
                       int bind_not);

/* The trampoline itself: GOT[2] of every lazily bound jdryad object. */
void jdryad_lazy_resolve(void);

#endif
