/* probe.so: preloaded into the program (LD_PRELOAD natively, --preload under jdryad), it tells
 * benchtool's `startup` mode when the program's initialisers begin: its constructor writes the
 * nanoseconds since BENCH_T0_NS (CLOCK_MONOTONIC, taken just before execve) to BENCH_PROBE_FD.
 * Why: glibc runs no initialiser before every object is loaded and relocated, so exec to this
 * point is glibc's whole link phase by the wall clock (its LD_DEBUG=statistics cycle counts
 * undercount it here: README, Benchmarks), and for jdryad everything before the program's own
 * code. It runs early among the initialisers: it needs only libc. */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((constructor)) static void probe(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    const char *t0 = getenv("BENCH_T0_NS"), *fd = getenv("BENCH_PROBE_FD");
    if (!t0 || !fd)
        return;
    char buf[32];
    long ns = t.tv_sec * 1000000000L + t.tv_nsec - atol(t0), v = ns < 0 ? 0 : ns;
    int n = 0;
    char digits[24];
    do
        digits[n++] = (char)('0' + v % 10);
    while ((v /= 10) && n < 20);
    for (int i = 0; i < n; i++)
        buf[i] = digits[n - 1 - i];
    buf[n++] = '\n';
    (void)!write(atoi(fd), buf, (size_t)n);
    unsetenv("BENCH_T0_NS"); /* the program's children are not the measured process */
}
