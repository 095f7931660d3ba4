package org.jdryad.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Set-user-ID programs get glibc's secure-mode rules under jdryad as under glibc. Run as root, a
 * copy of a fixture owned by {@code nobody} with the set-user-ID bit starts with AT_SECURE
 * (effective user nobody, real user root): glibc then ignores LD_LIBRARY_PATH and $ORIGIN in
 * the program's RUNPATH, and removes its unsecure variables from the program's environment.
 * jdryad must do the same (same output, same status, same message), and the same programs
 * without the bit must still find their libraries.
 */
@Tag("run")
class SecureModeTest {

    @Test
    void originInRunpathIsIgnoredForASetuidProgram() throws IOException {
        Path dir = setuidLayout("origin", FixtureCatalog.neededProgram("fn", FixtureCatalog.libneeded()), true);
        Path prog = dir.resolve("uses-fn");
        Files.copy(FixtureCatalog.libneeded(), dir.resolve("libneeded.so"));
        compare("$ORIGIN, set-user-ID", prog, Map.of(), 127);
        Path plain = setuidLayout("origin-plain", FixtureCatalog.neededProgram("fn", FixtureCatalog.libneeded()), false);
        Files.copy(FixtureCatalog.libneeded(), plain.resolve("libneeded.so"));
        compare("$ORIGIN, no set-user-ID bit", plain.resolve("uses-fn"), Map.of(), 0);
    }

    @Test
    void libraryPathIsIgnoredForASetuidProgram() throws IOException {
        Path lib = FixtureCatalog.libneeded();
        Path built = Fixtures.program("uses-fn-nopath", List.of("missing/uses_fn.c"), lib.toString());
        Path dir = setuidLayout("llp", built, true);
        Files.copy(lib, dir.resolve("libneeded.so"));
        Map<String, String> env = Map.of("LD_LIBRARY_PATH", dir.toString());
        compare("LD_LIBRARY_PATH, set-user-ID", dir.resolve("uses-fn-nopath"), env, 127);
        Path plain = setuidLayout("llp-plain", built, false);
        Files.copy(lib, plain.resolve("libneeded.so"));
        compare("LD_LIBRARY_PATH, no set-user-ID bit", plain.resolve("uses-fn-nopath"),
                Map.of("LD_LIBRARY_PATH", plain.toString()), 0);
    }

    @Test
    void unsecureVariablesAreRemovedFromASetuidProgramsEnvironment() throws IOException {
        Path built = Fixtures.program("secure-env", List.of("robust/secure_env.c"));
        Path dir = setuidLayout("env", built, true);
        Map<String, String> env = Map.of("LD_LIBRARY_PATH", "/nonexistent", "TMPDIR", "/tmp",
                "JDRYAD_SECURE_KEPT", "yes");
        Result expected = compare("environment, set-user-ID", dir.resolve("secure-env"), env, 0);
        assertEquals("LD_LIBRARY_PATH=(unset)\nLD_PRELOAD=(unset)\nTMPDIR=(unset)\nJDRYAD_SECURE_KEPT=yes\n",
                expected.stdout());
    }

    @Test
    void ldDebugIsIgnoredForASetuidProgram() throws IOException {
        assumeTrue(!Files.exists(Path.of("/etc/suid-debug")), "/etc/suid-debug lets glibc debug secure programs");
        Path built = Fixtures.program("secure-env", List.of("robust/secure_env.c"));
        Map<String, String> env = Map.of("LD_DEBUG", "libs");
        for (boolean setuid : new boolean[] {true, false}) {
            Path prog = setuidLayout(setuid ? "debug" : "debug-plain", built, setuid).resolve("secure-env");
            Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
            Result actual = Jdryad.runJdryad(List.of(), prog, List.of(), env, prog.getParent());
            assertEquals(0, actual.status(), actual::describe);
            // (the launcher's bash prints its own LD_DEBUG lines: README, known limits)
            String about = "initialize program: " + prog;
            assertEquals(expected.stderr().contains(about), actual.stderr().contains(about),
                    (setuid ? "set-user-ID: " : "plain: ") + actual.describe());
            assertEquals(!setuid, actual.stderr().contains(about), actual::describe);
        }
    }

    /** Runs natively and under jdryad; both must end with {@code status} and say the same. */
    /**
     * An audit module for a set-user-ID program, as glibc's secure mode takes it: a path is
     * ignored without a word (the program runs unaudited), a bare name that is no set-user-ID
     * file of the trusted directories gets glibc's "cannot be loaded as audit interface". Before,
     * jdryad loaded the module either way.
     */
    @Test
    void auditModulesAreRestrictedForASetuidProgram() throws IOException {
        Path dir = setuidLayout("audit", FixtureCatalog.helloPie(), true);
        Path prog = dir.resolve(FixtureCatalog.helloPie().getFileName());
        String module = FixtureCatalog.auditLogger().toString();
        for (String name : List.of(module, "libaudit_logger.so")) {
            Result expected = Jdryad.runNative(prog, List.of(), Map.of("LD_AUDIT", name), dir);
            assertEquals(0, expected.status(), expected::describe);
            assertTrue(!expected.stderr().contains("la_version"), expected::describe); // no module ran
            Result actual = Jdryad.runJdryad(List.of("--audit", name), prog, List.of(), Map.of(), dir);
            Jdryad.assertSameRun("audit module " + name + ", set-user-ID", expected, actual);
        }
    }

    private static Result compare(String what, Path prog, Map<String, String> env, int status) {
        Result expected = Jdryad.runNative(prog, List.of(), env, prog.getParent());
        assertEquals(status, expected.status(), expected::describe);
        Result actual = Jdryad.runJdryad(List.of(), prog, List.of(), env, prog.getParent());
        Jdryad.assertSameRun(what, expected, actual);
        return expected;
    }

    /**
     * A directory nobody can enter holding a copy of {@code prog}, owned by nobody and set-user-ID
     * when {@code setuid} (root runs it; the kernel gives it AT_SECURE).
     */
    private static Path setuidLayout(String name, Path prog, boolean setuid) throws IOException {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to make a program owned by nobody");
        Path dir = Fixtures.scratchDir("secure-" + name);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path copy = dir.resolve(prog.getFileName());
        Files.copy(prog, copy, StandardCopyOption.COPY_ATTRIBUTES);
        if (setuid) {
            UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
            Files.setOwner(copy, users.lookupPrincipalByName("nobody"));
            Files.setAttribute(copy, "unix:mode", 04755);
        }
        return dir;
    }
}
