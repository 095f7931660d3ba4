package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.jdryad.fixtures.TlsFixtures;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * Thread-local storage of dlopened libraries ({@link TlsFixtures}): each fixture natively, then
 * under {@code jdryad run} with the same environment and working directory; stdout, stderr and
 * exit status must be identical.
 */
@Tag("run")
class TlsRunTest {

    @TestFactory
    Stream<DynamicTest> tlsOfDlopenedLibrariesAsUnderTheSystemLoader() {
        return TlsFixtures.cases().stream()
                .map(c -> DynamicTest.dynamicTest(c.name(), () -> DifferentialRunTest.check(c, List.of())));
    }

    /** The case: an N-API addon's initialised TLS on libuv worker threads started before its dlopen. */
    @Test
    void napiAddonTlsOnLibuvThreadsStartedBeforeTheDlopen() {
        Path node = Path.of("/usr/bin/node");
        Path headers = Path.of("/usr/include/node");
        assumeTrue(Files.isExecutable(node) && Files.isRegularFile(headers.resolve("node_api.h")),
                "node and its headers (/usr/include/node) are not installed");
        Path dir = TlsFixtures.napiLayout(headers);
        Result expected = Jdryad.runNative(node, List.of("napi_tls.js"), Map.of(), dir);
        assertEquals("ok initialised, ok initialised, ok initialised, ok initialised\n", expected.stdout(),
                () -> "natively:\n" + expected.describe());
        Jdryad.assertSameRun("tls-napi", expected, Jdryad.runJdryad(List.of(), node, List.of("napi_tls.js"), Map.of(), dir));
    }
}
