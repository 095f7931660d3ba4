package org.jdryad.search;

import java.util.Set;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.elf.Symbol;
import org.jdryad.elf.SymbolTable;
import org.jdryad.elf.SymbolVersions;

/**
 * glibc's own objects, which stay glibc's (loaded by the system loader into the agent, never
 * relocated by jdryad); matched by soname. See DESIGN.md, "Host objects and jdryad objects".
 *
 * <p>libgcc_s.so.1 is one too, unlike DESIGN.md's first list: glibc loads its own copy for thread
 * cancellation and backtrace(), and a second copy loaded by jdryad for the program cannot share
 * an unwind with it (a cancelled thread's forced unwind ran glibc's copy, then the program's
 * copy's personality routine, whose never-initialised register-size table made it abort). With
 * one copy, jdryad registers its objects' .eh_frame with it instead (org.jdryad.run.UnwindTables).
 *
 * <p>A library of the list that needs symbols of its user is not a host object, but a jdryad
 * one: glibc loads host objects in the agent, whose scope has none of the program's symbols.
 * glibc's libraries version every reference into another glibc library, so an unversioned,
 * non-weak undefined symbol is one the user must export: libthread_db.so.1 calls the ps_*
 * functions of proc_service.h, which gdb (and any thread debugger) defines. jdryad maps and
 * relocates such a library like any other, against the program's scope.
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

    /** Whether {@code elf} is a host object by its soname and needs none of its user's symbols (see above). */
    public static boolean isHost(String soname, ElfFile elf) {
        return isHostSoname(soname) && !needsItsUsersSymbols(elf);
    }

    /**
     * Whether {@code elf} needs its user's symbols, decided once per parsed file: the scan reads
     * every dynamic symbol (about 3000 in libc), which cost the warm server about a tenth of a
     * run's CPU when done at every run.
     */
    private static final ElfFile.DerivedKey<Boolean> NEEDS_USERS_SYMBOLS =
            new ElfFile.DerivedKey<>("needs its user's symbols", HostObjects::scanForUsersSymbols);

    /** An unversioned, non-weak undefined dynamic symbol: one its user must define. */
    static boolean needsItsUsersSymbols(ElfFile elf) {
        return elf != null && elf.derived(NEEDS_USERS_SYMBOLS);
    }

    private static boolean scanForUsersSymbols(ElfFile elf) {
        if (elf.dynamic().isEmpty()) {
            return false;
        }
        try {
            DynamicSection d = elf.dynamic().get();
            SymbolTable syms = d.symbols();
            SymbolVersions versions = d.versions();
            for (int i = 1; i < syms.count(); i++) {
                Symbol s = syms.get(i);
                if (s.isUndefined() && s.bind() == Elf.STB_GLOBAL
                        && (versions.versym(i) & Elf.VERSYM_VERSION) <= Elf.VER_NDX_GLOBAL) {
                    return true;
                }
            }
            return false;
        } catch (ElfFormatException e) {
            return false; // a malformed file stays glibc's to load (and to refuse in its words)
        }
    }

    /** The sonames listed explicitly (libnss_* is matched by prefix). */
    public static Set<String> sonames() {
        return SONAMES;
    }
}
