package org.jdryad.search;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes ld.so.cache images as ldconfig does, for the fuzz targets' seeds and for the caches the
 * library-search target hands the search: the {@code glibc-ld.so.cache1.1} format with an optional
 * extension directory (generator string, glibc-hwcaps subdirectory names), the old
 * {@code ld.so-1.7.0} format, or the old one with the new one embedded. Entries are sorted the
 * way ldconfig sorts them (descending by glibc's _dl_cache_libcmp), so lookups can find them.
 */
final class LdSoCacheImage {
    /** One entry: soname, path, flags (0x303 for x86-64 libc6), hwcap word. */
    record Entry(String soname, String path, int flags, long hwcap) {
        static Entry of(String soname, String path) {
            return new Entry(soname, path, LdSoCache.FLAGS_X86_64_LIBC6, 0);
        }
    }

    enum Layout { NEW, OLD, OLD_WITH_NEW }

    private LdSoCacheImage() {
    }

    static byte[] write(Layout layout, List<Entry> entries, List<String> hwcapsSubdirs, String generator) {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort((a, b) -> -libcmp(a.soname(), b.soname()));
        if (layout == Layout.NEW) {
            return newFormat(sorted, hwcapsSubdirs, generator, 0);
        }
        int n = sorted.size();
        int oldEntries = LdSoCache.OLD_HEADER + n * LdSoCache.OLD_ENTRY;
        int newOff = layout == Layout.OLD_WITH_NEW ? (oldEntries + 7) & ~7 : oldEntries;
        // Old string indices are relative to the end of the old entries; in OLD_WITH_NEW the
        // strings lie after the embedded new part, whose indices are relative to its start.
        byte[] newPart = layout == Layout.OLD_WITH_NEW ? newFormat(sorted, hwcapsSubdirs, generator, newOff) : new byte[0];
        Map<String, Integer> strings = new LinkedHashMap<>();
        ByteArrayOutputStream str = new ByteArrayOutputStream();
        int strBase = newOff + newPart.length;
        for (Entry e : sorted) {
            for (String s : List.of(e.soname(), e.path())) {
                strings.computeIfAbsent(s, k -> {
                    int at = strBase + str.size();
                    byte[] bytes = (k + "\0").getBytes(StandardCharsets.UTF_8);
                    str.write(bytes, 0, bytes.length);
                    return at;
                });
            }
        }
        ByteBuffer b = ByteBuffer.allocate(strBase + str.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.put(LdSoCache.MAGIC_OLD.getBytes(StandardCharsets.US_ASCII));
        b.putInt(12, n);
        for (int i = 0; i < n; i++) {
            int at = LdSoCache.OLD_HEADER + i * LdSoCache.OLD_ENTRY;
            b.putInt(at, sorted.get(i).flags());
            b.putInt(at + 4, strings.get(sorted.get(i).soname()) - oldEntries);
            b.putInt(at + 8, strings.get(sorted.get(i).path()) - oldEntries);
        }
        b.put(newOff, newPart);
        b.put(strBase, str.toByteArray());
        return b.array();
    }

    /** The new format; string indices are relative to {@code base} (the part's file offset). */
    private static byte[] newFormat(List<Entry> sorted, List<String> hwcaps, String generator, int base) {
        int n = sorted.size();
        int strStart = LdSoCache.NEW_HEADER + n * LdSoCache.NEW_ENTRY;
        Map<String, Integer> strings = new LinkedHashMap<>();
        ByteArrayOutputStream str = new ByteArrayOutputStream();
        List<String> all = new ArrayList<>();
        for (Entry e : sorted) {
            all.add(e.soname());
            all.add(e.path());
        }
        all.addAll(hwcaps);
        for (String s : all) {
            strings.computeIfAbsent(s, k -> {
                int at = strStart + str.size();
                byte[] bytes = (k + "\0").getBytes(StandardCharsets.UTF_8);
                str.write(bytes, 0, bytes.length);
                return at;
            });
        }
        int end = strStart + str.size();
        boolean ext = !hwcaps.isEmpty() || generator != null;
        int extOff = (end + 3) & ~3;
        int sections = (hwcaps.isEmpty() ? 0 : 1) + (generator == null ? 0 : 1);
        int data = extOff + 8 + 16 * sections;
        byte[] gen = generator == null ? new byte[0] : generator.getBytes(StandardCharsets.UTF_8);
        int size = ext ? data + 4 * hwcaps.size() + gen.length : end;
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.put(LdSoCache.MAGIC_NEW.getBytes(StandardCharsets.US_ASCII));
        b.putInt(20, n);
        b.putInt(24, str.size());
        b.put(28, (byte) 2); // little-endian
        for (int i = 0; i < n; i++) {
            Entry e = sorted.get(i);
            int at = LdSoCache.NEW_HEADER + i * LdSoCache.NEW_ENTRY;
            b.putInt(at, e.flags());
            b.putInt(at + 4, strings.get(e.soname()));
            b.putInt(at + 8, strings.get(e.path()));
            b.putLong(at + 16, e.hwcap());
        }
        b.put(strStart, str.toByteArray());
        if (ext) {
            // Extension offsets are file offsets (of the whole file, base included).
            b.putInt(32, base + extOff);
            b.putInt(extOff, LdSoCache.EXTENSION_MAGIC);
            b.putInt(extOff + 4, sections);
            int s = extOff + 8;
            int at = data;
            if (!hwcaps.isEmpty()) {
                b.putInt(s, LdSoCache.EXT_TAG_GLIBC_HWCAPS);
                b.putInt(s + 8, base + at);
                b.putInt(s + 12, 4 * hwcaps.size());
                for (String h : hwcaps) {
                    // glibc-hwcaps names are file offsets too.
                    b.putInt(at, base + strings.get(h));
                    at += 4;
                }
                s += 16;
            }
            if (generator != null) {
                b.putInt(s, LdSoCache.EXT_TAG_GENERATOR);
                b.putInt(s + 8, base + at);
                b.putInt(s + 12, gen.length);
                b.put(at, gen);
            }
        }
        return b.array();
    }

    /** glibc's _dl_cache_libcmp: digit runs compare numerically. */
    static int libcmp(String p1, String p2) {
        int i = 0;
        int j = 0;
        while (i < p1.length()) {
            char c1 = p1.charAt(i);
            char c2 = j < p2.length() ? p2.charAt(j) : 0;
            if (Character.isDigit(c1) && c1 < 128) {
                if (Character.isDigit(c2) && c2 < 128) {
                    long v1 = 0;
                    long v2 = 0;
                    while (i < p1.length() && p1.charAt(i) >= '0' && p1.charAt(i) <= '9') {
                        v1 = Math.min(v1 * 10 + p1.charAt(i++) - '0', Integer.MAX_VALUE);
                    }
                    while (j < p2.length() && p2.charAt(j) >= '0' && p2.charAt(j) <= '9') {
                        v2 = Math.min(v2 * 10 + p2.charAt(j++) - '0', Integer.MAX_VALUE);
                    }
                    if (v1 != v2) {
                        return Long.compare(v1, v2);
                    }
                } else {
                    return 1;
                }
            } else if (c2 >= '0' && c2 <= '9') {
                return -1;
            } else if (c1 != c2) {
                return c1 - c2;
            } else {
                i++;
                j++;
            }
        }
        return j < p2.length() ? -p2.charAt(j) : 0;
    }
}
