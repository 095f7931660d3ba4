package org.jdryad.search;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class LdSoCacheTest {
    static final Path REAL = Path.of("/etc/ld.so.cache");
    static final CpuHwcaps V3 = CpuHwcaps.of(CpuHwcaps.ISA_BASELINE | CpuHwcaps.ISA_V2 | CpuHwcaps.ISA_V3, "x86_64", 2);

    @Test
    void readsTheRealCache() throws Exception {
        Assumptions.assumeTrue(Files.isReadable(REAL));
        LdSoCache c = LdSoCache.open(REAL, CpuHwcaps.host());
        assertTrue(c.usable(), c.problem().orElse(""));
        assertTrue(c.size() > 0);
        Optional<String> libc = c.lookup("libc.so.6");
        assertTrue(libc.isPresent());
        assertTrue(libc.get().endsWith("/libc.so.6"));
        // Every x86-64 libc6 soname in the file is found, at a path the file lists for it.
        for (LdSoCache.Entry e : c.entries()) {
            if (e.flags() == LdSoCache.FLAGS_X86_64_LIBC6) {
                Optional<String> found = c.lookup(e.soname());
                assertTrue(found.isPresent(), e.soname());
            }
        }
        assertFalse(c.lookup("libdoes-not-exist.so.42").isPresent());
    }

    @Test
    void agreesWithLdconfigListing() throws Exception {
        Assumptions.assumeTrue(Files.isReadable(REAL) && Files.isExecutable(Path.of("/sbin/ldconfig")));
        Process p = new ProcessBuilder("/sbin/ldconfig", "-p").start();
        String text = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        LdSoCache c = LdSoCache.open(REAL, CpuHwcaps.host());
        int checked = 0;
        for (String line : text.split("\n")) {
            // \tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1
            if (!line.startsWith("\t") || !line.contains("(libc6,x86-64") || line.contains("hwcap")) {
                continue;
            }
            String soname = line.trim().split(" ")[0];
            String path = line.substring(line.indexOf("=> ") + 3).trim();
            Optional<String> found = c.lookup(soname);
            assertTrue(found.isPresent(), soname);
            // ldconfig -p lists every entry; the loader takes the first usable one of a name.
            if (c.entries().stream().filter(e -> e.soname().equals(soname)).count() == 1) {
                assertEquals(path, found.get(), soname);
            }
            checked++;
        }
        assertTrue(checked > 10);
    }

    /** A synthetic new-format cache with hwcaps entries. */
    static ByteBuffer synthetic() {
        // strings after header + 4 entries; extension after strings
        String[] strings = {"libfoo.so.1", "/usr/lib/glibc-hwcaps/x86-64-v4/libfoo.so.1",
            "/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", "/usr/lib/libfoo.so.1", "x86-64-v3", "x86-64-v4",
            "libbar.so.2", "/usr/lib/libbar.so.2"};
        int n = 4;
        int strStart = 48 + n * 24;
        int[] off = new int[strings.length];
        int pos = strStart;
        for (int i = 0; i < strings.length; i++) {
            off[i] = pos;
            pos += strings[i].length() + 1;
        }
        int ext = (pos + 3) & ~3;
        int hwArr = ext + 8 + 16;
        int size = hwArr + 8;
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.put("glibc-ld.so.cache1.1".getBytes());
        b.putInt(20, n);
        b.putInt(24, pos - strStart);
        b.put(28, (byte) 2);
        b.putInt(32, ext);
        // Sorted descending by _dl_cache_libcmp: libfoo > libbar. hwcaps entries first.
        int e = 48;
        long extBit = 1L << 62;
        putEntry(b, e, 0x303, off[0], off[1], extBit | 1); // v4 (hwcaps index 1)
        putEntry(b, e + 24, 0x303, off[0], off[2], extBit); // v3 (index 0)
        putEntry(b, e + 48, 0x303, off[0], off[3], 0);
        putEntry(b, e + 72, 0x303, off[6], off[7], 0);
        for (int i = 0; i < strings.length; i++) {
            b.put(off[i], strings[i].getBytes());
        }
        b.putInt(ext, -358342284);
        b.putInt(ext + 4, 1);
        b.putInt(ext + 8, 1);
        b.putInt(ext + 16, hwArr);
        b.putInt(ext + 20, 8);
        b.putInt(hwArr, off[4]);
        b.putInt(hwArr + 4, off[5]);
        return b;
    }

    static void putEntry(ByteBuffer b, int at, int flags, int key, int value, long hwcap) {
        b.putInt(at, flags);
        b.putInt(at + 4, key);
        b.putInt(at + 8, value);
        b.putLong(at + 16, hwcap);
    }

    @Test
    void choosesTheBestGlibcHwcapsSubdirectory() {
        CpuHwcaps v4 = CpuHwcaps.of(15, "x86_64", 2);
        CpuHwcaps base = CpuHwcaps.of(CpuHwcaps.ISA_BASELINE, "x86_64", 2);
        assertEquals("/usr/lib/glibc-hwcaps/x86-64-v4/libfoo.so.1", LdSoCache.parse("t", synthetic(), v4).lookup("libfoo.so.1").get());
        assertEquals("/usr/lib/glibc-hwcaps/x86-64-v3/libfoo.so.1", LdSoCache.parse("t", synthetic(), V3).lookup("libfoo.so.1").get());
        assertEquals("/usr/lib/libfoo.so.1", LdSoCache.parse("t", synthetic(), base).lookup("libfoo.so.1").get());
        assertEquals("/usr/lib/libbar.so.2", LdSoCache.parse("t", synthetic(), base).lookup("libbar.so.2").get());
        assertEquals(java.util.List.of("x86-64-v3", "x86-64-v4"), LdSoCache.parse("t", synthetic(), base).hwcapsSubdirs());
    }

    @Test
    void corruptCachesAreIgnoredNeverACrash() throws Exception {
        ByteBuffer good = synthetic();
        byte[] bytes = new byte[good.limit()];
        good.get(0, bytes);
        // Truncated at every length.
        for (int len = 0; len < bytes.length; len++) {
            LdSoCache c = LdSoCache.parse("t", ByteBuffer.wrap(bytes, 0, len).slice(), V3);
            c.lookup("libfoo.so.1");
            c.lookup("libbar.so.2");
            c.entries();
        }
        // Huge entry count: rejected as glibc does.
        byte[] huge = bytes.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(20, 0x7fffffff);
        LdSoCache h = LdSoCache.parse("t", ByteBuffer.wrap(huge), V3);
        assertFalse(h.usable());
        assertTrue(h.problem().isPresent());
        assertFalse(h.lookup("libfoo.so.1").isPresent());
        // Wrong byte order flag.
        byte[] be = bytes.clone();
        be[28] = 3;
        assertFalse(LdSoCache.parse("t", ByteBuffer.wrap(be), V3).usable());
        // Random corruption of every byte position: never an exception.
        Random r = new Random(42);
        for (int i = 0; i < 5000; i++) {
            byte[] copy = bytes.clone();
            for (int k = 0; k < 1 + r.nextInt(4); k++) {
                copy[r.nextInt(copy.length)] = (byte) r.nextInt(256);
            }
            LdSoCache c = LdSoCache.parse("t", ByteBuffer.wrap(copy), V3);
            c.lookup("libfoo.so.1");
            c.entries();
            c.hwcapsSubdirs();
        }
    }

    @Test
    void corruptCopyOfTheRealCacheIsReportedAndIgnored(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(Files.isReadable(REAL));
        byte[] bytes = Files.readAllBytes(REAL);
        Path trunc = dir.resolve("truncated.cache");
        Files.write(trunc, java.util.Arrays.copyOf(bytes, 100));
        LdSoCache c = LdSoCache.open(trunc, CpuHwcaps.host());
        assertFalse(c.usable());
        assertTrue(c.problem().get().contains("truncated.cache"));
        Path missing = dir.resolve("missing.cache");
        assertFalse(LdSoCache.open(missing, CpuHwcaps.host()).usable());
        // Bogus string offsets in every entry: lookups find nothing, no exception.
        byte[] bogus = bytes.clone();
        ByteBuffer b = ByteBuffer.wrap(bogus).order(ByteOrder.LITTLE_ENDIAN);
        int n = b.getInt(20);
        for (int i = 0; i < n; i++) {
            b.putInt(48 + i * 24 + 8, 0x7ffffff0);
        }
        Path bad = dir.resolve("bogus.cache");
        Files.write(bad, bogus);
        assertFalse(LdSoCache.open(bad, CpuHwcaps.host()).lookup("libc.so.6").isPresent());
    }

    @Test
    void oldFormat() {
        // ld.so-1.7.0 with one entry and strings after the entries.
        String key = "libold.so.1";
        String val = "/lib/libold.so.1";
        int strings = 16 + 12;
        ByteBuffer b = ByteBuffer.allocate(strings + key.length() + val.length() + 2).order(ByteOrder.LITTLE_ENDIAN);
        b.put("ld.so-1.7.0".getBytes());
        b.putInt(12, 1);
        b.putInt(16, 0x303);
        b.putInt(20, 0);
        b.putInt(24, key.length() + 1);
        b.put(strings, key.getBytes());
        b.put(strings + key.length() + 1, val.getBytes());
        LdSoCache c = LdSoCache.parse("old", b, V3);
        assertEquals(LdSoCache.Format.OLD, c.format());
        assertEquals(val, c.lookup(key).get());
    }

    @Test
    void hwcapsSubdirsOfThisKindOfMachine() {
        CpuHwcaps amd = CpuHwcaps.fromFlags("AuthenticAMD", Set.of("fpu", "cmov", "cx8", "fxsr", "mmx", "sse", "sse2",
                "cx16", "lahf_lm", "popcnt", "pni", "ssse3", "sse4_1", "sse4_2", "avx", "avx2", "f16c", "fma", "abm", "movbe",
                "avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"));
        // What ld.so --help lists on this machine.
        assertEquals(java.util.List.of("glibc-hwcaps/x86-64-v4/", "glibc-hwcaps/x86-64-v3/", "glibc-hwcaps/x86-64-v2/",
                "tls/x86_64/x86_64/", "tls/x86_64/", "tls/x86_64/", "tls/", "x86_64/x86_64/", "x86_64/", "x86_64/", ""),
                amd.searchSubdirs());
        assertEquals("x86_64", amd.platform());
    }

    @Test
    void theLoadersOwnDiagnosticsDecide() {
        String listing = "dl_hwcap=0x2\ndl_hwcaps_subdirs_active=0x7\ndl_platform=\"x86_64\"\nx86.cpu_features.isa_1=0xf\n";
        CpuHwcaps cpu = CpuHwcaps.parseDiagnostics(listing).orElseThrow();
        assertEquals(java.util.List.of("x86-64-v4", "x86-64-v3", "x86-64-v2"), cpu.glibcHwcapsSubdirs());
        assertEquals("x86_64", cpu.platform());
        assertFalse(CpuHwcaps.parseDiagnostics("dl_platform=\"x86_64\"\n").isPresent());
    }

    @Test
    void hostSearchesWhatTheSystemLoaderSearches() throws Exception {
        Path ldso = Path.of(SearchConfig.SYSTEM_INTERPRETER);
        Assumptions.assumeTrue(Files.isExecutable(ldso));
        Process p = new ProcessBuilder(ldso.toString(), "--help").redirectErrorStream(true).start();
        String help = new String(p.getInputStream().readAllBytes());
        p.waitFor();
        java.util.List<String> searched = new java.util.ArrayList<>();
        for (String line : help.split("\n")) {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("^  (x86-64-v\\d) \\(supported, searched\\)").matcher(line);
            if (m.find()) {
                searched.add(m.group(1));
            }
        }
        Assumptions.assumeFalse(searched.isEmpty(), "ld.so --help lists no glibc-hwcaps subdirectories");
        assertEquals(searched, CpuHwcaps.host().glibcHwcapsSubdirs());
    }
}
