/*
 * jdryad-agent: the thin executor that jdryad (Java) drives inside the target process.
 * See protocol.h for the wire protocol and ../shared/DESIGN.md for the mechanisms.
 *
 * Rules: no allocation through libc (own mmap-backed memory), no libc data references (no copy
 * relocations), raw system calls for I/O, exactly one __thread variable (the reservation).
 *
 * This file is main() and start-up: it finds the agent's own image and glibc's r_debug, connects
 * to jdryad, says HELLO and serves until ENTER.  The rest is split by concern, one header per
 * seam: util (helpers, locks, memory), wire (the connection), callback (program threads asking
 * Java), requests (serving Java), rdebug (r_debug and activity events), entry (ENTER), attach
 * (waiting for a debugger), runtime (the dl* runtime), lazy (the lazy resolver), binding (the
 * hook debuggers stop at for bindings), exec and system (following exec, --follow).
 */
#include "runtime.h"
#include "wire.h"
#include "requests.h"
#include "rdebug.h"
#include "entry.h"
#include "lazy.h"
#include "tls.h"
#include "jdryad_binding.h"
#include "audit.h"
#include "exec.h"
#include "forks.h"

#include <sys/prctl.h>
#include <pthread.h>

/* ---- the static TLS reservation: the agent's ONLY __thread variable ---- */
__thread char jdryad_tls_reserve[JD_TLS_RESERVE] __attribute__((aligned(JD_TLS_ALIGN))) = {1};

extern const ElfW(Ehdr) __ehdr_start;
extern ElfW(Dyn) _DYNAMIC[];

/* ---- process state ---- */
static char **orig_envp;
static uintptr_t agent_base;

/* ---- start-up ---- */
static void hello(void)
{
    struct buf b = {0};
    put_q(&b, (uint64_t)agent_pid);
    put_q(&b, page_size);
    put_q(&b, agent_base);
    put_q(&b, (uint64_t)rdebug);
    put_q(&b, (uint64_t)host_head);
    put_q(&b, rdebug ? rdebug->r_brk : 0);
    put_q(&b, (uint64_t)jdryad_tls_reserve);
    put_q(&b, sizeof jdryad_tls_reserve);
    put_q(&b, jd_tp());
    put_q(&b, tls_image_addr);
    put_q(&b, tls_image_size);
    put_q(&b, JD_TLS_MODID_BASE);
    uint64_t nh = 0;
    for (struct link_map *l = host_head; l; l = l->l_next)
        nh++;
    put_q(&b, nh);
    for (struct link_map *l = host_head; l; l = l->l_next) {
        put_q(&b, l->l_addr);
        put_q(&b, (uint64_t)l->l_ld);
        put_q(&b, (uint64_t)l);
        put_s(&b, l->l_name ? l->l_name : "");
    }
    uint64_t na = 0;
    while (orig_auxv[na].a_type != AT_NULL)
        na++;
    put_q(&b, na);
    for (uint64_t i = 0; i < na; i++) {
        put_q(&b, orig_auxv[i].a_type);
        put_q(&b, orig_auxv[i].a_un.a_val);
    }
    static const struct {
        const char *name;
        void *addr;
    } syms[] = {
        {"jdryad_query_info", (void *)&jdryad_query_info},
        {"jdryad_dlopen", (void *)jdryad_dlopen},
        {"jdryad_dlmopen", (void *)jdryad_dlmopen},
        {"jdryad_dlsym", (void *)jdryad_dlsym},
        {"jdryad_dlvsym", (void *)jdryad_dlvsym},
        {"jdryad_dlclose", (void *)jdryad_dlclose},
        {"jdryad_dlerror", (void *)jdryad_dlerror},
        {"jdryad_dladdr", (void *)jdryad_dladdr},
        {"jdryad_dladdr1", (void *)jdryad_dladdr1},
        {"jdryad_dlinfo", (void *)jdryad_dlinfo},
        {"jdryad_dl_iterate_phdr", (void *)jdryad_dl_iterate_phdr},
        {"jdryad__dl_find_object", (void *)jdryad__dl_find_object},
        {"jdryad___tls_get_addr", (void *)jdryad___tls_get_addr},
        {"jdryad_rtld_fini", (void *)jdryad_rtld_fini},
        {"jdryad_tlsdesc_return", (void *)jdryad_tlsdesc_return},
        {"jdryad_tlsdesc_dynamic", (void *)jdryad_tlsdesc_dynamic},
        {"jdryad_lazy_resolve", (void *)jdryad_lazy_resolve},
        {"jdryad_audit_profile", (void *)jdryad_audit_profile},
        {"jdryad_audit_config", (void *)&jdryad_audit_config},
        {"jd_lazy_generation", (void *)&jd_lazy_generation},
        {"jd_fork_count", (void *)&jd_fork_count},
        {"jd_link_generation", (void *)&jd_link_generation},
        {"jdryad_dl_activity", (void *)jdryad_dl_activity},
        {"jdryad_dl_bind", (void *)jdryad_dl_bind},
        {"jdryad_readlink", (void *)jdryad_readlink},
        {"jdryad_readlinkat", (void *)jdryad_readlinkat},
        {"jdryad___readlink_chk", (void *)jdryad___readlink_chk},
        {"jdryad___readlinkat_chk", (void *)jdryad___readlinkat_chk},
        {"jdryad_self_execve", (void *)jdryad_self_execve},
        {"jdryad_self_execv", (void *)jdryad_self_execv},
        {"jdryad_self_execvp", (void *)jdryad_self_execvp},
        {"jdryad_self_execvpe", (void *)jdryad_self_execvpe},
        {"jdryad_self_execl", (void *)jdryad_self_execl},
        {"jdryad_self_execlp", (void *)jdryad_self_execlp},
        {"jdryad_self_execle", (void *)jdryad_self_execle},
        {"jdryad_self_posix_spawn", (void *)jdryad_self_posix_spawn},
        {"jdryad_self_posix_spawnp", (void *)jdryad_self_posix_spawnp},
    };
    put_q(&b, sizeof syms / sizeof syms[0]);
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        put_s(&b, syms[i].name);
        put_q(&b, (uint64_t)syms[i].addr);
    }
    send_frame(JD_HELLO, 0, b.p, b.len);
    sys2(SYS_munmap, b.p, b.cap);
}

static void find_self(void)
{
    agent_base = 0;
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)((const char *)&__ehdr_start + __ehdr_start.e_phoff);
    for (int i = 0; i < __ehdr_start.e_phnum; i++)
        if (ph[i].p_type == PT_PHDR)
            agent_base = (uintptr_t)ph - ph[i].p_vaddr;
    if (!agent_base)
        agent_base = (uintptr_t)&__ehdr_start; /* first PT_LOAD at vaddr 0 */
    for (int i = 0; i < __ehdr_start.e_phnum; i++) {
        if (ph[i].p_type == PT_TLS) {
            tls_image_addr = agent_base + ph[i].p_vaddr;
            tls_image_size = ph[i].p_filesz;
            if (ph[i].p_filesz != ph[i].p_memsz || ph[i].p_memsz != JD_TLS_RESERVE)
                jd_die("the agent's TLS segment is not exactly the initialised reservation "
                       "(another __thread variable?)", 127);
        } else if (ph[i].p_type == PT_GNU_RELRO) {
            relro_start = (agent_base + ph[i].p_vaddr) & ~(page_size - 1);
            relro_end = (agent_base + ph[i].p_vaddr + ph[i].p_memsz) & ~(page_size - 1);
        }
    }
    for (ElfW(Dyn) *d = _DYNAMIC; d->d_tag != DT_NULL; d++)
        if (d->d_tag == DT_DEBUG)
            rdebug = (struct r_debug *)d->d_un.d_ptr;
    if (!rdebug)
        jd_die("DT_DEBUG is not set in the agent's _DYNAMIC: cannot find glibc's r_debug", 127);
    host_head = rdebug->r_map;
}

/* The agent's entry, called by crt1's _start as `main`: the Makefile links `main` to this name
   and then strips `main` and `_start` from the symbol table, so that gdb's `break main` and
   `start` find only the program's (the agent exposes none of the program's names). */
/*
 * Started as [agent, ARG...] with JDRYAD_ARGV0 in the environment (jdryad run, which knows the
 * program's command line before it starts the agent, and whose JVM cannot choose an argv[0]):
 * the agent execs itself again as [ARGV0, ARG...], without that variable. Why: the kernel's
 * /proc/PID/cmdline is the exec's argv, and `ps`, `pgrep -f` and a program reading its own
 * (node's process.title, setproctitle) must see the program's command line, not the agent's
 * path; the same pid goes on. If the exec fails the agent goes on as started (only its command
 * line differs).
 */
static void reexec_as_program(int argc, char **argv, char **envp)
{
    long n = 0, at = -1;
    for (; envp[n]; n++)
        if (jd_strncmp(envp[n], "JDRYAD_ARGV0=", 13) == 0)
            at = n;
    if (at < 0 || argc < 1)
        return;
    static char self[4096];
    long len = sys3(SYS_readlink, (long)"/proc/self/exe", (long)self, sizeof self - 1);
    if (len <= 0)
        return;
    self[len] = 0;
    char **nargv = jd_alloc(sizeof(char *) * ((size_t)argc + 1), 16);
    char **nenv = jd_alloc(sizeof(char *) * ((size_t)n + 1), 16);
    nargv[0] = envp[at] + 13;
    for (int i = 1; i < argc; i++)
        nargv[i] = argv[i];
    long k = 0;
    for (long i = 0; i < n; i++)
        if (i != at)
            nenv[k++] = envp[i];
    sys3(SYS_execve, (long)self, (long)nargv, (long)nenv);
    jd_free(nargv);
    jd_free(nenv);
}

int jdryad_agent_main(int argc, char **argv, char **envp)
{
    reexec_as_program(argc, argv, envp);
    jd_note_env_area(argc, argv, envp); /* before anything moves an entry of envp */
    jd_orig_argc = argc;
    jd_orig_argv = argv;
    orig_envp = envp;
    char **e = envp;
    while (*e)
        e++;
    orig_auxv = (ElfW(auxv_t) *)(e + 1);
    for (ElfW(auxv_t) *a = orig_auxv; a->a_type != AT_NULL; a++)
        if (a->a_type == AT_PAGESZ)
            page_size = a->a_un.a_val;
    agent_pid = (int)sys0(SYS_getpid);
    jd_cached_pid = agent_pid;

    uintptr_t tp = jd_tp();
    if ((uintptr_t)jdryad_tls_reserve + sizeof jdryad_tls_reserve != tp) {
        char b1[20], b2[20];
        jd_puts2("jdryad-agent: the TLS reservation is not directly below the thread pointer: reserve=",
                 jd_fmt_hex(b1, (uintptr_t)jdryad_tls_reserve));
        jd_puts2(" tp=", jd_fmt_hex(b2, tp));
        jd_die("", 127);
    }
    find_self();

    /* Take our variables out of the environment (the program gets Java's exact envp anyway). */
    const char *path = 0;
    int ptracer = -1;
    char **w = envp;
    for (char **r = envp; *r; r++) {
        if (jd_strncmp(*r, "JDRYAD_SOCKET=", 14) == 0)
            path = *r + 14;
        else if (jd_strncmp(*r, "JDRYAD_PID=", 11) == 0) {
            ptracer = 0;
            for (const char *p = *r + 11; *p >= '0' && *p <= '9'; p++)
                ptracer = ptracer * 10 + (*p - '0');
        }
        if (jd_strncmp(*r, "JDRYAD_", 7) != 0)
            *w++ = *r;
    }
    for (char **z = w; z < e; z++)
        *z = 0;
    /* A followed exec (exec.h) has its socket in argv, and no JDRYAD_SOCKET: an agent started
       with one has the program's arguments in argv, whatever they say. */
    const char *follow = path ? 0 : jd_follow_socket(argc, argv);
    if (follow)
        path = follow;
    if (!path)
        jd_die("JDRYAD_SOCKET is not set: this program is started by jdryad, not by hand", 127);

    sock_path = jd_strdup(path);
    use_socket(connect_socket());
    if (sock < 0 && follow)
        jd_follow_unfollowed(argv); /* jdryad has gone: the exec'ed program runs as the kernel runs it */
    if (sock < 0)
        jd_die("cannot connect to jdryad", 127);
    pthread_atfork(jd_forks_prepare, 0, reset_for_child);
    sys5(SYS_prctl, PR_SET_PTRACER, ptracer > 0 ? ptracer : (long)PR_SET_PTRACER_ANY, 0, 0, 0);

    jd_runtime_init();
    jd_exec_init();
    jd_tls_init(); /* -1: this glibc does not describe its thread lists; new blocks reach the main thread */
    jd_lazy_init();
    main_tp = jd_tp();
    hello();
    jd_serve(0); /* the main thread serves Java until ENTER */
    return 127;
}
