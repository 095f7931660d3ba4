/*
 * Following exec (`jdryad run --follow`, exec.c): the exec family and the spawners that jdryad
 * objects' references are bound to when jdryad follows the programs a program runs.
 *
 * Why here and not in the kernel's hands: a process that execs a dynamically linked program
 * would get glibc's loader again. So each of these looks at the file first (as the kernel
 * will: ELF with PT_INTERP, or a #! script whose interpreter is one) and, for a program that
 * needs a loader, executes the agent instead, with the program's path and argv in the agent's
 * argv and its environment unchanged but for LD_* (moved aside, as the launcher does) and
 * LD_BIND_NOW=1 (see jd_follow_socket). Anything else (a static program, a file the kernel
 * refuses) is executed as it is, so the kernel's answer and errno are the caller's.
 * jdryad binds these names only with --follow; without it the program reaches glibc's through
 * the jdryad_self_* functions below, which only put the program's path for /proc/self/exe.
 */
#ifndef JDRYAD_EXEC_H
#define JDRYAD_EXEC_H

#include "util.h"
#include <spawn.h>
#include <stdio.h>

/* The agent's own argv when an exec'ed program runs under it: AGENT --jdryad-follow SOCKET
   PATH ARGV0 ARGS... (Java reads PATH and the program's argv back from /proc/PID/cmdline). */
#define JD_FOLLOW_FLAG "--jdryad-follow"
/* The prefix the program's own LD_* variables carry in the agent's environment (Java restores them). */
#define JD_FOLLOW_LD_PREFIX "JDRYAD_EXEC_"

/* The socket an exec'ed agent connects to (its argv says so), or 0 when it was not exec'ed so. */
const char *jd_follow_socket(int argc, char **argv);

int jdryad_execve(const char *path, char *const argv[], char *const envp[]);
int jdryad_execv(const char *path, char *const argv[]);
int jdryad_execvp(const char *file, char *const argv[]);
int jdryad_execvpe(const char *file, char *const argv[], char *const envp[]);
int jdryad_execl(const char *path, const char *arg, ...);
int jdryad_execlp(const char *file, const char *arg, ...);
int jdryad_execle(const char *path, const char *arg, ...);
int jdryad_fexecve(int fd, char *const argv[], char *const envp[]);
int jdryad_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
int jdryad_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
/* An exec'ed agent that finds no jdryad to connect to (the session ended before this descendant
   exec'ed): executes the program itself (argv as in jd_follow_socket) with its own environment,
   restored from /proc/self/environ. Returns only when that fails. */
void jd_follow_unfollowed(char **argv);
/* Re-executes the agent as argv[0] with exactly argv and envp (Java asks, through CALL, when an
   exec'ed program needs an agent with a larger static TLS reservation). Returns only on failure. */
long jdryad_follow_reexec(char *const argv[], char *const envp[]);
/* Writes message to the process's stderr and exits with 127, as glibc's loader does when an
   exec'ed program cannot be loaded (Java calls it with glibc's words). */
void jdryad_follow_fail(const char *message) __attribute__((noreturn));

/* Finds glibc's exec functions and spawners, once, as the agent starts (before any vfork). */
void jd_exec_init(void);
/* Without --follow: glibc's own function, with /proc/self/exe (or /proc/PID/exe) replaced by
   the program's path (the kernel would start the agent, which has no jdryad to connect to). */
int jdryad_self_execve(const char *path, char *const argv[], char *const envp[]);
int jdryad_self_execv(const char *path, char *const argv[]);
int jdryad_self_execvp(const char *file, char *const argv[]);
int jdryad_self_execvpe(const char *file, char *const argv[], char *const envp[]);
int jdryad_self_execl(const char *path, const char *arg, ...);
int jdryad_self_execlp(const char *file, const char *arg, ...);
int jdryad_self_execle(const char *path, const char *arg, ...);
int jdryad_self_posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *actions,
                            const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);
int jdryad_self_posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *actions,
                             const posix_spawnattr_t *attr, char *const argv[], char *const envp[]);

/* system.c: libc's system, popen and pclose run /bin/sh without the PLT; these spawn it with
   jdryad_posix_spawn instead, so that the shell and what it runs are followed too. */
int jdryad_system(const char *command);
FILE *jdryad_popen(const char *command, const char *mode);
int jdryad_pclose(FILE *stream);

#endif
