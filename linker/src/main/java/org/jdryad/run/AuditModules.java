package org.jdryad.run;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.HostLibrary;
import org.jdryad.agent.HostLoadException;
import org.jdryad.agent.Protocol;

/**
 * Loading LD_AUDIT modules as rtld.c's load_audit_module does: each by glibc's own
 * dlmopen(LM_ID_NEWLM) in the agent, so in a namespace and with a libc of its own; its la_*
 * functions found by glibc's dlsym in its own scope; la_version negotiated; a module that cannot be
 * loaded, lacks la_version or refuses every version reported in glibc's words and unloaded.
 *
 * <p>Why apart from Auditing: loading happens once, before the program exists, and needs nothing
 * of it; Auditing is what the loaded modules are told from then on.
 */
final class AuditModules {
    static final long LAV_CURRENT = Auditing.LAV_CURRENT;
    private static final long LM_ID_NEWLM = -1;
    private static final String[] HOOKS = {"la_version", "la_objsearch", "la_activity", "la_objopen", "la_objclose",
        "la_preinit", "la_symbind64", "la_x86_64_gnu_pltenter", "la_x86_64_gnu_pltexit"};

    /** A module that accepted an interface version: its file, glibc's handle of it, its la_* functions (absent: 0). */
    record Module(String name, long handle, long version, Map<String, Long> hooks) {
        long hook(String n) {
            return hooks.getOrDefault(n, 0L);
        }
    }

    private AuditModules() {
    }

    /**
     * Loads {@code names} in order; a module that cannot be loaded, has no la_version or refuses
     * every version is reported in glibc's words on {@code err} and unloaded again. Empty when no
     * module remains. {@code libraryPath} (LD_LIBRARY_PATH, may be null) is where a bare name is
     * looked for first, as glibc's dlmopen of an audit module would: the agent's own environment
     * has no LD_* variables. For a {@code secure} program (glibc's secure mode) a name with '/' is
     * ignored and a bare one must be a set-user-ID file in the trusted directories.
     */
    static List<Module> load(List<String> names, String libraryPath, boolean secure, Identity identity,
                             AgentProcess agent, PrintStream err) {
        List<Module> modules = new ArrayList<>();
        for (String name : names) {
            if (secure && name.indexOf('/') >= 0) {
                continue; // glibc's secure mode ignores a path, silently
            }
            String file = secure ? trusted(name) : onLibraryPath(name, libraryPath);
            if (file == null) {
                err.println("ERROR: ld.so: object '" + name + "' cannot be loaded as audit interface: "
                        + "cannot open shared object file; ignored.");
                continue;
            }
            loadModule(name, file, identity, agent, err).ifPresent(modules::add);
        }
        return List.copyOf(modules);
    }

    /**
     * A secure program's module (set-user-ID or set-group-ID program, SecureMode): only a
     * set-user-ID file of that name in glibc's trusted directories, else null.
     */
    private static String trusted(String name) {
        for (String dir : org.jdryad.search.SearchConfig.DEBIAN_SYSTEM_DIRS) {
            java.nio.file.Path p = java.nio.file.Path.of(dir, name);
            try {
                if (java.nio.file.Files.isRegularFile(p)
                        && ((Integer) java.nio.file.Files.getAttribute(p, "unix:mode") & 04000) != 0) {
                    return p.toString();
                }
            } catch (java.io.IOException | RuntimeException e) {
                // unreadable: not this one
            }
        }
        return null;
    }

    /**
     * rtld.c's load_audit_module: glibc's dlmopen(LM_ID_NEWLM) of the module in the agent, so in
     * a namespace and with a libc of its own, as glibc gives every module; then la_version,
     * negotiated. glibc's words when it fails.
     */
    private static Optional<Module> loadModule(String name, String path, Identity identity, AgentProcess agent,
                                               PrintStream err) {
        HostLibrary lib;
        try {
            lib = agent.dlmopenHost(LM_ID_NEWLM, path, Protocol.RTLD_NOW).library();
        } catch (HostLoadException e) {
            err.println("ERROR: ld.so: object '" + name + "' cannot be loaded as audit interface: "
                    + auditWords(path, e.dlerror()) + "; ignored.");
            return Optional.empty();
        }
        identity.tell(agent, lib.handle());
        Map<String, Long> hooks = hooksOf(agent, lib.handle());
        Long laVersion = hooks.get("la_version");
        if (laVersion == null) {
            err.println("ERROR: ld.so: object '" + name
                    + "' cannot be loaded as audit interface: undefined symbol: la_version; ignored.");
            agent.dlcloseHost(lib.handle()); // its namespace goes with it
            return Optional.empty();
        }
        long version = agent.call(laVersion, LAV_CURRENT) & 0xffffffffL;
        if (version == 0 || version > LAV_CURRENT) {
            if (version != 0) {
                err.printf("%10d:\tERROR: audit interface '%s' requires version %d (maximum supported version %d);"
                        + " ignored.%n", agent.pid(), name, version, LAV_CURRENT);
            }
            agent.dlcloseHost(lib.handle()); // its namespace goes with it
            return Optional.empty();
        }
        String file = lib.name() == null || lib.name().isEmpty() ? path : lib.name();
        return Optional.of(new Module(file, lib.handle(), version, hooks));
    }

    /**
     * The program's argv[0] and environment as a module's own libc must see them: glibc's dlmopen
     * initialised that copy with the agent's (under --follow the agent's argv[0] is its own path,
     * and its environment never has LD_* variables), where natively they are the program's.
     */
    record Identity(long argv0, long argv0Base, long envp) {
        static Identity place(AgentProcess agent, List<String> argv, List<String> envp) {
            long argvAt = agent.placeStrings(argv);
            long full = agent.readLong(argvAt);
            String a0 = argv.get(0);
            int slash = a0.lastIndexOf('/');
            long base = full + (slash < 0 ? 0 : a0.substring(0, slash + 1).getBytes(StandardCharsets.UTF_8).length);
            return new Identity(full, base, agent.placeStrings(envp));
        }

        /** Points the names and environ of the libc in {@code handle}'s namespace at the program's. */
        void tell(AgentProcess agent, long handle) {
            String[][] slots = {{"program_invocation_name", "__progname_full"},
                {"program_invocation_short_name", "__progname"}, {"environ", "__environ", "_environ"}};
            long[] values = {argv0, argv0Base, envp};
            List<Long> addrs = new ArrayList<>();
            List<Long> vals = new ArrayList<>();
            for (int i = 0; i < slots.length; i++) {
                for (String n : slots[i]) {
                    try {
                        long at = agent.dlsymHost(handle, n, null);
                        if (at != 0 && !addrs.contains(at)) {
                            addrs.add(at);
                            vals.add(values[i]);
                        }
                    } catch (org.jdryad.agent.AgentException e) {
                        // a module without libc has none of them
                    }
                }
            }
            agent.writeWords(addrs.stream().mapToLong(Long::longValue).toArray(),
                    vals.stream().mapToLong(Long::longValue).toArray());
        }
    }

    /** A bare module name found in a directory of LD_LIBRARY_PATH, or the name as given (glibc searches the rest). */
    private static String onLibraryPath(String name, String libraryPath) {
        if (name.contains("/") || libraryPath == null) {
            return name;
        }
        for (String dir : libraryPath.split("[:;]")) {
            java.nio.file.Path p = java.nio.file.Path.of(dir.isEmpty() ? "." : dir, name);
            if (java.nio.file.Files.isRegularFile(p)) {
                return p.toString();
            }
        }
        return name;
    }


    /** The la_* functions a module has: glibc's dlsym in the module's own scope (itself, then its dependencies). */
    private static Map<String, Long> hooksOf(AgentProcess agent, long handle) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String h : HOOKS) {
            long at;
            try {
                at = agent.dlsymHost(handle, h, null);
            } catch (org.jdryad.agent.AgentException e) {
                continue; // undefined: the module has no such callback
            }
            if (at != 0) {
                out.put(h, at);
            }
        }
        return out;
    }

    /**
     * The error part of a dlopen's dlerror, as glibc's audit message quotes it: without the file
     * name before it and the errno text after "cannot open shared object file".
     */
    static String auditWords(String name, String dlerror) {
        String s = dlerror == null ? "cannot open shared object file" : dlerror;
        int colon = s.indexOf(": ");
        if (colon >= 0 && (s.startsWith(name + ": ") || s.substring(0, colon).endsWith("/" + baseName(name)))) {
            s = s.substring(colon + 2);
        }
        String open = "cannot open shared object file";
        return s.startsWith(open) ? open : s;
    }

    private static String baseName(String name) {
        int slash = name.lastIndexOf('/');
        return slash < 0 ? name : name.substring(slash + 1);
    }

    /** The names the modules need (their DT_NEEDED): glibc searches them for the modules first. */
    static Set<String> needs(List<Module> modules) {
        Set<String> out = new java.util.HashSet<>();
        for (Module m : modules) {
            try {
                org.jdryad.elf.ElfCache.open(java.nio.file.Path.of(m.name())).dynamic().ifPresent(d -> out.addAll(d.needed()));
            } catch (java.io.IOException | RuntimeException e) {
                // glibc loaded it; a file jdryad cannot read teaches nothing about the search
            }
        }
        return out;
    }
}
