package org.jdryad.run;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.jdryad.debug.SearchTrace;
import org.jdryad.elf.ElfFile;
import org.jdryad.link.LoadedObject;
import org.jdryad.search.FoundBy;
import org.jdryad.search.LoadedLibrary;
import org.jdryad.search.NameAudit;
import org.jdryad.search.SearchListener;

/**
 * The library search as audit modules see it, live, in glibc's order: each name looked for is
 * offered to la_objsearch(LA_SER_ORIG), whose answer is followed (another name or a path; a
 * refusal fails the load with glibc's error), each file tried is told to la_objsearch with its
 * list's flag, and each object found is made, mapped and told to la_objopen at once, before the
 * searches for its own dependencies, which carry its cookie. At start-up la_objopen for the
 * program and ld.so and la_activity(ADD) come first; in a dlopen la_activity(ADD) comes before
 * the first new object's la_objopen.
 *
 * <p>Why live: glibc maps each object before it searches for that object's dependencies, and the
 * modules' answers decide what is found. jdryad's search used to find the whole closure first and
 * tell the modules afterwards, so their answers could not be followed. One instance listens to
 * the program's search (the start-up, every dlopen of the base namespace, a forked child's copy
 * of it); what one search tells goes to the {@link Call} of the thread making it (a dlopen runs
 * on the thread serving its process), so a parent's and a child's dlopens never mix.
 */
final class AuditedSearch implements SearchListener, SearchTrace.Attempts, NameAudit {
    /** What a search tells the audit modules, mapping each new jdryad object first (Auditing, LinkSession). */
    interface Found {
        /** The start-up begins with the program and ld.so (null: none). */
        default void starting(LoadedObject main, LoadedObject rtld) {
        }

        /** la_objopen for an object just found (after la_activity(ADD) when it is a dlopen's first). */
        void found(LoadedObject o);

        /** la_objsearch for a file the search tries on behalf of {@code requester} (null: the program). */
        void tried(String file, LoadedObject requester, long flag);

        /** la_objsearch(LA_SER_ORIG) of a name needed by {@code requester}: the name to look for, null when refused. */
        String renamed(String name, LoadedObject requester);
    }

    /** Makes the object of a node the search found, as every object of its kind is made (ProgramRunner). */
    interface ObjectMaker {
        LoadedObject make(ObjectGraph.Node node, int index);
    }

    /** One search: who is told, how objects are made, and the objects made so far. */
    static final class Call {
        private final Found found;
        private final ObjectMaker maker;
        private final ElfFile exe;
        private final String programName;
        private final int firstIndex;
        private final Map<LoadedLibrary, LoadedObject> byLibrary = new IdentityHashMap<>();
        private final Map<Path, LoadedObject> byPath = new HashMap<>();
        private final List<LoadedObject> made = new ArrayList<>();
        /** Who the name being looked for is needed by (null: the program, or the dlopen's caller). */
        private LoadedObject requester;
        /** A host object glibc refused while the search ran (null: none): the load fails with its words. */
        private org.jdryad.agent.HostLoadException refused;

        /** A search whose new objects are numbered from {@code firstIndex}; {@code exe} is the program's file (the start-up's). */
        Call(Found found, ObjectMaker maker, ElfFile exe, String programName, int firstIndex) {
            this.found = found;
            this.maker = maker;
            this.exe = exe;
            this.programName = programName;
            this.firstIndex = firstIndex;
        }

        /** The object made for {@code n} while searching (null: none), taken once. */
        LoadedObject take(ObjectGraph.Node n) {
            return byPath.remove(n.path());
        }

        /** Every object made, in the order found. */
        List<LoadedObject> made() {
            return List.copyOf(made);
        }

        /** What glibc refused to load as a host object during the search, or null. */
        org.jdryad.agent.HostLoadException refused() {
            return refused;
        }

        private LoadedObject make(LoadedLibrary lib) {
            ObjectGraph.Node n = ObjectGraph.nodeOf(lib, exe, programName);
            LoadedObject o = maker.make(n, firstIndex + made.size());
            byLibrary.put(lib, o);
            byPath.put(n.path(), o);
            made.add(o);
            return o;
        }
    }

    /** The search each thread is making (none: it is not told to any module). */
    private final ThreadLocal<Call> current = new ThreadLocal<>();
    /** Files in directories glibc knows to be missing are never told (the quiet start-up search's lessons; may be null). */
    private final AuditSearches learnt;

    AuditedSearch(AuditSearches learnt) {
        this.learnt = learnt;
    }

    /** Runs {@code search} with its steps told as {@code call} says. */
    <T> T during(Call call, Supplier<T> search) {
        Call before = current.get();
        current.set(call);
        try {
            return search.get();
        } finally {
            if (before == null) {
                current.remove();
            } else {
                current.set(before);
            }
        }
    }

    @Override
    public void startingWith(LoadedLibrary program, LoadedLibrary interpreter) {
        Call c = current.get();
        if (c != null) {
            LoadedObject main = c.make(program);
            LoadedObject rtld = interpreter != null && interpreter.elf() != null ? c.make(interpreter) : null;
            c.found.starting(main, rtld);
        }
    }

    @Override
    public void lookingFor(String name, LoadedLibrary loader, Reason why) {
        Call c = current.get();
        if (c != null) {
            c.requester = loader == null ? null : c.byLibrary.get(loader);
        }
    }

    @Override
    public String rename(String name, LoadedLibrary loader) {
        Call c = current.get();
        return c == null ? name : c.found.renamed(name, loader == null ? null : c.byLibrary.get(loader));
    }

    @Override
    public void trying(String candidate, FoundBy list) {
        Call c = current.get();
        long flag = AuditSearches.flagOf(list);
        if (c == null || flag == 0 || (learnt != null && learnt.skipped(candidate))) {
            return;
        }
        c.found.tried(candidate, c.requester, flag);
    }

    @Override
    public void newObject(String name, LoadedLibrary library) {
        Call c = current.get();
        if (c == null || c.refused != null) {
            return;
        }
        LoadedObject o;
        try {
            o = c.make(library);
        } catch (org.jdryad.agent.HostLoadException e) {
            c.refused = e; // the dlopen fails with glibc's words once its search is over
            return;
        }
        c.found.found(o);
    }
}
