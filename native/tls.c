/*
 * The agent's TLS runtime for jdryad objects, beside the static reservation (agent.c).
 *
 * Every thread: a dlopened module's static TLS block must get its initial values in every thread
 * that exists, as glibc's dlopen initialises it in each (_dl_init_static_tls). glibc keeps its
 * threads' descriptors in two lists in _rtld_global (stacks it allocated, stacks the user gave,
 * the main thread's among them), and describes where to libthread_db through the _thread_db_*
 * symbols libc exports: the same descriptors reach each thread's thread pointer here.
 *
 * Dynamic TLS: a module that did not fit the static reservation has a block per thread,
 * allocated at the thread's first __tls_get_addr or TLSDESC call for it, as glibc's DTV does. A
 * thread's vector of blocks hangs off a word at the bottom of the reservation (zero in the init
 * image, so a new thread starts without one); a thread-specific key's destructor frees it all
 * when the thread exits. Module indices are reused after dlclose: each registration gets a new
 * generation, and a thread's block of an older generation is replaced.
 */
#include "tls.h"
#include <sys/mman.h>
#include <time.h>

/* ---- glibc's thread lists ---- */

static uintptr_t list_heads[2];    /* &_rtld_global._dl_stack_used, &..._dl_stack_user */
static uint32_t pthread_list_off;  /* offsetof(struct pthread, list) */
static uint32_t list_next_off;     /* offsetof(list_t, next) */
#define MAX_THREADS_WALKED (1 << 20) /* a damaged list ends the walk instead of looping */

/* A libthread_db descriptor: {bits, count, offset}; the offset, or -1 when absent or odd. */
static long descriptor(const char *name, uint32_t bits)
{
    const uint32_t *d = dlsym(RTLD_DEFAULT, name);
    return d && d[0] == bits ? (long)d[2] : -1;
}

/* offsetof(struct pthread, tid), or -1: glibc keeps each thread's kernel tid in its descriptor
   (set by clone's CLONE_CHILD_SETTID, also in a fork child), so a thread can learn its own
   without a system call. */
static long pthread_tid_off = -1;

int jd_thread_tid(void)
{
    if (pthread_tid_off >= 0) {
        uintptr_t tp;
        __asm__ volatile("movq %%fs:0, %0" : "=r"(tp)); /* the TCB's pointer to itself */
        int tid = *(volatile int *)(tp + (uintptr_t)pthread_tid_off);
        if (tid > 0)
            return tid;
    }
    return jd_gettid();
}

int jd_tls_init(void)
{
    pthread_tid_off = descriptor("_thread_db_pthread_tid", 32);
    char *rtld_global = dlsym(RTLD_DEFAULT, "_rtld_global");
    long used = descriptor("_thread_db_rtld_global__dl_stack_used", 128);
    long user = descriptor("_thread_db_rtld_global__dl_stack_user", 128);
    long list = descriptor("_thread_db_pthread_list", 128);
    long next = descriptor("_thread_db_list_t_next", 64);
    if (!rtld_global || used < 0 || user < 0 || list < 0 || next < 0)
        return -1;
    list_heads[0] = (uintptr_t)rtld_global + (uintptr_t)used;
    list_heads[1] = (uintptr_t)rtld_global + (uintptr_t)user;
    pthread_list_off = (uint32_t)list;
    list_next_off = (uint32_t)next;
    return 0;
}

/* Reads or writes our own memory without faulting (a thread may exit and free its stack). */
static long self_copy(int to_target, void *local, uintptr_t target, size_t len)
{
    return jd_safe_copy((int)sys0(SYS_getpid), to_target, local, target, len);
}

static uintptr_t peek(uintptr_t addr)
{
    uintptr_t v = 0;
    return self_copy(0, &v, addr, sizeof v) < 0 ? 0 : v;
}

/* Whether tp is a live thread's: glibc's TCB (tcbhead_t) points at itself in its third word. */
static int is_thread_pointer(uintptr_t tp)
{
    return tp && peek(tp + 16) == tp;
}

/* Writes the bytes at tp - off in every thread on glibc's two lists: how many, and how many failed. */
static void write_each_thread(uint64_t off, const void *bytes, size_t n, long *written, long *failed)
{
    for (int h = 0; h < 2; h++) {
        uintptr_t head = list_heads[h], p = peek(head + list_next_off);
        for (long i = 0; p && p != head && i < MAX_THREADS_WALKED; i++, p = peek(p + list_next_off)) {
            uintptr_t tp = p - pthread_list_off;
            if (!is_thread_pointer(tp))
                continue;
            if (self_copy(1, (void *)bytes, tp - off, n) < 0)
                (*failed)++;
            else
                (*written)++;
        }
    }
}

long jd_tls_set_block_all(uint64_t off, const void *bytes, size_t n, uintptr_t main_tp,
                          void (*write_image)(uint64_t off, const void *bytes, size_t n))
{
    /* The init image first: a thread created from now on copies the new bytes; one that is
       in a list by now gets them below. */
    write_image(off, bytes, n);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    long written = 0, failed = 0;
    if (!list_heads[0]) {
        jd_memcpy((void *)(main_tp - off), bytes, n); /* glibc undescribed: the main thread only */
        return 1;
    }
    write_each_thread(off, bytes, n, &written, &failed);
    /* A thread pthread_create was making copied the old image just before it was written and
       joins a list only now (glibc initialises its TLS before it takes the list lock, which the
       agent cannot take): a second pass a moment later reaches it. Nobody can use the new block
       yet (its dlopen has not returned), so writing it twice is harmless. */
    struct timespec pause = {0, 200 * 1000};
    sys2(SYS_nanosleep, &pause, 0);
    write_each_thread(off, bytes, n, &written, &failed);
    return failed && !written ? -14 : written / 2;
}

/* ---- dynamic TLS ---- */

struct dyn_module {
    volatile uint64_t gen; /* 0: not a dynamic module */
    uint64_t image, filesz, memsz, align;
};
static struct dyn_module *modules; /* JD_TLS_MODID_MAX entries, allocated at the first module */
static uint64_t generations;

struct chunk {
    struct chunk *next;
    size_t size;
};
struct dtv_slot {
    void *block;
    uint64_t gen;
};
struct dtv {
    uint64_t n;
    size_t bytes;
    struct chunk *chunks; /* the thread's blocks, freed with it */
    char *cur, *end;      /* the free part of the newest chunk */
    struct dtv_slot s[];
};

long jd_tls_set_dynamic(uint64_t m, uint64_t image, uint64_t filesz, uint64_t memsz, uint64_t align)
{
    if (m >= JD_TLS_MODID_MAX || filesz > memsz || memsz > ((uint64_t)1 << 40) || (align & (align - 1)) ||
        align > ((uint64_t)1 << 30))
        return -22;
    if (!modules)
        modules = jd_alloc(sizeof *modules * JD_TLS_MODID_MAX, 64);
    struct dyn_module *d = &modules[m];
    __atomic_store_n(&d->gen, 0, __ATOMIC_RELEASE);
    if (!memsz)
        return 0;
    d->image = image;
    d->filesz = filesz;
    d->memsz = memsz;
    d->align = align ? align : 1;
    __atomic_store_n(&d->gen, __atomic_add_fetch(&generations, 1, __ATOMIC_RELAXED), __ATOMIC_RELEASE);
    return 0;
}

static struct dtv **my_dtv_word(void)
{
    return (struct dtv **)(jd_tp() - JD_TLS_RESERVE + 8);
}

static void *map_or_null(size_t len)
{
    long r = sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return r < 0 && r > -4096 ? 0 : (void *)r;
}

/* The thread's exit: its blocks and vector go (the key's destructor). */
static void free_dtv(void *p)
{
    struct dtv *d = p;
    if (!d)
        return;
    if (*my_dtv_word() == d)
        *my_dtv_word() = 0;
    for (struct chunk *c = d->chunks, *next; c; c = next) {
        next = c->next;
        sys2(SYS_munmap, c, c->size);
    }
    sys2(SYS_munmap, d, d->bytes);
}

static unsigned dtv_key;
static int dtv_key_state; /* 0 unknown, 2 being created, 1 created, -1 unavailable */

/* The key whose destructor frees a thread's vector: created once, by the first thread to ask
   (the others wait for it); 0 when glibc's pthread keys cannot be had. */
static int have_key(void)
{
    int state = 0;
    if (__atomic_compare_exchange_n(&dtv_key_state, &state, 2, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        int (*create)(unsigned *, void (*)(void *)) = dlsym(RTLD_DEFAULT, "pthread_key_create");
        state = create && create(&dtv_key, free_dtv) == 0 ? 1 : -1;
        __atomic_store_n(&dtv_key_state, state, __ATOMIC_RELEASE);
    }
    while (state == 2)
        state = __atomic_load_n(&dtv_key_state, __ATOMIC_ACQUIRE);
    return state == 1;
}

/* Makes d the vector the thread's exit frees (glibc's pthread keys, found by name). */
static void free_at_exit(struct dtv *d)
{
    int (*set)(unsigned, const void *) = dlsym(RTLD_DEFAULT, "pthread_setspecific");
    if (have_key() && set)
        set(dtv_key, d);
}

/* The thread's vector, grown to hold index m (0 when the kernel refuses memory). */
static struct dtv *dtv_for(uint64_t m)
{
    struct dtv **word = my_dtv_word(), *old = *word;
    if (old && m < old->n)
        return old;
    uint64_t n = old ? old->n * 2 : 16;
    while (n <= m)
        n *= 2;
    size_t bytes = (sizeof(struct dtv) + n * sizeof(struct dtv_slot) + 4095) & ~(size_t)4095;
    struct dtv *d = map_or_null(bytes);
    if (!d)
        return 0;
    if (old) {
        jd_memcpy(d, old, sizeof *old + old->n * sizeof(struct dtv_slot));
        sys2(SYS_munmap, old, old->bytes);
    }
    d->n = n;
    d->bytes = bytes;
    *word = d;
    free_at_exit(d);
    return d;
}

/* size bytes aligned to align from the thread's chunks (fresh mappings are zero). */
static void *carve(struct dtv *d, uint64_t size, uint64_t align)
{
    uintptr_t p = ((uintptr_t)d->cur + align - 1) & ~(uintptr_t)(align - 1);
    if (!d->cur || p + size > (uintptr_t)d->end) {
        size_t want = sizeof(struct chunk) + size + align;
        size_t len = want < 65536 ? 65536 : (want + 4095) & ~(size_t)4095;
        struct chunk *c = map_or_null(len);
        if (!c)
            return 0;
        c->next = d->chunks;
        c->size = len;
        d->chunks = c;
        d->cur = (char *)(c + 1);
        d->end = (char *)c + len;
        p = ((uintptr_t)d->cur + align - 1) & ~(uintptr_t)(align - 1);
    }
    d->cur = (char *)(p + size);
    return (void *)p;
}

void *jd_tls_dynamic_block(uint64_t m)
{
    if (!modules || m >= JD_TLS_MODID_MAX)
        return 0;
    struct dyn_module *mod = &modules[m];
    uint64_t gen = __atomic_load_n(&mod->gen, __ATOMIC_ACQUIRE);
    if (!gen)
        return 0;
    struct dtv *d = *my_dtv_word();
    if (d && m < d->n && d->s[m].gen == gen)
        return d->s[m].block;
    d = dtv_for(m);
    void *block = d ? carve(d, mod->memsz ? mod->memsz : 1, mod->align) : 0;
    if (!block)
        jd_die("cannot allocate memory for thread-local data", 127);
    jd_memcpy(block, (const void *)mod->image, mod->filesz);
    d->s[m].block = block;
    d->s[m].gen = gen;
    return block;
}
