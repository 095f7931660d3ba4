package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Test;

/**
 * Children made by fork keep jdryad's dlopen, dlsym and dlclose, in the link state they were
 * forked in (README "Forked children"): a C fixture, a forked perl loading XS modules, a forked
 * python importing extension modules and a multiprocessing pool with the fork start method, each
 * natively and under jdryad with the same output; children's link-map events in the history carry
 * their own pids.
 */
class ForkedChildrenTest {
    @Test
    void forkedChildrenDlopenDlsymAndDlcloseInTheirOwnState() throws Exception {
        Path prog = FixtureCatalog.dlfcnForkProgram();
        Path dir = prog.getParent();
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), dir);
        assertEquals(0, expected.status(), expected::describe);
        Path file = Fixtures.scratchDir("fork-history").resolve("fork.json");
        Files.deleteIfExists(file);
        Result actual = Jdryad.runJdryad(List.of("--history", file.toString()), prog, List.of(), Map.of(), dir);
        Jdryad.assertSameRun("dlfcn-fork", expected, actual);

        JsonObject h = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        long runPid = h.get("pid").getAsLong();
        Set<Long> childrenLoadingB = new HashSet<>();
        for (JsonElement e : h.getAsJsonArray("events")) {
            JsonObject ev = e.getAsJsonObject();
            if (ev.get("pid").getAsLong() != runPid && "dlopen".equals(ev.get("cause").getAsString())
                    && ev.get("objects").toString().contains("libfk_b.so")) {
                childrenLoadingB.add(ev.get("pid").getAsLong());
            }
        }
        // the first child and the grandchild each loaded libfk_b.so in their own process
        assertEquals(2, childrenLoadingB.size(), () -> "children's dlopen events: " + h.get("events"));
    }

    @Test
    void aForkedPerlLoadsXsModules() {
        Path perl = Path.of("/usr/bin/perl");
        assumeTrue(Files.isExecutable(perl), "needs /usr/bin/perl");
        String script = "$| = 1; my $pid = fork(); if (!$pid) { require POSIX; print 'floor ', POSIX::floor(2.5), "
                + "\"\\n\"; require List::Util; print 'sum ', List::Util::sum(1, 2, 3), \"\\n\"; require Fcntl; "
                + "print 'O_WRONLY ', Fcntl::O_WRONLY(), \"\\n\"; exit 0; } waitpid($pid, 0); print 'child ', $? >> 8, \"\\n\";";
        same("perl-fork-xs", perl, List.of("-e", script), "floor 2\nsum 6\nO_WRONLY 1\nchild 0\n");
    }

    @Test
    void aForkedPythonImportsExtensionModulesAndRunsAForkPool() {
        Path python = Path.of("/usr/bin/python3.11");
        assumeTrue(Files.isExecutable(python), "needs /usr/bin/python3.11");
        String script = String.join("\n",
                "import os",
                "pid = os.fork()",
                "if pid == 0:",
                "    import _json, resource, termios, _ssl",
                "    print('child', _json.encode_basestring_ascii('x'), resource.RLIMIT_NOFILE, termios.TCSANOW,"
                        + " _ssl.OPENSSL_VERSION_NUMBER > 0, flush=True)",
                "    os._exit(0)",
                "print('status', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))",
                "import multiprocessing as mp",
                "def sq(x):",
                "    import mmap, _uuid",
                "    return x * x + mmap.PAGESIZE // 4096 + int(_uuid.has_uuid_generate_time_safe in (0, 1))",
                "if __name__ == '__main__':",
                "    with mp.get_context('fork').Pool(2) as p:",
                "        print('pool', p.map(sq, range(5)))",
                "");
        same("python-fork-extensions", python, List.of("-c", script),
                "child \"x\" 7 0 True\nstatus 0\npool [2, 3, 6, 11, 18]\n");
    }

    private static void same(String name, Path program, List<String> args, String output) {
        Path dir = Fixtures.scratchDir(name);
        Result expected = Jdryad.runNative(program, args, Map.of(), dir);
        assertEquals(output, expected.stdout(), expected::describe);
        Result actual = Jdryad.runJdryad(List.of(), program, args, Map.of(), dir);
        Jdryad.assertSameRun(name, expected, actual);
        assertTrue(actual.stderr().isEmpty(), actual::describe);
    }
}
