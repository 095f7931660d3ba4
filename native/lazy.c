/*
 * Lazy binding: what happens at the first call through a PLT slot of a lazily bound jdryad
 * object. The trampoline (lazy_asm.S) has saved the caller's argument state; here the slot is
 * resolved by asking Java (the lookup rules, the scope and the record of the binding are all
 * Java's), the slot is patched unless LD_BIND_NOT says otherwise, the binding hook is called
 * (jdryad_dl_bind, jdryad_binding.h: a debugger's stop there sees the caller up the stack), and
 * the target is returned.
 *
 * A slot that cannot be resolved ends the program as glibc's _dl_fixup does: the message Java
 * composed in glibc's words (`PROG: symbol lookup error: OBJ: undefined symbol: NAME`), exit 127.
 */
#include "util.h"
#include "callback.h"
#include "lazy.h"
#include "tls.h"
#include "jdryad_binding.h"
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

/* The slot's prepared answer, if Java has written a whole one for the current scopes: the target,
   and in b the slot and the symbol's name and version. */
static uintptr_t prepared(uint64_t object, uint64_t index, struct jdryad_binding *b)
{
    if (!__atomic_load_n(&lazy_log, __ATOMIC_ACQUIRE) || object >= lazy_ntables)
        return 0;
    struct jd_lazy_table *t = lazy_tables[object];
    if (!t || index >= t->count)
        return 0;
    uint64_t g = jd_lazy_generation;
    if (t->generation != g)
        return 0;
    const volatile uint64_t *e = &t->e[JD_LAZY_ENTRY_WORDS * index];
    uint64_t target = e[0], at = e[1], name = e[2], version = e[3], check = e[4];
    if (!target || (target ^ at ^ name ^ version ^ JD_LAZY_KEY) != check || t->generation != g ||
        jd_lazy_generation != g)
        return 0; /* not written yet, torn by a concurrent write, or a scope changed meanwhile */
    b->slot = (void **)at;
    b->symbol = (const char *)name;
    b->symbol_version = (const char *)version;
    return target;
}

/* Whether this thread is being single-stepped (gdb's stepi, or its software watchpoints): the
   CPU then runs with the trap flag set, and pushf shows it. The vDSO's clock retries its read
   whenever the kernel updated the time meanwhile, which under single-stepping happens during
   every attempt, so it would never return; the system call always does. */
static int single_stepping(void)
{
    unsigned long flags;
    __asm__ volatile("pushfq; popq %0" : "=r"(flags));
    return (flags & 0x100) != 0;
}

/* Appends the binding to the shared log; 0 when the log is full (then Java records it). */
static int record(const struct jdryad_binding *b)
{
    struct jd_lazy_log *log = lazy_log;
    uint64_t i = __atomic_fetch_add(&log->next, 1, __ATOMIC_ACQ_REL);
    if (i >= log->capacity) {
        __atomic_fetch_add(&log->dropped, 1, __ATOMIC_RELAXED);
        return 0;
    }
    struct jd_lazy_record *r = (struct jd_lazy_record *)(log + 1) + i;
    /* A system call costs about a microsecond here, twice glibc's whole first call: the clock
       comes from the vDSO (through libc), the pid from the agent's cache, the tid from glibc's
       thread descriptor (the caller reads it once, for the hook too). */
    struct timespec ts = {0, 0};
    if (single_stepping())
        sys2(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    else
        clock_gettime(CLOCK_MONOTONIC, &ts); /* Java's System.nanoTime clock */
    r->object = b->object;
    r->index = b->index;
    r->caller = (uint64_t)b->caller;
    r->tid = (uint64_t)b->tid;
    r->pid = (uint64_t)b->pid;
    r->time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    r->target = (uint64_t)b->target;
    __atomic_store_n(&r->seq, i + 1, __ATOMIC_RELEASE);
    return 1;
}

/* The first call's binding, answered by Java at the call (the slow path). */
static uintptr_t ask_java(struct jdryad_binding *b)
{
    struct jd_cbargs a = {3, {b->object, b->index, (uint64_t)b->caller}, 0, {0, 0}};
    struct jd_cbreply r;
    if (jd_callback(JD_CB_LAZY, &a, &r) != 0)
        fail("jdryad-agent: a lazily bound function was called where jdryad cannot be asked to bind it"
             " (no connection to jdryad: a vfork child, or a signal handler that interrupted the agent)");
    if (r.status != JD_CB_OK)
        fail(r.s[0] ? r.s[0] : "jdryad-agent: lazy binding failed");
    uintptr_t target = r.v[0], slot = r.v[1];
    uint64_t flags = r.v[2];
    if (flags & JD_LAZY_CALL_IFUNC)
        target = ((uintptr_t(*)(void))target)();
    if (flags & JD_LAZY_PATCH)
        __atomic_store_n((uintptr_t *)slot, target, __ATOMIC_RELEASE);
    b->source = JDRYAD_SOURCE_JAVA;
    b->symbol = r.s[0]; /* the reply's strings live until jd_callback_end */
    b->symbol_version = r.s[1];
    b->target = (void *)target;
    b->slot = (void **)slot;
    b->tid = jd_gettid();
    jdryad_dl_bind(b);
    jd_callback_end(&r);
    return target;
}

uintptr_t jd_lazy_fixup(uint64_t object, uint64_t reloc_index, uintptr_t caller)
{
    struct jdryad_binding b = {JDRYAD_BINDING_VERSION, JDRYAD_BIND_LAZY, JDRYAD_SOURCE_TABLE, 0, 0, 0, 0, 0,
                               (void *)caller, object, reloc_index, jd_cached_pid, 0};
    uintptr_t target = prepared(object, reloc_index, &b);
    if (target) {
        b.target = (void *)target;
        b.tid = jd_thread_tid();
        if (record(&b)) {
            if (!lazy_bind_not)
                __atomic_store_n(b.slot, b.target, __ATOMIC_RELEASE);
            jdryad_dl_bind(&b);
            return target;
        }
    }
    return ask_java(&b);
}
