package org.jdryad.search;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiConsumer;

/**
 * The names glibc preloads (elf/rtld.c handle_preload_list, the /etc/ld.so.preload reading), in
 * its order: LD_PRELOAD, then --preload, then the preload file, each with where it came from for
 * the warning a failed preload gets. Separate from the session because it is text parsing only:
 * the session maps each name as it is handed over.
 */
final class PreloadNames {
    private PreloadNames() {
    }

    /**
     * Hands each name to {@code preload} with its source, one at a time: the preload file is read
     * only after the names before it were loaded, as glibc does.
     */
    static void each(SearchConfig config, BiConsumer<String, String> preload) {
        inList(config.preload(), "LD_PRELOAD", config.secure(), preload);
        inList(config.preloadOption(), "--preload", config.secure(), preload);
        inFile(config.preloadFile(), preload);
    }

    private static void inList(String value, String where, boolean secure, BiConsumer<String, String> preload) {
        if (value == null) {
            return;
        }
        for (String s : value.split("[ :]", -1)) {
            String name = s.length() < 4096 ? s : "";
            if (name.isEmpty()) {
                continue;
            }
            if (secure && (name.length() >= 255 || name.indexOf('/') >= 0)) {
                continue;
            }
            preload.accept(name, where);
        }
    }

    private static void inFile(Path file, BiConsumer<String, String> preload) {
        if (file != null && Files.isReadable(file) && Files.isRegularFile(file)) {
            try {
                String text = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
                StringBuilder sb = new StringBuilder();
                boolean comment = false;
                for (char c : text.toCharArray()) {
                    if (c == '#') {
                        comment = true;
                    } else if (c == '\n') {
                        comment = false;
                    }
                    sb.append(comment ? ' ' : c);
                }
                for (String p : sb.toString().split("[: \t\n]")) {
                    if (!p.isEmpty()) {
                        preload.accept(p, file.toString());
                    }
                }
            } catch (IOException e) {
                // glibc ignores an unreadable preload file.
            }
        }
    }
}
