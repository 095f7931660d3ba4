package org.jdryad.link;

import java.util.List;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ProgramHeader;

/**
 * Maps an object's PT_LOAD segments into the target as glibc's {@code _dl_map_segments} does:
 * one reservation for the whole span (at the link-time address for ET_EXEC, anywhere for
 * ET_DYN, aligned to the largest p_align), each segment's file pages mapped privately over it,
 * the tail of the last file page zeroed and anonymous pages for the rest of .bss.
 */
final class SegmentMapper {
    /** The top of the x86-64 user address space (47-bit virtual addresses). */
    static final long USER_TOP = 1L << 47;

    private final TargetMemory memory;
    private final long page;

    SegmentMapper(TargetMemory memory) {
        this.memory = memory;
        this.page = memory.pageSize();
    }

    /** Maps the object, setting its base and mapping range. Segments stay writable if {@code writableText}. */
    void map(LoadedObject obj, boolean writableText) {
        ElfFile elf = obj.elf();
        List<ProgramHeader> loads = elf.loadSegments();
        if (loads.isEmpty()) {
            throw LinkException.loadError(obj, "object file has no loadable segments");
        }
        refuseOverlaps(obj, loads);
        long maxAlign = page;
        for (ProgramHeader ph : loads) {
            // Every segment must fit in the user address space, page-rounded, without wrapping
            // around: glibc's mmap of it would fail the same way.
            if (Long.compareUnsigned(ph.vaddr(), USER_TOP) >= 0 || Long.compareUnsigned(ph.memsz(), USER_TOP) > 0
                    || ph.vaddr() + ph.memsz() > USER_TOP - page) {
                throw LinkException.loadError(obj, "failed to map segment from shared object");
            }
            if (ph.align() > maxAlign && Long.bitCount(ph.align()) == 1) {
                maxAlign = ph.align();
            }
        }
        long lo = elf.lowestLoadAddress(page);
        long span = elf.mappedSpan(page);
        if (span <= 0 || span > USER_TOP || (maxAlign > page && maxAlign - page > USER_TOP - span)) {
            throw LinkException.loadError(obj, "failed to map segment from shared object");
        }
        long start;
        long base;
        if (elf.type() == Elf.ET_EXEC) {
            start = memory.reserve(lo, span, true);
            base = 0;
        } else {
            long extra = maxAlign > page ? maxAlign - page : 0;
            long raw = memory.reserve(0, span + extra, false);
            start = (raw + maxAlign - 1) & -maxAlign;
            if (start != raw) {
                memory.protect(raw, start - raw, TargetMemory.PROT_NONE);
            }
            base = start - lo;
        }
        obj.setBase(base);
        obj.setMapping(start, span);
        PageRuns pages = new PageRuns();

        for (ProgramHeader ph : loads) {
            int prot = prot(ph) | (writableText ? TargetMemory.PROT_WRITE : 0);
            long segStart = base + (ph.vaddr() & -page);
            long fileEnd = base + ph.vaddr() + ph.filesz();
            long memEnd = base + ph.vaddr() + ph.memsz();
            long filePagesEnd = roundUp(fileEnd);
            pages.set(segStart, roundUp(memEnd), prot);
            if (ph.filesz() > 0) {
                memory.mapFileAhead(segStart, filePagesEnd - segStart, prot, elf.path(), elf.identity(),
                        ph.offset() & -page);
            }
            if (ph.memsz() > ph.filesz()) {
                // Zero the rest of the last file page: it holds whatever follows the segment in the file.
                long zeroEnd = Math.min(filePagesEnd, memEnd);
                if (ph.filesz() > 0 && zeroEnd > fileEnd) {
                    if ((prot & TargetMemory.PROT_WRITE) == 0) {
                        memory.protect(fileEnd & -page, page, prot | TargetMemory.PROT_WRITE);
                    }
                    memory.write(fileEnd, new byte[(int) (zeroEnd - fileEnd)]);
                    if ((prot & TargetMemory.PROT_WRITE) == 0) {
                        memory.protect(fileEnd & -page, page, prot);
                    }
                }
                long anonStart = ph.filesz() > 0 ? filePagesEnd : segStart;
                long anonEnd = roundUp(memEnd);
                if (anonEnd > anonStart) {
                    memory.mapAnonymousAhead(anonStart, anonEnd - anonStart, prot);
                }
            }
        }
        // The segments were sent without waiting for each answer (a round trip apiece); the object
        // is mapped, or its load fails in the words a mapping's failure has, before anything uses it.
        memory.settle();
        obj.setPages(pages);
    }

    /** Applies the final protections once relocation is done: segment flags, then PT_GNU_RELRO read-only. */
    void protectFinal(LoadedObject obj, boolean textWasWritable) {
        long base = obj.base();
        PageRuns pages = obj.pages();
        if (textWasWritable) {
            for (ProgramHeader ph : obj.elf().loadSegments()) {
                long s = base + (ph.vaddr() & -page);
                long e = roundUp(base + ph.vaddr() + ph.memsz());
                memory.protect(s, e - s, prot(ph));
                pages.set(s, e, prot(ph));
            }
        }
        obj.elf().relro().ifPresent(r -> {
            long s = base + (r.vaddr() & -page);
            long e = (base + r.vaddr() + r.memsz()) & -page;
            if (e > s) {
                // PT_GNU_RELRO must cover pages the object mapped: the agent's mprotect would
                // otherwise change someone else's memory (glibc's words when it fails).
                if (Long.compareUnsigned(r.vaddr(), USER_TOP) >= 0 || Long.compareUnsigned(r.memsz(), USER_TOP) > 0
                        || !pages.allows(s, e - s, TargetMemory.PROT_NONE)) {
                    throw LinkException.loadError(obj, "cannot apply additional memory protection after relocation");
                }
                memory.protect(s, e - s, TargetMemory.PROT_READ);
                pages.protect(s, e, TargetMemory.PROT_READ);
            }
        });
    }

    /**
     * Refuses PT_LOAD segments that are out of address order or whose bytes overlap: mapped one
     * over the other they would replace each other's code or data (glibc maps them anyway and
     * the program crashes, or trips an assertion in ld.so).
     */
    private static void refuseOverlaps(LoadedObject obj, List<ProgramHeader> loads) {
        for (int i = 1; i < loads.size(); i++) {
            ProgramHeader prev = loads.get(i - 1);
            ProgramHeader ph = loads.get(i);
            long prevEnd = prev.vaddr() + prev.memsz();
            if (Long.compareUnsigned(ph.vaddr(), prevEnd) < 0 || Long.compareUnsigned(prevEnd, prev.vaddr()) < 0) {
                throw LinkException.loadError(obj, String.format(
                        "ELF load commands overlap or are out of order (PT_LOAD at 0x%x, 0x%x bytes, then at 0x%x)",
                        prev.vaddr(), prev.memsz(), ph.vaddr()));
            }
        }
    }

    static int prot(ProgramHeader ph) {
        int p = 0;
        if (ph.readable()) {
            p |= TargetMemory.PROT_READ;
        }
        if (ph.writable()) {
            p |= TargetMemory.PROT_WRITE;
        }
        if (ph.executable()) {
            p |= TargetMemory.PROT_EXEC;
        }
        return p;
    }

    private long roundUp(long v) {
        return (v + page - 1) & -page;
    }
}
