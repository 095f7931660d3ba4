package org.jdryad.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Library search on small programs and libraries compiled with gcc at test time, checked against the system ldd. */
class LibrarySearchTest {
    @TempDir
    static Path dir;

    static void gcc(String... args) throws IOException, InterruptedException {
        SearchTestSupport.gcc(dir, args);
    }

    @BeforeAll
    static void build() throws Exception {
        Assumptions.assumeTrue(new ProcessBuilder("gcc", "--version").start().waitFor() == 0, "no gcc");
        Files.writeString(dir.resolve("x.c"), "int x(void){return 1;}\n");
        Files.writeString(dir.resolve("p.c"), "int p(void){return 2;}\n");
        Files.writeString(dir.resolve("m.c"), "int main(void){return 0;}\n");
        for (String d : List.of("a", "b", "o/lib", "pre")) {
            Files.createDirectories(dir.resolve(d));
        }
        gcc("-shared", "-fPIC", "-o", "a/libx.so", "x.c");
        gcc("-shared", "-fPIC", "-o", "b/libx.so", "x.c");
        gcc("-shared", "-fPIC", "-o", "o/lib/libx.so", "x.c");
        gcc("-shared", "-fPIC", "-o", "pre/libp.so", "p.c");
        String nn = "-Wl,--no-as-needed";
        gcc("-o", "rpath", "m.c", nn, "-La", "-lx", "-Wl,--disable-new-dtags", "-Wl,-rpath," + dir.resolve("a"));
        gcc("-o", "runpath", "m.c", nn, "-La", "-lx", "-Wl,--enable-new-dtags", "-Wl,-rpath," + dir.resolve("a"));
        gcc("-o", "o/origin", "m.c", nn, "-La", "-lx", "-Wl,-rpath,$ORIGIN/lib");
        gcc("-o", "missing", "m.c", nn, "-La", "-lx", "-Wl,--enable-new-dtags", "-Wl,-rpath," + dir.resolve("nowhere"));
        // A library with RPATH needed through one with RUNPATH: its loader's RPATH is not used.
        gcc("-shared", "-fPIC", "-o", "b/libmid.so", "p.c", nn, "-La", "-lx", "-Wl,--enable-new-dtags",
                "-Wl,-rpath," + dir.resolve("b"));
        gcc("-o", "chain", "m.c", nn, "-Lb", "-lmid", "-Wl,--disable-new-dtags",
                "-Wl,-rpath," + dir.resolve("b") + ":" + dir.resolve("a"));
    }

    static DependencyGraph resolve(String prog, String llp, String preload) throws IOException {
        SearchConfig c = SearchConfig.builder().libraryPath(llp).preload(preload).preloadFile(null)
                .workingDirectory(dir).build();
        return new LibrarySearch(c).resolve(dir.resolve(prog));
    }

    static LoadedLibrary find(DependencyGraph g, String name) {
        return g.objects().stream().filter(l -> l.names().contains(name)).findFirst().orElseThrow();
    }

    @Test
    void rpathComesBeforeLdLibraryPath() throws Exception {
        try (DependencyGraph g = resolve("rpath", dir.resolve("b").toString(), null)) {
            LoadedLibrary x = find(g, "libx.so");
            assertEquals(dir.resolve("a") + "/libx.so", x.path());
            assertEquals(FoundBy.RPATH, x.foundBy());
            assertFalse(x.host());
            assertTrue(find(g, "libc.so.6").host());
            assertEquals(FoundBy.LD_SO_CACHE, find(g, "libc.so.6").foundBy());
        }
    }

    @Test
    void ldLibraryPathComesBeforeRunpath() throws Exception {
        try (DependencyGraph g = resolve("runpath", dir.resolve("b").toString(), null)) {
            LoadedLibrary x = find(g, "libx.so");
            assertEquals(dir.resolve("b") + "/libx.so", x.path());
            assertEquals(FoundBy.LD_LIBRARY_PATH, x.foundBy());
        }
        try (DependencyGraph g = resolve("runpath", null, null)) {
            assertEquals(FoundBy.RUNPATH, find(g, "libx.so").foundBy());
        }
    }

    @Test
    void originExpands() throws Exception {
        try (DependencyGraph g = resolve("o/origin", null, null)) {
            LoadedLibrary x = find(g, "libx.so");
            assertEquals(dir.resolve("o") + "/lib/libx.so", x.path());
            assertEquals(FoundBy.RUNPATH, x.foundBy());
        }
    }

    @Test
    void runpathObjectDoesNotUseItsLoadersRpath() throws Exception {
        // chain (RPATH b:a) -> libmid (RUNPATH b) -> libx: libmid has RUNPATH, so no RPATH at all;
        // libx is then not found in a/ through the program's RPATH but via libmid's RUNPATH b/.
        try (DependencyGraph g = resolve("chain", null, null)) {
            LoadedLibrary mid = find(g, "libmid.so");
            assertEquals(FoundBy.RPATH, mid.foundBy());
            LoadedLibrary x = find(g, "libx.so");
            assertEquals(dir.resolve("b") + "/libx.so", x.path());
            assertEquals(FoundBy.RUNPATH, x.foundBy());
            assertEquals(mid, x.loader().orElseThrow());
        }
    }

    /**
     * A NUL in a name or a directory (no C string holds one, but the search's API takes Java
     * strings) names no file: the long fuzzing campaign found such names throwing
     * InvalidPathException out of the search (13 crash inputs, one cause).
     */
    @Test
    void namesAndDirectoriesWithANulAreFoundNowhere() throws Exception {
        String llp = dir.resolve("pre") + "\0x:" + dir.resolve("pre") + ":rel\0dir";
        try (DependencyGraph g = resolve("runpath", llp, "lib\0p.so libp.so")) {
            assertEquals(dir.resolve("pre") + "/libp.so", find(g, "libp.so").path());
            assertEquals(List.of("ERROR: ld.so: object 'lib\0p.so' from LD_PRELOAD cannot be preloaded "
                    + "(cannot open shared object file): ignored."), g.warnings());
            assertEquals(dir.resolve("a") + "/libx.so", find(g, "libx.so").path());
        }
    }

    @Test
    void preloadsComeRightAfterTheProgram() throws Exception {
        String pre = dir.resolve("pre/libp.so") + " libnope.so";
        try (DependencyGraph g = resolve("runpath", null, pre)) {
            List<GraphEntry> order = g.loadOrder();
            assertEquals(g.executable(), order.get(0));
            LoadedLibrary p = (LoadedLibrary) order.get(1);
            assertTrue(p.preloaded());
            assertEquals(FoundBy.DIRECT, p.foundBy());
            assertEquals(List.of("ERROR: ld.so: object 'libnope.so' from LD_PRELOAD cannot be preloaded "
                    + "(cannot open shared object file): ignored."), g.warnings());
        }
        // Colon-separated, found through LD_LIBRARY_PATH.
        try (DependencyGraph g = resolve("runpath", dir.resolve("pre").toString(), "libp.so:libx.so")) {
            assertEquals(List.of("libp.so", "libx.so"), g.loadOrder().subList(1, 3).stream().map(GraphEntry::name)
                    .collect(Collectors.toList()));
            assertEquals(FoundBy.LD_LIBRARY_PATH, find(g, "libp.so").foundBy());
        }
    }

    @Test
    void missingLibraryListsWhereItLooked() throws Exception {
        Files.deleteIfExists(dir.resolve("gone.so"));
        try (DependencyGraph g = resolve("missing", "/nonexistent-llp", null)) {
            List<MissingLibrary> m = g.missing();
            assertEquals(1, m.size());
            assertEquals("libx.so", m.get(0).name());
            List<String> where = m.get(0).searched().stream().map(SearchDirectory::location).collect(Collectors.toList());
            List<String> expected = new ArrayList<>(List.of("/nonexistent-llp/", dir.resolve("nowhere") + "/", "/etc/ld.so.cache"));
            expected.addAll(SearchConfig.DEBIAN_SYSTEM_DIRS);
            assertEquals(expected, where);
            assertEquals(FoundBy.RUNPATH, m.get(0).searched().get(1).source());
        }
    }

    @Test
    void secureModeIgnoresLdLibraryPathAndSlashPreloads() throws Exception {
        SearchConfig c = SearchConfig.builder().libraryPath(dir.resolve("b").toString()).secure(true)
                .preload(dir.resolve("pre/libp.so").toString()).preloadFile(null).workingDirectory(dir).build();
        try (DependencyGraph g = new LibrarySearch(c).resolve(dir.resolve("runpath"))) {
            assertEquals(FoundBy.RUNPATH, find(g, "libx.so").foundBy());
            assertTrue(g.objects().stream().noneMatch(LoadedLibrary::preloaded));
        }
    }

    /** The same answers as the system ldd for the fixtures, with and without LD_LIBRARY_PATH. */
    @Test
    void agreesWithSystemLdd() throws Exception {
        for (String prog : List.of("rpath", "runpath", "o/origin", "missing", "chain")) {
            for (String llp : new String[] {null, dir.resolve("b").toString()}) {
                List<String> theirs = systemLdd(prog, llp);
                List<String> ours;
                try (DependencyGraph g = resolve(prog, llp, null)) {
                    ours = new ArrayList<>();
                    for (GraphEntry e : g.loadOrder().subList(1, g.loadOrder().size())) {
                        if (e instanceof LoadedLibrary l && l.kind() == LoadedLibrary.Kind.LIBRARY) {
                            ours.add(l.name() + " => " + l.path());
                        } else if (e instanceof MissingLibrary mm) {
                            ours.add(mm.name() + " => not found");
                        }
                    }
                }
                assertEquals(theirs, ours, prog + " LD_LIBRARY_PATH=" + llp);
            }
        }
    }

    static List<String> systemLdd(String prog, String llp) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("ldd", dir.resolve(prog).toString());
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.startsWith("LD_"));
        if (llp != null) {
            env.put("LD_LIBRARY_PATH", llp);
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        List<String> lines = new ArrayList<>();
        for (String l : out.split("\n")) {
            String t = l.trim().replaceAll(" \\(0x[0-9a-f]+\\)$", "");
            if (t.contains("=>")) {
                lines.add(t);
            }
        }
        return lines;
    }
}
