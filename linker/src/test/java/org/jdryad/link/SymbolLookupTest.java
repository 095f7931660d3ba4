package org.jdryad.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.GnuHashTable;
import org.jdryad.elf.Symbol;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.link.LinkTestSupport.DynSym;
import org.jdryad.link.SymbolLookup.Definition;
import org.jdryad.link.SymbolLookup.PassedOver;
import org.jdryad.link.SymbolLookup.Request;
import org.jdryad.link.SymbolLookup.Result;
import org.jdryad.link.SymbolLookup.TypeClass;
import org.jdryad.link.SymbolLookup.VersionRequirement;
import org.junit.jupiter.api.Test;

/**
 * glibc's lookup rules (elf/dl-lookup.c), one per test, on small libraries compiled for the
 * purpose (tests/fixtures/link/). Where a rule is observable, the test first asks glibc itself
 * ({@code LD_DEBUG=bindings}, {@code LD_BIND_NOW=1}) and asserts jdryad gives the same answer.
 */
class SymbolLookupTest {

    /** A binding line of LD_DEBUG=bindings: referrer, definer, symbol, version (or null). */
    record NativeBinding(String from, String to, String symbol, String version) {
    }

    private static final Pattern BINDING = Pattern.compile(
            "binding file (\\S+) \\[0\\] to (\\S+) \\[0\\]: normal symbol `([^']+)'(?: \\[([^\\]]+)\\])?");

    static List<NativeBinding> nativeBindings(Path program) {
        ProcessRunner.Result r = LinkTestSupport.runNative(List.of(program.toString()),
                Map.of("LD_DEBUG", "bindings", "LD_BIND_NOW", "1"));
        assertEquals(0, r.status(), r.describe());
        List<NativeBinding> out = new ArrayList<>();
        for (String line : r.stderr().split("\n")) {
            Matcher m = BINDING.matcher(line);
            if (m.find()) {
                out.add(new NativeBinding(m.group(1), m.group(2), m.group(3), m.group(4)));
            }
        }
        return out;
    }

    static List<NativeBinding> nativeBindingsOf(Path program, String symbol) {
        return nativeBindings(program).stream().filter(b -> b.symbol().equals(symbol)).toList();
    }

    /** Symbol indexes of undefined references to {@code name} in {@code obj}'s dynsym. */
    static List<Integer> referencesTo(LoadedObject obj, String name) {
        DynamicSection d = obj.elf().requireDynamic();
        List<Integer> out = new ArrayList<>();
        for (int i = 1; i < d.symbols().count(); i++) {
            Symbol s = d.symbols().get(i);
            if (s.name().equals(name) && s.isUndefined()) {
                out.add(i);
            }
        }
        return out;
    }

    static LoadedObject byFile(List<LoadedObject> objects, Path file) {
        for (LoadedObject o : objects) {
            if (o.path().toAbsolutePath().normalize().equals(file.toAbsolutePath().normalize())) {
                return o;
            }
        }
        throw new AssertionError(file + " not in " + objects);
    }

    static Definition lookupReference(SymbolLookup lookup, LoadedObject requester, int symIndex, TypeClass tc,
                                      List<LoadedObject> scope) {
        DynamicSection d = requester.elf().requireDynamic();
        VersionRequirement v = Relocator.versionRequirement(d.versions(), symIndex);
        return lookup.lookup(Request.of(d.symbols().get(symIndex).name(), v, requester, tc), scope)
                .definition().orElse(null);
    }

    // ------------------------------------------------------------------------------------------
    // Versions

    @Test
    void referenceToNonDefaultVersionBindsThatVersion_andPlainReferenceTheDefault() {
        Path prog = FixtureCatalog.linkVersionsProgram();
        Set<String> glibc = new TreeSet<>();
        for (NativeBinding b : nativeBindingsOf(prog, "foo")) {
            glibc.add(b.version());
        }
        assertEquals(Set.of("V1", "V2"), glibc, "glibc binds foo@V1 and foo (linked as the default foo@@V2)");

        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        LoadedObject lib = byFile(scope, FixtureCatalog.linkLibVersioned());
        List<DynSym> libSyms = LinkTestSupport.dynamicSymbols(lib.path());
        SymbolLookup lookup = new SymbolLookup();
        Set<String> jdryad = new TreeSet<>();
        for (int idx : referencesTo(exe, "foo")) {
            Definition def = lookupReference(lookup, exe, idx, TypeClass.PLT, scope);
            assertNotNull(def, "foo reference " + idx);
            assertSame(lib, def.object());
            assertEquals(LinkTestSupport.definition(libSyms, "foo", def.version()).orElseThrow().value(),
                    def.symbol().value(), "the value of foo@" + def.version());
            jdryad.add(def.version());
        }
        assertEquals(glibc, jdryad);
    }

    @Test
    void unversionedReferenceBindsTheOldestVersion_index2_evenIfHidden() {
        // glibc's check_match: with no version requested, a definition with version index < 3 is
        // taken at once ("the oldest (default) version should be used" for old binaries); the
        // hidden bit matters only for index >= 3. foo@V1 is index 2 here, so foo binds V1, not V2.
        Path prog = FixtureCatalog.linkUnversionedRefProgram();
        ProcessRunner.Result run = LinkTestSupport.runNative(List.of(prog.toString()), Map.of());
        assertEquals("foo=1 only=5\n", run.stdout(), run.describe());
        List<NativeBinding> glibc = nativeBindingsOf(prog, "foo");
        assertEquals(1, glibc.size(), glibc.toString());
        assertEquals(null, glibc.get(0).version());

        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        LoadedObject lib = byFile(scope, FixtureCatalog.linkLibVersioned());
        List<DynSym> libSyms = LinkTestSupport.dynamicSymbols(lib.path());
        DynSym fooV1 = LinkTestSupport.definition(libSyms, "foo", "V1").orElseThrow();
        assertFalse(fooV1.defaultVersion(), "fixture: foo@V1 is the hidden, non-default version");

        int idx = referencesTo(exe, "foo").get(0);
        assertEquals(null, Relocator.versionRequirement(exe.versions(), idx), "fixture: an unversioned reference");
        Definition def = lookupReference(new SymbolLookup(), exe, idx, TypeClass.PLT, scope);
        assertNotNull(def);
        assertSame(lib, def.object());
        assertEquals("V1", def.version());
        assertEquals(fooV1.value(), def.symbol().value());
    }

    @Test
    void unversionedReferenceTakesTheOneNonHiddenVersionedDefinition() {
        // only@@V2 has index 3: not "old", but it is the only non-hidden version, so it qualifies.
        Path prog = FixtureCatalog.linkUnversionedRefProgram();
        List<NativeBinding> glibc = nativeBindingsOf(prog, "only");
        assertEquals(1, glibc.size(), glibc.toString());
        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        Definition def = lookupReference(new SymbolLookup(), exe, referencesTo(exe, "only").get(0), TypeClass.PLT, scope);
        assertNotNull(def);
        assertEquals(Path.of(glibc.get(0).to()).toAbsolutePath().normalize(), def.object().path().toAbsolutePath().normalize());
        assertEquals("V2", def.version());
    }

    @Test
    void hiddenVersionIsInvisibleToAnUnversionedReference() {
        Path prog = FixtureCatalog.linkHiddenRefProgram();
        ProcessRunner.Result run = LinkTestSupport.runNative(List.of(prog.toString()), Map.of("LD_BIND_NOW", "1"));
        assertEquals(127, run.status(), run.describe());
        assertTrue(run.stderr().contains("symbol lookup error: " + prog + ": undefined symbol: hid"), run.describe());

        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        LoadedObject lib = byFile(scope, FixtureCatalog.linkLibVersioned());
        SymbolLookup lookup = new SymbolLookup();
        assertEquals(null, lookupReference(lookup, exe, referencesTo(exe, "hid").get(0), TypeClass.PLT, scope));
        // ... while a reference that names the version finds it.
        Definition v2 = lookup.lookup(Request.of("hid", new VersionRequirement("V2", "liblv.so", false), exe,
                TypeClass.NORMAL), scope).definition().orElse(null);
        assertNotNull(v2);
        assertSame(lib, v2.object());
    }

    @Test
    void aFailedLookupSearchesEveryObjectInScope() {
        Path prog = FixtureCatalog.linkHiddenRefProgram();
        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        Result r = new SymbolLookup().lookup(Request.of("hid", null, exe, TypeClass.NORMAL), scope);
        assertTrue(r.definition().isEmpty());
        assertEquals(scope.size(), r.objectsSearched(), "every object is searched");
    }

    @Test
    void dlsymStyleLookupReturnsTheNewestDefaultVersion() {
        // DL_LOOKUP_RETURN_NEWEST (dlsym): versions from index 2 up are candidates, hidden ones are
        // not, so foo@V1 (hidden) is skipped and the single non-hidden foo@@V2 is returned.
        LoadedObject lib = LinkTestSupport.object(FixtureCatalog.linkLibVersioned(), 1);
        Result r = new SymbolLookup().lookup(new Request("foo", null, null, TypeClass.NORMAL, true), List.of(lib));
        assertEquals("V2", r.definition().orElseThrow().version());
    }

    @Test
    void versionedReferenceToAMissingVersionIsNotSatisfiedAndSaysWhy() {
        LoadedObject lib = LinkTestSupport.object(FixtureCatalog.linkLibVersioned(), 1);
        Result r = new SymbolLookup().lookup(Request.of("foo", new VersionRequirement("V3", "liblv.so", false), null,
                TypeClass.NORMAL), List.of(lib));
        assertTrue(r.definition().isEmpty());
        List<String> reasons = r.passedOver().stream().map(PassedOver::reason).toList();
        assertTrue(reasons.contains("has foo@V1, not version V3"), reasons.toString());
        assertTrue(reasons.contains("has foo@V2, not version V3"), reasons.toString());
        for (PassedOver p : r.passedOver()) {
            assertSame(lib, p.object());
        }
    }

    @Test
    void versionedReferenceIsSatisfiedByAnUnversionedObject() {
        // glibc: an object without a versym table satisfies any versioned reference.
        LoadedObject plain = LinkTestSupport.object(FixtureCatalog.linkLibUnversioned(), 1);
        Result r = new SymbolLookup().lookup(Request.of("foo", new VersionRequirement("V2", "liblv.so", false), null,
                TypeClass.NORMAL), List.of(plain));
        assertSame(plain, r.definition().orElseThrow().object());
    }

    // ------------------------------------------------------------------------------------------
    // Weak, unique, copy, PLT

    @Test
    void weakDefinitionInAnEarlierObjectWinsOverALaterStrongOne() {
        Path prog = FixtureCatalog.linkWeakProgram();
        ProcessRunner.Result run = LinkTestSupport.runNative(List.of(prog.toString()), Map.of());
        assertEquals("wsym=1 wdata=1\n", run.stdout(), run.describe());
        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        LoadedObject weak = byFile(scope, FixtureCatalog.linkLibWeak1());
        SymbolLookup lookup = new SymbolLookup();
        for (String name : List.of("wsym", "wdata")) {
            List<NativeBinding> glibc = nativeBindingsOf(prog, name);
            assertEquals(1, glibc.size(), glibc.toString());
            assertEquals(weak.path().toString(), glibc.get(0).to());
            // A PIE program reaches wdata through a copy relocation: then the program's own copy is
            // skipped, as glibc's R_X86_64_COPY lookup does.
            List<Integer> refs = referencesTo(exe, name);
            Definition def = refs.isEmpty()
                    ? lookup.lookup(Request.of(name, null, exe, TypeClass.COPY), scope).definition().orElse(null)
                    : lookupReference(lookup, exe, refs.get(0), TypeClass.NORMAL, scope);
            assertNotNull(def, name);
            assertSame(weak, def.object(), name);
            assertEquals(Elf.STB_WEAK, def.symbol().bind(), "fixture: the definition found is the weak one");
        }
    }

    @Test
    void gnuUniqueSymbolResolvesToTheFirstDefinitionProcessWide() {
        String name = "_ZN1U7counterE";
        LoadedObject u1 = LinkTestSupport.object(FixtureCatalog.linkLibUniq1(), 1);
        LoadedObject u2 = LinkTestSupport.object(FixtureCatalog.linkLibUniq2(), 2);
        assertTrue(LinkTestSupport.dynamicSymbols(u1.path()).stream()
                .anyMatch(s -> s.name().equals(name) && s.bind().equals("UNIQUE")), "fixture: g++ made it UNIQUE");

        SymbolLookup lookup = new SymbolLookup();
        Definition first = lookup.lookup(Request.of(name, null, u1, TypeClass.NORMAL), List.of(u1, u2)).definition().orElseThrow();
        assertSame(u1, first.object());
        // A later lookup whose scope (say, a dlopen'ed RTLD_LOCAL object's) has only u2 still gets u1's.
        Definition later = lookup.lookup(Request.of(name, null, u2, TypeClass.NORMAL), List.of(u2)).definition().orElseThrow();
        assertSame(u1, later.object());

        // The first lookup decides: in another process the other order gives u2 for everyone.
        SymbolLookup other = new SymbolLookup();
        assertSame(u2, other.lookup(Request.of(name, null, u2, TypeClass.NORMAL), List.of(u2)).definition().orElseThrow().object());
        assertSame(u2, other.lookup(Request.of(name, null, u1, TypeClass.NORMAL), List.of(u1, u2)).definition().orElseThrow().object());
    }

    @Test
    void copyRelocationLookupSkipsTheExecutable() {
        Path prog = FixtureCatalog.copyRelocNoPie();
        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        LoadedObject data = byFile(scope, FixtureCatalog.libdata());
        SymbolLookup lookup = new SymbolLookup();
        // glibc: the program's R_X86_64_COPY for counter binds to libdata; libdata's own GLOB_DAT to the program's copy.
        List<NativeBinding> glibc = nativeBindingsOf(prog, "counter");
        assertTrue(glibc.contains(new NativeBinding(prog.toString(), data.path().toString(), "counter", null)), glibc.toString());
        assertTrue(glibc.contains(new NativeBinding(data.path().toString(), prog.toString(), "counter", null)), glibc.toString());

        Result copy = lookup.lookup(Request.of("counter", null, exe, TypeClass.COPY), scope);
        assertSame(data, copy.definition().orElseThrow().object());
        assertEquals(1, copy.objectsSearched(), "the executable is not searched");
        Result normal = lookup.lookup(Request.of("counter", null, data, TypeClass.NORMAL), scope);
        assertSame(exe, normal.definition().orElseThrow().object(), "everyone else sees the program's copy");
    }

    @Test
    void pltLookupPassesOverCanonicalPltEntry_globDatTakesIt() {
        Path prog = FixtureCatalog.linkCanonProgram();
        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        LoadedObject lib = byFile(scope, FixtureCatalog.linkLibCanon());
        DynSym canon = LinkTestSupport.dynamicSymbols(prog).stream().filter(s -> s.name().equals("canon_fn"))
                .findFirst().orElseThrow();
        assertEquals("UND", canon.ndx(), "fixture: canon_fn is undefined in the program");
        assertTrue(canon.value() != 0, "fixture: ... with its PLT entry as value");

        List<NativeBinding> glibc = nativeBindingsOf(prog, "canon_fn");
        assertTrue(glibc.contains(new NativeBinding(prog.toString(), lib.path().toString(), "canon_fn", null)), glibc.toString());
        assertTrue(glibc.contains(new NativeBinding(lib.path().toString(), prog.toString(), "canon_fn", null)), glibc.toString());

        SymbolLookup lookup = new SymbolLookup();
        Definition plt = lookup.lookup(Request.of("canon_fn", null, exe, TypeClass.PLT), scope).definition().orElseThrow();
        assertSame(lib, plt.object(), "the program's jump slot goes to the real function");
        Definition glob = lookup.lookup(Request.of("canon_fn", null, lib, TypeClass.NORMAL), scope).definition().orElseThrow();
        assertSame(exe, glob.object(), "the library's GLOB_DAT takes the canonical address");
        assertEquals(canon.value(), glob.address());
    }

    @Test
    void pltLookupExplainsWhyTheCanonicalPltEntryWasPassedOver() {
        Path prog = FixtureCatalog.linkCanonProgram();
        List<LoadedObject> scope = LinkTestSupport.graph(prog);
        LoadedObject exe = scope.get(0);
        Result r = new SymbolLookup().lookup(Request.of("canon_fn", null, exe, TypeClass.PLT), scope);
        assertTrue(r.passedOver().stream().anyMatch(p -> p.object() == exe && p.reason().contains("PLT")),
                "passed over: " + r.passedOver());
    }

    // ------------------------------------------------------------------------------------------
    // Hash tables

    @Test
    void bloomFilterAdmitsEveryDefinedSymbolAndRejectsMostAbsentNames() {
        for (Path file : List.of(LinkTestSupport.LIBC, LinkTestSupport.LIBZ)) {
            LoadedObject obj = LinkTestSupport.host(file, 1, 0x7f00_0000_0000L);
            GnuHashTable gnu = obj.elf().requireDynamic().gnuHash().orElseThrow();
            SymbolLookup lookup = new SymbolLookup();
            int checked = 0;
            for (DynSym s : LinkTestSupport.dynamicSymbols(file)) {
                if (!s.defined() || s.bind().equals("LOCAL") || s.value() == 0) {
                    // (version-name symbols are ABS 0: glibc never binds a value-0 non-TLS symbol)
                    continue;
                }
                assertTrue(gnu.bloomAdmits(djb(s.name())), file + ": Bloom filter must admit " + s.name());
                Definition d = lookup.lookupIn(obj, Request.of(s.name(),
                        s.version() == null ? null : new VersionRequirement(s.version(), null, false), null, TypeClass.NORMAL), null);
                assertNotNull(d, file + ": " + s.name() + "@" + s.version());
                assertEquals(s.value(), d.symbol().value(), file + ": " + s.name() + "@" + s.version());
                checked++;
            }
            assertTrue(checked > 50, file + ": checked " + checked);
            int rejected = 0;
            for (int i = 0; i < 1000; i++) {
                String absent = "jdryad_absent_symbol_" + i;
                if (!gnu.bloomAdmits(djb(absent))) {
                    rejected++;
                }
                assertTrue(lookup.lookup(Request.of(absent, null, null, TypeClass.NORMAL), List.of(obj)).definition().isEmpty());
            }
            assertTrue(rejected > 800, file + ": the Bloom filter rejected only " + rejected + " of 1000 absent names");
        }
    }

    /** The GNU hash (dl_new_hash), written out again here. */
    static int djb(String name) {
        int h = 5381;
        for (byte b : name.getBytes(StandardCharsets.UTF_8)) {
            h = h * 33 + (b & 0xff);
        }
        return h;
    }

    @Test
    void gnuHashFunctionMatchesKnownValues() {
        // Values from the ELF gABI GNU hash examples (dl_new_hash).
        assertEquals(0x00001505, GnuHashTable.hash(new byte[0]));
        assertEquals(0x156b2bb8, GnuHashTable.hash("printf".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(0x7c967e3f, GnuHashTable.hash("exit".getBytes(StandardCharsets.US_ASCII)));
        assertEquals(0xbac212a0, GnuHashTable.hash("syscall".getBytes(StandardCharsets.US_ASCII)));
    }
}
