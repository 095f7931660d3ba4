/*
 * Lazy binding: what happens at the first call through a PLT slot of a lazily bound jdryad
 * object. The trampoline (lazy_asm.S) has saved the caller's argument state; here the slot is
 * resolved by asking Java (the lookup rules, the scope and the record of the binding are all
 * Java's), the slot is patched unless LD_BIND_NOT says otherwise, and the target is returned.
 *
 * A slot that cannot be resolved ends the program as glibc's _dl_fixup does: the message Java
 * composed in glibc's words (`PROG: symbol lookup error: OBJ: undefined symbol: NAME`), exit 127.
 */
#include "util.h"
#include "callback.h"
#include "lazy.h"
#include <time.h>

uint32_t jd_lazy_save_kind = JD_SAVE_FXSAVE;
uint64_t jd_lazy_frame_size = 64 + 512; /* the GPRs, then an fxsave area */

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* xsavec where the CPU has it (the smallest area, as glibc prefers), else xsave, else fxsave;
   the area is sized by CPUID for the features the kernel enabled (XCR0), an upper bound for
   the compacted form too. */
void jd_lazy_init(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] < 0xd)
        return;
    cpuid(1, 0, r);
    int xsave = (r[2] >> 26) & 1, osxsave = (r[2] >> 27) & 1;
    if (!xsave || !osxsave)
        return;
    cpuid(0xd, 0, r);
    uint64_t area = r[1]; /* EBX: size for the features enabled in XCR0 */
    if (area < 576 || area > (1u << 20))
        return;
    cpuid(0xd, 1, r);
    jd_lazy_save_kind = (r[0] >> 1) & 1 ? JD_SAVE_XSAVEC : JD_SAVE_XSAVE;
    jd_lazy_frame_size = (64 + area + 63) & ~(uint64_t)63;
}

static void __attribute__((noreturn)) fail(const char *line)
{
    jd_puts2(line, "\n");
    sys1(SYS_exit_group, 127);
    __builtin_unreachable();
}

volatile uint64_t jd_lazy_generation = 1;
static struct jd_lazy_log *lazy_log;
static struct jd_lazy_table *volatile *lazy_tables;
static uint64_t lazy_ntables;
static int lazy_bind_not;

void jd_lazy_configure(struct jd_lazy_log *log, struct jd_lazy_table *volatile *tables, uint64_t ntables,
                       int bind_not)
{
    lazy_tables = tables;
    lazy_ntables = ntables;
    lazy_bind_not = bind_not;
    __atomic_store_n(&lazy_log, log, __ATOMIC_RELEASE);
}

/* The slot's prepared answer, if Java has written a whole one for the current scopes. */
static uintptr_t prepared(uint64_t object, uint64_t index, uintptr_t *slot)
{
    if (!__atomic_load_n(&lazy_log, __ATOMIC_ACQUIRE) || object >= lazy_ntables)
        return 0;
    struct jd_lazy_table *t = lazy_tables[object];
    if (!t || index >= t->count)
        return 0;
    uint64_t g = jd_lazy_generation;
    if (t->generation != g)
        return 0;
    uint64_t target = t->e[3 * index], at = t->e[3 * index + 1], check = t->e[3 * index + 2];
    if (!target || (target ^ at ^ JD_LAZY_KEY) != check || t->generation != g || jd_lazy_generation != g)
        return 0; /* not written yet, torn by a concurrent write, or a scope changed meanwhile */
    *slot = at;
    return target;
}

/* Appends the binding to the shared log; 0 when the log is full (then Java records it). */
static int record(uint64_t object, uint64_t index, uintptr_t caller, uintptr_t target)
{
    struct jd_lazy_log *log = lazy_log;
    uint64_t i = __atomic_fetch_add(&log->next, 1, __ATOMIC_ACQ_REL);
    if (i >= log->capacity) {
        __atomic_fetch_add(&log->dropped, 1, __ATOMIC_RELAXED);
        return 0;
    }
    struct jd_lazy_record *r = (struct jd_lazy_record *)(log + 1) + i;
    /* A system call costs about a microsecond here, twice glibc's whole first call: the clock
       comes from the vDSO (through libc), the pid from the agent's cache; only the tid is asked. */
    struct timespec ts = {0, 0};
    clock_gettime(CLOCK_MONOTONIC, &ts); /* Java's System.nanoTime clock */
    r->object = object;
    r->index = index;
    r->caller = caller;
    r->tid = (uint64_t)jd_gettid();
    r->pid = (uint64_t)jd_cached_pid;
    r->time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    r->target = target;
    __atomic_store_n(&r->seq, i + 1, __ATOMIC_RELEASE);
    return 1;
}

uintptr_t jd_lazy_fixup(uint64_t object, uint64_t reloc_index, uintptr_t caller)
{
    uintptr_t at = 0, fast = prepared(object, reloc_index, &at);
    if (fast && record(object, reloc_index, caller, fast)) {
        if (!lazy_bind_not)
            __atomic_store_n((uintptr_t *)at, fast, __ATOMIC_RELEASE);
        return fast;
    }
    struct jd_cbargs a = {3, {object, reloc_index, caller}, 0, {0, 0}};
    struct jd_cbreply r;
    if (jd_callback(JD_CB_LAZY, &a, &r) != 0)
        fail("jdryad-agent: a lazily bound function was called where jdryad cannot be asked to bind it"
             " (no connection to jdryad: a forked child, or a signal handler that interrupted the agent)");
    if (r.status != JD_CB_OK)
        fail(r.s[0] ? r.s[0] : "jdryad-agent: lazy binding failed");
    uintptr_t target = r.v[0], slot = r.v[1];
    uint64_t flags = r.v[2];
    jd_callback_end(&r);
    if (flags & JD_LAZY_CALL_IFUNC)
        target = ((uintptr_t(*)(void))target)();
    if (flags & JD_LAZY_PATCH)
        __atomic_store_n((uintptr_t *)slot, target, __ATOMIC_RELEASE);
    return target;
}
