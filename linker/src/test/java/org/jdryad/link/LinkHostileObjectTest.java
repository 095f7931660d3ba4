package org.jdryad.link;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ProgramHeader;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.FuzzSeeds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The link fuzz target's findings, as regression tests: hostile copies of the librel.so fixture
 * (RELR, RELATIVE, GLOB_DAT, JUMP_SLOT and TLS relocations) linked over {@link FuzzMemory}, which
 * holds the plan to the agent's contract. Before the fixes each of these made the plan hand the
 * agent a store outside the object's writable pages, a call into data, a reservation larger than
 * the address space or an mprotect of memory the object never mapped; now each is one
 * LinkException naming the object and what is wrong, and nothing reaches the target.
 */
class LinkHostileObjectTest {
    @TempDir
    Path dir;

    /** librel.so with {@code edit(bytes, its parsed layout)} applied, linked; returns what it threw. */
    private LinkException link(BiConsumer<ByteBuffer, ElfFile> edit, boolean lazy) throws IOException {
        Path seed = FixtureCatalog.linkLibRel();
        byte[] bytes = FuzzSeeds.read(seed);
        edit.accept(ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN), LinkTestSupport.elf(seed));
        Path file = dir.resolve("librel.so");
        Files.write(file, bytes);
        ElfFile elf = ElfFile.open(file);
        FuzzMemory mem = new FuzzMemory();
        mem.file(file, elf.identity(), bytes);
        ElfFile dep = LinkTestSupport.elf(FixtureCatalog.linkLibRdep());
        mem.file(dep.path(), dep.identity(), FuzzSeeds.read(dep.path()));
        List<LoadedObject> objects = new ArrayList<>();
        objects.add(new LoadedObject(elf, file.toString(), false, false, 0));
        objects.add(new LoadedObject(dep, dep.path().toString(), false, false, 1));
        LoadedObject libc = LinkTestSupport.libc(2);
        LoadedObject ldso = LinkTestSupport.ldso(3);
        objects.add(libc);
        objects.add(ldso);
        mem.host(libc.mapStart(), libc.mapLength());
        mem.host(ldso.mapStart(), ldso.mapLength());
        LinkSession s = new LinkSession(mem, Map.of(), LinkTestSupport.TLSDESC_RETURN, 8192, 1, null, w -> { });
        if (lazy) {
            s.enableLazyBinding(0x7fa0_0000_3000L, false);
        }
        return assertThrows(LinkException.class, () -> {
            s.setObjects(objects);
            s.mapAll();
            s.relocateAll();
            s.protectAll();
            s.tlsImage();
            for (long id : s.lazyObjects().keySet()) {
                for (long i = 0; i < 3; i++) {
                    s.bindLazily(id, i, 0x1234, 1, 1);
                }
            }
        });
    }

    private static DynamicSection dyn(ElfFile f) {
        return f.requireDynamic();
    }

    private static long phdr(ElfFile f, int type) {
        List<ProgramHeader> phs = f.programHeaders();
        for (int i = 0; i < phs.size(); i++) {
            if (phs.get(i).type() == type) {
                return f.programHeaderOffset() + 56L * i;
            }
        }
        throw new AssertionError("no segment of type " + type);
    }

    private static void assertNames(LinkException e, String what) {
        assertTrue(e.getMessage().contains("librel.so") && e.getMessage().contains(what), e.getMessage());
    }

    @Test
    void relocationSiteOutsideTheObjectIsRefused() throws IOException {
        // r_offset of the first RELATIVE: far below the object (fuzz finding: "write of 8 bytes at 0x0").
        LinkException e = link((b, f) -> b.putLong((int) dyn(f).rela().entryFileOffset(0), -0x7e00_0000_0000L), false);
        assertNames(e, "R_X86_64_RELATIVE at 0x");
        assertNames(e, "outside the object's writable segments");
    }

    @Test
    void relocationSiteInReadOnlyTextIsRefused() throws IOException {
        // A GLOB_DAT patching the first page (read-only): the agent's plain store would fault.
        LinkException e = link((b, f) -> b.putLong((int) dyn(f).rela().entryFileOffset(4), 0x10), false);
        assertNames(e, "R_X86_64_GLOB_DAT at 0x10 (8 bytes) lies outside the object's writable segments");
    }

    @Test
    void relrWordOutsideWritablePagesIsRefused() throws IOException {
        // The RELR table's first address word pointed at the read-only first page.
        LinkException e = link((b, f) -> {
            long relr = f.fileOffset(dyn(f).value(Elf.DT_RELR).getAsLong(), 8, "relr");
            b.putLong((int) relr, 0x100);
        }, false);
        assertNames(e, "DT_RELR at 0x100");
    }

    @Test
    void irelativeResolverInDataIsNotCalled() throws IOException {
        // The RELATIVE made IRELATIVE with its addend (0x4028, in .data): the agent would call data.
        LinkException e = link((b, f) -> b.putInt((int) dyn(f).rela().entryFileOffset(0) + 8, Elf.R_X86_64_IRELATIVE), false);
        assertNames(e, "IFUNC resolver of R_X86_64_IRELATIVE at 0x4028 is not in the object's executable segments");
    }

    @Test
    void segmentLargerThanTheAddressSpaceIsRefused() throws IOException {
        // p_memsz of the RW PT_LOAD became 0x684d000000005000 (fuzz finding: a reservation of that size).
        LinkException e = link((b, f) -> {
            long rw = f.programHeaderOffset() + 56L * 3;
            b.putLong((int) rw + 40, 0x684d000000005000L);
        }, false);
        assertNames(e, ": failed to map segment from shared object");
    }

    @Test
    void relroOutsideTheMappingIsRefused() throws IOException {
        // PT_GNU_RELRO moved past the object's pages (fuzz finding: mprotect outside every reservation).
        LinkException e = link((b, f) -> {
            b.putLong((int) phdr(f, Elf.PT_GNU_RELRO) + 16, 0x40_0000);
            b.putLong((int) phdr(f, Elf.PT_GNU_RELRO) + 40, 0x2000);
        }, false);
        assertNames(e, ": cannot apply additional memory protection after relocation");
    }

    @Test
    void tlsImageOutsideTheSegmentsIsRefused() throws IOException {
        // PT_TLS p_vaddr moved below the object (fuzz finding: a read of 16 bytes at base - 1).
        LinkException e = link((b, f) -> b.putLong((int) phdr(f, Elf.PT_TLS) + 16, -1L), false);
        assertNames(e, "PT_TLS initialization image lies outside the object's segments");
    }

    @Test
    void lazySlotInRelroIsNotPatchedAfterProtection() throws IOException {
        // The first jump slot moved into RELRO (.got, read-only once relocated): its first call
        // would have the agent patch a read-only page.
        LinkException e = link((b, f) -> b.putLong((int) dyn(f).pltRela().entryFileOffset(0), 0x3f90), true);
        assertNames(e, "lazily bound R_X86_64_JUMP_SLOT at 0x3f90");
    }
}
