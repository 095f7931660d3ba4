/*
 * jdryad's static front: the `./jdryad` launcher as a statically linked program (built as
 * <build dir>/native-out/jdryad), for a PATH entry or a symbolic link.
 *
 * Why it exists: LD_PRELOAD, LD_AUDIT and the other LD_* variables given to jdryad are the
 * program's, for jdryad to interpret. `./jdryad` is a bash script, and the system loader applies
 * them to bash itself before the script can move them aside: a preloaded library's constructors
 * run in the launcher, an audit module audits bash, LD_DEBUG prints bash's lines. A static
 * program has no dynamic loader, so nothing is applied to this one; it moves every LD_* variable
 * to JDRYAD_LD_* (as the script does), hands the environment it was given, exactly (order, LD_*
 * included), to the script on a descriptor (JDRYAD_FRONT_ENVIRON_FD, a memfd), and execs the
 * script with bash. The script then finds no LD_* variable of its own and forwards the block
 * as the program's environment, as it does with its own.
 *
 * A warm `jdryad run` (the script's own rule: JDRYAD_SERVER is not off, the jar is built) does
 * not go through bash at all: the front runs the warm client's session itself (native/client/,
 * client.h), in this process. Why: on a machine where a process takes 4 ms to start, bash and
 * a second program were a quarter of a warm run's time; the client checks the jar's staleness
 * itself and runs the launcher (this front, then bash) again in cold mode when it must.
 *
 * JD_ROOT, the checkout whose script this front runs, is fixed when it is built (native/Makefile).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../client/client.h"

#ifndef JD_ROOT
#error "JD_ROOT (the checkout) must be defined when the front is built"
#endif

extern char **environ;

/* Writes every byte of buf to fd; 0 on success. */
static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The environment as given, NUL-terminated entries one after another, in a memfd at offset 0; -1 on failure. */
static int given_environment(void)
{
    int fd = memfd_create("jdryad-environ", 0); /* no MFD_CLOEXEC: the script reads it */
    if (fd < 0)
        return -1;
    for (char **e = environ; *e; e++)
        if (write_all(fd, *e, strlen(*e) + 1) < 0) {
            close(fd);
            return -1;
        }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The build this front belongs to when SELF is BUILD/native-out/jdryad and none is named (else NULL), in buf. */
static const char *own_build(const char *self, char *buf, size_t size)
{
    const char *slash = strrchr(self, '/');
    if (getenv("JDRYAD_BUILD_DIR") || !slash || slash - self <= 11 || strncmp(slash - 11, "/native-out", 11))
        return NULL;
    snprintf(buf, size, "%.*s", (int)(slash - 11 - self), self);
    return buf;
}

/*
 * The launcher's environment: LD_* moved to JDRYAD_LD_*, plus this front's path and its build;
 * for the script the descriptor of the given environment (given_fd), for the warm client in
 * this process the checkout (given_fd -1: JDRYAD_HOME, as the script exports it).
 */
static char **script_environment(int given_fd, const char *self)
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **out = calloc(n + 5, sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (!strncmp(e, "JDRYAD_FRONT_ENVIRON_FD=", 24) || !strncmp(e, "JDRYAD_FRONT=", 13)
            || (given_fd < 0 && (!strncmp(e, "JDRYAD_HOME=", 12) || !strncmp(e, "JDRYAD_ENVIRON_FD=", 18))))
            continue; /* ours alone to set */
        if (!strncmp(e, "LD_", 3)) {
            char *moved = malloc(strlen(e) + sizeof "JDRYAD_");
            if (!moved)
                return NULL;
            strcpy(moved, "JDRYAD_");
            strcat(moved, e);
            out[k++] = moved;
        } else {
            out[k++] = (char *)e;
        }
    }
    if ((given_fd >= 0 ? asprintf(&out[k++], "JDRYAD_FRONT_ENVIRON_FD=%d", given_fd)
                       : asprintf(&out[k++], "JDRYAD_HOME=%s", JD_ROOT)) < 0
        || asprintf(&out[k++], "JDRYAD_FRONT=%s", self) < 0)
        return NULL;
    char build[4096];
    if (own_build(self, build, sizeof build) && asprintf(&out[k++], "JDRYAD_BUILD_DIR=%s", build) < 0)
        return NULL;
    out[k] = NULL;
    return out;
}

/*
 * The script's rule for a warm run: `run`, JDRYAD_SERVER not off, not the client's cold retry
 * (JDRYAD_COLD_RETRY), and the jar built (else bash builds it); the jar's path into jar.
 */
static int runs_warm(char **argv, const char *self, char *jar, size_t size)
{
    const char *mode = getenv("JDRYAD_SERVER");
    if (!argv[1] || strcmp(argv[1], "run") || (mode && !strcmp(mode, "off")) || getenv("JDRYAD_COLD_RETRY"))
        return 0;
    char own[4096];
    const char *build = getenv("JDRYAD_BUILD_DIR");
    if (!build || !*build)
        build = own_build(self, own, sizeof own);
    if (!build)
        build = JD_ROOT "/target";
    return snprintf(jar, size, "%s/jdryad-cli.jar", build) < (int)size && access(jar, F_OK) == 0;
}

/* The warm client's session in this process, with the launcher's environment as the script's: never returns. */
static int run_warm(int argc, char **argv, const char *self, const char *jar)
{
    char **given = environ; /* the block as given stays: environ becomes a new array */
    size_t n = 0;
    while (given[n])
        n++;
    char **env = script_environment(-1, self);
    if (!env) {
        fprintf(stderr, "jdryad: out of memory\n");
        return 127;
    }
    environ = env;
    return jd_client_run(JD_ROOT, jar, argc - 1, argv + 1, given, n);
}

int main(int argc, char **argv)
{
    static char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(stderr, "jdryad: cannot read /proc/self/exe: %s\n", strerror(errno));
        return 127;
    }
    self[len] = 0;
    char jar[4096];
    if (runs_warm(argv, self, jar, sizeof jar))
        return run_warm(argc, argv, self, jar);
    int given = given_environment();
    if (given < 0) {
        fprintf(stderr, "jdryad: cannot keep the environment for the program: %s\n", strerror(errno));
        return 127;
    }
    char **env = script_environment(given, self);
    if (!env) {
        fprintf(stderr, "jdryad: out of memory\n");
        return 127;
    }
    /* bash SCRIPT ARG...: argv[0] of the script stays "jdryad" for its messages */
    size_t n = 0;
    while (argv[n])
        n++;
    char **args = calloc(n + 3, sizeof *args);
    if (!args) {
        fprintf(stderr, "jdryad: out of memory\n");
        return 127;
    }
    args[0] = "jdryad";
    args[1] = JD_ROOT "/jdryad";
    for (size_t i = 1; i < n; i++)
        args[i + 1] = argv[i];
    execve("/bin/bash", args, env);
    fprintf(stderr, "jdryad: cannot run /bin/bash %s: %s\n", JD_ROOT "/jdryad", strerror(errno));
    return 127;
}
