package org.jdryad.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code jdryad} command. */
@Command(name = "jdryad",
        mixinStandardHelpOptions = true,
        version = "jdryad 0.1.0",
        description = "A debugging dynamic linker for x86-64 GNU/Linux.",
        subcommands = {RunCommand.class, GdbCommand.class, LddCommand.class, ShowCommand.class, ServerCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.err);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit status (used by tests as well). */
    public static int execute(String... args) {
        return configure(new CommandLine(new Main()), System.err).execute(args);
    }

    /**
     * Runs one command line of a warm server's client: its environment, directory and streams
     * are {@code invocation}'s (only the subcommands of {@link Invocation#WARM_COMMANDS}).
     */
    public static int execute(Invocation invocation, String... args) {
        CommandLine cl = new CommandLine(new Main(), new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                if (cls == RunCommand.class) {
                    return cls.cast(new RunCommand(invocation));
                }
                return CommandLine.defaultFactory().create(cls);
            }
        });
        cl.setOut(new java.io.PrintWriter(invocation.out(), true));
        cl.setErr(new java.io.PrintWriter(invocation.err(), true));
        return configure(cl, invocation.err()).execute(args);
    }

    private static CommandLine configure(CommandLine cl, java.io.PrintStream err) {
        // Everything after PROG belongs to the program: `jdryad run ls -l` passes -l to ls.
        cl.getSubcommands().get("run").setStopAtPositional(true);
        // gdb's options are gdb's: `jdryad gdb` reads its words itself (GdbCommand).
        cl.getSubcommands().get("gdb").setUnmatchedOptionsArePositionalParams(true);
        // A program's argument may start with '@' (`jdryad run echo @x`): it is not a file of arguments.
        cl.setExpandAtFiles(false);
        cl.setExecutionExceptionHandler(new ErrorHandler(err));
        return cl;
    }
}
