package org.jdryad.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jdryad.debug.Binding;
import org.jdryad.debug.BindingHistory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Parallel relocation planning (RelocationRun) against planning one object after another, on
 * real programs linked over {@link FakeMemory} with glibc's libraries as host objects: every
 * word written (in the order first written), every byte of every page, the bindings with their
 * sequence numbers in order, the lazy ids, the counts and the warnings must be the same.
 */
class ParallelRelocationTest {
    /** What one link left. */
    private record Linked(List<Map.Entry<Long, Long>> words, Map<Long, String> pages, List<Binding> bindings,
                          Map<String, Long> counts, long lookups, List<String> warnings, Map<Long, String> lazyIds) {
    }

    private static Linked link(Path program, boolean parallel, boolean bindNow) {
        FakeMemory mem = new FakeMemory().onCall(f -> f + 0x10);
        BindingHistory history = new BindingHistory();
        List<String> warnings = new ArrayList<>();
        LinkSession s = LinkTestSupport.session(mem, Map.of("__tls_get_addr", 0x7fa0_0000_2000L), 1 << 20, history,
                warnings);
        s.setParallelRelocation(parallel);
        s.enableLazyBinding(0x7fa0_0000_3000L, bindNow);
        List<LoadedObject> objects = LinkTestSupport.graph(program);
        for (LoadedObject o : objects) {
            if (o.isHost()) {
                new SegmentMapper(mem).map(o, false); // as glibc loaded them: copy relocations read their data
            }
        }
        s.setObjects(objects);
        s.mapAll();
        s.relocateAll();
        s.protectAll();
        List<Binding> bindings = new ArrayList<>();
        for (Binding b : history.snapshot()) {
            bindings.add(new Binding(b.seq(), 0, b.pid(), b.tid(), b.kind(), b.referrer(), b.relocation(), b.slot(),
                    b.callSite(), b.symbol(), b.version(), b.definer(), b.address(), List.copyOf(b.searched()),
                    List.copyOf(b.passedOver())));
        }
        Map<Long, String> lazy = new java.util.TreeMap<>();
        s.lazyObjects().forEach((id, o) -> lazy.put(id, o.name()));
        return new Linked(new ArrayList<>(mem.wordsWritten().entrySet()), mem.pageDigests(), bindings, s.stats().byType(),
                s.stats().lookups(), warnings, lazy);
    }

    /** Each program bound now; python also lazily (lazy ids, unbound slots). */
    @ParameterizedTest
    @ValueSource(strings = {"/usr/bin/llvm-as-14", "/usr/bin/python3.11", "/usr/bin/node", "lazy:/usr/bin/python3.11"})
    void parallelPlanningGivesTheSerialResult(String spec) {
        boolean bindNow = !spec.startsWith("lazy:");
        Path program = Path.of(spec.substring(spec.indexOf(':') + 1));
        assumeTrue(Files.isExecutable(program), program + " is not installed");
        Linked serial = link(program, false, bindNow);
        Linked parallel = link(program, true, bindNow);
        assertTrue(serial.words().size() > 500 && serial.bindings().size() > 20,
                "a real link: " + serial.words().size() + " words, " + serial.bindings().size() + " bindings");
        assertEquals(serial.words(), parallel.words(), "words written, in order");
        assertEquals(serial.pages(), parallel.pages(), "every byte of every page");
        assertEquals(serial.bindings().size(), parallel.bindings().size());
        for (int i = 0; i < serial.bindings().size(); i++) {
            assertEquals(serial.bindings().get(i), parallel.bindings().get(i), "binding " + i);
        }
        assertEquals(serial.counts(), parallel.counts());
        assertEquals(serial.lookups(), parallel.lookups());
        assertEquals(serial.warnings(), parallel.warnings());
        assertEquals(serial.lazyIds(), parallel.lazyIds());
        assertEquals(bindNow, serial.lazyIds().isEmpty(), "lazy objects only when not bound now");
    }
}
