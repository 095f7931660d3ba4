/*
 * The agent's libc-free helpers: raw system calls, strings, messages, spin locks, the
 * allocator, growable buffers and the reader of received payloads.  Nothing here knows the
 * protocol or the process; every other file of the agent builds on it.
 */
#ifndef JDRYAD_UTIL_H
#define JDRYAD_UTIL_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <elf.h>
#include <link.h>
#include <dlfcn.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include "protocol.h"
#include "jdryad_activity.h"

/* ---- raw system calls (the agent never depends on libc data or libc allocation) ---- */
static inline long sys6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define sys0(n) sys6((n), 0, 0, 0, 0, 0, 0)
#define sys1(n, a) sys6((n), (long)(a), 0, 0, 0, 0, 0)
#define sys2(n, a, b) sys6((n), (long)(a), (long)(b), 0, 0, 0, 0)
#define sys3(n, a, b, c) sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys4(n, a, b, c, d) sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys5(n, a, b, c, d, e) sys6((n), (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

static inline uintptr_t jd_tp(void)
{
    uintptr_t tp;
    __asm__("mov %%fs:0, %0" : "=r"(tp));
    return tp;
}
/* ---- small libc-free helpers ---- */
size_t jd_strlen(const char *s);
void jd_memcpy(void *d, const void *s, size_t n);
/* Copies to (to_remote) or from process memory at `remote` of `pid` (ourselves) through
 * process_vm_writev/readv, which answer -EFAULT where a plain copy would crash (a stack a thread
 * freed, a page the plan never mapped); a plain copy where the kernel refuses the calls. Returns
 * len, or a negative errno (-EFAULT for a short copy). */
long jd_safe_copy(int pid, int to_remote, void *local, uintptr_t remote, size_t len);
void jd_memset(void *d, int c, size_t n);
int jd_strcmp(const char *a, const char *b);
int jd_strncmp(const char *a, const char *b, size_t n);
void jd_puts2(const char *a, const char *b); /* writes to stderr */
void jd_die(const char *msg, long code) __attribute__((noreturn));
int jd_gettid(void);
/* The process's pid without a system call: set at start and by the fork handler in the child.
   (A vfork child shares it with its parent until it execs.) */
extern volatile int jd_cached_pid;
char *jd_fmt_hex(char *buf, uint64_t v); /* "0x..." in buf (at least 19 bytes) */

/* ---- locks ----
 * Spin locks record their owner's thread pointer (unique per live thread, free to read).  A
 * program's signal handler that calls a jdryad dl* function on a thread which holds one of the
 * agent's locks (it interrupted the agent itself) must not wait for that lock: jd_callback
 * checks jd_holds_agent_lock() and falls back to glibc instead of deadlocking.
 * Every lock word of the agent is defined here, whichever file takes it, so that
 * jd_holds_agent_lock() and the fork handler (jd_release_locks()) cannot miss one. */
void spin_lock(volatile uintptr_t *l);
void spin_unlock(volatile uintptr_t *l);
extern volatile uintptr_t alloc_lock;     /* the allocator (util.c) */
extern volatile uintptr_t ctx_lock;       /* the free list of per-invocation buffers (wire.c) */
extern volatile uintptr_t send_lock;      /* sending a frame (wire.c) */
extern volatile uintptr_t reader_role;    /* reading the socket (wire.c) */
extern volatile uintptr_t child_lock;     /* a forked child's own connection (wire.c) */
extern volatile uintptr_t state_lock;     /* the r_debug list and the node table */
extern volatile uintptr_t tls_write_lock; /* re-protecting the TLS init image's pages */
/* Whether this thread holds one of the agent's locks (a signal handler interrupted the agent). */
int jd_holds_agent_lock(void);
/* Frees every lock (the fork handler, in the child's only thread). */
void jd_release_locks(void);

/* ---- memory: power-of-two size classes with free lists, over private anonymous mappings ---- */
void *map_anon(size_t len); /* dies when the kernel refuses */
void *jd_alloc_try(size_t size, size_t align); /* zeroed; 0 when the size is absurd or the kernel refuses */
void *jd_alloc(size_t size, size_t align); /* zeroed, mmap-backed; dies when the kernel refuses */
/* Gives back a block of jd_alloc/jd_alloc_try/jd_strdup (its next user gets it zeroed); 0, a block
   given back already and a block asked with an alignment above 16 (kept for ever) are ignored.
   Only what those functions returned may be given: the header before it is read. */
void jd_free(void *p);
/* Tables replaced as a whole while other threads may read them without a lock (the object and
   finaliser tables): a reader brackets its use with jd_read_begin/jd_read_end; the writer
   publishes the new table and then jd_retire()s the old one, which is freed once no reader is
   counted in (with what was retired before).  A reader that never ends (a callback that
   longjmps out) only keeps retired tables from being freed. */
void jd_read_begin(void);
void jd_read_end(void);
void jd_retire(void *p);
/* What the allocator holds (bytes, headers included): handed out and not freed, the most that
   ever was, and mapped for it.  gdb: `print jd_alloc_stats`; tests read it from the program
   (tests/fixtures/robust/agent_memory.c). */
struct jd_alloc_stats {
    size_t live, high_water, mapped;
};
extern struct jd_alloc_stats jd_alloc_stats;
char *jd_strdup(const char *s);

/* Growable buffers. */
struct buf {
    char *p;
    size_t len, cap;
};
void buf_reserve(struct buf *b, size_t need);
void put_bytes(struct buf *b, const void *p, size_t n);
void put_q(struct buf *b, uint64_t v);
void put_s(struct buf *b, const char *s);

/* Reading a received payload. */
struct in {
    const char *p;
    size_t len, pos;
    int bad;
};
uint64_t get_q(struct in *in);
const char *get_s(struct in *in);
/* Bytes left in a payload: a count read from it is checked against this before anything is
   allocated for it (each element takes at least a known number of bytes). */
size_t remaining(const struct in *in);

#endif
