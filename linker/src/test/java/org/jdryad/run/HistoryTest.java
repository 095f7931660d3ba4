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

    @Test
    void aProgramKilledBySigsegvStillLeavesItsHistory() throws Exception {
        Path prog = FixtureCatalog.exitProgram();
        JsonObject h = history(prog, List.of("null"), 128 + 11);
        assertEquals(11, h.getAsJsonObject("exit").get("signal").getAsInt());
        assertTrue(h.getAsJsonArray("bindings").size() > 0, h::toString);
        assertTrue(h.getAsJsonArray("objects").size() >= 2, h::toString);
    }
}
