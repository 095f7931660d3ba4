/*
 * jdryad-client: the warm client (client.c) as the program the ./jdryad script execs with the
 * jar's path and jdryad's arguments, the user's environment on fd JDRYAD_ENVIRON_FD (as the JVM
 * would get it) and the checkout in JDRYAD_HOME.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "client.h"

extern char **environ;

/* The environment as the launcher was started with it: JDRYAD_ENVIRON_FD's block, else this one. */
static char **read_given(size_t *n)
{
    const char *fdv = getenv("JDRYAD_ENVIRON_FD");
    if (!fdv)
        goto own;
    int fd = atoi(fdv);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len == cap && !(buf = realloc(buf, cap *= 2)))
            abort();
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    size_t count = 0;
    for (size_t i = 0; i < len; i++)
        count += buf[i] == 0;
    char **v = calloc(count + 2, sizeof *v);
    size_t k = 0;
    for (size_t i = 0, start = 0; i < len; i++)
        if (buf[i] == 0) {
            v[k++] = buf + start;
            start = i + 1;
        }
    *n = k;
    return v;
own:
    for (*n = 0; environ[*n]; (*n)++)
        ;
    return environ;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: jdryad-client JAR JDRYAD-ARGUMENTS... (started by ./jdryad)\n");
        return 2;
    }
    const char *home = getenv("JDRYAD_HOME");
    if (!home) {
        fprintf(stderr, "jdryad-client: JDRYAD_HOME is not set: run ./jdryad\n");
        return 2;
    }
    size_t ngiven;
    char **given = read_given(&ngiven);
    return jd_client_run(home, argv[1], argc - 2, argv + 2, given, ngiven);
}
