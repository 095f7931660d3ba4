package org.jdryad.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code jdryad} command. */
@Command(name = "jdryad",
        mixinStandardHelpOptions = true,
        version = "jdryad 0.1.0",
        description = "A debugging dynamic linker for x86-64 GNU/Linux.")
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("run")) {
            org.jdryad.run.StartupWarmer.start(); // this JVM is a cold run's own
        }
        System.exit(execute(args));
    }

    /**
     * Runs the CLI and returns the exit status (used by tests as well). A command line that
     * starts with {@code run} is parsed by {@link RunParent}, whose model is one subcommand:
     * building all six by reflection was a third of a cold run's start (about 60 ms of
     * picocli before any linking); {@code jdryad run}'s parsing, help and error words are the
     * same either way.
     */
    public static int execute(String... args) {
        if (args.length > 0 && args[0].equals("run")) {
            CommandLine cl = RunParent.commandLine();
            cl.addSubcommand(RunCommand.commandLine(new RunCommand()));
            return configure(cl, System.err).execute(args);
        }
        return configure(withSubcommands(new CommandLine(new Main())), System.err).execute(args);
    }

    /**
     * Runs one command line of a warm server's client: its environment, directory and streams
     * are {@code invocation}'s (only the subcommands of {@link Invocation#WARM_COMMANDS}). Why
     * a parent with that one subcommand rather than all of Main's: picocli builds a command's
     * model by reflection over its annotations every time, and the other five subcommands cost
     * the warm server about 2.5 ms of CPU per run (of 4; a warm server's JIT-compiled code,
     * medians of 500); `jdryad run`'s parsing, help and error words are the same either way
     * (its qualified name is still "jdryad run").
     */
    public static int execute(Invocation invocation, String... args) {
        if (args.length == 0 || !Invocation.WARM_COMMANDS.contains(args[0])) {
            throw new IllegalArgumentException("not a command the warm server runs: " + String.join(" ", args));
        }
        WarmParser p = WARM_PARSERS.poll();
        if (p == null) {
            p = WarmParser.create();
        }
        p.command().serve(invocation);
        CommandLine cl = p.line();
        cl.setOut(new java.io.PrintWriter(invocation.out(), true));
        cl.setErr(new java.io.PrintWriter(invocation.err(), true));
        cl.setExecutionExceptionHandler(new ErrorHandler(invocation.err()));
        try {
            return cl.execute(args);
        } finally {
            p.command().serve(null);
            if (WARM_PARSERS.size() < MAX_WARM_PARSERS) {
                WARM_PARSERS.offer(p);
            }
        }
    }

    /**
     * Warm command lines' parsers, kept for the next ones: building one is picocli's reflection
     * over RunCommand's annotations, about 3 ms of a warm run of 30. Reusing one is safe because
     * picocli gives every option and parameter its initial value again before each parse (a new
     * list for a list option; WarmParserTest checks it), and each is used by one run at a time:
     * a run takes one from here or builds its own, and gives it back when done.
     */
    private static final java.util.concurrent.ConcurrentLinkedQueue<WarmParser> WARM_PARSERS =
            new java.util.concurrent.ConcurrentLinkedQueue<>();
    /** Runs at once that find a parser kept for them (more build their own and drop it). */
    private static final int MAX_WARM_PARSERS = 8;

    /** The warm parent with its `run` subcommand, and the command object picocli fills in. */
    record WarmParser(CommandLine line, RunCommand command) {
        static WarmParser create() {
            RunCommand run = new RunCommand();
            CommandLine cl = RunParent.commandLine();
            cl.addSubcommand(RunCommand.commandLine(run));
            return new WarmParser(configure(cl, System.err), run);
        }
    }

    /**
     * Main as a {@code jdryad run} command line sees it: the same name, with only the
     * subcommand that runs. No --help and --version of its own: it parses only command lines
     * that start with the subcommand, so jdryad's own options never reach it. Its model is built
     * by hand, as RunCommand's is (no annotation read: see RunCommand).
     */
    static final class RunParent implements Runnable {
        static CommandLine commandLine() {
            CommandLine.Model.CommandSpec spec = CommandLine.Model.CommandSpec.wrapWithoutInspection(new RunParent())
                    .name("jdryad");
            spec.usageMessage().description("A debugging dynamic linker for x86-64 GNU/Linux.");
            return new CommandLine(spec);
        }

        @Override
        public void run() {
            throw new IllegalStateException("RunParent runs its subcommand only");
        }
    }

    /** Main's subcommands, in the order its help lists them ({@code run}'s model is built by hand: RunCommand). */
    private static CommandLine withSubcommands(CommandLine main) {
        main.addSubcommand(RunCommand.commandLine(new RunCommand()));
        for (Object sub : new Object[] {new GdbCommand(), new LddCommand(), new ShowCommand(), new ServerCommand(),
            new CommandLine.HelpCommand()}) {
            main.addSubcommand(new CommandLine(sub));
        }
        return main;
    }

    private static CommandLine configure(CommandLine cl, java.io.PrintStream err) {
        // Everything after PROG belongs to the program: `jdryad run ls -l` passes -l to ls.
        cl.getSubcommands().get("run").setStopAtPositional(true);
        // gdb's options are gdb's: `jdryad gdb` reads its words itself (GdbCommand).
        CommandLine gdb = cl.getSubcommands().get("gdb");
        if (gdb != null) { // the warm server's parent has only `run`
            gdb.setUnmatchedOptionsArePositionalParams(true);
        }
        // A program's argument may start with '@' (`jdryad run echo @x`): it is not a file of arguments.
        cl.setExpandAtFiles(false);
        cl.setExecutionExceptionHandler(new ErrorHandler(err));
        return cl;
    }
}
