package org.jdryad.run;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jdryad.debug.DebugOptions;

/**
 * What an exec'ed agent was asked to run, read back from its process (--follow).
 *
 * <p>Why from /proc: the agent's exec follower (native/exec.c) puts the program in the agent's
 * own argv ({@code AGENT --jdryad-follow SOCKET PATH ARGV0 ARGS...}) and the program's
 * environment in the agent's, with its LD_* variables renamed {@code JDRYAD_EXEC_LD_*} (the
 * system loader must not apply them to the agent) and {@code LD_BIND_NOW=1} appended;
 * {@code /proc/PID/cmdline} and {@code environ} keep what the kernel was given, so undoing that
 * gives the program exactly what its caller passed to execve.
 */
final class FollowedExec {
    static final String FLAG = "--jdryad-follow";
    private static final String LD_PREFIX = "JDRYAD_EXEC_";
    private static final String BIND_NOW_MARK = "LD_BIND_NOW=1";

    private FollowedExec() {
    }

    /**
     * The run of the program process {@code pid} exec'ed, with the jdryad options of the
     * top-level run that are not the environment's (--bind-now, --preload).
     */
    static RunOptions options(long pid, RunOptions top) throws IOException {
        List<String> argv = cmdline(pid);
        if (argv.size() < 5 || !FLAG.equals(argv.get(1))) {
            throw new IOException("process " + pid + " is not an exec'ed jdryad agent");
        }
        Map<String, String> env = new LinkedHashMap<>();
        for (String e : programEnvironment(environ(pid))) {
            int eq = e.indexOf('=');
            if (eq > 0) {
                env.putIfAbsent(e.substring(0, eq), e.substring(eq + 1));
            }
        }
        String executable = argv.get(3);
        DebugOptions debug = DebugOptions.parse(env.get("LD_DEBUG"), env.get("LD_DEBUG_OUTPUT"));
        boolean now = top.bindNow() || nonEmpty(env.get("LD_BIND_NOW")) || debug.has(DebugOptions.Category.UNUSED);
        // LD_AUDIT is the exec'ed program's as its environment has it (as natively: a child
        // inherits it); --audit was ld.so's option for the top-level program alone.
        return new RunOptions(argv.get(4), executable, List.copyOf(argv.subList(5, argv.size())), env,
                env.get("LD_LIBRARY_PATH"), env.get("LD_PRELOAD"), top.preloadOption(), now,
                nonEmpty(env.get("LD_BIND_NOT")), false, null, debug, null)
                .withAudit(RunOptions.auditModules(List.of(), env.get("LD_AUDIT")));
    }

    /** The program's environment from the agent's: its LD_* variables restored, jdryad's mark dropped. */
    static List<String> programEnvironment(List<String> agentEnviron) {
        List<String> out = new ArrayList<>(agentEnviron);
        if (!out.isEmpty() && out.get(out.size() - 1).equals(BIND_NOW_MARK)) {
            out.remove(out.size() - 1);
        }
        out.replaceAll(e -> e.startsWith(LD_PREFIX + "LD_") ? e.substring(LD_PREFIX.length()) : e);
        return out;
    }

    static List<String> cmdline(long pid) {
        return read(pid, "cmdline");
    }

    static List<String> environ(long pid) {
        return read(pid, "environ");
    }

    private static List<String> read(long pid, String what) {
        try {
            return GdbSession.splitNul(Files.readAllBytes(Path.of("/proc/" + pid + "/" + what)));
        } catch (IOException e) {
            return List.of();
        }
    }

    /** The executable a process runs (an agent binary), or a path that does not exist when it has gone. */
    static Path executableOf(long pid) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/" + pid + "/exe"));
        } catch (IOException e) {
            return Path.of("/proc/" + pid + "/exe");
        }
    }

    /** The static TLS reservation of an agent binary, from its name ({@code jdryad-agent-tlsN}; the plain one is the smallest). */
    static long reservationOf(Path agent) {
        String name = agent.getFileName() == null ? "" : agent.getFileName().toString();
        int at = name.lastIndexOf("-tls");
        if (at >= 0) {
            try {
                return Long.parseLong(name.substring(at + 4));
            } catch (NumberFormatException e) {
                // not a variant's name
            }
        }
        return AgentBinary.TLS_RESERVATIONS[0];
    }

    /** The parent pid of a process (/proc/PID/stat, field 4), or -1 when it has gone. */
    static long parentOf(long pid) {
        String[] f = statFields(pid);
        return f.length > 1 ? Long.parseLong(f[1]) : -1;
    }

    /** Whether a process exists and has not exited (a zombie has). */
    static boolean alive(long pid) {
        String[] f = statFields(pid);
        return f.length > 0 && !f[0].equals("Z") && !f[0].equals("X");
    }

    /** The fields of /proc/PID/stat after the command name (state, ppid, ...); empty when it has gone. */
    private static String[] statFields(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"), StandardCharsets.ISO_8859_1);
            int close = stat.lastIndexOf(')');
            return close < 0 ? new String[0] : stat.substring(close + 1).trim().split(" ");
        } catch (IOException | RuntimeException e) {
            return new String[0];
        }
    }

    private static boolean nonEmpty(String s) {
        return s != null && !s.isEmpty();
    }
}
