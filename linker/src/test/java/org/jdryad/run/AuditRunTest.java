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
        List<String> got = assertSameLog(tmp, FixtureCatalog.auditPlugin().toString(), List.of(), Map.of());
        for (String line : List.of("la_symbind64 au_original #1 -> #4 flags=0", "la_objopen libau_plugin.so lmid=0 #6",
                "la_symbind64 au_plugin #1 -> #6 flags=8", "la_objclose #6", "la_preinit #1",
                "la_objsearch libau.so #1 flag=4", "la_objsearch libc.so.6 #1 flag=8")) {
            assertTrue(got.stream().anyMatch(l -> l.startsWith(line)), () -> line + " in\n" + String.join("\n", got));
        }
    }

    /** A dlopen by bare name: searched through the program's RUNPATH (LA_SER_RUNPATH), as it goes. */
    @Test
    void dlopenSearchIsAudited(@TempDir Path tmp) throws IOException {
        List<String> got = assertSameLog(tmp, FixtureCatalog.auditPlugin().getFileName().toString(), List.of(),
                Map.of());
        assertTrue(got.contains("la_objsearch libau_plugin.so #1 flag=4"), () -> String.join("\n", got));
    }

    /** Jump slots bound at load time: la_symbind64 for each (LA_SYMB_NOPLTENTER | LA_SYMB_NOPLTEXIT), redirected too. */
    @Test
    void bindNowSlotsAreAudited(@TempDir Path tmp) throws IOException {
        List<String> got = assertSameLog(tmp, FixtureCatalog.auditPlugin().toString(), List.of("--bind-now"),
                Map.of("LD_BIND_NOW", "1"));
        assertTrue(got.contains("la_symbind64 au_original #1 -> #4 flags=3"), () -> String.join("\n", got));
    }

    /**
     * Runs the audit program natively (LD_AUDIT) and under jdryad (--audit), with the logging
     * module; fails unless both runs and both logs are the same. The program's link_map is named
     * by its path under jdryad (gdb needs it), "" under glibc: the log says "<main>" for both.
     */
    private static List<String> assertSameLog(Path tmp, String plugin, List<String> jdryadOptions,
                                              Map<String, String> nativeEnv) throws IOException {
        Path prog = FixtureCatalog.auditProgram();
        Path nativeLog = tmp.resolve("native.log");
        Path jdryadLog = tmp.resolve("jdryad.log");
        Map<String, String> env = new java.util.HashMap<>(nativeEnv);
        env.put("LD_AUDIT", FixtureCatalog.auditLogger().toString());
        env.put("AUDIT_LOG", nativeLog.toString());
        Result expected = Jdryad.runNative(prog, List.of(plugin), env, prog.getParent());
        assertTrue(expected.stdout().contains("au_original() = 42"), expected::describe); // redirected
        List<String> options = new ArrayList<>(jdryadOptions);
        options.addAll(List.of("--audit", FixtureCatalog.auditLogger().toString()));
        Result actual = Jdryad.runJdryad(options, prog, List.of(plugin), Map.of("AUDIT_LOG", jdryadLog.toString()),
                prog.getParent());
        Jdryad.assertSameRun("audit", expected, actual);
        List<String> want = Files.readAllLines(nativeLog);
        List<String> got = Files.readAllLines(jdryadLog).stream()
                .map(l -> l.replace("la_objopen " + prog.getFileName() + " ", "la_objopen <main> ")).toList();
        assertEquals(String.join("\n", want), String.join("\n", got), "the audit log under jdryad and natively");
        return got;
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
