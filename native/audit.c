/*
 * The C part of the profiling trampoline (audit.h): finds the slot's entry in the tables Java
 * prepared, has Java fill it at the first call (through the lazy resolver, which asks Java:
 * la_symbind64 runs then), and calls the modules' la_x86_64_gnu_pltenter and _pltexit as
 * glibc's _dl_audit_pltenter and _dl_audit_pltexit do.
 */
#include "audit.h"
#include "lazy.h"
#include "util.h"

#include <cpuid.h>

struct jd_audit_config jdryad_audit_config;
int jdryad_audit_vector_bytes;

/*
 * The vector registers the trampoline keeps whole, as glibc picks _dl_runtime_profile_avx512,
 * _avx or _sse: 64 bytes when the OS saves AVX-512 state (XCR0's opmask, ZMM_Hi256 and Hi16_ZMM
 * bits besides SSE and AVX), 32 with AVX's, else 0 (xmm only). Why whole: between the call and
 * the target, the modules' code and libc's (whose AVX string functions end with vzeroupper)
 * clear the upper halves of ymm and zmm registers, which carry __m256 and __m512 arguments and
 * results.
 */
__attribute__((constructor)) static void choose_vector_bytes(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
        return;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & 0x6) != 0x6)
        return;
    jdryad_audit_vector_bytes = 32;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F) && (lo & 0xe6) == 0xe6)
        jdryad_audit_vector_bytes = 64;
}

/* A module that changed an xmm register's copy changed the register: its vector copy takes it (low 16 bytes). */
static void keep_changed_xmm(const La_x86_64_xmm *xmm, La_x86_64_vector *vec, int n)
{
    if (!jdryad_audit_vector_bytes)
        return;
    for (int i = 0; i < n; i++) {
        const uint64_t *x = (const uint64_t *)&xmm[i];
        uint64_t *v = (uint64_t *)&vec[i];
        if (x[0] != v[0] || x[1] != v[1])
            jd_memcpy(v, x, 16);
    }
}

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
    keep_changed_xmm(regs->lr_xmm, regs->lr_vector, 8);
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
    keep_changed_xmm(&out->lrv_xmm0, &out->lrv_vector0, 1);
    keep_changed_xmm(&out->lrv_xmm1, &out->lrv_vector1, 1);
}
