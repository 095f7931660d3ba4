package org.jdryad.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * glibc's secure mode (AT_SECURE) for set-user-ID and set-group-ID programs: a program whose
 * set-user-ID bit names an owner other than the caller's effective user (or whose set-group-ID
 * bit names another group) would run with the kernel's AT_SECURE, and glibc's loader then
 * ignores LD_LIBRARY_PATH, takes LD_PRELOAD only from the standard directories and only
 * set-user-ID libraries, ignores $ORIGIN in the program's RPATH/RUNPATH and LD_DEBUG_OUTPUT, and
 * removes its "unsecure" variables from the program's environment. jdryad applies the same rules
 * (the search's part is {@code SearchConfig.secure}). The program still runs with the caller's
 * own credentials under jdryad: the agent is not set-user-ID.
 */
public final class SecureMode {
    /** glibc 2.36's UNSECURE_ENVVARS (sysdeps/generic/unsecvars.h), removed from a secure program's environment. */
    private static final List<String> UNSECURE = List.of("GCONV_PATH", "GETCONF_DIR", "GLIBC_TUNABLES", "HOSTALIASES",
            "LD_AUDIT", "LD_DEBUG_OUTPUT", "LD_DYNAMIC_WEAK", "LD_HWCAP_MASK", "LD_LIBRARY_PATH", "LD_ORIGIN_PATH",
            "LD_PRELOAD", "LD_PROFILE", "LD_SHOW_AUXV", "LD_USE_LOAD_BIAS", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
            "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TMPDIR", "TZDIR");

    private SecureMode() {
    }

    /**
     * Whether LD_DEBUG is read for a secure program: glibc's process_envvars clears the debug
     * mask then unless /etc/suid-debug exists. (jdryad's own --debug is not the program's
     * environment and always applies: under jdryad the program has no privilege to protect.)
     */
    public static boolean debugAllowed() {
        return Files.exists(Path.of("/etc/suid-debug"));
    }

    /** Whether the kernel would start {@code program} with AT_SECURE for this process's user and group. */
    public static boolean applies(Path program) {
        try {
            int mode = (Integer) Files.getAttribute(program, "unix:mode");
            // /proc/self belongs to the process's effective user and group.
            int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            int gid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:gid");
            boolean setuid = (mode & 04000) != 0 && (Integer) Files.getAttribute(program, "unix:uid") != uid;
            boolean setgid = (mode & 02000) != 0 && (Integer) Files.getAttribute(program, "unix:gid") != gid;
            return setuid || setgid;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The environment a secure program gets: glibc's unsecure variables removed, the order kept. */
    public static Map<String, String> strip(Map<String, String> env) {
        Map<String, String> out = new LinkedHashMap<>(env);
        out.keySet().removeAll(UNSECURE);
        return out;
    }
}
