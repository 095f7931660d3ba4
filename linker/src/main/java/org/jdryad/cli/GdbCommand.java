package org.jdryad.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code jdryad gdb [JDRYAD-OPTION...] [GDB-OPTION...] PROG} and {@code ... --args PROG ARG...}:
 * gdb on PROG as jdryad loads it. The words are read by hand, not by picocli, because they are
 * gdb's: every option gdb knows passes through unchanged (with its value, for those that take
 * one), and only jdryad's own long options, which gdb has not, are taken out.
 */
@Command(name = "gdb",
        description = {"Start gdb on PROG loaded by jdryad, with jdryad's gdb commands (`help jdryad`) and its query",
            "server. GDB-OPTIONs (-batch, -ex CMD, -x FILE, -q, -nx, ...) go to gdb unchanged; `run` and `start` run",
            "PROG, as often as you like, with `run ARGS < FILE` as under gdb PROG. jdryad exits with gdb's status.",
            "",
            "jdryad's options (before PROG): --bind-now, --library-path P, --preload L, --audit LIB, --debug CATEGORIES,",
            "--debug-output FILE, --history FILE (each run writes it), --stats; as for `jdryad run`.",
            "",
            "Examples:",
            "  jdryad gdb -q /usr/bin/ls",
            "  jdryad gdb -batch -ex 'break puts' -ex run -ex 'jdryad bindings' --args /usr/bin/ls /"})
final class GdbCommand implements Callable<Integer> {
    /** jdryad's options that take a value; the rest of jdryad's are flags. */
    private static final Set<String> JDRYAD_VALUED = Set.of("--library-path", "--preload", "--audit", "--debug",
            "--debug-output", "--history");
    private static final Set<String> JDRYAD_FLAGS = Set.of("--bind-now", "--stats");
    /** gdb 13's options that take the next word as their value (gdb --help). */
    private static final Set<String> GDB_VALUED = Set.of("-ex", "-iex", "-x", "-ix", "-eval-command", "-init-eval-command",
            "-command", "-init-command", "-p", "-pid", "-c", "-core", "-e", "-exec", "-s", "-symbols", "-se", "-d",
            "-directory", "-cd", "-D", "-data-directory", "-b", "-l", "-tty", "-t", "-interpreter", "-i", "-ui",
            "-baud");

    @Spec
    CommandSpec spec;

    @Parameters(arity = "0..*", paramLabel = "WORD", description = "jdryad's and gdb's options, then PROG (or --args PROG ARG...).")
    List<String> words = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        if (!words.isEmpty() && (words.get(0).equals("--help") || words.get(0).equals("-h"))) {
            spec.commandLine().usage(System.out);
            return 0;
        }
        RunCommand run = new RunCommand();
        List<String> gdbOptions = new ArrayList<>();
        int i = 0;
        while (i < words.size()) {
            String w = words.get(i);
            String name = w.contains("=") ? w.substring(0, w.indexOf('=')) : w;
            String inline = w.contains("=") ? w.substring(w.indexOf('=') + 1) : null;
            if (w.equals("--args")) {
                if (i + 1 >= words.size()) {
                    throw new CliFailure("jdryad gdb: --args needs PROG", 2);
                }
                run.program = words.get(i + 1);
                run.args = new ArrayList<>(words.subList(i + 2, words.size()));
                break;
            } else if (JDRYAD_FLAGS.contains(w)) {
                setFlag(run, w);
            } else if (JDRYAD_VALUED.contains(name)) {
                String value = inline;
                if (value == null) {
                    if (++i >= words.size()) {
                        throw new CliFailure("jdryad gdb: " + w + " needs a value", 2);
                    }
                    value = words.get(i);
                }
                setValue(run, name, value);
            } else if (w.startsWith("-") && w.length() > 1) {
                gdbOptions.add(w);
                String single = w.startsWith("--") ? w.substring(1) : w;
                if (GDB_VALUED.contains(single) && inline == null && i + 1 < words.size()) {
                    gdbOptions.add(words.get(++i));
                }
            } else if (run.program == null) {
                run.program = w;
            } else {
                throw new CliFailure("jdryad gdb: PROG's arguments go after --args (jdryad gdb [OPTION...] --args PROG ARG...);"
                        + " `" + w + "' is not an option", 2);
            }
            i++;
        }
        return run.launch(gdbOptions);
    }

    private static void setFlag(RunCommand run, String flag) {
        if (flag.equals("--bind-now")) {
            run.bindNow = true;
        } else {
            run.stats = true;
        }
    }

    private static void setValue(RunCommand run, String option, String value) {
        switch (option) {
            case "--library-path" -> run.libraryPath = value;
            case "--preload" -> run.preload = value;
            case "--audit" -> run.audit.add(value);
            case "--debug" -> run.debug = value;
            case "--debug-output" -> run.debugOutput = value;
            default -> run.history = Path.of(value);
        }
    }
}
