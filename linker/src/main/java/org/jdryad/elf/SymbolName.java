package org.jdryad.elf;

import java.nio.charset.StandardCharsets;

/**
 * A symbol name as a lookup compares it: its UTF-8 bytes and its GNU hash, made once per lookup
 * and used in every object the lookup searches. Why: a lookup searches several objects (llvm-as's
 * 14,467 lookups searched 49,722), and encoding and hashing the name again in each was a
 * measurable part of linking a large program. The SysV hash, for the rare object without a GNU
 * hash table, is made when first asked.
 */
public final class SymbolName {
    private final String name;
    private final byte[] bytes;
    private final int gnuHash;
    private int sysvHash;
    private boolean sysvHashed;

    private SymbolName(String name) {
        this.name = name;
        this.bytes = name.getBytes(StandardCharsets.UTF_8);
        this.gnuHash = GnuHashTable.hash(bytes);
    }

    public static SymbolName of(String name) {
        return new SymbolName(name);
    }

    public String name() {
        return name;
    }

    /** The UTF-8 bytes (not to be changed). */
    byte[] bytes() {
        return bytes;
    }

    int gnuHash() {
        return gnuHash;
    }

    int sysvHash() {
        if (!sysvHashed) {
            sysvHash = SysvHashTable.hash(bytes);
            sysvHashed = true;
        }
        return sysvHash;
    }
}
