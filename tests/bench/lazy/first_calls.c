/* The cost of lazy binding, as the program sees it: the first calls of N distinct functions
 * (each through its own unbound PLT slot), then the same calls again (bound slots). Prints the
 * nanoseconds per call of each pass; the functions come from a generated library (lazy.sh). */
#include <stdio.h>
#include <time.h>
#include "calls.h"

static long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

int main(void)
{
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
