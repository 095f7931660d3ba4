package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * {@code jdryad run --history FILE}: the JSON answers "what bound where, when, from which call,
 * and why" for real runs: a lazy first call with its call site, the definitions an interposing
 * one shadowed, a dlopen event with its caller, and a program killed by a signal still leaves
 * its whole history behind.
 */
@Tag("run")
class HistoryTest {

    private static JsonObject history(Path program, List<String> args, int expectedStatus) throws Exception {
        Path file = Fixtures.scratchDir("history").resolve(program.getFileName() + ".json");
        Files.deleteIfExists(file);
        Result r = Jdryad.runJdryad(List.of("--history", file.toString()), program, args, Map.of(), program.getParent());
        assertEquals(expectedStatus, r.status(), r::describe);
        assertTrue(Files.isRegularFile(file), () -> "no history written\n" + r.describe());
        JsonObject h = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        assertEquals("jdryad-history", h.get("format").getAsString());
        assertEquals(1, h.get("version").getAsInt());
        assertEquals(expectedStatus, h.getAsJsonObject("exit").get("status").getAsInt());
        return h;
    }

    private static List<JsonObject> bindings(JsonObject h, String kind, String symbol) {
        List<JsonObject> out = new ArrayList<>();
        for (JsonElement e : h.getAsJsonArray("bindings")) {
            JsonObject b = e.getAsJsonObject();
            if (b.get("kind").getAsString().equals(kind) && b.get("symbol").getAsString().equals(symbol)) {
                out.add(b);
            }
        }
        return out;
    }

    @Test
    void aLazyFirstCallIsRecordedWithItsCallSiteInMain() throws Exception {
        Path prog = FixtureCatalog.interposeProgram();
        JsonObject h = history(prog, List.of(), 0);
        List<JsonObject> printf = bindings(h, "lazy", "printf");
        assertEquals(1, printf.size(), h::toString);
        JsonObject b = printf.get(0);
        assertTrue(b.get("definer").getAsString().endsWith("/libc.so.6"), b::toString);
        assertEquals("R_X86_64_JUMP_SLOT", b.get("relocation").getAsString());
        assertTrue(b.get("tid").getAsLong() > 0, b::toString);
        JsonObject site = b.getAsJsonObject("call_site");
        assertNotNull(site, b::toString);
        assertEquals("main", site.get("symbol").getAsString(), b::toString);
        assertEquals(prog.toString(), site.get("object").getAsString(), b::toString);
        JsonArray searched = b.getAsJsonArray("searched");
        assertEquals(prog.toString(), searched.get(0).getAsString(), b::toString);
        assertTrue(searched.get(searched.size() - 1).getAsString().endsWith("/libc.so.6"), b::toString);
    }

    @Test
    void eachLazyFirstCallIsRecordedWithTheThreadAndProcessThatMadeIt() throws Exception {
        Path prog = FixtureCatalog.lazyTidsProgram();
        Path file = Fixtures.scratchDir("history").resolve("lazy-tids.json");
        Files.deleteIfExists(file);
        Result r = Jdryad.runJdryad(List.of("--history", file.toString()), prog, List.of(), Map.of(), prog.getParent());
        assertEquals(0, r.status(), r::describe);
        JsonObject h = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
        long mainPid = h.get("pid").getAsLong();
        Matcher m = Pattern.compile("(lm_f\\d+) tid (\\d+) value").matcher(r.stdout());
        int seen = 0;
        while (m.find()) {
            String fn = m.group(1);
            long tid = Long.parseLong(m.group(2));
            List<JsonObject> bs = bindings(h, "lazy", fn);
            assertEquals(1, bs.size(), () -> fn + ": " + bs);
            assertEquals(tid, bs.get(0).get("tid").getAsLong(), () -> fn + " made by thread " + tid + ": " + bs);
            long pid = fn.equals("lm_f13") ? tid : mainPid; // lm_f13: the forked child's, its own main thread
            assertEquals(pid, bs.get(0).get("pid").getAsLong(), () -> fn + ": " + bs);
            seen++;
        }
        assertEquals(5, seen, r::describe);
    }

    @Test
    void anInterposedSymbolListsTheDefinitionsItShadowedAndWhy() throws Exception {
        Path prog = FixtureCatalog.interposeProgram();
        JsonObject h = history(prog, List.of(), 0);
        // interpose2's call of who() binds to interpose1's (first in the scope); its own loses.
        JsonObject who = null;
        for (JsonObject b : bindings(h, "lazy", "who")) {
            if (b.get("referrer").getAsString().endsWith("libinterpose2.so")) {
                who = b;
            }
        }
        assertNotNull(who, h::toString);
        assertTrue(who.get("definer").getAsString().endsWith("libinterpose1.so"), who::toString);
        // The program only refers to who(): its GNU hash table does not hold references, so the
        // lookup (glibc's too) never sees it there. interpose2's own definition loses.
        List<String> passed = new ArrayList<>();
        for (JsonElement e : who.getAsJsonArray("passed_over")) {
            JsonObject c = e.getAsJsonObject();
            passed.add(c.get("object").getAsString().replaceAll(".*/", "") + ": " + c.get("reason").getAsString());
        }
        assertEquals(List.of("libinterpose2.so: interposed: " + who.get("definer").getAsString()
                + " comes first in the scope"), passed, who::toString);
    }

    @Test
    void aDlopenIsAnEventWithItsCaller() throws Exception {
        Path prog = FixtureCatalog.dlopenProgram();
        JsonObject h = history(prog, List.of(prog.resolveSibling("libplugin.so").toString()), 0);
        List<String> seen = new ArrayList<>();
        JsonObject add = null;
        for (JsonElement e : h.getAsJsonArray("events")) {
            JsonObject ev = e.getAsJsonObject();
            seen.add(ev.get("state").getAsString() + " " + ev.get("cause").getAsString());
            if (ev.get("cause").getAsString().equals("dlopen") && ev.get("state").getAsString().equals("add")) {
                add = ev;
            }
        }
        assertEquals(List.of("add startup", "consistent startup", "add dlopen", "consistent dlopen", "delete dlclose",
                "consistent dlclose"), seen);
        assertNotNull(add);
        assertTrue(add.get("objects").getAsJsonArray().get(0).getAsString().endsWith("/libplugin.so"), add::toString);
        assertEquals("main", add.getAsJsonObject("call_site").get("symbol").getAsString(), add::toString);
        assertTrue(add.get("request").getAsString().endsWith("libplugin.so"), add::toString);
    }

    /** The events in order, as "STATE CAUSE [file names...]" (objects by file name). */
    private static List<String> events(JsonObject h) {
        List<String> out = new ArrayList<>();
        for (JsonElement e : h.getAsJsonArray("events")) {
            JsonObject ev = e.getAsJsonObject();
            List<String> names = new ArrayList<>();
            for (JsonElement o : ev.getAsJsonArray("objects")) {
                names.add(Path.of(o.getAsString()).getFileName().toString());
            }
            out.add(ev.get("state").getAsString() + " " + ev.get("cause").getAsString() + " " + names);
        }
        return out;
    }

    /** The events whose objects include a file named {@code name}. */
    private static List<String> eventsOf(List<String> events, String name) {
        List<String> out = new ArrayList<>();
        for (String e : events) {
            if (e.matches(".*[\\[ ]" + java.util.regex.Pattern.quote(name) + "[,\\]].*")) {
                out.add(e);
            }
        }
        return out;
    }

    private static List<String> linkMap(JsonObject h) {
        List<String> out = new ArrayList<>();
        for (JsonElement e : h.getAsJsonArray("objects")) {
            out.add(Path.of(e.getAsJsonObject().get("path").getAsString()).getFileName().toString());
        }
        return out;
    }

    @Test
    void aFailedDlopenIsAnnouncedThenTakenOutWithTheDlopenFailedCause() throws Exception {
        Path prog = FixtureCatalog.dlfcnFailedProgram();
        JsonObject h = history(prog, List.of(), 0);
        List<String> ev = events(h);
        // Tried twice with RTLD_NOW, once with RTLD_LAZY (which loads it): glibc's order for each
        // failure, mapped and announced, then taken out again.
        assertEquals(List.of("add dlopen [libfail_undef.so]", "consistent dlopen [libfail_undef.so]",
                "delete dlopen-failed [libfail_undef.so]", "consistent dlopen-failed [libfail_undef.so]",
                "add dlopen [libfail_undef.so]", "consistent dlopen [libfail_undef.so]",
                "delete dlopen-failed [libfail_undef.so]", "consistent dlopen-failed [libfail_undef.so]",
                "add dlopen [libfail_undef.so]", "consistent dlopen [libfail_undef.so]",
                "delete dlclose [libfail_undef.so]", "consistent dlclose [libfail_undef.so]"),
                eventsOf(ev, "libfail_undef.so"), () -> String.join("\n", ev));
        // A failure in a dependency undoes the whole call: the root and both dependencies.
        List<String> bad = eventsOf(ev, "libfail_bad.so");
        assertEquals(8, bad.size(), () -> String.join("\n", ev));
        assertEquals("delete dlopen-failed [libfail_top.so, libfail_bad.so, libfail_shared.so]", bad.get(2));
        JsonObject failed = null;
        for (JsonElement e : h.getAsJsonArray("events")) {
            JsonObject o = e.getAsJsonObject();
            if (o.get("cause").getAsString().equals("dlopen-failed")) {
                failed = o;
                break;
            }
        }
        assertNotNull(failed);
        assertEquals("./libfail_undef.so", failed.get("request").getAsString(), failed::toString);
        assertEquals(2, failed.get("flags").getAsInt(), failed::toString); // RTLD_NOW
        assertEquals("try_open", failed.getAsJsonObject("call_site").get("symbol").getAsString(), failed::toString);
        List<String> left = linkMap(h);
        for (String gone : List.of("libfail_undef.so", "libfail_data.so", "libfail_top.so", "libfail_bad.so")) {
            assertTrue(!left.contains(gone), () -> gone + " left in the link map: " + left);
        }
    }

    @Test
    void nodeleteObjectsNeverLeaveTheLinkMap() throws Exception {
        Path prog = FixtureCatalog.dlfcnNodeleteProgram();
        JsonObject h = history(prog, List.of(), 0);
        List<String> ev = events(h);
        List<String> deletes = new ArrayList<>();
        for (String e : ev) {
            if (e.startsWith("delete ")) {
                deletes.add(e);
            }
        }
        // Four dlclose calls unload something; only libnd_top.so (its dependency is -z nodelete).
        assertEquals(List.of("delete dlclose [libnd_top.so]"), deletes, () -> String.join("\n", ev));
        List<String> left = linkMap(h);
        for (String kept : List.of("libnd_flag.so", "libnd_dep.so", "libnd_plain.so", "libnd_unique.so")) {
            assertTrue(left.contains(kept), () -> kept + " is not in the link map at exit: " + left);
        }
    }

    @Test
    void aRelocationDependencyKeepsTheDefinerUntilTheReferrerGoes() throws Exception {
        Path prog = FixtureCatalog.dlfcnReldepsProgram();
        JsonObject h = history(prog, List.of(), 0);
        List<String> deletes = new ArrayList<>();
        for (String e : events(h)) {
            if (e.startsWith("delete ")) {
                deletes.add(e);
            }
        }
        assertEquals(List.of(
                "delete dlclose [librd_def.so, librd_use.so]", // A: bound lazily, the definer closed first
                "delete dlclose [librd_use.so]", "delete dlclose [librd_def.so]", // B: the referrer first
                "delete dlclose [librd_def.so, librd_use.so]", // C: bound now, the definer closed first
                "delete dlclose [librd_def.so, librd_data.so]", // D: a GOT slot
                "delete dlclose [librd_def.so]", "delete dlclose [librd_use.so]"), // E: never called
                deletes);
        // F: the program's dlsym(RTLD_DEFAULT) keeps librd_sym.so for good.
        assertTrue(linkMap(h).contains("librd_sym.so"), () -> linkMap(h).toString());
    }

    @Test
    void aProgramKilledBySigsegvStillLeavesItsHistory() throws Exception {
        Path prog = FixtureCatalog.exitProgram();
        JsonObject h = history(prog, List.of("null"), 128 + 11);
        assertEquals(11, h.getAsJsonObject("exit").get("signal").getAsInt());
        assertTrue(h.getAsJsonArray("bindings").size() > 0, h::toString);
        assertTrue(h.getAsJsonArray("objects").size() >= 2, h::toString);
    }
}
