/* benchtool: the small native helper of tests/bench/run.sh (compiled by the script).
 *
 *   benchtool time CMD ARG...   runs CMD once (stdin, stdout, stderr: /dev/null; -k keeps
 *                               stdout and stderr, -e stderr, also for hwm and trace) and prints "WALL_NS STATUS" (wall time of fork to
 *                               reap, measured here, no shell in between)
 *   benchtool hwm CMD ARG...    runs CMD under ptrace (events only: fork, clone, exec, exit; no
 *                               system-call stops) and prints, for each process that ends, "PID
 *                               VMHWM_KB EXE" read from /proc/PID at its exit event: the peak RSS
 *                               of the program process under jdryad (a grandchild of the launcher,
 *                               which wait4 rusage cannot single out)
 *   benchtool trace CMD ARG...  as hwm, and prints a time line "T_MS PID EVENT DETAIL" (exec,
 *                               exit) relative to the start, for the start-up breakdown
 *   benchtool stamp PATTERN CMD ARG...
 *                               runs CMD with stderr on a pipe and prints "WALL_NS STATUS
 *                               MATCH_NS": MATCH_NS is when the first stderr line containing
 *                               PATTERN arrived (LD_DEBUG=files' first "calling init:": the end of
 *                               the link phase by the wall clock), or -1
 *   benchtool tsc               the TSC frequency in MHz, calibrated against CLOCK_MONOTONIC
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

/* keep: 0 nothing, 1 stderr, 2 stdout and stderr */
static void quiet_child(int keep)
{
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return;
    dup2(fd, 0);
    if (keep < 2)
        dup2(fd, 1);
    if (keep < 1)
        dup2(fd, 2);
    if (fd > 2)
        close(fd);
}

static int status_of(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
}

static int cmd_time(int keep, char **argv)
{
    long t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0)
        return perror("fork"), 2;
    if (pid == 0) {
        quiet_child(keep);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st;
    struct rusage ru;
    if (wait4(pid, &st, 0, &ru) < 0)
        return perror("wait4"), 2;
    long t1 = now_ns();
    printf("%ld %d\n", t1 - t0, status_of(st));
    return 0;
}

/* stamp: the time from fork to the first stderr line that contains `pattern` (LD_DEBUG=files'
   "calling init:"), reading stderr to its end so that the program never blocks on it. */
static int cmd_stamp(const char *pattern, char **argv)
{
    int p[2];
    if (pipe(p) < 0)
        return perror("pipe"), 2;
    long t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0)
        return perror("fork"), 2;
    if (pid == 0) {
        close(p[0]);
        quiet_child(0);
        dup2(p[1], 2);
        close(p[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    /* Until the pipe's end, or the program's: a process it left running (a warm server started
       on the way) may hold stderr open for ever. */
    static char buf[1 << 16];
    size_t have = 0, plen = strlen(pattern);
    long matched = -1, t1 = 0;
    int st = 0, reaped = 0;
    for (;;) {
        struct pollfd pf = {p[0], POLLIN, 0};
        if (poll(&pf, 1, reaped ? 0 : 50) > 0) {
            ssize_t r = read(p[0], buf + have, sizeof buf - 1 - have);
            if (r == 0 || (r < 0 && errno != EINTR))
                break;
            if (r < 0)
                continue;
            have += (size_t)r;
            buf[have] = 0;
            if (matched < 0 && strstr(buf, pattern))
                matched = now_ns() - t0;
            if (have > plen) { /* keep the tail a match could start in */
                memmove(buf, buf + have - plen, plen);
                have = plen;
            }
        } else if (reaped) {
            break;
        } else if (waitpid(pid, &st, WNOHANG) == pid) {
            reaped = 1;
            t1 = now_ns(); /* up to 50 ms late: the wall time of `time` is the one to use */
        }
    }
    close(p[0]);
    if (!reaped) {
        if (waitpid(pid, &st, 0) < 0)
            return perror("waitpid"), 2;
        t1 = now_ns();
    }
    printf("%ld %d %ld\n", t1 - t0, status_of(st), matched);
    return 0;
}

static long hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    int tgid = -1;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Tgid:", 5))
            tgid = atoi(line + 5);
        if (!strncmp(line, "VmHWM:", 6))
            kb = atol(line + 6);
    }
    fclose(f);
    return tgid == pid ? kb : -2; /* -2: a thread, not a process */
}

static void exe_of(pid_t pid, char *out, size_t n)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", pid);
    ssize_t r = readlink(path, out, n - 1);
    out[r < 0 ? 0 : r] = 0;
    if (r < 0)
        snprintf(out, n, "?");
}

static int cmd_hwm(int timeline, int keep, char **argv)
{
    long t0 = now_ns();
    pid_t top = fork();
    if (top < 0)
        return perror("fork"), 2;
    if (top == 0) {
        quiet_child(keep);
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        raise(SIGSTOP);
        execvp(argv[0], argv);
        _exit(127);
    }
    int st, status = -1, first = 1;
    for (;;) {
        pid_t pid = waitpid(-1, &st, __WALL);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break; /* ECHILD: everything has ended */
        }
        double t = (now_ns() - t0) / 1e6;
        if (WIFEXITED(st) || WIFSIGNALED(st)) {
            if (pid == top)
                status = status_of(st);
            continue;
        }
        if (!WIFSTOPPED(st))
            continue;
        int sig = WSTOPSIG(st), event = st >> 16, deliver = 0;
        if (first && pid == top) {
            first = 0;
            ptrace(PTRACE_SETOPTIONS, pid, 0,
                   PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC |
                       PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL);
        } else if (event == PTRACE_EVENT_EXIT) {
            long kb = hwm_kb(pid);
            if (kb != -2) {
                char exe[4096];
                exe_of(pid, exe, sizeof exe);
                if (timeline)
                    printf("%.3f %d exit %s\n", t, pid, exe);
                else
                    printf("%d %ld %s\n", pid, kb, exe);
            }
        } else if (event == PTRACE_EVENT_EXEC) {
            if (timeline) {
                char exe[4096];
                exe_of(pid, exe, sizeof exe);
                printf("%.3f %d exec %s\n", t, pid, exe);
            }
        } else if (event == 0 && sig != SIGSTOP && sig != SIGTRAP) {
            deliver = sig; /* a signal for the tracee: pass it on */
        }
        ptrace(PTRACE_CONT, pid, 0, (void *)(long)deliver);
    }
    if (timeline)
        printf("%.3f %d end status %d\n", (now_ns() - t0) / 1e6, top, status);
    return 0;
}

static int cmd_tsc(void)
{
    long t0 = now_ns();
    uint64_t c0 = __rdtsc();
    struct timespec d = {0, 200 * 1000 * 1000};
    nanosleep(&d, 0);
    long t1 = now_ns();
    uint64_t c1 = __rdtsc();
    printf("%.1f\n", (double)(c1 - c0) * 1e3 / (double)(t1 - t0));
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "tsc"))
        return cmd_tsc();
    if (argc >= 4 && !strcmp(argv[1], "stamp"))
        return cmd_stamp(argv[2], argv + 3);
    if (argc < 3)
        goto usage;
    int keep = !strcmp(argv[2], "-k") ? 2 : !strcmp(argv[2], "-e") ? 1 : 0, skip = 2 + (keep > 0);
    if (skip >= argc)
        goto usage;
    if (!strcmp(argv[1], "time"))
        return cmd_time(keep, argv + skip);
    if (!strcmp(argv[1], "hwm"))
        return cmd_hwm(0, keep, argv + skip);
    if (!strcmp(argv[1], "trace"))
        return cmd_hwm(1, keep, argv + skip);
usage:
    fprintf(stderr, "usage: benchtool time|hwm|trace [-k|-e] CMD ARG... | benchtool stamp PATTERN CMD ARG... | benchtool tsc\n");
    return 2;
}
