/*
 * WAIT_DEBUGGER (see attach.h): the program is loaded, relocated and announced through r_debug,
 * its initialisers have not run; the main thread waits here until a debugger attaches.
 *
 * How the wait ends: the process must not stop itself (SIGSTOP would make the shell report a
 * stopped job, and a debugger attaching to a stopped process finds it stopped again), and it must
 * not spin. It blocks in epoll_wait on an empty epoll set, which a ptrace attach interrupts: the
 * attach (PTRACE_ATTACH's SIGSTOP, PTRACE_SEIZE+INTERRUPT) makes it return EINTR, never restarted,
 * as soon as the debugger lets the process run again. Then: traced (the debugger continued it) or
 * no longer traced (it detached, or someone stopped and continued the process), the program goes
 * on either way. The wait also wakes every WAKE_MS and reads TracerPid from /proc, for an attach
 * that lands between the check and the wait.
 */
#include "attach.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <time.h>

#define WAKE_MS 500

/* The tracer of this thread (/proc/thread-self/status, Linux 3.17; else /proc/self/status), 0 when
   none, -errno when /proc cannot be read. */
static long tracer_pid(void)
{
    long fd = sys4(SYS_openat, AT_FDCWD, "/proc/thread-self/status", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        fd = sys4(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC, 0);
    if (fd < 0)
        return fd;
    char text[8192];
    size_t len = 0;
    for (;;) {
        long n = sys3(SYS_read, fd, text + len, sizeof text - 1 - len);
        if (n == -4 /* EINTR */)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof text - 1)
            break;
    }
    sys1(SYS_close, fd);
    text[len] = 0;
    static const char key[] = "\nTracerPid:";
    for (size_t i = 0; i + sizeof key - 1 <= len; i++) {
        if (jd_strncmp(text + i, key, sizeof key - 1) != 0)
            continue;
        const char *p = text + i + sizeof key - 1;
        while (*p == ' ' || *p == '\t')
            p++;
        long pid = 0;
        while (*p >= '0' && *p <= '9')
            pid = pid * 10 + (*p++ - '0');
        return pid;
    }
    return -61; /* ENODATA: no TracerPid line */
}

long jdryad_wait_for_debugger(void)
{
    long ep = sys1(SYS_epoll_create1, EPOLL_CLOEXEC);
    long t;
    for (;;) {
        t = tracer_pid();
        if (t != 0)
            break;
        long r;
        if (ep >= 0) {
            struct epoll_event ev;
            r = sys4(SYS_epoll_wait, ep, &ev, 1, WAKE_MS);
        } else {
            struct timespec ts = {0, WAKE_MS / 10 * 1000000L}; /* no epoll: look more often */
            r = sys2(SYS_nanosleep, &ts, 0);
        }
        if (r == -4 /* EINTR: a debugger attached and let us go, or detached */) {
            t = tracer_pid();
            if (t < 0)
                t = 0;
            break;
        }
    }
    if (ep >= 0)
        sys1(SYS_close, ep);
    return t;
}

void wait_debugger(struct in *in, struct buf *out)
{
    const char *line = get_s(in);
    if (in->bad || in->pos != in->len) {
        put_q(out, (uint64_t)-22);
        return;
    }
    /* Where Yama restricts ptrace to ancestors (ptrace_scope 1), let the user's debugger in (this
       replaces the JVM as the one named ptracer; "any" includes it). EINVAL without Yama. */
    sys5(SYS_prctl, PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    long t = tracer_pid(); /* already traced (jdryad run --gdb): no line, no wait */
    if (t == 0 && line) {
        size_t n = jd_strlen(line);
        for (size_t done = 0; done < n;) {
            long w = sys3(SYS_write, 2, line + done, n - done);
            if (w == -4)
                continue;
            if (w <= 0)
                break;
            done += (size_t)w;
        }
    }
    if (t == 0)
        t = jdryad_wait_for_debugger();
    put_q(out, (uint64_t)t);
}
