package org.jdryad.link;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Relocation planning of one system library against glibc's libc, libm, libgcc_s and ld.so as host objects at
 * fixed fake bases, over the in-memory {@link FakeMemory} (no process): {@code relocateAll} of a
 * fresh session, each invocation on a freshly mapped copy (mapping is not measured). The score
 * is per relocateAll (the whole library); see RelocatorTest for the same set-up checked.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 5, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class RelocationPlanningBench {
    private static final Path LIBM = Path.of("/lib/x86_64-linux-gnu/libm.so.6");
    private static final Path LIBGCC_S = Path.of("/lib/x86_64-linux-gnu/libgcc_s.so.1");
    private static final Map<String, Long> INTERPOSERS = Map.of("__tls_get_addr", 0x7fa0_0000_2000L);

    /** A library under /usr/lib/x86_64-linux-gnu whose dependencies are all host objects. */
    @Param({"libz.so.1", "libstdc++.so.6"})
    public String library;

    LinkSession session;

    @Setup(Level.Invocation)
    public void mapFresh() {
        FakeMemory mem = new FakeMemory().onCall(f -> f + 0x10); // host IFUNC resolvers "return" f + 16
        session = LinkTestSupport.session(mem, INTERPOSERS, 8192, null, new ArrayList<>());
        LoadedObject lib = LinkTestSupport.object(Path.of("/usr/lib/x86_64-linux-gnu", library), 0);
        session.setObjects(List.of(lib, LinkTestSupport.host(LIBM, 1, 0x7f30_0000_0000L),
                LinkTestSupport.host(LIBGCC_S, 2, 0x7f40_0000_0000L), LinkTestSupport.libc(3), LinkTestSupport.ldso(4)));
        session.mapAll();
    }

    @Benchmark
    public long relocateAll() {
        session.relocateAll();
        return session.stats().total();
    }
}
