package org.jdryad.link;

import java.util.ArrayList;
import java.util.List;
import org.jdryad.debug.Binding;
import org.jdryad.debug.BindingHistory;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.RelocationTable;
import org.jdryad.elf.Symbol;
import org.jdryad.link.SymbolLookup.Definition;
import org.jdryad.link.SymbolLookup.Request;
import org.jdryad.link.SymbolLookup.TypeClass;
import org.jdryad.link.SymbolLookup.VersionRequirement;

/**
 * Re-binds host objects' GOT slots where a jdryad object interposes (DESIGN.md, mechanism 4).
 *
 * <p>The system loader relocated libc before the program existed, so libc's GOT points at libc's
 * own {@code optind}, {@code stdout}, {@code malloc}... Under glibc the program's copy (or its
 * own definition) wins everywhere, libc's {@code getopt} included. So every GLOB_DAT, JUMP_SLOT
 * and 64 slot of every host object is looked up again in the global scope; where the definition
 * is now a jdryad object, the slot is patched (RELRO pages are unprotected for the write).
 */
final class HostRebinder {
    private HostRebinder() {
    }

    /** A patch to one host slot. */
    record Patch(LoadedObject host, long site, long value, String symbol, String version, Definition definition) {
    }

    /**
     * A host slot that may need re-binding: a GLOB_DAT, JUMP_SLOT or 64 relocation against a
     * non-local, non-protected symbol, decoded from the file (offset and addend link-time).
     */
    record Slot(long offset, long addend, int type, String symbol, VersionRequirement version) {
    }

    /**
     * A host file's slots, decoded once per parsed file: they depend on its bytes alone, and
     * decoding libc's (each symbol's name and version) at every run cost the warm server a
     * tenth of a `/usr/bin/true` run's CPU; what a slot binds to depends on the run's scope and
     * is looked up at every run.
     */
    private static final ElfFile.DerivedKey<List<Slot>> SLOTS = new ElfFile.DerivedKey<>("host GOT slots",
            HostRebinder::decodeSlots);

    static List<Patch> plan(List<LoadedObject> hosts, List<LoadedObject> scope, SymbolLookup lookup) {
        List<Patch> patches = new ArrayList<>();
        for (LoadedObject host : hosts) {
            for (Slot slot : host.elf().derived(SLOTS)) {
                TypeClass tc = slot.type() == Elf.R_X86_64_JUMP_SLOT ? TypeClass.PLT : TypeClass.NORMAL;
                Definition def = lookup.lookup(Request.of(slot.symbol(), slot.version(), host, tc), scope)
                        .definition().orElse(null);
                if (def == null || def.object().isHost()) {
                    continue;
                }
                patches.add(new Patch(host, host.base() + slot.offset(), def.address() + slot.addend(), slot.symbol(),
                        slot.version() == null ? null : slot.version().name(), def));
            }
        }
        return patches;
    }

    /** The file's candidate slots, DT_RELA's first, then DT_JMPREL's, each in table order. */
    private static List<Slot> decodeSlots(ElfFile elf) {
        if (elf.dynamic().isEmpty()) {
            return List.of();
        }
        DynamicSection d = elf.dynamic().get();
        List<Slot> out = new ArrayList<>();
        collect(d, d.rela(), out);
        collect(d, d.pltRela(), out);
        return List.copyOf(out);
    }

    private static void collect(DynamicSection d, RelocationTable table, List<Slot> out) {
        for (long i = 0; i < table.count(); i++) {
            int type = table.type(i);
            int symIndex = table.symbolIndex(i);
            if (symIndex == 0 || (type != Elf.R_X86_64_GLOB_DAT && type != Elf.R_X86_64_JUMP_SLOT && type != Elf.R_X86_64_64)) {
                continue;
            }
            Symbol ref = d.symbols().get(symIndex);
            if (ref.bind() == Elf.STB_LOCAL || ref.visibility() == Elf.STV_PROTECTED) {
                continue;
            }
            long add = type == Elf.R_X86_64_64 ? table.addend(i) : 0;
            out.add(new Slot(table.offset(i), add, type, ref.name(), Relocator.versionRequirement(d.versions(), symIndex)));
        }
    }

    /**
     * Writes the patches in one bulk request, each read-only page made writable once before it
     * and given its protection back after it.
     */
    static void apply(List<Patch> patches, TargetMemory memory, BindingHistory history) {
        long page = memory.pageSize();
        java.util.Map<Long, Integer> readOnly = new java.util.LinkedHashMap<>(); // page -> protection to restore
        WordWrites words = new WordWrites();
        for (Patch p : patches) {
            int prot = protectionAt(p.host(), p.site() - p.host().base(), page);
            if ((prot & TargetMemory.PROT_WRITE) == 0) {
                readOnly.putIfAbsent(p.site() & -page, prot);
            }
            words.add(p.site(), p.value());
        }
        readOnly.forEach((pg, prot) -> memory.protect(pg, page, prot | TargetMemory.PROT_WRITE));
        words.flushTo(memory);
        readOnly.forEach((pg, prot) -> memory.protect(pg, page, prot));
        if (history != null) {
            for (Patch p : patches) {
                history.add(new BindingHistory.Draft(Binding.Kind.HOST_REBIND, p.host().name(), "GOT", p.site(), 0, 0, 0,
                        p.symbol(), p.version(), p.definition().object().name(), p.value(), List.of(), List.of()));
            }
        }
    }

    /** The protection glibc left on the page holding link-time address {@code vaddr}. */
    private static int protectionAt(LoadedObject obj, long vaddr, long page) {
        var relro = obj.elf().relro();
        if (relro.isPresent()) {
            long s = relro.get().vaddr() & -page;
            long e = (relro.get().vaddr() + relro.get().memsz()) & -page;
            if (vaddr >= s && vaddr < e) {
                return TargetMemory.PROT_READ;
            }
        }
        for (var ph : obj.elf().loadSegments()) {
            if (ph.containsAddress(vaddr)) {
                return SegmentMapper.prot(ph);
            }
        }
        return TargetMemory.PROT_READ | TargetMemory.PROT_WRITE;
    }
}
