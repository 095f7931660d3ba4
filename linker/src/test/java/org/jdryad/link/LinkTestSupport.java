package org.jdryad.link;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.debug.BindingHistory;
import org.jdryad.elf.ElfFile;
import org.jdryad.fixtures.ProcessRunner;
import org.jdryad.search.DependencyGraph;
import org.jdryad.search.GraphEntry;
import org.jdryad.search.LibrarySearch;
import org.jdryad.search.LoadedLibrary;
import org.jdryad.search.SearchConfig;

/**
 * Shared helpers of the link core's unit tests: LoadedObjects from files, the search graph as
 * LoadedObjects, and what binutils' {@code readelf -W} says about a file (parsed here, so that
 * expectations do not come from jdryad's own ELF reader).
 */
final class LinkTestSupport {
    static final Path LIBC = Path.of("/lib/x86_64-linux-gnu/libc.so.6");
    static final Path LD_SO = Path.of("/lib64/ld-linux-x86-64.so.2");
    static final Path LIBZ = Path.of("/usr/lib/x86_64-linux-gnu/libz.so.1");
    /** Where the fake host objects live: fixed, far from the fake memory's own reservations. */
    static final long LIBC_BASE = 0x7f10_0000_0000L;
    static final long LD_SO_BASE = 0x7f20_0000_0000L;
    static final long TLSDESC_RETURN = 0x7fa0_0000_1000L;
    static final long TLS_MODID_BASE = 1;

    private static final Map<Path, ElfFile> FILES = new ConcurrentHashMap<>();

    private LinkTestSupport() {
    }

    static ElfFile elf(Path p) {
        return FILES.computeIfAbsent(p.toAbsolutePath().normalize(), q -> {
            try {
                return ElfFile.open(q);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    /** A jdryad object (not yet mapped). */
    static LoadedObject object(Path p, int index) {
        return new LoadedObject(elf(p), p.toString(), false, false, index);
    }

    static LoadedObject executable(Path p) {
        return new LoadedObject(elf(p), p.toString(), false, true, 0);
    }

    /** A host object "loaded by glibc" at a fixed fake base. */
    static LoadedObject host(Path p, int index, long base) {
        LoadedObject o = new LoadedObject(elf(p), p.toString(), true, false, index);
        o.setBase(base);
        o.setMapping(base + o.elf().lowestLoadAddress(FakeMemory.PAGE), o.elf().mappedSpan(FakeMemory.PAGE));
        return o;
    }

    static LoadedObject libc(int index) {
        return host(LIBC, index, LIBC_BASE);
    }

    static LoadedObject ldso(int index) {
        return host(LD_SO, index, LD_SO_BASE);
    }

    static LinkSession session(FakeMemory memory, Map<String, Long> interposers, long tlsReservation,
                               BindingHistory history, List<String> warnings) {
        return new LinkSession(memory, interposers, TLSDESC_RETURN, tlsReservation, TLS_MODID_BASE, history,
                warnings::add);
    }

    /**
     * The program's search graph as LoadedObjects in load order (the program first), each with
     * its resolved DT_NEEDED dependencies in DT_NEEDED order; host objects as the search marks them.
     */
    static List<LoadedObject> graph(Path program) {
        DependencyGraph g;
        try {
            g = new LibrarySearch(SearchConfig.builder().build()).resolve(program);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (!g.complete()) {
            throw new IllegalStateException(program + ": incomplete search graph: " + g.missingNames() + " " + g.error());
        }
        List<LoadedObject> out = new ArrayList<>();
        Map<LoadedLibrary, LoadedObject> byLib = new IdentityHashMap<>();
        int i = 0;
        for (LoadedLibrary lib : g.objects()) {
            boolean exe = lib.kind() == LoadedLibrary.Kind.EXECUTABLE;
            LoadedObject o = new LoadedObject(lib.elf(), lib.path(), lib.host(), exe, i++);
            out.add(o);
            byLib.put(lib, o);
        }
        for (LoadedLibrary lib : g.objects()) {
            for (GraphEntry dep : lib.dependencies()) {
                if (dep instanceof LoadedLibrary l && byLib.containsKey(l)) {
                    byLib.get(lib).dependencies().add(byLib.get(l));
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------
    // readelf

    static String readelf(String option, Path file) {
        return run(List.of("readelf", "-W", option, file.toString()));
    }

    static String run(List<String> cmd) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("LC_ALL", "C");
            Process p = pb.start();
            p.getOutputStream().close();
            String out;
            try (InputStream in = p.getInputStream()) {
                out = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
            if (p.waitFor() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed:\n" + out);
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** One line of {@code readelf -rW}: symbol name as readelf prints it (name@VERSION), or null. */
    record Reloc(String section, long offset, String type, String symbol, long addend) {
        String name() {
            return symbol == null ? null : symbol.split("@", 2)[0];
        }

        String version() {
            int at = symbol == null ? -1 : symbol.indexOf('@');
            return at < 0 ? null : symbol.substring(at + 1).replace("@", "");
        }
    }

    private static final Pattern SECTION = Pattern.compile("^Relocation section '([^']+)'.*");
    private static final Pattern RELA = Pattern.compile(
            "^([0-9a-f]{16})\\s+([0-9a-f]{16})\\s+(R_X86_64_\\w+)\\s+(?:([0-9a-f]{16})\\s+(\\S+)\\s+([+-])\\s+([0-9a-f]+)|([0-9a-f]+))\\s*$");
    private static final Pattern RELR_ADDRESS = Pattern.compile("^([0-9a-f]{16})\\s*$");

    static List<Reloc> relocations(Path file) {
        List<Reloc> out = new ArrayList<>();
        String section = null;
        for (String line : readelf("-r", file).split("\n")) {
            Matcher s = SECTION.matcher(line);
            if (s.matches()) {
                section = s.group(1);
                continue;
            }
            Matcher m = RELA.matcher(line);
            if (m.matches()) {
                long off = Long.parseUnsignedLong(m.group(1), 16);
                if (m.group(5) != null) {
                    long add = Long.parseUnsignedLong(m.group(7), 16);
                    out.add(new Reloc(section, off, m.group(3), m.group(5), m.group(6).equals("-") ? -add : add));
                } else {
                    out.add(new Reloc(section, off, m.group(3), null, Long.parseUnsignedLong(m.group(8), 16)));
                }
                continue;
            }
            Matcher r = RELR_ADDRESS.matcher(line);
            if (r.matches() && ".relr.dyn".equals(section)) {
                out.add(new Reloc(section, Long.parseUnsignedLong(r.group(1), 16), "RELR", null, 0));
            }
        }
        return out;
    }

    /** One line of {@code readelf --dyn-syms -W}. */
    record DynSym(int index, long value, long size, String type, String bind, String ndx, String name, String version,
                  boolean defaultVersion) {
        boolean defined() {
            return !ndx.equals("UND");
        }
    }

    private static final Pattern DYNSYM = Pattern.compile(
            "^\\s*(\\d+): ([0-9a-f]{16})\\s+(\\S+)\\s+(\\w+)\\s+(\\w+)\\s+(\\w+)\\s+(\\S+)\\s+(\\S+).*$");

    static List<DynSym> dynamicSymbols(Path file) {
        List<DynSym> out = new ArrayList<>();
        for (String line : readelf("--dyn-syms", file).split("\n")) {
            Matcher m = DYNSYM.matcher(line);
            if (!m.matches()) {
                continue;
            }
            String full = m.group(8);
            String name = full;
            String version = null;
            boolean dflt = false;
            int at = full.indexOf('@');
            if (at >= 0) {
                name = full.substring(0, at);
                dflt = full.startsWith("@@", at);
                version = full.substring(at + (dflt ? 2 : 1));
            }
            String size = m.group(3);
            long sz = size.startsWith("0x") ? Long.parseLong(size.substring(2), 16) : Long.parseLong(size);
            out.add(new DynSym(Integer.parseInt(m.group(1)), Long.parseUnsignedLong(m.group(2), 16), sz, m.group(4),
                    m.group(5), m.group(7), name, version, dflt));
        }
        return out;
    }

    /** The defined symbol {@code name} (of {@code version}, or the default/unversioned one when null). */
    static Optional<DynSym> definition(List<DynSym> syms, String name, String version) {
        for (DynSym s : syms) {
            if (s.defined() && s.name().equals(name) && !s.bind().equals("LOCAL")
                    && (version == null ? s.version() == null || s.defaultVersion() : version.equals(s.version()))) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    /** A program header line of {@code readelf -lW}. */
    record Segment(String type, long offset, long vaddr, long filesz, long memsz, long align) {
    }

    private static final Pattern PHDR = Pattern.compile(
            "^\\s*(\\w+)\\s+0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) 0x([0-9a-f]+) .{3} 0x([0-9a-f]+)\\s*$");

    static List<Segment> segments(Path file) {
        List<Segment> out = new ArrayList<>();
        for (String line : readelf("-l", file).split("\n")) {
            Matcher m = PHDR.matcher(line);
            if (m.matches()) {
                out.add(new Segment(m.group(1), Long.parseLong(m.group(2), 16), Long.parseLong(m.group(3), 16),
                        Long.parseLong(m.group(5), 16), Long.parseLong(m.group(6), 16), Long.parseLong(m.group(7), 16)));
            }
        }
        return out;
    }

    static Segment segment(Path file, String type) {
        return segments(file).stream().filter(s -> s.type().equals(type)).findFirst()
                .orElseThrow(() -> new IllegalStateException(file + " has no " + type));
    }

    /** The 64-bit word at link-time address {@code vaddr}, read from the file through readelf's PT_LOAD list. */
    static long fileWord(Path file, long vaddr) {
        for (Segment s : segments(file)) {
            if (s.type().equals("LOAD") && vaddr >= s.vaddr() && vaddr + 8 <= s.vaddr() + s.filesz()) {
                try (var ch = java.nio.channels.FileChannel.open(file)) {
                    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                    ch.read(b, s.offset() + (vaddr - s.vaddr()));
                    return b.getLong(0);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
        throw new IllegalStateException(file + ": 0x" + Long.toHexString(vaddr) + " is not file-backed");
    }

    // ------------------------------------------------------------------------------------------
    // Native runs

    /** Runs a command natively with {@code extra} in the environment and returns stderr (LD_DEBUG's output). */
    static ProcessRunner.Result runNative(List<String> cmd, Map<String, String> extra) {
        Path dir;
        try {
            dir = Files.createTempDirectory("jdryad-linktest-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            return ProcessRunner.run(cmd, ProcessRunner.environment(dir, extra), dir, Duration.ofSeconds(60));
        } finally {
            try {
                Files.deleteIfExists(dir);
            } catch (IOException ignored) {
                // a scratch directory
            }
        }
    }
}
