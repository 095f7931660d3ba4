package org.jdryad.elf;

/** One ELF64 section header ({@code Elf64_Shdr}) with its name resolved. */
public record SectionHeader(String name, int type, long flags, long addr, long offset, long size,
                            int link, int info, long addralign, long entsize) {
}
