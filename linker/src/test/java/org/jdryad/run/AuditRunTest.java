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

    /**
     * dlopen as glibc's _dl_map_object_deps announces it: la_objopen for the library before the
     * la_objsearch calls for its dependency (with the library's cookie), LA_ACT_CONSISTENT before
     * the relocation's la_symbind64; a failed relocation undone with la_objclose, LA_ACT_DELETE
     * and LA_ACT_CONSISTENT; a missing name's searches. Before, jdryad told every search first.
     * The program is linked with libm, which glibc's dlopen loads into the agent.
     */
    @Test
    void dlopenAnnouncesEachObjectAsItIsFound(@TempDir Path tmp) throws IOException {
        Path prog = FixtureCatalog.auditDlopenProgram();
        Logged r = runBothWays(tmp, "dlopen", FixtureCatalog.auditLogger(), prog,
                List.of(FixtureCatalog.auditDeepPlugin().toString(), FixtureCatalog.auditBrokenPlugin().toString()),
                List.of(), Map.of());
        assertTrue(r.expected().stdout().contains("au_deep(4) = 41"), r.expected()::describe);
        assertTrue(r.expected().stdout().contains("undefined symbol: au_nowhere"), r.expected()::describe);
        assertEquals(String.join("\n", r.want()), String.join("\n", r.got()), "the audit log under jdryad and natively");
        String log = String.join("\n", r.got());
        assertTrue(log.contains("la_objopen libau_deep.so lmid=0 #6 bindfrom\nla_objsearch libau_deepdep.so #6 flag=1"),
                log);
        assertTrue(log.contains("la_objopen libau_deepdep.so lmid=0 #7 bindfrom\nla_activity #1 consistent\n"
                + "la_symbind64 au_deepdep #6 -> #7 flags=3"), log);
        assertTrue(log.contains("la_objclose #10\nla_activity #1 delete\nla_activity #1 consistent"), log);
        assertTrue(log.contains("la_objopen libm.so.6 lmid=0 #4"), log); // before, la_objopen got NULL and crashed
    }

    /**
     * A dlopen whose dependency is missing, as glibc's: la_activity(ADD) and la_objopen for the
     * plugin before its dependency's searches (with the plugin's cookie), then la_objclose,
     * LA_ACT_DELETE and LA_ACT_CONSISTENT when the search fails; and with the dependency's name
     * rewritten by la_objsearch(LA_SER_ORIG) to a library that lacks au_gone, that library loaded
     * and the dlopen failing in relocation (dlerror names the symbol). Before, a dlopen's objects
     * were told only after its whole search: a failed search told no la_objopen at all, and the
     * dependency's rewrite was not followed.
     */
    @Test
    void dlopenOfAMissingDependencyIsToldAsItGoes(@TempDir Path tmp) throws IOException {
        Path prog = FixtureCatalog.auditProgram();
        String plugin = FixtureCatalog.auditMissingDependencyPlugin().toString();
        Logged missing = runBothWays(tmp, "missing", FixtureCatalog.auditLogger(), prog, List.of(plugin), List.of(),
                Map.of(), Map.of());
        assertTrue(missing.expected().stdout().contains("libau_gone.so: cannot open shared object file"),
                missing.expected()::describe);
        assertEquals(String.join("\n", missing.want()), String.join("\n", missing.got()), "the log, missing");
        String log = String.join("\n", missing.got());
        assertTrue(log.contains("la_objopen libau_missdep.so lmid=0 #6 bindfrom\nla_objsearch libau_gone.so #6 flag=1"),
                log);
        assertTrue(log.contains("la_objclose #6\nla_activity #1 delete\nla_activity #1 consistent"), log);
        Logged renamed = runBothWays(tmp, "renamed", FixtureCatalog.auditLogger(), prog, List.of(plugin), List.of(),
                Map.of(), Map.of("AUDIT_RENAME", "libau_gone.so=" + FixtureCatalog.auditAltLibrary()));
        assertTrue(renamed.expected().stdout().contains("undefined symbol: au_gone"), renamed.expected()::describe);
        assertEquals(String.join("\n", renamed.want()), String.join("\n", renamed.got()), "the log, renamed");
        assertTrue(renamed.got().contains("la_objopen libau_alt.so lmid=0 #7 bindfrom"),
                () -> String.join("\n", renamed.got()));
    }

    /**
     * A jump slot bound at load time to an IFUNC (libc's strlen, memcpy...) is told to
     * la_symbind64 with the address the resolver chose, as glibc's elf_dynamic_do_Rela does: the
     * whole log of ls under LD_BIND_NOW equals glibc's. Before, IFUNC slots were left out.
     */
    @Test
    void bindNowSlotsBoundToIfuncsAreAudited(@TempDir Path tmp) throws IOException {
        Logged r = runBothWays(tmp, "ls-now", FixtureCatalog.auditLogger(), Path.of("/usr/bin/ls"), List.of("-d", "/"),
                List.of("--bind-now"), Map.of("LD_BIND_NOW", "1"));
        assertEquals(String.join("\n", r.want()), String.join("\n", r.got()), "the audit log of ls, bound now");
        assertTrue(r.got().stream().anyMatch(l -> l.startsWith("la_symbind64 strlen #1 -> #") && l.endsWith("flags=3")),
                () -> String.join("\n", r.got()));
    }

    /**
     * dlmopen as glibc audits it: the modules are in namespace 1, so the program's new namespace
     * is 2; la_objopen with lmid=2 for the plugin and the namespace's own libc (ld.so's stand-in is
     * glibc's one map: never opened, closed with its raw cookie), la_activity with the cookie of
     * the namespace's first object (before its la_objopen: the raw map address), the plugin's puts
     * bound to its own libc, no la_objsearch for a dlmopen name from the base namespace, a second
     * dlmopen into it whose dependency is missing closed again, and no LA_ACT_CONSISTENT once the
     * namespace has gone. Before, namespace objects were told as lmid=0 with the program's cookie.
     */
    @Test
    void dlmopenNamespacesAreAuditedAsGlibcDoes(@TempDir Path tmp) throws IOException {
        Path prog = FixtureCatalog.auditDlmopenProgram();
        Logged r = runBothWays(tmp, "dlmopen", FixtureCatalog.auditLogger(), prog,
                List.of(FixtureCatalog.auditNamespacePlugin().toString(),
                        FixtureCatalog.auditMissingDependencyPlugin().toString()), List.of(), Map.of());
        assertTrue(r.expected().stdout().contains("lmid = 2"), r.expected()::describe);
        List<String> want = withoutAddresses(r.want());
        List<String> got = withoutAddresses(r.got());
        assertEquals(String.join("\n", want), String.join("\n", got), "the audit log under jdryad and natively");
        for (String line : List.of("la_objopen libau_ns.so lmid=2 #5 bindfrom", "la_objopen libc.so.6 lmid=2 #6",
                "la_symbind64 puts #5 -> #6 flags=3", "la_activity #5 delete")) {
            assertTrue(got.contains(line), () -> line + " in\n" + String.join("\n", got));
        }
        // glibc's libm by bare name: searched (la_objsearch with the caller's cookie), its dlsym
        // audited (la_symbind64, LA_SYMB_DLSYM), as a jdryad object's; before, glibc's dlsym answered.
        Logged host = runBothWays(tmp, "dlmopen-libm", FixtureCatalog.auditLogger(), prog,
                List.of("libm.so.6", "libm.so.6", "cos"), List.of(), Map.of());
        assertTrue(host.expected().stdout().contains("cos(0) = 1.000"), host.expected()::describe);
        List<String> hostGot = withoutAddresses(host.got());
        assertEquals(String.join("\n", withoutAddresses(host.want())), String.join("\n", hostGot), "libm in a namespace");
        assertTrue(hostGot.contains("la_objsearch libm.so.6 #1 flag=1"), () -> String.join("\n", hostGot));
        assertTrue(hostGot.stream().anyMatch(l -> l.startsWith("la_symbind64 cos #1 -> #") && l.endsWith("flags=8")),
                () -> String.join("\n", hostGot));
    }

    /** Cookies a module never set print as the map's address, which differs from run to run. */
    private static List<String> withoutAddresses(List<String> log) {
        return log.stream().map(l -> l.replaceAll("#[0-9]{6,}", "#ADDRESS")).toList();
    }

    /**
     * A glibc library the program dlopens itself (libm, which glibc's dlopen loads into the agent):
     * la_activity and la_objopen when it is loaded, la_symbind64 for dlsym (LA_SYMB_DLSYM), no
     * la_objsearch for a second dlopen of the loaded name, la_objclose when the last handle is
     * closed or at exit, and a new object (a new cookie) when it is opened again after. Before,
     * the modules heard nothing of it.
     */
    @Test
    void aHostLibraryTheProgramDlopensIsAudited(@TempDir Path tmp) throws IOException {
        Path prog = FixtureCatalog.auditHostLibraryProgram();
        for (String mode : List.of("0", "1", "2", "3", "4")) {
            Logged r = runBothWays(tmp, "hostlib" + mode, FixtureCatalog.auditLogger(), prog, List.of(mode), List.of(),
                    Map.of());
            assertTrue(r.expected().stdout().contains("cos(0) = 1.00"), r.expected()::describe);
            assertEquals(String.join("\n", r.want()), String.join("\n", r.got()), "mode " + mode
                    + ": the audit log under jdryad and natively");
            String log = String.join("\n", r.got());
            assertTrue(log.contains("la_activity #1 add\nla_objopen libm.so.6 lmid=0 #5\nla_activity #1 consistent"), log);
            assertTrue(log.contains("la_symbind64 cos #1 -> #5 flags=8"), log);
            assertTrue(log.contains("la_objclose #5"), log);
        }
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
     * module; fails unless both runs and both logs are the same. The program's link_map is "" to
     * the module, as under glibc (the log says "<main>"), though gdb's list names its path.
     */
    private static List<String> assertSameLog(Path tmp, String plugin, List<String> jdryadOptions,
                                              Map<String, String> nativeEnv) throws IOException {
        return assertSameLog(tmp, FixtureCatalog.auditLogger(), plugin, jdryadOptions, nativeEnv);
    }

    private static List<String> assertSameLog(Path tmp, Path module, String plugin, List<String> jdryadOptions,
                                              Map<String, String> nativeEnv) throws IOException {
        Logged r = runBothWays(tmp, "audit", module, FixtureCatalog.auditProgram(), List.of(plugin), jdryadOptions,
                nativeEnv);
        assertTrue(r.expected().stdout().contains("au_original() = 42"), r.expected()::describe); // redirected
        assertEquals(String.join("\n", r.want()), String.join("\n", r.got()), "the audit log under jdryad and natively");
        return r.got();
    }

    /** A run natively and under jdryad: the native one, and the module's two logs. */
    private record Logged(Result expected, List<String> want, List<String> got) {
    }

    /**
     * Runs {@code prog} natively with LD_AUDIT={@code module} and under jdryad with --audit
     * {@code module} (logs in {@code tmp}, named by {@code what}); fails unless both runs are the
     * same. The program's la_objopen line is "<main>" in jdryad's log, as in glibc's, where the
     * module's file name of the program's map is "" (gdb's list names its path).
     */
    private static Logged runBothWays(Path tmp, String what, Path module, Path prog, List<String> args,
                                      List<String> jdryadOptions, Map<String, String> nativeEnv) throws IOException {
        return runBothWays(tmp, what, module, prog, args, jdryadOptions, nativeEnv, Map.of());
    }

    /** As above, with {@code bothEnv} in both runs' environments. */
    private static Logged runBothWays(Path tmp, String what, Path module, Path prog, List<String> args,
                                      List<String> jdryadOptions, Map<String, String> nativeEnv,
                                      Map<String, String> bothEnv) throws IOException {
        Path nativeLog = tmp.resolve(what + ".native.log");
        Path jdryadLog = tmp.resolve(what + ".jdryad.log");
        Map<String, String> env = new java.util.HashMap<>(nativeEnv);
        env.putAll(bothEnv);
        env.put("LD_AUDIT", module.toString());
        env.put("AUDIT_LOG", nativeLog.toString());
        Result expected = Jdryad.runNative(prog, args, env, prog.getParent());
        List<String> options = new ArrayList<>(jdryadOptions);
        options.addAll(List.of("--audit", module.toString()));
        Map<String, String> jdryadEnv = new java.util.HashMap<>(bothEnv);
        jdryadEnv.put("AUDIT_LOG", jdryadLog.toString());
        Result actual = Jdryad.runJdryad(options, prog, args, jdryadEnv, prog.getParent());
        Jdryad.assertSameRun(what, expected, actual);
        List<String> got = Files.readAllLines(jdryadLog).stream()
                .map(l -> l.replace("la_objopen " + prog.getFileName() + " ", "la_objopen <main> ")).toList();
        return new Logged(expected, Files.readAllLines(nativeLog), got);
    }

    /**
     * la_x86_64_gnu_pltenter and _pltexit on every PLT call of the program: integer arguments in
     * registers and the seventh on the stack (framesize 16), doubles and a float in xmm registers,
     * a variadic call, integer and floating-point results, a redirected binding's target.
     */
    @Test
    void pltHooksSeeEveryCall(@TempDir Path tmp) throws IOException {
        List<String> got = assertSameLog(tmp, FixtureCatalog.auditPltLogger(), FixtureCatalog.auditPlugin().toString(),
                List.of(), Map.of());
        for (String line : List.of("la_pltenter au_ints #1 -> #4 flags=0 args=1,2,3,4,5,6,7",
                "la_pltexit au_ints #1 -> #4 rax=140", "la_pltenter au_doubles #1 -> #4 flags=0 args=1.500,2.000,0.250",
                "la_pltexit au_doubles #1 -> #4 xmm0=3.250", "la_pltenter au_sum #1 -> #4 flags=0 args=4,10,20,30,40",
                "la_pltexit au_sum #1 -> #4 rax=100", "la_pltenter au_original #1 -> #4 flags=16")) {
            assertTrue(got.contains(line), () -> line + " in\n" + String.join("\n", got));
        }
        assertEquals(6, got.stream().filter(l -> l.startsWith("la_pltenter printf ")).count(),
                () -> "printf is called six times: " + String.join("\n", got));
    }

    /**
     * Through la_pltenter and la_pltexit, a __m256d argument and result keep their upper halves
     * (the module clears them with vzeroupper, as libc's AVX functions do) and a long double
     * result in st0 reaches la_pltexit and the caller, as through glibc's _dl_runtime_profile
     * (its AVX and AVX-512 variants save the whole vector registers): the same output and log.
     */
    @Test
    void pltHooksKeepVectorRegistersWholeAndX87Results(@TempDir Path tmp) throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue(cpuHasAvx(), "the fixture needs AVX");
        Logged r = runBothWays(tmp, "audit, vector and x87 values", FixtureCatalog.auditPltLogger(),
                FixtureCatalog.auditVectorProgram(), List.of(), List.of(), Map.of());
        assertTrue(r.expected().stdout().contains("au_vec_scale = 2.50 5.00 7.50 10.00"), r.expected()::describe);
        assertTrue(r.expected().stdout().contains("au_ld_mul = 4.500"), r.expected()::describe);
        List<String> want = r.want().stream().filter(l -> l.contains(" au_")).toList();
        List<String> got = r.got().stream().filter(l -> l.contains(" au_")).toList();
        assertTrue(want.contains("la_pltexit au_vec_scale #1 -> #4 ymm0=(2.50,5.00,7.50,10.00)"), () -> String.join("\n", want));
        assertTrue(want.contains("la_pltexit au_ld_mul #1 -> #4 st0=4.500"), () -> String.join("\n", want));
        assertEquals(String.join("\n", want), String.join("\n", got), "the au_* lines of the audit log");
    }

    /**
     * A forked child's dlopen, dlsym and dlclose are audited in the child, as glibc's: its
     * la_objsearch, la_activity, la_objopen, la_symbind64 (LA_SYMB_DLSYM) and la_objclose, with
     * the modules' state as it was at the fork; then the parent's own dlopen. Before, the child's
     * modules heard nothing. The whole log equals the system loader's.
     */
    @Test
    void aForkedChildsDlopenIsAudited(@TempDir Path tmp) throws IOException {
        Logged r = runBothWays(tmp, "audit, a forked child's dlopen", FixtureCatalog.auditLogger(),
                FixtureCatalog.auditForkDlopenProgram(), List.of(FixtureCatalog.auditPlugin().toString(), "libz.so.1"),
                List.of(), Map.of());
        assertTrue(r.expected().stdout().contains("child: au_plugin(2) = 6"), r.expected()::describe);
        assertEquals(String.join("\n", r.want()), String.join("\n", r.got()), "the audit log under jdryad and natively");
        String log = String.join("\n", r.got());
        assertTrue(log.contains("la_objopen libau_plugin.so lmid=0 #5"), log);
        assertTrue(log.contains("la_symbind64 au_plugin #1 -> #5 flags=8"), log);
        assertTrue(log.contains("la_objopen libz.so.1 lmid=0 #5"), log); // the parent's cookies did not move on
    }

    /**
     * A forked child's first calls are audited in the child, as glibc's: la_symbind64 for a
     * function its parent never called, and with PLT hooks la_pltenter and la_pltexit on each
     * call; then the parent's own first call. The whole log equals the system loader's.
     */
    @Test
    void aForkedChildsFirstCallsAreAudited(@TempDir Path tmp) throws IOException {
        for (Path module : List.of(FixtureCatalog.auditLogger(), FixtureCatalog.auditPltLogger())) {
            Logged r = runBothWays(tmp, "audit, a forked child, " + module.getFileName(), module,
                    FixtureCatalog.auditForkProgram(), List.of(), List.of(), Map.of());
            assertTrue(r.expected().stdout().contains("child: au_ints again = 84"), r.expected()::describe);
            assertTrue(r.want().contains("la_symbind64 au_ints #1 -> #4 flags=0"), () -> String.join("\n", r.want()));
            assertEquals(String.join("\n", r.want()), String.join("\n", r.got()), "the audit log with " + module.getFileName());
        }
    }

    private static boolean cpuHasAvx() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream()
                    .anyMatch(l -> l.startsWith("flags") && List.of(l.split("\\s+")).contains("avx"));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * glibc's sotruss: the same (from, to, function) triples, in order, natively ({@code sotruss
     * [-F PROG] PROG}) and under jdryad (sotruss-lib.so, with SOTRUSS_FROMLIST for -F;
     * SOTRUSS_WHICH is the shell's pid natively, which the agent's is not, and unset it means
     * every process), with and without SOTRUSS_EXIT's return lines. Without -F sotruss traces the
     * object whose l_name is "", the program's as la_objopen sees it.
     */
    @Test
    void sotrussSeesTheSameCallsOnAFixture() {
        Path prog = FixtureCatalog.auditProgram();
        assertSameSotruss(prog, List.of(FixtureCatalog.auditPlugin().toString()), false, false, 13);
    }

    /**
     * With PLT hooks glibc binds a -z now object lazily anyway (consider_profiling), so sotruss
     * traces it, through a GOT that full RELRO has made read-only (the slots are never written:
     * the answers are kept apart); the libraries it does not bind from still bind now. Before,
     * jdryad bound it at load time and sotruss printed "cannot trace PLT enter (bind-now enabled)".
     * And a glibc library the program needs (libm, which glibc's dlopen loads into the agent) is
     * named as its DT_NEEDED entry names it ("libm.so.6", not its path).
     */
    @Test
    void sotrussTracesABindNowProgramAndNamesGlibcLibrariesByTheirNeededNames() {
        assertSameSotruss(FixtureCatalog.auditBindNowProgram(), List.of(FixtureCatalog.auditPlugin().toString()), false,
                false, 13);
        Path dlopens = FixtureCatalog.auditDlopenProgram();
        assertSameSotruss(dlopens, List.of(FixtureCatalog.auditDeepPlugin().toString(),
                FixtureCatalog.auditBrokenPlugin().toString()), false, false, 5);
        Result r = Jdryad.runJdryad(List.of("--audit", "/usr/lib/x86_64-linux-gnu/audit/sotruss-lib.so"), dlopens,
                List.of(FixtureCatalog.auditDeepPlugin().toString(), FixtureCatalog.auditBrokenPlugin().toString()),
                Map.of(), dlopens.getParent());
        assertTrue(r.stderr().contains("-> libm.so.6"), r::describe);
    }

    @Test
    void sotrussSeesTheSameCallsOnLs() {
        assertSameSotruss(Path.of("/usr/bin/ls"), List.of("/usr/share"), true, true, 100);
    }

    /**
     * glibc's own sotruss script, run by jdryad with --follow: the script's bash is loaded by
     * jdryad, and the program it execs with LD_AUDIT set (and SOTRUSS_WHICH, the script's pid,
     * which the exec keeps) too, as natively: the same calls as {@code sotruss PROG}.
     */
    @Test
    void theSotrussScriptUnderFollowSeesTheSameCalls() {
        Path prog = FixtureCatalog.auditProgram();
        List<String> args = List.of(prog.toString(), FixtureCatalog.auditPlugin().toString());
        Path sotruss = Path.of("/usr/bin/sotruss");
        Result expected = Jdryad.runNative(sotruss, args, Map.of(), prog.getParent());
        Result actual = Jdryad.runJdryad(List.of("--follow"), sotruss, args, Map.of("JDRYAD_SERVER", "off"),
                prog.getParent());
        assertEquals(expected.stdout(), actual.stdout(), actual::describe);
        assertEquals(expected.status(), actual.status(), actual::describe);
        List<String> want = sotrussCalls(expected.stderr());
        assertTrue(want.size() >= 13, expected::describe);
        assertEquals(String.join("\n", want), String.join("\n", sotrussCalls(actual.stderr())),
                "sotruss's calls natively and under jdryad --follow");
    }

    private static void assertSameSotruss(Path prog, List<String> args, boolean fromList, boolean exits, int atLeast) {
        String from = prog.getFileName().toString();
        List<String> nativeArgs = new ArrayList<>(exits ? List.of("-e") : List.of());
        if (fromList) {
            nativeArgs.addAll(List.of("-F", from));
        }
        nativeArgs.add(prog.toString());
        nativeArgs.addAll(args);
        Result expected = Jdryad.runNative(Path.of("/usr/bin/sotruss"), nativeArgs, Map.of(), prog.getParent());
        Map<String, String> env = new java.util.HashMap<>(fromList ? Map.of("SOTRUSS_FROMLIST", from) : Map.of());
        if (exits) {
            env.put("SOTRUSS_EXIT", "1");
        }
        Result actual = Jdryad.runJdryad(List.of("--audit", "/usr/lib/x86_64-linux-gnu/audit/sotruss-lib.so"), prog, args,
                env, prog.getParent());
        assertEquals(expected.stdout(), actual.stdout(), actual::describe);
        assertEquals(expected.status(), actual.status(), actual::describe);
        List<String> want = sotrussCalls(expected.stderr());
        List<String> got = sotrussCalls(actual.stderr());
        assertTrue(want.size() >= atLeast, expected::describe);
        assertEquals(String.join("\n", want), String.join("\n", got), "sotruss's calls natively and under jdryad");
    }

    /** sotruss's lines as (from, to, function) (and a return's), without the pid, arguments and values. */
    private static List<String> sotrussCalls(String stderr) {
        return stderr.lines().filter(l -> l.contains(" -> "))
                .map(l -> l.replaceFirst("^ *[0-9]+: ", "").replaceFirst("\\(.*$", "").replaceFirst(" - 0x.*$", "")
                        .trim().replaceAll(" +", " "))
                .toList();
    }

    /**
     * la_objsearch(LA_SER_ORIG) steers the start-up search, as glibc's _dl_map_object lets it:
     * a bare name rewritten to another (searched through the RUNPATH, la_objopen of the new
     * object before its dependency's searches), a rewrite to a path (opened, no search), a
     * refusal (glibc's error without a name, status 127, the search stops), a rewrite to a name
     * no directory has (glibc's error names the new name; no later name is looked for). Before,
     * the modules were loaded after the search and their answers were not followed.
     */
    @Test
    void startupSearchFollowsTheModulesAnswers(@TempDir Path tmp) throws IOException {
        Path prog = FixtureCatalog.auditRenameProgram();
        Path alt = FixtureCatalog.auditAltLibrary();
        String plugin = FixtureCatalog.auditPlugin().toString();
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("bare", "libau.so=libau_alt.so");
        cases.put("path", "libau.so=" + alt);
        cases.put("refused", "libau.so=");
        cases.put("missing", "libau.so=libau_nowhere.so");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Logged r = runBothWays(tmp, c.getKey(), FixtureCatalog.auditLogger(), prog, List.of(plugin), List.of(),
                    Map.of(), Map.of("AUDIT_RENAME", c.getValue()));
            assertEquals(String.join("\n", r.want()), String.join("\n", r.got()), "the audit log, " + c.getKey());
            if (c.getKey().equals("bare") || c.getKey().equals("path")) {
                assertTrue(r.expected().stdout().contains("au_sum = 1100"), r.expected()::describe); // libau_alt.so's
                assertTrue(r.got().contains("la_objopen libau_alt.so lmid=0 #4 bindfrom"), () -> String.join("\n", r.got()));
            } else {
                assertEquals(127, r.expected().status(), r.expected()::describe);
                assertTrue(r.got().stream().noneMatch(l -> l.contains("libc.so.6")), () -> String.join("\n", r.got()));
            }
        }
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
        assertEquals("cannot open shared object file", AuditModules.auditWords("./nope.so",
                "./nope.so: cannot open shared object file: No such file or directory"));
        assertEquals("invalid ELF header", AuditModules.auditWords("/tmp/x.so", "/tmp/x.so: invalid ELF header"));
    }
}
