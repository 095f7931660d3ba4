package org.jdryad.run;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.jdryad.debug.DebugOptions;

/**
 * What {@code jdryad run} was asked to do.
 *
 * @param program the program as the user named it (argv[0])
 * @param executable the file to load: {@code program}, or where a bare name was found on PATH
 * @param args the program's arguments
 * @param environment the program's environment, in order, with its LD_* variables restored
 * @param libraryPath --library-path (or LD_LIBRARY_PATH), null when unset
 * @param preload LD_PRELOAD, null when unset
 * @param preloadOption --preload, loaded after LD_PRELOAD as ld.so's option is; null when unset
 * @param bindNow bind every jump slot at load time (LD_BIND_NOW non-empty, or --bind-now)
 * @param bindNot resolve lazily bound calls but never patch the slot (LD_BIND_NOT non-empty)
 * @param stats print LD_DEBUG=statistics-style counts afterwards
 * @param gdb null, or the gdb command line to start the agent under (the agent's path is appended)
 * @param debug the LD_DEBUG categories to print, and where
 * @param historyFile where to write the binding history and activity events as JSON; null: nowhere
 * @param waitForDebugger once everything is loaded and announced, before any initialiser of the
 *        program's runs, wait for a debugger to attach (--wait-for-debugger; {@link DebuggerWait})
 * @param audit the rtld-audit modules to load, in glibc's order: --audit's, then LD_AUDIT's ({@link Auditing})
 */
public record RunOptions(String program, String executable, List<String> args, Map<String, String> environment, String libraryPath,
                         String preload, String preloadOption, boolean bindNow, boolean bindNot, boolean stats,
                         List<String> gdb, DebugOptions debug, Path historyFile, boolean waitForDebugger,
                         List<String> audit) {

    public RunOptions {
        audit = audit == null ? List.of() : List.copyOf(audit);
    }

    /** Without audit modules. */
    public RunOptions(String program, String executable, List<String> args, Map<String, String> environment,
                      String libraryPath, String preload, String preloadOption, boolean bindNow, boolean bindNot,
                      boolean stats, List<String> gdb, DebugOptions debug, Path historyFile, boolean waitForDebugger) {
        this(program, executable, args, environment, libraryPath, preload, preloadOption, bindNow, bindNot, stats, gdb,
                debug, historyFile, waitForDebugger, List.of());
    }

    /** The same run with these audit modules. */
    /** The audit modules in glibc's order: ld.so's --audit options, then LD_AUDIT's colon-separated names. */
    public static List<String> auditModules(List<String> options, String ldAudit) {
        List<String> out = new java.util.ArrayList<>(options);
        if (ldAudit != null) {
            for (String name : ldAudit.split(":")) {
                if (!name.isEmpty()) {
                    out.add(name);
                }
            }
        }
        return out;
    }

    public RunOptions withAudit(List<String> modules) {
        return new RunOptions(program, executable, args, environment, libraryPath, preload, preloadOption, bindNow, bindNot,
                stats, gdb, debug, historyFile, waitForDebugger, modules);
    }

    /** Without --wait-for-debugger. */
    public RunOptions(String program, String executable, List<String> args, Map<String, String> environment,
                      String libraryPath, String preload, String preloadOption, boolean bindNow, boolean bindNot,
                      boolean stats, List<String> gdb, DebugOptions debug, Path historyFile) {
        this(program, executable, args, environment, libraryPath, preload, preloadOption, bindNow, bindNot, stats, gdb,
                debug, historyFile, false);
    }

    /** The same run, waiting for a debugger or not. */
    public RunOptions withWaitForDebugger(boolean wait) {
        return new RunOptions(program, executable, args, environment, libraryPath, preload, preloadOption, bindNow, bindNot,
                stats, gdb, debug, historyFile, wait, audit);
    }

    /** The same run with another program and arguments (a #! script's interpreter). */
    public RunOptions withProgram(String newProgram, List<String> newArgs) {
        return new RunOptions(newProgram, newProgram, newArgs, environment, libraryPath, preload, preloadOption, bindNow, bindNot,
                stats, gdb, debug, historyFile, waitForDebugger, audit);
    }

    /** The same run with other arguments and environment (what gdb gave this run's agent). */
    public RunOptions withArgsAndEnvironment(List<String> newArgs, Map<String, String> newEnvironment) {
        return new RunOptions(program, executable, newArgs, newEnvironment, libraryPath, preload, preloadOption, bindNow,
                bindNot, stats, gdb, debug, historyFile, waitForDebugger, audit);
    }

    /** The same run writing its history to {@code file} (null: nowhere). */
    public RunOptions withHistoryFile(Path file) {
        return new RunOptions(program, executable, args, environment, libraryPath, preload, preloadOption, bindNow,
                bindNot, stats, gdb, debug, file, waitForDebugger);
    }

    /** The same run printing other debug categories. */
    public RunOptions withDebug(DebugOptions newDebug) {
        return new RunOptions(program, executable, args, environment, libraryPath, preload, preloadOption, bindNow,
                bindNot, stats, gdb, newDebug, historyFile, waitForDebugger, audit);
    }
}
