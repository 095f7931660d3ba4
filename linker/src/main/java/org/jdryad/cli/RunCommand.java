package org.jdryad.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.link.LinkException;
import org.jdryad.run.ProgramRunner;
import org.jdryad.run.RunOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jdryad run}: load, link and run a program with jdryad as its dynamic linker. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Load PROG and every shared object it needs with jdryad, relocate and bind them, and run it",
            "with this terminal's stdin, stdout and stderr. Exits with the program's status (128+N for signal N).",
            "The program's LD_LIBRARY_PATH, LD_PRELOAD and LD_BIND_NOW are honoured as glibc would."})
final class RunCommand implements Callable<Integer> {
    @Option(names = "--bind-now", description = "Bind every jump slot at load time (as LD_BIND_NOW=1).")
    boolean bindNow;

    @Option(names = "--library-path", paramLabel = "P", description = "Search P (colon-separated) as LD_LIBRARY_PATH would.")
    String libraryPath;

    @Option(names = "--preload", paramLabel = "L", description = "Preload L (space- or colon-separated) as LD_PRELOAD would.")
    String preload;

    @Option(names = "--stats", description = "After the program ends, print LD_DEBUG=statistics-style counts to stderr.")
    boolean stats;

    @Parameters(index = "0", paramLabel = "PROG", description = "The program to run.")
    String program;

    @Parameters(index = "1..*", paramLabel = "ARG", description = "Its arguments.")
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws IOException {
        Map<String, String> env = programEnvironment();
        String lp = libraryPath != null ? libraryPath : env.get("LD_LIBRARY_PATH");
        String pre = preload != null ? preload : env.get("LD_PRELOAD");
        String bn = env.get("LD_BIND_NOW");
        boolean now = bindNow || (bn != null && !bn.isEmpty());
        RunOptions options = new RunOptions(program, args, env, lp, pre, now, stats);
        Path p = Path.of(program);
        if (!Files.exists(p)) {
            throw new CliFailure("jdryad: " + program + ": No such file or directory", 127);
        }
        if (!Files.isRegularFile(p) || !Files.isExecutable(p)) {
            throw new CliFailure("jdryad: " + program + ": Permission denied", 126);
        }
        try {
            return new ProgramRunner(options, System.err).run();
        } catch (LinkException e) {
            throw new CliFailure(program + ": " + e.getMessage(), 127);
        } catch (ElfFormatException e) {
            throw new CliFailure(program + ": error while loading shared libraries: " + e.getMessage(), 127);
        } catch (NoSuchFileException e) {
            throw new CliFailure("jdryad: " + program + ": No such file or directory", 127);
        }
    }

    /**
     * The program's environment, in the order the process received it: jdryad's own variables
     * removed, and the LD_* variables the launcher moved aside (JDRYAD_LD_*) restored.
     */
    static Map<String, String> programEnvironment() {
        Map<String, String> out = new LinkedHashMap<>();
        List<String> entries = new ArrayList<>();
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc/self/environ"));
            int start = 0;
            for (int i = 0; i < raw.length; i++) {
                if (raw[i] == 0) {
                    entries.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                    start = i + 1;
                }
            }
        } catch (IOException e) {
            System.getenv().forEach((k, v) -> entries.add(k + "=" + v));
        }
        Map<String, String> restored = new LinkedHashMap<>();
        for (String e : entries) {
            int eq = e.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String k = e.substring(0, eq);
            String v = e.substring(eq + 1);
            if (k.startsWith("JDRYAD_LD_")) {
                restored.put(k.substring("JDRYAD_".length()), v);
            } else if (k.startsWith("JDRYAD_")) {
                continue;
            } else {
                out.put(k, v);
            }
        }
        out.putAll(restored);
        return out;
    }
}
