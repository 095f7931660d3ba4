package org.jdryad.search;

import java.util.List;

/**
 * Dynamic string tokens ({@code $ORIGIN}, {@code ${ORIGIN}}, {@code $LIB}, {@code $PLATFORM})
 * in DT_NEEDED, DT_RPATH, DT_RUNPATH and LD_LIBRARY_PATH, with glibc 2.36's rules
 * (elf/dl-load.c is_dst / _dl_dst_substitute), including those of secure (setuid) mode.
 */
public final class DynamicStringTokens {
    private DynamicStringTokens() {
    }

    /** The values the tokens expand to for one object. */
    public record Values(String origin, String lib, String platform) {
        /** {@code origin} may be null: the origin is unknown and a path using it is dropped. */
        public Values {
        }
    }

    /** Length (after '$', braces included) of token {@code ref} at {@code input[at]}, or 0. */
    static int isDst(String input, int at, String ref) {
        boolean curly = false;
        int p = at;
        if (p < input.length() && input.charAt(p) == '{') {
            curly = true;
            p++;
        }
        if (!input.startsWith(ref, p)) {
            return 0;
        }
        int after = p + ref.length();
        char c = after < input.length() ? input.charAt(after) : '\0';
        if (curly && c != '}') {
            return 0;
        }
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
            return 0;
        }
        return curly ? ref.length() + 2 : ref.length();
    }

    /** Number of recognised tokens in the string (glibc's _dl_dst_count). */
    public static int count(String input) {
        int n = 0;
        for (int i = input.indexOf('$'); i >= 0; i = input.indexOf('$', i + 1)) {
            if (isDst(input, i + 1, "ORIGIN") != 0 || isDst(input, i + 1, "PLATFORM") != 0
                    || isDst(input, i + 1, "LIB") != 0) {
                n++;
            }
        }
        return n;
    }

    /**
     * Substitutes the tokens. Returns "" when the path must be dropped: a token without a value,
     * or (secure mode) {@code $ORIGIN} anywhere but at the start of the element, or an
     * executable's {@code $ORIGIN} path outside the trusted directories.
     *
     * @param secure whether the process runs in secure mode (AT_SECURE)
     * @param ofExecutable whether the object the string belongs to is the main program
     * @param trustedDirs glibc's system directories, each ending with '/'
     */
    public static String substitute(String input, Values values, boolean secure, boolean ofExecutable,
            List<String> trustedDirs) {
        if (count(input) == 0) {
            return input;
        }
        StringBuilder out = new StringBuilder(input.length() + 32);
        boolean checkTrusted = false;
        int i = 0;
        int n = input.length();
        while (i < n) {
            char c = input.charAt(i);
            if (c != '$') {
                out.append(c);
                i++;
                continue;
            }
            int at = i + 1;
            int len;
            String repl = null;
            boolean known;
            if ((len = isDst(input, at, "ORIGIN")) != 0) {
                known = true;
                if (secure) {
                    char next = at + len < n ? input.charAt(at + len) : '\0';
                    repl = (i == 0 && (next == '\0' || next == '/')) ? values.origin() : null;
                } else {
                    repl = values.origin();
                }
                checkTrusted = secure && ofExecutable;
            } else if ((len = isDst(input, at, "PLATFORM")) != 0) {
                known = true;
                repl = values.platform();
            } else if ((len = isDst(input, at, "LIB")) != 0) {
                known = true;
                repl = values.lib();
            } else {
                known = false;
            }
            if (repl != null) {
                out.append(repl);
                i = at + len;
            } else if (known) {
                return "";
            } else {
                out.append('$');
                i = at;
            }
        }
        String result = out.toString();
        if (checkTrusted && !isTrustedPath(result, trustedDirs)) {
            return "";
        }
        return result;
    }

    /** glibc's is_trusted_path_normalize: after removing "." and ".." the path lies in a trusted dir. */
    static boolean isTrustedPath(String path, List<String> trustedDirs) {
        if (path.isEmpty()) {
            return false;
        }
        StringBuilder np = new StringBuilder();
        int i = 0;
        int n = path.length();
        while (i < n) {
            if (path.charAt(i) == '/') {
                if (i + 1 < n && path.charAt(i + 1) == '.') {
                    if (i + 2 < n && path.charAt(i + 2) == '.' && (i + 3 == n || path.charAt(i + 3) == '/')) {
                        int w = np.length();
                        while (w > 0 && np.charAt(--w) != '/') {
                            // back up to the previous slash
                        }
                        np.setLength(w);
                        i += 3;
                        continue;
                    } else if (i + 2 == n || path.charAt(i + 2) == '/') {
                        i += 2;
                        continue;
                    }
                }
                if (np.length() > 0 && np.charAt(np.length() - 1) == '/') {
                    i++;
                    continue;
                }
            }
            np.append(path.charAt(i++));
        }
        if (np.length() == 0 || np.charAt(np.length() - 1) != '/') {
            np.append('/');
        }
        String norm = np.toString();
        for (String t : trustedDirs) {
            if (norm.startsWith(t)) {
                return true;
            }
        }
        return false;
    }
}
