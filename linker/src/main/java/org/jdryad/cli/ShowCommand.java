package org.jdryad.cli;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.jdryad.debug.HistoryModel;
import org.jdryad.debug.HistoryView;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jdryad show FILE.json [VIEW ...]}: a {@code --history} file, post mortem, in the tables
 * the gdb commands print live (the layout is {@link HistoryView}'s).
 */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = {"Show a --history file: its link map, bindings, link-map events, or why a symbol bound where it did.",
            "VIEW is linkmap, bindings [SYMBOL], events or why SYMBOL (default: linkmap)."})
final class ShowCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "FILE", description = "A history written by jdryad run --history FILE.")
    Path file;

    @Parameters(index = "1", arity = "0..1", paramLabel = "VIEW", description = "linkmap, bindings, events or why.")
    String view = "linkmap";

    @Parameters(index = "2", arity = "0..1", paramLabel = "SYMBOL", description = "bindings: only this symbol's; why: required.")
    String symbol;

    @Option(names = "--object", paramLabel = "OBJ", description = "bindings: only those whose referrer or definer is OBJ (path or file name).")
    String object;

    @Option(names = "--lazy", description = "bindings: only lazy ones (first calls).")
    boolean lazy;

    @Option(names = "--last", paramLabel = "N", description = "bindings, events: only the last N.")
    Integer last;

    @Option(names = "--from", paramLabel = "OBJ", description = "why: only bindings made for references from OBJ.")
    String from;

    @Option(names = "--pid", paramLabel = "PID", description = "A --follow history: only process PID's images"
            + " (default: every process, each under a line naming its pid, parent pid and program).")
    Long pid;

    @Override
    public Integer call() {
        if (last != null && last < 0) {
            throw new CliFailure("jdryad show: --last must not be negative", 2);
        }
        String text = read();
        HistoryModel.History top = parse(() -> HistoryModel.parse(text));
        List<HistoryModel.Process> processes = parse(() -> HistoryModel.processes(text));
        StringBuilder out = new StringBuilder();
        if (processes.isEmpty()) {
            only(pid == null || pid == top.pid(), "no process " + pid + " in " + file);
            out.append(view(top));
        } else {
            for (HistoryModel.Process p : processes) {
                if (pid == null || pid == p.pid()) {
                    out.append(p.describe()).append('\n').append(view(p.history()));
                }
            }
            only(out.length() > 0, "no process " + pid + " in " + file);
        }
        System.out.print(out);
        System.out.flush();
        return 0;
    }

    /** The asked view of one process's history. */
    private String view(HistoryModel.History h) {
        int n = last == null ? 0 : last;
        return switch (view) {
            case "linkmap" -> {
                only(symbol == null && object == null && !lazy && last == null && from == null, "linkmap takes no filters");
                yield HistoryView.linkmap(h.objects());
            }
            case "bindings" -> {
                only(from == null, "--from belongs to why");
                yield HistoryView.bindings(HistoryView.select(h.bindings(), new HistoryView.Query(symbol, object, lazy, n, null)));
            }
            case "events" -> {
                only(symbol == null && object == null && !lazy && from == null, "events takes only --last");
                yield HistoryView.events(new HistoryView.Query(null, null, false, n, null).tail(h.events()));
            }
            case "why" -> {
                only(symbol != null, "why needs a SYMBOL");
                only(object == null && !lazy && last == null, "why takes only --from");
                yield HistoryView.why(symbol, HistoryView.select(h.bindings(), new HistoryView.Query(symbol, null, false, 0, from)));
            }
            default -> throw new CliFailure("jdryad show: unknown view '" + view + "' (linkmap, bindings, events, why)", 2);
        };
    }

    private static void only(boolean ok, String message) {
        if (!ok) {
            throw new CliFailure("jdryad show: " + message, 2);
        }
    }

    private String read() {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new CliFailure("jdryad show: " + file + ": No such file or directory", 2);
        } catch (MalformedInputException e) {
            throw new CliFailure("jdryad show: " + file + ": not a jdryad history (not UTF-8 text)", 2);
        } catch (IOException | OutOfMemoryError e) {
            throw new CliFailure("jdryad show: " + file + ": cannot read it (" + e.getMessage() + ")", 2);
        }
    }

    private <T> T parse(java.util.function.Supplier<T> parsing) {
        try {
            return parsing.get();
        } catch (HistoryModel.Invalid e) {
            throw new CliFailure("jdryad show: " + file + ": " + e.getMessage(), 2);
        }
    }
}
