package org.jdryad.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ProgramHeader;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.link.LinkTestSupport.Segment;
import org.junit.jupiter.api.Test;

/**
 * Static TLS (x86-64 variant II, blocks below the thread pointer): the executable's block where
 * the static linker put it, shared objects packed below as glibc's {@code _dl_determine_tlsoffset}
 * packs them, and glibc's words when the reservation is full. PT_TLS values come from readelf.
 */
class StaticTlsLayoutTest {

    static long roundUp(long v, long a) {
        return (v + a - 1) / a * a;
    }

    /** glibc's _dl_determine_tlsoffset (TLS_TCB_AT_TP), written out again here. */
    static long glibcOffset(long used, long memsz, long align, long vaddr) {
        long firstbyte = (-(vaddr & (align - 1))) & (align - 1);
        return roundUp(used + memsz - firstbyte, align) + firstbyte;
    }

    @Test
    void executableBlockEndsExactlyAtTheThreadPointer_librariesBelowIt() {
        Path exe = FixtureCatalog.linkTlsExe();
        Path a = FixtureCatalog.linkLibTlsA();
        Path b = FixtureCatalog.linkLibTlsB();
        Segment exeTls = LinkTestSupport.segment(exe, "TLS");
        Segment aTls = LinkTestSupport.segment(a, "TLS");
        Segment bTls = LinkTestSupport.segment(b, "TLS");
        assertEquals(64, exeTls.align(), "fixture: the program's TLS is 64-aligned");
        assertTrue(exeTls.memsz() % 64 != 0, "fixture: ... and its size is not a multiple of it");
        assertEquals(32, aTls.align(), "fixture: libtlsa's TLS is 32-aligned");

        LoadedObject oe = LinkTestSupport.executable(exe);
        LoadedObject oa = LinkTestSupport.object(a, 1);
        LoadedObject libc = LinkTestSupport.libc(2);
        LoadedObject ob = LinkTestSupport.object(b, 3);
        StaticTlsLayout layout = new StaticTlsLayout(8192, 5);
        layout.assign(List.of(oe, oa, libc, ob));

        // What the static linker assumed for local-exec: tp - roundup(p_memsz, p_align).
        assertEquals(roundUp(exeTls.memsz(), exeTls.align()), oe.tlsOffset());
        long afterA = glibcOffset(oe.tlsOffset(), aTls.memsz(), aTls.align(), aTls.vaddr());
        assertEquals(afterA, oa.tlsOffset());
        long afterB = glibcOffset(afterA, bTls.memsz(), bTls.align(), bTls.vaddr());
        assertEquals(afterB, ob.tlsOffset());
        assertEquals(afterB, layout.used());

        // Module ids in load order, host objects skipped (glibc numbers those itself).
        assertEquals(5, oe.tlsModuleId());
        assertEquals(6, oa.tlsModuleId());
        assertEquals(7, ob.tlsModuleId());
        assertFalse(libc.hasStaticTls());
        for (LoadedObject o : List.of(oe, oa, ob)) {
            assertTrue(o.hasStaticTls());
            long align = o.elf().tls().orElseThrow().align();
            assertEquals(0, o.tlsOffset() % align, o + ": block aligned (tp is aligned to the largest alignment)");
        }
        // Blocks do not overlap: each starts below the end of the previous one.
        assertTrue(oa.tlsOffset() - aTls.memsz() >= oe.tlsOffset());
        assertTrue(ob.tlsOffset() - bTls.memsz() >= oa.tlsOffset());
    }

    @Test
    void theSessionPlacesTheExecutableFirstWhateverElseHasTls() {
        Path exe = FixtureCatalog.linkTlsExe();
        FakeMemory mem = new FakeMemory();
        LinkSession s = LinkTestSupport.session(mem, Map.of(), 8192, null, new ArrayList<>());
        LoadedObject oe = LinkTestSupport.executable(exe);
        LoadedObject ob = LinkTestSupport.object(FixtureCatalog.linkLibTlsB(), 1);
        s.setObjects(List.of(oe, ob));
        s.mapAll();
        Segment exeTls = LinkTestSupport.segment(exe, "TLS");
        assertEquals(roundUp(exeTls.memsz(), exeTls.align()), oe.tlsOffset());

        // The composed image: byte i is the initial value of tp - used + i.
        byte[] image = s.tlsImage();
        assertEquals(s.tlsBytesUsed(), image.length);
        int exeStart = (int) (image.length - oe.tlsOffset());
        assertEquals(1, image[exeStart], "exe_tls[0] = 1 (first byte of the program's .tdata)");
        int bStart = (int) (image.length - ob.tlsOffset());
        long tlsbV = 0;
        for (int i = 7; i >= 0; i--) {
            tlsbV = (tlsbV << 8) | (image[bStart + i] & 0xff);
        }
        assertEquals(0x1122334455667788L, tlsbV, "libtlsb's tlsb_v initial value");
    }

    @Test
    void firstByteOffsetOfAnUnalignedSegmentIsKeptModuloItsAlignment() {
        // A PT_TLS whose p_vaddr is not a multiple of p_align (lld and some ld scripts produce
        // these): the block's first byte must sit at an address congruent to p_vaddr modulo p_align.
        LoadedObject o = LinkTestSupport.object(LinkTestSupport.LIBZ, 1);
        StaticTlsLayout layout = new StaticTlsLayout(8192, 1);
        ProgramHeader aligned = new ProgramHeader(Elf.PT_TLS, 4, 0x1000, 0x3000, 0x3000, 0, 16, 32);
        layout.place(o, aligned);
        assertEquals(32, o.tlsOffset());
        assertEquals(glibcOffset(0, 16, 32, 0x3000), o.tlsOffset());
    }

    @Test
    void firstByteOffsetRuleMatchesGlibc() {
        LoadedObject o = LinkTestSupport.object(LinkTestSupport.LIBZ, 1);
        StaticTlsLayout layout = new StaticTlsLayout(8192, 1);
        long vaddr = 0x3008;
        long align = 32;
        layout.place(o, new ProgramHeader(Elf.PT_TLS, 4, 0x1008, vaddr, vaddr, 0, 16, align));
        long tp = 0x7000_0000_0000L; // aligned to every block's alignment
        assertEquals(Math.floorMod(vaddr, align), Math.floorMod(tp - o.tlsOffset(), align),
                "block start modulo alignment (offset " + o.tlsOffset() + ")");
        assertEquals(glibcOffset(0, 16, align, vaddr), o.tlsOffset());
    }

    @Test
    void overflowingTheReservationIsGlibcsStaticTlsError() {
        Path big = FixtureCatalog.linkLibTlsBig();
        Segment tls = LinkTestSupport.segment(big, "TLS");
        LoadedObject o = LinkTestSupport.object(big, 1);
        LinkException e = assertThrows(LinkException.class,
                () -> new StaticTlsLayout(tls.memsz() - 1, 1).assign(List.of(o)));
        assertEquals(big + ": cannot allocate memory in static TLS block", e.getMessage());

        // Exactly full is fine.
        LoadedObject o2 = LinkTestSupport.object(big, 1);
        StaticTlsLayout exact = new StaticTlsLayout(roundUp(tls.memsz(), tls.align()), 1);
        exact.assign(List.of(o2));
        assertEquals(roundUp(tls.memsz(), tls.align()), o2.tlsOffset());
    }

    @Test
    void overflowThroughTheSessionAfterEarlierBlocks() {
        FakeMemory mem = new FakeMemory();
        LinkSession s = LinkTestSupport.session(mem, Map.of(), 8192, null, new ArrayList<>());
        LoadedObject ob = LinkTestSupport.object(FixtureCatalog.linkLibTlsB(), 0);
        LoadedObject big = LinkTestSupport.object(FixtureCatalog.linkLibTlsBig(), 1);
        s.setObjects(List.of(ob, big));
        LinkException e = assertThrows(LinkException.class, s::mapAll);
        assertEquals(FixtureCatalog.linkLibTlsBig() + ": cannot allocate memory in static TLS block", e.getMessage());
    }
    private static ProgramHeader tlsSegment(long memsz, long align) {
        return new ProgramHeader(Elf.PT_TLS, 4, 0x1000, 0x3000, 0x3000, 0, memsz, align);
    }

    @Test
    void blocksGivenBackAreReusedAndTheTopOneLowersTheEnd() {
        StaticTlsLayout layout = new StaticTlsLayout(8192, 10);
        LoadedObject a = LinkTestSupport.object(LinkTestSupport.LIBZ, 1);
        LoadedObject b = LinkTestSupport.object(LinkTestSupport.LIBZ, 2);
        LoadedObject c = LinkTestSupport.object(LinkTestSupport.LIBZ, 3);
        layout.place(a, tlsSegment(100, 16));
        layout.place(b, tlsSegment(200, 32));
        assertEquals(112, a.tlsOffset());
        assertEquals(320, b.tlsOffset());
        assertEquals(11, b.tlsModuleId());

        layout.release(a);
        assertEquals(0, a.tlsModuleId(), "released: no module id any more");
        assertFalse(a.hasStaticTls());
        layout.place(c, tlsSegment(64, 16));
        assertEquals(64, c.tlsOffset(), "the freed range below b holds c");
        assertEquals(10, c.tlsModuleId(), "a's module id is reused");
        assertEquals(320, layout.used());

        layout.release(b);
        assertEquals(64, layout.used(), "the top block given back lowers the end to the block below");
        layout.release(c);
        assertEquals(0, layout.used());
    }

    @Test
    void manyPlaceReleaseCyclesNeverOverflow() {
        StaticTlsLayout layout = new StaticTlsLayout(1024, 1);
        LoadedObject keep = LinkTestSupport.object(LinkTestSupport.LIBZ, 1);
        layout.place(keep, tlsSegment(40, 8));
        for (int i = 0; i < 1000; i++) {
            LoadedObject o = LinkTestSupport.object(LinkTestSupport.LIBZ, 2);
            layout.place(o, tlsSegment(i % 2 == 0 ? 64 : 400, i % 3 == 0 ? 64 : 16));
            assertTrue(o.hasStaticTls());
            layout.release(o);
        }
        assertEquals(40, layout.used());
        assertEquals(1, keep.tlsModuleId());
    }

    @Test
    void aDlopenedObjectThatDoesNotFitGetsDynamicTlsUnlessItNeedsStaticTls() {
        Path big = FixtureCatalog.linkLibTlsBig();
        Segment tls = LinkTestSupport.segment(big, "TLS");
        LoadedObject dynamic = LinkTestSupport.object(big, 1);
        StaticTlsLayout layout = new StaticTlsLayout(tls.memsz() - 1, 7);
        layout.assign(List.of(dynamic), true);
        assertFalse(dynamic.hasStaticTls(), "dynamic TLS");
        assertEquals(7, dynamic.tlsModuleId());
        assertEquals(0, layout.used());

        // libtls_ie.so uses initial-exec accesses (DF_STATIC_TLS): glibc's error, as for start-up objects.
        Path ie = FixtureCatalog.libtlsIe();
        LoadedObject needsStatic = LinkTestSupport.object(ie, 2);
        StaticTlsLayout tiny = new StaticTlsLayout(1, 1);
        LinkException e = assertThrows(LinkException.class, () -> tiny.assign(List.of(needsStatic), true));
        assertEquals(ie + ": cannot allocate memory in static TLS block", e.getMessage());
    }
}
