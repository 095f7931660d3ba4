package org.jdryad.search;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * What glibc 2.36's loader derives from the CPU for library search on x86-64: the ISA levels
 * (x86-64-v2/v3/v4, which select the {@code glibc-hwcaps} subdirectories and the hwcaps entries
 * of ld.so.cache), the platform string ({@code $PLATFORM}, AT_PLATFORM or glibc's Intel
 * override "haswell"/"xeon_phi") and the legacy hwcap bits ({@code x86_64}, {@code avx512_1})
 * that, together with the platform and "tls", form the legacy subdirectories searched in every
 * directory.
 *
 * <p>Detected from the CPU flags the kernel reports in /proc/cpuinfo, which are the features the
 * kernel has enabled (glibc's "usable" features).
 */
public final class CpuHwcaps {
    /** GNU_PROPERTY_X86_ISA_1_* bits, as glibc's get_isa_level computes them. */
    public static final int ISA_BASELINE = 1;
    public static final int ISA_V2 = 2;
    public static final int ISA_V3 = 4;
    public static final int ISA_V4 = 8;

    /** Legacy hwcap bits of glibc's x86 dl-hwcap.h. */
    static final long HWCAP_X86_64 = 1L << 1;
    static final long HWCAP_X86_AVX512_1 = 1L << 2;
    static final long HWCAP_IMPORTANT = HWCAP_X86_64 | HWCAP_X86_AVX512_1;
    private static final String[] HWCAP_NAMES = {"sse2", "x86_64", "avx512_1"};
    /** glibc's x86 platform table; x86-64 uses entries 2 and 3 only. */
    private static final String[] PLATFORMS = {"i586", "i686", "haswell", "xeon_phi"};
    private static final int FIRST_PLATFORM_BIT = 48;

    private static volatile CpuHwcaps host;

    private final int isaLevels;
    private final String platform;
    private final long hwcap;
    private final long hwcapMask;
    private final List<String> hwcapsSubdirs;
    private final List<String> searchSubdirs;

    private CpuHwcaps(int isaLevels, String platform, long hwcap, long hwcapMask) {
        this.isaLevels = isaLevels;
        this.platform = platform;
        this.hwcap = hwcap;
        this.hwcapMask = hwcapMask;
        List<String> subdirs = new ArrayList<>();
        // _dl_hwcaps_subdirs in preference order, filtered by what the CPU supports.
        if ((isaLevels & ISA_V4) != 0 && (isaLevels & ISA_V3) != 0 && (isaLevels & ISA_V2) != 0) {
            subdirs.add("x86-64-v4");
        }
        if ((isaLevels & ISA_V3) != 0 && (isaLevels & ISA_V2) != 0) {
            subdirs.add("x86-64-v3");
        }
        if ((isaLevels & ISA_V2) != 0) {
            subdirs.add("x86-64-v2");
        }
        this.hwcapsSubdirs = Collections.unmodifiableList(subdirs);
        this.searchSubdirs = Collections.unmodifiableList(buildSearchSubdirs());
    }

    /**
     * The capabilities of this machine's CPU (cached): as the system loader itself reports them
     * ({@code ld.so --list-diagnostics}), else derived from /proc/cpuinfo. The loader's word comes
     * first because the kernel's flags can hide a feature glibc sees through CPUID: on an AMD
     * machine under a hypervisor the kernel listed no "abm" (LZCNT) while glibc found x86-64-v3
     * and v4 usable, and searched their glibc-hwcaps subdirectories.
     */
    public static CpuHwcaps host() {
        CpuHwcaps h = host;
        if (h == null) {
            h = fromLoader(SearchConfig.SYSTEM_INTERPRETER).orElseGet(() -> detect(Path.of("/proc/cpuinfo")));
            host = h;
        }
        return h;
    }

    /**
     * What {@code loader --list-diagnostics} says (glibc 2.33+), or empty when it cannot tell.
     * Asking costs a process (~20 ms a run), so the answer's lines are kept in the per-user cache
     * under a key of this boot (CPU features change only across boots) and the loader's identity.
     */
    static java.util.Optional<CpuHwcaps> fromLoader(String loader) {
        if (!Files.isExecutable(Path.of(loader))) {
            return java.util.Optional.empty();
        }
        Path cached = cacheFile(loader);
        if (cached != null) {
            try {
                java.util.Optional<CpuHwcaps> c = parseDiagnostics(Files.readString(cached, StandardCharsets.ISO_8859_1));
                if (c.isPresent()) {
                    return c;
                }
            } catch (IOException e) {
                // not cached yet
            }
        }
        java.util.Optional<CpuHwcaps> asked = askLoader(loader);
        asked.ifPresent(h -> remember(cached, h));
        return asked;
    }

    /**
     * The cache file for this boot and this loader, or null when there is no cache directory.
     * Its name spells the key out (boot id, the loader's device and inode, size and modification
     * time) rather than hashing it: a cold JVM's first SHA-256 cost about 18 ms of every run.
     */
    private static Path cacheFile(String loader) {
        try {
            String boot = Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).trim();
            var attrs = Files.readAttributes(Path.of(loader), java.nio.file.attribute.BasicFileAttributes.class);
            String key = boot + "-" + attrs.fileKey() + "-" + attrs.size() + "-" + attrs.lastModifiedTime().toMillis();
            String name = "hwcaps-" + key.replaceAll("[^0-9A-Za-z.-]", "_");
            String xdg = System.getenv("XDG_CACHE_HOME");
            Path root = xdg != null && xdg.startsWith("/") ? Path.of(xdg, "jdryad")
                    : Path.of(System.getProperty("user.home"), ".cache", "jdryad");
            return name.length() <= 200 ? root.resolve(name) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** Writes the lines {@link #parseDiagnostics} reads, atomically; a cache that cannot be written is no error. */
    private static void remember(Path file, CpuHwcaps h) {
        if (file == null) {
            return;
        }
        try {
            Files.createDirectories(file.getParent());
            Path tmp = Files.createTempFile(file.getParent(), ".hwcaps-", ".tmp");
            Files.writeString(tmp, "x86.cpu_features.isa_1=0x" + Integer.toHexString(h.isaLevels()) + "\n"
                    + "dl_hwcap=0x" + Long.toHexString(h.hwcap()) + "\n"
                    + (h.platform() == null ? "" : "dl_platform=\"" + h.platform() + "\"\n"), StandardCharsets.ISO_8859_1);
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                    java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            // the next run asks the loader again
        }
    }

    private static java.util.Optional<CpuHwcaps> askLoader(String loader) {
        try {
            Process p = new ProcessBuilder(loader, "--list-diagnostics").redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
            String text = new String(p.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            if (!p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS) || p.exitValue() != 0) {
                p.destroy();
                return java.util.Optional.empty();
            }
            return parseDiagnostics(text);
        } catch (IOException e) {
            return java.util.Optional.empty();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return java.util.Optional.empty();
        }
    }

    /** The ISA levels ({@code x86.cpu_features.isa_1}), platform and hwcap bits of a diagnostics listing. */
    static java.util.Optional<CpuHwcaps> parseDiagnostics(String text) {
        Long isa = null;
        Long hwcap = null;
        String platform = null;
        for (String line : text.split("\n")) {
            int eq = line.indexOf('=');
            if (eq < 0) {
                continue;
            }
            String key = line.substring(0, eq);
            String value = line.substring(eq + 1).trim();
            try {
                switch (key) {
                    case "x86.cpu_features.isa_1" -> isa = Long.decode(value);
                    case "dl_hwcap" -> hwcap = Long.decode(value);
                    case "dl_platform" -> platform = value.startsWith("\"") && value.endsWith("\"") && value.length() >= 2
                            ? value.substring(1, value.length() - 1) : null;
                    default -> { }
                }
            } catch (NumberFormatException e) {
                return java.util.Optional.empty();
            }
        }
        if (isa == null || hwcap == null) {
            return java.util.Optional.empty();
        }
        return java.util.Optional.of(new CpuHwcaps(isa.intValue(), platform, hwcap, HWCAP_IMPORTANT));
    }

    /** Detects from a cpuinfo file; an unreadable file gives a baseline x86-64 CPU. */
    public static CpuHwcaps detect(Path cpuinfo) {
        String vendor = "";
        Set<String> flags = new HashSet<>();
        try {
            for (String line : Files.readAllLines(cpuinfo, StandardCharsets.ISO_8859_1)) {
                int colon = line.indexOf(':');
                if (colon < 0) {
                    continue;
                }
                String key = line.substring(0, colon).trim();
                String value = line.substring(colon + 1).trim();
                if (key.equals("vendor_id") && vendor.isEmpty()) {
                    vendor = value;
                } else if (key.equals("flags") && flags.isEmpty()) {
                    for (String f : value.split("\\s+")) {
                        flags.add(f.toLowerCase(Locale.ROOT));
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            flags.clear();
            flags.addAll(Set.of("fpu", "cmov", "cx8", "fxsr", "mmx", "sse", "sse2"));
        }
        return fromFlags(vendor, flags);
    }

    /** Capabilities of a CPU with these /proc/cpuinfo flags, as glibc 2.36 would derive them. */
    public static CpuHwcaps fromFlags(String vendor, Set<String> flags) {
        int isa = 0;
        if (flags.containsAll(Set.of("cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"))) {
            isa |= ISA_BASELINE;
            if (flags.containsAll(Set.of("cx16", "lahf_lm", "popcnt", "pni", "ssse3", "sse4_1", "sse4_2"))) {
                isa |= ISA_V2;
                // LZCNT is reported as "abm" by the kernel.
                if (flags.containsAll(Set.of("avx", "avx2", "f16c", "fma", "abm", "movbe"))) {
                    isa |= ISA_V3;
                    if (flags.containsAll(Set.of("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"))) {
                        isa |= ISA_V4;
                    }
                }
            }
        }
        // sysdeps/x86/cpu-features.c: x86-64 always has the "x86_64" hwcap; Intel CPUs may get
        // avx512_1 and a "haswell" or "xeon_phi" platform instead of the kernel's AT_PLATFORM.
        long hwcap = HWCAP_X86_64;
        String platform = "x86_64";
        if ("GenuineIntel".equals(vendor)) {
            String p = null;
            if (flags.contains("avx512cd")) {
                if (flags.contains("avx512er")) {
                    if (flags.contains("avx512pf")) {
                        p = "xeon_phi";
                    }
                } else if (flags.containsAll(Set.of("avx512bw", "avx512dq", "avx512vl"))) {
                    hwcap |= HWCAP_X86_AVX512_1;
                }
            }
            if (p == null && flags.containsAll(Set.of("avx2", "fma", "bmi1", "bmi2", "abm", "movbe", "popcnt"))) {
                p = "haswell";
            }
            if (p != null) {
                platform = p;
            }
        }
        return new CpuHwcaps(isa, platform, hwcap, HWCAP_IMPORTANT);
    }

    /** Explicit capabilities (tests). */
    public static CpuHwcaps of(int isaLevels, String platform, long hwcap) {
        return new CpuHwcaps(isaLevels, platform, hwcap, HWCAP_IMPORTANT);
    }

    /** GNU_PROPERTY_X86_ISA_1_* bits this CPU supports. */
    public int isaLevels() {
        return isaLevels;
    }

    /** The platform string ({@code $PLATFORM}). */
    public String platform() {
        return platform;
    }

    /** The legacy hwcap bits (glibc's dl_hwcap). */
    public long hwcap() {
        return hwcap;
    }

    /** Active glibc-hwcaps subdirectory names, best first (e.g. x86-64-v4, x86-64-v3, x86-64-v2). */
    public List<String> glibcHwcapsSubdirs() {
        return hwcapsSubdirs;
    }

    /**
     * Priority of a glibc-hwcaps subdirectory name as ld.so.cache lookups use it: 1 for the best
     * active one, 2 for the next, ...; 0 when the CPU cannot use it.
     */
    public int hwcapsPriority(String name) {
        int i = hwcapsSubdirs.indexOf(name);
        return i < 0 ? 0 : i + 1;
    }

    /**
     * The subdirectories tried, in order, in every search directory: the glibc-hwcaps ones, then
     * glibc 2.36's legacy power set of hwcap names, platform and "tls", ending with "" (the
     * directory itself). Each non-empty entry ends with '/'.
     */
    public List<String> searchSubdirs() {
        return searchSubdirs;
    }

    /** Bit of the platform in ld.so.cache hwcap fields, or -1 (all bits) for an unlisted platform. */
    long cachePlatformBit() {
        for (int i = 2; i < PLATFORMS.length; i++) {
            if (PLATFORMS[i].equals(platform)) {
                return 1L << (FIRST_PLATFORM_BIT + i);
            }
        }
        return -1L;
    }

    /** Mask of the platform bits in ld.so.cache hwcap fields (_DL_HWCAP_PLATFORM). */
    static long cachePlatformMask() {
        return ((1L << PLATFORMS.length) - 1) << FIRST_PLATFORM_BIT;
    }

    long maskedHwcap() {
        return hwcap & hwcapMask;
    }

    private List<String> buildSearchSubdirs() {
        List<String> out = new ArrayList<>();
        for (String s : hwcapsSubdirs) {
            out.add("glibc-hwcaps/" + s + "/");
        }
        List<String> parts = new ArrayList<>();
        long masked = maskedHwcap();
        for (int n = 0; n < 64; n++) {
            if ((masked & (1L << n)) != 0 && n < HWCAP_NAMES.length) {
                parts.add(HWCAP_NAMES[n]);
            }
        }
        if (platform != null) {
            parts.add(platform);
        }
        parts.add("tls");
        int cnt = parts.size();
        int all = (1 << cnt) - 1;
        for (int e = 0; e <= all; e++) {
            int subset = all - e;
            StringBuilder sb = new StringBuilder();
            for (int i = cnt - 1; i >= 0; i--) {
                if ((subset & (1 << i)) != 0) {
                    sb.append(parts.get(i)).append('/');
                }
            }
            out.add(sb.toString());
        }
        return out;
    }

    @Override
    public String toString() {
        return "CpuHwcaps[isa=" + isaLevels + ", platform=" + platform + ", subdirs=" + hwcapsSubdirs + "]";
    }
}
