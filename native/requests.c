/*
 * Serving Java's requests (see requests.h): the loop, the dispatch, and the requests that work on
 * the agent's memory and tables (map, write, read, call, allocate, TLS images, host objects
 * through glibc, the object and finaliser tables, the lazy log).  RELOCATE_RELATIVE is
 * relocate.c's, R_DEBUG_UPDATE rdebug.c's,
 * ENTER entry.c's, WAIT_DEBUGGER attach.c's.
 */
#include "requests.h"
#include "runtime.h"
#include "entry.h"
#include "lazy.h"
#include "rdebug.h"
#include "attach.h"
#include "relocate.h"
#include "tls.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

uintptr_t tls_image_addr;
size_t tls_image_size;
uintptr_t relro_start, relro_end;
size_t page_size = 4096;
uintptr_t main_tp;

/* Safe copies of our own memory for READ/WRITE requests: see jd_safe_copy. */
static long safe_copy(int to_remote, void *local, uintptr_t remote, size_t len)
{
    return jd_safe_copy(agent_pid, to_remote, local, remote, len);
}

/* Writes into pages that may be read-only RELRO (module 1's TLS init image). */
static void write_protected(uintptr_t addr, const void *src, size_t len)
{
    if (!len)
        return;
    uintptr_t start = addr & ~(page_size - 1);
    uintptr_t end = (addr + len + page_size - 1) & ~(page_size - 1);
    spin_lock(&tls_write_lock); /* two requests served at once must not re-protect each other's page */
    sys3(SYS_mprotect, start, end - start, PROT_READ | PROT_WRITE);
    jd_memcpy((void *)addr, src, len);
    for (uintptr_t p = start; p < end; p += page_size) {
        int ro = p >= relro_start && p + page_size <= relro_end;
        sys3(SYS_mprotect, p, page_size, ro ? PROT_READ : PROT_READ | PROT_WRITE);
    }
    spin_unlock(&tls_write_lock);
}

/* The bytes of one block at tp - off in module 1's init image (threads created later). */
static void write_image_block(uint64_t off, const void *bytes, size_t n)
{
    write_protected(tls_image_addr + tls_image_size - off, bytes, n);
}

/* The bytes the names of an OBJECT_TABLE request take (each with its NUL), or -1 when it is
   malformed; `in` is a copy, the request itself is read again. */
static long object_names_bytes(struct in in, uint64_t n)
{
    size_t bytes = 0;
    for (uint64_t i = 0; i < n && !in.bad; i++) {
        if (get_q(&in) > JD_OBJ_HIDDEN)
            return -1; /* not a kind of entry */
        for (int q = 0; q < 9; q++)
            get_q(&in);
        const char *name = get_s(&in);
        bytes += name ? jd_strlen(name) + 1 : 1;
    }
    return in.bad ? -1 : (long)bytes;
}

static void object_table(struct in *in, struct buf *out)
{
    uint64_t n = get_q(in);
    long names = in->bad || n > remaining(in) / 84 ? -1 : object_names_bytes(*in, n); /* 10 q + an s */
    if (names < 0) {
        put_q(out, (uint64_t)-22);
        return;
    }
    /* One block, names included: the table is retired as a whole when the next one replaces it. */
    size_t head = sizeof(struct jd_object_table) + n * sizeof(struct jd_object);
    struct jd_object_table *t = jd_alloc(head + (size_t)names, 16);
    char *text = (char *)t + head;
    t->n = n;
    for (uint64_t i = 0; i < n; i++) {
        struct jd_object *o = &t->obj[i];
        o->kind = get_q(in);
        o->link_map = get_q(in);
        o->base = get_q(in);
        o->phdr = get_q(in);
        o->phnum = get_q(in);
        o->map_start = get_q(in);
        o->map_end = get_q(in);
        o->eh_frame_hdr = get_q(in);
        o->tls_modid = get_q(in);
        o->tls_offset = get_q(in);
        const char *name = get_s(in);
        size_t len = name ? jd_strlen(name) : 0;
        if (len)
            jd_memcpy(text, name, len);
        text[len] = 0;
        o->name = text;
        text += len + 1;
    }
    struct jd_object_table *old = __atomic_exchange_n(&jd_objects, t, __ATOMIC_SEQ_CST);
    jd_retire(old); /* freed once no dl_iterate_phdr or _dl_find_object still reads it */
    jd_set_tls_offsets();
    put_q(out, 0);
}

static void set_fini(struct in *in, struct buf *out)
{
    uint64_t n = get_q(in);
    if (in->bad || n > remaining(in) / 24) {
        put_q(out, (uint64_t)-22);
        return;
    }
    /* List and count are published together (one pointer): the finaliser may run in another
       thread while a dlopen or dlclose replaces the list. */
    struct jd_fini_table *t = jd_alloc(sizeof *t + sizeof t->e[0] * (n + 1), 16);
    t->n = n;
    for (uint64_t i = 0; i < n; i++) {
        t->e[i].kind = get_q(in);
        t->e[i].addr = get_q(in);
        t->e[i].count = get_q(in);
    }
    if (in->bad) {
        jd_free(t);
        put_q(out, (uint64_t)-22);
        return;
    }
    struct jd_fini_table *old = __atomic_exchange_n(&jd_fini, t, __ATOMIC_SEQ_CST);
    jd_retire(old); /* freed once the finaliser (which may be running) no longer reads it */
    put_q(out, 0);
}

/* LAZY_SETUP: maps Java's shared log file and takes the table index (see lazy.h). */
static void lazy_setup(struct in *in, struct buf *out)
{
    const char *path = get_s(in);
    uint64_t size = get_q(in), tables = get_q(in), ntables = get_q(in), bind_not = get_q(in);
    if (in->bad || !path || size < sizeof(struct jd_lazy_log) || size > ((uint64_t)1 << 32) || !tables ||
        ntables > (1u << 20)) {
        put_q(out, (uint64_t)-22);
        return;
    }
    long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0) {
        put_q(out, (uint64_t)fd);
        return;
    }
    long m = sys6(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    sys1(SYS_close, fd);
    if (m < 0 && m > -4096) {
        put_q(out, (uint64_t)m);
        return;
    }
    struct jd_lazy_log *log = (struct jd_lazy_log *)m;
    if (log->magic != JD_LAZY_LOG_MAGIC ||
        log->capacity > (size - sizeof *log) / sizeof(struct jd_lazy_record)) {
        sys2(SYS_munmap, m, (long)size);
        put_q(out, (uint64_t)-22);
        return;
    }
    jd_lazy_configure(log, (struct jd_lazy_table *volatile *)tables, ntables, bind_not != 0);
    put_q(out, 0);
}

/* ---- host objects through glibc's real dlopen (or dlmopen, for another namespace) ---- */
static void put_host(struct buf *out, void *h)
{
    struct link_map *lm = 0;
    dlinfo(h, RTLD_DI_LINKMAP, &lm);
    size_t modid = 0;
    void *data = 0;
    if (dlinfo(h, RTLD_DI_TLS_MODID, &modid) != 0)
        modid = 0;
    if (modid && dlinfo(h, RTLD_DI_TLS_DATA, &data) != 0)
        data = 0;
    dlerror();
    put_q(out, 0);
    put_q(out, (uint64_t)h);
    put_q(out, lm ? lm->l_addr : 0);
    put_q(out, lm ? (uint64_t)lm->l_ld : 0);
    put_q(out, modid);
    put_q(out, data ? jd_tp() - (uintptr_t)data : 0);
    put_s(out, lm && lm->l_name ? lm->l_name : "");
}

static void put_dlerror(struct buf *out, const char *fallback)
{
    const char *e = dlerror();
    put_q(out, (uint64_t)-1);
    put_s(out, e ? e : fallback);
}

static void dlopen_host(struct in *in, struct buf *out)
{
    uint64_t flags = get_q(in);
    const char *name = get_s(in);
    if (in->bad) {
        put_q(out, (uint64_t)-22);
        return;
    }
    void *h = dlopen(name, (int)flags);
    if (!h) {
        put_dlerror(out, "dlopen failed");
        return;
    }
    put_host(out, h);
}

static void dlmopen_host(struct in *in, struct buf *out)
{
    int64_t lmid = (int64_t)get_q(in);
    uint64_t flags = get_q(in);
    const char *name = get_s(in);
    if (in->bad || !name) {
        put_q(out, (uint64_t)-22);
        return;
    }
    void *h = dlmopen((Lmid_t)lmid, name, (int)flags);
    if (!h) {
        put_dlerror(out, "dlmopen failed");
        return;
    }
    Lmid_t ns = 0;
    if (dlinfo(h, RTLD_DI_LMID, &ns) != 0)
        ns = -1;
    put_host(out, h);
    put_q(out, (uint64_t)ns);
}

static void dlsym_host(struct in *in, struct buf *out)
{
    void *h = (void *)get_q(in);
    const char *name = get_s(in), *version = get_s(in);
    if (in->bad || !name) {
        put_q(out, (uint64_t)-22);
        return;
    }
    dlerror();
    void *a = version ? dlvsym(h, name, version) : dlsym(h, name);
    const char *e = dlerror();
    if (e) {
        put_q(out, (uint64_t)-1);
        put_s(out, e);
        return;
    }
    put_q(out, 0);
    put_q(out, (uint64_t)a);
}

/* ---- request dispatch ---- */
/* SET_FDS: the descriptors the frame brought go to their numbers; the agent's own connection is
   moved out of the way first when a number is its (see protocol.h). */
static void set_fds(struct in *in, struct buf *out)
{
    uint64_t n = get_q(in);
    int got[64];
    int k = jd_take_passed(got, 64);
    if (in->bad || n > 64 || n > remaining(in) / 8 || (uint64_t)k != n) {
        for (int i = 0; i < k; i++)
            sys1(SYS_close, got[i]);
        put_q(out, (uint64_t)-22);
        return;
    }
    uint64_t targets[64], top = 0;
    for (uint64_t i = 0; i < n; i++) {
        targets[i] = get_q(in);
        if (targets[i] < (1u << 20) && targets[i] > top)
            top = targets[i];
    }
    /* Received descriptors got the lowest free numbers, which may be targets: above them first. */
    for (int i = 0; i < k; i++) {
        if ((uint64_t)got[i] <= top) {
            int high = (int)sys3(SYS_fcntl, got[i], F_DUPFD_CLOEXEC, (long)top + 1);
            sys1(SYS_close, got[i]);
            got[i] = high;
        }
    }
    uint64_t placed = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t target = targets[i];
        int ok = target >= 3 && target < (1u << 20);
        if (ok && (long)target == sock) {
            int moved = (int)sys3(SYS_fcntl, sock, F_DUPFD_CLOEXEC, (long)top + 1);
            if (moved >= 0) {
                sys1(SYS_close, sock);
                use_socket(moved);
            }
        }
        if (ok && got[i] >= 0 && (long)target != sock && sys2(SYS_dup2, got[i], (long)target) >= 0)
            placed++;
        if (got[i] >= 0)
            sys1(SYS_close, got[i]);
    }
    put_q(out, placed);
}

static void handle_request(struct hdr *h, struct in *in, struct buf *out)
{
    switch (h->type) {
    case JD_MMAP_FILE: {
        uint64_t addr = get_q(in), len = get_q(in), prot = get_q(in), flags = get_q(in),
                 off = get_q(in), dev = get_q(in), ino = get_q(in);
        const char *path = get_s(in);
        if (in->bad || !path) {
            put_q(out, (uint64_t)-22);
            break;
        }
        long fd = sys4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0);
        if (fd < 0) {
            put_q(out, (uint64_t)fd);
            break;
        }
        struct stat st;
        long r = sys2(SYS_fstat, fd, &st);
        if (r == 0 && !(dev == (uint64_t)-1 && ino == (uint64_t)-1) &&
            ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino))
            r = -116; /* ESTALE: not the file Java parsed */
        if (r == 0)
            r = sys6(SYS_mmap, addr, len, prot, (flags & ~(uint64_t)(MAP_TYPE | MAP_ANONYMOUS)) | MAP_PRIVATE,
                     fd, off); /* never MAP_SHARED (1|2 would be MAP_SHARED_VALIDATE) nor anonymous */
        sys1(SYS_close, fd);
        put_q(out, (uint64_t)r);
        break;
    }
    case JD_MMAP_ANON: {
        uint64_t addr = get_q(in), len = get_q(in), prot = get_q(in), flags = get_q(in);
        put_q(out, in->bad ? (uint64_t)-22
                           : (uint64_t)sys6(SYS_mmap, addr, len, prot,
                                            (flags & ~(uint64_t)MAP_TYPE) | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        break;
    }
    case JD_MPROTECT: {
        uint64_t addr = get_q(in), len = get_q(in), prot = get_q(in);
        put_q(out, in->bad ? (uint64_t)-22 : (uint64_t)sys3(SYS_mprotect, addr, len, prot));
        break;
    }
    case JD_MUNMAP: {
        uint64_t addr = get_q(in), len = get_q(in);
        put_q(out, in->bad ? (uint64_t)-22 : (uint64_t)sys2(SYS_munmap, addr, len));
        break;
    }
    case JD_WRITE: {
        uint64_t addr = get_q(in);
        if (in->bad) {
            put_q(out, (uint64_t)-22);
            break;
        }
        put_q(out, (uint64_t)safe_copy(1, (void *)(in->p + in->pos), addr, in->len - in->pos));
        break;
    }
    case JD_READ: {
        uint64_t addr = get_q(in), len = get_q(in);
        if (in->bad || len > JD_MAX_FRAME - 8) {
            put_q(out, (uint64_t)-22);
            break;
        }
        buf_reserve(out, 8 + len);
        long r = safe_copy(0, out->p + 8, addr, len);
        if (r < 0) {
            put_q(out, (uint64_t)r);
            break;
        }
        out->len = 0;
        put_q(out, 0);
        out->len = 8 + len;
        break;
    }
    case JD_WRITE_WORDS:
    case JD_WRITE_WORDS32: {
        uint64_t n = get_q(in);
        if (in->bad || n > (in->len - in->pos) / 16) {
            put_q(out, (uint64_t)-22);
            break;
        }
        const uint64_t *p = (const uint64_t *)(in->p + in->pos);
        if (h->type == JD_WRITE_WORDS)
            for (uint64_t i = 0; i < n; i++)
                __builtin_memcpy((void *)p[2 * i], &p[2 * i + 1], 8);
        else
            for (uint64_t i = 0; i < n; i++)
                __builtin_memcpy((void *)p[2 * i], &p[2 * i + 1], 4);
        put_q(out, n);
        break;
    }
    case JD_CALL: {
        uint64_t fn = get_q(in), nargs = get_q(in), a[6] = {0};
        for (uint64_t i = 0; i < nargs && i < 6; i++)
            a[i] = get_q(in);
        if (in->bad || nargs > 6 || !fn) {
            put_q(out, (uint64_t)-22);
            break;
        }
        typedef uint64_t (*fn6)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);
        uint64_t rax = ((fn6)fn)(a[0], a[1], a[2], a[3], a[4], a[5]);
        put_q(out, 0);
        put_q(out, rax);
        break;
    }
    case JD_CALL_LIST: {
        /* Initialisers in bulk: each fn(a0, a1, a2) in order, one round trip for an init array
           of hundreds (libLLVM has 590). */
        uint64_t a0 = get_q(in), a1 = get_q(in), a2 = get_q(in), n = get_q(in);
        if (in->bad || n > (in->len - in->pos) / 8) {
            put_q(out, (uint64_t)-22);
            break;
        }
        typedef void (*fn3)(uint64_t, uint64_t, uint64_t);
        /* Initialisers get (argc, argv, envp): until the program is entered, argv[0] is this one. */
        if (!jd_argv0 && a0 > 0 && a1)
            jd_argv0 = ((const char *const *)a1)[0];
        for (uint64_t i = 0; i < n; i++) {
            uint64_t fn = get_q(in);
            if (fn)
                ((fn3)fn)(a0, a1, a2);
        }
        put_q(out, 0);
        break;
    }
    case JD_CALL_EACH: {
        /* IFUNC resolvers of glibc's libraries in bulk: one round trip for the 80 of libc and libm
           instead of one each while Java plans (where each would wait behind the agent's work). */
        uint64_t n = get_q(in);
        if (in->bad || n != remaining(in) / 8 || remaining(in) % 8) {
            put_q(out, (uint64_t)-22);
            break;
        }
        put_q(out, 0);
        for (uint64_t i = 0; i < n; i++) {
            uint64_t fn = get_q(in);
            put_q(out, fn ? ((uint64_t(*)(void))fn)() : 0);
        }
        break;
    }
    case JD_ALLOC: {
        uint64_t size = get_q(in), align = get_q(in);
        if (in->bad || size > ((uint64_t)1 << 40) || (align & (align - 1)) || align > 65536) {
            put_q(out, (uint64_t)-22);
            break;
        }
        void *p = jd_alloc_try(size ? size : 1, align);
        put_q(out, p ? (uint64_t)p : (uint64_t)-12 /* ENOMEM: a request never kills the agent */);
        break;
    }
    case JD_PLACE_STRINGS: {
        uint64_t n = get_q(in);
        if (in->bad || n > remaining(in) / 4) {
            put_q(out, (uint64_t)-22);
            break;
        }
        char **v = jd_alloc(8 * (n + 1), 16);
        for (uint64_t i = 0; i < n && !in->bad; i++)
            v[i] = jd_strdup(get_s(in));
        put_q(out, in->bad ? (uint64_t)-22 : (uint64_t)v);
        break;
    }
    case JD_DLOPEN_HOST:
        dlopen_host(in, out);
        break;
    case JD_DLMOPEN_HOST:
        dlmopen_host(in, out);
        break;
    case JD_DLSYM_HOST:
        dlsym_host(in, out);
        break;
    case JD_R_DEBUG_UPDATE:
        r_debug_update(in, out);
        break;
    case JD_RESERVE_NODE:
        reserve_node(in, out);
        break;
    case JD_OBJECT_TABLE:
        object_table(in, out);
        break;
    case JD_SET_TLS_IMAGE: {
        size_t n = in->len;
        if (n > JD_TLS_RESERVE - JD_TLS_AGENT_BYTES) { /* the agent's own words stay */
            put_q(out, (uint64_t)-7); /* E2BIG */
            break;
        }
        jd_memcpy((void *)(main_tp - n), in->p, n); /* the main thread's block, whoever serves */
        write_protected(tls_image_addr + tls_image_size - n, in->p, n);
        put_q(out, 0);
        break;
    }
    case JD_SET_TLS_BLOCK: {
        uint64_t off = get_q(in);
        size_t n = in->bad ? 0 : in->len - in->pos;
        const char *bytes = in->p + in->pos;
        if (in->bad || off > JD_TLS_RESERVE - JD_TLS_AGENT_BYTES || n > off) {
            put_q(out, (uint64_t)-22); /* EINVAL */
            break;
        }
        long r = jd_tls_set_block_all(off, bytes, n, main_tp, write_image_block);
        put_q(out, r < 0 ? (uint64_t)r : 0);
        break;
    }
    case JD_TLS_DYNAMIC: {
        uint64_t m = get_q(in), image = get_q(in), filesz = get_q(in), memsz = get_q(in), align = get_q(in);
        put_q(out, in->bad ? (uint64_t)-22 : (uint64_t)jd_tls_set_dynamic(m, image, filesz, memsz, align));
        break;
    }
    case JD_SET_AUXV:
        set_auxv(in, out);
        break;
    case JD_SET_FDS:
        set_fds(in, out);
        break;
    case JD_SET_EXE: {
        const char *path = get_s(in);
        const char *executed = get_s(in);
        if (in->bad || !path || in->pos != in->len) {
            put_q(out, (uint64_t)-22);
            break;
        }
        size_t n = jd_strlen(path) + 1;
        char *copy = jd_alloc(n, 1);
        jd_memcpy(copy, path, n);
        jd_exe_path = copy;
        jd_name_process(executed);
        put_q(out, 0);
        break;
    }
    case JD_RELOCATE_RELATIVE:
        jd_relocate_relative(in, out);
        break;
    case JD_SET_FINI:
        set_fini(in, out);
        break;
    case JD_LAZY_SETUP:
        lazy_setup(in, out);
        break;
    case JD_WAIT_DEBUGGER:
        wait_debugger(in, out);
        break;
    case JD_ENTER:
        enter(h, in, out); /* returns only for a malformed request */
        break;
    default:
        put_q(out, (uint64_t)-38); /* ENOSYS */
        break;
    }
    send_frame(h->type | JD_REPLY, h->seq, out->p, out->len);
}

/* ---- the loop ---- */
/* Reads frames and serves Java's requests until `w` (or nothing, at top level) gets its reply. */
struct in jd_serve(struct waiter *w)
{
    struct ctx *c = ctx_get();
    for (;;) {
        struct hdr h;
        struct in in;
        if (jd_wire_next(w, &c->in, &h, &in)) {
            ctx_put(c);
            return in;
        }
        c->out.len = 0;
        handle_request(&h, &in, &c->out);
    }
}
