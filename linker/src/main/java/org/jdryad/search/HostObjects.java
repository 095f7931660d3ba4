package org.jdryad.search;

import java.util.Set;

/**
 * glibc's own objects, which stay glibc's (loaded by the system loader into the agent, never
 * relocated by jdryad); matched by soname. See DESIGN.md, "Host objects and jdryad objects".
 *
 * <p>libgcc_s.so.1 is one too, unlike DESIGN.md's first list: glibc loads its own copy for thread
 * cancellation and backtrace(), and a second copy loaded by jdryad for the program cannot share
 * an unwind with it (a cancelled thread's forced unwind ran glibc's copy, then the program's
 * copy's personality routine, whose never-initialised register-size table made it abort). With
 * one copy, jdryad registers its objects' .eh_frame with it instead (org.jdryad.run.UnwindTables).
 */
public final class HostObjects {
    private static final Set<String> SONAMES = Set.of(
            "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
            "libutil.so.1", "libresolv.so.2", "libanl.so.1", "libmvec.so.1", "libBrokenLocale.so.1",
            "libthread_db.so.1", "libc_malloc_debug.so.0", "libgcc_s.so.1");

    private HostObjects() {
    }

    /** Whether an object with this soname is a host object. */
    public static boolean isHostSoname(String soname) {
        return soname != null && (SONAMES.contains(soname) || soname.startsWith("libnss_"));
    }

    /** The sonames listed explicitly (libnss_* is matched by prefix). */
    public static Set<String> sonames() {
        return SONAMES;
    }
}
