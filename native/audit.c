/*
 * The C part of the profiling trampoline (audit.h): finds the slot's entry in the tables Java
 * prepared, has Java fill it at the first call (through the lazy resolver, which asks Java:
 * la_symbind64 runs then), and calls the modules' la_x86_64_gnu_pltenter and _pltexit as
 * glibc's _dl_audit_pltenter and _dl_audit_pltexit do.
 */
#include "audit.h"
#include "lazy.h"

struct jd_audit_config jdryad_audit_config;

typedef Elf64_Addr (*pltenter_fn)(Elf64_Sym *, unsigned int, uintptr_t *, uintptr_t *, La_x86_64_regs *,
                                  unsigned int *, const char *, long int *);
typedef unsigned int (*pltexit_fn)(Elf64_Sym *, unsigned int, uintptr_t *, uintptr_t *, const La_x86_64_regs *,
                                   La_x86_64_retval *, const char *);

static struct jd_audit_slot *slot_of(uint64_t object, uint64_t index)
{
    const struct jd_audit_config *c = &jdryad_audit_config;
    if (!c->tables || object >= c->ntables)
        return 0;
    struct jd_audit_table *t = c->tables[object];
    return t && index < t->count ? &t->s[index] : 0;
}

uintptr_t jd_audit_enter(uint64_t object, uint64_t index, uintptr_t caller, La_x86_64_regs *regs, long *framesize)
{
    *framesize = -1;
    struct jd_audit_slot *s = slot_of(object, index);
    if (!s || !__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE)) {
        uintptr_t t = jd_lazy_fixup(object, index, caller); /* Java fills the entry, leaves the slot */
        s = slot_of(object, index);
        if (!s || !__atomic_load_n(&s->ready, __ATOMIC_ACQUIRE))
            return t;
    }
    uintptr_t target = s->target;
    const struct jd_audit_config *c = &jdryad_audit_config;
    for (uint64_t i = 0; i < c->nmodules && i < 16; i++) {
        const struct jd_audit_module *m = &c->modules[i];
        unsigned int ee = (unsigned int)(s->enterexit >> (2 * i)) & 3;
        if (!m->pltenter || (ee & LA_SYMB_NOPLTENTER))
            continue;
        unsigned int flags = (unsigned int)(s->enterexit >> 32);
        long int asked = -1;
        target = ((pltenter_fn)m->pltenter)((Elf64_Sym *)s->sym, (unsigned int)s->ndx, (uintptr_t *)s->refcook + i,
                                            (uintptr_t *)s->defcook + i, regs, &flags, (const char *)s->symname, &asked);
        if (m->pltexit && !(ee & LA_SYMB_NOPLTEXIT) && !(flags & LA_SYMB_NOPLTEXIT) && asked != -1)
            *framesize = *framesize == -1 || asked > *framesize ? asked : *framesize;
    }
    if (*framesize > (1L << 16))
        *framesize = 1L << 16; /* never copy more than 64 KiB of stack arguments */
    return target;
}

void jd_audit_exit(uint64_t object, uint64_t index, const La_x86_64_regs *in, La_x86_64_retval *out)
{
    struct jd_audit_slot *s = slot_of(object, index);
    if (!s)
        return;
    const struct jd_audit_config *c = &jdryad_audit_config;
    for (uint64_t i = 0; i < c->nmodules && i < 16; i++) {
        const struct jd_audit_module *m = &c->modules[i];
        unsigned int ee = (unsigned int)(s->enterexit >> (2 * i)) & 3;
        if (m->pltexit && !(ee & LA_SYMB_NOPLTEXIT))
            ((pltexit_fn)m->pltexit)((Elf64_Sym *)s->sym, (unsigned int)s->ndx, (uintptr_t *)s->refcook + i,
                                     (uintptr_t *)s->defcook + i, in, out, (const char *)s->symname);
    }
}
