/*
 * Where the warm server of this build listens, and connecting to it safely.  The socket lives
 * in a per-user directory ($XDG_RUNTIME_DIR/jdryad, else /tmp/jdryad-UID) that must be a real
 * directory owned by the user with mode 0700; its name hashes the jar's real path, size and
 * modification time (org.jdryad.server.ServerAddress computes the same), so a rebuilt jar or
 * another checkout never reaches a stale server.
 */
#ifndef JDRYAD_CLIENT_ADDRESS_H
#define JDRYAD_CLIENT_ADDRESS_H

#include <stddef.h>

/* Fills sock (size n) with the server's socket path; 0, or -1 with a reason in why. */
int server_address(const char *jar, char *sock, size_t n, char *why, size_t whyn);

/*
 * Connects to sock and checks with SO_PEERCRED that the server runs as this user: the fd, or
 * -1 with errno (ENOENT/ECONNREFUSED: no server; EPERM: a server of another user) and a reason.
 */
int server_connect(const char *sock, char *why, size_t whyn);

#endif
