/* Internal declarations shared by the agent's C files.  Everything is hidden (-fvisibility=hidden):
 * the agent exports no dynamic symbols; Java and gdb find agent functions through .symtab. */
#ifndef JDRYAD_AGENT_H
#define JDRYAD_AGENT_H

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

/* ---- small libc-free helpers (util in agent.c) ---- */
size_t jd_strlen(const char *s);
void jd_memcpy(void *d, const void *s, size_t n);
void jd_memset(void *d, int c, size_t n);
int jd_strcmp(const char *a, const char *b);
int jd_strncmp(const char *a, const char *b, size_t n);
void jd_puts2(const char *a, const char *b); /* writes to stderr */
void jd_die(const char *msg, long code) __attribute__((noreturn));
void *jd_alloc(size_t size, size_t align); /* zeroed, mmap-backed, never freed */
char *jd_strdup(const char *s);
int jd_gettid(void);
/* The process's pid without a system call: set at start and by the fork handler in the child.
   (A vfork child shares it with its parent until it execs.) */
extern volatile int jd_cached_pid;

/* ---- callbacks to Java (agent.c) ---- */
struct jd_cbreply {
    int64_t status;
    uint64_t v[4];
    const char *s[2]; /* valid until jd_callback_end() */
    void *ctx;
    char scratch[1024]; /* the strings of a reply received without the shared buffers (vfork child) */
};
/* Sends a callback of type with the given fields and waits (serving Java) for the reply.
 * Call jd_callback_end(r) after copying what is needed from the reply. */
struct jd_cbargs {
    int nq;
    uint64_t q[4];
    int ns;
    const char *s[2];
};
int jd_callback(uint32_t type, const struct jd_cbargs *args, struct jd_cbreply *r);
void jd_callback_end(struct jd_cbreply *r);

/* ---- runtime (runtime.c) ---- */
struct jd_object {
    uint64_t link_map, base, phdr, phnum, map_start, map_end, eh_frame_hdr, tls_modid, tls_offset;
    const char *name;
};
struct jd_object_table {
    size_t n;
    uint64_t adds, subs;
    struct jd_object obj[];
};
extern struct jd_object_table *volatile jd_objects;
extern uint64_t jd_adds, jd_subs;

struct jd_fini_entry {
    uint64_t kind, addr, count;
};
struct jd_fini_table {
    size_t n;
    struct jd_fini_entry e[];
};
extern struct jd_fini_table *volatile jd_fini; /* replaced as a whole by SET_FINI */

/* agent.c: whether this thread holds one of the agent's locks (a signal handler interrupted the
   agent), and whether h is a jdryad object's dlopen handle (one of the agent's link-map nodes). */
int jd_holds_agent_lock(void);
int jd_is_jdryad_handle(const void *h);

void jd_runtime_init(void);
extern const char *volatile jd_exe_path;
ssize_t jdryad_readlink(const char *path, char *buf, size_t size);
ssize_t jdryad_readlinkat(int dirfd, const char *path, char *buf, size_t size);
ssize_t jdryad___readlink_chk(const char *path, char *buf, size_t size, size_t buflen);
ssize_t jdryad___readlinkat_chk(int dirfd, const char *path, char *buf, size_t size, size_t buflen); /* the program, for readlink("/proc/self/exe"); 0: unset */
void jd_set_dlerror(const char *msg);
void jd_set_tls_offsets(void); /* rebuilds the modid -> offset index from jd_objects */

/* assembly (agent_asm.S) */
void jdryad_enter_jump(const void *src, size_t len, void *sp, void *entry, void *fini)
    __attribute__((noreturn));

/* exported entry points (addresses sent in HELLO) */
void *jdryad_dlopen(const char *file, int mode);
void *jdryad_dlmopen(Lmid_t lmid, const char *file, int mode);
void *jdryad_dlsym(void *handle, const char *name);
void *jdryad_dlvsym(void *handle, const char *name, const char *version);
int jdryad_dlclose(void *handle);
char *jdryad_dlerror(void);
int jdryad_dladdr(const void *addr, Dl_info *info);
int jdryad_dladdr1(const void *addr, Dl_info *info, void **extra, int flags);
int jdryad_dlinfo(void *handle, int request, void *arg);
int jdryad_dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data);
int jdryad__dl_find_object(void *pc, struct dl_find_object *result);
void *jdryad___tls_get_addr(void *ti);
void jdryad_rtld_fini(void);
void jdryad_tlsdesc_return(void);

void jdryad_dl_activity(const struct jdryad_activity *activity);

#endif
