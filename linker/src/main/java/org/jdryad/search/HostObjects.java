package org.jdryad.search;

import java.util.Set;

/**
 * glibc's own objects, which stay glibc's (loaded by the system loader into the agent, never
 * relocated by jdryad); matched by soname. See DESIGN.md, "Host objects and jdryad objects".
 */
public final class HostObjects {
    private static final Set<String> SONAMES = Set.of(
            "ld-linux-x86-64.so.2", "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1",
            "libutil.so.1", "libresolv.so.2", "libanl.so.1", "libmvec.so.1", "libBrokenLocale.so.1",
            "libthread_db.so.1", "libc_malloc_debug.so.0");

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
