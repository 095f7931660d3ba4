package org.jdryad.link;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jdryad.fixtures.FixtureCatalog;
import org.jdryad.fixtures.ProcessRunner;
import org.junit.jupiter.api.Test;

/**
 * {@link InitOrder} against glibc 2.36 itself: the order {@code LD_DEBUG=files} prints
 * ({@code calling init: PATH}, then {@code initialize program: PATH} for the executable, which
 * {@code __libc_start_main} initialises last). Host objects are initialised by glibc in the
 * agent, so only the relative order of jdryad objects is compared; the sort itself runs over
 * the whole graph, host objects included, as glibc's does.
 */
class InitOrderTest {
    private static final Pattern CALLING_INIT = Pattern.compile("^\\s*(\\d+):\\s+calling init: (\\S+)\\s*$");
    private static final Pattern INIT_PROGRAM = Pattern.compile("^\\s*(\\d+):\\s+initialize program: (\\S+)\\s*$");

    /** What glibc initialised, in order: real paths, the program last. */
    static List<Path> glibcInitOrder(List<String> command) {
        ProcessRunner.Result r = LinkTestSupport.runNative(command, Map.of("LD_DEBUG", "files"));
        List<Path> out = new ArrayList<>();
        String pid = null;
        boolean program = false;
        for (String line : r.stderr().split("\n")) {
            Matcher c = CALLING_INIT.matcher(line);
            Matcher p = INIT_PROGRAM.matcher(line);
            if (c.matches() && !program) {
                if (pid == null) {
                    pid = c.group(1);
                }
                if (c.group(1).equals(pid)) {
                    out.add(real(Path.of(c.group(2))));
                }
            } else if (p.matches() && p.group(1).equals(pid) && !program) {
                out.add(real(Path.of(p.group(2))));
                program = true; // later lines are dlopen's, not start-up's
            }
        }
        assertTrue(program, "glibc printed no 'initialize program' line:\n" + r.describe());
        return out;
    }

    static Path real(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void assertSameOrderAsGlibc(Path program, List<String> command) {
        List<LoadedObject> objects = LinkTestSupport.graph(program);
        List<LoadedObject> order = InitOrder.compute(objects);
        assertEquals(objects.size(), order.size(), "every object is initialised once");
        assertTrue(order.get(order.size() - 1).isExecutable(), "the executable is initialised last: " + order);

        List<Path> jdryad = new ArrayList<>();
        List<Path> jdryadObjects = new ArrayList<>();
        for (LoadedObject o : order) {
            if (!o.isHost()) {
                jdryad.add(real(o.path()));
            }
        }
        for (LoadedObject o : objects) {
            if (!o.isHost()) {
                jdryadObjects.add(real(o.path()));
            }
        }
        List<Path> glibc = new ArrayList<>(glibcInitOrder(command));
        glibc.retainAll(jdryadObjects);
        assertEquals(jdryadObjects.size(), glibc.size(), "glibc initialised every jdryad object: " + glibc);
        assertEquals(glibc, jdryad, program + ": initialisation order of jdryad objects");
    }

    @Test
    void fixtureCtorChain() {
        Path prog = FixtureCatalog.ctorProgram();
        assertSameOrderAsGlibc(prog, List.of(prog.toString()));
    }

    @Test
    void fixtureWeakProgramWithTwoLeaves() {
        Path prog = FixtureCatalog.linkWeakProgram();
        assertSameOrderAsGlibc(prog, List.of(prog.toString()));
    }

    @Test
    void llvmAs14() {
        Path prog = Path.of("/usr/bin/llvm-as-14");
        assumeTrue(Files.isExecutable(prog), "llvm-as-14 is not installed");
        assertSameOrderAsGlibc(real(prog), List.of(prog.toString(), "--version"));
    }

    @Test
    void cmake() {
        Path prog = Path.of("/usr/bin/cmake");
        assumeTrue(Files.isExecutable(prog), "cmake is not installed");
        assertSameOrderAsGlibc(prog, List.of(prog.toString(), "--version"));
    }

    @Test
    void python311() {
        Path prog = Path.of("/usr/bin/python3.11");
        assumeTrue(Files.isExecutable(prog), "python3.11 is not installed");
        assertSameOrderAsGlibc(prog, List.of(prog.toString(), "-S", "-I", "-c", "pass"));
    }

    @Test
    void dependenciesComeBeforeDependentsAndTheExecutableIsNeverEnteredAsADependency() {
        // A synthetic graph: exe -> a -> b, exe -> c -> b, b -> exe (a back edge, as a library
        // linked against the program would have), load order exe a c b. glibc's DFS starts from the
        // end of the load order: b (its edge to exe is not followed), then c, then a, then exe.
        Path any = LinkTestSupport.LIBZ;
        LoadedObject exe = new LoadedObject(LinkTestSupport.elf(any), "exe", false, true, 0);
        LoadedObject a = new LoadedObject(LinkTestSupport.elf(any), "a", false, false, 1);
        LoadedObject c = new LoadedObject(LinkTestSupport.elf(any), "c", false, false, 2);
        LoadedObject b = new LoadedObject(LinkTestSupport.elf(any), "b", false, false, 3);
        exe.dependencies().addAll(List.of(a, c));
        a.dependencies().add(b);
        c.dependencies().add(b);
        b.dependencies().add(exe);
        assertEquals(List.of(b, c, a, exe), InitOrder.compute(List.of(exe, a, c, b)));
    }

    @Test
    void leavesAreTraversedFromTheEndOfTheLoadOrder() {
        // exe needs x then y, neither has dependencies: glibc's top level runs from the end of the
        // load order, so y is finished first and initialised first: y, x, exe
        // (fixtureWeakProgramWithTwoLeaves checks the same against glibc itself).
        Path any = LinkTestSupport.LIBZ;
        LoadedObject exe = new LoadedObject(LinkTestSupport.elf(any), "exe", false, true, 0);
        LoadedObject x = new LoadedObject(LinkTestSupport.elf(any), "x", false, false, 1);
        LoadedObject y = new LoadedObject(LinkTestSupport.elf(any), "y", false, false, 2);
        exe.dependencies().addAll(List.of(x, y));
        assertEquals(List.of(y, x, exe), InitOrder.compute(List.of(exe, x, y)));
    }
}
