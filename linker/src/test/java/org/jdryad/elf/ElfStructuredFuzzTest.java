package org.jdryad.elf;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;
import java.util.List;
import org.jdryad.fixtures.FuzzSeeds;
import org.junit.jupiter.api.BeforeAll;

/**
 * Structure-aware fuzzing of the ELF reader: the fuzzer picks a real seed file (a fixture or a
 * system shared object) and {@link ElfMutator} overwrites chosen fields at valid offsets (file
 * and program headers, dynamic entries, GNU and SysV hash tables, version records, relocation
 * and RELR entries, note headers, symbols, section headers, string bytes) with fuzzed values;
 * the copy is walked by {@link ElfWalk}. Same oracle as {@link ElfFuzzTest}.
 */
class ElfStructuredFuzzTest {
    @BeforeAll
    static void freshCorpus() {
        FuzzSeeds.freshCorpus(ElfStructuredFuzzTest.class);
    }

    private static final Path NAME = Path.of("mutated.so");
    /** Each input copies its seed: larger files would make executions slow. */
    private static final long MAX_SEED = 1 << 20;
    private static volatile List<byte[]> pool;

    static List<byte[]> pool() {
        List<byte[]> p = pool;
        if (p == null) {
            p = FuzzSeeds.all().stream().filter(f -> f.toFile().length() <= MAX_SEED).map(FuzzSeeds::read).toList();
            pool = p;
        }
        return p;
    }

    @FuzzTest(maxDuration = "10s")
    void mutatedRealFile(FuzzedDataProvider data) {
        List<byte[]> seeds = pool();
        byte[] seed = seeds.get(data.consumeInt(0, seeds.size() - 1));
        ElfWalk.walk(NAME, ElfMutator.mutate(seed, data, 8));
    }
}
