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
 */
final class StaticTlsLayout {
    private final long reservationSize;
    private final long moduleIdBase;
    private long used;
    private long nextModule;

    StaticTlsLayout(long reservationSize, long moduleIdBase) {
        this.reservationSize = reservationSize;
        this.moduleIdBase = moduleIdBase;
    }

    /** The same layout, to go on placing blocks in a forked child's session. */
    StaticTlsLayout copy() {
        StaticTlsLayout c = new StaticTlsLayout(reservationSize, moduleIdBase);
        c.used = used;
        c.nextModule = nextModule;
        return c;
    }

    /** Assigns module ids and offsets to every object with PT_TLS, in load order. */
    void assign(List<LoadedObject> objects) {
        for (LoadedObject obj : objects) {
            if (obj.isHost()) {
                continue;
            }
            obj.elf().tls().ifPresent(tls -> place(obj, tls));
        }
    }

    void place(LoadedObject obj, ProgramHeader tls) {
        long align = Math.max(1, tls.align());
        if (Long.bitCount(align) != 1) {
            throw new LinkException(obj.name() + ": PT_TLS alignment " + align + " is not a power of two");
        }
        // glibc (_dl_determine_tlsoffset): the block keeps the segment's position modulo its
        // alignment, so tp - offset must be congruent to p_vaddr.
        long firstByte = (-(tls.vaddr() & (align - 1))) & (align - 1);
        long offset = roundUp(used + tls.memsz() - firstByte, align) + firstByte;
        if (offset > reservationSize || offset < 0) {
            throw new LinkException(obj.name() + ": cannot allocate memory in static TLS block");
        }
        used = offset;
        obj.setTls(moduleIdBase + nextModule++, offset, true);
    }

    long used() {
        return used;
    }

    /** The layout's state now, for {@link #reset} (module ids and offsets handed out so far). */
    long[] mark() {
        return new long[] {used, nextModule};
    }

    /**
     * Gives back what was placed since {@code mark}: a dlopen that failed after its objects got
     * TLS (nothing else is placed meanwhile: dlopens are serialised).
     */
    void reset(long[] mark) {
        if (mark == null || mark.length != 2 || mark[0] > used || mark[1] > nextModule) {
            throw new IllegalArgumentException("not a mark of this layout's past");
        }
        used = mark[0];
        nextModule = mark[1];
    }

    static long roundUp(long v, long a) {
        return (v + a - 1) & -a;
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
