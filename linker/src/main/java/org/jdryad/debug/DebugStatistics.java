package org.jdryad.debug;

/**
 * LD_DEBUG=statistics in glibc 2.36's layout (elf/rtld.c print_statistics after start-up,
 * elf/dl-fini.c at exit), with jdryad's numbers. What differs, and why:
 * <ul>
 * <li>glibc counts CPU cycles (rdtsc); the JVM has no cycle counter, so jdryad prints
 *     nanoseconds and says "ns" where glibc says "cycles". The total runs from the start of
 *     {@code jdryad run} (JVM start-up excluded) to the end of relocation, the agent's start
 *     included; loading is the search plus mapping.</li>
 * <li>"number of relocations" is glibc's count of symbol lookups for relocations; jdryad's is
 *     the lookups its relocator made, and "from cache" the relocations it answered from its
 *     per-object cache (every earlier reference to the same symbol; glibc remembers only the
 *     previous relocation's), so jdryad's first number is smaller and its second larger.</li>
 * <li>"relative relocations" counts the R_X86_64_RELATIVE relocations and DT_RELR entries jdryad
 *     applied to jdryad objects (glibc: DT_RELACOUNT of every relocated object, host ones included).</li>
 * </ul>
 */
final class DebugStatistics {
    private DebugStatistics() {
    }

    /** The block glibc prints once start-up relocation is done. */
    static String startup(long totalNanos, long relocationNanos, long loadNanos, long lookups, long cached,
                          long relative) {
        return String.format("%nruntime linker statistics:%n  total startup time in dynamic loader: %d ns%n", totalNanos)
                + item("            time needed for relocation", relocationNanos, totalNanos)
                + String.format("                 number of relocations: %d%n"
                        + "      number of relocations from cache: %d%n"
                        + "        number of relative relocations: %d%n", lookups, cached, relative)
                + item("           time needed to load objects", loadNanos, totalNanos);
    }

    /** The block glibc's _dl_fini prints at exit. */
    static String atExit(long lookups, long cached) {
        return String.format("%nruntime linker statistics:%n"
                + "           final number of relocations: %d%n"
                + "final number of relocations from cache: %d%n", lookups, cached);
    }

    /** print_statistics_item: the time and its share of the total in tenths of a percent, as glibc writes it. */
    private static String item(String title, long nanos, long total) {
        String digits = Long.toString(total <= 0 ? 0 : 1000L * nanos / total);
        String relative = switch (digits.length()) {
            case 3 -> digits.substring(0, 2) + "." + digits.charAt(2);
            case 2 -> digits.charAt(0) + "." + digits.charAt(1);
            case 1 -> "." + digits;
            default -> ""; // glibc's switch has no case for 100.0%
        };
        return String.format("%s: %d ns (%s%%)%n", title, nanos, relative);
    }
}
