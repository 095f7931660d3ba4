/*
 * Whether the jar is older than the sources it is built from: the launcher's `find -newer`
 * check, done here without starting a process (about 1 ms instead of 10-20), so that a warm
 * run stays within a few ms of the program's own time.
 */
#ifndef JDRYAD_CLIENT_STALE_H
#define JDRYAD_CLIENT_STALE_H

/* 1 when a file under home's pom.xml, linker/src/main, native or gdb-scripts is newer than jar; else 0. */
int jar_is_stale(const char *home, const char *jar);

#endif
