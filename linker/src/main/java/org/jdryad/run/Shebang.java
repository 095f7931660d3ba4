package org.jdryad.run;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@code #!} scripts, as the kernel runs them (fs/binfmt_script.c): the interpreter named on the
 * first line is the program, with the optional argument that follows it, then the script's path,
 * then the script's arguments. jdryad loads the interpreter, so a script runs under jdryad too.
 */
final class Shebang {
    /** The kernel reads at most this much of the first line. */
    private static final int MAX_LINE = 256;

    private Shebang() {
    }

    /** The run of the script's interpreter, or empty when the program is not a #! script. */
    static Optional<RunOptions> interpreterRun(RunOptions options) throws IOException {
        return interpreterRun(options, Path.of(options.executable()));
    }

    /** As above, reading the program at {@code file} (its path resolved against the user's directory). */
    static Optional<RunOptions> interpreterRun(RunOptions options, Path file) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(file)) {
            head = in.readNBytes(MAX_LINE);
        }
        if (head.length < 2 || head[0] != '#' || head[1] != '!') {
            return Optional.empty();
        }
        int end = 2;
        while (end < head.length && head[end] != '\n') {
            end++;
        }
        String line = new String(head, 2, end - 2, StandardCharsets.UTF_8).strip();
        if (line.isEmpty()) {
            return Optional.empty();
        }
        int space = indexOfBlank(line);
        String interpreter = space < 0 ? line : line.substring(0, space);
        String argument = space < 0 ? "" : line.substring(space).strip();
        List<String> args = new ArrayList<>();
        if (!argument.isEmpty()) {
            args.add(argument);
        }
        args.add(options.executable()); // as the kernel passes it: the path it executed
        args.addAll(options.args());
        return Optional.of(options.withProgram(interpreter, args));
    }

    private static int indexOfBlank(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == ' ' || s.charAt(i) == '\t') {
                return i;
            }
        }
        return -1;
    }
}
