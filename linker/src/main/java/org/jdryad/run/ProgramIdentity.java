package org.jdryad.run;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jdryad.agent.AgentProcess;
import org.jdryad.agent.Protocol;
import org.jdryad.elf.Elf;
import org.jdryad.link.LinkSession;
import org.jdryad.link.LoadedObject;
import org.jdryad.link.SymbolLookup.Definition;

/**
 * Who the agent's process is, told to the program's code: from before its first initialiser,
 * and again at its entry.
 *
 * <p>Why before the initialisers: natively the kernel and libc's own initialiser have told every
 * constructor what program it is in, while the agent's process was the agent until ENTER. So a
 * constructor's warnx() said "jdryad-agent-tls8192:", getauxval(AT_PHDR) found the agent's
 * headers, readlink("/proc/self/exe") and /proc/self/comm named the agent, and getenv() missed
 * the program's LD_* variables (the agent's own environment must not have them). Before the
 * first initialiser (an audit module's included) the agent is given the program's auxv entries
 * (SET_AUXV), its path and process name (SET_EXE), and libc's and the program's
 * program_invocation_name, _short_name and environ (one WRITE_WORDS). ENTER then points them at
 * the program's own stack, except environ when an initialiser changed it (setenv): then main
 * sees what the initialisers left, as natively.
 */
final class ProgramIdentity {
    private final AgentProcess agent;
    private final LinkSession session;
    private final LoadedObject main;
    /** The program's path as exec'ed (argv's PROG, resolved on PATH), AT_EXECFN's and comm's. */
    private final String executable;
    /** Where environ pointed when the initialisers began (the program's envp, placed in the agent). */
    private long environBeforeInit;

    ProgramIdentity(AgentProcess agent, LinkSession session, String executable) {
        this.agent = agent;
        this.session = session;
        this.main = session.objects().get(0);
        this.executable = executable;
    }

    /** Before the first initialiser: argv and envp are placed in the agent at {@code argvAt} and {@code envpAt}. */
    void announce(long argvAt, String argv0, long envpAt) {
        agent.setAuxv(auxv(), executable);
        String real;
        try {
            real = main.path().toRealPath().toString();
        } catch (IOException e) {
            real = main.path().toAbsolutePath().normalize().toString();
        }
        agent.setExePath(real, executable);
        long full = agent.readLong(argvAt);
        byte[] bytes = argv0.getBytes(StandardCharsets.UTF_8);
        int base = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == '/') {
                base = i + 1;
            }
        }
        List<long[]> slotsAndValue = List.of(
                withValue(fullNameSlots(), full),
                withValue(shortNameSlots(), full + base),
                withValue(environSlots(), envpAt));
        int n = slotsAndValue.stream().mapToInt(a -> a.length - 1).sum();
        long[] addrs = new long[n];
        long[] values = new long[n];
        int k = 0;
        for (long[] a : slotsAndValue) {
            for (int i = 1; i < a.length; i++, k++) {
                addrs[k] = a[i];
                values[k] = a[0];
            }
        }
        agent.writeWords(addrs, values);
        environBeforeInit = envpAt;
    }

    /** After {@link #announce}: enters the program at its entry point with auxv, program names and environ describing it. */
    void enter(List<String> argv, List<String> envp) {
        long[] environ = environSlots();
        if (environ.length > 0 && agent.readLong(environ[0]) != environBeforeInit) {
            environ = new long[0]; // an initialiser changed it: it stays as they left it
        }
        agent.enter(main.base() + main.elf().entry(), argv, envp, auxv(), executable, fullNameSlots(),
                shortNameSlots(), environ);
    }

    /** The auxv entries that describe the program, not the agent the kernel started. */
    private Map<Long, Long> auxv() {
        Map<Long, Long> auxv = new LinkedHashMap<>();
        auxv.put(Protocol.AT_PHDR, main.phdrAddress());
        auxv.put(Protocol.AT_PHNUM, (long) main.elf().programHeaders().size());
        auxv.put(Protocol.AT_PHENT, (long) Elf.PHDR_SIZE);
        auxv.put(Protocol.AT_ENTRY, main.base() + main.elf().entry());
        return auxv;
    }

    private long[] fullNameSlots() {
        return variableSlots(session, "program_invocation_name", "__progname_full");
    }

    private long[] shortNameSlots() {
        return variableSlots(session, "program_invocation_short_name", "__progname");
    }

    private long[] environSlots() {
        return variableSlots(session, "environ", "__environ", "_environ");
    }

    /** {value, slot...}: what {@link #announce} writes where. */
    private static long[] withValue(long[] slots, long value) {
        long[] out = new long[slots.length + 1];
        out[0] = value;
        System.arraycopy(slots, 0, out, 1, slots.length);
        return out;
    }

    /**
     * The addresses of every variable named so: the global definition (maybe a copy relocation
     * in the program) and libc's own, so that the agent can set all of them.
     */
    static long[] variableSlots(LinkSession session, String... names) {
        Set<Long> out = new LinkedHashSet<>();
        for (String name : names) {
            session.lookupGlobal(name).map(Definition::address).ifPresent(out::add);
            for (LoadedObject h : session.hostObjects()) {
                if (h.soname().map("libc.so.6"::equals).orElse(false)) {
                    h.dynamic().ifPresent(d -> d.symbols().forEachNamed(name, idx -> {
                        var s = d.symbols().get(idx);
                        if (!s.isUndefined()) {
                            out.add(h.base() + s.value());
                        }
                        return true;
                    }));
                }
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }
}
