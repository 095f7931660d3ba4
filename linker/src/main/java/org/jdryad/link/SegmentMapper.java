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
            throw new LinkException(obj.name() + ": object file has no loadable segments");
        }
        long lo = elf.lowestLoadAddress(page);
        long span = elf.mappedSpan(page);
        long maxAlign = page;
        for (ProgramHeader ph : loads) {
            if (ph.align() > maxAlign && Long.bitCount(ph.align()) == 1) {
                maxAlign = ph.align();
            }
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

        for (ProgramHeader ph : loads) {
            int prot = prot(ph) | (writableText ? TargetMemory.PROT_WRITE : 0);
            long segStart = base + (ph.vaddr() & -page);
            long fileEnd = base + ph.vaddr() + ph.filesz();
            long memEnd = base + ph.vaddr() + ph.memsz();
            long filePagesEnd = roundUp(fileEnd);
            if (ph.filesz() > 0) {
                memory.mapFile(segStart, filePagesEnd - segStart, prot, elf.path(), elf.identity(), ph.offset() & -page);
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
                    memory.mapAnonymous(anonStart, anonEnd - anonStart, prot);
                }
            }
        }
    }

    /** Applies the final protections once relocation is done: segment flags, then PT_GNU_RELRO read-only. */
    void protectFinal(LoadedObject obj, boolean textWasWritable) {
        long base = obj.base();
        if (textWasWritable) {
            for (ProgramHeader ph : obj.elf().loadSegments()) {
                long s = base + (ph.vaddr() & -page);
                long e = roundUp(base + ph.vaddr() + ph.memsz());
                memory.protect(s, e - s, prot(ph));
            }
        }
        obj.elf().relro().ifPresent(r -> {
            long s = base + (r.vaddr() & -page);
            long e = (base + r.vaddr() + r.memsz()) & -page;
            if (e > s) {
                memory.protect(s, e - s, TargetMemory.PROT_READ);
            }
        });
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
