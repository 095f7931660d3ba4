package org.jdryad.link;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jdryad.debug.BindingHistory;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.elf.ElfMutator;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.FuzzSeeds;
import org.junit.jupiter.api.BeforeAll;

/**
 * Coverage-guided fuzzing of link planning over an in-memory address space: a real object (a
 * fixture or libz) is mutated by {@link ElfMutator} (relocation entries, symbols, dynamic entries,
 * segments, RELR words, or anything the reader's mutations touch), written to a file, and mapped,
 * laid out for static TLS, relocated (eagerly or with lazy jump slots, which are then bound one by
 * one as first calls would), protected and given its TLS image, against its unmutated dependencies
 * and glibc's libc and ld.so as host objects. {@link FuzzMemory} holds the plan to the agent's
 * contract (writes only to pages the plan mapped writable, calls only into executable memory).
 * Every input must end in success, LinkException or ElfFormatException; a contract violation,
 * any other exception, an OutOfMemoryError or a hang is a finding.
 */
class LinkFuzzTest {
    private static final Map<String, Long> INTERPOSERS = Map.of("__tls_get_addr", 0x7fa0_0000_2000L, "dlopen",
            0x7fa0_0000_2100L);
    private static final long LAZY_TRAMPOLINE = 0x7fa0_0000_3000L;

    /** A seed object and the unmutated jdryad objects it needs, in load order. */
    private record Seed(Path path, byte[] bytes, List<Path> deps, List<byte[]> depBytes) {
    }

    private static volatile List<Seed> pool;
    private static Path scratch;

    @BeforeAll
    static void setUp() throws IOException {
        FuzzSeeds.freshCorpus(LinkFuzzTest.class);
        Path shm = Path.of("/dev/shm");
        scratch = Files.createTempDirectory(Files.isDirectory(shm) && Files.isWritable(shm) ? shm
                : Path.of(System.getProperty("java.io.tmpdir")), "jdryad-link-fuzz-");
        scratch.toFile().deleteOnExit();
    }

    static List<Seed> pool() {
        List<Seed> p = pool;
        if (p == null) {
            List<Seed> s = new ArrayList<>();
            add(s, FixtureCatalog.linkLibRel(), FixtureCatalog.linkLibRdep());
            add(s, FixtureCatalog.linkLibRdep());
            add(s, FixtureCatalog.copyRelocNoPie(), FixtureCatalog.libdata());
            add(s, FixtureCatalog.linkCanonProgram(), FixtureCatalog.linkLibCanon());
            add(s, FixtureCatalog.linkVersionsProgram(), FixtureCatalog.linkLibVersioned());
            add(s, FixtureCatalog.linkTlsExe(), FixtureCatalog.linkLibTlsA(), FixtureCatalog.linkLibTlsB());
            add(s, FixtureCatalog.libtlsDesc());
            add(s, FixtureCatalog.libtlsIe());
            add(s, FixtureCatalog.libifunc());
            add(s, FixtureCatalog.librelr());
            add(s, FixtureCatalog.helloPie());
            add(s, FixtureCatalog.helloNow());
            add(s, LinkTestSupport.LIBZ);
            p = List.copyOf(s);
            pool = p;
        }
        return p;
    }

    private static void add(List<Seed> s, Path path, Path... deps) {
        s.add(new Seed(path, FuzzSeeds.read(path), List.of(deps), java.util.Arrays.stream(deps).map(FuzzSeeds::read).toList()));
    }

    @FuzzTest(maxDuration = "10s")
    void relocateMutatedObject(FuzzedDataProvider data) throws IOException {
        List<Seed> seeds = pool();
        Seed seed = seeds.get(data.consumeInt(0, seeds.size() - 1));
        byte[] bytes = data.consumeInt(0, 3) == 0 ? ElfMutator.mutate(seed.bytes(), data, 4)
                : ElfMutator.mutateForLink(seed.bytes(), data, 6);
        Path file = Files.createTempFile(scratch, "obj-", ".so");
        try {
            Files.write(file, bytes);
            link(file, bytes, seed, data);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static void link(Path file, byte[] bytes, Seed seed, FuzzedDataProvider data) throws IOException {
        ElfFile elf;
        try {
            elf = ElfFile.open(file);
        } catch (ElfFormatException e) {
            return;
        }
        FuzzMemory mem = new FuzzMemory();
        mem.file(file, elf.identity(), bytes);
        List<LoadedObject> objects = new ArrayList<>();
        objects.add(new LoadedObject(elf, file.toString(), false, elf.type() == Elf.ET_EXEC, 0));
        for (int i = 0; i < seed.deps().size(); i++) {
            Path dep = seed.deps().get(i);
            ElfFile d = LinkTestSupport.elf(dep);
            mem.file(d.path(), d.identity(), seed.depBytes().get(i));
            objects.add(new LoadedObject(d, dep.toString(), false, false, objects.size()));
        }
        LoadedObject libc = LinkTestSupport.libc(objects.size());
        objects.add(libc);
        LoadedObject ldso = LinkTestSupport.ldso(objects.size());
        objects.add(ldso);
        mem.host(libc.mapStart(), libc.mapLength());
        mem.host(ldso.mapStart(), ldso.mapLength());
        long tlsReservation = data.consumeBoolean() ? 8192 : data.consumeLong(0, 1L << 20);
        LinkSession session = new LinkSession(mem, INTERPOSERS, LinkTestSupport.TLSDESC_RETURN, tlsReservation,
                LinkTestSupport.TLS_MODID_BASE, new BindingHistory(), w -> { });
        if (data.consumeBoolean()) {
            session.enableLazyBinding(LAZY_TRAMPOLINE, data.consumeInt(0, 3) == 0);
        }
        try {
            session.setObjects(objects);
            session.mapAll();
            session.relocateAll();
            session.protectAll();
            session.tlsImage();
            session.initOrder();
            session.lookupGlobal("main");
            session.lookupGlobal(data.consumeAsciiString(16));
            for (Map.Entry<Long, LoadedObject> e : session.lazyObjects().entrySet()) {
                long id = e.getKey();
                session.prepareAll(id);
                long slots = e.getValue().dynamic().orElseThrow().pltRela().count();
                int firstCalls = data.consumeInt(0, 8);
                for (int i = 0; i < firstCalls; i++) {
                    long index = data.consumeBoolean() ? data.consumeLong(0, Math.max(0, slots - 1)) : data.consumeLong();
                    try {
                        session.prepare(id, index);
                        session.bindLazily(id, index, 0x1234, 1, 1);
                    } catch (LinkException first) {
                        // an undefined function or a bad slot index: glibc's error for that call only
                    }
                }
            }
            session.stats().total();
        } catch (LinkException | ElfFormatException e) {
            // the clean refusals
        }
    }
}
