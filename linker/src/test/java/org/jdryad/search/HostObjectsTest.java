package org.jdryad.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import org.jdryad.elf.ElfFile;
import org.junit.jupiter.api.Test;

/**
 * Which of glibc's libraries stay glibc's: libc needs nothing of its user, libthread_db needs
 * the ps_* functions of proc_service.h; the answer kept with a parsed file (for the warm
 * server) is the one a fresh parse gives.
 */
class HostObjectsTest {
    private static final Path LIBC = Path.of("/lib/x86_64-linux-gnu/libc.so.6");
    private static final Path THREAD_DB = Path.of("/lib/x86_64-linux-gnu/libthread_db.so.1");

    @Test
    void libcIsAHostObjectAndLibthreadDbIsNot() throws IOException {
        try (ElfFile libc = ElfFile.open(LIBC); ElfFile threadDb = ElfFile.open(THREAD_DB)) {
            assertTrue(HostObjects.isHost("libc.so.6", libc));
            assertFalse(HostObjects.isHost("libthread_db.so.1", threadDb));
        }
    }

    @Test
    void theAnswerKeptWithAFileIsAFreshParsesAnswer() throws IOException {
        for (Path p : new Path[] {LIBC, THREAD_DB}) {
            try (ElfFile kept = ElfFile.open(p); ElfFile fresh = ElfFile.open(p)) {
                boolean first = HostObjects.needsItsUsersSymbols(kept);
                assertEquals(first, HostObjects.needsItsUsersSymbols(kept), p + ": asked again");
                assertEquals(scanned(fresh), first, p + ": against a scan of a fresh parse");
            }
        }
    }

    /** The scan itself, on a file nothing was derived from yet. */
    private static boolean scanned(ElfFile elf) {
        var d = elf.requireDynamic();
        for (int i = 1; i < d.symbols().count(); i++) {
            var s = d.symbols().get(i);
            if (s.isUndefined() && s.bind() == org.jdryad.elf.Elf.STB_GLOBAL
                    && (d.versions().versym(i) & org.jdryad.elf.Elf.VERSYM_VERSION) <= org.jdryad.elf.Elf.VER_NDX_GLOBAL) {
                return true;
            }
        }
        return false;
    }
}
