package org.jdryad.search;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.jdryad.fixtures.FuzzSeeds;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing of the ld.so.cache reader on arbitrary bytes. Its contract: it never
 * throws; a cache glibc would reject is {@link LdSoCache.Format#NONE} with a {@link
 * LdSoCache#problem()}, and a bogus index ends a lookup with no result. So every exception, an
 * OutOfMemoryError or a hang is a finding. Seeds: this machine's /etc/ld.so.cache and caches of
 * each layout written by {@link LdSoCacheImage}.
 */
class LdSoCacheFuzzTest {
    private static final List<String> NAMES = List.of("libc.so.6", "libz.so.1", "libfoo.so.1", "libbar.so.2",
            "libm.so.6", "", "lib", "libstdc++.so.6", "libfoo.so.10");
    private static final CpuHwcaps[] CPUS = {
        CpuHwcaps.host(), CpuHwcaps.of(15, "x86_64", 2), CpuHwcaps.of(CpuHwcaps.ISA_BASELINE, "haswell", 0),
    };

    @BeforeAll
    static void freshCorpus() {
        FuzzSeeds.freshCorpus(LdSoCacheFuzzTest.class);
    }

    static Stream<Arguments> seeds() throws Exception {
        List<Arguments> out = new ArrayList<>();
        Path real = LdSoCache.DEFAULT_PATH;
        if (Files.isReadable(real)) {
            out.add(Arguments.of(Named.of("ld.so.cache", Files.readAllBytes(real))));
        }
        List<LdSoCacheImage.Entry> entries = List.of(
                LdSoCacheImage.Entry.of("libfoo.so.1", "/usr/lib/libfoo.so.1"),
                new LdSoCacheImage.Entry("libfoo.so.1", "/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", 0x303,
                        LdSoCache.HWCAP_EXTENSION),
                new LdSoCacheImage.Entry("libfoo.so.1", "/usr/lib/glibc-hwcaps/x86-64-v4/libfoo.so.1", 0x303,
                        LdSoCache.HWCAP_EXTENSION | 1),
                LdSoCacheImage.Entry.of("libbar.so.2", "/usr/lib/libbar.so.2"),
                new LdSoCacheImage.Entry("libz.so.1", "/lib32/libz.so.1", 0x0003, 0));
        for (LdSoCacheImage.Layout l : LdSoCacheImage.Layout.values()) {
            out.add(Arguments.of(Named.of(l.toString(), LdSoCacheImage.write(l, entries, List.of("x86-64-v3", "x86-64-v4"),
                    "ldconfig (fuzz seed)"))));
        }
        out.add(Arguments.of(Named.of("NEW-plain", LdSoCacheImage.write(LdSoCacheImage.Layout.NEW, entries, List.of(), null))));
        return out.stream();
    }

    @MethodSource("seeds")
    @FuzzTest(maxDuration = "10s")
    void anyBytes(byte[] input) {
        for (CpuHwcaps cpu : CPUS) {
            LdSoCache c = LdSoCache.parse("fuzzed.cache", ByteBuffer.wrap(input).asReadOnlyBuffer(), cpu);
            c.format();
            c.usable();
            c.problem();
            c.generator();
            c.hwcapsSubdirs();
            List<LdSoCache.Entry> entries = c.entries();
            if (entries.size() > c.size()) {
                throw new AssertionError(entries.size() + " entries decoded from a cache of " + c.size());
            }
            List<String> names = new ArrayList<>(NAMES);
            for (int i = 0; i < Math.min(8, entries.size()); i++) {
                names.add(entries.get(i).soname());
            }
            for (String n : names) {
                c.lookup(n);
            }
            c.toString();
        }
    }

    /** Seed files also serve as caches (ELF where a cache is expected): must be refused quietly. */
    @org.junit.jupiter.api.Test
    void elfFilesAreNotCaches() {
        for (Path p : FuzzSeeds.fixtures().values()) {
            LdSoCache c = LdSoCache.parse(p.toString(), ByteBuffer.wrap(FuzzSeeds.read(p)), CpuHwcaps.host());
            if (c.usable()) {
                throw new AssertionError(p + " was read as a cache");
            }
        }
    }
}
