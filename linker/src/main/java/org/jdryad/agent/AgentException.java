package org.jdryad.agent;

/** A failure talking to, or reported by, the jdryad agent; the message is worded for users. */
public class AgentException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    public AgentException(String message) {
        this(message, 0, null);
    }

    public AgentException(String message, Throwable cause) {
        this(message, 0, cause);
    }

    public AgentException(String message, int errno, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    /** The Linux errno the agent reported, or 0. */
    public int errno() {
        return errno;
    }

    static String errnoName(int errno) {
        switch (errno) {
            case 1: return "Operation not permitted";
            case 2: return "No such file or directory";
            case 7: return "Argument list too long";
            case 9: return "Bad file descriptor";
            case 12: return "Cannot allocate memory";
            case 13: return "Permission denied";
            case 14: return "Bad address";
            case 17: return "File exists";
            case 19: return "No such device";
            case 21: return "Is a directory";
            case 22: return "Invalid argument";
            case 38: return "Function not implemented";
            case 116: return "Stale file handle (not the file jdryad parsed)";
            default: return "errno " + errno;
        }
    }
}
