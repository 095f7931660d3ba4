/*
 * jdryad's warm client: `jdryad run` with the warm server (org.jdryad.server).  Why a native
 * client: no JVM starts per run.  It connects to this build's server (starting one when
 * JDRYAD_SERVER=auto or on), sends argv, environment and working directory, and does what the
 * server says: print to stdout or stderr, start the agent as its own child (so the program's
 * parent is this process, as it would be the JVM's: Ctrl-C is the program's, SIGTERM and SIGHUP
 * are passed on), report how it ended, and exit with the status the server answers once the
 * history is written.  When no server can be used (JDRYAD_SERVER=auto), or the server says the
 * command needs the terminal itself (gdb), it runs the launcher again in cold mode, with the
 * environment exactly as given.  Two programs run it (client.h): jdryad-client, which the
 * ./jdryad script execs, and the static front, in its own process.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "address.h"
#include "client.h"
#include "spawn.h"
#include "stale.h"
#include "wire.h"

extern char **environ;

struct client {
    const char *home;      /* JDRYAD_HOME: the checkout, whose ./jdryad is the cold path */
    const char *jar;
    int required;          /* JDRYAD_SERVER=on: no cold fallback */
    char **given;          /* the environment as the launcher was started with it */
    size_t ngiven;
    int argc;
    char **argv;           /* jdryad's arguments (after the jar) */
    int sock;
    int sigfd;
    sigset_t oldmask;
    pid_t child;           /* the program's process while it runs, else 0 */
    int child_status;      /* -1 until it ended */
};

/* The launcher again, in cold mode (JDRYAD_COLD_RETRY, which it takes out again): never returns. */
/*
 * The launcher to run again: the static front (native/front/) when it started this run, so that
 * the LD_* variables in the given environment reach no bash either, else the checkout's script.
 */
static void launcher_path(const struct client *c, char *path, size_t size)
{
    const char *front = getenv("JDRYAD_FRONT");
    if (front && front[0] == '/' && access(front, X_OK) == 0)
        snprintf(path, size, "%s", front);
    else
        snprintf(path, size, "%s/jdryad", c->home);
}

static void run_cold(struct client *c)
{
    char path[4096];
    launcher_path(c, path, sizeof path);
    char **env = calloc(c->ngiven + 2, sizeof *env);
    memcpy(env, c->given, c->ngiven * sizeof *env);
    env[c->ngiven] = "JDRYAD_COLD_RETRY=1";
    char **argv = calloc((size_t)c->argc + 2, sizeof *argv);
    argv[0] = "jdryad";
    memcpy(argv + 1, c->argv, (size_t)c->argc * sizeof *argv);
    sigprocmask(SIG_SETMASK, &c->oldmask, 0);
    execve(path, argv, env);
    fprintf(stderr, "jdryad: cannot run %s: %s\n", path, strerror(errno));
    exit(127);
}

/* No server to use: cold mode, unless JDRYAD_SERVER=on asked for one. */
static void no_server(struct client *c, const char *why)
{
    if (c->required) {
        fprintf(stderr, "jdryad: no warm server (JDRYAD_SERVER=on): %s\n", why);
        exit(127);
    }
    run_cold(c);
}

/*
 * `./jdryad server start --idle N [--warm-up RUNS]`, quietly unless it fails; 0 when it says the
 * server runs. JDRYAD_SERVER_IDLE and JDRYAD_SERVER_WARMUP choose N and RUNS (the server's own
 * default when unset).
 */
static int start_server(struct client *c)
{
    char path[4096];
    launcher_path(c, path, sizeof path);
    const char *idle = getenv("JDRYAD_SERVER_IDLE");
    const char *warm = getenv("JDRYAD_SERVER_WARMUP");
    char *argv[] = {"jdryad", "server", "start", "--quiet", "--idle", (char *)(idle && *idle ? idle : "600"),
                    warm && *warm ? "--warm-up" : 0, (char *)warm, 0};
    char **env = calloc(c->ngiven + 2, sizeof *env);
    memcpy(env, c->given, c->ngiven * sizeof *env);
    env[c->ngiven] = "JDRYAD_COLD_RETRY=1";
    pid_t pid = spawn_program(path, argv, env, &c->oldmask);
    free(env);
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void connect_server(struct client *c)
{
    char sock[256], why[512];
    if (jar_is_stale(c->home, c->jar))
        run_cold(c); /* the launcher rebuilds the jar (its server is another) */
    if (server_address(c->jar, sock, sizeof sock, why, sizeof why) < 0)
        no_server(c, why);
    c->sock = server_connect(sock, why, sizeof why);
    if (c->sock < 0 && (errno == ENOENT || errno == ECONNREFUSED)) {
        if (start_server(c) < 0)
            no_server(c, "it did not start (jdryad server start)");
        c->sock = server_connect(sock, why, sizeof why);
    }
    if (c->sock < 0)
        no_server(c, why);
}

static void send_request(struct client *c)
{
    struct cw_buf b = {0};
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd))
        no_server(c, "the working directory has no name");
    cw_start(&b, CW_REQUEST);
    cw_str(&b, cwd, strlen(cwd));
    cw_strs(&b, c->argv, (size_t)c->argc);
    cw_strs(&b, c->given, c->ngiven);
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n += strncmp(*e, "JDRYAD_", 7) == 0;
    cw_u32(&b, (uint32_t)n);
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "JDRYAD_", 7) == 0)
            cw_str(&b, *e, strlen(*e));
    if (cw_send(c->sock, &b) < 0)
        no_server(c, "the server closed the connection");
    free(b.data);
}

static void send_u32(struct client *c, uint32_t type, uint32_t v)
{
    struct cw_buf b = {0};
    cw_start(&b, type);
    cw_u32(&b, v);
    cw_send(c->sock, &b); /* a server that went away is noticed by the reading side */
    free(b.data);
}

static void write_out(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/*
 * JDRYAD_ARGV0 asks the agent to exec itself with that argv[0] (native/agent.c: the JVM cannot
 * choose one): this client can, so it does, and takes the variable out, which saves that exec.
 */
static void apply_argv0(char **argv, char **envp)
{
    char **w = envp;
    for (char **r = envp; *r; r++) {
        if (!strncmp(*r, "JDRYAD_ARGV0=", 13) && argv[0])
            argv[0] = *r + 13;
        else
            *w++ = *r;
    }
    *w = 0;
}

static void do_spawn(struct client *c, struct cw_frame *f)
{
    char *path = cw_get_str(f);
    char **argv = cw_get_strs(f);
    char **envp = cw_get_strs(f);
    if (f->bad || c->child || !argv || !envp) {
        fprintf(stderr, "jdryad: the warm server sent a malformed request\n");
        exit(127);
    }
    apply_argv0(argv, envp);
    /* From now on the terminal's SIGINT and SIGQUIT are the program's, as under a shell. */
    signal(SIGINT, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    pid_t pid = spawn_program(path, argv, envp, &c->oldmask);
    if (pid < 0) {
        struct cw_buf b = {0};
        char msg[4200];
        int len = snprintf(msg, sizeof msg, "cannot start %s: %s", path, strerror(errno));
        cw_start(&b, CW_SPAWN_FAILED);
        cw_str(&b, msg, (size_t)len);
        cw_send(c->sock, &b);
        free(b.data);
    } else {
        c->child = pid;
        c->child_status = -1;
        send_u32(c, CW_STARTED, (uint32_t)pid);
    }
    free(path);
}

/* One frame from the server; returns only when more are to come. */
static void serve_frame(struct client *c)
{
    struct cw_frame f;
    int r = cw_read(c->sock, &f);
    if (r <= 0) {
        fprintf(stderr, "jdryad: the warm server went away%s\n", c->child ? " while the program ran" : "");
        if (c->child && c->child_status < 0) {
            int st;
            while (waitpid(c->child, &st, 0) < 0 && errno == EINTR)
                ;
            exit(shell_status(st));
        }
        exit(c->child_status >= 0 ? c->child_status : 127);
    }
    switch (f.type) {
    case CW_OUT: {
        uint32_t fd = cw_get_u32(&f);
        if (!f.bad && (fd == 1 || fd == 2))
            write_out((int)fd, f.data + f.pos, f.len - f.pos);
        break;
    }
    case CW_SPAWN:
        do_spawn(c, &f);
        break;
    case CW_SYNC: { /* the OUT frames before it are written (write_out does not return earlier) */
        uint32_t token = cw_get_u32(&f);
        if (!f.bad)
            send_u32(c, CW_SYNCED, token);
        break;
    }
    case CW_EXIT: {
        uint32_t st = cw_get_u32(&f);
        exit(f.bad ? 127 : (int)(st & 0xff));
    }
    case CW_COLD:
        close(c->sock);
        run_cold(c);
        break;
    default:
        fprintf(stderr, "jdryad: the warm server sent an unknown message %u\n", f.type);
        exit(127);
    }
    free(f.data);
}

/* SIGCHLD: the program ended (tell the server); SIGTERM, SIGHUP: pass them on, as the JVM does. */
static void serve_signal(struct client *c)
{
    struct signalfd_siginfo si;
    if (read(c->sigfd, &si, sizeof si) != (ssize_t)sizeof si)
        return;
    if (si.ssi_signo == SIGCHLD) {
        int st;
        if (c->child && c->child_status < 0 && waitpid(c->child, &st, WNOHANG) == c->child) {
            c->child_status = shell_status(st);
            send_u32(c, CW_ENDED, (uint32_t)c->child_status);
        }
    } else if (c->child && c->child_status < 0) {
        kill(c->child, (int)si.ssi_signo);
    } else {
        exit(128 + (int)si.ssi_signo); /* nothing runs yet: the server sees the connection end */
    }
}

int jd_client_run(const char *home, const char *jar, int argc, char **argv, char **given, size_t ngiven)
{
    struct client c = {0};
    c.home = home;
    c.jar = jar;
    c.argc = argc;
    c.argv = argv;
    const char *mode = getenv("JDRYAD_SERVER");
    c.required = mode && strcmp(mode, "on") == 0;
    c.given = given;
    c.ngiven = ngiven;
    signal(SIGPIPE, SIG_IGN);

    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGHUP);
    sigprocmask(SIG_BLOCK, &s, &c.oldmask);
    c.sigfd = signalfd(-1, &s, SFD_CLOEXEC);

    connect_server(&c);
    send_request(&c);
    struct pollfd p[2] = {{.fd = c.sock, .events = POLLIN}, {.fd = c.sigfd, .events = POLLIN}};
    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            perror("jdryad: poll");
            return 127;
        }
        if (p[1].revents & POLLIN)
            serve_signal(&c);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
            serve_frame(&c);
    }
}
