/*
 * ENTER (mechanism 3, see entry.h): builds the program's initial stack (argc, argv, envp, auxv
 * and their strings) below the agent's frames, points program_invocation_name and environ at it,
 * replies, and jumps to the program's entry point through jdryad_enter_jump (agent_asm.S).
 */
#include "entry.h"
#include "runtime.h"
#include "wire.h"

#include <sys/prctl.h>

ElfW(auxv_t) *orig_auxv;
int jd_orig_argc;
char **jd_orig_argv;

/* The kernel's environment strings, [start, end): right after argv's, one after another; 0
   when the kernel's layout was not found.  Why ENTER writes the program's environment there:
   programs find the room for their title (perl's $0, setproctitle) by checking that envp[0]
   follows argv's last string, and /proc/PID/environ shows this area, which otherwise still
   held the agent's own variables (JDRYAD_SOCKET, LD_BIND_NOW). The program's environment
   always fits: the agent's is the program's (LD_* aside) plus jdryad's variables. What is left
   is zeroed, as the kernel cannot be told the area ends earlier (PR_SET_MM needs a capability). */
static uintptr_t env_area_start, env_area_end;

void jd_note_env_area(int argc, char **argv, char **envp)
{
    if (argc < 1 || !argv[argc - 1] || !envp[0])
        return;
    uintptr_t at = (uintptr_t)argv[argc - 1] + jd_strlen(argv[argc - 1]) + 1;
    for (char **e = envp; *e; e++) {
        if ((uintptr_t)*e != at)
            return; /* not the kernel's layout */
        at += jd_strlen(*e) + 1;
    }
    env_area_start = (uintptr_t)envp[0];
    env_area_end = at;
}

/* Where the program's environment strings go: the kernel's area when argv is the kernel's and
   they fit, else 0 (they go with the stack image). */
static char *env_area_for(int kernels, const char **envp, uint64_t envc)
{
    if (!kernels || !env_area_start)
        return 0;
    uintptr_t need = 0;
    for (uint64_t i = 0; i < envc; i++)
        need += (envp[i] ? jd_strlen(envp[i]) : 0) + 1;
    return need <= env_area_end - env_area_start ? (char *)env_area_start : 0;
}

/* Whether the program's argv is the agent's own, string for string: then the program gets the
   kernel's strings, not copies, so that what it writes into them (setproctitle, node's
   process.title) is what /proc/PID/cmdline and ps show, as natively. */
static int argv_is_the_kernels(uint64_t argc, const char **argv)
{
    if (!jd_orig_argv || (uint64_t)jd_orig_argc != argc)
        return 0;
    for (uint64_t i = 0; i < argc; i++)
        if (!argv[i] || !jd_orig_argv[i] || jd_strcmp(argv[i], jd_orig_argv[i]) != 0)
            return 0;
    return 1;
}

/* The process's name (/proc/PID/comm, what ps, top and gdb's `info threads` show) is the
   kernel's: the base name of the file executed, truncated to 15 bytes. The kernel gave the
   agent's; the program's threads inherit the main thread's, so it is set before the program's
   first code runs (SET_EXE, before the initialisers), and again at entry. */
void jd_name_process(const char *path)
{
    if (!path)
        return;
    const char *base = path;
    for (const char *p = path; *p; p++)
        if (*p == '/')
            base = p + 1;
    char comm[16] = {0};
    for (int i = 0; i < 15 && base[i]; i++)
        comm[i] = base[i];
    sys2(SYS_prctl, PR_SET_NAME, comm);
}

/* Writes value into the agent's auxv entry of type (kept where the kernel put it: glibc's
   getauxval reads it); a type the kernel did not give is left out, as ENTER leaves it. */
static void patch_orig_auxv(uint64_t type, uint64_t value)
{
    for (ElfW(auxv_t) *a = orig_auxv; a->a_type != AT_NULL; a++)
        if (a->a_type == type)
            a->a_un.a_val = value;
}

/* A counted list of auxv (type, value) pairs (q n, n x (q, q)), the count checked against the
   bytes left before it sizes anything; NULL when it is malformed. */
static uint64_t *get_auxv_pairs(struct in *in, uint64_t *n)
{
    *n = get_q(in);
    if (in->bad || *n > 1000 || *n > remaining(in) / 16)
        return 0;
    uint64_t *pairs = jd_alloc(16 * (*n + 1), 16);
    for (uint64_t i = 0; i < 2 * *n; i++)
        pairs[i] = get_q(in);
    return pairs;
}

void set_auxv(struct in *in, struct buf *out)
{
    uint64_t n;
    uint64_t *pairs = get_auxv_pairs(in, &n);
    if (!pairs) {
        put_q(out, (uint64_t)-22);
        return;
    }
    const char *execfn = get_s(in);
    if (in->bad || in->pos != in->len) {
        jd_free(pairs);
        put_q(out, (uint64_t)-22);
        return;
    }
    for (uint64_t i = 0; i < n; i++)
        if (pairs[2 * i] != AT_NULL && pairs[2 * i] != AT_EXECFN)
            patch_orig_auxv(pairs[2 * i], pairs[2 * i + 1]);
    jd_free(pairs);
    if (execfn) { /* kept for good: getauxval(AT_EXECFN) may be asked at any time */
        size_t l = jd_strlen(execfn) + 1;
        char *copy = jd_alloc(l, 1);
        jd_memcpy(copy, execfn, l);
        patch_orig_auxv(AT_EXECFN, (uint64_t)(uintptr_t)copy);
    }
    put_q(out, 0);
}

/* A counted list of addresses (q n, n x q): the count is checked before anything is read. */
static long get_addresses(struct in *in, uint64_t *out, uint64_t max)
{
    uint64_t n = get_q(in);
    if (in->bad || n > max)
        return -1;
    for (uint64_t i = 0; i < n; i++)
        out[i] = get_q(in);
    return in->bad ? -1 : (long)n;
}

void enter(struct hdr *h, struct in *in, struct buf *out)
{
    if (jd_gettid() != agent_pid) {
        put_q(out, (uint64_t)-16); /* EBUSY: only the main thread can enter the program */
        return;
    }
    uint64_t entry = get_q(in);
    uint64_t argc = get_q(in);
    if (in->bad || argc > remaining(in) / 4) {
        put_q(out, (uint64_t)-22);
        return;
    }
    const char **argv = jd_alloc(sizeof(char *) * (argc + 1), 16);
    size_t strbytes = 0;
    for (uint64_t i = 0; i < argc; i++) {
        argv[i] = get_s(in);
        strbytes += argv[i] ? jd_strlen(argv[i]) + 1 : 1;
    }
    uint64_t envc = get_q(in);
    if (in->bad || envc > remaining(in) / 4) {
        put_q(out, (uint64_t)-22);
        return;
    }
    const char **envp = jd_alloc(sizeof(char *) * (envc + 1), 16);
    for (uint64_t i = 0; i < envc; i++) {
        envp[i] = get_s(in);
        strbytes += envp[i] ? jd_strlen(envp[i]) + 1 : 1;
    }
    uint64_t naux;
    uint64_t *aux_over = get_auxv_pairs(in, &naux);
    if (!aux_over) {
        put_q(out, (uint64_t)-22);
        return;
    }
    const char *execfn = get_s(in);
    if (execfn)
        strbytes += jd_strlen(execfn) + 1;
    /* Counts from the socket are checked before they size anything. */
    uint64_t full[65], shrt[65], envslots[65];
    long nfull = get_addresses(in, full, 64);
    long nshort = get_addresses(in, shrt, 64);
    long nenv = get_addresses(in, envslots, 64);
    if (nfull < 0 || nshort < 0 || nenv < 0 || in->bad || in->pos != in->len) {
        put_q(out, (uint64_t)-22);
        return;
    }

    size_t norig = 0;
    while (orig_auxv[norig].a_type != AT_NULL)
        norig++;
    size_t words = 1 + argc + 1 + envc + 1 + 2 * (norig + 1);

    /* Target: a region of the main stack below our current frames. */
    uintptr_t sp_now = (uintptr_t)__builtin_frame_address(0);
    uintptr_t top = (sp_now - 8192) & ~(uintptr_t)15;
    uintptr_t str_start = (top - strbytes) & ~(uintptr_t)15;
    uintptr_t new_sp = (str_start - words * 8) & ~(uintptr_t)15;
    size_t total = top - new_sp;
    char *img = map_anon((total + 4095) & ~(size_t)4095);
#define AT_(a) ((uintptr_t)(a) - (uintptr_t)img + new_sp) /* image address -> final address */
    uint64_t *w = (uint64_t *)img;
    char *s = img + (str_start - new_sp);
    *w++ = argc;
    uintptr_t argv0 = 0;
    int kernels = argv_is_the_kernels(argc, argv);
    for (uint64_t i = 0; i < argc; i++) {
        if (kernels) {
            if (i == 0)
                argv0 = (uintptr_t)jd_orig_argv[0];
            *w++ = (uintptr_t)jd_orig_argv[i];
            continue;
        }
        const char *a = argv[i] ? argv[i] : "";
        size_t l = jd_strlen(a) + 1;
        jd_memcpy(s, a, l);
        if (i == 0)
            argv0 = AT_(s);
        *w++ = AT_(s);
        s += l;
    }
    *w++ = 0;
    uintptr_t envp_final = AT_(w);
    char *area = env_area_for(kernels, envp, envc);
    for (uint64_t i = 0; i < envc; i++) {
        const char *a = envp[i] ? envp[i] : "";
        size_t l = jd_strlen(a) + 1;
        if (area) { /* envp's strings come from the request: the area is free to write */
            jd_memcpy(area, a, l);
            *w++ = (uintptr_t)area;
            area += l;
            continue;
        }
        jd_memcpy(s, a, l);
        *w++ = AT_(s);
        s += l;
    }
    if (area)
        jd_memset(area, 0, env_area_end - (uintptr_t)area);
    *w++ = 0;
    uintptr_t execfn_addr = 0;
    if (execfn) {
        size_t l = jd_strlen(execfn) + 1;
        jd_memcpy(s, execfn, l);
        execfn_addr = AT_(s);
        s += l;
    }
    ElfW(auxv_t) *aux = (ElfW(auxv_t) *)w;
    for (size_t i = 0; i <= norig; i++) {
        aux[i] = orig_auxv[i];
        for (uint64_t k = 0; k < naux; k++)
            if (aux[i].a_type == aux_over[2 * k] && aux[i].a_type != AT_NULL)
                aux[i].a_un.a_val = aux_over[2 * k + 1];
        if (aux[i].a_type == AT_EXECFN && execfn)
            aux[i].a_un.a_val = execfn_addr;
    }
    jd_name_process(execfn);
    /* glibc's getauxval reads the auxv ld.so saved: the agent's original one. Patch it too. */
    for (size_t i = 0; i < norig; i++)
        orig_auxv[i].a_un.a_val = aux[i].a_un.a_val;
#undef AT_

    /* program_invocation_name & co. */
    uintptr_t shortname = argv0;
    if (argv0) {
        const char *a0 = argv[0] ? argv[0] : "";
        const char *slash = 0;
        for (const char *p = a0; *p; p++)
            if (*p == '/')
                slash = p;
        if (slash)
            shortname = argv0 + (uintptr_t)(slash + 1 - a0);
    }
    if (nfull == 0) {
        void *p = dlsym(RTLD_DEFAULT, "program_invocation_name");
        if (p)
            full[nfull++] = (uint64_t)p;
    }
    if (nshort == 0) {
        void *p = dlsym(RTLD_DEFAULT, "program_invocation_short_name");
        if (p)
            shrt[nshort++] = (uint64_t)p;
    }
    /* In a dynamically linked program __libc_start_main does not set __environ (ld.so did,
       for the agent): point every copy of it Java names (libc's, and the program's copy
       relocation) at the program's envp. None named: environ stays as the initialisers left it. */
    for (long i = 0; i < nenv; i++)
        *(uintptr_t *)envslots[i] = envp_final;
    for (long i = 0; i < nfull; i++)
        *(uintptr_t *)full[i] = argv0;
    if (argv0)
        jd_argv0 = (const char *)argv0;
    for (long i = 0; i < nshort; i++)
        *(uintptr_t *)shrt[i] = shortname;

    /* "entering": from here on the socket is only used by callbacks from the program. */
    put_q(out, 0);
    send_frame(JD_ENTER | JD_REPLY, h->seq, out->p, out->len);
    jdryad_enter_jump(img, total, (void *)new_sp, (void *)entry, (void *)jdryad_rtld_fini);
}
