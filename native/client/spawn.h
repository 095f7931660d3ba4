/*
 * Starting the program's process as the client's child, the way the cold JVM starts it: only
 * stdin, stdout and stderr are inherited, signals at their defaults, and a failed exec is told
 * (through a close-on-exec pipe) instead of looking like the program's own status 127.
 */
#ifndef JDRYAD_CLIENT_SPAWN_H
#define JDRYAD_CLIENT_SPAWN_H

#include <signal.h>
#include <sys/types.h>

/* Forks and execs path with argv/envp, the child's signal mask set to `mask`: its pid, or -1
 * with errno (the fork's, or the exec's as the child reported it). */
pid_t spawn_program(const char *path, char *const argv[], char *const envp[], const sigset_t *mask);

/* A wait status as a shell reports it: the exit status, or 128+N for signal N. */
int shell_status(int wstatus);

#endif
