package org.jdryad.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jdryad.elf.Elf;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.ElfFormatException;
import org.jdryad.search.DependencyGraph;
import org.jdryad.search.LibrarySearch;
import org.jdryad.search.SearchConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jdryad ldd}: prints the shared objects a program needs, exactly as glibc's ldd prints
 * them, with jdryad's own search; {@code --tree} and {@code --dot} show how each was found.
 */
@Command(name = "ldd", sortOptions = false,
        description = {"Print the shared objects a program needs, as ldd does, found by jdryad's own search.",
            "LD_LIBRARY_PATH and LD_PRELOAD are honoured as by ldd."})
public final class LddCommand implements Callable<Integer> {
    @Option(names = "--tree", description = "Show the dependency tree: how each library was found, host objects, "
            + "and the places tried for a missing library.")
    boolean tree;

    @Option(names = "--dot", description = "Print the dependency graph in Graphviz DOT.")
    boolean dot;

    @Option(names = "--library-path", paramLabel = "PATH", description = "Use PATH instead of LD_LIBRARY_PATH.")
    String libraryPath;

    @Option(names = "--preload", paramLabel = "LIST", description = "Preload the objects in LIST (separated by spaces "
            + "or colons) after those of LD_PRELOAD.")
    String preload;

    @Parameters(arity = "1..*", paramLabel = "FILE", description = "Programs or shared objects.")
    List<String> files = new ArrayList<>();

    private final PrintStream out;
    private final PrintStream err;
    private final Map<String, String> env;

    public LddCommand() {
        this(System.out, System.err, System.getenv());
    }

    /** For tests: explicit streams and environment. */
    public LddCommand(PrintStream out, PrintStream err, Map<String, String> env) {
        this.out = out;
        this.err = err;
        this.env = env;
    }

    @Override
    public Integer call() {
        SearchConfig config = SearchConfig.builderFromEnvironment(env)
                .libraryPathOption(libraryPath)
                .preloadOption(preload)
                .executableOrigin(SearchConfig.ExecutableOrigin.AS_GIVEN)
                .build();
        LibrarySearch search = new LibrarySearch(config);
        int result = 0;
        boolean several = files.size() > 1;
        for (String file : files) {
            if (several) {
                out.println(file + ":");
            }
            if (!one(search, file)) {
                result = 1;
            }
        }
        out.flush();
        return result;
    }

    /** One file, as ldd's loop body; false when ldd would set its failure status. */
    private boolean one(LibrarySearch search, String file) {
        String f = file.indexOf('/') >= 0 ? file : "./" + file;
        Path p = Path.of(f);
        if (!Files.exists(p)) {
            err.println("ldd: " + f + ": No such file or directory");
            return false;
        }
        if (!Files.isRegularFile(p)) {
            err.println("ldd: " + f + ": not regular file");
            return false;
        }
        if (!Files.isReadable(p)) {
            err.println("ldd: error: you do not have read permission for `" + f + "'");
            return false;
        }
        if (!looksDynamic(p)) {
            err.println("\tnot a dynamic executable");
            return false;
        }
        DependencyGraph graph;
        try {
            graph = search.resolve(p);
        } catch (ElfFormatException e) {
            err.println("jdryad: " + e.getMessage());
            return false;
        } catch (IOException e) {
            err.println("ldd: " + f + ": " + e.getMessage());
            return false;
        }
        try (graph) {
            for (String w : graph.warnings()) {
                out.println(w);
            }
            if (graph.error().isPresent()) {
                out.println(f + ": error while loading shared libraries: " + graph.error().get().describe());
                return false;
            }
            if (tree || dot) {
                if (tree) {
                    LddFormatter.tree(graph).forEach(out::println);
                }
                if (dot) {
                    LddFormatter.dot(graph).forEach(out::println);
                }
                return true;
            }
            boolean hasNeeded = graph.executable().elf().dynamic().map(d -> d.has(Elf.DT_NEEDED)).orElse(false);
            if (!hasNeeded) {
                out.println("\tstatically linked");
                return true;
            }
            for (LddFormatter.Line line : LddFormatter.lines(graph)) {
                out.println(line.render());
            }
            return true;
        }
    }

    /**
     * What {@code ld.so --verify} accepts: an ELF64 x86-64 executable or shared object with a
     * dynamic section. Files it refuses get ldd's "not a dynamic executable". A file that passes
     * this check but is malformed further in is reported by the ELF reader.
     */
    static boolean looksDynamic(Path p) {
        ByteBuffer h = ByteBuffer.allocate(Elf.EHDR_SIZE).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            while (h.hasRemaining() && ch.read(h) > 0) {
                // keep reading
            }
        } catch (IOException e) {
            return false;
        }
        if (!org.jdryad.search.LibrarySearch.headerWords(h).isEmpty()) {
            return false; // ld.so --verify refuses it: ldd says "not a dynamic executable"
        }
        try (ElfFile elf = ElfFile.open(p)) {
            return elf.segment(Elf.PT_DYNAMIC).isPresent();
        } catch (ElfFormatException e) {
            return e.kind() == ElfFormatException.Kind.MALFORMED; // reported in detail by resolve()
        } catch (IOException e) {
            return false;
        }
    }
}
