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
        String problem;
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            while (h.hasRemaining() && ch.read(h) > 0) {
                // keep reading
            }
            problem = headerProblem(h, candidate, rejected);
            if (problem != null && problem.isEmpty()) {
                problem = segmentWords(ch, h);
            }
        } catch (IOException e) {
            return null; // cannot open (permissions...): glibc goes on
        }
        if (problem == null) {
            return null;
        }
        if (!problem.isEmpty()) {
            throw new LoadFailure(candidate, problem);
        }
        ElfFile elf;
        try {
            elf = ElfCache.open(p);
        } catch (ElfFormatException e) {
            throw new LoadFailure(candidate, LoadFailure.stripFile(e, p.toString()));
        } catch (IOException e) {
            throw new LoadFailure(candidate, "cannot read file data");
        }
        return new Found(candidate, elf, elf.identity());
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

    /**
     * What glibc says of the program headers before it maps anything (dl-load.c: open_verify
     * reads them, _dl_map_object_from_fd checks each PT_LOAD in order), or "": a table past the
     * end of the file is "cannot read file data", a PT_LOAD whose address and offset disagree
     * modulo the page "ELF load command address/offset not page-aligned". Why here: the ELF
     * reader's own words for these say more, but a search's error is glibc's (dlerror, ld.so's
     * start-up message), and glibc finds these first.
     */
    private static String segmentWords(FileChannel ch, ByteBuffer h) {
        long phoff = h.getLong(32);
        int phnum = h.getShort(56) & 0xffff; // as glibc: e_phnum itself, PN_XNUM or not
        ByteBuffer table = ByteBuffer.allocate(phnum * Elf.PHDR_SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try {
            long size = ch.size();
            if (phoff < 0 || phoff > size || table.capacity() > size - phoff) {
                return "cannot read file data";
            }
            while (table.hasRemaining() && ch.read(table, phoff + table.position()) > 0) {
                // keep reading
            }
        } catch (IOException e) {
            return "cannot read file data";
        }
        if (table.hasRemaining()) {
            return "cannot read file data";
        }
        for (int i = 0; i < phnum; i++) {
            int o = i * Elf.PHDR_SIZE;
            if (table.getInt(o) == Elf.PT_LOAD && ((table.getLong(o + 16) - table.getLong(o + 8)) & (Elf.PAGE_SIZE - 1)) != 0) {
                return "ELF load command address/offset not page-aligned";
            }
        }
        return "";
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
