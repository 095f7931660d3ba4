package org.jdryad.search;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.fixtures.FuzzSeeds;
import org.jdryad.fixtures.MiniElf;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing of the library search over a fuzzed set of files in a temporary
 * directory: the fuzzer chooses the program's and each library's DT_NEEDED, DT_SONAME, DT_RPATH,
 * DT_RUNPATH (with $ORIGIN, $LIB, $PLATFORM, relative and missing directories), DF_1_NODEFLIB,
 * which files are truncated, 32-bit, of another machine, random bytes, directories or (dangling,
 * looping) symlinks, LD_LIBRARY_PATH, LD_PRELOAD, secure mode, an ld.so.cache naming the files,
 * and dlopen calls after start-up. The system directories are the temporary ones, so nothing of
 * the machine's is found. A search ends in a graph (missing libraries and glibc's error inside it)
 * or, for a program that cannot be read or parsed, IOException or ElfFormatException; anything
 * else, an OutOfMemoryError or a hang is a finding.
 */
class LibrarySearchFuzzTest {
    private static final String[] NAMES = {"liba.so", "libb.so.1", "libc.so.6", "libloop.so", "libd.so.2", "libe.so"};
    private static final String[] DIRS = {"a", "b", "b/c", "sys", "sys/glibc-hwcaps/x86-64-v2", "sys/x86_64",
        "lib/x86_64-linux-gnu", "."};
    private static Path base;

    @BeforeAll
    static void scratch() throws IOException {
        FuzzSeeds.freshCorpus(LibrarySearchFuzzTest.class);
        base = Files.createTempDirectory("jdryad-search-fuzz-");
        base.toFile().deleteOnExit();
    }

    @FuzzTest(maxDuration = "10s")
    void searchOverFuzzedFiles(FuzzedDataProvider data) throws IOException {
        Path root = Files.createTempDirectory(base, "s");
        try {
            for (String d : DIRS) {
                Files.createDirectories(root.resolve(d));
            }
            int files = data.consumeInt(0, 8);
            List<String> written = new ArrayList<>();
            for (int i = 0; i < files; i++) {
                Path p = root.resolve(pick(data, DIRS)).resolve(pick(data, NAMES));
                if (writeFile(data, root, p, written)) {
                    written.add(root.relativize(p).toString());
                }
            }
            Path prog = root.resolve("prog");
            if (data.consumeInt(0, 15) == 0) {
                Files.write(prog, data.consumeBytes(128));
            } else {
                MiniElf exe = MiniElf.executable();
                fill(exe, data, root, data.consumeInt(0, 4));
                if (data.consumeBoolean()) {
                    exe.interpreter(data.consumeBoolean() ? SearchConfig.SYSTEM_INTERPRETER : root.resolve("sys/ld.so").toString());
                }
                Files.write(prog, exe.build());
            }
            SearchConfig.Builder cfg = SearchConfig.builder()
                    .workingDirectory(root)
                    .preloadFile(null)
                    .systemDirs(List.of(root.resolve("sys") + "/", root.resolve("lib/x86_64-linux-gnu") + "/"))
                    .lib("lib/x86_64-linux-gnu")
                    .secure(data.consumeInt(0, 7) == 0)
                    .executableOrigin(data.consumeBoolean() ? SearchConfig.ExecutableOrigin.AS_GIVEN
                            : SearchConfig.ExecutableOrigin.RESOLVED);
            if (data.consumeBoolean()) {
                cfg.libraryPath(pathList(data, root), "LD_LIBRARY_PATH");
            }
            if (data.consumeInt(0, 3) == 0) {
                cfg.preload(data.consumeBoolean() ? pick(data, NAMES) : pick(data, NAMES) + " " + root.resolve(pick(data, DIRS))
                        .resolve(pick(data, NAMES)) + ":" + data.consumeAsciiString(8));
            }
            cfg.cache(cache(data, root, written));
            LibrarySearch search = new LibrarySearch(cfg.build());
            DependencyGraph g;
            try {
                g = search.resolve(data.consumeBoolean() ? Path.of("prog") : prog);
            } catch (IOException | ElfFormatException e) {
                return; // the program itself cannot be read or parsed: the one clean refusal
            }
            try (g) {
                inspect(g);
                int dlopens = data.consumeInt(0, 3);
                for (int i = 0; i < dlopens; i++) {
                    String name = data.consumeBoolean() ? pick(data, NAMES) : root.resolve(pick(data, DIRS)).resolve(pick(data, NAMES)).toString();
                    List<LoadedLibrary> objs = g.namespace().objects();
                    LoadedLibrary caller = objs.isEmpty() || data.consumeBoolean() ? null : objs.get(data.consumeInt(0, objs.size() - 1));
                    DlopenResult r = g.namespace().dlopen(name, caller);
                    r.toString();
                    r.error();
                    r.dlerror();
                    if (r.ok()) {
                        r.root();
                        r.newObjects();
                        r.searchList();
                        if (data.consumeBoolean()) {
                            g.namespace().unload(r.newObjects());
                        }
                    }
                    g.namespace().findLoaded(pick(data, NAMES));
                }
            }
        } finally {
            delete(root);
        }
    }

    private static void inspect(DependencyGraph g) {
        for (LoadedLibrary l : g.objects()) {
            l.kind();
            l.names();
            l.path();
            l.foundBy();
            l.loader();
            l.soname();
            l.origin();
            l.searched();
            l.dependencies();
            l.toString();
        }
        g.missing().forEach(MissingLibrary::toString);
        g.missingNames();
        g.error().ifPresent(LoadError::describe);
        g.warnings();
        g.interpreter();
        g.complete();
    }

    /** Writes one candidate file; false when nothing was made (the name is taken). */
    private static boolean writeFile(FuzzedDataProvider data, Path root, Path p, List<String> written) throws IOException {
        if (Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        switch (data.consumeInt(0, 11)) {
            case 0 -> Files.write(p, data.consumeBytes(96));
            case 1 -> {
                byte[] b = lib(data, root);
                b[4] = 1; // ELFCLASS32
                Files.write(p, b);
            }
            case 2 -> {
                byte[] b = lib(data, root);
                b[18] = 3; // EM_386
                Files.write(p, b);
            }
            case 3 -> {
                byte[] b = lib(data, root);
                Files.write(p, java.util.Arrays.copyOf(b, data.consumeInt(0, b.length)));
            }
            case 4 -> Files.createDirectory(p);
            case 5 -> {
                String target = data.consumeBoolean() ? p.getFileName().toString()
                        : written.isEmpty() ? "missing.so" : root.resolve(written.get(data.consumeInt(0, written.size() - 1))).toString();
                try {
                    Files.createSymbolicLink(p, Path.of(target));
                } catch (FileAlreadyExistsException e) {
                    return false;
                }
            }
            case 6 -> {
                byte[] b = lib(data, root);
                b[16] = 1; // ET_REL
                Files.write(p, b);
            }
            default -> Files.write(p, lib(data, root));
        }
        return true;
    }

    private static byte[] lib(FuzzedDataProvider data, Path root) {
        MiniElf m = MiniElf.sharedObject();
        fill(m, data, root, data.consumeInt(0, 3));
        if (data.consumeBoolean()) {
            m.soname(data.consumeBoolean() ? pick(data, NAMES) : data.consumeAsciiString(12));
        }
        if (data.consumeInt(0, 7) == 0) {
            m.flags1(0x800); // DF_1_NODEFLIB
        }
        return m.build();
    }

    private static void fill(MiniElf m, FuzzedDataProvider data, Path root, int needed) {
        for (int i = 0; i < needed; i++) {
            m.needed(switch (data.consumeInt(0, 7)) {
                case 0 -> "$ORIGIN/" + pick(data, DIRS) + "/" + pick(data, NAMES);
                case 1 -> root.resolve(pick(data, DIRS)).resolve(pick(data, NAMES)).toString();
                case 2 -> pick(data, DIRS) + "/" + pick(data, NAMES);
                case 3 -> data.consumeAsciiString(16);
                case 4 -> "$LIB/" + pick(data, NAMES);
                default -> pick(data, NAMES);
            });
        }
        if (data.consumeBoolean()) {
            m.rpath(pathList(data, root));
        }
        if (data.consumeBoolean()) {
            m.runpath(pathList(data, root));
        }
    }

    private static String pathList(FuzzedDataProvider data, Path root) {
        int n = data.consumeInt(0, 4);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                sb.append(data.consumeInt(0, 7) == 0 ? ";" : ":");
            }
            sb.append(switch (data.consumeInt(0, 11)) {
                case 0 -> "$ORIGIN";
                case 1 -> "$ORIGIN/../" + pick(data, DIRS);
                case 2 -> "${ORIGIN}/" + pick(data, DIRS);
                case 3 -> root.resolve("$LIB").toString();
                case 4 -> root.resolve("sys/$PLATFORM").toString();
                case 5 -> "";
                case 6 -> pick(data, DIRS);
                case 7 -> "/nonexistent/" + pick(data, DIRS);
                case 8 -> data.consumeAsciiString(12);
                case 9 -> "$" + data.consumeAsciiString(6);
                default -> root.resolve(pick(data, DIRS)).toString();
            });
        }
        return sb.toString();
    }

    private static LdSoCache cache(FuzzedDataProvider data, Path root, List<String> written) {
        int kind = data.consumeInt(0, 3);
        if (kind == 0) {
            return LdSoCache.empty("no cache");
        }
        List<LdSoCacheImage.Entry> entries = new ArrayList<>();
        int n = data.consumeInt(0, 6);
        for (int i = 0; i < n; i++) {
            String path = written.isEmpty() || data.consumeBoolean() ? root.resolve(pick(data, DIRS)).resolve(pick(data, NAMES)).toString()
                    : root.resolve(written.get(data.consumeInt(0, written.size() - 1))).toString();
            long hwcap = data.consumeInt(0, 3) == 0 ? LdSoCache.HWCAP_EXTENSION | data.consumeInt(0, 2) : 0;
            entries.add(new LdSoCacheImage.Entry(pick(data, NAMES), path, data.consumeInt(0, 7) == 0 ? 0x3 : 0x303, hwcap));
        }
        LdSoCacheImage.Layout layout = LdSoCacheImage.Layout.values()[kind - 1];
        byte[] image = LdSoCacheImage.write(layout, entries, List.of("x86-64-v2", "x86-64-v3"), null);
        return LdSoCache.parse("fuzz.cache", java.nio.ByteBuffer.wrap(image), CpuHwcaps.host());
    }

    private static String pick(FuzzedDataProvider data, String[] from) {
        return from[data.consumeInt(0, from.length - 1)];
    }

    private static void delete(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
