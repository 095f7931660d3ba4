package org.jdryad.elf;

import java.nio.file.Path;
import java.util.List;
import org.jdryad.fixtures.Fixtures;

/** Fixtures only the reader tests need: hash-table variants of libver.so. */
final class ElfFixtures {
    private ElfFixtures() {
    }

    /** libver.so with both DT_HASH and DT_GNU_HASH. */
    static Path libverBothHashes() {
        return Fixtures.sharedLibrary("libver.so", List.of("versions/ver.c"),
                "-Wl,--version-script=" + Fixtures.source("versions/ver.map"), "-Wl,--hash-style=both");
    }

    /** libver.so with DT_HASH only (the SysV fallback). */
    static Path libverSysvHash() {
        return Fixtures.sharedLibrary("libver.so", List.of("versions/ver.c"),
                "-Wl,--version-script=" + Fixtures.source("versions/ver.map"), "-Wl,--hash-style=sysv");
    }
}
