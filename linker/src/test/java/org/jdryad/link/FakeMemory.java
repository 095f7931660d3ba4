package org.jdryad.link;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.LongUnaryOperator;
import org.jdryad.elf.FileIdentity;

/**
 * An in-memory {@link TargetMemory}: a sparse map of 4 KiB pages. {@code reserve} hands out
 * PROT_NONE pages (fixed ranges must be free), {@code mapFile} copies the real file bytes,
 * protections are enforced on every read and write as the agent's process_vm_* calls would
 * enforce them, and {@code call} is scripted (unsupported unless a handler is set). Every
 * 64-bit word written through {@link #writeWords} is remembered, so tests can tell a relocated
 * word from one that merely came from the file.
 */
final class FakeMemory implements TargetMemory {
    static final long PAGE = 4096;

    private static final class Page {
        byte[] data; // null: reserved only
        int prot = PROT_NONE;
    }

    private final TreeMap<Long, Page> pages = new TreeMap<>();
    private final Map<Long, Long> words = new LinkedHashMap<>();
    private final List<Long> calls = new ArrayList<>();
    private long next;
    private LongUnaryOperator callHandler;

    FakeMemory() {
        this(0x7e00_0000_0000L);
    }

    FakeMemory(long firstHint) {
        this.next = firstHint;
    }

    /** Scripts {@link #call}: the handler maps a function address to the value returned in %rax. */
    FakeMemory onCall(LongUnaryOperator handler) {
        this.callHandler = handler;
        return this;
    }

    @Override
    public long pageSize() {
        return PAGE;
    }

    @Override
    public long reserve(long address, long length, boolean fixed) {
        if (length <= 0) {
            throw new IllegalArgumentException("reserve of " + length + " bytes");
        }
        long len = roundUp(length);
        long start;
        if (fixed) {
            requireAligned(address);
            for (long a = address; a < address + len; a += PAGE) {
                if (pages.containsKey(a)) {
                    throw new IllegalStateException("fixed reservation at 0x" + Long.toHexString(address)
                            + " would replace the mapping at 0x" + Long.toHexString(a));
                }
            }
            start = address;
        } else {
            start = next;
            next += len + 16 * PAGE; // a gap between reservations, as mmap often leaves none: catch overruns
        }
        for (long a = start; a < start + len; a += PAGE) {
            pages.put(a, new Page());
        }
        return start;
    }

    @Override
    public void mapFile(long address, long length, int prot, Path file, FileIdentity identity, long fileOffset) {
        requireAligned(address);
        if (fileOffset % PAGE != 0) {
            throw new IllegalArgumentException("file offset 0x" + Long.toHexString(fileOffset) + " is not page-aligned");
        }
        try {
            if (!FileIdentity.of(file).equals(identity)) {
                throw new IllegalStateException(file + ": identity changed");
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
                for (long a = address; a < address + roundUp(length); a += PAGE) {
                    Page p = existing(a);
                    byte[] data = new byte[(int) PAGE];
                    ByteBuffer buf = ByteBuffer.wrap(data);
                    long pos = fileOffset + (a - address);
                    while (buf.hasRemaining()) {
                        int n = ch.read(buf, pos + buf.position());
                        if (n <= 0) {
                            break; // past the end of the file: zeros
                        }
                    }
                    p.data = data;
                    p.prot = prot;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void mapAnonymous(long address, long length, int prot) {
        requireAligned(address);
        for (long a = address; a < address + roundUp(length); a += PAGE) {
            Page p = existing(a);
            p.data = new byte[(int) PAGE];
            p.prot = prot;
        }
    }

    @Override
    public void protect(long address, long length, int prot) {
        requireAligned(address);
        for (long a = address; a < address + roundUp(length); a += PAGE) {
            existing(a).prot = prot;
        }
    }

    @Override
    public void write(long address, byte[] bytes) {
        for (int i = 0; i < bytes.length; ) {
            long a = address + i;
            Page p = accessible(a, PROT_WRITE, "write");
            int off = (int) (a & (PAGE - 1));
            int n = (int) Math.min(bytes.length - i, PAGE - off);
            System.arraycopy(bytes, i, p.data, off, n);
            i += n;
        }
    }

    @Override
    public byte[] read(long address, int length) {
        byte[] out = new byte[length];
        for (int i = 0; i < length; ) {
            long a = address + i;
            Page p = accessible(a, PROT_READ, "read");
            int off = (int) (a & (PAGE - 1));
            int n = (int) Math.min(length - i, PAGE - off);
            System.arraycopy(p.data, off, out, i, n);
            i += n;
        }
        return out;
    }

    @Override
    public void writeWords(long[] addresses, long[] values, int count) {
        for (int i = 0; i < count; i++) {
            write(addresses[i], le(values[i]));
            words.put(addresses[i], values[i]);
        }
    }

    @Override
    public long call(long function, long... args) {
        calls.add(function);
        if (callHandler == null) {
            throw new UnsupportedOperationException("call 0x" + Long.toHexString(function) + " in a fake address space");
        }
        return callHandler.applyAsLong(function);
    }

    // ------------------------------------------------------------------------------------------
    // For assertions

    /** The 64-bit word at {@code address} (protections ignored, the page must hold data). */
    long u64(long address) {
        long v = 0;
        for (int i = 7; i >= 0; i--) {
            long a = address + i;
            Page p = pages.get(a & -PAGE);
            if (p == null || p.data == null) {
                throw new IllegalStateException("no data at 0x" + Long.toHexString(a));
            }
            v = (v << 8) | (p.data[(int) (a & (PAGE - 1))] & 0xff);
        }
        return v;
    }

    /** The last value written to {@code address} by writeWords, or null. */
    Long wordWritten(long address) {
        return words.get(address);
    }

    Map<Long, Long> wordsWritten() {
        return words;
    }

    /** A digest (SHA-256) of every page that holds data, by address. */
    Map<Long, String> pageDigests() {
        Map<Long, String> out = new TreeMap<>();
        try {
            java.security.MessageDigest md = java.security.MessageDigest.getInstance("SHA-256");
            pages.forEach((a, p) -> {
                if (p.data != null) {
                    out.put(a, java.util.HexFormat.of().formatHex(md.digest(p.data)));
                }
            });
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        return out;
    }

    List<Long> calls() {
        return calls;
    }

    /** The protection of the page holding {@code address}, or -1 when nothing is reserved there. */
    int protAt(long address) {
        Page p = pages.get(address & -PAGE);
        return p == null ? -1 : p.prot;
    }

    boolean isMapped(long address) {
        Page p = pages.get(address & -PAGE);
        return p != null && p.data != null;
    }

    // ------------------------------------------------------------------------------------------

    private Page existing(long pageAddress) {
        Page p = pages.get(pageAddress);
        if (p == null) {
            throw new IllegalStateException("0x" + Long.toHexString(pageAddress) + " is not inside a reservation");
        }
        return p;
    }

    private Page accessible(long address, int need, String what) {
        Page p = pages.get(address & -PAGE);
        if (p == null || p.data == null || (p.prot & need) == 0) {
            throw new IllegalStateException(what + " at 0x" + Long.toHexString(address) + ": "
                    + (p == null ? "unmapped" : p.data == null ? "reserved only" : "page protection " + p.prot));
        }
        return p;
    }

    private static void requireAligned(long address) {
        if ((address & (PAGE - 1)) != 0) {
            throw new IllegalArgumentException("0x" + Long.toHexString(address) + " is not page-aligned");
        }
    }

    private static long roundUp(long v) {
        return (v + PAGE - 1) & -PAGE;
    }

    static byte[] le(long v) {
        byte[] b = new byte[8];
        for (int i = 0; i < 8; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        return b;
    }
}
