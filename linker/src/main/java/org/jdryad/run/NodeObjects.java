package org.jdryad.run;

import java.io.IOException;
import java.nio.file.Path;
import org.jdryad.agent.AgentInfo;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.HostLibrary;
import org.jdryad.agent.HostLoadException;
import org.jdryad.agent.HostObject;
import org.jdryad.agent.Protocol;
import org.jdryad.link.LoadedObject;

/**
 * The LoadedObject of a node the library search found: a jdryad object is only described here
 * (LinkSession maps it); a host object is glibc's copy in the agent, the one the system loader
 * loaded with the agent or one glibc's dlopen (dlmopen in a namespace) loads now, with its
 * addresses and TLS as glibc has them.
 *
 * <p>Why apart from ProgramRunner: start-up, dlopen and the audited searches all make objects
 * this one way, and how glibc is asked for its copy (by soname or by path, in which namespace)
 * is a concern of its own.
 */
final class NodeObjects {
    private NodeObjects() {
    }

    /**
     * The object for node {@code n} of namespace {@code lmid}: a host object is glibc's copy in
     * the agent (its addresses and TLS as glibc has them); a jdryad object is mapped later.
     */
    static LoadedObject make(AgentProcess agent, long lmid, ObjectGraph.Node n, int index,
                                           LoadedObject dlopenCaller) {
        LoadedObject obj = new LoadedObject(n.elf(), n.name(), n.host(), index == 0 && lmid == 0, index);
        obj.setNamespace(lmid);
        if (n.host()) {
            HostLibrary lib = hostLibraryOf(agent, n, lmid);
            // The reference Java's dlopen (or dlmopen) took, given back when the object is unloaded
            // (Namespaces.closeHostsOf); the start-up's host objects stay for good.
            obj.setGlibcHandle(lmid == 0 && dlopenCaller == null ? 0 : lib.handle());
            obj.setBase(lib.lAddr());
            obj.setMapping(lib.lAddr() + n.elf().lowestLoadAddress(agent.info().pageSize()),
                    n.elf().mappedSpan(agent.info().pageSize()));
            if (lib.tlsModid() != 0) {
                obj.setTls(lib.tlsModid(), lib.tlsOffset(), lib.tlsOffset() != 0);
            }
        }
        return obj;
    }

    /**
     * glibc's copy of a host object: in the base namespace the one the system loader loaded with
     * the agent, or glibc's dlopen loads it; in a namespace dlmopen made (also one of glibc's,
     * the same id), glibc's dlmopen loads it again there, so jdryad objects of that namespace
     * bind to a libc of their own, as under glibc.
     */
    private static HostLibrary hostLibraryOf(AgentProcess agent, ObjectGraph.Node n, long lmid) {
        String path = n.path().toString();
        if (lmid != 0) {
            // ld.so by its soname: the namespace's stand-in is found by that name only (DynamicLoader).
            boolean rtld = n.soname().map(DynamicLoader.RTLD_SONAME::equals).orElse(false);
            return rtld ? agent.dlmopenHost(lmid, DynamicLoader.RTLD_SONAME, Protocol.RTLD_NOW).library()
                    : byNeededName(agent, n, name -> agent.dlmopenHost(lmid, name, Protocol.RTLD_NOW).library());
        }
        return findHost(agent.info(), n) != null ? agent.hostLibrary(path) : byNeededName(agent, n, agent::dlopenHost);
    }

    /**
     * glibc's copy of {@code n}, opened by its soname when glibc finds the same file by it, else
     * by its path. Why: glibc's map then carries the name a DT_NEEDED entry gives (l_libname),
     * which audit modules print (sotruss names "libm.so.6", not "/lib/x86_64-linux-gnu/libm.so.6").
     */
    private static HostLibrary byNeededName(AgentProcess agent, ObjectGraph.Node n,
                                            java.util.function.Function<String, HostLibrary> open) {
        String path = n.path().toString();
        String soname = n.soname().orElse(null);
        if (soname == null || soname.indexOf('/') >= 0) {
            return open.apply(path);
        }
        HostLibrary lib;
        try {
            lib = open.apply(soname);
        } catch (HostLoadException e) {
            return open.apply(path);
        }
        if (sameFile(lib.name(), path)) {
            return lib;
        }
        agent.dlcloseHost(lib.handle()); // another file by that name: not the one found
        return open.apply(path);
    }

    /** Whether the paths name one file (false when either cannot be looked at). */
    private static boolean sameFile(String a, String b) {
        try {
            return a != null && (a.equals(b) || java.nio.file.Files.isSameFile(Path.of(a), Path.of(b)));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The agent's own copy of {@code n} (one the system loader loaded with it), or null. */
    private static HostObject findHost(AgentInfo info, ObjectGraph.Node n) {
        for (HostObject h : info.hostObjects()) {
            if (h.name().equals(n.path().toString()) || n.soname().map(s -> h.name().endsWith("/" + s)).orElse(false)) {
                return h;
            }
        }
        return null;
    }
}
