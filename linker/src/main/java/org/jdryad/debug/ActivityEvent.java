package org.jdryad.debug;

import java.util.List;

/**
 * One change of the link map as a debugger sees it through r_debug and an audit module through
 * la_activity: objects are being added ({@link State#ADD}) or deleted ({@link State#DELETE}),
 * then the map is {@link State#CONSISTENT} again. Every change is two events, each with what
 * caused it.
 *
 * @param seq the event's number, from 1
 * @param timeNanos nanoseconds since the history began (the clock bindings use)
 * @param pid the process whose link map changed
 * @param tid the thread that caused it (0: jdryad while starting the program)
 * @param state the r_debug state the event announces
 * @param cause why the map changed
 * @param request the dlopen argument (null for other causes)
 * @param flags the dlopen mode bits (RTLD_LAZY, RTLD_GLOBAL, ...), 0 for other causes
 * @param callSite the return address of the dlopen or dlclose call, or 0
 * @param namespace the link-map namespace (0: the base namespace)
 * @param objects the objects added or removed (paths)
 */
public record ActivityEvent(long seq, long timeNanos, long pid, long tid, State state, Cause cause, String request,
                            int flags, long callSite, long namespace, List<String> objects) {

    /** glibc's r_state values, and la_activity's LA_ACT_*. */
    public enum State {
        CONSISTENT(0), ADD(1), DELETE(2);

        private final int rState;

        State(int rState) {
            this.rState = rState;
        }

        /** The value of r_debug.r_state (RT_CONSISTENT, RT_ADD, RT_DELETE). */
        public int rState() {
            return rState;
        }

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Why the link map changed. */
    public enum Cause {
        STARTUP(1), DLOPEN(2), DLCLOSE(3), DLOPEN_FAILED(4);

        private final int code;

        Cause(int code) {
            this.code = code;
        }

        /** The number the agent's struct jdryad_activity carries (native/jdryad_activity.h). */
        public int code() {
            return code;
        }

        public String word() {
            return name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
        }
    }

    public ActivityEvent {
        objects = List.copyOf(objects);
    }

    /**
     * One line for people: {@code activity #3: add, dlopen("libplugin.so", RTLD_LAZY) from
     * main+42 in /bin/prog: /abs/libplugin.so}.
     */
    public static String describe(ActivityEvent e, CallSites sites) {
        StringBuilder sb = new StringBuilder("activity #").append(e.seq()).append(": ").append(e.state().word())
                .append(", ");
        switch (e.cause()) {
            case DLOPEN -> sb.append("dlopen(\"").append(e.request()).append("\", ").append(dlopenFlags(e.flags()))
                    .append(")");
            case DLCLOSE -> sb.append("dlclose");
            case DLOPEN_FAILED -> sb.append("failed dlopen(\"").append(e.request()).append("\") undone");
            default -> sb.append("start-up");
        }
        if (e.callSite() != 0) {
            sb.append(" from ").append(sites.locate(e.callSite()).map(Object::toString)
                    .orElse("0x" + Long.toHexString(e.callSite())));
        }
        sb.append(": ").append(String.join(" ", e.objects()));
        return sb.toString();
    }

    /** dlopen's mode in <dlfcn.h>'s words. */
    public static String dlopenFlags(int flags) {
        List<String> out = new java.util.ArrayList<>();
        out.add((flags & 3) == 2 ? "RTLD_NOW" : (flags & 3) == 1 ? "RTLD_LAZY" : "0");
        String[][] bits = {{"0x4", "RTLD_NOLOAD"}, {"0x8", "RTLD_DEEPBIND"}, {"0x100", "RTLD_GLOBAL"},
            {"0x1000", "RTLD_NODELETE"}};
        for (String[] b : bits) {
            if ((flags & Integer.decode(b[0])) != 0) {
                out.add(b[1]);
            }
        }
        return String.join("|", out);
    }
}
