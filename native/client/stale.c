/* The jar's staleness against its sources, walked natively (see stale.h). */
#define _GNU_SOURCE
#include "stale.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int newer(const struct stat *st, const struct timespec *than)
{
    return st->st_mtim.tv_sec > than->tv_sec
           || (st->st_mtim.tv_sec == than->tv_sec && st->st_mtim.tv_nsec > than->tv_nsec);
}

/* 1 when a regular file under the directory fd (closed here) is newer than `than`. */
static int walk(int dirfd, const struct timespec *than, int depth)
{
    DIR *d = fdopendir(dirfd);
    if (!d) {
        close(dirfd);
        return 0;
    }
    int found = 0;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (S_ISREG(st.st_mode))
            found = newer(&st, than);
        else if (S_ISDIR(st.st_mode) && depth < 32) {
            int sub = openat(dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (sub >= 0)
                found = walk(sub, than, depth + 1);
        }
    }
    closedir(d);
    return found;
}

int jar_is_stale(const char *home, const char *jar)
{
    static const char *const roots[] = {"pom.xml", "linker/src/main", "linker/src/build", "native", "gdb-scripts"};
    struct stat js;
    if (stat(jar, &js) < 0)
        return 1;
    for (size_t i = 0; i < sizeof roots / sizeof *roots; i++) {
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", home, roots[i]);
        if (stat(p, &st) < 0)
            continue;
        if (S_ISREG(st.st_mode) && newer(&st, &js.st_mtim))
            return 1;
        if (S_ISDIR(st.st_mode)) {
            int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0 && walk(fd, &js.st_mtim, 0))
                return 1;
        }
    }
    return 0;
}
