package org.jdryad.run;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.jdryad.fixtures.Fixtures;
import org.jdryad.fixtures.ProcessRunner.Result;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * System programs whose option parsing depends on copy-relocated {@code optind}/{@code optarg}
 * (DESIGN.md mechanism 4): libc's getopt must see the program's copies.
 */
@Tag("run")
class SystemProgramsRunTest {
    private static Path dir;

    @BeforeAll
    static void makeFiles() throws IOException {
        dir = Fixtures.scratchDir("sysprog");
        Path listing = Files.createDirectories(dir.resolve("listing"));
        String[] names = {"b-file", "a-file", "c.txt", "zz", ".hidden"};
        for (int i = 0; i < names.length; i++) {
            Path f = listing.resolve(names[i]);
            Files.writeString(f, "x".repeat(i * 100 + 1));
            Files.setLastModifiedTime(f, FileTime.from(Instant.parse("2020-01-0" + (i + 1) + "T12:00:00Z")));
        }
        Files.createDirectories(listing.resolve("subdir"));
        Files.setLastModifiedTime(listing.resolve("subdir"), FileTime.from(Instant.parse("2019-05-05T05:05:05Z")));
        Files.writeString(dir.resolve("table.txt"), String.join("\n",
                "k1:pear:3", "k2:apple:10", "k3:fig:2", "k4:banana:1", "k5:apple:7", "") );
    }

    @AfterAll
    static void cleanUp() {
        if (dir != null) {
            Fixtures.deleteTree(dir);
        }
    }

    private static void same(String name, String program, String... args) {
        Path prog = Path.of(program);
        Map<String, String> env = Map.of("TZ", "UTC", "LC_ALL", "C", "COLUMNS", "80");
        Result expected = Jdryad.runNative(prog, List.of(args), env, dir);
        Result actual = Jdryad.runJdryad(List.of(), prog, List.of(args), env, dir);
        Jdryad.assertSameRun(name, expected, actual);
    }

    @Test
    void lsLongListing() {
        same("ls -l", "/usr/bin/ls", "-l", "--time-style=long-iso", "listing");
    }

    @Test
    void lsManyOptions() {
        same("ls -laS", "/usr/bin/ls", "-laS", "--time-style=+%Y-%m-%d", "-I", "zz", "listing");
    }

    @Test
    void sortByField() {
        same("sort -k2 -t:", "/usr/bin/sort", "-k2", "-t:", "table.txt");
    }

    @Test
    void sortNumericReverse() {
        same("sort -t : -k 3,3n -r", "/usr/bin/sort", "-t", ":", "-k", "3,3n", "-r", "table.txt");
    }

    @Test
    void sortBadOptionFails() {
        same("sort --no-such-option", "/usr/bin/sort", "--no-such-option");
    }
}
