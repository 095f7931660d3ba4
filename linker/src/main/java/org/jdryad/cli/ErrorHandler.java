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
        if (ex instanceof ElfFormatException) {
            System.err.println("jdryad: " + ex.getMessage());
            return 1;
        }
        if (ex instanceof CliFailure f) {
            System.err.println(f.getMessage());
            return f.exitStatus();
        }
        System.err.println("jdryad: internal error: " + ex);
        if (System.getenv("JDRYAD_DEBUG") != null) {
            ex.printStackTrace();
        }
        return 70;
    }
}
