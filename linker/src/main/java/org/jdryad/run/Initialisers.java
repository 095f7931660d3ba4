package org.jdryad.run;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.FiniEntry;
import org.jdryad.agent.Protocol;
import org.jdryad.debug.LinkTrace;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Elf;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;

/**
 * Initialisers and finalisers of the jdryad objects: DT_PREINIT_ARRAY, DT_INIT and
 * DT_INIT_ARRAY run at start-up and after a dlopen, the exit-time list of finalisers the agent
 * keeps (with LD_DEBUG's and LD_AUDIT's entries in glibc's order), and those a dlclose runs.
 * Separate from {@link DynamicLoader} because which objects were initialised, and the order and
 * texts that follow from it, is state of its own that the dlfcn entry points only consult.
 *
 * <p>Locking: its state is guarded by the loader's monitor. {@link #runInitialisers} and
 * {@link #publishFinalisers} take it themselves ({@code synchronized (loader)}, the monitor the
 * loader's own methods held); {@link #closing} and {@link #forget} are called with it held; no
 * initialiser or finaliser runs with it held.
 */
final class Initialisers {
    /** Init/fini arrays larger than this (2 million functions) are refused as malformed. */
    private static final long MAX_FUNCTION_ARRAY = 1 << 24;

    private final DynamicLoader loader;
    private final LinkSession session;
    private final List<LoadedObject> initialised = new ArrayList<>();
    /**
     * Host objects whose initialisers glibc ran, at start-up or in a dlmopen's namespace (its
     * own dlopen and dlmopen, with glibc's LD_DEBUG off): their LD_DEBUG lines are printed in
     * glibc's order, and glibc's dlclose runs their finalisers after the jdryad objects'.
     */
    private final java.util.Set<LoadedObject> hostsAnnounced =
            java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    /** LD_DEBUG's "calling fini" text per object, placed in agent memory once (address, length). */
    private final Map<LoadedObject, long[]> finiTexts = new IdentityHashMap<>();
    private long[] debugOutputPath;
    private long argc;
    private long argvAddr;
    private long envpAddr;

    /** The initialisers of {@code loader}'s objects: it reads the loader's agent, trace and audit as they are at each call. */
    Initialisers(DynamicLoader loader, LinkSession session) {
        this.loader = loader;
        this.session = session;
    }

    /** Takes {@code other}'s initialised objects, arguments and finaliser texts (DynamicLoader.copyFor). */
    void copyFrom(Initialisers other) {
        initialised.addAll(other.initialised);
        hostsAnnounced.addAll(other.hostsAnnounced);
        argc = other.argc;
        argvAddr = other.argvAddr;
        envpAddr = other.envpAddr;
        finiTexts.putAll(other.finiTexts);
        debugOutputPath = other.debugOutputPath;
    }

    /** Where the argument vectors for initialisers live (glibc passes the program's argc, argv, envp). */
    void setArguments(long argc, long argvAddr, long envpAddr) {
        this.argc = argc;
        this.argvAddr = argvAddr;
        this.envpAddr = envpAddr;
    }

    /**
     * Runs initialisers of {@code order} (already in glibc's order), skipping host and already
     * initialised objects. No Java lock is held while an initialiser runs: it may call dlsym or
     * dlopen, whose callbacks arrive on another Java thread (glibc's loader lock is recursive
     * for the thread that holds it; a Java monitor would not be).
     */
    void runInitialisers(List<LoadedObject> order, boolean skipMainInit) {
        for (LoadedObject o : order) {
            synchronized (loader) {
                if (o.dynamic().isEmpty() || initialised.contains(o) || hostsAnnounced.contains(o)
                        || o.isHost() && o.namespace() != 0 && isRtld(o)) {
                    continue;
                }
                (o.isHost() ? hostsAnnounced : initialised).add(o);
            }
            loader.trace().initialising(o); // glibc 2.36's call_init announces every object, with initialisers or not
            if (o.isHost()) {
                continue; // glibc ran them when it loaded the object into the agent
            }
            if (o.isExecutable() && skipMainInit) {
                continue;
            }
            DynamicSection d = o.dynamic().get();
            List<Long> calls = new ArrayList<>();
            if (d.value(Elf.DT_INIT).isPresent()) {
                calls.add(o.base() + d.value(Elf.DT_INIT).getAsLong());
            }
            calls.addAll(functionArray(o, d, Elf.DT_INIT_ARRAY, Elf.DT_INIT_ARRAYSZ));
            if (!calls.isEmpty()) {
                loader.agent().callAll(calls, argc, argvAddr, envpAddr);
            }
        }
        publishFinalisers();
    }

    /** ld.so: in a namespace of dlmopen's, glibc's stand-in for its one copy (never initialised again). */
    private static boolean isRtld(LoadedObject o) {
        return o.soname().map(DynamicLoader.RTLD_SONAME::equals).orElse(false);
    }

    /** The executable's DT_PREINIT_ARRAY (run before every other initialiser). */
    void runPreinit(LoadedObject main) {
        main.dynamic().ifPresent(d -> {
            List<Long> calls = functionArray(main, d, Elf.DT_PREINIT_ARRAY, Elf.DT_PREINIT_ARRAYSZ);
            if (!calls.isEmpty()) {
                loader.trace().preinit();
                loader.agent().callAll(calls, argc, argvAddr, envpAddr);
            }
        });
    }

    /** The (relocated) function pointers of an init/fini array, read from the target; 0 and -1 skipped. */
    List<Long> functionArray(LoadedObject o, DynamicSection d, long tag, long sizeTag) {
        List<Long> out = new ArrayList<>();
        if (d.value(tag).isEmpty()) {
            return out;
        }
        long size = d.value(sizeTag).orElse(0);
        if (size <= 0 || size % 8 != 0 || size > MAX_FUNCTION_ARRAY) {
            return out;
        }
        byte[] b = loader.agent().read(o.base() + d.value(tag).getAsLong(), (int) size);
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < size / 8; i++) {
            long fn = bb.getLong(i * 8);
            if (fn != 0 && fn != -1) {
                out.add(fn);
            }
        }
        return out;
    }

    /** Finalisers of every initialised object, in the order glibc's _dl_fini runs them. */
    void publishFinalisers() {
        synchronized (loader) {
            LinkTrace trace = loader.trace();
            DynamicLoader.AuditHooks audit = loader.audit();
            List<FiniEntry> out = new ArrayList<>();
            if (trace.outputFile() != null) {
                if (debugOutputPath == null) {
                    debugOutputPath = agentText(trace.outputFile() + "\0");
                }
                out.add(FiniEntry.debugOutput(debugOutputPath[0]));
            }
            // glibc's _dl_fini order (the program first, then its libraries and the dlopened objects,
            // each before what it depends on), of the objects whose initialisers ran.
            out.addAll(audit.exitStarts());
            for (LoadedObject o : session.finiOrder()) {
                if (initialised.contains(o) || hostsAnnounced.contains(o)) {
                    // glibc 2.36's _dl_call_fini announces every initialised object, with finalisers
                    // or not. A host object's are glibc's to run in the agent's exit; its line is
                    // printed where glibc's order puts it.
                    List<FiniEntry> f = o.isHost() ? List.of() : finalisersOf(o);
                    String text = trace.finiText(o);
                    if (text != null) {
                        long[] t = finiTexts.computeIfAbsent(o, k -> agentText(text));
                        out.add(FiniEntry.debugText(t[0], t[1]));
                    }
                    out.addAll(f);
                }
                out.addAll(audit.exitCloses(o));
            }
            out.addAll(audit.exitEnds());
            loader.agent().setFini(out);
        }
    }

    /** Copies text into agent memory (never freed): its address and length in bytes. */
    private long[] agentText(String text) {
        AgentProcess agent = loader.agent();
        byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long addr = agent.alloc(b.length, 1);
        agent.write(addr, b);
        return new long[] {addr, b.length};
    }

    private static List<FiniEntry> finalisersOf(LoadedObject o) {
        List<FiniEntry> out = new ArrayList<>();
        DynamicSection d = o.dynamic().get();
        if (d.value(Elf.DT_FINI_ARRAY).isPresent()) {
            long size = d.value(Elf.DT_FINI_ARRAYSZ).orElse(0);
            if (size > 0 && size % 8 == 0 && size <= MAX_FUNCTION_ARRAY) {
                out.add(FiniEntry.array(o.base() + d.value(Elf.DT_FINI_ARRAY).getAsLong(), size / 8));
            }
        }
        if (d.value(Elf.DT_FINI).isPresent()) {
            out.add(FiniEntry.call(o.base() + d.value(Elf.DT_FINI).getAsLong()));
        }
        return out;
    }

    /**
     * A dlclose unloads {@code group}: the finalisers to run, per object in glibc's order for
     * finalisers (dependents before their dependencies), and the objects are no longer
     * initialised. A host object glibc initialised has none here: glibc's dlclose runs them,
     * after the jdryad objects' (Namespaces.closeHostsOf). Called under the loader's monitor.
     */
    Map<LoadedObject, List<FiniEntry>> closing(List<LoadedObject> group) {
        Map<LoadedObject, List<FiniEntry>> finis = new java.util.LinkedHashMap<>();
        for (LoadedObject o : session.finiOrder()) {
            if (group.contains(o) && initialised.contains(o)) {
                finis.put(o, finalisersOf(o));
            } else if (group.contains(o) && hostsAnnounced.contains(o)) {
                finis.put(o, List.of()); // glibc's dlclose runs them, after the jdryad objects' (closeHostsOf)
            }
        }
        initialised.removeAll(group);
        hostsAnnounced.removeAll(group);
        return finis;
    }

    /** Runs what {@link #closing} returned, announcing each object; without the loader's monitor (a finaliser may dlclose). */
    void runFinalisers(Map<LoadedObject, List<FiniEntry>> finis) {
        for (Map.Entry<LoadedObject, List<FiniEntry>> e : finis.entrySet()) {
            loader.trace().callingFini(e.getKey());
            for (FiniEntry f : e.getValue()) {
                runFini(f);
            }
        }
    }

    private void runFini(FiniEntry f) {
        AgentProcess agent = loader.agent();
        if (f.kind() == Protocol.FINI_CALL) {
            agent.call(f.address());
            return;
        }
        byte[] b = agent.read(f.address(), (int) (8 * f.count()));
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = (int) f.count() - 1; i >= 0; i--) {
            long fn = bb.getLong(8 * i);
            if (fn != 0 && fn != -1) {
                agent.call(fn);
            }
        }
    }

    /** Unloaded objects' LD_DEBUG texts are dropped (their agent memory is not freed). Called under the loader's monitor. */
    void forget(List<LoadedObject> gone) {
        for (LoadedObject o : gone) {
            finiTexts.remove(o);
        }
    }
}
