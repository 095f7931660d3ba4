/*
 * The agent's libc-free helpers (see util.h): strings, messages, spin locks and the lock words,
 * the allocator (size classes and free lists), growable buffers and payload reading.
 */
#include "util.h"

#include <sys/mman.h>

size_t jd_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}
void jd_memcpy(void *d, const void *s, size_t n)
{
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}
void jd_memset(void *d, int c, size_t n)
{
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
}
int jd_strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}
int jd_strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}
void jd_puts2(const char *a, const char *b)
{
    if (a)
        sys3(SYS_write, 2, a, jd_strlen(a));
    if (b)
        sys3(SYS_write, 2, b, jd_strlen(b));
}
void jd_die(const char *msg, long code)
{
    jd_puts2("jdryad-agent: ", msg);
    jd_puts2("\n", 0);
    sys1(SYS_exit_group, code);
    __builtin_unreachable();
}
char *jd_fmt_hex(char *buf, uint64_t v)
{
    char *p = buf + 18;
    *p = 0;
    do {
        *--p = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    *--p = 'x';
    *--p = '0';
    return p;
}
int jd_gettid(void)
{
    return (int)sys0(SYS_gettid);
}
volatile int jd_cached_pid;

/* ---- locks (why they record their owner: util.h) ---- */
volatile uintptr_t alloc_lock, ctx_lock, send_lock, reader_role, child_lock, state_lock, tls_write_lock;

int jd_holds_agent_lock(void)
{
    uintptr_t me = jd_tp();
    return reader_role == me || send_lock == me || ctx_lock == me || alloc_lock == me || state_lock == me ||
           tls_write_lock == me;
}
void jd_release_locks(void)
{
    reader_role = send_lock = ctx_lock = alloc_lock = state_lock = tls_write_lock = child_lock = 0;
}

void spin_lock(volatile uintptr_t *l)
{
    uintptr_t me = jd_tp(), z;
    for (unsigned spins = 0;; spins++) {
        z = 0;
        if (__atomic_compare_exchange_n(l, &z, me, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return;
        if (spins > 100)
            sys0(SYS_sched_yield);
        else
            __builtin_ia32_pause();
    }
}
void spin_unlock(volatile uintptr_t *l) { __atomic_store_n(l, 0, __ATOMIC_RELEASE); }

/* ---- memory: size classes over private anonymous mappings ----
 * Every block of up to MAX_BLOCK bytes (its header included) is a power-of-two size class carved
 * from 1 MiB mappings; a freed block goes on its class's free list and is handed out again, so a
 * dlopen/dlclose cycle reuses the memory the previous one gave back.  A larger block has a
 * mapping of its own, unmapped when it is freed.  A block asked with an alignment above 16 is
 * never freed (its callers keep it for the process's life; jd_free ignores it).  Everything is
 * under alloc_lock, with no libc: signal handlers and any thread may allocate. */
#define BLOCK_MAGIC 0x6a64626cu /* "jdbl": a live block */
#define FREED_MAGIC 0x6a646672u /* "jdfr": on a free list or retired */
#define KEPT_MAGIC 0x6a646b70u  /* "jdkp": asked with an alignment above 16, never freed */
#define MIN_SHIFT 6
#define MAX_SHIFT 16
#define MAX_BLOCK ((size_t)1 << MAX_SHIFT)
#define BIG_CLASS 0xffffffffu
struct block {
    uint32_t magic, cls; /* cls: log2 of the block's size, or BIG_CLASS */
    size_t len;          /* the block's bytes, header included (a big block's mapping) */
    struct block *next;  /* the free list or the retired list */
    uint64_t pad;        /* (the payload stays 16-byte aligned) */
};
static char *alloc_cur, *alloc_end;
static struct block *free_blocks[MAX_SHIFT + 1];
static struct block *retired;
static volatile long readers;
struct jd_alloc_stats jd_alloc_stats;

static void *map_anon_try(size_t len)
{
    long r = sys6(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return r < 0 && r > -4096 ? 0 : (void *)r;
}
void *map_anon(size_t len)
{
    void *p = map_anon_try(len);
    if (!p)
        jd_die("out of memory (mmap failed)", 127);
    return p;
}
/* Fresh (zero) memory from the current 1 MiB mapping, or a new one; 0 when the kernel refuses. */
static void *bump_locked(size_t size, size_t align)
{
    uintptr_t p = ((uintptr_t)alloc_cur + align - 1) & ~(uintptr_t)(align - 1);
    if (!alloc_cur || p + size > (uintptr_t)alloc_end) {
        size_t chunk = (size + align + 0xfffff) & ~(size_t)0xfffff;
        char *m = map_anon_try(chunk);
        if (!m)
            return 0;
        jd_alloc_stats.mapped += chunk;
        alloc_cur = m;
        alloc_end = alloc_cur + chunk;
        p = ((uintptr_t)alloc_cur + align - 1) & ~(uintptr_t)(align - 1);
    }
    alloc_cur = (char *)(p + size);
    return (void *)p;
}
static unsigned class_of(size_t total)
{
    unsigned c = MIN_SHIFT;
    while (((size_t)1 << c) < total)
        c++;
    return c;
}
static void count_live(long delta)
{
    jd_alloc_stats.live += (size_t)delta;
    if (jd_alloc_stats.live > jd_alloc_stats.high_water)
        jd_alloc_stats.high_water = jd_alloc_stats.live;
}
static struct block *take_block_locked(unsigned c)
{
    struct block *b = free_blocks[c];
    if (b) {
        free_blocks[c] = b->next;
        return b;
    }
    return bump_locked((size_t)1 << c, 16);
}
static struct block *take_big(size_t total)
{
    size_t len = (total + 4095) & ~(size_t)4095;
    struct block *b = map_anon_try(len);
    if (b)
        b->len = len;
    return b;
}
/* Zeroed memory, or 0 when the size is absurd or the kernel refuses. */
void *jd_alloc_try(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    if (size > ((size_t)1 << 46) || align > ((size_t)1 << 20) || (align & (align - 1)))
        return 0;
    if (align > 16) {
        /* Kept for the process's life, with a header all the same (jd_free reads it and ignores
           the block): the payload starts `align` bytes in, which is at least the header's size. */
        spin_lock(&alloc_lock);
        char *p = bump_locked(size + align, align); /* (both are bounded above: no overflow) */
        if (p)
            count_live((long)(size + align));
        spin_unlock(&alloc_lock);
        if (!p)
            return 0;
        struct block *b = (struct block *)(p + align) - 1;
        b->magic = KEPT_MAGIC;
        b->len = size + align;
        return p + align; /* fresh anonymous memory is zero */
    }
    size_t total = size + sizeof(struct block);
    unsigned c = total > MAX_BLOCK ? BIG_CLASS : class_of(total);
    struct block *b = c == BIG_CLASS ? take_big(total) : 0; /* (a system call outside the lock) */
    spin_lock(&alloc_lock);
    if (c != BIG_CLASS)
        b = take_block_locked(c);
    if (b) {
        b->len = c == BIG_CLASS ? b->len : (size_t)1 << c;
        count_live((long)b->len);
        if (c == BIG_CLASS)
            jd_alloc_stats.mapped += b->len;
    }
    spin_unlock(&alloc_lock);
    if (!b)
        return 0;
    b->magic = BLOCK_MAGIC;
    b->cls = c;
    b->next = 0;
    if (c != BIG_CLASS)
        jd_memset(b + 1, 0, size); /* a reused block holds its last user's bytes */
    return b + 1;
}
void *jd_alloc(size_t size, size_t align)
{
    void *p = jd_alloc_try(size, align);
    if (!p)
        jd_die("out of memory (mmap failed)", 127);
    return p;
}
/* The block of a payload jd_alloc returned (alignment 16 or less), or 0 for anything else. */
static struct block *block_of(void *p)
{
    struct block *b = p ? (struct block *)p - 1 : 0;
    return b && b->magic == BLOCK_MAGIC ? b : 0;
}
static void free_locked(struct block *b)
{
    count_live(-(long)b->len);
    if (b->cls == BIG_CLASS) {
        jd_alloc_stats.mapped -= b->len;
        sys2(SYS_munmap, b, b->len);
        return;
    }
    b->next = free_blocks[b->cls];
    free_blocks[b->cls] = b;
}
void jd_free(void *p)
{
    struct block *b = block_of(p);
    if (!b)
        return; /* 0, or not a block (a double free is not made worse) */
    b->magic = FREED_MAGIC;
    spin_lock(&alloc_lock);
    free_locked(b);
    spin_unlock(&alloc_lock);
}

/* Readers of tables that are replaced as a whole (util.h). */
void jd_read_begin(void) { __atomic_fetch_add(&readers, 1, __ATOMIC_SEQ_CST); }
void jd_read_end(void) { __atomic_fetch_sub(&readers, 1, __ATOMIC_RELEASE); }
void jd_retire(void *p)
{
    struct block *b = block_of(p);
    if (!b)
        return;
    b->magic = FREED_MAGIC;
    spin_lock(&alloc_lock);
    b->next = retired;
    retired = b;
    /* The caller published the table that replaces p before this fence: a reader that counts
       itself in after it finds that one, and none counted in now means none holds p (or
       anything retired earlier). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&readers, __ATOMIC_SEQ_CST) == 0) {
        while (retired) {
            struct block *r = retired;
            retired = r->next;
            free_locked(r);
        }
    }
    spin_unlock(&alloc_lock);
}
char *jd_strdup(const char *s)
{
    if (!s)
        return 0;
    size_t n = jd_strlen(s) + 1;
    char *d = jd_alloc(n, 1);
    jd_memcpy(d, s, n);
    return d;
}

/* Growable buffers. */
void buf_reserve(struct buf *b, size_t need)
{
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < need)
        cap *= 2;
    cap = (cap + 4095) & ~(size_t)4095;
    if (b->p) {
        long r = sys5(SYS_mremap, b->p, b->cap, cap, MREMAP_MAYMOVE, 0);
        if (r < 0 && r > -4096)
            jd_die("out of memory (mremap failed)", 127);
        b->p = (char *)r;
    } else {
        b->p = map_anon(cap);
    }
    b->cap = cap;
}
void put_bytes(struct buf *b, const void *p, size_t n)
{
    buf_reserve(b, b->len + n);
    jd_memcpy(b->p + b->len, p, n);
    b->len += n;
}
void put_q(struct buf *b, uint64_t v) { put_bytes(b, &v, 8); }
void put_s(struct buf *b, const char *s)
{
    uint32_t n = s ? (uint32_t)jd_strlen(s) + 1 : 0;
    put_bytes(b, &n, 4);
    if (n)
        put_bytes(b, s, n);
}

/* Reading a received payload. */
uint64_t get_q(struct in *in)
{
    uint64_t v = 0;
    if (in->pos + 8 > in->len) {
        in->bad = 1;
        return 0;
    }
    jd_memcpy(&v, in->p + in->pos, 8);
    in->pos += 8;
    return v;
}
const char *get_s(struct in *in)
{
    uint32_t n;
    if (in->pos + 4 > in->len) {
        in->bad = 1;
        return 0;
    }
    jd_memcpy(&n, in->p + in->pos, 4);
    in->pos += 4;
    if (n == 0)
        return 0;
    if (in->pos + n > in->len || in->p[in->pos + n - 1] != 0) {
        in->bad = 1;
        return 0;
    }
    const char *s = in->p + in->pos;
    in->pos += n;
    return s;
}

/* Bytes left in a payload (util.h). */
size_t remaining(const struct in *in) { return in->bad ? 0 : in->len - in->pos; }


long jd_safe_copy(int pid, int to_remote, void *local, uintptr_t remote, size_t len)
{
    if (!len)
        return 0;
    struct iovec l = {local, len}, r = {(void *)remote, len};
    long n = sys6(to_remote ? SYS_process_vm_writev : SYS_process_vm_readv, pid, (long)&l, 1, (long)&r, 1, 0);
    if (n == -38 /* ENOSYS */ || n == -1 /* EPERM */) {
        if (to_remote)
            jd_memcpy((void *)remote, local, len);
        else
            jd_memcpy(local, (void *)remote, len);
        return (long)len;
    }
    if (n >= 0 && (size_t)n != len)
        return -14; /* EFAULT */
    return n;
}
