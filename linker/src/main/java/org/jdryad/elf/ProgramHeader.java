package org.jdryad.elf;

/** One ELF64 program header ({@code Elf64_Phdr}). */
public record ProgramHeader(int type, int flags, long offset, long vaddr, long paddr,
                            long filesz, long memsz, long align) {

    public boolean readable() {
        return (flags & Elf.PF_R) != 0;
    }

    public boolean writable() {
        return (flags & Elf.PF_W) != 0;
    }

    public boolean executable() {
        return (flags & Elf.PF_X) != 0;
    }

    /** True when {@code addr} lies in {@code [vaddr, vaddr+memsz)}. */
    public boolean containsAddress(long addr) {
        return Long.compareUnsigned(addr, vaddr) >= 0 && Long.compareUnsigned(addr - vaddr, memsz) < 0;
    }
}
