package org.jdryad.elf;

/** One dynamic symbol ({@code Elf64_Sym}) with its name resolved. */
public record Symbol(int index, String name, int info, int other, int shndx, long value, long size) {

    public int bind() {
        return info >>> 4;
    }

    public int type() {
        return info & 0xf;
    }

    public int visibility() {
        return other & 0x3;
    }

    /** True for an undefined reference (section index SHN_UNDEF). */
    public boolean isUndefined() {
        return shndx == Elf.SHN_UNDEF;
    }

    public boolean isWeak() {
        return bind() == Elf.STB_WEAK;
    }

    public boolean isTls() {
        return type() == Elf.STT_TLS;
    }

    public boolean isIfunc() {
        return type() == Elf.STT_GNU_IFUNC;
    }

    public boolean isAbsolute() {
        return shndx == Elf.SHN_ABS;
    }
}
