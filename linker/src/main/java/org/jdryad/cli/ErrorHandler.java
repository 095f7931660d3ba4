package org.jdryad.cli;

import org.jdryad.elf.ElfFormatException;
import picocli.CommandLine;

/**
 * Turns exceptions escaping a subcommand into one-line messages: never a JVM stack trace.
 * Set JDRYAD_DEBUG=1 to see the trace of an unexpected failure.
 */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
    /** jdryad's stderr: System.err in cold mode, the client's in the warm server. */
    private final java.io.PrintStream err;

    ErrorHandler() {
        this(System.err);
    }

    ErrorHandler(java.io.PrintStream err) {
        this.err = err;
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        if (ex instanceof ElfFormatException) {
            err.println("jdryad: " + ex.getMessage());
            return 1;
        }
        if (ex instanceof CliFailure f) {
            err.println(f.getMessage());
            return f.exitStatus();
        }
        err.println("jdryad: internal error: " + ex);
        if (System.getenv("JDRYAD_DEBUG") != null) {
            ex.printStackTrace(err);
        }
        return 70;
    }
}
