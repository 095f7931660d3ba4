/* The cost of lazy binding, as the program sees it: the first calls of N distinct functions
 * (each through its own unbound PLT slot), then the same calls again (bound slots). Prints the
 * nanoseconds per call of each pass; the functions come from a generated library (lazy.sh).
 * With an argument MS it sleeps MS milliseconds first: under jdryad, time for the Java side to
 * prepare the lazy fast path's answers before the first calls (run.sh measures both). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "calls.h"

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        long ms = atol(argv[1]);
        struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&d, 0);
    }
    long s = 0;
    long t0 = now_ns();
    CALL_ALL(s);
    long t1 = now_ns();
    for (int rep = 0; rep < 100; rep++) {
        CALL_ALL(s);
    }
    long t2 = now_ns();
    printf("first %.1f ns/call, bound %.2f ns/call (checksum %ld)\n", (double)(t1 - t0) / NFUNCS,
           (double)(t2 - t1) / (100.0 * NFUNCS), s);
    return 0;
}
