package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.jdryad.elf.ElfFile;
import org.jdryad.fixtures.ElfEdits;
import org.jdryad.fixtures.ElfEdits.Field;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Hostile programs and libraries end to end, through {@code jdryad run}, {@code jdryad ldd} and
 * {@code jdryad gdb -batch}, each against the system loader on the same file: a file glibc runs,
 * jdryad runs with the same output; a file glibc refuses in words, jdryad refuses in the same
 * words with status 127; a file glibc crashes on (SIGBUS, SIGSEGV, an assertion) or hangs on,
 * jdryad refuses in one clear line with status 127. Never a stack trace, a hang or an agent that
 * enters a half-prepared program. Every file is a copy of a fixture built at test time, edited
 * byte by byte ({@link ElfEdits}); the library cases put it next to {@code uses-fn} (RUNPATH
 * $ORIGIN) as its {@code libneeded.so}.
 */
@Tag("run")
class HostileProgramTest {
    // ------------------------------------------------------------------------------------------
    // Libraries

    @Test
    void truncatedLibraryIsRefused() {
        Path prog = withLibrary("truncated", ElfEdits.of(FixtureCatalog.libneeded()).truncate(1000).bytes());
        assertRefused(jdryad(prog), "extends past the end of the file");
        assertLddClean(prog, "extends past the end of the file");
        assertGdbRunRefused(prog, "extends past the end of the file");
    }

    @Test
    void overlappingSegmentsAreRefusedBeforeAnythingRuns() {
        ElfEdits lib = ElfEdits.of(FixtureCatalog.libneeded());
        long text = lib.load(1, Field.VADDR);
        Path prog = withLibrary("overlap", lib.load(2, Field.VADDR, text).load(2, Field.PADDR, text).bytes());
        assertRefused(jdryad(prog), "ELF load commands overlap");
        assertLddClean(prog, "");
        assertGdbRunRefused(prog, "ELF load commands overlap");
    }

    @Test
    void segmentsOverEachOtherAtAddressZeroAreRefused() {
        Path prog = withLibrary("over-first", ElfEdits.of(FixtureCatalog.libneeded()).load(1, Field.VADDR, 0).bytes());
        assertRefused(jdryad(prog), "ELF load commands overlap");
    }

    @Test
    void absurdButHarmlessAlignmentsRunAsUnderGlibc() {
        for (long align : new long[] {1L << 40, 3}) {
            Path prog = withLibrary("align-" + align,
                    ElfEdits.of(FixtureCatalog.libneeded()).load(0, Field.ALIGN, align).bytes());
            Result expected = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
            assertEquals(0, expected.status(), expected::describe);
            Jdryad.assertSameRun("p_align " + align, expected, jdryad(prog));
        }
    }

    /** glibc's open_verify cannot read a program header table past the end of the file. */
    @Test
    void programHeadersPastTheEndOfTheFileFailInGlibcsWords() {
        byte[] lib = ElfEdits.of(FixtureCatalog.libneeded()).bytes();
        Path prog = withLibrary("phoff-past-end", ElfEdits.of(lib).put(32, 8, lib.length - 100).bytes());
        assertSameRefusal(prog, "cannot read file data");
    }

    /** A PT_LOAD whose address and offset disagree modulo the page: glibc checks that before it maps. */
    @Test
    void loadCommandOffTheOffsetsPageFailsInGlibcsWords() {
        ElfEdits lib = ElfEdits.of(FixtureCatalog.libneeded());
        long vaddr = lib.load(3, Field.VADDR);
        Path prog = withLibrary("load-off-page", lib.load(3, Field.VADDR, vaddr + 8).load(3, Field.PADDR, vaddr + 8).bytes());
        assertSameRefusal(prog, "ELF load command address/offset not page-aligned");
    }

    /**
     * A p_align larger than what the segment's address and offset agree on (the data segment's
     * differ by a page; 2 MiB asked): glibc 2.36 maps it by the page, and so does jdryad (it refused it).
     */
    @Test
    void anAlignmentItsSegmentDoesNotKeepRunsAsUnderGlibc() {
        ElfEdits lib = ElfEdits.of(FixtureCatalog.libneeded());
        assertTrue(((lib.load(3, Field.VADDR) - lib.load(3, Field.OFFSET)) % 0x200000) != 0, "the fixture's data segment");
        Path prog = withLibrary("align-unkept", lib.load(3, Field.ALIGN, 0x200000).bytes());
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
        assertEquals(0, expected.status(), expected::describe);
        Jdryad.assertSameRun("p_align 2 MiB, unkept", expected, jdryad(prog));
    }

    @Test
    void alignmentBeyondTheAddressSpaceFailsInGlibcsWords() {
        Path prog = withLibrary("align-huge",
                ElfEdits.of(FixtureCatalog.libneeded()).load(1, Field.ALIGN, 1L << 62).bytes());
        assertSameRefusal(prog, "failed to map segment from shared object");
    }

    @Test
    void segmentLargerThanTheAddressSpaceFailsInGlibcsWords() {
        Path prog = withLibrary("memsz-huge",
                ElfEdits.of(FixtureCatalog.libneeded()).load(3, Field.MEMSZ, 0x7fff_ffff_ffffL).bytes());
        assertSameRefusal(prog, "failed to map segment from shared object");
    }

    @Test
    void badTlsSizesAreRefused() {
        Path tlsLib = FixtureCatalog.libtlsIe();
        String soname = tlsLib.getFileName().toString();
        Path tlsProg = FixtureCatalog.tlsPie();
        for (long memsz : new long[] {0x7fff_ffff_ffffL, 0x1_0000_0000L}) {
            Path dir = scratchCopy("tls-" + memsz, tlsProg);
            ElfEdits.of(tlsLib).segment(7, Field.MEMSZ, memsz).writeTo(dir.resolve(soname));
            Result r = jdryadIn(dir, dir.resolve(tlsProg.getFileName()), Map.of("LD_LIBRARY_PATH", dir.toString()));
            assertRefused(r, "cannot allocate memory in static TLS block");
        }
        Path dir = scratchCopy("tls-filesz", tlsProg);
        ElfEdits.of(tlsLib).segment(7, Field.FILESZ, 0x10000).writeTo(dir.resolve(soname));
        Result r = jdryadIn(dir, dir.resolve(tlsProg.getFileName()), Map.of("LD_LIBRARY_PATH", dir.toString()));
        assertRefused(r, "");
    }

    @Test
    void tlsAlignmentsThatAreNotPowersOfTwoRunAsUnderGlibc() {
        // glibc takes any PT_TLS p_align: its offsets round up by division and its first-byte
        // offset masks with p_align - 1, whatever that gives.
        Path tlsLib = FixtureCatalog.libtlsIe();
        String soname = tlsLib.getFileName().toString();
        Path tlsProg = FixtureCatalog.tlsPie();
        for (long align : new long[] {3, 24, 48}) {
            Path dir = scratchCopy("tls-align-" + align, tlsProg);
            ElfEdits.of(tlsLib).segment(7, Field.ALIGN, align).writeTo(dir.resolve(soname));
            Path prog = dir.resolve(tlsProg.getFileName());
            Map<String, String> env = Map.of("LD_LIBRARY_PATH", dir.toString());
            Result expected = Jdryad.runNative(prog, List.of(), env, dir);
            assertEquals(0, expected.status(), expected::describe);
            Jdryad.assertSameRun("PT_TLS p_align " + align, expected, jdryadIn(dir, prog, env));
        }
    }

    @Test
    void relocationOutsideItsObjectIsRefused() throws IOException {
        long at;
        try (ElfFile f = ElfFile.open(FixtureCatalog.libneeded())) {
            at = f.requireDynamic().rela().entryFileOffset(0);
        }
        for (long offset : new long[] {0x1000_0000L, 0xffff_ffff_ffff_0000L}) {
            Path prog = withLibrary("reloc-" + Long.toHexString(offset),
                    ElfEdits.of(FixtureCatalog.libneeded()).put((int) at, 8, offset).bytes());
            assertRefused(jdryad(prog), "lies outside the object's writable segments");
        }
    }

    @Test
    void libraryOfAnotherArchitectureIsPassedOverAsUnderGlibc() {
        for (int machine : new int[] {3, 183}) { // EM_386, EM_AARCH64
            Path prog = withLibrary("machine-" + machine,
                    ElfEdits.of(FixtureCatalog.libneeded()).put(18, 2, machine).bytes());
            assertSameRefusal(prog, "libneeded.so: cannot open shared object file: No such file or directory");
            assertLddSame(prog);
        }
        Path prog = withLibrary("class32", ElfEdits.of(FixtureCatalog.libneeded()).put(4, 1, 1).bytes());
        assertSameRefusal(prog, "libneeded.so: wrong ELF class: ELFCLASS32");
    }

    @Test
    void libraryThatIsADirectoryOrAFifoIsRefusedWithoutHanging() throws Exception {
        Path dir = scratchCopy("lib-dir", neededProgram());
        Files.createDirectory(dir.resolve("libneeded.so"));
        assertRefused(jdryad(dir.resolve("uses-fn")), "libneeded.so: cannot read file data: Is a directory");
        assertLddClean(dir.resolve("uses-fn"), "cannot read file data: Is a directory");

        Path fifoDir = scratchCopy("lib-fifo", neededProgram());
        mkfifo(fifoDir.resolve("libneeded.so"));
        // glibc's loader waits for a writer for ever; jdryad must not.
        assertRefused(jdryad(fifoDir.resolve("uses-fn")), "libneeded.so: cannot read file data: not a regular file");
        assertLddClean(fifoDir.resolve("uses-fn"), "not a regular file");
    }

    // ------------------------------------------------------------------------------------------
    // Programs

    @Test
    void programsGlibcRefusesGetGlibcsWords() {
        Path hello = FixtureCatalog.helloPie();
        Map<String, byte[]> cases = new java.util.LinkedHashMap<>();
        cases.put("truncated-30", ElfEdits.of(hello).truncate(30).bytes());
        cases.put("random", randomBytes(200));
        cases.put("text", "this is not a program at all\n".repeat(4).getBytes());
        cases.put("class32", ElfEdits.of(hello).put(4, 1, 1).bytes());
        cases.put("et-rel", ElfEdits.of(hello).put(16, 2, 1).bytes());
        cases.put("phentsize", ElfEdits.of(hello).put(54, 2, 32).bytes());
        for (Map.Entry<String, byte[]> c : cases.entrySet()) {
            Path dir = Fixtures.scratchDir("hostile-prog-" + c.getKey());
            Path prog = ElfEdits.of(c.getValue()).writeTo(dir.resolve(c.getKey()));
            Result expected = ldSo(prog);
            assertEquals(127, expected.status(), expected::describe);
            Result actual = jdryad(prog);
            assertEquals(expected.stderr(), actual.stderr(), () -> c.getKey() + "\n" + actual.describe());
            assertEquals(127, actual.status(), actual::describe);
            assertLddSame(prog);
        }
    }

    @Test
    void programOfAnotherArchitectureIsRefusedClearly() {
        for (int machine : new int[] {3, 183}) {
            Path dir = Fixtures.scratchDir("hostile-machine");
            Path prog = ElfEdits.of(FixtureCatalog.helloPie()).put(18, 2, machine).writeTo(dir.resolve("other-arch"));
            assertRefused(jdryad(prog), "ELF machine " + machine + " is not x86-64");
            assertLddSame(prog);
        }
    }

    @Test
    void truncatedProgramIsRefused() {
        Path dir = Fixtures.scratchDir("hostile-trunc-prog");
        Path prog = ElfEdits.of(FixtureCatalog.helloPie()).truncate(1000).writeTo(dir.resolve("trunc"));
        assertRefused(jdryad(prog), "extends past the end of the file");
        assertLddClean(prog, "extends past the end of the file");
    }

    @Test
    void programThatIsADirectoryOrAFifoIsRefusedWithoutHanging() throws Exception {
        Path dir = Fixtures.scratchDir("hostile-nonfile");
        Path sub = Files.createDirectory(dir.resolve("a-directory"));
        Path fifo = dir.resolve("a-fifo");
        mkfifo(fifo);
        for (Path p : List.of(sub, fifo)) {
            Result r = jdryad(p);
            assertFalse(r.timedOut(), r::describe);
            assertEquals(126, r.status(), r::describe); // as a shell: execve gives EACCES
            assertTrue(r.stderr().endsWith(": Permission denied\n"), r::describe);
            Result ldd = lddOf(p);
            assertFalse(ldd.timedOut(), ldd::describe);
            assertEquals("ldd: " + p + ": not regular file\n", ldd.stderr(), ldd::describe);
        }
    }

    @Test
    void programMappedAtAddressZeroRunsAsUnderGlibc() {
        // We run as root here, so mmap_min_addr does not stop the kernel (or jdryad).
        Path prog = Fixtures.program("at-zero", List.of("robust/at_address.c"), "-O1", "-no-pie", "-fno-pic",
                "-mcmodel=large", "-nostartfiles", "-Wl,--no-relax", "-Wl,-Ttext-segment=0x0");
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
        if (expected.status() == 0) {
            Jdryad.assertSameRun("ET_EXEC at 0", expected, jdryad(prog));
        } else {
            assertRefused(jdryad(prog), "");
        }
    }

    /** Under gdb ASLR is off, so the agent (a PIE) sits at 0x555555554000; so does this program. */
    @Test
    void programOverTheAgentUnderGdbIsRefusedClearly() {
        Path prog = Fixtures.program("at-agent", List.of("robust/at_address.c"), "-O1", "-no-pie", "-fno-pic",
                "-mcmodel=large", "-nostartfiles", "-Wl,--no-relax", "-Wl,-Ttext-segment=0x555555554000");
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
        assertEquals("at its address\n", expected.stdout(), expected::describe);
        Jdryad.assertSameRun("ET_EXEC at the agent's address, with ASLR", expected, jdryad(prog));
        Result gdb = GdbBatch.batch(List.of(), Map.of(), prog, List.of(), List.of("run"));
        String all = gdb.stdout() + gdb.stderr();
        assertTrue(all.contains("exited with code 0177"), gdb::describe);
        assertTrue(all.contains("cannot map") && all.contains("0x555555554000"), gdb::describe);
        assertNoStackTrace(gdb);
    }

    // ------------------------------------------------------------------------------------------
    // Dependency graphs

    @Test
    void cyclicDependenciesLoadOnceEachAsUnderGlibc() {
        Path stubB = Fixtures.sharedLibrary("libcycb.so", List.of("robust/cycle_b_stub.c"));
        Path a = Fixtures.sharedLibrary("libcyca.so", List.of("robust/cycle_a.c"), "-Wl,--no-as-needed", stubB.toString());
        Path b = Fixtures.sharedLibrary("libcycb.so", List.of("robust/cycle_b.c"), "-Wl,--no-as-needed", a.toString());
        Path prog = Fixtures.program("cycle-main", List.of("robust/cycle_main.c"), a.toString(), b.toString(),
                "-Wl,--enable-new-dtags,-rpath,$ORIGIN");
        Path dir = Fixtures.layout("cycle", Map.of("cycle-main", prog, "libcyca.so", a, "libcycb.so", b));
        Path p = dir.resolve("cycle-main");
        Result expected = Jdryad.runNative(p, List.of(), Map.of("LD_LIBRARY_PATH", dir.toString()), dir);
        assertEquals("cyc_ab()=12\n", expected.stdout(), expected::describe);
        Jdryad.assertSameRun("cycle", expected, Jdryad.runJdryad(List.of(), p, List.of(),
                Map.of("LD_LIBRARY_PATH", dir.toString()), dir));
        assertLddSame(p, Map.of("LD_LIBRARY_PATH", dir.toString()));
    }

    @Test
    void aChain500DeepLoadsAsUnderGlibc() {
        Path stub = Fixtures.sharedLibrary("libdeepXXX.so", List.of("robust/deep_lib.c"));
        Path template = Fixtures.sharedLibrary("libdeepYYY.so", List.of("robust/deep_lib.c"), "-Wl,--no-as-needed",
                stub.toString());
        Path prog = Fixtures.program("deep-main", List.of("robust/deep_main.c"), template.toString(),
                "-Wl,--disable-new-dtags,-rpath,$ORIGIN");
        Path dir = Fixtures.scratchDir("deep-chain");
        int depth = 500;
        for (int i = 0; i <= depth; i++) {
            ElfEdits.of(template).replaceString("libdeepYYY.so", String.format("libdeep%03d.so", i))
                    .replaceString("libdeepXXX.so", i < depth ? String.format("libdeep%03d.so", i + 1) : "libc.so.6")
                    .writeTo(dir.resolve(String.format("libdeep%03d.so", i)));
        }
        Path p = ElfEdits.of(prog).replaceString("libdeepYYY.so", "libdeep000.so").writeTo(dir.resolve("deep-main"));
        Result expected = Jdryad.runNative(p, List.of(), Map.of(), dir);
        assertEquals("deep_f()=7\n", expected.stdout(), expected::describe);
        Jdryad.assertSameRun("500-deep chain", expected, runLong(List.of("run", p.toString()), dir));
        assertLddSame(p);
    }

    @Test
    void twoThousandDirectDependenciesLoadAsUnderGlibc() {
        Path template = Fixtures.sharedLibrary("libwideYYYY.so", List.of("robust/deep_lib.c"));
        Path dir = Fixtures.scratchDir("wide");
        List<String> gcc = new ArrayList<>(List.of("gcc", "-o", "wide-main", Fixtures.source("robust/deep_main.c").toString(),
                "-Wl,--no-as-needed", "-Wl,--enable-new-dtags,-rpath,$ORIGIN"));
        for (int i = 0; i < 2000; i++) {
            String name = String.format("libwide%04d.so", i);
            ElfEdits.of(template).replaceString("libwideYYYY.so", name).writeTo(dir.resolve(name));
            gcc.add("./" + name);
        }
        Result link = ProcessRunner.run(gcc, ProcessRunner.environment(dir, Map.of()), dir, Duration.ofMinutes(3));
        assertEquals(0, link.status(), link::describe);
        Path p = dir.resolve("wide-main");
        Result expected = Jdryad.runNative(p, List.of(), Map.of(), dir);
        assertEquals("deep_f()=7\n", expected.stdout(), expected::describe);
        Jdryad.assertSameRun("2000 direct dependencies", expected, runLong(List.of("run", p.toString()), dir));
        assertLddSame(p);
    }

    // ------------------------------------------------------------------------------------------
    // Files that change

    /**
     * The library is replaced (renamed over) as soon as the agent process exists, that is after
     * jdryad parsed it and around when it maps it: the run either uses the file it parsed
     * (the agent checks device and inode at the mapping) or refuses in one line. Truncating the
     * file in place instead must not crash the JVM either.
     */
    @Test
    void libraryChangedBetweenParseAndMapIsUsedWholeOrRefused() throws Exception {
        for (String how : List.of("rename", "truncate")) {
            Path dir = scratchCopy("change-" + how, neededProgram());
            Path lib = dir.resolve("libneeded.so");
            Files.copy(FixtureCatalog.libneeded(), lib);
            Process p = startJdryad(List.of("run", dir.resolve("uses-fn").toString()), dir);
            waitForAgent(p);
            if (how.equals("rename")) {
                Path other = dir.resolve("libneeded.so.new");
                Files.copy(FixtureCatalog.libneededStripped(), other);
                Files.move(other, lib, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                try (var ch = java.nio.channels.FileChannel.open(lib, java.nio.file.StandardOpenOption.WRITE)) {
                    ch.truncate(100);
                }
            }
            Result r = finish(p, dir, Duration.ofSeconds(90));
            if (r.status() != 0) {
                assertNotEquals(-1, r.status(), r::describe);
                assertNoStackTrace(r);
                assertTrue(r.stderr().lines().count() <= 2 && !r.stderr().isBlank(), r::describe);
            } else {
                assertEquals("needed_fn(1)=2\n", r.stdout(), r::describe);
            }
        }
    }

    /** Replaced by rename while the program runs: it keeps what it mapped; a later dlopen reads the new file. */
    @Test
    void libraryReplacedWhileTheProgramRunsAsUnderGlibc() throws Exception {
        Path plug1 = Fixtures.sharedLibrary("libplug.so", List.of("robust/plug_v1.c"));
        Path plug2 = Fixtures.sharedLibrary("libplug.so", List.of("robust/plug_v2.c"));
        Path prog = Fixtures.program("replaced-main", List.of("robust/replaced_main.c"),
                FixtureCatalog.libneeded().toString(), "-ldl", "-Wl,--enable-new-dtags,-rpath,$ORIGIN");
        List<String> outputs = new ArrayList<>();
        for (boolean natively : new boolean[] {true, false}) {
            Path dir = scratchCopy("replaced-" + natively, prog);
            Files.copy(FixtureCatalog.libneeded(), dir.resolve("libneeded.so"));
            Files.copy(plug1, dir.resolve("libplug.so"));
            List<String> cmd = natively ? List.of(dir.resolve("replaced-main").toString(), "go")
                    : List.of("run", dir.resolve("replaced-main").toString(), "go");
            Process p = natively ? start(cmd, dir) : startJdryad(cmd, dir);
            waitForOutput(dir.resolve("out"), "before: 2\n");
            replace(FixtureCatalog.libneededStripped(), dir.resolve("libneeded.so"));
            replace(plug2, dir.resolve("libplug.so"));
            Files.createFile(dir.resolve("go"));
            Result r = finish(p, dir, Duration.ofSeconds(90));
            assertEquals(0, r.status(), r::describe);
            outputs.add(r.stdout());
        }
        assertEquals("before: 2\nafter: 2\nplug: 2\n", outputs.get(0));
        assertEquals(outputs.get(0), outputs.get(1));
    }

    // ------------------------------------------------------------------------------------------
    // Helpers

    private static Path neededProgram() {
        return FixtureCatalog.neededProgram("fn", null);
    }

    /** A scratch directory holding a copy of {@code prog} and, as libneeded.so, {@code lib}. */
    private static Path withLibrary(String name, byte[] lib) {
        Path dir = scratchCopy(name, neededProgram());
        ElfEdits.of(lib).writeTo(dir.resolve("libneeded.so"));
        return dir.resolve("uses-fn");
    }

    private static Path scratchCopy(String name, Path prog) {
        Path dir = Fixtures.scratchDir("hostile-" + name);
        try {
            Files.copy(prog, dir.resolve(prog.getFileName()), StandardCopyOption.COPY_ATTRIBUTES);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        return dir;
    }

    private static void replace(Path from, Path to) throws IOException {
        Path tmp = to.resolveSibling(to.getFileName() + ".new");
        Files.copy(from, tmp);
        Files.move(tmp, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    private static Result jdryad(Path prog) {
        return Jdryad.runJdryad(List.of(), prog, List.of(), Map.of(), prog.getParent());
    }

    private static Result jdryadIn(Path dir, Path prog, Map<String, String> env) {
        return Jdryad.runJdryad(List.of(), prog, List.of(), env, dir);
    }

    private static Result ldSo(Path prog) {
        return ProcessRunner.run(List.of("/lib64/ld-linux-x86-64.so.2", prog.toString()),
                ProcessRunner.environment(prog.getParent(), Map.of()), prog.getParent(), Duration.ofSeconds(30));
    }

    private static Result lddOf(Path prog) {
        return lddOf(prog, Map.of(), true);
    }

    private static Result lddOf(Path prog, Map<String, String> env, boolean jdryad) {
        Jdryad.ensureBuilt();
        List<String> cmd = jdryad ? List.of(Jdryad.launcher().toString(), "ldd", prog.toString())
                : List.of("ldd", prog.toString());
        Map<String, String> e = new HashMap<>(ProcessRunner.environment(prog.getParent(), env));
        e.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        return ProcessRunner.run(cmd, e, prog.getParent(), Duration.ofSeconds(240));
    }

    /** {@code ./jdryad WORDS...} with four minutes to finish (thousands of objects on a loaded machine). */
    private static Result runLong(List<String> words, Path dir) {
        Jdryad.ensureBuilt();
        List<String> cmd = new ArrayList<>(List.of(Jdryad.launcher().toString()));
        cmd.addAll(words);
        Map<String, String> e = new HashMap<>(ProcessRunner.environment(dir, Map.of()));
        e.put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        return ProcessRunner.run(cmd, e, dir, Duration.ofMinutes(4));
    }

    /** One clear line, status 127, containing {@code words}; no stack trace, no hang. */
    static void assertRefused(Result r, String words) {
        assertFalse(r.timedOut(), r::describe);
        assertEquals(127, r.status(), r::describe);
        assertEquals(1, r.stderr().lines().count(), r::describe);
        assertTrue(r.stderr().contains(words), () -> "expected [" + words + "]\n" + r.describe());
        assertTrue(r.stderr().startsWith(r.command().get(r.command().size() - 1) + ": ")
                || r.stderr().startsWith("jdryad: "), r::describe);
        assertEquals("", r.stdout(), r::describe);
        assertNoStackTrace(r);
    }

    static void assertNoStackTrace(Result r) {
        String all = r.stdout() + r.stderr();
        assertFalse(all.contains("Exception") || all.contains("\tat org.") || all.contains("Error:"), r::describe);
    }

    /** glibc and jdryad both refuse with status 127 and the same words (object names aside). */
    private static void assertSameRefusal(Path prog, String words) {
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), prog.getParent());
        assertEquals(127, expected.status(), expected::describe);
        assertTrue(expected.stderr().contains(words), expected::describe);
        Result actual = jdryad(prog);
        assertRefused(actual, words);
        String dir = Pattern.quote(prog.getParent().toString() + "/");
        assertEquals(expected.stderr().replaceAll(dir, ""), actual.stderr().replaceAll(dir, ""), actual::describe);
    }

    /** jdryad ldd ends, with no stack trace, and says why when it fails (on stdout, as ldd does for ld.so's words). */
    private static void assertLddClean(Path prog, String words) {
        Result r = lddOf(prog);
        assertFalse(r.timedOut(), r::describe);
        assertTrue(r.status() == 0 || r.status() == 1, r::describe);
        assertTrue(r.status() == 0 || (r.stdout() + r.stderr()).contains(words), r::describe);
        assertNoStackTrace(r);
    }

    private static void assertLddSame(Path prog) {
        assertLddSame(prog, Map.of());
    }

    /** jdryad ldd prints what ldd prints (addresses aside) and exits with its status. */
    private static void assertLddSame(Path prog, Map<String, String> env) {
        Result expected = lddOf(prog, env, false);
        Result actual = lddOf(prog, env, true);
        String addr = " \\(0x[0-9a-f]+\\)";
        assertEquals(expected.stdout().replaceAll(addr, ""), actual.stdout().replaceAll(addr, ""), actual::describe);
        assertEquals(expected.stderr(), actual.stderr(), actual::describe);
        assertEquals(expected.status(), actual.status(), actual::describe);
    }

    /** Under {@code jdryad gdb -batch -ex run}: the run's process says why and exits 127; the session ends. */
    private static void assertGdbRunRefused(Path prog, String words) {
        Result r = GdbBatch.batch(List.of(), Map.of(), prog, List.of(), List.of("run"));
        String all = r.stdout() + r.stderr();
        assertTrue(all.contains(words), () -> "expected [" + words + "]\n" + r.describe());
        assertTrue(all.contains("exited with code 0177"), r::describe);
        assertNoStackTrace(r);
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new java.util.Random(10).nextBytes(b);
        b[0] = 'x'; // never "#!" or "\177ELF"
        return b;
    }

    private static void mkfifo(Path p) throws Exception {
        Process mk = new ProcessBuilder("mkfifo", p.toString()).inheritIO().start();
        assertEquals(0, mk.waitFor());
    }

    private static Process startJdryad(List<String> words, Path dir) throws IOException {
        Jdryad.ensureBuilt();
        List<String> cmd = new ArrayList<>(List.of(Jdryad.launcher().toString()));
        cmd.addAll(words);
        return start(cmd, dir);
    }

    /** Starts {@code cmd} in {@code dir} with stdout to {@code dir/out}, stderr to {@code dir/err}. */
    private static Process start(List<String> cmd, Path dir) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dir.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(dir.resolve("out").toFile()).redirectError(dir.resolve("err").toFile());
        pb.environment().clear();
        pb.environment().putAll(ProcessRunner.environment(dir, Map.of()));
        pb.environment().put("JDRYAD_BUILD_DIR", Jdryad.launcherBuildDir().toString());
        return pb.start();
    }

    private static void waitForAgent(Process p) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline && p.isAlive()) {
            boolean agent = p.toHandle().descendants()
                    .anyMatch(h -> h.info().command().map(c -> c.contains("jdryad-agent")).orElse(false));
            if (agent) {
                return;
            }
            Thread.sleep(2);
        }
    }

    private static void waitForOutput(Path out, String text) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (Files.exists(out) && Files.readString(out).contains(text)) {
                return;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no [" + text + "] in " + out + " within 60 s");
    }

    /** Waits for a process {@link #start}ed in {@code dir} and reads what it wrote. */
    private static Result finish(Process p, Path dir, Duration timeout) throws Exception {
        boolean done = p.waitFor(timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        if (!done) {
            ProcessRunner.killTree(p.toHandle());
            p.waitFor();
        }
        return new Result(List.of(p.info().commandLine().orElse("?")), Files.readString(dir.resolve("out")),
                Files.readString(dir.resolve("err")), done ? p.exitValue() : -1, !done, Duration.ZERO);
    }
}
