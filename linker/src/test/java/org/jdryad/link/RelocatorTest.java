package org.jdryad.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.LongUnaryOperator;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.link.LinkTestSupport.DynSym;
import org.jdryad.link.LinkTestSupport.Reloc;
import org.jdryad.link.LinkTestSupport.Segment;
import org.junit.jupiter.api.Test;

/**
 * The Relocator through {@link LinkSession#mapAll()} / {@link LinkSession#relocateAll()} on the
 * in-memory {@link FakeMemory}, with glibc's libc and ld.so as host objects at fixed fake bases.
 * Every word written is checked against a value computed here from {@code readelf -rW},
 * {@code readelf --dyn-syms -W} and the bases, not from jdryad's ELF reader.
 */
class RelocatorTest {
    private static final long TLS_GET_ADDR_AGENT = 0x7fa0_0000_2000L;
    private static final Map<String, Long> INTERPOSERS = Map.of("__tls_get_addr", TLS_GET_ADDR_AGENT);
    /** Host IFUNC resolvers "return" their own address plus this. */
    private static final long IFUNC_DELTA = 0x10;
    private static final LongUnaryOperator IFUNC = f -> f + IFUNC_DELTA;

    private final Map<Path, List<DynSym>> symbols = new HashMap<>();

    private List<DynSym> syms(LoadedObject o) {
        return symbols.computeIfAbsent(o.path(), LinkTestSupport::dynamicSymbols);
    }

    /** The first definition of name@version in scope order, as readelf shows the files. */
    private Optional<Map.Entry<LoadedObject, DynSym>> define(List<LoadedObject> scope, String name, String version) {
        for (LoadedObject o : scope) {
            Optional<DynSym> d = LinkTestSupport.definition(syms(o), name, version);
            if (d.isPresent()) {
                return Optional.of(Map.entry(o, d.get()));
            }
        }
        return Optional.empty();
    }

    /**
     * Checks every relocation of {@code obj} (readelf) against the fake memory; returns the types seen.
     * Symbols in {@code overrides} are expected at the given values instead (canonical PLT cases).
     */
    private Set<String> verify(LoadedObject obj, List<LoadedObject> scope, FakeMemory mem, Map<String, Long> overrides) {
        Set<String> types = new TreeSet<>();
        long base = obj.base();
        for (Reloc r : LinkTestSupport.relocations(obj.path())) {
            long site = base + r.offset();
            long expected;
            switch (r.type()) {
                case "RELR" -> expected = base + LinkTestSupport.fileWord(obj.path(), r.offset());
                case "R_X86_64_RELATIVE" -> expected = base + r.addend();
                case "R_X86_64_GLOB_DAT", "R_X86_64_JUMP_SLOT", "R_X86_64_64" -> {
                    long add = r.addend();
                    if (overrides.containsKey(r.name() + "/" + r.type())) {
                        expected = overrides.get(r.name() + "/" + r.type()) + add;
                        break;
                    }
                    var def = define(scope, r.name(), r.version());
                    if (def.isEmpty()) {
                        DynSym ref = syms(obj).stream().filter(s -> s.name().equals(r.name())).findFirst().orElseThrow();
                        assertEquals("WEAK", ref.bind(), obj + ": " + r.symbol() + " is undefined but not weak");
                        expected = add; // an undefined weak symbol is 0
                        break;
                    }
                    LoadedObject definer = def.get().getKey();
                    DynSym s = def.get().getValue();
                    long addr = definer.base() + s.value();
                    if (definer.isHost() && INTERPOSERS.containsKey(r.name())) {
                        addr = INTERPOSERS.get(r.name());
                    } else if (s.type().equals("IFUNC")) {
                        addr = IFUNC.applyAsLong(addr);
                    }
                    expected = addr + add;
                }
                case "R_X86_64_TPOFF64" -> {
                    if (r.symbol() == null) {
                        expected = r.addend() - obj.tlsOffset();
                    } else {
                        var def = define(scope, r.name(), r.version()).orElseThrow();
                        expected = def.getValue().value() + r.addend() - def.getKey().tlsOffset();
                    }
                }
                case "R_X86_64_DTPMOD64" -> expected = r.symbol() == null ? obj.tlsModuleId()
                        : define(scope, r.name(), r.version()).orElseThrow().getKey().tlsModuleId();
                case "R_X86_64_DTPOFF64" -> expected = r.symbol() == null ? r.addend()
                        : define(scope, r.name(), r.version()).orElseThrow().getValue().value() + r.addend();
                default -> throw new AssertionError("test does not know " + r);
            }
            Long written = mem.wordWritten(site);
            assertNotNull(written, obj + ": nothing written for " + r);
            assertEquals(expected, written.longValue(), obj + ": " + r + String.format(" wrote 0x%x, expected 0x%x", written, expected));
            assertEquals(expected, mem.u64(site), obj + ": memory at the site of " + r);
            types.add(r.type());
        }
        return types;
    }

    private static void assertRelroReadOnly(LoadedObject o, FakeMemory mem) {
        Optional<Segment> relro = LinkTestSupport.segments(o.path()).stream().filter(s -> s.type().equals("GNU_RELRO")).findFirst();
        if (relro.isPresent()) {
            long s = (o.base() + relro.get().vaddr()) & -FakeMemory.PAGE;
            long e = (o.base() + relro.get().vaddr() + relro.get().memsz()) & -FakeMemory.PAGE;
            for (long a = s; a < e; a += FakeMemory.PAGE) {
                assertEquals(TargetMemory.PROT_READ, mem.protAt(a), o + ": RELRO page 0x" + Long.toHexString(a));
            }
        }
    }

    @Test
    void everyRelocationTypeOfTheFixtureLibraryIsWhatReadelfImplies() {
        FakeMemory mem = new FakeMemory().onCall(IFUNC);
        List<String> warnings = new ArrayList<>();
        LinkSession s = LinkTestSupport.session(mem, INTERPOSERS, 8192, new org.jdryad.debug.BindingHistory(), warnings);
        LoadedObject rel = LinkTestSupport.object(FixtureCatalog.linkLibRel(), 0);
        LoadedObject dep = LinkTestSupport.object(FixtureCatalog.linkLibRdep(), 1);
        List<LoadedObject> scope = List.of(rel, dep, LinkTestSupport.libc(2), LinkTestSupport.ldso(3));
        s.setObjects(scope);
        s.mapAll();
        s.relocateAll();

        Set<String> types = verify(rel, scope, mem, Map.of());
        assertTrue(types.containsAll(List.of("RELR", "R_X86_64_RELATIVE", "R_X86_64_GLOB_DAT", "R_X86_64_JUMP_SLOT",
                "R_X86_64_64", "R_X86_64_TPOFF64", "R_X86_64_DTPMOD64", "R_X86_64_DTPOFF64")),
                "fixture covers every type: " + types);
        verify(dep, scope, mem, Map.of());
        assertTrue(warnings.isEmpty(), warnings.toString());
        s.protectAll();
        assertRelroReadOnly(rel, mem);
        assertRelroReadOnly(dep, mem);
    }

    @Test
    void undefinedWeakReferencesAreZero() {
        FakeMemory mem = new FakeMemory().onCall(IFUNC);
        LinkSession s = LinkTestSupport.session(mem, INTERPOSERS, 8192, null, new ArrayList<>());
        LoadedObject rel = LinkTestSupport.object(FixtureCatalog.linkLibRel(), 0);
        LoadedObject dep = LinkTestSupport.object(FixtureCatalog.linkLibRdep(), 1);
        s.setObjects(List.of(rel, dep, LinkTestSupport.libc(2), LinkTestSupport.ldso(3)));
        s.mapAll();
        s.relocateAll();
        int seen = 0;
        for (Reloc r : LinkTestSupport.relocations(rel.path())) {
            if ("missing_weak".equals(r.name()) || "missing_weak_fn".equals(r.name())) {
                assertEquals(0L, mem.wordWritten(rel.base() + r.offset()), r.toString());
                seen++;
            }
        }
        assertEquals(2, seen, "fixture: an R_X86_64_64 and a GLOB_DAT against undefined weak symbols");
    }

    @Test
    void undefinedSymbolIsGlibcsSymbolLookupError() {
        Path lib = FixtureCatalog.linkLibUndef();
        LinkSession s = LinkTestSupport.session(new FakeMemory().onCall(IFUNC), INTERPOSERS, 8192, null, new ArrayList<>());
        s.setObjects(List.of(LinkTestSupport.object(lib, 0), LinkTestSupport.libc(1), LinkTestSupport.ldso(2)));
        s.mapAll();
        LinkException e = assertThrows(LinkException.class, s::relocateAll);
        assertEquals("symbol lookup error: " + lib + ": undefined symbol: undef_fn", e.getMessage());
    }

    @Test
    void undefinedVersionedSymbolNamesTheVersion() {
        Path lib = FixtureCatalog.linkLibVersionedUndef();
        assertTrue(LinkTestSupport.relocations(lib).stream().anyMatch(r -> "foo@V2".equals(r.symbol())),
                "fixture: the reference is foo@V2");
        LinkSession s = LinkTestSupport.session(new FakeMemory().onCall(IFUNC), INTERPOSERS, 8192, null, new ArrayList<>());
        s.setObjects(List.of(LinkTestSupport.object(lib, 0), LinkTestSupport.libc(1), LinkTestSupport.ldso(2)));
        s.mapAll();
        LinkException e = assertThrows(LinkException.class, s::relocateAll);
        assertEquals("symbol lookup error: " + lib + ": undefined symbol: foo, version V2", e.getMessage());
    }

    @Test
    void systemLibzAgainstHostLibcWithNoProcess() {
        FakeMemory mem = new FakeMemory().onCall(IFUNC);
        List<String> warnings = new ArrayList<>();
        LinkSession s = LinkTestSupport.session(mem, INTERPOSERS, 8192, null, warnings);
        LoadedObject z = LinkTestSupport.object(LinkTestSupport.LIBZ, 0);
        LoadedObject libc = LinkTestSupport.libc(1);
        List<LoadedObject> scope = List.of(z, libc, LinkTestSupport.ldso(2));
        s.setObjects(scope);
        s.mapAll();
        assertEquals(0, z.base() & (FakeMemory.PAGE - 1), "ET_DYN base is page-aligned");
        // The text is the file's bytes at the right place.
        Segment text = LinkTestSupport.segments(z.path()).stream()
                .filter(g -> g.type().equals("LOAD") && g.offset() != 0).findFirst().orElseThrow();
        assertEquals(LinkTestSupport.fileWord(z.path(), text.vaddr()), mem.u64(z.base() + text.vaddr()));

        s.relocateAll();
        Set<String> types = verify(z, scope, mem, Map.of());
        assertTrue(types.contains("R_X86_64_JUMP_SLOT") && types.contains("R_X86_64_RELATIVE"), types.toString());
        for (long f : mem.calls()) {
            assertTrue(libc.contains(f), "only host IFUNC resolvers are called: 0x" + Long.toHexString(f));
        }
        assertTrue(warnings.isEmpty(), warnings.toString());
        s.protectAll();
        assertRelroReadOnly(z, mem);
        assertEquals(TargetMemory.PROT_READ | TargetMemory.PROT_EXEC, mem.protAt(z.base() + text.vaddr()));
        assertTrue(s.stats().total() > 0);
    }

    @Test
    void canonicalPltAddressReachesGlobDat_jumpSlotGetsTheFunction() {
        Path prog = FixtureCatalog.linkCanonProgram();
        FakeMemory mem = new FakeMemory().onCall(IFUNC);
        LinkSession s = LinkTestSupport.session(mem, INTERPOSERS, 8192, null, new ArrayList<>());
        LoadedObject exe = LinkTestSupport.executable(prog);
        LoadedObject lib = LinkTestSupport.object(FixtureCatalog.linkLibCanon(), 1);
        List<LoadedObject> scope = List.of(exe, lib, LinkTestSupport.libc(2), LinkTestSupport.ldso(3));
        s.setObjects(scope);
        s.mapAll();
        assertEquals(0, exe.base(), "ET_EXEC at its link-time address");
        s.relocateAll();
        long plt = LinkTestSupport.dynamicSymbols(prog).stream().filter(d -> d.name().equals("canon_fn"))
                .findFirst().orElseThrow().value();
        long fn = lib.base() + LinkTestSupport.definition(syms(lib), "canon_fn", null).orElseThrow().value();
        verify(lib, scope, mem, Map.of("canon_fn/R_X86_64_GLOB_DAT", plt));
        verify(exe, scope, mem, Map.of("canon_fn/R_X86_64_JUMP_SLOT", fn));
    }

    @Test
    void copyRelocationCopiesRelocatedDataFromTheLibrary() {
        Path prog = FixtureCatalog.copyRelocNoPie();
        FakeMemory mem = new FakeMemory().onCall(IFUNC);
        List<String> warnings = new ArrayList<>();
        LinkSession s = LinkTestSupport.session(mem, INTERPOSERS, 8192, null, warnings);
        LoadedObject exe = LinkTestSupport.executable(prog);
        LoadedObject data = LinkTestSupport.object(FixtureCatalog.libdata(), 1);
        s.setObjects(List.of(exe, data, LinkTestSupport.libc(2), LinkTestSupport.ldso(3)));
        s.mapAll();
        s.relocateAll();
        List<DynSym> exeSyms = LinkTestSupport.dynamicSymbols(prog);
        long counter = LinkTestSupport.definition(exeSyms, "counter", null).orElseThrow().value();
        long names = LinkTestSupport.definition(exeSyms, "names", null).orElseThrow().value();
        long message = LinkTestSupport.definition(exeSyms, "message", null).orElseThrow().value();
        assertTrue(LinkTestSupport.relocations(prog).stream().anyMatch(r -> r.type().equals("R_X86_64_COPY")
                && r.offset() == counter), "fixture: counter is copied");
        assertEquals(5, (int) mem.u64(counter));
        assertEquals("message from libdata", new String(mem.read(message, 20), StandardCharsets.US_ASCII));
        // names[] holds pointers that libdata's RELATIVE relocations set: the copy must see them relocated.
        long p0 = mem.u64(names);
        assertTrue(data.contains(p0), "names[0] points into libdata: 0x" + Long.toHexString(p0));
        assertEquals("zero", new String(mem.read(p0, 4), StandardCharsets.US_ASCII));
        // And libdata's own references to counter go to the program's copy.
        verify(data, List.of(exe, data, LinkTestSupport.libc(2), LinkTestSupport.ldso(3)), mem, Map.of());
        assertTrue(warnings.isEmpty(), warnings.toString());
    }
}
