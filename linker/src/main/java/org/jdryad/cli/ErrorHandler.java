package org.jdryad.cli;

import org.jdryad.elf.ElfFormatException;
import picocli.CommandLine;

/**
 * Turns exceptions escaping a subcommand into one-line messages: never a JVM stack trace.
 * Set JDRYAD_DEBUG=1 to see the trace of an unexpected failure.
 */
final class ErrorHandler implements CommandLine.IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        java.io.PrintWriter err = cl.getErr(); // System.err in cold mode, the client's in the warm server
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
        err.flush();
        return 70;
    }
}
