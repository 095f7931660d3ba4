/*
 * jdryad-client: the warm client (client.c) as the program the ./jdryad script execs with the
 * jar's path and jdryad's arguments, the user's environment on fd JDRYAD_ENVIRON_FD (as the JVM
 * would get it) and the checkout in JDRYAD_HOME.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

extern char **environ;

/* All of fd's bytes, NUL-terminated; *len says how many. */
static char *read_all(int fd, size_t *len)
{
    size_t cap = 1 << 16;
    char *buf = malloc(cap + 1);
    *len = 0;
    for (;;) {
        if (*len == cap && !(buf = realloc(buf, (cap *= 2) + 1)))
            abort();
        ssize_t r = read(fd, buf + *len, cap - *len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        *len += (size_t)r;
    }
    close(fd);
    buf[*len] = 0;
    return buf;
}

/* A NUL-separated block (the front's). */
static char **split_block(char *buf, size_t len, size_t *n)
{
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
}

/* The script's block: each variable as LEN:BYTES, then a newline. Why not NUL-separated: bash
   holds no NUL byte in a string, and its here-string costs no process where printf into a
   process substitution costs a fork (about 4 ms a run here). Returns 0 when it is malformed. */
static char **split_counted(char *buf, size_t len, size_t *n)
{
    char **v = calloc(len / 2 + 2, sizeof *v); /* each entry takes 2 bytes at least */
    size_t k = 0, at = 0;
    while (at < len && !(at + 1 == len && buf[at] == '\n')) {
        size_t l = 0, digits = 0;
        while (at < len && buf[at] >= '0' && buf[at] <= '9' && digits < 10) {
            l = l * 10 + (size_t)(buf[at++] - '0');
            digits++;
        }
        if (!digits || at >= len || buf[at] != ':' || l > len - at - 1) {
            free(v);
            return 0;
        }
        /* in place: the bytes move over their count, and a NUL ends them before the next count */
        v[k++] = memmove(buf + at - digits, buf + at + 1, l);
        buf[at - digits + l] = 0;
        at += 1 + l;
    }
    *n = k;
    return v;
}

/* The environment as the launcher was started with it: the block on JDRYAD_ENVIRON_COUNTED_FD
   (the script's) or JDRYAD_ENVIRON_FD (NUL-separated), else this process's own. */
static char **read_given(size_t *n)
{
    const char *counted = getenv("JDRYAD_ENVIRON_COUNTED_FD"), *plain = getenv("JDRYAD_ENVIRON_FD");
    size_t len;
    if (counted) {
        char *buf = read_all(atoi(counted), &len);
        char **v = split_counted(buf, len, n);
        if (!v) {
            fprintf(stderr, "jdryad-client: the launcher's environment block is malformed\n");
            exit(2);
        }
        return v;
    }
    if (plain) {
        char *buf = read_all(atoi(plain), &len);
        return split_block(buf, len, n);
    }
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
