package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.jdryad.search.HostObjects;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Same LD_DEBUG lines as glibc: each program runs natively with {@code LD_DEBUG=CATEGORIES} and
 * under {@code jdryad run --debug=CATEGORIES}, and the debug lines (those with glibc's pid
 * prefix) must be the same, blank lines included, once normalised:
 * <ul>
 * <li>the pid prefix is dropped; a link map's addresses become offsets from its base;</li>
 * <li>from glibc's side only, the lines about its own host objects that jdryad does not
 *     reproduce (README, --debug): the lookups made while relocating them (and the vDSO's),
 *     and a host library's dlopen and dlclose past its search and link map (its scopes,
 *     initialisers, finalisers), with the blank lines of the same messages; and the four lookups
 *     ld.so makes for its own allocator after relocating the program;</li>
 * <li>in a run of "symbol=" lines, repeats are dropped (glibc remembers only the previous
 *     relocation's lookup, jdryad every lookup of the object);</li>
 * <li>the finalisers glibc runs at exit are compared as a set: glibc runs those of objects
 *     dlopened and never closed after the program's own (README, known limits);</li>
 * <li>when a library is missing, jdryad maps nothing: glibc's link-map addresses are left out.</li>
 * </ul>
 * {@code --debug} is used rather than LD_DEBUG in the environment: the system loader would
 * apply LD_DEBUG to the launcher's bash too (README, known limits).
 */
@Tag("run")
class DebugDifferentialTest {
    private static final Pattern PREFIX = Pattern.compile("^ *(\\d+):\t(.*)$");
    private static final Pattern LINK_MAP = Pattern.compile(
            "^  dynamic: 0x(\\p{XDigit}+)  base: 0x(\\p{XDigit}+)   size: (0x\\p{XDigit}+)$");
    private static final Pattern ENTRY = Pattern.compile("^    entry: 0x(\\p{XDigit}+)  phdr: 0x(\\p{XDigit}+)  (phnum: .*)$");
    private static final Pattern SYMBOL = Pattern.compile("^symbol=(.*);  lookup in file=.*$");
    private static final List<String> RTLD_MALLOC = List.of("calloc", "free", "malloc", "realloc");
    private static final String RTLD = "/lib64/ld-linux-x86-64.so.2";

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        Path ls = Path.of("/usr/bin/ls");
        List<String> lsArgs = List.of("-l", "/usr/share/common-licenses");
        out.add(Arguments.of("ls libs,files", ls, lsArgs, "libs,files", false));
        out.add(Arguments.of("ls reloc,versions,scopes", ls, lsArgs, "reloc,versions,scopes", false));
        out.add(Arguments.of("ls symbols,reloc (bind now)", ls, lsArgs, "symbols,reloc", true));
        out.add(Arguments.of("ls unused,reloc", ls, lsArgs, "unused,reloc", false));
        Path python = Path.of("/usr/bin/python3.11");
        out.add(Arguments.of("python libs,files,scopes,reloc,versions", python, List.of("-c", "import json"),
                "libs,files,scopes,reloc,versions", false));
        Path dlopen = FixtureCatalog.dlopenProgram();
        List<String> plugin = List.of(FixtureCatalog.plugin().toString());
        out.add(Arguments.of("dlopen libs,files,scopes,reloc,versions", dlopen, plugin, "libs,files,scopes,reloc,versions",
                false));
        out.add(Arguments.of("dlopen symbols,reloc,files (bind now)", dlopen, plugin, "symbols,reloc,files", true));
        out.add(Arguments.of("dlopen RTLD_GLOBAL and a host library", FixtureCatalog.dlopenGlobalProgram(), plugin,
                "libs,files,scopes,reloc,versions", false));
        Path rpathChain = FixtureCatalog.dlopenRpathChainProgram();
        out.add(Arguments.of("dlopen's dependencies skip the caller's RPATH; their versions, scopes, relocation",
                rpathChain, List.of(rpathChain.resolveSibling("../other/librpath_chain_b.so").normalize().toString()),
                "libs,versions,scopes,reloc", false));
        out.add(Arguments.of("DT_SYMBOLIC library scopes,reloc", FixtureCatalog.neededProgram("fn",
                FixtureCatalog.libneededSymbolic()), List.of(), "scopes,reloc", false));
        out.add(Arguments.of("chain-rpath libs,files", FixtureCatalog.chainRpathProgram(), List.of(), "libs,files", false));
        out.add(Arguments.of("chain-runpath libs,files,versions", FixtureCatalog.chainRunpathProgram(), List.of(),
                "libs,files,versions", false));
        out.add(Arguments.of("missing library libs,files", FixtureCatalog.chainRunpathNotTransitiveProgram(), List.of(),
                "libs,files", false));
        out.add(Arguments.of("versions versions,reloc", FixtureCatalog.versionsProgram(), List.of(), "versions,reloc", false));
        out.add(Arguments.of("non-PIE files,reloc", FixtureCatalog.helloNoPie(), List.of(), "files,reloc", false));
        out.add(Arguments.of("bind-now object reloc", FixtureCatalog.helloNow(), List.of(), "reloc", false));
        out.add(Arguments.of("c++ libs,files,scopes,versions", FixtureCatalog.cxxProgram(), List.of(),
                "libs,files,scopes,versions", false));
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void jdryadPrintsWhatGlibcPrints(String name, Path program, List<String> args, String categories, boolean bindNow) {
        assumeTrue(Files.isExecutable(program), program + " is not installed");
        Map<String, String> env = new HashMap<>();
        if (bindNow) {
            env.put("LD_BIND_NOW", "1");
        }
        Map<String, String> nativeEnv = new HashMap<>(env);
        nativeEnv.put("LD_DEBUG", categories);
        assertSameDebugLines(name, Jdryad.runNative(program, args, nativeEnv, program.getParent()),
                Jdryad.runJdryad(List.of("--debug=" + categories), program, args, env, program.getParent()));
    }

    /** A preloaded library (glibc: LD_PRELOAD; jdryad: --preload, which the launcher's bash does not see). */
    @Test
    void preloadIsToldAsGlibcTellsIt() {
        Path program = FixtureCatalog.preloadProgram();
        String lib = FixtureCatalog.quietPreloadLibrary().toString();
        assertSameDebugLines("preload", Jdryad.runNative(program, List.of(), Map.of("LD_PRELOAD", lib, "LD_DEBUG",
                "libs,files,reloc"), program.getParent()), Jdryad.runJdryad(List.of("--preload", lib,
                "--debug=libs,files,reloc"), program, List.of(), Map.of(), program.getParent()));
    }

    static void assertSameDebugLines(String name, Result glibc, Result jdryad) {
        assertEquals(glibc.status(), jdryad.status(), jdryad::describe);
        List<String> expected = normalise(glibcOnly(debugLines(glibc.stderr())));
        if (glibc.status() == 127) {
            expected = withoutAddresses(expected); // jdryad maps nothing when a library is missing
        }
        List<String> actual = normalise(debugLines(jdryad.stderr()));
        assertTrue(expected.size() > 2, glibc::describe);
        assertEquals(String.join("\n", expected), String.join("\n", actual), name + ": the debug lines differ");
    }

    /** LD_DEBUG_OUTPUT: the lines go to FILE.PID, the program's pid, and none to stderr. */
    @Test
    void debugOutputGoesToFileDotPid(@TempDir Path dir) throws IOException {
        Path sh = Path.of("/bin/sh");
        List<String> args = List.of("-c", "echo $$");
        Result glibc = Jdryad.runNative(sh, args, Map.of("LD_DEBUG", "libs,files", "LD_DEBUG_OUTPUT",
                dir.resolve("glibc").toString()), dir);
        Result jdryad = Jdryad.runJdryad(List.of("--debug=libs,files", "--debug-output", dir.resolve("jdryad").toString()),
                sh, args, Map.of(), dir);
        assertEquals(0, jdryad.status(), jdryad::describe);
        assertTrue(debugLines(jdryad.stderr()).isEmpty(), jdryad::describe);
        String pid = jdryad.stdout().strip();
        Path file = dir.resolve("jdryad." + pid);
        assertTrue(Files.isRegularFile(file), () -> "no " + file + "\n" + jdryad.describe());
        String text = Files.readString(file);
        for (String line : text.split("\n")) {
            Matcher m = PREFIX.matcher(line);
            assertTrue(m.matches() && m.group(1).equals(pid), "not the program's pid: " + line);
        }
        Path glibcFile = dir.resolve("glibc." + glibc.stdout().strip());
        assertEquals(String.join("\n", normalise(glibcOnly(debugLines(Files.readString(glibcFile))))),
                String.join("\n", normalise(debugLines(text))));
    }

    /** statistics: glibc's lines, with jdryad's numbers (nanoseconds where glibc counts cycles). */
    @Test
    void statisticsHaveGlibcsLines() {
        Path program = FixtureCatalog.dlopenProgram();
        List<String> args = List.of(FixtureCatalog.plugin().toString());
        Result glibc = Jdryad.runNative(program, args, Map.of("LD_DEBUG", "statistics"), program.getParent());
        Result jdryad = Jdryad.runJdryad(List.of("--debug=statistics"), program, args, Map.of(), program.getParent());
        List<String> expected = new ArrayList<>();
        for (String l : debugLines(glibc.stderr())) {
            expected.add(l.replaceAll("\\d+ cycles", "N ns").replaceAll("[\\d.]+%", "P%").replaceAll(": \\d+$", ": N"));
        }
        List<String> actual = new ArrayList<>();
        for (String l : debugLines(jdryad.stderr())) {
            actual.add(l.replaceAll("\\d+ ns", "N ns").replaceAll("[\\d.]+%", "P%").replaceAll(": \\d+$", ": N"));
        }
        assertEquals(String.join("\n", expected), String.join("\n", actual), jdryad::describe);
    }

    /** The debug lines of a run's stderr, without the pid prefix. */
    private static List<String> debugLines(String stderr) {
        List<String> out = new ArrayList<>();
        for (String line : stderr.split("\n")) {
            Matcher m = PREFIX.matcher(line);
            if (m.matches()) {
                out.add(m.group(2));
            }
        }
        return out;
    }

    private static boolean isHost(String path) {
        String base = path.substring(path.lastIndexOf('/') + 1);
        return base.equals("linux-vdso.so.1") || base.equals("ld-linux-x86-64.so.2") || HostObjects.isHostSoname(base);
    }

    /** glibc's lines less those about its own host objects (and the messages' blank lines). */
    private static List<String> glibcOnly(List<String> all) {
        List<String> lines = dropRtldMallocLookups(all);
        // A host library that a host object dlopens itself (libc's NSS and gconv modules) is glibc's
        // business in the agent: its lines, from its "dynamically loaded" to its initialiser, and at
        // exit its finaliser, are not jdryad's. Host libraries the program dlopens, host objects a
        // jdryad dlopen brings, and the start-up ones are told by jdryad in glibc's order.
        Set<String> dlopenedHosts = new HashSet<>();
        Pattern root = Pattern.compile("^file=(\\S+) \\[0\\];  dynamically loaded by (\\S+) ");
        String inHostDlopen = null; // the root (a basename) of the host dlopen whose lines these are
        List<String> out = new ArrayList<>();
        boolean hostContext = true; // lookups before any relocation are the vDSO's
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            String subject = subjectOf(l);
            String base = subject == null ? null : subject.substring(subject.lastIndexOf('/') + 1);
            Matcher dlopened = root.matcher(l);
            if (dlopened.find() && isHost(dlopened.group(1)) && isHost(dlopened.group(2))) {
                String name = dlopened.group(1);
                inHostDlopen = name.substring(name.lastIndexOf('/') + 1);
                dlopenedHosts.add(inHostDlopen);
            }
            if (l.startsWith("relocation processing: ")) {
                hostContext = isHost(subject);
            } else if (!l.startsWith("symbol=") && !l.isEmpty()) {
                hostContext = false;
            }
            boolean told = subject != null && inHostDlopen == null && !dlopenedHosts.contains(base)
                    && (l.startsWith("calling init: ") || l.startsWith("calling fini: ")
                            || l.startsWith("relocation processing: ") || l.startsWith("object=")
                            || l.contains(" required by file ") || l.startsWith("opening file=")
                            || l.startsWith("closing file="));
            if (inHostDlopen != null && l.startsWith("calling init: ") && inHostDlopen.equals(base)) {
                inHostDlopen = null; // the host dlopen's last line (this one is dropped below)
            }
            if (subject == null || !isHost(subject) || told) {
                if (!(l.startsWith("symbol=") && hostContext)) {
                    out.add(l);
                }
                continue;
            }
            // "\ncalling init: H\n\n", "\nrelocation processing: H\n", "\nclosing file=H; ...\n": the
            // blank line before; "opening file=H [0]; ...\n\n" and "calling": the blank line after.
            boolean blankBefore = l.startsWith("calling ") || l.startsWith("relocation processing: ")
                    || l.startsWith("closing file=");
            boolean blankAfter = l.startsWith("calling ") || l.startsWith("opening file=");
            if (blankBefore && !out.isEmpty() && out.get(out.size() - 1).isEmpty()) {
                out.remove(out.size() - 1);
            }
            if (blankAfter && i + 1 < lines.size() && lines.get(i + 1).isEmpty()) {
                i++;
            }
            if (l.startsWith("object=")) {
                while (i + 1 < lines.size() && !lines.get(i).isEmpty()) {
                    i++; // "object=H [0]", its scopes, the blank line
                }
            }
        }
        return out;
    }

    /** Which object a line is about, when it is about one glibc might not share. */
    private static String subjectOf(String l) {
        Matcher m = Pattern.compile("^(?:calling init: |calling fini: |relocation processing: |object=|opening file=|closing file=)"
                + "([^\\s;]*)").matcher(l);
        if (m.find()) {
            return m.group(1);
        }
        m = Pattern.compile("required by file (\\S+) \\[0\\]$").matcher(l);
        return m.find() ? m.group(1) : null;
    }

    /** ld.so's lookups of calloc, free, malloc, realloc just before it relocates itself (__rtld_malloc_init_real). */
    private static List<String> dropRtldMallocLookups(List<String> lines) {
        int rtld = lines.indexOf("relocation processing: " + RTLD);
        if (rtld < 0) {
            rtld = lines.indexOf("relocation processing: " + RTLD + " (lazy)");
        }
        if (rtld < 1) {
            return lines;
        }
        int end = rtld - (lines.get(rtld - 1).isEmpty() ? 1 : 0);
        int start = end;
        for (int k = RTLD_MALLOC.size() - 1; k >= 0; k--) {
            int groupEnd = start;
            while (start > 0 && symbolOf(lines.get(start - 1)).equals(RTLD_MALLOC.get(k))) {
                start--;
            }
            if (start == groupEnd) {
                return lines;
            }
        }
        List<String> out = new ArrayList<>(lines.subList(0, start));
        out.addAll(lines.subList(end, lines.size()));
        return out;
    }

    private static String symbolOf(String l) {
        Matcher m = SYMBOL.matcher(l);
        return m.matches() ? m.group(1) : "";
    }

    /**
     * Addresses as offsets from the link map's base; repeats dropped within a run of lookups; the
     * finalisers glibc runs at exit (the lines after the last other line) sorted.
     */
    private static List<String> normalise(List<String> lines) {
        List<String> out = new ArrayList<>();
        long base = 0;
        LinkedHashSet<String> run = new LinkedHashSet<>();
        for (String l : lines) {
            if (l.startsWith("symbol=")) {
                run.add(l);
                continue;
            }
            out.addAll(run);
            run.clear();
            Matcher m = LINK_MAP.matcher(l);
            Matcher e = ENTRY.matcher(l);
            if (m.matches()) {
                base = Long.parseUnsignedLong(m.group(2), 16);
                l = "  dynamic: base+" + offset(m.group(1), base) + "  base: BASE   size: " + m.group(3);
            } else if (e.matches()) {
                l = "    entry: base+" + offset(e.group(1), base) + "  phdr: base+" + offset(e.group(2), base) + "  "
                        + e.group(3);
            }
            out.add(l);
        }
        out.addAll(run);
        int tail = out.size();
        while (tail > 0 && (out.get(tail - 1).isEmpty() || out.get(tail - 1).startsWith("calling fini: "))) {
            tail--;
        }
        List<String> finis = new ArrayList<>(out.subList(tail, out.size()));
        finis.sort(null);
        List<String> result = new ArrayList<>(out.subList(0, tail));
        result.addAll(finis);
        return result;
    }

    /** The lines without link maps' address lines (and the blank line after them). */
    private static List<String> withoutAddresses(List<String> lines) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith("  dynamic: ")) {
                i += 2;
            } else {
                out.add(lines.get(i));
            }
        }
        return out;
    }

    private static String offset(String hex, long base) {
        return "0x" + Long.toHexString(Long.parseUnsignedLong(hex, 16) - base);
    }
}
