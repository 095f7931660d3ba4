package org.jdryad.search;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the library search depends on besides the files: the user's LD_LIBRARY_PATH and
 * LD_PRELOAD (or --library-path / --preload), secure mode, the cache, the CPU and the system's
 * fixed choices (default directories, $LIB, the interpreter). Immutable; build with
 * {@link #builder()} or {@link #fromEnvironment(Map)}.
 */
public final class SearchConfig {
    /** Debian's glibc 2.36 system search path (as {@code ld.so --help} lists it), each ending with '/'. */
    public static final List<String> DEBIAN_SYSTEM_DIRS = List.of(
            "/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/", "/lib/", "/usr/lib/");
    /** Debian's expansion of $LIB. */
    public static final String DEBIAN_LIB = "lib/x86_64-linux-gnu";
    /** The system loader, as ldd runs it. */
    public static final String SYSTEM_INTERPRETER = "/lib64/ld-linux-x86-64.so.2";

    /** How the program's $ORIGIN is computed. */
    public enum ExecutableOrigin {
        /** From the path as given, not resolved (as ldd, which runs {@code ld.so PROGRAM}). */
        AS_GIVEN,
        /** From the resolved file (as the kernel's exec and /proc/self/exe give it). */
        RESOLVED
    }

    private final String libraryPath;
    private final String libraryPathSource;
    private final String preload;
    private final String preloadOption;
    private final Path preloadFile;
    private final boolean secure;
    private final Path cachePath;
    private final boolean inhibitCache;
    private final List<String> systemDirs;
    private final String lib;
    private final CpuHwcaps cpu;
    private final String interpreter;
    private final ExecutableOrigin executableOrigin;
    private final Path workingDirectory;
    private LdSoCache cache;

    private SearchConfig(Builder b) {
        this.libraryPath = b.libraryPath;
        this.libraryPathSource = b.libraryPathSource;
        this.preload = b.preload;
        this.preloadOption = b.preloadOption;
        this.preloadFile = b.preloadFile;
        this.secure = b.secure;
        this.cachePath = b.cachePath;
        this.inhibitCache = b.inhibitCache;
        this.systemDirs = List.copyOf(b.systemDirs);
        this.lib = b.lib;
        this.cpu = b.cpu == null ? CpuHwcaps.host() : b.cpu;
        this.interpreter = b.interpreter;
        this.executableOrigin = b.executableOrigin;
        this.workingDirectory = b.workingDirectory == null ? Path.of("").toAbsolutePath() : b.workingDirectory;
        this.cache = b.cache;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The configuration the user's environment asks for. The jdryad launcher moves the user's
     * {@code LD_*} variables to {@code JDRYAD_LD_*}; those are read first, the plain names after
     * (in-process use, tests).
     */
    public static SearchConfig fromEnvironment(Map<String, String> env) {
        return builderFromEnvironment(env).build();
    }

    /** A builder preset from the environment, to add command-line options to. */
    public static Builder builderFromEnvironment(Map<String, String> env) {
        Builder b = builder();
        b.libraryPath(ldVariable(env, "LD_LIBRARY_PATH"), "LD_LIBRARY_PATH");
        b.preload(ldVariable(env, "LD_PRELOAD"));
        return b;
    }

    /** {@code JDRYAD_NAME} if set, else {@code NAME}, else null. */
    public static String ldVariable(Map<String, String> env, String name) {
        String v = env.get("JDRYAD_" + name);
        return v != null ? v : env.get(name);
    }

    /** The raw library path (LD_LIBRARY_PATH or --library-path); null when none. */
    public String libraryPath() {
        return libraryPath;
    }

    /** "LD_LIBRARY_PATH" or "--library-path". */
    public String libraryPathSource() {
        return libraryPathSource;
    }

    /** The raw LD_PRELOAD value; null when none. */
    public String preload() {
        return preload;
    }

    /** The raw --preload value; null when none. */
    public String preloadOption() {
        return preloadOption;
    }

    /** /etc/ld.so.preload, or null to ignore it. */
    public Path preloadFile() {
        return preloadFile;
    }

    /** Secure mode (AT_SECURE: setuid/setgid programs). */
    public boolean secure() {
        return secure;
    }

    public boolean inhibitCache() {
        return inhibitCache;
    }

    /** The ld.so.cache, opened on first use (an empty one when inhibited or unreadable). */
    public synchronized LdSoCache cache() {
        if (cache == null) {
            cache = inhibitCache || cachePath == null ? LdSoCache.empty("cache inhibited")
                    : org.jdryad.elf.ElfCache.enabled() ? LdSoCache.openShared(cachePath, cpu)
                    : LdSoCache.open(cachePath, cpu);
        }
        return cache;
    }

    public Path cachePath() {
        return cachePath;
    }

    /** The default directories, each ending with '/'; also glibc's trusted directories. */
    public List<String> systemDirs() {
        return systemDirs;
    }

    /** The expansion of $LIB. */
    public String lib() {
        return lib;
    }

    public CpuHwcaps cpu() {
        return cpu;
    }

    /** The interpreter's path (the system loader). */
    public String interpreter() {
        return interpreter;
    }

    public ExecutableOrigin executableOrigin() {
        return executableOrigin;
    }

    /** The directory relative names are resolved against. */
    public Path workingDirectory() {
        return workingDirectory;
    }

    /** Builder for {@link SearchConfig}. */
    public static final class Builder {
        private String libraryPath;
        private String libraryPathSource = "LD_LIBRARY_PATH";
        private String preload;
        private String preloadOption;
        private Path preloadFile = Path.of("/etc/ld.so.preload");
        private boolean secure;
        private Path cachePath = LdSoCache.DEFAULT_PATH;
        private boolean inhibitCache;
        private List<String> systemDirs = DEBIAN_SYSTEM_DIRS;
        private String lib = DEBIAN_LIB;
        private CpuHwcaps cpu;
        private String interpreter = SYSTEM_INTERPRETER;
        private ExecutableOrigin executableOrigin = ExecutableOrigin.AS_GIVEN;
        private Path workingDirectory;
        private LdSoCache cache;

        private Builder() {
        }

        /** LD_LIBRARY_PATH (null or "" for none). */
        public Builder libraryPath(String value) {
            return libraryPath(value, "LD_LIBRARY_PATH");
        }

        /** A library path and where it came from ("LD_LIBRARY_PATH" or "--library-path"). */
        public Builder libraryPath(String value, String source) {
            this.libraryPath = value;
            this.libraryPathSource = Objects.requireNonNull(source);
            return this;
        }

        /** --library-path: replaces LD_LIBRARY_PATH, as with ld.so. */
        public Builder libraryPathOption(String value) {
            return value == null ? this : libraryPath(value, "--library-path");
        }

        /** LD_PRELOAD (names separated by spaces or colons). */
        public Builder preload(String value) {
            this.preload = value;
            return this;
        }

        /** --preload: loaded after the LD_PRELOAD ones, as with ld.so. */
        public Builder preloadOption(String value) {
            this.preloadOption = value;
            return this;
        }

        /** /etc/ld.so.preload, or null to ignore it. */
        public Builder preloadFile(Path value) {
            this.preloadFile = value;
            return this;
        }

        public Builder secure(boolean value) {
            this.secure = value;
            return this;
        }

        public Builder cachePath(Path value) {
            this.cachePath = value;
            this.cache = null;
            return this;
        }

        /** Uses an already opened cache. */
        public Builder cache(LdSoCache value) {
            this.cache = value;
            return this;
        }

        public Builder inhibitCache(boolean value) {
            this.inhibitCache = value;
            return this;
        }

        /** Default directories, each ending with '/'. */
        public Builder systemDirs(List<String> value) {
            for (String d : value) {
                if (!d.startsWith("/") || !d.endsWith("/")) {
                    throw new IllegalArgumentException("system directory must be absolute and end with '/': " + d);
                }
            }
            this.systemDirs = List.copyOf(value);
            return this;
        }

        public Builder lib(String value) {
            this.lib = Objects.requireNonNull(value);
            return this;
        }

        public Builder cpu(CpuHwcaps value) {
            this.cpu = value;
            return this;
        }

        public Builder interpreter(String value) {
            this.interpreter = Objects.requireNonNull(value);
            return this;
        }

        public Builder executableOrigin(ExecutableOrigin value) {
            this.executableOrigin = Objects.requireNonNull(value);
            return this;
        }

        public Builder workingDirectory(Path value) {
            this.workingDirectory = value == null ? null : value.toAbsolutePath();
            return this;
        }

        public SearchConfig build() {
            return new SearchConfig(this);
        }
    }
}
