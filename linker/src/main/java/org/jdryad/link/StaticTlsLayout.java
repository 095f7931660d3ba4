package org.jdryad.link;

import java.util.List;
import org.jdryad.elf.ProgramHeader;

/**
 * Places the TLS blocks of jdryad objects in the agent's static TLS reservation, the
 * {@code reservationSize} bytes directly below the thread pointer (x86-64 TLS variant II).
 *
 * <p>The executable comes first and must land exactly where the static linker assumed when it
 * computed its local-exec offsets as module 1: at {@code tp - roundup(p_memsz, p_align)}.
 * Shared objects follow further down, each block aligned to its p_align, exactly as glibc's
 * {@code _dl_determine_tlsoffset} packs initial-exec TLS.
 *
 * <p>dlclose gives a block and its module id back ({@link #release}); later dlopens reuse the
 * lowest freed range that holds them (glibc frees only the topmost block, which this includes),
 * so dlopen/dlclose cycles never exhaust the reservation. A dlopened object that does not fit
 * gets a module id without an offset, dynamic TLS the agent allocates per thread, unless its
 * initial-exec code needs static TLS (DF_STATIC_TLS), as glibc decides.
 */
final class StaticTlsLayout {
    private final long reservationSize;
    private final long moduleIdBase;
    private long used;
    /** Ranges (lo, hi] of offsets below tp that dlclose gave back, below {@link #used}, by lo. */
    private final java.util.TreeMap<Long, Long> free = new java.util.TreeMap<>();
    /** Module indices dlclose gave back (reused lowest first, as glibc's _dl_next_tls_modid). */
    private final java.util.TreeSet<Long> freeModules = new java.util.TreeSet<>();
    private long nextModule;
    /** Each placed object's range (lo, hi] below tp, for {@link #release}. */
    private final java.util.Map<LoadedObject, long[]> placed = new java.util.IdentityHashMap<>();

    /** Every thread pointer's alignment (the reservation's): a block aligned beyond it cannot be static. */
    private long threadPointerAlignment = 1L << 62; // no limit until the agent is known

    StaticTlsLayout(long reservationSize, long moduleIdBase) {
        this.reservationSize = reservationSize;
        this.moduleIdBase = moduleIdBase;
    }

    /** The same layout, to go on placing blocks in a forked child's session (objects are shared). */
    StaticTlsLayout copy() {
        StaticTlsLayout c = new StaticTlsLayout(reservationSize, moduleIdBase);
        c.used = used;
        c.nextModule = nextModule;
        c.free.putAll(free);
        c.freeModules.addAll(freeModules);
        placed.forEach((o, range) -> c.placed.put(o, range.clone()));
        c.threadPointerAlignment = threadPointerAlignment;
        return c;
    }

    void setThreadPointerAlignment(long alignment) {
        this.threadPointerAlignment = alignment;
    }

    /** Assigns module ids and offsets to every object with PT_TLS, in load order. */
    void assign(List<LoadedObject> objects) {
        assign(objects, false);
    }

    /**
     * As {@link #assign(List)}; with {@code dynamicAllowed} (a dlopen) an object that does not fit
     * gets dynamic TLS instead (a module id, no offset), unless it asks for static TLS
     * (DF_STATIC_TLS: its initial-exec accesses need an offset from tp), as glibc's dlopen.
     */
    void assign(List<LoadedObject> objects, boolean dynamicAllowed) {
        for (LoadedObject obj : objects) {
            if (obj.isHost()) {
                continue;
            }
            obj.elf().tls().ifPresent(tls -> place(obj, tls, dynamicAllowed && !needsStaticTls(obj)));
        }
    }

    private static boolean needsStaticTls(LoadedObject obj) {
        return obj.isExecutable() || obj.dynamic().map(d -> (d.flags() & org.jdryad.elf.Elf.DF_STATIC_TLS) != 0)
                .orElse(false);
    }

    void place(LoadedObject obj, ProgramHeader tls) {
        place(obj, tls, false);
    }

    private void place(LoadedObject obj, ProgramHeader tls, boolean dynamicAllowed) {
        // Any p_align, as glibc takes it: offsets round up by division, and the first byte's
        // offset masks with align - 1 even where that is no power of two less one.
        long align = Math.max(1, tls.align());
        if (tls.memsz() < 0 || (tls.memsz() > reservationSize || align > threadPointerAlignment) && !dynamicAllowed) {
            throw new LinkException(obj.name() + ": cannot allocate memory in static TLS block");
        }
        // glibc (_dl_determine_tlsoffset): the block keeps the segment's position modulo its
        // alignment, so tp - offset must be congruent to p_vaddr.
        long firstByte = (-(tls.vaddr() & (align - 1))) & (align - 1);
        long offset = align > threadPointerAlignment ? -1 : fitInFreed(tls.memsz(), align, firstByte);
        if (offset < 0) {
            offset = roundUp(used + tls.memsz() - firstByte, align) + firstByte;
            if (offset > reservationSize || offset < 0 || align > threadPointerAlignment) {
                if (!dynamicAllowed) {
                    throw new LinkException(obj.name() + ": cannot allocate memory in static TLS block");
                }
                obj.setTls(moduleIdBase + takeModule(), 0, false);
                return;
            }
            // The block takes its alignment padding with it: given back, it all goes.
            placed.put(obj, new long[] {used, offset});
            used = offset;
        } else {
            placed.put(obj, new long[] {offset - tls.memsz(), offset});
        }
        obj.setTls(moduleIdBase + takeModule(), offset, true);
    }

    /** The lowest offset in a freed range that holds the block, taken out of the range; -1: none. */
    private long fitInFreed(long memsz, long align, long firstByte) {
        for (var e : free.entrySet()) {
            long lo = e.getKey();
            long hi = e.getValue();
            long offset = roundUp(lo + memsz - firstByte, align) + firstByte;
            if (offset <= hi && offset - memsz >= lo) {
                free.remove(lo);
                if (offset - memsz > lo) {
                    free.put(lo, offset - memsz);
                }
                if (hi > offset) {
                    free.put(offset, hi);
                }
                return offset;
            }
        }
        return -1;
    }

    private long takeModule() {
        Long m = freeModules.pollFirst();
        return m != null ? m : nextModule++;
    }

    /**
     * Gives back {@code obj}'s block and module id (dlclose unloaded it, or its dlopen failed):
     * a later dlopen reuses them. Its offset and module id are cleared.
     */
    void release(LoadedObject obj) {
        if (obj.isHost() || obj.tlsModuleId() == 0) {
            return;
        }
        long m = obj.tlsModuleId() - moduleIdBase;
        long[] range = placed.remove(obj);
        if (range != null) {
            free(range[0], range[1]);
        }
        if (m >= 0 && m < nextModule) {
            freeModules.add(m);
        }
        obj.setTls(0, 0, false);
    }

    /** Adds (lo, hi] to the freed ranges, merged with its neighbours; the top one lowers {@link #used}. */
    private void free(long lo, long hi) {
        if (hi <= lo) {
            return;
        }
        var below = free.floorEntry(lo);
        if (below != null && below.getValue() >= lo) {
            lo = below.getKey();
            hi = Math.max(hi, below.getValue());
            free.remove(below.getKey());
        }
        var above = free.ceilingEntry(lo);
        while (above != null && above.getKey() <= hi) {
            hi = Math.max(hi, above.getValue());
            free.remove(above.getKey());
            above = free.ceilingEntry(lo);
        }
        if (hi >= used) {
            used = lo;
        } else {
            free.put(lo, hi);
        }
    }

    long used() {
        return used;
    }

    static long roundUp(long v, long a) {
        return v + Math.floorMod(-v, a); // glibc's roundup, by division: a need not be a power of two
    }

    /**
     * Composes the static TLS image of the blocks placed so far: {@link #used()} bytes where byte
     * {@code i} is the initial value of address {@code tp - used + i}. Each block gets its
     * (relocated) .tdata bytes, read from the target, and zeros for .tbss.
     */
    byte[] composeImage(List<LoadedObject> objects, TargetMemory memory) {
        if (used > Integer.MAX_VALUE) {
            throw new LinkException("static TLS is too large");
        }
        byte[] image = new byte[(int) used];
        for (LoadedObject obj : objects) {
            if (obj.isHost() || !obj.hasStaticTls()) {
                continue;
            }
            ProgramHeader tls = obj.elf().tls().orElseThrow();
            if (tls.filesz() == 0) {
                continue;
            }
            if (tls.filesz() > tls.memsz() || tls.filesz() > Integer.MAX_VALUE) {
                throw new LinkException(obj.name() + ": PT_TLS file size exceeds its memory size");
            }
            // The initialization image is read from the object's mapped pages.
            if (!obj.pages().allows(obj.base() + tls.vaddr(), tls.filesz(), TargetMemory.PROT_READ)) {
                throw new LinkException(obj.name() + ": PT_TLS initialization image lies outside the object's segments");
            }
            byte[] init = memory.read(obj.base() + tls.vaddr(), (int) tls.filesz());
            System.arraycopy(init, 0, image, (int) (used - obj.tlsOffset()), init.length);
        }
        return image;
    }
}
