/*
 * The agent's libc-free helpers (see util.h): strings, messages, spin locks and the lock words,
 * the bump allocator, growable buffers and payload reading.
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

/* ---- memory: a bump allocator over private anonymous mappings ---- */
static char *alloc_cur, *alloc_end;

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
/* Zeroed memory, or 0 when the size is absurd or the kernel refuses. */
void *jd_alloc_try(size_t size, size_t align)
{
    if (align < 16)
        align = 16;
    if (size > ((size_t)1 << 46) || align > ((size_t)1 << 20) || (align & (align - 1)))
        return 0;
    spin_lock(&alloc_lock);
    uintptr_t p = ((uintptr_t)alloc_cur + align - 1) & ~(uintptr_t)(align - 1);
    if (!alloc_cur || p + size > (uintptr_t)alloc_end) {
        size_t chunk = (size + align + 0xfffff) & ~(size_t)0xfffff;
        char *m = map_anon_try(chunk);
        if (!m) {
            spin_unlock(&alloc_lock);
            return 0;
        }
        alloc_cur = m;
        alloc_end = alloc_cur + chunk;
        p = ((uintptr_t)alloc_cur + align - 1) & ~(uintptr_t)(align - 1);
    }
    alloc_cur = (char *)(p + size);
    spin_unlock(&alloc_lock);
    return (void *)p; /* fresh anonymous memory is zero */
}
void *jd_alloc(size_t size, size_t align)
{
    void *p = jd_alloc_try(size, align);
    if (!p)
        jd_die("out of memory (mmap failed)", 127);
    return p;
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
