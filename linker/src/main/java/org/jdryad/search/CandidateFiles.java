package org.jdryad.search;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfCache;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.elf.FileIdentity;

/**
 * glibc's open_verify for one candidate file: whether it exists and is a regular file, its ELF
 * header words, passing over files of another class or machine, opening it and its identity
 * (device and inode), and the set-user-ID test secure-mode preloads need. Separate from the
 * search order: it decides about one file, never about where to look next.
 *
 * <p>Stateless apart from the working directory relative names are taken against.
 */
final class CandidateFiles {
    private static final String WRONG_CLASS = "wrong ELF class: ";
    private static final String WRONG_MACHINE = "ELF machine ";

    /** A usable candidate: the path as the search spelt it, the opened file and its identity. */
    record Found(String path, ElfFile elf, FileIdentity identity) {
    }

    private final Path workingDirectory;

    CandidateFiles(Path workingDirectory) {
        this.workingDirectory = workingDirectory;
    }

    /**
     * glibc's open_verify: null when the file cannot be opened or is ELF for another class or
     * machine (the search goes on); {@link LoadFailure} when it is unusable in a way glibc reports.
     */
    Found verify(String candidate, List<String> rejected) throws LoadFailure {
        if (candidate.indexOf('\0') >= 0) {
            return null; // no file has such a path (a name from C never holds a NUL: a fuzzer's)
        }
        Path p = resolve(candidate);
        if (!Files.exists(p)) {
            return null;
        }
        if (Files.isDirectory(p)) {
            throw new LoadFailure(candidate, "cannot read file data: Is a directory");
        }
        if (!Files.isRegularFile(p)) {
            // A FIFO or a device: glibc's open would wait for a writer, or read a stream.
            throw new LoadFailure(candidate, "cannot read file data: not a regular file");
        }
        ByteBuffer h = ByteBuffer.allocate(Elf.EHDR_SIZE);
        long size;
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            while (h.hasRemaining() && ch.read(h) > 0) {
                // keep reading
            }
            size = ch.size();
        } catch (IOException e) {
            return null; // cannot open (permissions...): glibc goes on
        }
        String problem = headerProblem(h, candidate, rejected);
        if (problem == null) {
            return null;
        }
        if (problem.isEmpty() && !programHeadersFit(h, size)) {
            problem = "cannot read file data"; // open_verify's read of them comes up short
        }
        if (!problem.isEmpty()) {
            throw new LoadFailure(candidate, problem);
        }
        ElfFile elf;
        try {
            elf = ElfCache.open(p);
        } catch (ElfFormatException e) {
            throw new LoadFailure(candidate, offPageLoadCommand(p, h) ? OFF_PAGE : LoadFailure.stripFile(e, p.toString()));
        } catch (IOException e) {
            throw new LoadFailure(candidate, "cannot read file data");
        }
        return new Found(candidate, elf, elf.identity());
    }

    /** glibc's words for a PT_LOAD whose address and offset disagree modulo the page. */
    private static final String OFF_PAGE = "ELF load command address/offset not page-aligned";

    /** Whether the program header table, as e_phoff and e_phnum say (PN_XNUM or not, as glibc reads it), lies in the file. */
    private static boolean programHeadersFit(ByteBuffer h, long size) {
        long phoff = h.getLong(32);
        long bytes = (long) (h.getShort(56) & 0xffff) * Elf.PHDR_SIZE;
        return phoff >= 0 && phoff <= size && bytes <= size - phoff;
    }

    /**
     * Whether a PT_LOAD's address and offset disagree modulo the page, which glibc's
     * _dl_map_object_from_fd checks before anything the ELF reader refuses a file for (the
     * reader checks it too, in its own words): asked only of a file the reader refused, so a
     * search's error is glibc's (dlerror, ld.so's start-up message). The table lies in the file
     * (programHeadersFit).
     */
    private static boolean offPageLoadCommand(Path p, ByteBuffer h) {
        int phnum = h.getShort(56) & 0xffff;
        ByteBuffer table = ByteBuffer.allocate(phnum * Elf.PHDR_SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long phoff = h.getLong(32);
            while (table.hasRemaining() && ch.read(table, phoff + table.position()) > 0) {
                // keep reading
            }
        } catch (IOException e) {
            return false;
        }
        for (int o = 0; o + Elf.PHDR_SIZE <= table.position(); o += Elf.PHDR_SIZE) {
            if (table.getInt(o) == Elf.PT_LOAD && ((table.getLong(o + 16) - table.getLong(o + 8)) & (Elf.PAGE_SIZE - 1)) != 0) {
                return true;
            }
        }
        return false;
    }

    /** "" when acceptable, null when to be passed over, otherwise glibc's message. */
    private String headerProblem(ByteBuffer h, String candidate, List<String> rejected) {
        String words = headerWords(h);
        if (words.startsWith(WRONG_CLASS) || words.startsWith(WRONG_MACHINE)) {
            rejected.add(candidate + ": " + words);
            return null;
        }
        return words;
    }

    /** Whether the file is set-user-ID, which secure mode asks of a preload (false when it cannot tell). */
    boolean setuid(String path) {
        try {
            Object mode = Files.getAttribute(resolve(path), "unix:mode");
            return (((Number) mode).intValue() & 04000) != 0;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private Path resolve(String path) {
        return workingDirectory.resolve(path);
    }

    /** The words of {@link LibrarySearch#headerWords}, which documents them. */
    static String headerWords(ByteBuffer h) {
        int len = h.position();
        if (len < Elf.EHDR_SIZE) {
            return "file too short";
        }
        h.order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (h.get(0) != 0x7f || h.get(1) != 'E' || h.get(2) != 'L' || h.get(3) != 'F') {
            return "invalid ELF header";
        }
        int cls = h.get(4);
        if (cls != Elf.ELFCLASS64) {
            return WRONG_CLASS + "ELFCLASS" + (cls == 1 ? "32" : cls);
        }
        if (h.get(5) != 1) {
            return "ELF file data encoding not little-endian";
        }
        if (h.get(6) != 1) {
            return "ELF file version ident does not match current one";
        }
        int osabi = h.get(7) & 0xff;
        if (osabi != 0 && osabi != 3) {
            return "ELF file OS ABI invalid";
        }
        int abiver = h.get(8) & 0xff;
        if (!(abiver == 0 || (osabi == 3 && abiver < 5))) {
            return "ELF file ABI version invalid";
        }
        for (int i = 9; i < 16; i++) {
            if (h.get(i) != 0) {
                return "nonzero padding in e_ident";
            }
        }
        if (h.getInt(20) != 1) {
            return "ELF file version does not match current one";
        }
        int machine = h.getShort(18) & 0xffff;
        if (machine != Elf.EM_X86_64) {
            return WRONG_MACHINE + machine + " is not x86-64";
        }
        int type = h.getShort(16) & 0xffff;
        if (type != Elf.ET_DYN && type != Elf.ET_EXEC) {
            return "only ET_DYN and ET_EXEC can be loaded";
        }
        if ((h.getShort(54) & 0xffff) != Elf.PHDR_SIZE) {
            return "ELF file's phentsize not the expected size";
        }
        return "";
    }
}
