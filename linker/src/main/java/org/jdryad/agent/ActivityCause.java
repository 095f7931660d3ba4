package org.jdryad.agent;

/**
 * What the agent tells gdb about a link-map change besides the list itself: the fields of
 * {@code struct jdryad_activity} (native/jdryad_activity.h) that say why it happened.
 *
 * @param cause JDRYAD_CAUSE_* (1 start-up, 2 dlopen, 3 dlclose, 4 a failed dlopen undone)
 * @param seq the number of the ADD/DELETE event in jdryad's history (the CONSISTENT one is seq + 1)
 */
public record ActivityCause(int cause, long caller, int flags, long tid, long seq, String request) {
    /** Start-up, with no event numbers (tests, tools). */
    public static final ActivityCause STARTUP = new ActivityCause(1, 0, 0, 0, 0, null);
}
