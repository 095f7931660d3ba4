package org.jdryad.elf;

import java.nio.file.Path;

/**
 * The one error type of the ELF reader: names the file, says what is malformed and where.
 * {@link #kind()} lets callers word well-known cases the way glibc's tools do
 * (a file that is not ELF at all, a 32-bit file, another architecture).
 */
public final class ElfFormatException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** What kind of problem the file has. */
    public enum Kind {
        /** Not an ELF file (bad magic, or too short to hold an ELF header). */
        NOT_ELF,
        /** ELF, but not ELFCLASS64. */
        WRONG_CLASS,
        /** ELF64, but not little-endian x86-64. */
        WRONG_MACHINE,
        /** ELF64 x86-64 whose structures are inconsistent or out of bounds. */
        MALFORMED
    }

    private final transient Path file;
    private final long offset;
    private final Kind kind;

    public ElfFormatException(Path file, Kind kind, long offset, String what) {
        super(file + ": " + what + (offset >= 0 ? String.format(" (at file offset 0x%x)", offset) : ""));
        this.file = file;
        this.kind = kind;
        this.offset = offset;
    }

    public ElfFormatException(Path file, long offset, String what) {
        this(file, Kind.MALFORMED, offset, what);
    }

    public Path file() {
        return file;
    }

    /** The file offset the problem was found at, or -1 when it has no single place. */
    public long offset() {
        return offset;
    }

    public Kind kind() {
        return kind;
    }
}
