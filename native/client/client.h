/*
 * The warm client's session (client.c), for its two programs: jdryad-client (main.c), which the
 * ./jdryad script execs, and the static front (native/front/), which runs it in its own process
 * and so saves bash's and a second program's start on every warm run.
 */
#ifndef JDRYAD_CLIENT_H
#define JDRYAD_CLIENT_H

#include <stddef.h>

/*
 * `jdryad ARGV...` (argv[0] is the subcommand, "run") with the warm server: this process's
 * environment holds the launcher's variables (JDRYAD_*, the LD_* moved to JDRYAD_LD_*),
 * `given` the environment exactly as the user gave it (the program's).  home is the checkout,
 * jar the build's jar.  Never returns but with a failure status: it exits with the program's.
 */
int jd_client_run(const char *home, const char *jar, int argc, char **argv, char **given, size_t ngiven);

#endif
