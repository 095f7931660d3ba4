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
 * The rtld-audit interface (issue 7): an audit module that logs every callback it receives
 * (tests/fixtures/audit/logger.c) logs the same under jdryad ({@code run --audit}) as under the
 * system loader ({@code LD_AUDIT}) for a program with PLT calls of every argument kind, a binding
 * la_symbind64 redirects, a dlopen, a dlsym and a dlclose; a missing module and one without
 * la_version get glibc's words and are ignored.
 */
@Tag("run")
class AuditRunTest {

    @Test
    void loggerSeesWhatItSeesNatively(@TempDir Path tmp) throws IOException {
        Path prog = FixtureCatalog.auditProgram();
        List<String> args = List.of(FixtureCatalog.auditPlugin().toString());
        Path nativeLog = tmp.resolve("native.log");
        Path jdryadLog = tmp.resolve("jdryad.log");
        Result expected = Jdryad.runNative(prog, args, Map.of("LD_AUDIT", FixtureCatalog.auditLogger().toString(),
                "AUDIT_LOG", nativeLog.toString()), prog.getParent());
        assertTrue(expected.stdout().contains("au_original() = 42"), expected::describe); // redirected
        Result actual = Jdryad.runJdryad(List.of("--audit", FixtureCatalog.auditLogger().toString()), prog, args,
                Map.of("AUDIT_LOG", jdryadLog.toString()), prog.getParent());
        Jdryad.assertSameRun("audit", expected, actual);
        List<String> want = withoutStartupSearches(Files.readAllLines(nativeLog));
        List<String> got = Files.readAllLines(jdryadLog).stream()
                .map(l -> l.replace("la_objopen " + prog.getFileName() + " ", "la_objopen <main> ")).toList();
        assertEquals(String.join("\n", want), String.join("\n", got), "the audit log under jdryad and natively");
        for (String line : List.of("la_symbind64 au_original #1 -> #4 flags=0", "la_objopen libau_plugin.so lmid=0 #6",
                "la_symbind64 au_plugin #1 -> #6 flags=8", "la_objclose #6", "la_preinit #1")) {
            assertTrue(got.stream().anyMatch(l -> l.startsWith(line)), () -> line + " in\n" + String.join("\n", got));
        }
    }

    /**
     * The native log without the la_objsearch calls of the start-up search (before the first
     * LA_ACT_CONSISTENT): jdryad searches before the program's process exists (README, known limits).
     */
    private static List<String> withoutStartupSearches(List<String> log) {
        List<String> out = new ArrayList<>();
        boolean startup = true;
        for (String l : log) {
            if (!(startup && l.startsWith("la_objsearch "))) {
                out.add(l);
            }
            startup &= !l.equals("la_activity #1 consistent");
        }
        return out;
    }

    @Test
    void redirectedBindingIsRecordedWithItsModule(@TempDir Path tmp) throws IOException {
        Path prog = FixtureCatalog.auditProgram();
        Path history = tmp.resolve("h.json");
        Result r = Jdryad.runJdryad(List.of("--audit", FixtureCatalog.auditLogger().toString(), "--history",
                history.toString()), prog, List.of(FixtureCatalog.auditPlugin().toString()),
                Map.of("AUDIT_LOG", tmp.resolve("log").toString()), prog.getParent());
        assertEquals(0, r.status(), r::describe);
        JsonObject redirected = null;
        for (JsonElement e : JsonParser.parseString(Files.readString(history)).getAsJsonObject()
                .getAsJsonArray("bindings")) {
            JsonObject b = e.getAsJsonObject();
            if ("au_original".equals(b.get("symbol").getAsString()) && b.has("audit")) {
                redirected = b;
            }
        }
        assertTrue(redirected != null, "au_original's binding names the module that redirected it");
        JsonObject audit = redirected.getAsJsonObject("audit");
        assertTrue(audit.get("module").getAsString().endsWith("libaudit_logger.so"), audit::toString);
        assertTrue(!audit.get("original").getAsString().equals(redirected.get("address").getAsString()),
                redirected::toString);
    }

    @Test
    void missingModuleIsReportedAndIgnored() {
        Path prog = FixtureCatalog.helloPie();
        Result expected = Jdryad.runNative(prog, List.of(), Map.of("LD_AUDIT", "./jdryad-no-such-audit.so"),
                prog.getParent());
        assertTrue(expected.stderr().contains("cannot be loaded as audit interface"), expected::describe);
        Result actual = Jdryad.runJdryad(List.of("--audit", "./jdryad-no-such-audit.so"), prog, List.of(), Map.of(),
                prog.getParent());
        Jdryad.assertSameRun("audit module missing", expected, actual);
    }

    @Test
    void moduleWithoutLaVersionIsReportedAndIgnored() {
        Path prog = FixtureCatalog.helloPie();
        String module = FixtureCatalog.auditNoVersion().toString();
        Result expected = Jdryad.runNative(prog, List.of(), Map.of("LD_AUDIT", module), prog.getParent());
        assertTrue(expected.stderr().contains("undefined symbol: la_version; ignored."), expected::describe);
        Result actual = Jdryad.runJdryad(List.of("--audit", module), prog, List.of(), Map.of(), prog.getParent());
        Jdryad.assertSameRun("audit module without la_version", expected, actual);
    }

    @Test
    void auditWordsDropTheNameAndErrno() {
        assertEquals("cannot open shared object file", Auditing.auditWords("./nope.so",
                "./nope.so: cannot open shared object file: No such file or directory"));
        assertEquals("invalid ELF header", Auditing.auditWords("/tmp/x.so", "/tmp/x.so: invalid ELF header"));
    }
}
