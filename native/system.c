/*
 * system, popen and pclose for --follow (see exec.h). glibc's own run /bin/sh through its
 * internal posix_spawn, which no PLT slot reaches, so the shell would escape jdryad; these do
 * what glibc 2.36's do (the signal dance of system, popen's pipe and its close of the other
 * popen streams in the child) with jdryad_posix_spawn, which follows the shell. glibc's spawn
 * attribute and file-action functions are found with dlsym (the agent imports only dl*).
 */
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>

struct k_sigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};

static void *glibc_fn(const char *name, void *volatile *cache)
{
    void *f = *cache;
    if (!f)
        *cache = f = dlsym(RTLD_DEFAULT, name);
    return f;
}
#define GLIBC(type, name)                                    \
    ({                                                       \
        static void *volatile cache_;                        \
        (type)glibc_fn(#name, &cache_);                      \
    })

extern char **volatile *volatile jd_follow_environ;

static char **environment(void)
{
    static char *empty[1];
    return jd_follow_environ && *jd_follow_environ ? *jd_follow_environ : empty;
}

static long wait_for(pid_t pid, int *status)
{
    long r;
    do
        r = sys4(SYS_wait4, pid, status, 0, 0);
    while (r == -EINTR);
    return r;
}

/* /bin/sh -c command, spawned (followed) with attr and actions; 0 or an errno. */
static int spawn_shell(pid_t *pid, const char *command, const posix_spawn_file_actions_t *actions,
                       const posix_spawnattr_t *attr)
{
    char *argv[] = {(char *)"sh", (char *)"-c", (char *)command, 0};
    return jdryad_posix_spawn(pid, "/bin/sh", actions, attr, argv, environment());
}

int jdryad_system(const char *command)
{
    if (!command)
        return jdryad_system("exit 0") == 0; /* glibc: whether a shell is there */
    int (*init)(posix_spawnattr_t *) = GLIBC(int (*)(posix_spawnattr_t *), posix_spawnattr_init);
    int (*flags)(posix_spawnattr_t *, short) = GLIBC(int (*)(posix_spawnattr_t *, short), posix_spawnattr_setflags);
    int (*mask)(posix_spawnattr_t *, const sigset_t *) =
        GLIBC(int (*)(posix_spawnattr_t *, const sigset_t *), posix_spawnattr_setsigmask);
    int (*deflt)(posix_spawnattr_t *, const sigset_t *) =
        GLIBC(int (*)(posix_spawnattr_t *, const sigset_t *), posix_spawnattr_setsigdefault);
    int (*destroy)(posix_spawnattr_t *) = GLIBC(int (*)(posix_spawnattr_t *), posix_spawnattr_destroy);
    if (!init || !flags || !mask || !deflt || !destroy)
        return -1;
    /* As glibc: the caller ignores SIGINT and SIGQUIT and blocks SIGCHLD while the shell runs. */
    struct k_sigaction ign = {SIG_IGN, 0, 0, 0}, oldint, oldquit;
    sys4(SYS_rt_sigaction, SIGINT, &ign, &oldint, 8);
    sys4(SYS_rt_sigaction, SIGQUIT, &ign, &oldquit, 8);
    uint64_t chld = 1ull << (SIGCHLD - 1), oldmask = 0;
    sys4(SYS_rt_sigprocmask, SIG_BLOCK, &chld, &oldmask, 8);

    sigset_t def, keep;
    jd_memset(&def, 0, sizeof def);
    jd_memset(&keep, 0, sizeof keep);
    jd_memcpy(&keep, &oldmask, sizeof oldmask);
    if (oldint.handler != SIG_IGN)
        ((uint64_t *)&def)[0] |= 1ull << (SIGINT - 1);
    if (oldquit.handler != SIG_IGN)
        ((uint64_t *)&def)[0] |= 1ull << (SIGQUIT - 1);
    posix_spawnattr_t attr;
    init(&attr);
    mask(&attr, &keep);
    deflt(&attr, &def);
    flags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int status;
    int rc = spawn_shell(&pid, command, 0, &attr);
    destroy(&attr);
    if (rc == 0) {
        if (wait_for(pid, &status) < 0)
            status = -1;
    } else {
        status = 127 << 8; /* glibc: the shell could not be run */
    }
    sys4(SYS_rt_sigaction, SIGINT, &oldint, 0, 8);
    sys4(SYS_rt_sigaction, SIGQUIT, &oldquit, 0, 8);
    sys4(SYS_rt_sigprocmask, SIG_SETMASK, &oldmask, 0, 8);
    return status;
}

/* The streams popen made and their shells (a slot is taken by compare-and-swap: no lock). */
#define NPOPEN 64
static struct {
    FILE *volatile stream;
    volatile pid_t pid;
    volatile int fd;
} popened[NPOPEN];

static int remember(FILE *f, pid_t pid, int fd)
{
    for (int i = 0; i < NPOPEN; i++) {
        FILE *none = 0;
        if (__atomic_compare_exchange_n(&popened[i].stream, &none, f, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
            popened[i].pid = pid;
            popened[i].fd = fd;
            return 1;
        }
    }
    return 0;
}

FILE *jdryad_popen(const char *command, const char *mode)
{
    int reading = mode && mode[0] == 'r', writing = mode && mode[0] == 'w';
    int cloexec = 0;
    for (const char *m = mode ? mode + 1 : ""; *m; m++)
        cloexec |= *m == 'e';
    typedef int (*fa_fn)(posix_spawn_file_actions_t *);
    fa_fn init = GLIBC(fa_fn, posix_spawn_file_actions_init), destroy = GLIBC(fa_fn, posix_spawn_file_actions_destroy);
    int (*dup2)(posix_spawn_file_actions_t *, int, int) =
        GLIBC(int (*)(posix_spawn_file_actions_t *, int, int), posix_spawn_file_actions_adddup2);
    int (*addclose)(posix_spawn_file_actions_t *, int) =
        GLIBC(int (*)(posix_spawn_file_actions_t *, int), posix_spawn_file_actions_addclose);
    FILE *(*fdopen)(int, const char *) = GLIBC(FILE * (*)(int, const char *), fdopen);
    if (!(reading || writing) || !init || !destroy || !dup2 || !addclose || !fdopen) {
        errno = EINVAL;
        return 0;
    }
    int fds[2];
    long e = sys2(SYS_pipe2, fds, O_CLOEXEC);
    if (e < 0) {
        errno = (int)-e;
        return 0;
    }
    int parent = reading ? fds[0] : fds[1], child = reading ? fds[1] : fds[0], target = reading ? 1 : 0;
    posix_spawn_file_actions_t fa;
    init(&fa);
    dup2(&fa, child, target); /* (dup2 clears close-on-exec of target, also when child == target) */
    for (int i = 0; i < NPOPEN; i++)
        if (popened[i].stream)
            addclose(&fa, popened[i].fd); /* POSIX: no shell inherits another popen's pipe */
    pid_t pid;
    int rc = spawn_shell(&pid, command, &fa, 0);
    destroy(&fa);
    sys1(SYS_close, child);
    if (rc != 0) {
        sys1(SYS_close, parent);
        errno = rc;
        return 0;
    }
    if (!cloexec)
        sys3(SYS_fcntl, parent, F_SETFD, 0);
    FILE *f = fdopen(parent, reading ? "r" : "w");
    if (!f || !remember(f, pid, parent)) {
        int keep = errno;
        if (f)
            GLIBC(int (*)(FILE *), fclose)(f);
        else
            sys1(SYS_close, parent);
        int st;
        wait_for(pid, &st);
        errno = f ? ENOMEM : keep;
        return 0;
    }
    return f;
}

int jdryad_pclose(FILE *stream)
{
    for (int i = 0; i < NPOPEN; i++) {
        if (stream && popened[i].stream == stream) {
            pid_t pid = popened[i].pid;
            popened[i].stream = 0;
            GLIBC(int (*)(FILE *), fclose)(stream);
            int status;
            long r = wait_for(pid, &status);
            if (r < 0) {
                errno = (int)-r;
                return -1;
            }
            return status;
        }
    }
    return GLIBC(int (*)(FILE *), pclose)(stream); /* a stream glibc's popen made */
}
