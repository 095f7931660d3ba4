package org.jdryad.run;

import java.util.List;
import java.util.stream.Stream;
import org.jdryad.fixtures.TlsFixtures;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Tag;
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
}
