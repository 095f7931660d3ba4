/*
 * The agent's runtime for jdryad objects: the dl* functions their references are bound to,
 * __tls_get_addr, dl_iterate_phdr, _dl_find_object and the finaliser (rtld_fini).
 * dlopen/dlsym/... go to Java; Java may answer "ask glibc", and then glibc's real function runs.
 */
#include "runtime.h"
#include "callback.h"
#include "rdebug.h"
#include "jdryad_binding.h"
#include "tls.h"
#include <errno.h>
#include <fcntl.h>

struct jd_object_table *volatile jd_objects;
uint64_t jd_adds, jd_subs;
struct jd_fini_table *volatile jd_fini;
static volatile int exiting; /* the finaliser has started */

static void *(*real_tls_get_addr)(void *);

/* ---- /proc/self/exe ----
 * The kernel names the agent as the process's executable, and PR_SET_MM_EXE_FILE needs
 * CAP_SYS_RESOURCE. Programs that find themselves through the link (node's process.execPath,
 * perl's $^X) and re-execute it would start the agent without jdryad; so jdryad objects'
 * readlink/readlinkat of it answer the program's path instead. glibc's own callers (host
 * objects) still see the truth. */
const char *volatile jd_exe_path;
const char *volatile jd_argv0;

static int is_self_exe(int dirfd, const char *path)
{
    if (!path || !jd_exe_path || (path[0] != '/' && dirfd != AT_FDCWD))
        return 0;
    if (jd_strcmp(path, "/proc/self/exe") == 0 || jd_strcmp(path, "/proc/thread-self/exe") == 0)
        return 1;
    /* /proc/<our pid>/exe */
    if (jd_strncmp(path, "/proc/", 6) != 0)
        return 0;
    long pid = 0;
    const char *p = path + 6;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        pid = pid * 10 + (*p++ - '0');
    return pid == sys0(SYS_getpid) && jd_strcmp(p, "/exe") == 0;
}

const char *jd_program_path_for(const char *path)
{
    return is_self_exe(AT_FDCWD, path) ? jd_exe_path : path;
}

static ssize_t answer_exe(char *buf, size_t size)
{
    size_t n = jd_strlen(jd_exe_path);
    if (n > size)
        n = size; /* readlink truncates silently and adds no NUL */
    jd_memcpy(buf, jd_exe_path, n);
    return (ssize_t)n;
}

ssize_t jdryad_readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
    if (is_self_exe(dirfd, path))
        return answer_exe(buf, size);
    long r = sys4(SYS_readlinkat, dirfd, path, buf, size);
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return r;
}

ssize_t jdryad_readlink(const char *path, char *buf, size_t size)
{
    return jdryad_readlinkat(AT_FDCWD, path, buf, size);
}

/* _FORTIFY_SOURCE's variants: size must not exceed the buffer. */
ssize_t jdryad___readlink_chk(const char *path, char *buf, size_t size, size_t buflen)
{
    if (size > buflen)
        __builtin_trap();
    return jdryad_readlink(path, buf, size);
}

ssize_t jdryad___readlinkat_chk(int dirfd, const char *path, char *buf, size_t size, size_t buflen)
{
    if (size > buflen)
        __builtin_trap();
    return jdryad_readlinkat(dirfd, path, buf, size);
}

/* modid - JD_TLS_MODID_BASE -> tp offset of the block (0: none) */
struct tls_index_table {
    size_t n;
    uint64_t off[];
};
static struct tls_index_table *volatile tls_offsets;

void jd_runtime_init(void)
{
    real_tls_get_addr = (void *(*)(void *))dlsym(RTLD_DEFAULT, "__tls_get_addr");
    if (!real_tls_get_addr)
        jd_die("cannot find glibc's __tls_get_addr", 127);
}

/* Rebuilds the index from jd_objects.  __tls_get_addr reads it on every access, with no lock and
   no reader count: the index is rewritten in place (an entry changes only for a module that is
   being added or removed, which no thread may use meanwhile), and it is replaced only to grow,
   by doubling, the old one staying (a thread may be reading it): all of them together take at
   most twice the largest. */
void jd_set_tls_offsets(void)
{
    jd_read_begin();
    struct jd_object_table *t = __atomic_load_n(&jd_objects, __ATOMIC_ACQUIRE);
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++) {
        uint64_t m = t->obj[i].tls_modid - JD_TLS_MODID_BASE;
        if (t->obj[i].tls_modid && m < JD_TLS_MODID_MAX && m + 1 > n)
            n = m + 1;
    }
    struct tls_index_table *x = tls_offsets;
    if (!x || n > x->n) {
        size_t cap = x ? x->n : 16;
        while (cap < n)
            cap *= 2;
        struct tls_index_table *g = jd_alloc(sizeof *g + 8 * cap, 16);
        g->n = cap;
        for (size_t m = 0; x && m < x->n; m++)
            g->off[m] = x->off[m];
        __atomic_store_n(&tls_offsets, g, __ATOMIC_RELEASE);
        x = g;
    }
    uint64_t *want = jd_alloc(8 * x->n, 16);
    for (size_t i = 0; i < t->n; i++) {
        uint64_t m = t->obj[i].tls_modid - JD_TLS_MODID_BASE;
        if (t->obj[i].tls_modid && m < x->n)
            want[m] = t->obj[i].tls_offset;
    }
    for (size_t m = 0; m < x->n; m++)
        if (x->off[m] != want[m])
            __atomic_store_n(&x->off[m], want[m], __ATOMIC_RELEASE);
    jd_free(want);
    jd_read_end();
}

/* ---- __tls_get_addr ---- */
typedef struct {
    unsigned long ti_module, ti_offset;
} jd_tls_index;

void *jdryad___tls_get_addr(void *p)
{
    jd_tls_index *ti = p;
    struct tls_index_table *x = __atomic_load_n(&tls_offsets, __ATOMIC_ACQUIRE);
    unsigned long m = ti->ti_module - JD_TLS_MODID_BASE;
    if (x && m < x->n && x->off[m])
        return (void *)(jd_tp() - x->off[m] + ti->ti_offset);
    char *block = m < JD_TLS_MODID_MAX ? jd_tls_dynamic_block(m) : 0;
    if (block)
        return block + ti->ti_offset;
    return real_tls_get_addr(p);
}

/* The C half of jdryad_tlsdesc_dynamic (agent_asm.S saves every register around it): the
   descriptor's argument is the module's index above the variable's offset (link/TlsModules);
   the answer is the variable's offset from tp. */
uintptr_t jd_tlsdesc_dynamic_offset(uint64_t arg)
{
    jd_tls_index ti = {JD_TLS_MODID_BASE + (arg >> 40), arg & (((uint64_t)1 << 40) - 1)};
    return (uintptr_t)jdryad___tls_get_addr(&ti) - jd_tp();
}

/* ---- dlerror: per-thread messages in a small table keyed by the thread id ---- */
#define ERR_SLOTS 128
#define ERR_LEN 512
struct err_slot {
    volatile int tid;
    int pending;
    char msg[ERR_LEN];
    char ret[ERR_LEN];
};
static struct err_slot *err_slots;

static struct err_slot *my_slot(int create)
{
    struct err_slot *t = __atomic_load_n(&err_slots, __ATOMIC_ACQUIRE);
    if (!t) {
        if (!create)
            return 0;
        struct err_slot *n = jd_alloc(sizeof *n * ERR_SLOTS, 64);
        struct err_slot *z = 0;
        if (!__atomic_compare_exchange_n(&err_slots, &z, n, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            n = z;
        t = n;
    }
    int me = jd_gettid();
    for (int i = 0; i < ERR_SLOTS; i++)
        if (t[i].tid == me)
            return &t[i];
    if (!create)
        return 0;
    for (int i = 0; i < ERR_SLOTS; i++) {
        int z = 0;
        if (t[i].tid == 0 && __atomic_compare_exchange_n(&t[i].tid, &z, me, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
            return &t[i];
    }
    /* Table full: take over the slot of a thread that has exited (its message is nobody's). */
    long pid = sys0(SYS_getpid);
    for (int i = 0; i < ERR_SLOTS; i++) {
        int t_tid = t[i].tid;
        if (t_tid != me && sys3(SYS_tgkill, pid, t_tid, 0) == -3 /* ESRCH */ &&
            __atomic_compare_exchange_n(&t[i].tid, &t_tid, me, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            t[i].pending = 0;
            return &t[i];
        }
    }
    /* Still full (more than ERR_SLOTS live threads use dlerror): share a slot. */
    struct err_slot *s = &t[(unsigned)me % ERR_SLOTS];
    s->tid = me;
    return s;
}

void jd_set_dlerror(const char *msg)
{
    struct err_slot *s = my_slot(msg != 0);
    if (!s)
        return;
    if (!msg) {
        s->pending = 0;
        return;
    }
    size_t n = jd_strlen(msg);
    if (n >= ERR_LEN)
        n = ERR_LEN - 1;
    jd_memcpy(s->msg, msg, n);
    s->msg[n] = 0;
    s->pending = 1;
}

char *jdryad_dlerror(void)
{
    struct err_slot *s = my_slot(0);
    if (s && s->pending) {
        s->pending = 0;
        jd_memcpy(s->ret, s->msg, ERR_LEN);
        return s->ret;
    }
    return 0;
}

/* Takes glibc's pending dlerror message (after a real dl* call failed) into our slot. */
static void take_glibc_error(void)
{
    const char *e = dlerror();
    jd_set_dlerror(e ? e : "unknown dynamic linking error");
}

/* Interned strings for dladdr results (must outlive the call). */
struct intern {
    struct intern *next;
    char s[];
};
static struct intern *volatile interned;
static const char *intern(const char *s)
{
    if (!s)
        return 0;
    for (struct intern *i = interned; i; i = i->next)
        if (jd_strcmp(i->s, s) == 0)
            return i->s;
    size_t n = jd_strlen(s) + 1;
    struct intern *i = jd_alloc(sizeof *i + n, 16);
    jd_memcpy(i->s, s, n);
    struct intern *head;
    do {
        head = __atomic_load_n(&interned, __ATOMIC_ACQUIRE);
        i->next = head;
    } while (!__atomic_compare_exchange_n(&interned, &head, i, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
    return i->s;
}

/* ---- dl* entry points ---- */
#define NO_CONNECTION                                                                              \
    "jdryad: this process cannot reach jdryad (a vfork child, or a signal handler that "           \
    "interrupted the dynamic linker), so jdryad objects cannot be searched here"
/* glibc's dlopen or dlmopen, as Java said: "ask glibc" names the namespace (0: dlopen). */
static void *glibc_open(Lmid_t lmid, const char *file, int mode)
{
    void *h = lmid ? dlmopen(lmid, file, mode) : dlopen(file, mode);
    if (!h)
        take_glibc_error();
    return h;
}

/* dlopen (lmid_given 0) and dlmopen: Java answers for jdryad objects, glibc for host objects. */
static void *do_dlopen(int lmid_given, Lmid_t lmid, const char *file, int mode, void *caller)
{
    jd_set_dlerror(0); /* as glibc: a dl* call replaces any message dlerror has not returned */
    struct jd_cbargs plain = {2, {(uint64_t)(unsigned)mode, (uint64_t)caller}, 1, {file}};
    struct jd_cbargs in_ns = {3, {(uint64_t)lmid, (uint64_t)(unsigned)mode, (uint64_t)caller}, 1, {file}};
    struct jd_cbreply r;
    if (jd_callback(lmid_given ? JD_CB_DLMOPEN : JD_CB_DLOPEN, lmid_given ? &in_ns : &plain, &r) != 0)
        return glibc_open(lmid_given ? lmid : 0, file, mode);
    void *res = 0;
    int64_t st = r.status;
    Lmid_t glibc_ns = (Lmid_t)r.v[0];
    if (st == JD_CB_OK)
        res = (void *)r.v[0];
    else if (st != JD_CB_ASK_GLIBC)
        jd_set_dlerror(r.s[0] ? r.s[0] : "dlopen failed");
    jd_callback_end(&r);
    if (st == JD_CB_ASK_GLIBC)
        res = glibc_open(glibc_ns, file, mode);
    return res;
}

__attribute__((noinline)) void *jdryad_dlopen(const char *file, int mode)
{
    return do_dlopen(0, 0, file, mode, __builtin_return_address(0));
}

/* dlmopen: Java keeps the namespaces (each of jdryad's is also one of glibc's, for its host
   objects: see DynamicLoader); LM_ID_BASE is dlopen. */
__attribute__((noinline)) void *jdryad_dlmopen(Lmid_t lmid, const char *file, int mode)
{
    if (lmid == LM_ID_BASE)
        return do_dlopen(0, 0, file, mode, __builtin_return_address(0));
    return do_dlopen(1, lmid, file, mode, __builtin_return_address(0));
}

/* dlsym's answer: Java's for jdryad objects, else glibc's; *source says whose. */
static void *look_up(void *handle, const char *name, const char *version, void *caller, int *source)
{
    jd_set_dlerror(0);
    struct jd_cbargs a = {2, {(uint64_t)handle, (uint64_t)caller}, 2, {name, version}};
    struct jd_cbreply r;
    void *glibc_handle = handle;
    *source = JDRYAD_SOURCE_JAVA;
    if (jd_callback(JD_CB_DLSYM, &a, &r) == 0) {
        int64_t st = r.status;
        void *res = (void *)r.v[0];
        if (st == JD_CB_ERROR)
            jd_set_dlerror(r.s[0] ? r.s[0] : "undefined symbol");
        jd_callback_end(&r);
        if (st == JD_CB_OK && r.v[1] == JD_DLSYM_TLS) {
            /* a TLS symbol: the calling thread's instance (v2 the module id, v0 the offset) */
            jd_tls_index ti = {r.v[2], (uint64_t)res};
            return jdryad___tls_get_addr(&ti);
        }
        if (st == JD_CB_OK)
            return res;
        if (st != JD_CB_ASK_GLIBC)
            return 0;
        glibc_handle = res;
    }
    if (jd_is_jdryad_handle(glibc_handle)) { /* no connection, or a child Java serves lazily only */
        jd_set_dlerror(NO_CONNECTION);
        return 0;
    }
    *source = JDRYAD_SOURCE_GLIBC;
    dlerror();
    void *res = version ? dlvsym(glibc_handle, name, version) : dlsym(glibc_handle, name);
    const char *e = dlerror();
    if (e)
        jd_set_dlerror(e);
    return res;
}

/* dlsym and dlvsym: the answer, announced to debuggers through the binding hook when it is one. */
static void *do_dlsym(void *handle, const char *name, const char *version, void *caller)
{
    int source;
    void *res = look_up(handle, name, version, caller, &source);
    if (res) {
        struct jdryad_binding b = {JDRYAD_BINDING_VERSION, JDRYAD_BIND_DLSYM, source, 0, name, version,
                                   res, 0, caller, (unsigned long)handle, 0,
                                   sys0(SYS_getpid), jd_gettid()};
        jdryad_dl_bind(&b);
    }
    return res;
}

__attribute__((noinline)) void *jdryad_dlsym(void *handle, const char *name)
{
    return do_dlsym(handle, name, 0, __builtin_return_address(0));
}

__attribute__((noinline)) void *jdryad_dlvsym(void *handle, const char *name, const char *version)
{
    return do_dlsym(handle, name, version, __builtin_return_address(0));
}

int jdryad_dlclose(void *handle)
{
    jd_set_dlerror(0);
    /* As glibc's _dl_fini (which raises every open count first): a destructor's dlclose while the
       finaliser runs unloads nothing, so no object in its snapshot is unmapped before its turn. */
    if (__atomic_load_n(&exiting, __ATOMIC_ACQUIRE))
        return 0;
    struct jd_cbargs a = {2, {(uint64_t)handle, (uint64_t)__builtin_return_address(0)}, 0, {0}};
    struct jd_cbreply r;
    void *glibc_handle = handle;
    if (jd_callback(JD_CB_DLCLOSE, &a, &r) == 0) {
        int64_t st = r.status;
        if (st == JD_CB_ERROR)
            jd_set_dlerror(r.s[0] ? r.s[0] : "dlclose failed");
        glibc_handle = (void *)r.v[0];
        jd_callback_end(&r);
        if (st == JD_CB_OK)
            return 0;
        if (st != JD_CB_ASK_GLIBC)
            return -1;
    }
    if (jd_is_jdryad_handle(glibc_handle))
        return 0; /* no connection (or lazy binding only): jdryad objects stay loaded */
    int rc = dlclose(glibc_handle);
    if (rc)
        take_glibc_error();
    return rc;
}

/* 0: not jdryad's (ask glibc); 1: found; -1: not found */
static int ask_dladdr(const void *addr, Dl_info *info, void **lm, void **sym)
{
    struct jd_cbargs a = {1, {(uint64_t)addr}, 0, {0}};
    struct jd_cbreply r;
    if (jd_callback(JD_CB_DLADDR, &a, &r) != 0)
        return 0;
    int res = r.status == JD_CB_OK ? 1 : r.status == JD_CB_ASK_GLIBC ? 0 : -1;
    if (res == 1) {
        /* Java names the program "" (glibc's main link map's l_name): glibc then answers
           _dl_argv[0] itself, the pointer the program has as argv[0]. */
        const char *a0 = jd_argv0;
        info->dli_fname = r.s[0] && r.s[0][0] ? intern(r.s[0]) : a0 ? a0 : "";
        info->dli_fbase = (void *)r.v[0];
        info->dli_sname = intern(r.s[1]);
        info->dli_saddr = (void *)r.v[1];
        *lm = (void *)r.v[2];
        *sym = (void *)r.v[3];
    }
    jd_callback_end(&r);
    return res;
}

int jdryad_dladdr(const void *addr, Dl_info *info)
{
    void *lm, *sym;
    int r = ask_dladdr(addr, info, &lm, &sym);
    if (r == 0)
        return dladdr(addr, info);
    return r > 0;
}

int jdryad_dladdr1(const void *addr, Dl_info *info, void **extra, int flags)
{
    void *lm, *sym;
    int r = ask_dladdr(addr, info, &lm, &sym);
    if (r == 0)
        return dladdr1(addr, info, extra, flags);
    if (r > 0 && extra) {
        if (flags == RTLD_DL_SYMENT)
            *extra = sym;
        else if (flags == RTLD_DL_LINKMAP)
            *extra = lm;
    }
    return r > 0;
}

int jdryad_dlinfo(void *handle, int request, void *arg)
{
    jd_set_dlerror(0);
    struct jd_cbargs a = {2, {(uint64_t)handle, (uint64_t)(unsigned)request}, 0, {0}};
    struct jd_cbreply r;
    void *glibc_handle = handle;
    if (jd_callback(JD_CB_DLINFO, &a, &r) == 0) {
        int64_t st = r.status;
        int rc = 0;
        if (st == JD_CB_OK) {
            switch (request) {
            case RTLD_DI_LMID:
                *(Lmid_t *)arg = (Lmid_t)r.v[0];
                break;
            case RTLD_DI_LINKMAP:
                *(void **)arg = (void *)r.v[0];
                break;
            case RTLD_DI_ORIGIN: {
                const char *s = r.s[0] ? r.s[0] : "";
                jd_memcpy(arg, s, jd_strlen(s) + 1);
                break;
            }
            case RTLD_DI_TLS_MODID:
                *(size_t *)arg = (size_t)r.v[0];
                break;
            case RTLD_DI_TLS_DATA:
                *(void **)arg = r.v[0] ? (void *)(jd_tp() - r.v[0]) : 0;
                break;
            default:
                jd_set_dlerror("dlinfo: unsupported request for a jdryad object");
                rc = -1;
            }
        } else if (st == JD_CB_ERROR) {
            jd_set_dlerror(r.s[0] ? r.s[0] : "dlinfo failed");
            rc = -1;
        }
        glibc_handle = (void *)r.v[0];
        jd_callback_end(&r);
        if (st != JD_CB_ASK_GLIBC)
            return rc;
    } else if (jd_is_jdryad_handle(handle)) {
        jd_set_dlerror(NO_CONNECTION);
        return -1;
    }
    int rc = dlinfo(glibc_handle, request, arg);
    if (rc)
        take_glibc_error();
    return rc;
}

/* ---- dl_iterate_phdr: the program's objects in link-map order, as glibc lists its own ----
 *
 * glibc lists the agent's process: the agent first (its main map), the vDSO, libc, ld.so and
 * what else glibc loaded, the agent's own libgcc_s among them; jdryad objects it does not know.
 * The object table (OBJECT_TABLE) says the program's order: jdryad objects, the places of host
 * objects (glibc's entries, matched by l_addr), and the host objects that are the agent's own
 * (left out). So a jdryad object sees what it would natively: the program first, named "", the
 * vDSO, then its libraries in load order. glibc's entries the table does not place (none, when
 * Java knows every host object) come last rather than never; with no table, glibc's list as it is.
 */
struct glibc_entries {
    struct dl_phdr_info *e;
    size_t n, cap;
    uint64_t adds, subs;
};

static int collect_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct glibc_entries *g = data;
    if (g->n < g->cap) {
        jd_memset(&g->e[g->n], 0, sizeof g->e[g->n]);
        jd_memcpy(&g->e[g->n], info, size < sizeof g->e[g->n] ? size : sizeof g->e[g->n]);
    }
    g->n++;
    g->adds = info->dlpi_adds;
    g->subs = info->dlpi_subs;
    return 0;
}

/* glibc's entries, into stack (room for cap) or, when more, a block of the agent's (freed by the caller). */
static void collect_glibc(struct glibc_entries *g, struct dl_phdr_info *stack, size_t cap)
{
    g->e = stack;
    g->cap = cap;
    g->n = 0;
    dl_iterate_phdr(collect_cb, g);
    while (g->n > g->cap) { /* more than the stack holds: count known, collect again */
        size_t want = g->n + 8;
        if (g->e != stack)
            jd_free(g->e);
        g->e = jd_alloc(want * sizeof *g->e, 16);
        g->cap = want;
        g->n = 0;
        dl_iterate_phdr(collect_cb, g);
    }
}

static int emit(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data, struct dl_phdr_info *i,
                const struct glibc_entries *g)
{
    i->dlpi_adds = g->adds + jd_adds;
    i->dlpi_subs = g->subs + jd_subs;
    return cb(i, sizeof *i, data);
}

int jdryad_dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data)
{
    struct dl_phdr_info stack[32];
    struct glibc_entries g;
    collect_glibc(&g, stack, sizeof stack / sizeof *stack);
    char used[g.n ? g.n : 1];
    jd_memset(used, 0, sizeof used);
    int r = 0;
    jd_read_begin(); /* the table stays while the callbacks run (a dlopen in one may replace it) */
    struct jd_object_table *t = __atomic_load_n(&jd_objects, __ATOMIC_ACQUIRE);
    for (size_t k = 0; t && k < t->n && !r; k++) {
        const struct jd_object *o = &t->obj[k];
        if (o->kind == JD_OBJ_HOST || o->kind == JD_OBJ_HIDDEN) {
            for (size_t j = 0; j < g.n; j++)
                if (!used[j] && g.e[j].dlpi_addr == o->base) {
                    used[j] = 1;
                    if (o->kind == JD_OBJ_HOST)
                        r = emit(cb, data, &g.e[j], &g);
                    break;
                }
            continue;
        }
        struct dl_phdr_info i;
        jd_memset(&i, 0, sizeof i);
        i.dlpi_addr = o->base;
        i.dlpi_name = o->kind == JD_OBJ_PROGRAM ? "" : o->name;
        i.dlpi_phdr = (const ElfW(Phdr) *)o->phdr;
        i.dlpi_phnum = (ElfW(Half))o->phnum;
        i.dlpi_tls_modid = o->tls_modid;
        i.dlpi_tls_data = o->tls_modid && o->tls_offset ? (void *)(jd_tp() - o->tls_offset) : 0;
        r = emit(cb, data, &i, &g);
    }
    jd_read_end();
    for (size_t j = 0; j < g.n && !r; j++)
        if (!used[j])
            r = emit(cb, data, &g.e[j], &g);
    if (g.e != stack)
        jd_free(g.e);
    return r;
}

int jdryad__dl_find_object(void *pc, struct dl_find_object *result)
{
    jd_read_begin();
    struct jd_object_table *t = __atomic_load_n(&jd_objects, __ATOMIC_ACQUIRE);
    uintptr_t a = (uintptr_t)pc;
    if (t)
        for (size_t k = 0; k < t->n; k++) {
            const struct jd_object *o = &t->obj[k];
            if (a >= o->map_start && a < o->map_end) {
                result->dlfo_flags = 0;
                result->dlfo_map_start = (void *)o->map_start;
                result->dlfo_map_end = (void *)o->map_end;
                result->dlfo_link_map = (struct link_map *)o->link_map;
                result->dlfo_eh_frame = (void *)o->eh_frame_hdr;
                jd_read_end();
                return 0;
            }
        }
    jd_read_end();
    return _dl_find_object(pc, result);
}

/* ---- the finaliser: the ABI's rtld_fini, passed to the program's _start in %rdx ---- */

/* LD_DEBUG's "calling fini" lines, which glibc's _dl_fini writes before each object's finalisers
   (SET_FINI kinds 3 and 4): to stderr or LD_DEBUG_OUTPUT's file, each line prefixed with this
   process's pid right-aligned in ten columns, ':' and a tab, as _dl_debug_printf does. */
static void debug_text(int fd, const char *text, size_t len)
{
    char prefix[12];
    long pid = sys0(SYS_getpid);
    int i = 10;
    do {
        prefix[--i] = (char)('0' + pid % 10);
        pid /= 10;
    } while (pid > 0 && i > 0);
    while (i > 0)
        prefix[--i] = ' ';
    prefix[10] = ':';
    prefix[11] = '\t';
    size_t start = 0;
    while (start < len) {
        size_t end = start;
        while (end < len && text[end] != '\n')
            end++;
        struct iovec iov[3] = {{prefix, sizeof prefix}, {(void *)(text + start), end - start}, {(void *)"\n", 1}};
        sys3(SYS_writev, fd, iov, 3);
        start = end + 1;
    }
}

void jdryad_rtld_fini(void)
{
    if (__atomic_exchange_n(&exiting, 1, __ATOMIC_ACQ_REL))
        return;
    /* One snapshot, list and count together.  From here on dlclose unloads nothing (see
       jdryad_dlclose), so every object in the snapshot stays mapped while its finalisers run. */
    jd_read_begin(); /* never ended: the process is exiting, and a finaliser may dlopen */
    struct jd_fini_table *t = __atomic_load_n(&jd_fini, __ATOMIC_ACQUIRE);
    size_t n = t ? t->n : 0;
    const struct jd_fini_entry *l = t ? t->e : 0;
    int debug_fd = 2;
    for (size_t i = 0; i < n; i++) {
        if (l[i].kind == JD_FINI_DEBUG_OUTPUT && l[i].addr) {
            long fd = sys4(SYS_openat, AT_FDCWD, (const char *)l[i].addr,
                           O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0666);
            debug_fd = fd < 0 ? 2 : (int)fd;
        } else if (l[i].kind == JD_FINI_DEBUG_TEXT && l[i].addr) {
            debug_text(debug_fd, (const char *)l[i].addr, l[i].count);
        } else if (l[i].kind == JD_FINI_CALL && l[i].addr) {
            ((void (*)(void))l[i].addr)();
        } else if (l[i].kind == JD_FINI_CALL2 && l[i].addr && l[i].count) {
            const uint64_t *a = (const uint64_t *)l[i].count;
            ((void (*)(uint64_t, uint64_t))l[i].addr)(a[0], a[1]);
        } else if (l[i].kind == JD_FINI_ARRAY) {
            void (**arr)(void) = (void (**)(void))l[i].addr;
            for (size_t j = l[i].count; j-- > 0;) {
                uintptr_t f = (uintptr_t)arr[j];
                if (f != 0 && f != (uintptr_t)-1)
                    arr[j]();
            }
        }
    }
}
