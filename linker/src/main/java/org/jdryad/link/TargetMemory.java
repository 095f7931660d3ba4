package org.jdryad.link;

import java.nio.file.Path;
import java.util.function.LongSupplier;
import org.jdryad.elf.FileIdentity;

/**
 * The address space jdryad plans for, as the link core sees it. The agent implements it for a
 * real process; tests can implement it in memory. Protections use the PROT_* bit values.
 */
public interface TargetMemory {
    int PROT_NONE = 0;
    int PROT_READ = 1;
    int PROT_WRITE = 2;
    int PROT_EXEC = 4;

    /** The target's page size. */
    long pageSize();

    /**
     * Reserves {@code length} bytes of address space (PROT_NONE). With {@code fixed} the range must
     * start at {@code address} and not replace an existing mapping; otherwise the address is a hint.
     * Returns the start of the reservation.
     */
    long reserve(long address, long length, boolean fixed);

    /** Maps file bytes privately at a fixed address inside a reservation, checking the file's identity. */
    void mapFile(long address, long length, int prot, Path file, FileIdentity identity, long fileOffset);

    /** Maps zero-filled memory at a fixed address inside a reservation. */
    void mapAnonymous(long address, long length, int prot);

    void protect(long address, long length, int prot);

    void write(long address, byte[] bytes);

    byte[] read(long address, int length);

    /**
     * Reads without the target's cooperation (process_vm_readv: also while a debugger holds it
     * stopped, when a request to the agent would never be answered); null when that cannot be
     * done here (the kernel refuses, the page is not readable, or this memory has no such way).
     */
    default byte[] peek(long address, int length) {
        return null;
    }

    /** Writes 64-bit words: {@code *(u64*)addresses[i] = values[i]} for i below count. */
    void writeWords(long[] addresses, long[] values, int count);

    /**
     * Writes the low 32 bits of each value: {@code *(u32*)addresses[i] = (u32) values[i]} for i
     * below count (R_X86_64_PC32, 32, 32S). By default one {@link #write} each.
     */
    default void writeWords32(long[] addresses, long[] values, int count) {
        for (int i = 0; i < count; i++) {
            long v = values[i];
            write(addresses[i], new byte[] {(byte) v, (byte) (v >> 8), (byte) (v >> 16), (byte) (v >> 24)});
        }
    }

    /**
     * {@link #writeWords} ({@code narrow}: {@link #writeWords32}) without waiting for the
     * target's answer: what is sent after is carried out after, and a failure is thrown by
     * {@link #settle}. The arrays are the target's from now on. By default written at once.
     */
    default void writeWordsAhead(long[] addresses, long[] values, int count, boolean narrow) {
        if (narrow) {
            writeWords32(addresses, values, count);
        } else {
            writeWords(addresses, values, count);
        }
    }

    /** Waits for every request sent ahead (mappings, writes) and throws the first failure among them. */
    default void settle() {
    }

    /**
     * {@link #mapFile} without waiting for the target's answer: what is sent after is carried
     * out after, and a failure is thrown by {@link #settle}. Why: mapping an object's segments
     * took one round trip each (about 50 of llvm-as-14's link). By default mapped at once.
     */
    default void mapFileAhead(long address, long length, int prot, Path file, FileIdentity identity, long fileOffset) {
        mapFile(address, length, prot, file, identity, fileOffset);
    }

    /** {@link #mapAnonymous} without waiting for the answer, as {@link #mapFileAhead}. */
    default void mapAnonymousAhead(long address, long length, int prot) {
        mapAnonymous(address, length, prot);
    }

    /**
     * An object's relative relocations, for the target to carry out from the object's own mapped
     * tables: DT_RELR ({@code relrSize} bytes at {@code relr}, each word marked gets {@code base}
     * added) first, then the {@code relaCount} DT_RELA entries at {@code rela}, all
     * R_X86_64_RELATIVE ({@code *(base + r_offset) = base + r_addend}). {@code runs} are the
     * object's pages as the plan mapped them, (start, end, prot) triples in address order:
     * both tables must lie in readable, non-writable runs and every target in writable ones.
     */
    record RelativeRelocations(long base, long rela, long relaCount, long relr, long relrSize, long[] runs) {
    }

    /**
     * Begins {@code r} in the target (native/relocate.c), which checks every entry first, and
     * returns its answer to come: the number of DT_RELR words relocated, or -1 when it did not
     * (this memory has no such request, or the target refused an entry): then it wrote nothing,
     * and the caller writes the words itself. Why an answer to come: the target's work (faulting
     * in and writing a large library's pages) overlaps the caller's, and whatever is sent to this
     * memory afterwards is carried out after it. By default there is no such request.
     */
    default LongSupplier relocateRelativeAhead(RelativeRelocations r) {
        return () -> -1;
    }

    /** Calls a function in the target with integer arguments and returns %rax. */
    long call(long function, long... args);

    /** Calls each function with no arguments, in order, and returns their %rax (one request, where it can). */
    default long[] callEach(long[] functions) {
        long[] results = new long[functions.length];
        for (int i = 0; i < functions.length; i++) {
            results[i] = call(functions[i]);
        }
        return results;
    }
}
