package org.jdryad.run;

import sun.misc.Signal;

/**
 * While the program runs, jdryad behaves like a shell waiting for a foreground job: the
 * terminal's SIGINT and SIGQUIT reach the program directly (same process group), so the JVM
 * ignores them instead of exiting under the program; SIGTERM and SIGHUP sent to jdryad are
 * passed on to the program, whose own status then becomes jdryad's.
 */
final class ForegroundSignals {
    private ForegroundSignals() {
    }

    static void install(long programPid) {
        for (String name : new String[] {"INT", "QUIT"}) {
            handle(name, sig -> { });
        }
        for (String name : new String[] {"TERM", "HUP"}) {
            handle(name, sig -> ProcessHandle.of(programPid).ifPresent(p -> forward(programPid, sig.getNumber())));
        }
    }

    private static void handle(String name, sun.misc.SignalHandler handler) {
        try {
            Signal.handle(new Signal(name), handler);
        } catch (IllegalArgumentException e) {
            // The JVM reserves some signals under some options (-Xrs): leave those alone.
        }
    }

    private static void forward(long pid, int signal) {
        try {
            new ProcessBuilder("kill", "-" + signal, Long.toString(pid)).start();
        } catch (java.io.IOException e) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
        }
    }
}
