package org.jdryad.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

/**
 * The ELF reader on fixtures compiled at test time (and a few system files), checked against
 * {@code readelf -W}: DT_NEEDED, DT_SONAME, DT_RPATH/DT_RUNPATH, the dynamic symbol count, every
 * symbol's version as readelf prints it, the version definitions and needs, relocation counts by
 * type (RELA, PLT and decoded RELR), and PT_TLS.
 */
class ElfReaderTest {

    /** The files compared with readelf: fixtures of every kind, plus system objects. */
    static Map<String, Path> files() {
        Map<String, Path> m = new LinkedHashMap<>();
        m.put("hello-pie", FixtureCatalog.helloPie());
        m.put("hello-nopie", FixtureCatalog.helloNoPie());
        m.put("hello-static", FixtureCatalog.helloStatic());
        m.put("hello-static-pie", FixtureCatalog.helloStaticPie());
        m.put("hello-relr", FixtureCatalog.helloRelr());
        m.put("hello-z-now", FixtureCatalog.helloNow());
        m.put("libver.so (versions)", FixtureCatalog.libver());
        m.put("libver.so (sysv+gnu hash)", ElfFixtures.libverBothHashes());
        m.put("libver.so (sysv hash only)", ElfFixtures.libverSysvHash());
        m.put("versions (needs VER_1, VER_2)", FixtureCatalog.versionsProgram());
        m.put("librelr.so (RELR)", FixtureCatalog.librelr());
        m.put("relr", FixtureCatalog.relrProgram());
        m.put("libtls_gd.so", FixtureCatalog.libtlsGd());
        m.put("libtls_ie.so", FixtureCatalog.libtlsIe());
        m.put("libtls_desc.so (TLSDESC)", FixtureCatalog.libtlsDesc());
        m.put("tls-pie", FixtureCatalog.tlsPie());
        m.put("tls-nopie", FixtureCatalog.tlsNoPie());
        m.put("chain-rpath (RPATH $ORIGIN)", FixtureCatalog.chainRpathProgram());
        m.put("chain-runpath (RUNPATH $ORIGIN)", FixtureCatalog.chainRunpathProgram());
        m.put("libchain_a.so (RUNPATH)", FixtureCatalog.chainA());
        m.put("chain-abs-rpath", FixtureCatalog.chainAbsoluteRpathProgram());
        m.put("copyreloc-nopie (COPY)", FixtureCatalog.copyRelocNoPie());
        m.put("ifunc-pie (IRELATIVE)", FixtureCatalog.ifuncPie());
        m.put("ifunc-nopie", FixtureCatalog.ifuncNoPie());
        m.put("libthrower.so (C++)", FixtureCatalog.libthrower());
        m.put("cxx", FixtureCatalog.cxxProgram());
        for (String sys : List.of("/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/lib64/ld-linux-x86-64.so.2", "/usr/bin/ls", "/usr/bin/sort")) {
            Path p = Path.of(sys);
            if (Files.isRegularFile(p)) {
                m.put(sys, p);
            }
        }
        return m;
    }

    @TestFactory
    Stream<DynamicTest> readerAgreesWithReadelf() {
        return files().entrySet().stream().map(e -> DynamicTest.dynamicTest(e.getKey(), () -> compare(e.getKey(), e.getValue())));
    }

    private static void compare(String name, Path file) throws Exception {
        Path real = file.toRealPath();
        try (ElfFile elf = ElfFile.open(real)) {
            String what = name + " (" + real + ")";
            String dyn = readelf("-dW", real);
            Optional<DynamicSection> d = elf.dynamic();
            assertEquals(dyn.contains("Dynamic section at offset"), d.isPresent(), what + ": has a dynamic section");

            // PT_TLS
            String phdrs = readelf("-lW", real);
            Matcher tls = Pattern.compile("(?m)^\\s*TLS\\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+) \\S+\\s+0x([0-9a-f]+)").matcher(phdrs);
            if (tls.find()) {
                ProgramHeader t = elf.tls().orElseThrow(() -> new AssertionError(what + ": PT_TLS not found"));
                assertEquals(Long.parseLong(tls.group(1), 16), t.offset(), what + ": PT_TLS offset");
                assertEquals(Long.parseLong(tls.group(2), 16), t.vaddr(), what + ": PT_TLS vaddr");
                assertEquals(Long.parseLong(tls.group(3), 16), t.filesz(), what + ": PT_TLS filesz");
                assertEquals(Long.parseLong(tls.group(4), 16), t.memsz(), what + ": PT_TLS memsz");
                assertEquals(Long.parseLong(tls.group(5), 16), t.align(), what + ": PT_TLS align");
            } else {
                assertTrue(elf.tls().isEmpty(), what + ": PT_TLS found where readelf has none");
            }
            Matcher interp = Pattern.compile("\\[Requesting program interpreter: (.*)\\]").matcher(phdrs);
            assertEquals(interp.find() ? Optional.of(interp.group(1)) : Optional.empty(), elf.interpreter(), what + ": PT_INTERP");
            assertEquals(count(phdrs, "(?m)^\\s*LOAD\\s"), elf.loadSegments().size(), what + ": PT_LOAD count");
            assertEquals(elf.relro().isPresent(), phdrs.contains("GNU_RELRO"), what + ": PT_GNU_RELRO");

            if (d.isEmpty()) {
                return;
            }
            DynamicSection ds = d.get();
            assertEquals(all(dyn, "\\(NEEDED\\)\\s+Shared library: \\[(.*)\\]"), ds.needed(), what + ": DT_NEEDED");
            assertEquals(first(dyn, "\\(SONAME\\)\\s+Library soname: \\[(.*)\\]"), ds.soname(), what + ": DT_SONAME");
            assertEquals(first(dyn, "\\(RPATH\\)\\s+Library rpath: \\[(.*)\\]"), ds.rpath(), what + ": DT_RPATH");
            assertEquals(first(dyn, "\\(RUNPATH\\)\\s+Library runpath: \\[(.*)\\]"), ds.runpath(), what + ": DT_RUNPATH");

            // Dynamic symbols, with versions as readelf prints them.
            String syms = readelf("--dyn-syms -W", real);
            Matcher cnt = Pattern.compile("Symbol table '\\.dynsym' contains (\\d+) entries").matcher(syms);
            if (cnt.find()) {
                int n = Integer.parseInt(cnt.group(1));
                SymbolTable st = ds.symbols();
                assertEquals(n, st.count(), what + ": dynamic symbol count");
                Map<Integer, String> expected = new TreeMap<>();
                Matcher row = Pattern.compile("(?m)^\\s*(\\d+): [0-9a-f]+\\s+\\d+ \\S+\\s+\\S+\\s+\\S+\\s+\\S+ ?(.*)$").matcher(syms);
                while (row.find()) {
                    expected.put(Integer.parseInt(row.group(1)), row.group(2).replaceAll(" \\(\\d+\\)$", "").strip());
                }
                Map<Integer, String> actual = new TreeMap<>();
                SymbolVersions v = ds.versions();
                for (int i = 0; i < st.count(); i++) {
                    actual.put(i, readelfName(st.get(i), v.versionOf(i)));
                }
                assertEquals(expected, actual, what + ": dynamic symbols and their versions");

                // Every defined, named symbol is found through the hash tables.
                for (int i = 1; i < st.count(); i++) {
                    Symbol s = st.get(i);
                    if (s.isUndefined() || s.name().isEmpty()) {
                        continue;
                    }
                    List<Integer> found = new ArrayList<>();
                    st.forEachNamed(s.name(), j -> {
                        found.add(j);
                        return true;
                    });
                    assertTrue(found.contains(i), what + ": symbol " + i + " " + s.name() + " not found by hash lookup: " + found);
                    assertEquals(s, st.get(i, s.name()), what + ": symbol " + i + " read by the name it was found by");
                }
            }

            // Version definitions and needs.
            String vers = readelf("-V -W", real);
            List<String> defs = all(vers, "(?m)^\\s*0x[0-9a-f]+: Rev: \\d+\\s+Flags: \\S+\\s+Index: \\d+\\s+Cnt: \\d+\\s+Name: (\\S+)");
            defs.addAll(0, all(vers, "(?m)^\\s*000000: Rev: \\d+\\s+Flags: \\S+\\s+Index: \\d+\\s+Cnt: \\d+\\s+Name: (\\S+)"));
            assertEquals(defs, ds.versions().definitions().stream().map(SymbolVersions.Definition::name).toList(),
                    what + ": version definitions");
            List<String> needs = new ArrayList<>();
            String needFile = null;
            for (String line : vers.lines().toList()) {
                Matcher f = Pattern.compile("^\\s*(?:0x)?[0-9a-f]+: Version: \\d+\\s+File: (\\S+)").matcher(line);
                Matcher n = Pattern.compile("^\\s*0x[0-9a-f]+:\\s+Name: (\\S+)\\s+Flags: .*Version: (\\d+)").matcher(line);
                if (f.find()) {
                    needFile = f.group(1);
                } else if (n.find()) {
                    needs.add(needFile + ":" + n.group(1) + ":" + n.group(2));
                }
            }
            assertEquals(needs, ds.versions().needs().stream().map(x -> x.file() + ":" + x.name() + ":" + x.index()).toList(),
                    what + ": version needs");

            // Relocations by type.
            String rel = readelf("-rW", real);
            Map<String, Integer> expectedRel = new TreeMap<>();
            Matcher r = Pattern.compile("(?m)^[0-9a-f]{16}\\s+[0-9a-f]{16}\\s+(R_X86_64_\\w+)").matcher(rel);
            while (r.find()) {
                expectedRel.merge(r.group(1), 1, Integer::sum);
            }
            Map<String, Integer> actualRel = new TreeMap<>();
            for (RelocationTable t : List.of(ds.rela(), ds.pltRela())) {
                for (long i = 0; i < t.count(); i++) {
                    actualRel.merge(Elf.relocationName(t.type(i)), 1, Integer::sum);
                    int sym = t.symbolIndex(i);
                    assertTrue(sym < ds.symbols().count(), what + ": relocation " + i + " names symbol " + sym
                            + ", beyond the symbol count " + ds.symbols().count());
                }
            }
            assertEquals(expectedRel, actualRel, what + ": relocations by type (RELA and JMPREL)");

            List<Long> expectedRelr = new ArrayList<>();
            Matcher relr = Pattern.compile("Relocation section '\\.relr\\.dyn'[^\\n]*\\n\\s*\\d+ offsets\\n((?:[0-9a-f]{16}\\n)*)").matcher(rel + "\n");
            if (relr.find()) {
                for (String line : relr.group(1).lines().toList()) {
                    expectedRelr.add(Long.parseUnsignedLong(line.strip(), 16));
                }
            }
            assertEquals(expectedRelr, Arrays.stream(ds.relrAddresses()).boxed().toList(), what + ": decoded DT_RELR addresses");
            assertEquals(dyn.contains("(RELR)"), ds.has(Elf.DT_RELR), what + ": DT_RELR");
        }
    }

    /** How readelf --dyn-syms -W names a symbol. */
    private static String readelfName(Symbol s, Optional<SymbolVersions.Version> v) {
        if (v.isEmpty()) {
            return s.name();
        }
        SymbolVersions.Version ver = v.get();
        if (s.isAbsolute() && s.name().equals(ver.name())) {
            return s.name(); // the symbol naming a version definition
        }
        if (s.isUndefined() || ver.file() != null) {
            return s.name() + "@" + ver.name(); // a needed version (DT_VERNEED): readelf writes one @
        }
        return s.name() + (ver.hidden() ? "@" : "@@") + ver.name();
    }

    @Test
    void identifiesFileKinds() throws Exception {
        try (ElfFile pie = ElfFile.open(FixtureCatalog.helloPie());
             ElfFile exe = ElfFile.open(FixtureCatalog.helloNoPie());
             ElfFile lib = ElfFile.open(FixtureCatalog.libver());
             ElfFile st = ElfFile.open(FixtureCatalog.helloStatic())) {
            assertEquals(Elf.ET_DYN, pie.type());
            assertTrue((pie.requireDynamic().flags1() & Elf.DF_1_PIE) != 0, "PIE has DF_1_PIE");
            assertEquals(Elf.ET_EXEC, exe.type());
            assertEquals(Elf.ET_DYN, lib.type());
            assertTrue(lib.interpreter().isEmpty());
            assertTrue(st.isStatic(), "a -static program is static");
            assertFalse(pie.isStatic());
            assertEquals(Elf.EM_X86_64, pie.machine());
            assertTrue(pie.buildId().isPresent(), "gcc on Debian emits a build-id");
            String id = readelf("-nW", pie.path());
            assertTrue(id.contains("Build ID: " + pie.buildId().get()), "build-id as readelf shows it");
        }
    }

    @Test
    void symbolVersionsOfTheVersionedLibrary() throws Exception {
        try (ElfFile lib = ElfFile.open(FixtureCatalog.libver())) {
            SymbolVersions v = lib.requireDynamic().versions();
            assertTrue(v.definesVersion("VER_1"));
            assertTrue(v.definesVersion("VER_2"));
            assertFalse(v.definesVersion("libver.so"), "the base definition is not a version");
            SymbolTable st = lib.requireDynamic().symbols();
            List<String> foo = new ArrayList<>();
            st.forEachNamed("foo", i -> {
                foo.add(v.versionOf(i).map(x -> (x.hidden() ? "@" : "@@") + x.name()).orElse(""));
                return true;
            });
            foo.sort(null);
            assertEquals(List.of("@@VER_2", "@VER_1"), foo);
        }
    }

    static String readelf(String options, Path file) {
        List<String> cmd = new ArrayList<>();
        cmd.add("readelf");
        cmd.addAll(List.of(options.split(" ")));
        cmd.add(file.toString());
        ProcessRunner.Result r = ProcessRunner.run(cmd, ProcessRunner.environment(Path.of("/"), Map.of()), Path.of("/"),
                Duration.ofSeconds(60));
        assertEquals(0, r.status(), r::describe);
        return r.stdout();
    }

    private static List<String> all(String text, String regex) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile(regex).matcher(text);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    private static Optional<String> first(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    private static int count(String text, String regex) {
        return all(text, "(" + regex + ")").size();
    }
}
