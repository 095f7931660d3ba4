/* Fork and exec of the program's process (see spawn.h). */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

pid_t spawn_program(const char *path, char *const argv[], char *const envp[], const sigset_t *mask)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        signal(SIGINT, SIG_DFL);
        signal(SIGQUIT, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, mask, 0);
        /* The descriptors the client was given (a `3<file`, a process substitution's /dev/fd/63, make's
           jobserver pipe) stay the program's, as natively; the client's own are all close-on-exec. */
        execve(path, argv, envp);
        int e = errno;
        ssize_t w = write(p[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(p[1]);
    int e = 0;
    ssize_t r;
    do
        r = read(p[0], &e, sizeof e);
    while (r < 0 && errno == EINTR);
    close(p[0]);
    if (r == (ssize_t)sizeof e) {
        waitpid(pid, 0, 0);
        errno = e;
        return -1;
    }
    return pid;
}

int shell_status(int wstatus)
{
    if (WIFEXITED(wstatus))
        return WEXITSTATUS(wstatus);
    if (WIFSIGNALED(wstatus))
        return 128 + WTERMSIG(wstatus);
    return 127;
}
