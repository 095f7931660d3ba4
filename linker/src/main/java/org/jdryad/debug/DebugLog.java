package org.jdryad.debug;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.jdryad.debug.DebugOptions.Category;

/**
 * Where LD_DEBUG lines go, in the shape glibc's _dl_debug_printf gives them: every line starts
 * with the program's pid right-aligned in ten columns, a colon and a tab; the lines go to stderr,
 * or with LD_DEBUG_OUTPUT=F (--debug-output F) to the file F.PID, opened for appending.
 *
 * <p>Why lines are held: jdryad searches for the program's libraries before the process the
 * program will run in exists, so its pid (every line's prefix, and the file's name) is not known
 * yet; and a link map's addresses are only known once the objects are mapped, after the search
 * printed its lines. So lines are kept in order while the log is held, some of them as
 * {@link #later deferred} text computed when the log is released.
 */
public final class DebugLog {
    private final DebugOptions options;
    private final PrintStream stderr;
    private final Path workingDirectory;
    /** Held lines: String (text) or Supplier (text computed at release). */
    private final List<Object> held = new ArrayList<>();
    private boolean holding = true;
    private long pid = -1;
    private OutputStream out;
    private Path file;

    public DebugLog(DebugOptions options, PrintStream stderr, Path workingDirectory) {
        this.options = options;
        this.stderr = stderr;
        this.workingDirectory = workingDirectory;
    }

    public boolean on(Category c) {
        return options.has(c);
    }

    /**
     * glibc's DL_DEBUG_IMPCALLS (calling init/fini, initialize program, transferring control):
     * every category sets it but scopes, statistics and unused.
     */
    public boolean impcalls() {
        for (Category c : options.categories()) {
            if (c != Category.SCOPES && c != Category.STATISTICS && c != Category.UNUSED && c != Category.ACTIVITY) {
                return true;
            }
        }
        return false;
    }

    /** Whether any of glibc's categories but statistics is on (glibc then reports continued errors). */
    public boolean reportsErrors() {
        for (Category c : options.categories()) {
            if (c != Category.STATISTICS && c != Category.ACTIVITY) {
                return true;
            }
        }
        return false;
    }

    /**
     * Writes {@code text} as glibc's format strings produce it: lines separated by '\n', the
     * last '\n' ending the last line ("\ncalling init: X\n\n" is an empty line, a line, an empty line).
     */
    public synchronized void print(String text) {
        if (holding) {
            held.add(text);
        } else {
            write(text);
        }
    }

    /** Text computed only when it is written (the log may be held until the objects are mapped). */
    public synchronized void later(Supplier<String> text) {
        if (holding) {
            held.add(text);
        } else {
            write(text.get());
        }
    }

    /** Keeps lines back until {@link #release}. */
    public synchronized void hold() {
        holding = true;
    }

    /** The program's pid is known: the prefix, and the file (FILE.PID) the lines go to. */
    public synchronized void start(long programPid) {
        if (pid >= 0) {
            return;
        }
        pid = programPid;
        out = stderr;
        if (options.outputPrefix() != null) {
            Path f = workingDirectory.resolve(options.outputPrefix() + "." + programPid);
            try {
                // As glibc: O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, mode 0666 less the umask;
                // stderr when it cannot be opened.
                out = Files.newOutputStream(f, StandardOpenOption.WRITE, StandardOpenOption.APPEND,
                        StandardOpenOption.CREATE, LinkOption.NOFOLLOW_LINKS);
                file = f.toAbsolutePath();
            } catch (IOException | UnsupportedOperationException e) {
                out = stderr;
            }
        }
    }

    /** Writes what was held, in order, and every line from now on as it comes. */
    public synchronized void release() {
        holding = false;
        for (Object o : held) {
            write(o instanceof String s ? s : ((Supplier<?>) o).get().toString());
        }
        held.clear();
    }

    /** The file the lines go to (absolute), or null for stderr. */
    public synchronized Path outputFile() {
        return file;
    }

    /**
     * Ends the log. Lines still held because the program's process never started (a library was
     * not found) are written with this JVM's pid: they say why.
     */
    public synchronized void close() {
        if (pid < 0 && !held.isEmpty()) {
            start(ProcessHandle.current().pid());
        }
        if (pid >= 0) {
            release();
        }
        if (file != null) {
            try {
                out.close();
            } catch (IOException e) {
                // nothing more to say
            }
            file = null;
            out = stderr;
        }
    }

    /** glibc's line prefix: the pid right-aligned in ten columns, ':' and a tab. */
    public static String prefix(long pid) {
        return String.format("%10d:\t", pid);
    }

    private void write(String text) {
        if (pid < 0 || text.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder();
        String p = prefix(pid);
        int start = 0;
        while (start < text.length()) {
            int nl = text.indexOf('\n', start);
            int end = nl < 0 ? text.length() : nl;
            sb.append(p).append(text, start, end).append('\n');
            start = end + 1;
        }
        try {
            out.write(sb.toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            // glibc ignores write errors on the debug file descriptor too
        }
    }
}
