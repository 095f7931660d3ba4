package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Load: 3000 dlopen/dlclose cycles of a plain library, bound now and lazily (a first call each
 * cycle), measured inside the program (descriptors, /proc/self/maps lines, threads, VmRSS,
 * RssAnon and the agent allocator's bytes in use and high-water mark, after 50 warm-up cycles
 * and at the end); and concurrent cold {@code jdryad
 * run}s, each with its own arguments and environment, half of them 16 threads racing through
 * first calls: every run must give its own output and status (no failure, no cross-talk). The
 * 100-run version is {@code tests/load/concurrent-runs.sh}.
 */
@Tag("run")
class LoadTest {
    private static final int CONCURRENT_RUNS = 8;
    /** dlopen/dlclose cycles after the program's 50 warm-up ones, which it measures before and after. */
    private static final int CYCLES = 3000;
    /**
     * What those cycles may add to RssAnon: a few pages, for glibc's malloc (the program's stdio).
     * When the agent kept what each cycle took, 2950 cycles added about 3.2 MB (1.1 KiB each).
     */
    private static final long RSS_ANON_SLACK_KB = 64;
    /**
     * What they may add to the agent allocator's bytes in use and to its high-water mark
     * (jd_alloc_stats, read by the program: agent_memory.c). It reuses what a cycle gives back
     * (size classes, the retired object and finaliser tables, spare link-map nodes, libgcc's
     * unwind buffers, lazy tables), so nothing grows: measured 0 bytes over 2950 cycles.
     */
    private static final long AGENT_SLACK_BYTES = 4096;

    @Test
    void thousandsOfDlopenDlcloseCyclesLeakNoDescriptorMappingThreadOrMemory() {
        assertCyclesLeakNothing("now");
    }

    @Test
    void thousandsOfLazyDlopenDlcloseCyclesWithFirstCallsLeakNothing() {
        assertCyclesLeakNothing("lazy");
    }

    private static void assertCyclesLeakNothing(String mode) {
        Path lib = Fixtures.sharedLibrary("libcycled.so", List.of("robust/cycled.c"));
        Path prog = Fixtures.program("dlopen-cycles", List.of("robust/cycles_main.c", "robust/agent_memory.c"), "-ldl");
        Path dir = Fixtures.layout("dlopen-cycles", Map.of("dlopen-cycles", prog, "libcycled.so", lib));
        Path p = dir.resolve("dlopen-cycles");
        List<String> args = List.of("./libcycled.so", String.valueOf(CYCLES), mode);
        String cycled = "cycles " + CYCLES + " sum " + 2 * CYCLES + "\n";
        Result expected = Jdryad.runNative(p, args, Map.of(), dir);
        assertEquals(cycled + "fds same maps same threads same rss same\n", expected.stdout(), expected::describe);
        assertTrue(expected.stderr().contains("agent memory: none\n"), expected::describe);
        Result actual = Jdryad.runJdryad(List.of(), p, args, Map.of(), dir);
        assertEquals(0, actual.status(), actual::describe);
        assertTrue(actual.stdout().startsWith(cycled + "fds same maps same threads same "), actual::describe);
        Matcher m = Pattern.compile("RssAnon (\\d+) -> (\\d+)").matcher(actual.stderr());
        assertTrue(m.find(), actual::describe);
        long grown = Long.parseLong(m.group(2)) - Long.parseLong(m.group(1));
        assertTrue(grown <= RSS_ANON_SLACK_KB, () -> "anonymous memory grew by " + grown + " kB\n" + actual.describe());
        Matcher a = Pattern.compile("agent memory: live (\\d+) -> (\\d+), high water (\\d+) -> (\\d+)")
                .matcher(actual.stderr());
        assertTrue(a.find(), () -> "no agent allocator figures\n" + actual.describe());
        long live = Long.parseLong(a.group(2)) - Long.parseLong(a.group(1));
        long high = Long.parseLong(a.group(4)) - Long.parseLong(a.group(3));
        assertTrue(live <= AGENT_SLACK_BYTES && high <= AGENT_SLACK_BYTES,
                () -> "the agent's memory in use grew by " + live + " bytes, its high-water mark by " + high + "\n"
                        + actual.describe());
    }

    @Test
    void concurrentColdRunsEachGetTheirOwnOutput() {
        Path prog = Fixtures.program("tagged-main", List.of("robust/tagged_main.c"),
                FixtureCatalog.libneeded().toString(), "-Wl,--enable-new-dtags,-rpath,$ORIGIN");
        Path dir = Fixtures.layout("tagged", Map.of("tagged-main", prog, "libneeded.so", FixtureCatalog.libneeded()));
        Path p = dir.resolve("tagged-main");
        Path threads = FixtureCatalog.lazyThreadsProgram();
        Result threadsNative = Jdryad.runNative(threads, List.of(), Map.of(), threads.getParent());
        assertEquals(0, threadsNative.status(), threadsNative::describe);
        Jdryad.ensureBuilt();
        List<CompletableFuture<Result>> runs = new ArrayList<>();
        for (int i = 0; i < CONCURRENT_RUNS; i++) {
            String n = String.valueOf(100 + i);
            runs.add(CompletableFuture.supplyAsync(i % 2 == 0
                    ? () -> Jdryad.runJdryad(List.of(), p, List.of(n), Map.of("RUN_TAG", "t" + n), dir)
                    : () -> Jdryad.runJdryad(List.of(), threads, List.of(), Map.of(), threads.getParent())));
        }
        for (int i = 0; i < CONCURRENT_RUNS; i++) {
            Result r = runs.get(i).join();
            if (i % 2 == 0) {
                int n = 100 + i;
                assertEquals("arg " + n + " tag t" + n + " needed_fn 42\n", r.stdout(), r::describe);
                assertEquals("", r.stderr(), r::describe);
                assertEquals(n % 100, r.status(), r::describe);
            } else {
                Jdryad.assertSameRun("lazy-threads, concurrent run " + i, threadsNative, r);
            }
        }
    }
}
