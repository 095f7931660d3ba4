package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * dlmopen's namespaces under jdryad (tests/fixtures/dlfcn/dlmopen.c): the program's output is the
 * system loader's (also registered in {@link FixtureCatalog#differentialCases()}), the history
 * records each object's and each event's namespace, and LD_DEBUG=files names the namespace of
 * every object as glibc does ("[1]").
 */
@Tag("run")
class DlmopenRunTest {

    @Test
    void namespacesBehaveAsUnderTheSystemLoader() {
        Path prog = FixtureCatalog.dlfcnDlmopenProgram();
        Path dir = prog.getParent();
        Result expected = Jdryad.runNative(prog, List.of(), Map.of(), dir);
        assertEquals(0, expected.status(), expected::describe);
        assertTrue(expected.stdout().contains("  namespace 1 (state 0): libdm_lib.so libdm_dep.so libc.so.6"),
                expected::describe);
        Jdryad.assertSameRun("dlfcn-dlmopen-namespaces", expected, Jdryad.runJdryad(List.of(), prog, List.of(), Map.of(), dir));
    }

    @Test
    void theHistoryNamesEachNamespace(@TempDir Path tmp) throws IOException {
        Path prog = FixtureCatalog.dlfcnDlmopenProgram();
        Path history = tmp.resolve("h.json");
        Result r = Jdryad.runJdryad(List.of("--history", history.toString()), prog, List.of(), Map.of(), prog.getParent());
        assertEquals(0, r.status(), r::describe);
        JsonObject h = JsonParser.parseString(Files.readString(history)).getAsJsonObject();
        // The program leaves libdm_solo.so open in namespace 1 (its own dependency-less copy).
        List<String> inOne = new ArrayList<>();
        for (JsonElement e : h.getAsJsonArray("objects")) {
            JsonObject o = e.getAsJsonObject();
            if (o.get("namespace").getAsLong() == 1) {
                inOne.add(o.get("path").getAsString());
            }
        }
        assertEquals(1, inOne.size(), () -> "namespace 1 at exit: " + inOne);
        assertTrue(inOne.get(0).endsWith("/libdm_solo.so"), inOne::toString);
        boolean baseDlopen = false;
        boolean addedInOne = false;
        boolean deletedInOne = false;
        for (JsonElement e : h.getAsJsonArray("events")) {
            JsonObject ev = e.getAsJsonObject();
            String first = ev.getAsJsonArray("objects").isEmpty() ? ""
                    : ev.getAsJsonArray("objects").get(0).getAsString();
            long ns = ev.get("namespace").getAsLong();
            String state = ev.get("state").getAsString();
            if (first.endsWith("/libdm_lib.so") && state.equals("add")) {
                baseDlopen |= ns == 0;
                addedInOne |= ns == 1 && ev.getAsJsonArray("objects").toString().contains("libc.so.6");
            }
            deletedInOne |= first.endsWith("/libdm_lib.so") && state.equals("delete") && ns == 1;
        }
        assertTrue(baseDlopen && addedInOne && deletedInOne, () -> h.getAsJsonArray("events").toString());
    }

    @Test
    void ldDebugFilesNamesTheNamespace() {
        Path prog = FixtureCatalog.dlfcnDlmopenProgram();
        Path dir = prog.getParent();
        Map<String, String> env = Map.of("LD_DEBUG", "files");
        Result expected = Jdryad.runNative(prog, List.of(), env, dir);
        Result actual = Jdryad.runJdryad(List.of(), prog, List.of(), env, dir);
        assertEquals(0, actual.status(), actual::describe);
        // glibc's lines about the namespace's own objects, addresses aside; not the relocation
        // dependencies glibc records among the host objects it loaded there (a known limit).
        List<String> lines = namespaceLines(expected.stderr());
        assertTrue(lines.contains("file=./libdm_lib.so [1];  generating link map"), lines::toString);
        assertTrue(lines.contains("calling fini: ./libdm_lib.so [1]"), lines::toString);
        List<String> got = namespaceLines(actual.stderr());
        for (String l : lines) {
            assertTrue(got.contains(l), () -> "missing under jdryad: " + l + "\n" + actual.stderr());
        }
    }

    /** LD_DEBUG's lines that name namespace 1, without pids, leaving out relocation dependencies. */
    private static List<String> namespaceLines(String stderr) {
        List<String> out = new ArrayList<>();
        for (String l : stderr.split("\n")) {
            String t = l.replaceFirst("^\\s*\\d+:\\s*", "").trim();
            if (t.contains(" [1]") && !t.contains("(relocation dependency)") && !t.contains("libm.so.6")) {
                out.add(t);
            }
        }
        return out;
    }
}
