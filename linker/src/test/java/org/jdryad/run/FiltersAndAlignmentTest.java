package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Test;

/**
 * DT_FILTER and DT_AUXILIARY as glibc resolves them (the filtee first, a missing auxiliary
 * filtee ignored, listed by ldd as not found), and 2 MiB / 4096-byte segment alignments: each
 * fixture natively and under jdryad, and jdryad ldd against ldd.
 */
class FiltersAndAlignmentTest {
    @Test
    void filtersResolveAsUnderGlibc() {
        same("dlfcn-filter", FixtureCatalog.dlfcnFilterProgram());
    }

    @Test
    void lddListsFilteesBeforeTheirFilters() {
        Path prog = FixtureCatalog.dlfcnFilterProgram();
        Path aux = prog.resolveSibling("libflt_aux_missing.so");
        for (Path p : List.of(prog, aux)) {
            Result expected = ProcessRunner.run(List.of("ldd", p.toString()), Map.of(), prog.getParent(), Jdryad.RUN_TIMEOUT);
            Result actual = Jdryad.runLauncher(List.of("ldd", p.toString()), prog.getParent());
            assertEquals(withoutAddresses(expected.stdout()), withoutAddresses(actual.stdout()), actual::describe);
        }
    }

    @Test
    void segmentsKeepTheirAlignment() {
        same("dlfcn-align", FixtureCatalog.dlfcnAlignProgram());
    }

    private static void same(String name, Path prog) {
        Path dir = prog.getParent();
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), dir);
        assertEquals(0, expected.status(), expected::describe);
        Jdryad.assertSameRun(name, expected, Jdryad.runJdryad(List.of(), prog, List.of(), Map.of(), dir));
    }

    private static String withoutAddresses(String ldd) {
        return ldd.replaceAll(" \\(0x[0-9a-f]+\\)", "");
    }
}
