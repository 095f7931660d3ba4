package org.jdryad.debug;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * What the user asked jdryad to tell as it links: glibc's LD_DEBUG categories (from the
 * program's {@code LD_DEBUG} or {@code --debug}), jdryad's own {@code activity} category, and
 * where the lines go ({@code LD_DEBUG_OUTPUT} or {@code --debug-output}: FILE.PID, as glibc).
 *
 * <p>Why a parsed set rather than strings: glibc accepts the categories separated by commas,
 * colons or spaces and warns about unknown ones without stopping, and every later decision
 * ("print this line?") should be a cheap, typo-proof question.
 */
public record DebugOptions(Set<Category> categories, String outputPrefix, boolean help, java.util.List<String> unknown) {

    /** glibc 2.36's categories (elf/rtld.c), in its help order, plus jdryad's activity events. */
    public enum Category {
        LIBS("display library search paths"),
        RELOC("display relocation processing"),
        FILES("display progress for input file"),
        SYMBOLS("display symbol table processing"),
        BINDINGS("display information about symbol binding"),
        VERSIONS("display version dependencies"),
        SCOPES("display scope information"),
        STATISTICS("display relocation statistics"),
        UNUSED("determined unused DSOs"),
        ACTIVITY("(jdryad) display link-map activity events as they happen");

        private final String help;

        Category(String help) {
            this.help = help;
        }

        public String help() {
            return help;
        }

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Nothing to tell. */
    public static final DebugOptions NONE = new DebugOptions(EnumSet.noneOf(Category.class), null, false, java.util.List.of());

    public DebugOptions {
        categories = categories.isEmpty() ? EnumSet.noneOf(Category.class) : EnumSet.copyOf(categories);
        unknown = java.util.List.copyOf(unknown);
    }

    /**
     * Parses categories as glibc's process_dl_debug does: separated by spaces, commas or colons;
     * {@code all} is every category before {@code statistics} in the help; unknown words are kept
     * for the warning glibc prints.
     */
    public static DebugOptions parse(String spec, String outputPrefix) {
        EnumSet<Category> set = EnumSet.noneOf(Category.class);
        java.util.List<String> unknown = new java.util.ArrayList<>();
        boolean help = false;
        if (spec != null) {
            for (String w : spec.split("[ ,:]+")) {
                if (w.isEmpty()) {
                    continue;
                }
                if (w.equals("all")) {
                    set.addAll(EnumSet.range(Category.LIBS, Category.SCOPES));
                } else if (w.equals("help")) {
                    help = true;
                } else {
                    Category c = byWord(w);
                    if (c == null) {
                        unknown.add(w);
                    } else {
                        set.add(c);
                    }
                }
            }
        }
        return new DebugOptions(set, outputPrefix == null || outputPrefix.isEmpty() ? null : outputPrefix, help, unknown);
    }

    private static Category byWord(String w) {
        for (Category c : Category.values()) {
            if (c.word().equals(w)) {
                return c;
            }
        }
        return null;
    }

    /** The same options with {@code more} added (LD_DEBUG plus --debug). */
    public DebugOptions plus(DebugOptions more) {
        EnumSet<Category> set = EnumSet.noneOf(Category.class);
        set.addAll(categories);
        set.addAll(more.categories);
        java.util.List<String> u = new java.util.ArrayList<>(unknown);
        u.addAll(more.unknown);
        return new DebugOptions(set, more.outputPrefix != null ? more.outputPrefix : outputPrefix, help || more.help, u);
    }

    public boolean has(Category c) {
        return categories.contains(c);
    }

    public boolean any() {
        return !categories.isEmpty();
    }

    /** glibc's LD_DEBUG=help text, word for word; with {@code jdryad}, jdryad's own category after it. */
    public static String helpText(boolean jdryad) {
        StringBuilder sb = new StringBuilder("Valid options for the LD_DEBUG environment variable are:\n\n");
        for (Category c : EnumSet.range(Category.LIBS, Category.SCOPES)) {
            sb.append(String.format("  %-10s  %s%n", c.word(), c.help()));
        }
        sb.append(String.format("  %-10s  %s%n", "all", "all previous options combined"));
        for (Category c : EnumSet.range(Category.STATISTICS, Category.UNUSED)) {
            sb.append(String.format("  %-10s  %s%n", c.word(), c.help()));
        }
        sb.append(String.format("  %-10s  %s%n", "help", "display this help message and exit"));
        sb.append("\nTo direct the debugging output into a file instead of standard output\n"
                + "a filename can be specified using the LD_DEBUG_OUTPUT environment variable.\n");
        if (jdryad) {
            sb.append(String.format("%njdryad run --debug also accepts:%n  %-10s  %s%n", Category.ACTIVITY.word(),
                    "display link-map activity events as they happen"));
        }
        return sb.toString();
    }
}
