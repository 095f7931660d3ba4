/* The warm server's socket path and a checked connection to it (see address.h). */
#define _GNU_SOURCE
#include "address.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* FNV-1a, 64 bits: the same function as ServerAddress.java's. */
static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The private directory: checked (a real directory, ours, 0700), made when missing. */
static int private_dir(char *dir, size_t n, char *why, size_t whyn)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int len = xdg && *xdg ? snprintf(dir, n, "%s/jdryad", xdg) : snprintf(dir, n, "/tmp/jdryad-%u", (unsigned)getuid());
    if (len < 0 || (size_t)len >= n) {
        snprintf(why, whyn, "the server directory's path is too long");
        return -1;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(why, whyn, "cannot make %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(dir, &st) < 0) {
        snprintf(why, whyn, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 0777) != 0700) {
        snprintf(why, whyn, "%s is not a private directory of yours (owner uid %u, mode %03o): not using it",
                 dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 0777));
        errno = EPERM;
        return -1;
    }
    return 0;
}

int server_address(const char *jar, char *sock, size_t n, char *why, size_t whyn)
{
    char real[4096], dir[256], text[64];
    struct stat st;
    if (!realpath(jar, real) || stat(real, &st) < 0) {
        snprintf(why, whyn, "%s: %s", jar, strerror(errno));
        return -1;
    }
    if (private_dir(dir, sizeof dir, why, whyn) < 0)
        return -1;
    uint64_t h = fnv1a(real, 0xcbf29ce484222325ULL);
    snprintf(text, sizeof text, "\n%lld\n%lld", (long long)st.st_size,
             (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
    h = fnv1a(text, h);
    int len = snprintf(sock, n, "%s/server-%016llx.sock", dir, (unsigned long long)h);
    if (len < 0 || (size_t)len >= n || (size_t)len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(why, whyn, "the server socket's path is too long");
        return -1;
    }
    return 0;
}

int server_connect(const char *sock, char *why, size_t whyn)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(why, whyn, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, sock, sizeof a.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        snprintf(why, whyn, "%s: %s", sock, strerror(e));
        close(fd);
        errno = e;
        return -1;
    }
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != getuid()) {
        snprintf(why, whyn, "%s: the server there is not yours", sock);
        close(fd);
        errno = EPERM;
        return -1;
    }
    return fd;
}
