package org.jdryad.elf;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.jdryad.fixtures.FuzzSeeds;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing of the ELF reader on arbitrary bytes. Seeds: the fixtures and a sample
 * of the system's shared objects (all of them in the long campaign), plus the inputs committed
 * under {@code ElfFuzzTestInputs/}. Every input must parse and walk (see {@link ElfWalk}) or fail
 * with ElfFormatException; any other exception, an OutOfMemoryError or a hang (the timeout) is a
 * finding.
 */
class ElfFuzzTest {
    @BeforeAll
    static void freshCorpus() {
        FuzzSeeds.freshCorpus(ElfFuzzTest.class);
    }

    static final Path NAME = Path.of("fuzzed.so");

    static Stream<Arguments> seeds() {
        return FuzzSeeds.all().stream().map(p -> Arguments.of(Named.of(p.getFileName().toString(), FuzzSeeds.read(p))));
    }

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "10s")
    void anyBytes(byte[] input) {
        ElfWalk.walk(NAME, input);
    }
}
