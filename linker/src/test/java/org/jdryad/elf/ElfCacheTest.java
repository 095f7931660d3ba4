package org.jdryad.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The warm server's cache of parsed files and of what runs derive from them (ElfFile.derived):
 * a file is parsed, and a value derived, once per version of the file; a file rewritten in
 * place, even to the same size with its modification time put back, is parsed and derived
 * afresh; and what the cache hands out is what a fresh parse gives.
 */
class ElfCacheTest {
    @BeforeEach
    void enable() {
        ElfCache.enable();
    }

    @AfterEach
    void disable() {
        ElfCache.disable();
    }

    @Test
    void anUnchangedFileIsParsedAndDerivedOnce() throws IOException {
        Path lib = Fixtures.sharedLibrary("libver.so", List.of("versions/ver.c"),
                "-Wl,--version-script=" + Fixtures.source("versions/ver.map"));
        AtomicInteger computed = new AtomicInteger();
        ElfFile.DerivedKey<List<String>> names = new ElfFile.DerivedKey<>("symbol names", elf -> {
            computed.incrementAndGet();
            return symbolNames(elf);
        });
        ElfFile first = ElfCache.open(lib);
        ElfFile second = ElfCache.open(lib);
        assertSame(first, second, "an unchanged file is parsed once");
        List<String> cached = first.derived(names);
        assertSame(cached, second.derived(names), "derived once per parsed file");
        assertEquals(1, computed.get());
        try (ElfFile fresh = ElfFile.open(lib)) {
            assertEquals(symbolNames(fresh), cached, "the cached value is a fresh parse's");
        }
    }

    @Test
    void aFileRewrittenInPlaceToTheSameSizeAndTimeIsParsedAgain() throws IOException, InterruptedException {
        Path dir = Fixtures.scratchDir("elf-cache");
        Path a = library(dir, "libsame-a.so");
        Path b = library(dir, "libsame-b.so");
        assertEquals(Files.size(a), Files.size(b), "the two versions must have the same size for this test");
        Path lib = dir.resolve("libsame.so");
        Files.write(lib, Files.readAllBytes(a));
        FileTime mtime = Files.getLastModifiedTime(lib);
        Object inode = Files.getAttribute(lib, "unix:ino");
        ElfFile.DerivedKey<String> soname = new ElfFile.DerivedKey<>("soname",
                elf -> elf.requireDynamic().soname().orElse(""));
        ElfFile before = ElfCache.open(lib);
        assertEquals("libsame-a.so", before.derived(soname));

        Thread.sleep(50); // ctime advances by clock ticks: the rewrite must come in a later one
        Files.write(lib, Files.readAllBytes(b)); // same inode, same size
        Files.setLastModifiedTime(lib, mtime);   // and the old modification time
        assertEquals(inode, Files.getAttribute(lib, "unix:ino"));
        assertEquals(mtime, Files.getLastModifiedTime(lib));

        ElfFile after = ElfCache.open(lib);
        assertNotSame(before, after, "a rewritten file is parsed again");
        assertEquals("libsame-b.so", after.derived(soname), "and what is derived from it is derived again");
    }

    private static List<String> symbolNames(ElfFile elf) {
        SymbolTable syms = elf.requireDynamic().symbols();
        String[] out = new String[syms.count()];
        for (int i = 0; i < out.length; i++) {
            out[i] = syms.name(i);
        }
        return List.of(out);
    }

    /** One small library named {@code soname} (both names the same length: the same size). */
    private static Path library(Path dir, String soname) throws IOException {
        Path src = dir.resolve("same.c");
        Files.writeString(src, "int same_value(void) { return 42; }\n");
        Path out = dir.resolve(soname);
        Result r = ProcessRunner.run(List.of("gcc", "-shared", "-fPIC", "-Wl,-soname," + soname, "-o", out.toString(),
                src.toString()), ProcessRunner.environment(dir, Map.of()), dir, Duration.ofSeconds(120));
        assertEquals(0, r.status(), r::describe);
        return out;
    }
}
