package org.jdryad.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jdryad.debug.DebugOptions;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.link.LinkException;
import org.jdryad.run.FollowSession;
import org.jdryad.run.GdbSession;
import org.jdryad.run.ProgramRunner;
import org.jdryad.run.RunContext;
import org.jdryad.run.RunOptions;
import org.jdryad.run.SecureMode;
import java.util.function.Consumer;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.IGetter;
import picocli.CommandLine.Model.ISetter;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * {@code jdryad run}: load, link and run a program with jdryad as its dynamic linker.
 *
 * <p>Why its command line is declared through picocli's programmatic model ({@link #commandLine})
 * and not with annotations: reading annotations makes the JVM generate a proxy class for each
 * annotation type (picocli's Command, Option and Parameters) with the class-file API, in the
 * interpreter, and picocli then reaches every field by reflection. In a cold run that was about
 * 50 ms of the 70 before the command ran (medians of 11 runs of a run of about 280 ms), and no
 * class cache keeps generated classes. The model below is the same command line, the same help
 * and the same error words, bound to these fields by plain getters and setters.
 */
final class RunCommand implements Callable<Integer> {
    boolean bindNow;
    String libraryPath;
    String preload;
    List<String> audit = new ArrayList<>();
    boolean stats;
    boolean gdb;
    List<String> gdbCommands = new ArrayList<>();
    boolean gdbBatch;
    boolean waitForDebugger;
    String debug;
    String debugOutput;
    Path history;
    boolean follow;
    String program;
    List<String> args = new ArrayList<>();

    /** The usage help's description, one element a line. */
    private static final String[] DESCRIPTION = {
        "Load PROG and every shared object it needs with jdryad, relocate and bind them, and run it",
        "with this terminal's stdin, stdout and stderr. Exits with the program's status (128+N for signal N).",
        "The program's LD_LIBRARY_PATH, LD_PRELOAD, LD_AUDIT, LD_BIND_NOW, LD_BIND_NOT, LD_DEBUG and LD_DEBUG_OUTPUT are",
        "honoured as glibc would. Jump slots are bound lazily, at the first call, unless bound now."};

    /** {@code jdryad run}'s command line, parsing into {@code run}'s fields; picocli calls {@code run}. */
    static CommandLine commandLine(RunCommand run) {
        CommandSpec spec = CommandSpec.wrapWithoutInspection(run).name("run");
        spec.usageMessage().description(DESCRIPTION);
        spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true)
                .description("Show this help message and exit.").build());
        spec.addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
                .description("Print version information and exit.").build());
        flag(spec, "--bind-now", () -> run.bindNow, v -> run.bindNow = v,
                "Bind every jump slot at load time (as LD_BIND_NOW=1).");
        value(spec, "--library-path", "P", () -> run.libraryPath, v -> run.libraryPath = v,
                "Search P (colon-separated) as LD_LIBRARY_PATH would.");
        value(spec, "--preload", "L", () -> run.preload, v -> run.preload = v,
                "Preload L (space- or colon-separated) as ld.so's --preload: after LD_PRELOAD's libraries, without the"
                        + " launcher seeing them.");
        values(spec, "--audit", "LIB", () -> run.audit, v -> run.audit = v,
                "Load LIB as an rtld-audit module (man 7 rtld-audit), as ld.so's --audit: before LD_AUDIT's modules;"
                        + " repeatable.");
        flag(spec, "--stats", () -> run.stats, v -> run.stats = v,
                "After the program ends, print LD_DEBUG=statistics-style counts to stderr.");
        flag(spec, "--gdb", () -> run.gdb, v -> run.gdb = v,
                "Run the program under gdb: gdb debugs the process jdryad loads the program into, and sees every object"
                        + " through r_debug. Type `run` at the gdb prompt (or pass --gdb-ex run).");
        values(spec, "--gdb-ex", "CMD", () -> run.gdbCommands, v -> run.gdbCommands = v,
                "With --gdb: run this gdb command (repeatable, in order), as gdb -ex CMD.");
        flag(spec, "--gdb-batch", () -> run.gdbBatch, v -> run.gdbBatch = v,
                "With --gdb: run gdb in batch mode (exit after the --gdb-ex commands).");
        flag(spec, "--wait-for-debugger", () -> run.waitForDebugger, v -> run.waitForDebugger = v,
                "Once PROG and its libraries are loaded and announced to debuggers, before their initialisers and"
                        + " PROG's first instruction run, print the pid and the gdb command to attach with, and wait for"
                        + " a debugger to attach and continue.");
        value(spec, "--debug", "CATEGORIES", () -> run.debug, v -> run.debug = v,
                "Print what glibc's LD_DEBUG=CATEGORIES prints (libs, reloc, files, symbols, bindings, versions, scopes,"
                        + " statistics, unused, all, help; separated by commas), for jdryad objects, and jdryad's own:"
                        + " activity (link-map events as they happen). Adds to the program's LD_DEBUG.");
        value(spec, "--debug-output", "FILE", () -> run.debugOutput, v -> run.debugOutput = v,
                "Write the --debug lines to FILE.PID instead of stderr (as LD_DEBUG_OUTPUT).");
        value(spec, "--history", "FILE", () -> run.history == null ? null : run.history.toString(),
                v -> run.history = v == null ? null : Path.of(v),
                "When the program ends (also by a signal), write every binding and link-map event to FILE as JSON"
                        + " (format in the README).");
        flag(spec, "--follow", () -> run.follow, v -> run.follow = v,
                "Also load with jdryad every program that PROG and its descendants execute (exec*, posix_spawn*,"
                        + " system, popen; #! scripts; static programs run as they are), in one --history with each"
                        + " process's pid and parent pid.");
        Field<String> prog = new Field<>(() -> run.program, v -> run.program = v);
        spec.addPositional(PositionalParamSpec.builder().index("0").arity("0..1").paramLabel("PROG").type(String.class)
                .getter(prog).setter(prog).initialValue(null).hasInitialValue(true)
                .description("The program to run.").build());
        Field<List<String>> rest = new Field<>(() -> run.args, v -> run.args = v);
        spec.addPositional(PositionalParamSpec.builder().index("1..*").arity("0..*").paramLabel("ARG").type(List.class)
                .auxiliaryTypes(String.class).getter(rest).setter(rest).initialValue(List.of()).hasInitialValue(true)
                .description("Its arguments.").build());
        return new CommandLine(spec);
    }

    private static void flag(CommandSpec spec, String name, Supplier<Boolean> get, Consumer<Boolean> set,
                             String description) {
        Field<Boolean> f = new Field<>(get, set);
        spec.addOption(OptionSpec.builder(name).type(boolean.class).getter(f).setter(f).initialValue(false)
                .hasInitialValue(true).description(description).build());
    }

    private static void value(CommandSpec spec, String name, String label, Supplier<String> get, Consumer<String> set,
                              String description) {
        Field<String> f = new Field<>(get, set);
        spec.addOption(OptionSpec.builder(name).type(String.class).paramLabel(label).getter(f).setter(f)
                .initialValue(null).hasInitialValue(true).description(description).build());
    }

    /**
     * A repeatable option. Its initial value is an empty list nobody can change: picocli gives a
     * command line that has the option a new list, so no line's list reaches the next.
     */
    private static void values(CommandSpec spec, String name, String label, Supplier<List<String>> get,
                               Consumer<List<String>> set, String description) {
        Field<List<String>> f = new Field<>(get, set);
        spec.addOption(OptionSpec.builder(name).type(List.class).auxiliaryTypes(String.class).paramLabel(label)
                .getter(f).setter(f).initialValue(List.of()).hasInitialValue(true).description(description).build());
    }

    /** One of this command's fields as picocli's model reads and writes it. */
    private static final class Field<V> implements IGetter, ISetter {
        private final Supplier<V> get;
        private final Consumer<V> set;

        Field(Supplier<V> get, Consumer<V> set) {
            this.get = get;
            this.set = set;
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T> T get() {
            return (T) get.get();
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T> T set(T value) {
            T old = get();
            set.accept((V) value);
            return old;
        }
    }

    /** The warm server's client's command line; null in cold mode (this JVM's own). */
    private Invocation invocation;

    /** The warm client's command line this command serves next ({@code null}: none, after it). */
    void serve(Invocation next) {
        invocation = next;
    }

    @Override
    public Integer call() throws IOException {
        if (invocation != null && (gdb || gdbBatch || !gdbCommands.isEmpty() || waitForDebugger)) {
            invocation.needsColdMode("a debugger shares the terminal"); // the client runs it with a JVM of its own
            return 0;
        }
        List<String> gdbLine = null;
        if (gdb || gdbBatch || !gdbCommands.isEmpty()) {
            gdbLine = new ArrayList<>(List.of("-q"));
            if (gdbBatch) {
                gdbLine.add("-batch");
            }
            for (String c : gdbCommands) {
                gdbLine.add("-ex");
                gdbLine.add(c);
            }
        }
        return launch(gdbLine);
    }

    /**
     * Runs PROG with jdryad: directly, or, when {@code gdbOptions} is not null, under gdb with
     * those options (as `jdryad gdb` does). Returns the program's status, or gdb's.
     */
    int launch(List<String> gdbOptions) throws IOException {
        Map<String, String> env = invocation != null ? invocation.environment() : programEnvironment();
        PrintStream out = invocation != null ? invocation.out() : System.out;
        PrintStream err = invocation != null ? invocation.err() : System.err;
        boolean secure = program != null && SecureMode.applies(invocation == null
                ? Path.of(onPath(program, env.get("PATH")))
                : invocation.workingDirectory().resolve(onPath(program, env.get("PATH"))));
        String lp = secure ? null : libraryPath != null ? libraryPath : env.get("LD_LIBRARY_PATH");
        String pre = env.get("LD_PRELOAD");
        String debugOutputEnv = secure ? null : env.get("LD_DEBUG_OUTPUT");
        if (secure) {
            env = SecureMode.strip(env); // what glibc's loader leaves a set-user-ID program (LD_PRELOAD read above)
        }
        boolean now = bindNow || nonEmpty(env.get("LD_BIND_NOW"));
        boolean not = nonEmpty(env.get("LD_BIND_NOT"));
        // The system loader already warned about LD_DEBUG's unknown words when it started the
        // launcher (bash); only --debug's are jdryad's to warn about.
        DebugOptions fromOption = DebugOptions.parse(debug, secure ? null : debugOutput);
        String debugEnv = secure && !SecureMode.debugAllowed() ? null : env.get("LD_DEBUG");
        DebugOptions dbg = DebugOptions.parse(debugEnv, debugOutputEnv).plus(fromOption);
        for (String w : fromOption.unknown()) {
            err.println("warning: debug option `" + w + "' unknown; try LD_DEBUG=help");
        }
        // glibc binds everything at load time under LD_DEBUG=unused (rtld.c: dl_lazy = 0).
        now |= dbg.has(DebugOptions.Category.UNUSED);
        if (dbg.help()) {
            out.print(DebugOptions.helpText(debug != null));
            out.flush();
            return 0;
        }
        if (program == null) {
            throw new CliFailure("jdryad: missing PROG (jdryad help " + (gdbOptions == null ? "run" : "gdb") + ")", 2);
        }
        List<String> raw = rawProgramArguments();
        String executable = onPath(program, env.get("PATH"));
        // gdb runs its program by its absolute path, which becomes argv[0]: so does jdryad gdb.
        String argv0 = gdbOptions == null ? raw.get(0) : Path.of(executable).toAbsolutePath().normalize().toString();
        Path historyFile = history == null || invocation == null ? history : invocation.workingDirectory().resolve(history);
        RunOptions options = new RunOptions(argv0, executable, raw.subList(1, raw.size()), env, lp, pre, preload, now, not, stats,
                gdbOptions == null ? null : gdbCommandLine(gdbOptions), dbg, historyFile);
        options = options.withAudit(RunOptions.auditModules(audit, env.get("LD_AUDIT")));
        Path p = invocation == null ? Path.of(executable) : invocation.workingDirectory().resolve(executable);
        if (!Files.exists(p)) {
            throw new CliFailure("jdryad: " + program + ": No such file or directory", 127);
        }
        if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
            throw new CliFailure("jdryad: " + program + ": Permission denied", 126);
        }
        refuseUnloadable(p, program);
        try {
            if (gdbOptions != null) {
                return new GdbSession(options, System.err, e -> describe(e, program)).run();
            }
            if (follow) {
                if (gdbOptions != null) {
                    throw new CliFailure("jdryad: --follow does not work with --gdb (use gdb's follow-exec-mode on"
                            + " the agent instead)", 2);
                }
                RunContext where = invocation != null ? invocation.runContext() : RunContext.cold(System.err);
                return new FollowSession(options.withWaitForDebugger(waitForDebugger), where, RunCommand::describe).run();
            }
            if (invocation != null) {
                return new ProgramRunner(options, invocation.runContext()).run();
            }
            return new ProgramRunner(options.withWaitForDebugger(waitForDebugger), System.err).run();
        } catch (LinkException | ElfFormatException | NoSuchFileException e) {
            throw new CliFailure(describe(e, program), 127);
        }
    }

    /**
     * gdb's command line up to the agent's path: the user's options, after jdryad's own (so
     * that the user's come last and win): pending breakpoints on (libraries are mapped by
     * jdryad, after gdb starts the agent) and the `jdryad` commands (gdb-scripts/).
     */
    private static List<String> gdbCommandLine(List<String> gdbOptions) {
        List<String> line = new ArrayList<>(List.of("gdb", "-ex", "set breakpoint pending on"));
        String home = System.getenv("JDRYAD_HOME");
        Path scripts = home == null ? null : Path.of(home, "gdb-scripts", "jdryad.py");
        if (scripts != null && Files.isRegularFile(scripts)) {
            line.addAll(List.of("-x", scripts.toString()));
        }
        line.addAll(gdbOptions);
        line.add("--args");
        return line;
    }

    /**
     * Refuses, in ld.so's words, a program whose ELF header ld.so would refuse ("file too short",
     * "invalid ELF header", "wrong ELF class: ELFCLASS32", "only ET_DYN and ET_EXEC can be
     * loaded"), with status 127. A script ({@code #!}) is its interpreter's to load.
     */
    private static void refuseUnloadable(Path p, String program) throws IOException {
        java.nio.ByteBuffer h = java.nio.ByteBuffer.allocate(64);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(p)) {
            while (h.hasRemaining() && ch.read(h) > 0) {
                // keep reading
            }
        }
        if (h.position() >= 2 && h.get(0) == '#' && h.get(1) == '!') {
            return;
        }
        String words = org.jdryad.search.LibrarySearch.headerWords(h);
        if (!words.isEmpty()) {
            throw new CliFailure(program + ": error while loading shared libraries: " + program + ": " + words, 127);
        }
    }

    /** A load failure in glibc's words where glibc has them (ld.so's for a file that is not ELF). */
    static String describe(Exception e, String program) {
        if (e instanceof ElfFormatException ef) {
            String why = ef.kind() == ElfFormatException.Kind.NOT_ELF
                    ? ef.file() + ": " + (fileSize(ef.file()) < 64 ? "file too short" : "invalid ELF header")
                    : ef.getMessage();
            return program + ": error while loading shared libraries: " + why;
        }
        if (e instanceof NoSuchFileException) {
            return "jdryad: " + program + ": No such file or directory";
        }
        return program + ": " + e.getMessage();
    }

    /**
     * A bare name (no '/') found on the program's PATH, as a shell, gdb or strace finds it: the
     * first directory holding an executable regular file of that name; otherwise the name itself.
     */
    static String onPath(String name, String path) {
        if (name.contains("/") || name.isEmpty()) {
            return name;
        }
        for (String dir : (path == null ? "/usr/local/bin:/usr/bin:/bin" : path).split(":", -1)) {
            Path candidate = Path.of(dir.isEmpty() ? "." : dir).resolve(name);
            if (Files.isRegularFile(candidate) && Files.isExecutable(candidate)) {
                return candidate.toString();
            }
        }
        return name;
    }

    private static boolean nonEmpty(String s) {
        return s != null && !s.isEmpty();
    }

    private static long fileSize(Path p) {
        try {
            return Files.size(p);
        } catch (IOException e) {
            return 0;
        }
    }

    /** The variables the launcher sets for the Java side (the moved-aside JDRYAD_LD_* apart): never the program's. */
    private static final java.util.Set<String> LAUNCHER_VARIABLES =
            java.util.Set.of("JDRYAD_HOME", "JDRYAD_ENVIRON_FD", "JDRYAD_INHERITED_FDS");

    /**
     * The program's environment exactly as the user gave it. The launcher passes the environment
     * it was started with on a file descriptor (JDRYAD_ENVIRON_FD), order and LD_* variables
     * included; without it (in-process use) this process's own environment is used, less the
     * launcher's variables, with the LD_* variables it moved aside (JDRYAD_LD_*) restored.
     */
    static Map<String, String> programEnvironment() {
        String fd = System.getenv("JDRYAD_ENVIRON_FD");
        if (fd != null && fd.matches("[0-9]+")) {
            try {
                return parseEnviron(Files.readAllBytes(Path.of("/proc/self/fd/" + fd)), false);
            } catch (IOException e) {
                // fall through to this process's own environment
            }
        }
        try {
            return parseEnviron(Files.readAllBytes(Path.of("/proc/self/environ")), true);
        } catch (IOException e) {
            Map<String, String> out = new LinkedHashMap<>(System.getenv());
            out.keySet().removeIf(k -> LAUNCHER_VARIABLES.contains(k) || k.startsWith("JDRYAD_LD_"));
            return out;
        }
    }

    private static Map<String, String> parseEnviron(byte[] raw, boolean undoLauncher) {
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, String> restored = new LinkedHashMap<>();
        for (String e : GdbSession.splitNul(raw)) {
            int eq = e.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String k = e.substring(0, eq);
            String v = e.substring(eq + 1);
            if (undoLauncher && k.startsWith("JDRYAD_LD_")) {
                restored.put(k.substring("JDRYAD_".length()), v);
            } else if (!undoLauncher || !LAUNCHER_VARIABLES.contains(k)) {
                out.putIfAbsent(k, v);
            }
        }
        out.putAll(restored);
        return out;
    }


    /**
     * PROG and its arguments as the bytes the process was given (decoded as UTF-8), not as the
     * JVM decoded them with the locale's charset (which mangles non-ASCII under LC_ALL=C).
     * They are the last entries of /proc/self/cmdline: parsing stops at PROG.
     */
    private List<String> rawProgramArguments() {
        List<String> decoded = new ArrayList<>();
        decoded.add(program);
        decoded.addAll(args);
        if (invocation != null || System.getenv("JDRYAD_ENVIRON_FD") == null) {
            return decoded; // not started by the launcher: this JVM's command line is not ours
        }
        try {
            List<String> cmdline = GdbSession.splitNul(Files.readAllBytes(Path.of("/proc/self/cmdline")));
            int n = decoded.size();
            if (cmdline.size() >= n) {
                List<String> tail = new ArrayList<>(cmdline.subList(cmdline.size() - n, cmdline.size()));
                for (int i = 0; i < n; i++) {
                    boolean ascii = decoded.get(i).chars().allMatch(c -> c < 0x80);
                    if (ascii && !decoded.get(i).equals(tail.get(i))) {
                        return decoded;
                    }
                }
                return tail;
            }
        } catch (IOException e) {
            // use what the JVM decoded
        }
        return decoded;
    }
}
