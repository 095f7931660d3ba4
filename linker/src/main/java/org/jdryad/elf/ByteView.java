package org.jdryad.elf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A range-checked, little-endian view of a file's bytes. Every accessor takes a {@code long}
 * file offset and checks it (and the width read) against the bytes that back the view before
 * touching the buffer, so a bad offset becomes an {@link ElfFormatException} naming the file,
 * never an IndexOutOfBoundsException.
 */
final class ByteView {
    private final Path file;
    private final ByteBuffer bytes;
    private final long size;

    ByteView(Path file, ByteBuffer bytes) {
        this.file = file;
        this.bytes = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        this.size = this.bytes.capacity();
    }

    Path file() {
        return file;
    }

    long size() {
        return size;
    }

    /** True when {@code [offset, offset+length)} lies inside the file (overflow-safe). */
    boolean contains(long offset, long length) {
        return offset >= 0 && length >= 0 && offset <= size && length <= size - offset;
    }

    /** Checks that {@code [offset, offset+length)} lies inside the file, naming {@code what} otherwise. */
    void require(long offset, long length, String what) {
        if (!contains(offset, length)) {
            throw malformed(offset, String.format("%s (0x%x bytes at offset 0x%x) extends past the end of the file (0x%x bytes)",
                    what, length, offset, size));
        }
    }

    ElfFormatException malformed(long offset, String what) {
        return new ElfFormatException(file, offset, what);
    }

    int u8(long offset) {
        require(offset, 1, "byte");
        return bytes.get((int) offset) & 0xff;
    }

    int u16(long offset) {
        require(offset, 2, "16-bit field");
        return bytes.getShort((int) offset) & 0xffff;
    }

    long u32(long offset) {
        require(offset, 4, "32-bit field");
        return bytes.getInt((int) offset) & 0xffffffffL;
    }

    int s32(long offset) {
        require(offset, 4, "32-bit field");
        return bytes.getInt((int) offset);
    }

    long u64(long offset) {
        require(offset, 8, "64-bit field");
        return bytes.getLong((int) offset);
    }

    /** Copies {@code length} bytes at {@code offset}. */
    byte[] copy(long offset, long length, String what) {
        require(offset, length, what);
        if (length > Integer.MAX_VALUE - 16) {
            throw malformed(offset, what + " is too large");
        }
        byte[] out = new byte[(int) length];
        bytes.get((int) offset, out);
        return out;
    }

    /** A read-only slice (shares the mapping). */
    ByteBuffer slice(long offset, long length, String what) {
        require(offset, length, what);
        // asReadOnlyBuffer() resets the byte order to big-endian: set it last.
        return bytes.slice((int) offset, (int) length).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Reads a NUL-terminated string starting at {@code offset} that must end before {@code limit}
     * (an exclusive file offset, e.g. the end of a string table).
     */
    String cString(long offset, long limit, String what) {
        long end = Math.min(limit, size);
        if (offset < 0 || offset >= end) {
            throw malformed(offset, what + " starts outside its string table");
        }
        int start = (int) offset;
        int i = start;
        int stop = (int) end;
        while (i < stop && bytes.get(i) != 0) {
            i++;
        }
        if (i == stop) {
            throw malformed(offset, what + " is not NUL-terminated within its string table");
        }
        byte[] b = new byte[i - start];
        bytes.get(start, b);
        return new String(b, StandardCharsets.UTF_8);
    }

    /**
     * Compares the NUL-terminated string at {@code offset} with {@code name} without creating a
     * String; false when the offset is outside [0, limit).
     */
    boolean cStringEquals(long offset, long limit, byte[] name) {
        long end = Math.min(limit, size);
        if (offset < 0 || name.length >= end - offset) {
            return false;
        }
        int o = (int) offset;
        for (int i = 0; i < name.length; i++) {
            if (bytes.get(o + i) != name[i]) {
                return false;
            }
        }
        return bytes.get(o + name.length) == 0;
    }
}
