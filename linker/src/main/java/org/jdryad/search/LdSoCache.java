package org.jdryad.search;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;

/**
 * A read-only view of /etc/ld.so.cache as glibc 2.36's loader reads it: the
 * {@code glibc-ld.so.cache1.1} format (with its extension directory and glibc-hwcaps entries),
 * the old {@code ld.so-1.7.0} format, and the old format with the new one embedded.
 *
 * <p>The file is memory-mapped read-only. Every offset is checked before use. A cache that glibc
 * would reject is reported through {@link #problem()} and behaves as an empty cache, exactly as
 * the loader ignores it; a bogus string index ends a lookup with no result, as in glibc.
 */
public final class LdSoCache {
    /** The default location. */
    public static final Path DEFAULT_PATH = Path.of("/etc/ld.so.cache");

    static final String MAGIC_OLD = "ld.so-1.7.0";
    static final String MAGIC_NEW = "glibc-ld.so.cache1.1";
    static final int OLD_HEADER = 16;
    static final int OLD_ENTRY = 12;
    static final int NEW_HEADER = 48;
    static final int NEW_ENTRY = 24;
    /** x86-64 libc6 entries: FLAG_X8664_LIB64 | FLAG_ELF_LIBC6; the only flags x86-64 accepts. */
    public static final int FLAGS_X86_64_LIBC6 = 0x0303;
    static final long HWCAP_EXTENSION = 1L << 62;
    static final int ISA_LEVEL_MASK = (1 << 10) - 1;
    static final int EXTENSION_MAGIC = -358342284; // 0xeaa42174
    static final int EXT_TAG_GENERATOR = 0;
    static final int EXT_TAG_GLIBC_HWCAPS = 1;

    /** The layout found. */
    public enum Format {
        /** glibc-ld.so.cache1.1 only (what ldconfig writes since glibc 2.32). */
        NEW,
        /** ld.so-1.7.0 only. */
        OLD,
        /** ld.so-1.7.0 with a glibc-ld.so.cache1.1 part after the old entries. */
        OLD_WITH_NEW,
        /** No usable cache: missing, unreadable or rejected (see {@link #problem()}). */
        NONE
    }

    /** One entry, decoded (for listings and tests; lookups do not go through this). */
    public record Entry(String soname, String path, int flags, long hwcap, Optional<String> hwcapsSubdir) {
    }

    private final String name;
    private final ByteBuffer buf;
    private final CpuHwcaps cpu;
    private final Format format;
    private final String problem;
    /** Offset of the entry array, the entry size and count of the table lookups use. */
    private final int entriesOffset;
    private final int entrySize;
    private final int nlibs;
    /** Base that string indices of entries are relative to, and the end of the readable strings. */
    private final int stringBase;
    /** glibc-hwcaps section: file offset and count of the uint32 string indices, or -1. */
    private final int hwcapsOffset;
    private final int hwcapsCount;
    private final Optional<String> generator;

    private LdSoCache(String name, ByteBuffer buf, CpuHwcaps cpu, Format format, String problem, int entriesOffset,
            int entrySize, int nlibs, int stringBase, int hwcapsOffset, int hwcapsCount, Optional<String> generator) {
        this.name = name;
        this.buf = buf;
        this.cpu = cpu;
        this.format = format;
        this.problem = problem;
        this.entriesOffset = entriesOffset;
        this.entrySize = entrySize;
        this.nlibs = nlibs;
        this.stringBase = stringBase;
        this.hwcapsOffset = hwcapsOffset;
        this.hwcapsCount = hwcapsCount;
        this.generator = generator;
    }

    /** An empty cache (no file, or ld.so.cache disabled). */
    public static LdSoCache empty(String why) {
        return new LdSoCache("(none)", ByteBuffer.allocate(0), CpuHwcaps.host(), Format.NONE, why, 0, NEW_ENTRY, 0, 0, -1, 0,
                Optional.empty());
    }

    /** Maps and reads a cache file. Never throws: an unreadable or corrupt file gives an empty cache. */
    public static LdSoCache open(Path path, CpuHwcaps cpu) {
        ByteBuffer map;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                return reject(path.toString(), cpu, "file is larger than 2 GiB");
            }
            map = size == 0 ? ByteBuffer.allocate(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            return reject(path.toString(), cpu, "cannot read: " + e.getMessage());
        }
        return parse(path.toString(), map, cpu);
    }

    /** A cache parsed once and kept while the file is unchanged: the warm server's runs share it (it is immutable). */
    private record SharedKey(String path, long device, long inode, long size, long mtimeNanos, CpuHwcaps cpu) {
    }

    private static final java.util.Map<SharedKey, LdSoCache> SHARED = new java.util.concurrent.ConcurrentHashMap<>();

    /** {@link #open}, answered with the same parse while the file's identity, size and time stay the same. */
    public static LdSoCache openShared(Path path, CpuHwcaps cpu) {
        SharedKey key;
        try {
            java.util.Map<String, Object> a = java.nio.file.Files.readAttributes(path, "unix:dev,ino,size,lastModifiedTime");
            key = new SharedKey(path.toString(), ((Number) a.get("dev")).longValue(), ((Number) a.get("ino")).longValue(),
                    ((Number) a.get("size")).longValue(),
                    ((java.nio.file.attribute.FileTime) a.get("lastModifiedTime")).to(java.util.concurrent.TimeUnit.NANOSECONDS),
                    cpu);
        } catch (IOException | RuntimeException e) {
            return open(path, cpu);
        }
        LdSoCache c = SHARED.get(key);
        if (c == null) {
            c = open(path, cpu);
            SHARED.keySet().removeIf(k -> k.path().equals(key.path()) && k.cpu() == key.cpu());
            SHARED.put(key, c);
        }
        return c;
    }

    /** Reads a cache image held in memory; {@code name} appears in {@link #problem()}. */
    public static LdSoCache parse(String name, ByteBuffer bytes, CpuHwcaps cpu) {
        ByteBuffer b = bytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.position(0);
        int size = b.limit();
        if (size > NEW_HEADER && startsWith(b, 0, MAGIC_NEW)) {
            long n = u32(b, 20);
            if ((size - NEW_HEADER) / NEW_ENTRY < n) {
                return reject(name, cpu, "new-format header claims " + n + " entries, more than the file holds");
            }
            if (!endianOk(b, 0)) {
                return reject(name, cpu, "cache was written for the other byte order");
            }
            return withNew(name, b, cpu, Format.NEW, 0, (int) n);
        }
        if (size > OLD_HEADER && startsWith(b, 0, MAGIC_OLD)) {
            long n = u32(b, 12);
            if ((size - OLD_HEADER) / OLD_ENTRY < n) {
                return reject(name, cpu, "old-format header claims " + n + " entries, more than the file holds");
            }
            long newOff = (OLD_HEADER + n * OLD_ENTRY + 7) & ~7L;
            if (size >= newOff + NEW_HEADER && startsWith(b, (int) newOff, MAGIC_NEW)) {
                if (!endianOk(b, (int) newOff)) {
                    return reject(name, cpu, "cache was written for the other byte order");
                }
                long nn = u32(b, (int) newOff + 20);
                // glibc does not re-check the embedded count; a count past the end is refused here.
                if ((size - newOff - NEW_HEADER) / NEW_ENTRY < nn) {
                    return reject(name, cpu, "embedded new-format header claims " + nn + " entries, more than the file holds");
                }
                return withNew(name, b, cpu, Format.OLD_WITH_NEW, (int) newOff, (int) nn);
            }
            int strings = (int) (OLD_HEADER + n * OLD_ENTRY);
            return new LdSoCache(name, b, cpu, Format.OLD, null, OLD_HEADER, OLD_ENTRY, (int) n, strings, -1, 0,
                    Optional.empty());
        }
        return reject(name, cpu, size == 0 ? "file is empty" : "unknown format (bad magic or too short)");
    }

    private static LdSoCache withNew(String name, ByteBuffer b, CpuHwcaps cpu, Format format, int newOff, int n) {
        int hwOff = -1;
        int hwCount = 0;
        Optional<String> gen = Optional.empty();
        String note = null;
        long extOff = u32(b, newOff + 32);
        int size = b.limit();
        // cache_extension_load: offsets are relative to the start of the file.
        if (extOff != 0) {
            if (extOff % 4 != 0 || extOff + 8 > size) {
                note = "extension directory offset " + extOff + " is misaligned or past the end; glibc-hwcaps entries ignored";
            } else if (b.getInt((int) extOff) != EXTENSION_MAGIC) {
                note = "extension directory has a bad magic number; glibc-hwcaps entries ignored";
            } else {
                long count = u32(b, (int) extOff + 4);
                if (extOff + 8 + count * 16 > size) {
                    note = "extension directory has " + count + " sections, more than the file holds; glibc-hwcaps entries ignored";
                } else {
                    int ho = -1;
                    long hs = 0;
                    String g = null;
                    boolean bad = false;
                    for (int i = 0; i < count; i++) {
                        int at = (int) extOff + 8 + i * 16;
                        long tag = u32(b, at);
                        long off = u32(b, at + 8);
                        long len = u32(b, at + 12);
                        if (off + len > size) {
                            bad = true;
                            break;
                        }
                        if (tag == EXT_TAG_GLIBC_HWCAPS) {
                            ho = (int) off;
                            hs = len;
                        } else if (tag == EXT_TAG_GENERATOR) {
                            byte[] bytes = new byte[(int) len];
                            b.get((int) off, bytes);
                            g = new String(bytes, StandardCharsets.UTF_8);
                        }
                    }
                    if (bad) {
                        note = "an extension section extends past the end of the file; glibc-hwcaps entries ignored";
                    } else {
                        if (ho >= 0 && hs > 0 && ho % 4 == 0 && hs % 4 == 0) {
                            hwOff = ho;
                            hwCount = (int) (hs / 4);
                        }
                        gen = Optional.ofNullable(g);
                    }
                }
            }
        }
        return new LdSoCache(name, b, cpu, format, note, newOff + NEW_HEADER, NEW_ENTRY, n, newOff, hwOff, hwCount, gen);
    }

    private static LdSoCache reject(String name, CpuHwcaps cpu, String why) {
        return new LdSoCache(name, ByteBuffer.allocate(0), cpu, Format.NONE, name + ": " + why + "; cache ignored", 0,
                NEW_ENTRY, 0, 0, -1, 0, Optional.empty());
    }

    private static boolean endianOk(ByteBuffer b, int newOff) {
        int flags = b.get(newOff + 28) & 0xff;
        return flags == 0 || (flags & 3) == 2; // unset, or little-endian
    }

    private static boolean startsWith(ByteBuffer b, int at, String magic) {
        if (at < 0 || at + magic.length() > b.limit()) {
            return false;
        }
        for (int i = 0; i < magic.length(); i++) {
            if (b.get(at + i) != (byte) magic.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    private static long u32(ByteBuffer b, int at) {
        return b.getInt(at) & 0xffffffffL;
    }

    public Format format() {
        return format;
    }

    /** Whether lookups can find anything. */
    public boolean usable() {
        return format != Format.NONE;
    }

    /** Why the cache (or part of it) is ignored, if it is. */
    public Optional<String> problem() {
        return Optional.ofNullable(problem);
    }

    /** The generator string of the extension directory (e.g. "ldconfig (GNU libc) ..."), if present. */
    public Optional<String> generator() {
        return generator;
    }

    public int size() {
        return nlibs;
    }

    /**
     * Looks a soname up as glibc's search_cache does: binary search with ldconfig's ordering,
     * x86-64 libc6 entries only, glibc-hwcaps entries chosen by the CPU's best subdirectory,
     * legacy hwcap and platform bits honoured. Returns the path stored in the cache.
     */
    public Optional<String> lookup(String soname) {
        if (nlibs == 0) {
            return Optional.empty();
        }
        byte[] key = soname.getBytes(StandardCharsets.UTF_8);
        int left = 0;
        int right = nlibs - 1;
        long platformBit = cpu.cachePlatformBit();
        long hwcapExclude = ~(cpu.maskedHwcap() | CpuHwcaps.cachePlatformMask() | (1L << 63));
        while (left <= right) {
            int middle = (left + right) >>> 1;
            long k = entryKey(middle);
            if (!validString(k)) {
                return Optional.empty();
            }
            int cmp = libcmp(key, stringBase + (int) k);
            if (cmp == 0) {
                left = middle;
                while (middle > 0) {
                    long pk = entryKey(middle - 1);
                    if (!validString(pk) || libcmp(key, stringBase + (int) pk) != 0) {
                        break;
                    }
                    middle--;
                }
                String best = null;
                int bestPriority = 0;
                do {
                    int at = entryOffset(middle);
                    if (middle > left) {
                        long mk = entryKey(middle);
                        if (!validString(mk) || libcmp(key, stringBase + (int) mk) != 0) {
                            break;
                        }
                    }
                    int flags = buf.getInt(at);
                    long value = u32(buf, at + 8);
                    if (flags != FLAGS_X86_64_LIBC6 || !validString(value)) {
                        continue;
                    }
                    boolean named = false;
                    if (entrySize >= NEW_ENTRY) {
                        long hwcap = buf.getLong(at + 16);
                        named = ((hwcap >>> 32) & ~ISA_LEVEL_MASK) == (HWCAP_EXTENSION >>> 32);
                        if (named && !isaCompatible(hwcap)) {
                            continue;
                        }
                        if (!named && best != null) {
                            break;
                        }
                        if ((hwcap & hwcapExclude) != 0 && !named) {
                            continue;
                        }
                        long pbits = hwcap & CpuHwcaps.cachePlatformMask();
                        if (pbits != 0 && pbits != platformBit) {
                            continue;
                        }
                        if (named) {
                            int priority = hwcapsPriority((int) hwcap);
                            if (priority == 0) {
                                continue;
                            }
                            if (best == null || priority < bestPriority) {
                                bestPriority = priority;
                            } else {
                                continue;
                            }
                        }
                    }
                    String s = cString(stringBase + value);
                    if (s == null) {
                        continue;
                    }
                    best = s;
                    if (!named) {
                        break;
                    }
                } while (++middle <= right);
                return Optional.ofNullable(best);
            }
            if (cmp < 0) {
                left = middle + 1;
            } else {
                right = middle - 1;
            }
        }
        return Optional.empty();
    }

    /** All entries in file order, decoded; entries with bogus string indices are left out. */
    public List<Entry> entries() {
        List<Entry> out = new ArrayList<>();
        for (int i = 0; i < nlibs; i++) {
            int at = entryOffset(i);
            long k = entryKey(i);
            long v = u32(buf, at + 8);
            String ks = validString(k) ? cString(stringBase + k) : null;
            String vs = validString(v) ? cString(stringBase + v) : null;
            if (ks == null || vs == null) {
                continue;
            }
            long hwcap = entrySize >= NEW_ENTRY ? buf.getLong(at + 16) : 0;
            Optional<String> sub = Optional.empty();
            if (((hwcap >>> 32) & ~ISA_LEVEL_MASK) == (HWCAP_EXTENSION >>> 32)) {
                sub = Optional.ofNullable(hwcapsName((int) hwcap));
            }
            out.add(new Entry(ks, vs, buf.getInt(at), hwcap, sub));
        }
        return Collections.unmodifiableList(out);
    }

    /** The glibc-hwcaps subdirectory names listed in the extension section. */
    public List<String> hwcapsSubdirs() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < hwcapsCount; i++) {
            String s = hwcapsName(i);
            out.add(s == null ? "" : s);
        }
        return out;
    }

    private int entryOffset(int index) {
        return entriesOffset + index * entrySize;
    }

    private long entryKey(int index) {
        return u32(buf, entryOffset(index) + 4);
    }

    /** glibc's _dl_cache_verify_ptr: an index below the size of the mapped string area. */
    private boolean validString(long index) {
        return index < (long) buf.limit() - stringBase;
    }

    private boolean isaCompatible(long hwcap) {
        int level = (int) ((hwcap >>> 32) & ISA_LEVEL_MASK);
        if (level >= 31) {
            return false;
        }
        int bit = 1 << level;
        return (bit & cpu.isaLevels()) == bit;
    }

    private int hwcapsPriority(int index) {
        if (index < 0 || index >= hwcapsCount) {
            return 0;
        }
        String s = hwcapsName(index);
        return s == null ? 0 : cpu.hwcapsPriority(s);
    }

    private String hwcapsName(int index) {
        if (index < 0 || index >= hwcapsCount) {
            return null;
        }
        long off = u32(buf, hwcapsOffset + index * 4);
        // glibc_hwcaps_compare: relative to the start of the file.
        return off < buf.limit() ? cString(off) : null;
    }

    /** A NUL-terminated string at a file offset, or null when it runs past the end of the file. */
    private String cString(long offset) {
        if (offset < 0 || offset >= buf.limit()) {
            return null;
        }
        int start = (int) offset;
        int end = start;
        while (end < buf.limit() && buf.get(end) != 0) {
            end++;
        }
        if (end >= buf.limit()) {
            return null;
        }
        byte[] bytes = new byte[end - start];
        buf.get(start, bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /**
     * glibc's _dl_cache_libcmp between {@code key} and the string at {@code at}: digit runs
     * compare numerically, other bytes as (signed) chars. A string running past the end of the
     * file compares as if it ended there.
     */
    private int libcmp(byte[] key, int at) {
        int i = 0;
        int j = at;
        int lim = buf.limit();
        while (i < key.length) {
            byte c1 = key[i];
            byte c2 = j < lim ? buf.get(j) : 0;
            if (isDigit(c1)) {
                if (isDigit(c2)) {
                    long v1 = 0;
                    long v2 = 0;
                    while (i < key.length && isDigit(key[i])) {
                        v1 = Math.min(v1 * 10 + (key[i++] - '0'), Integer.MAX_VALUE);
                    }
                    while (j < lim && isDigit(buf.get(j))) {
                        v2 = Math.min(v2 * 10 + (buf.get(j++) - '0'), Integer.MAX_VALUE);
                    }
                    if (v1 != v2) {
                        return Long.compare(v1, v2);
                    }
                } else {
                    return 1;
                }
            } else if (isDigit(c2)) {
                return -1;
            } else if (c1 != c2) {
                return c1 - c2;
            } else {
                i++;
                j++;
            }
        }
        byte c2 = j < lim ? buf.get(j) : 0;
        return -c2;
    }

    private static boolean isDigit(byte c) {
        return c >= '0' && c <= '9';
    }

    @Override
    public String toString() {
        return "LdSoCache[" + name + ", " + format + ", " + nlibs + " entries]";
    }
}
