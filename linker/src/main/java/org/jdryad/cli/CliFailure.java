package org.jdryad.cli;

/** A failure whose message is already worded for the user, with the exit status to report. */
public final class CliFailure extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int exitStatus;

    public CliFailure(String message, int exitStatus) {
        super(message);
        this.exitStatus = exitStatus;
    }

    public int exitStatus() {
        return exitStatus;
    }
}
