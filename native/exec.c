/*
 * Following exec (see exec.h): the exec family and posix_spawn as jdryad objects see them with
 * --follow. Each looks at the file as the kernel will and runs a program that needs a loader
 * in the agent instead; everything else goes to the kernel (or glibc) unchanged, so errors are
 * the kernel's. Only raw system calls and mmap-backed memory: a vfork child (Python's
 * subprocess, posix_spawn) runs this in its parent's memory, so nothing here takes a lock or
 * keeps state but the cached glibc function pointers.
 */
#include "exec.h"
#include "runtime.h"
#include "wire.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

/* The program's `environ` (its copy relocation, or libc's): Java writes its address here after
   linking, for execv, execvp, execl and execlp, which use the caller's environment. */
char **volatile *volatile jd_follow_environ;

enum kind { CANNOT = -1, AS_IS = 0, FOLLOW = 1 };

static char **current_environ(void)
{
    static char *empty[1];
    return jd_follow_environ && *jd_follow_environ ? *jd_follow_environ : empty;
}

static int set_errno(long negative)
{
    errno = (int)-negative;
    return -1;
}

/* An ELF file that names an interpreter (PT_INTERP): a dynamically linked program. */
static int needs_loader(int fd)
{
    ElfW(Ehdr) eh;
    if (sys4(SYS_pread64, fd, &eh, sizeof eh, 0) != (long)sizeof eh)
        return 0;
    if (jd_strncmp((const char *)eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64
        || eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(ElfW(Phdr)) || eh.e_phnum > 512)
        return 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        ElfW(Phdr) ph;
        if (sys4(SYS_pread64, fd, &ph, sizeof ph, eh.e_phoff + (uint64_t)i * sizeof ph) != (long)sizeof ph)
            return 0;
        if (ph.p_type == PT_INTERP)
            return 1;
    }
    return 0;
}

/* The interpreter a #! line names, copied into out (the kernel's parsing: blanks, then a word). */
static int script_interpreter(const char *head, long n, char *out, size_t cap)
{
    long i = 2;
    while (i < n && (head[i] == ' ' || head[i] == '\t'))
        i++;
    size_t k = 0;
    while (i < n && head[i] != ' ' && head[i] != '\t' && head[i] != '\n' && head[i] != 0 && k + 1 < cap)
        out[k++] = head[i++];
    out[k] = 0;
    return k > 0;
}

/* What execve of path will meet: a file it cannot run (the kernel says why), one to run as it
   is (static, set-id, not ELF), or one to follow (it needs a loader, directly or as a script's
   interpreter). */
static enum kind classify(const char *path, int depth)
{
    if (!path || depth > 4)
        return CANNOT;
    if (sys4(SYS_faccessat, AT_FDCWD, path, X_OK, 0) != 0)
        return CANNOT;
    int fd = (int)sys3(SYS_open, path, O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return CANNOT;
    struct stat st;
    st.st_mode = 0; /* (an fstat that fails: not a regular file) */
    enum kind k = AS_IS;
    if (sys2(SYS_fstat, fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & (S_ISUID | S_ISGID))) {
        char head[256];
        long n = sys4(SYS_pread64, fd, head, sizeof head, 0);
        char interp[256];
        if (n >= 2 && head[0] == '#' && head[1] == '!') {
            if (script_interpreter(head, n, interp, sizeof interp) && classify(interp, depth + 1) == FOLLOW)
                k = FOLLOW;
        } else if (needs_loader(fd)) {
            k = FOLLOW;
        }
    } else if (!S_ISREG(st.st_mode)) {
        k = CANNOT;
    }
    sys1(SYS_close, fd);
    return k;
}

static size_t count(char *const v[])
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

/* Writes a, b and c (any may be 0) at *at as one string and moves *at past its NUL. */
static char *place3(char **at, const char *a, const char *b, const char *c)
{
    char *start = *at;
    const char *parts[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        size_t l = parts[i] ? jd_strlen(parts[i]) : 0;
        jd_memcpy(*at, parts[i], l);
        *at += l;
    }
    *(*at)++ = 0;
    return start;
}

static char *place(char **at, const char *a, const char *b)
{
    return place3(at, a, b, 0);
}

/* The agent's argv and environment for running path with argv and envp, in one mapping. */
struct rewritten {
    char *agent;
    char **argv, **envp;
    void *map;
    size_t len;
};

static int rewrite(const char *path, char *const argv[], char *const envp[], struct rewritten *r)
{
    static char agent[4096];
    long al = sys3(SYS_readlink, "/proc/self/exe", agent, sizeof agent - 1);
    if (al <= 0 || !sock_path)
        return 0;
    agent[al] = 0;
    char cwd[4096];
    cwd[0] = 0;
    if (path[0] != '/' && sys2(SYS_getcwd, cwd, sizeof cwd - 2) <= 0)
        return 0;
    size_t argc = count(argv), envc = count(envp);
    size_t bytes = (argc + 6 + envc + 2) * sizeof(char *) + jd_strlen(agent) + jd_strlen(sock_path)
                   + jd_strlen(cwd) + jd_strlen(path) + 64 + envc * sizeof JD_FOLLOW_LD_PREFIX;
    for (size_t i = 0; i < argc; i++)
        bytes += jd_strlen(argv[i]) + 1;
    for (size_t i = 0; i < envc; i++)
        bytes += jd_strlen(envp[i]) + 1;
    size_t len = (bytes + 4095) & ~(size_t)4095;
    long m = sys6(SYS_mmap, 0, (long)len, 3 /* rw */, 0x22 /* private|anonymous */, -1, 0);
    if (m < 0 && m > -4096)
        return 0;
    char **v = (char **)m;
    char *s = (char *)(v + argc + 6 + envc + 2);
    r->map = (void *)m;
    r->len = len;
    r->argv = v;
    r->agent = *v++ = place(&s, agent, 0);
    *v++ = place(&s, JD_FOLLOW_FLAG, 0);
    *v++ = place(&s, sock_path, 0);
    *v++ = path[0] == '/' ? place(&s, path, 0) : place3(&s, cwd, "/", path); /* Java's cwd is not the caller's */
    for (size_t i = 0; i < argc; i++)
        *v++ = place(&s, argv[i], 0);
    *v++ = 0;
    r->envp = v;
    for (size_t i = 0; i < envc; i++)
        *v++ = jd_strncmp(envp[i], "LD_", 3) == 0 ? place(&s, JD_FOLLOW_LD_PREFIX, envp[i]) : place(&s, envp[i], 0);
    *v++ = place(&s, "LD_BIND_NOW=1", 0); /* last: Java drops it again */
    *v = 0;
    return 1;
}

static void release(struct rewritten *r)
{
    sys2(SYS_munmap, r->map, r->len);
}

/* execve as the caller sees it, returning 0 or -errno: followed when the file needs a loader.
   /proc/self/exe is the program here (the kernel would run the agent, with nothing to connect to). */
static long exec_one(const char *path, char *const argv[], char *const envp[])
{
    path = jd_program_path_for(path);
    struct rewritten r;
    if (classify(path, 0) == FOLLOW && rewrite(path, argv, envp, &r)) {
        sys3(SYS_execve, r.agent, r.argv, r.envp);
        release(&r); /* (E2BIG, say) the kernel's answer for the program itself follows */
    }
    return sys3(SYS_execve, path, argv, envp);
}

int jdryad_execve(const char *path, char *const argv[], char *const envp[])
{
    return set_errno(exec_one(path, argv, envp));
}

int jdryad_execv(const char *path, char *const argv[])
{
    return jdryad_execve(path, argv, current_environ());
}

/* glibc's fallback for a file the kernel cannot execute (ENOEXEC): /bin/sh runs it as a script. */
static long as_script(const char *path, char *const argv[], char *const envp[])
{
    size_t argc = count(argv);
    char *v[argc + 3];
    v[0] = (char *)"/bin/sh";
    v[1] = (char *)path;
    for (size_t i = 1; i < argc; i++)
        v[i + 1] = argv[i];
    v[argc > 1 ? argc + 1 : 2] = 0;
    return exec_one("/bin/sh", v, envp);
}

/* The caller's PATH, as glibc's getenv reads it now (0 without one). */
static const char *path_variable(void)
{
    char **e = current_environ();
    for (; *e; e++)
        if (jd_strncmp(*e, "PATH=", 5) == 0)
            return *e + 5;
    return 0;
}

/* Directory number i of PATH joined with file into buf; 0 when there is no such directory. */
static int candidate(const char *path, size_t i, const char *file, char *buf, size_t cap)
{
    const char *p = path;
    for (; i > 0; i--) {
        while (*p && *p != ':')
            p++;
        if (!*p)
            return 0;
        p++;
    }
    size_t k = 0;
    while (*p && *p != ':' && k + 1 < cap)
        buf[k++] = *p++;
    if (k > 0 && k + 1 < cap)
        buf[k++] = '/';
    size_t fl = jd_strlen(file);
    if (k + fl + 1 > cap)
        return 0;
    jd_memcpy(buf + k, file, fl + 1);
    return 1;
}

static int has_slash(const char *s)
{
    for (; *s; s++)
        if (*s == '/')
            return 1;
    return 0;
}

/* glibc 2.36's execvpe: the PATH search, a script fallback, and which errors end the search. */
int jdryad_execvpe(const char *file, char *const argv[], char *const envp[])
{
    if (!file || !*file)
        return set_errno(-ENOENT);
    if (has_slash(file)) {
        long e = exec_one(file, argv, envp);
        if (e == -ENOEXEC)
            e = as_script(file, argv, envp);
        return set_errno(e);
    }
    if (jd_strlen(file) > 255)
        return set_errno(-ENAMETOOLONG);
    const char *path = path_variable();
    if (!path)
        path = "/bin:/usr/bin";
    int eacces = 0;
    char buf[4096 + 256];
    for (size_t i = 0; candidate(path, i, file, buf, sizeof buf); i++) {
        long e = exec_one(buf, argv, envp);
        if (e == -ENOEXEC)
            e = as_script(buf, argv, envp);
        if (e == -EACCES)
            eacces = 1;
        else if (e != -ENOENT && e != -ESTALE && e != -ENOTDIR && e != -ENODEV && e != -EHOSTUNREACH
                 && e != -ETIMEDOUT)
            return set_errno(e);
    }
    return set_errno(eacces ? -EACCES : -ENOENT);
}

int jdryad_execvp(const char *file, char *const argv[])
{
    return jdryad_execvpe(file, argv, current_environ());
}

/* execl's arguments as an argv (and, for execle, the envp after the NULL). */
#define GATHER(arg, ap, v, n)                                     \
    size_t n = 1;                                                 \
    va_start(ap, arg);                                            \
    while (va_arg(ap, char *))                                    \
        n++;                                                      \
    va_end(ap);                                                   \
    char *v[n + 1];                                               \
    v[0] = (char *)arg;                                           \
    va_start(ap, arg);                                            \
    for (size_t i_ = 1; i_ <= n; i_++)                            \
        v[i_] = va_arg(ap, char *);

int jdryad_execl(const char *path, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, v, n)
    va_end(ap);
    return jdryad_execve(path, v, current_environ());
}

int jdryad_execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, v, n)
    va_end(ap);
    return jdryad_execvp(file, v);
}

int jdryad_execle(const char *path, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, v, n)
    char **envp = va_arg(ap, char **);
    va_end(ap);
    return jdryad_execve(path, v, envp);
}

/* fexecve: followed when the descriptor names a file by path (not a memfd or deleted file). */
int jdryad_fexecve(int fd, char *const argv[], char *const envp[])
{
    char link[32] = "/proc/self/fd/";
    char *d = link + 14;
    char digits[12];
    int nd = 0;
    unsigned u = fd < 0 ? 0 : (unsigned)fd;
    do
        digits[nd++] = (char)('0' + u % 10);
    while ((u /= 10) && nd < 11);
    while (nd)
        *d++ = digits[--nd];
    *d = 0;
    char target[4096];
    long n = fd < 0 ? -1 : sys3(SYS_readlink, link, target, sizeof target - 1);
    struct rewritten r;
    if (n > 0 && target[0] == '/') {
        target[n] = 0;
        struct stat a, b;
        if (sys2(SYS_stat, target, &a) == 0 && sys2(SYS_fstat, fd, &b) == 0 && a.st_ino == b.st_ino
            && a.st_dev == b.st_dev && classify(target, 0) == FOLLOW && rewrite(target, argv, envp, &r)) {
            sys3(SYS_execve, r.agent, r.argv, r.envp);
            release(&r);
        }
    }
    return set_errno(sys5(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH));
}

/* glibc's own posix_spawn and posix_spawnp (found once; the agent imports nothing but dl*). */
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *,
                        char *const[], char *const[]);

static spawn_fn glibc_spawn(const char *name, spawn_fn volatile *cache)
{
    spawn_fn f = *cache;
    if (!f)
        *cache = f = (spawn_fn)dlsym(RTLD_DEFAULT, name);
    return f;
}

static spawn_fn volatile real_spawn, real_spawnp;

int jdryad_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    spawn_fn spawn = glibc_spawn("posix_spawn", &real_spawn);
    if (!spawn)
        return ENOSYS;
    struct rewritten r;
    if (classify(path, 0) == FOLLOW && rewrite(path, argv, envp, &r)) {
        int rc = spawn(pid, r.agent, actions, attr, r.argv, r.envp); /* returns once the child exec'ed (CLONE_VFORK) */
        release(&r);
        if (rc == 0)
            return 0;
    }
    return spawn(pid, path, actions, attr, argv, envp);
}

/* posix_spawnp: the first PATH entry that can be run decides; one that needs no loader, or no
   entry at all, goes to glibc's posix_spawnp, which then finds and reports the same. */
int jdryad_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (file && has_slash(file))
        return jdryad_posix_spawn(pid, file, actions, attr, argv, envp);
    spawn_fn spawnp = glibc_spawn("posix_spawnp", &real_spawnp);
    if (!spawnp)
        return ENOSYS;
    const char *path = path_variable();
    if (!path)
        path = "/bin:/usr/bin";
    char buf[4096 + 256];
    for (size_t i = 0; file && *file && candidate(path, i, file, buf, sizeof buf); i++) {
        enum kind k = classify(buf, 0);
        if (k == FOLLOW)
            return jdryad_posix_spawn(pid, buf, actions, attr, argv, envp);
        if (k == AS_IS)
            break;
    }
    return spawnp(pid, file, actions, attr, argv, envp);
}

/* ---- without --follow: only the program's own path ----
 * The exec family is glibc's then, but a program that executes /proc/self/exe (runc, programs
 * that restart themselves) would have the kernel start the agent, which finds no jdryad and
 * exits with 127. These execute the program's own path instead, with glibc's function, as a
 * program glibc loaded would, and hand everything else to glibc unchanged. glibc's functions
 * are found when the agent starts (jd_exec_init): a vfork child must not call dlsym. */
typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*execv_fn)(const char *, char *const[]);
static execve_fn volatile real_execve, real_execvpe;
static execv_fn volatile real_execv, real_execvp;

void jd_exec_init(void)
{
    real_execve = (execve_fn)dlsym(RTLD_DEFAULT, "execve");
    real_execvpe = (execve_fn)dlsym(RTLD_DEFAULT, "execvpe");
    real_execv = (execv_fn)dlsym(RTLD_DEFAULT, "execv");
    real_execvp = (execv_fn)dlsym(RTLD_DEFAULT, "execvp");
    glibc_spawn("posix_spawn", &real_spawn);
    glibc_spawn("posix_spawnp", &real_spawnp);
}

int jdryad_self_execve(const char *path, char *const argv[], char *const envp[])
{
    return real_execve ? real_execve(jd_program_path_for(path), argv, envp) : set_errno(-ENOSYS);
}

int jdryad_self_execv(const char *path, char *const argv[])
{
    return real_execv ? real_execv(jd_program_path_for(path), argv) : set_errno(-ENOSYS);
}

int jdryad_self_execvp(const char *file, char *const argv[])
{
    return real_execvp ? real_execvp(jd_program_path_for(file), argv) : set_errno(-ENOSYS);
}

int jdryad_self_execvpe(const char *file, char *const argv[], char *const envp[])
{
    return real_execvpe ? real_execvpe(jd_program_path_for(file), argv, envp) : set_errno(-ENOSYS);
}

int jdryad_self_execl(const char *path, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, v, n)
    va_end(ap);
    return jdryad_self_execv(path, v);
}

int jdryad_self_execlp(const char *file, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, v, n)
    va_end(ap);
    return jdryad_self_execvp(file, v);
}

int jdryad_self_execle(const char *path, const char *arg, ...)
{
    va_list ap;
    GATHER(arg, ap, v, n)
    char **envp = va_arg(ap, char **);
    va_end(ap);
    return jdryad_self_execve(path, v, envp);
}

int jdryad_self_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    spawn_fn spawn = real_spawn;
    return spawn ? spawn(pid, jd_program_path_for(path), actions, attr, argv, envp) : ENOSYS;
}

int jdryad_self_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    spawn_fn spawnp = real_spawnp;
    return spawnp ? spawnp(pid, jd_program_path_for(file), actions, attr, argv, envp) : ENOSYS;
}

void jdryad_follow_fail(const char *message)
{
    sys3(SYS_write, 2, message, jd_strlen(message));
    sys1(SYS_exit_group, 127);
    __builtin_unreachable();
}

long jdryad_follow_reexec(char *const argv[], char *const envp[])
{
    return sys3(SYS_execve, argv[0], argv, envp);
}

void jd_follow_unfollowed(char **argv)
{
    size_t cap = 1 << 20;
    long m = sys6(SYS_mmap, 0, (long)cap, 3, 0x22, -1, 0);
    int fd = (int)sys3(SYS_open, "/proc/self/environ", O_RDONLY | O_CLOEXEC, 0);
    if ((m < 0 && m > -4096) || fd < 0)
        return;
    char *text = (char *)m;
    size_t len = 0;
    long n;
    while (len < cap / 2 && (n = sys3(SYS_read, fd, text + len, cap / 2 - len)) > 0)
        len += (size_t)n;
    sys1(SYS_close, fd);
    /* The variables as exec_one gave them: LD_* renamed, LD_BIND_NOW=1 appended last. */
    char **envp = (char **)(text + ((cap / 2 + 7) & ~(size_t)7));
    size_t k = 0, max = (cap / 2) / sizeof(char *) - 1;
    size_t prefix = sizeof JD_FOLLOW_LD_PREFIX - 1;
    for (size_t at = 0; at < len && k < max; at += jd_strlen(text + at) + 1) {
        char *e = text + at;
        envp[k++] = jd_strncmp(e, JD_FOLLOW_LD_PREFIX "LD_", prefix + 3) == 0 ? e + prefix : e;
    }
    if (k > 0 && jd_strcmp(envp[k - 1], "LD_BIND_NOW=1") == 0)
        k--;
    envp[k] = 0;
    sys3(SYS_execve, argv[3], argv + 4, envp);
}

const char *jd_follow_socket(int argc, char **argv)
{
    if (argc >= 4 && jd_strcmp(argv[1], JD_FOLLOW_FLAG) == 0)
        return argv[2];
    return 0;
}
