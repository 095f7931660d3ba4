package org.jdryad.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.jdryad.agent.AgentProcess;

/**
 * The descriptors the user gave jdryad beyond stdin, stdout and stderr (`3<file`, a process
 * substitution's /dev/fd/63, make's jobserver pipe), handed to the program in cold mode. Why:
 * the JVM's children inherit only 0, 1 and 2, so the agent the JVM starts lacked them, where
 * natively the program has them; the warm server's client forks the agent itself and it
 * inherits them. The launcher names them (JDRYAD_INHERITED_FDS: those it was started with that
 * are not close-on-exec, before it opened any of its own); this JVM still has them, at the same
 * numbers, and passes them on the agent's connection ({@link AgentProcess#passDescriptors}).
 */
final class InheritedDescriptors {
    private InheritedDescriptors() {
    }

    /** Passes the launcher's descriptors to {@code agent}, the JVM's own child; nothing when there are none. */
    static void passTo(AgentProcess agent) {
        int[] fds = named(System.getenv("JDRYAD_INHERITED_FDS"));
        if (fds.length > 0) {
            agent.passDescriptors(fds);
        }
    }

    /** The numbers in {@code list} (space-separated) that are open in this process, at most 64. */
    static int[] named(String list) {
        List<Integer> out = new ArrayList<>();
        if (list != null) {
            for (String t : list.trim().split("\\s+")) {
                if (t.matches("[0-9]{1,7}") && out.size() < 64) {
                    int fd = Integer.parseInt(t);
                    if (fd > 2 && !out.contains(fd) && Files.exists(Path.of("/proc/self/fd/" + fd))) {
                        out.add(fd);
                    }
                }
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
