package org.jdryad.elf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Parsed ELF files kept between runs, for the warm server: a run of the same program opens
 * the same libraries, and their parsed tables (dynamic section, symbols, hashes, versions) are
 * what planning reads. Why keyed by device, inode, size and modification time, looked up anew
 * at every open: a library rebuilt or replaced in place has another key, so a run never gets
 * a stale parse. Off (every open parses) until {@link #enable} is called: cold mode runs once.
 */
public final class ElfCache {
    /** A file's version: where it is and what it was when parsed. */
    private record Key(long device, long inode, long size, long mtimeNanos, long ctimeNanos) {
    }

    private static final int CAPACITY = 512;
    private static volatile boolean enabled;
    private static final Map<Key, ElfFile> FILES = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, ElfFile> eldest) {
            return size() > CAPACITY;
        }
    };
    private static long hits;
    private static long misses;

    private ElfCache() {
    }

    /** Keeps parsed files from now on (the warm server). */
    public static void enable() {
        enabled = true;
    }

    /** Off again, with nothing kept (tests: their JVM runs cold-mode code as well). */
    static void disable() {
        enabled = false;
        synchronized (FILES) {
            FILES.clear();
        }
    }

    /** Whether parsed files are kept (in the warm server). */
    public static boolean enabled() {
        return enabled;
    }

    /** {@link ElfFile#open}, answered from the cache when the file has not changed since it was parsed. */
    public static ElfFile open(Path path) throws IOException {
        if (!enabled) {
            return ElfFile.open(path);
        }
        Key key = keyOf(path);
        if (key == null) {
            return ElfFile.open(path); // not a regular file, or gone: open says why
        }
        synchronized (FILES) {
            ElfFile cached = FILES.get(key);
            if (cached != null && cached.path().equals(path)) {
                hits++;
                return cached;
            }
        }
        ElfFile parsed = ElfFile.open(path);
        Key after = keyOf(path);
        synchronized (FILES) {
            misses++;
            if (key.equals(after)) { // unchanged while it was read
                FILES.put(key, parsed);
            }
        }
        return parsed;
    }

    /** How many opens the cache answered and how many it parsed (for `jdryad server status`). */
    public static String describe() {
        synchronized (FILES) {
            return FILES.size() + " parsed files kept, " + hits + " opens answered from them, " + misses + " parsed";
        }
    }

    private static Key keyOf(Path path) {
        try {
            Map<String, Object> a = Files.readAttributes(path, "unix:dev,ino,size,lastModifiedTime,ctime,isRegularFile");
            if (!Boolean.TRUE.equals(a.get("isRegularFile"))) {
                return null;
            }
            return new Key(((Number) a.get("dev")).longValue(), ((Number) a.get("ino")).longValue(),
                    ((Number) a.get("size")).longValue(),
                    ((java.nio.file.attribute.FileTime) a.get("lastModifiedTime")).to(java.util.concurrent.TimeUnit.NANOSECONDS),
                    ((java.nio.file.attribute.FileTime) a.get("ctime")).to(java.util.concurrent.TimeUnit.NANOSECONDS));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
