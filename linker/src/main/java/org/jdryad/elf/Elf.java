package org.jdryad.elf;

/** ELF64 x86-64 constants used by jdryad (names as in {@code <elf.h>}). */
public final class Elf {
    private Elf() {
    }

    public static final int EI_NIDENT = 16;
    public static final int ELFCLASS64 = 2;
    public static final int ELFDATA2LSB = 1;
    public static final int EV_CURRENT = 1;
    public static final int EM_X86_64 = 62;

    public static final int ET_EXEC = 2;
    public static final int ET_DYN = 3;

    public static final int EHDR_SIZE = 64;
    public static final int PHDR_SIZE = 56;
    /** x86-64's page size: what a segment's address and file offset must agree on. */
    public static final long PAGE_SIZE = 4096;
    public static final int SHDR_SIZE = 64;
    public static final int DYN_SIZE = 16;
    public static final int SYM_SIZE = 24;
    public static final int RELA_SIZE = 24;

    public static final int PT_NULL = 0;
    public static final int PT_LOAD = 1;
    public static final int PT_DYNAMIC = 2;
    public static final int PT_INTERP = 3;
    public static final int PT_NOTE = 4;
    public static final int PT_PHDR = 6;
    public static final int PT_TLS = 7;
    public static final int PT_GNU_EH_FRAME = 0x6474e550;
    public static final int PT_GNU_STACK = 0x6474e551;
    public static final int PT_GNU_RELRO = 0x6474e552;
    public static final int PT_GNU_PROPERTY = 0x6474e553;

    public static final int PF_X = 1;
    public static final int PF_W = 2;
    public static final int PF_R = 4;

    public static final int SHT_NOBITS = 8;

    public static final long DT_NULL = 0;
    public static final long DT_NEEDED = 1;
    /** Filters (ld --auxiliary, --filter): the filtee's definitions come first; a missing auxiliary filtee is ignored. */
    public static final long DT_AUXILIARY = 0x7ffffffdL;
    public static final long DT_FILTER = 0x7fffffffL;
    public static final long DT_PLTRELSZ = 2;
    public static final long DT_PLTGOT = 3;
    public static final long DT_HASH = 4;
    public static final long DT_STRTAB = 5;
    public static final long DT_SYMTAB = 6;
    public static final long DT_RELA = 7;
    public static final long DT_RELASZ = 8;
    public static final long DT_RELAENT = 9;
    public static final long DT_STRSZ = 10;
    public static final long DT_SYMENT = 11;
    public static final long DT_INIT = 12;
    public static final long DT_FINI = 13;
    public static final long DT_SONAME = 14;
    public static final long DT_RPATH = 15;
    public static final long DT_SYMBOLIC = 16;
    public static final long DT_REL = 17;
    public static final long DT_PLTREL = 20;
    public static final long DT_DEBUG = 21;
    public static final long DT_TEXTREL = 22;
    public static final long DT_JMPREL = 23;
    public static final long DT_BIND_NOW = 24;
    public static final long DT_INIT_ARRAY = 25;
    public static final long DT_FINI_ARRAY = 26;
    public static final long DT_INIT_ARRAYSZ = 27;
    public static final long DT_FINI_ARRAYSZ = 28;
    public static final long DT_RUNPATH = 29;
    public static final long DT_FLAGS = 30;
    public static final long DT_PREINIT_ARRAY = 32;
    public static final long DT_PREINIT_ARRAYSZ = 33;
    public static final long DT_RELRSZ = 35;
    public static final long DT_RELR = 36;
    public static final long DT_RELRENT = 37;
    public static final long DT_GNU_HASH = 0x6ffffef5L;
    public static final long DT_VERSYM = 0x6ffffff0L;
    public static final long DT_RELACOUNT = 0x6ffffff9L;
    public static final long DT_FLAGS_1 = 0x6ffffffbL;
    public static final long DT_VERDEF = 0x6ffffffcL;
    public static final long DT_VERDEFNUM = 0x6ffffffdL;
    public static final long DT_VERNEED = 0x6ffffffeL;
    public static final long DT_VERNEEDNUM = 0x6fffffffL;

    public static final long DF_ORIGIN = 0x1;
    public static final long DF_SYMBOLIC = 0x2;
    public static final long DF_TEXTREL = 0x4;
    public static final long DF_BIND_NOW = 0x8;
    public static final long DF_STATIC_TLS = 0x10;

    public static final long DF_1_NOW = 0x1;
    public static final long DF_1_GLOBAL = 0x2;
    public static final long DF_1_NODELETE = 0x8;
    public static final long DF_1_INITFIRST = 0x20;
    public static final long DF_1_NOOPEN = 0x40;
    public static final long DF_1_ORIGIN = 0x80;
    public static final long DF_1_NODEFLIB = 0x800;
    public static final long DF_1_PIE = 0x08000000L;

    public static final int STB_LOCAL = 0;
    public static final int STB_GLOBAL = 1;
    public static final int STB_WEAK = 2;
    public static final int STB_GNU_UNIQUE = 10;

    public static final int STT_NOTYPE = 0;
    public static final int STT_OBJECT = 1;
    public static final int STT_FUNC = 2;
    public static final int STT_SECTION = 3;
    public static final int STT_FILE = 4;
    public static final int STT_COMMON = 5;
    public static final int STT_TLS = 6;
    public static final int STT_GNU_IFUNC = 10;

    public static final int STV_DEFAULT = 0;
    public static final int STV_INTERNAL = 1;
    public static final int STV_HIDDEN = 2;
    public static final int STV_PROTECTED = 3;

    public static final int SHN_UNDEF = 0;
    public static final int SHN_ABS = 0xfff1;
    public static final int SHN_XINDEX = 0xffff;

    public static final int VER_NDX_LOCAL = 0;
    public static final int VER_NDX_GLOBAL = 1;
    public static final int VERSYM_HIDDEN = 0x8000;
    public static final int VERSYM_VERSION = 0x7fff;
    public static final int VER_FLG_BASE = 0x1;
    public static final int VER_FLG_WEAK = 0x2;

    public static final int NT_GNU_BUILD_ID = 3;
    public static final int NT_GNU_PROPERTY_TYPE_0 = 5;

    // x86-64 relocation types.
    public static final int R_X86_64_NONE = 0;
    public static final int R_X86_64_64 = 1;
    public static final int R_X86_64_PC32 = 2;
    public static final int R_X86_64_GOT32 = 3;
    public static final int R_X86_64_PLT32 = 4;
    public static final int R_X86_64_COPY = 5;
    public static final int R_X86_64_GLOB_DAT = 6;
    public static final int R_X86_64_JUMP_SLOT = 7;
    public static final int R_X86_64_RELATIVE = 8;
    public static final int R_X86_64_GOTPCREL = 9;
    public static final int R_X86_64_32 = 10;
    public static final int R_X86_64_32S = 11;
    public static final int R_X86_64_16 = 12;
    public static final int R_X86_64_PC16 = 13;
    public static final int R_X86_64_8 = 14;
    public static final int R_X86_64_PC8 = 15;
    public static final int R_X86_64_DTPMOD64 = 16;
    public static final int R_X86_64_DTPOFF64 = 17;
    public static final int R_X86_64_TPOFF64 = 18;
    public static final int R_X86_64_PC64 = 24;
    public static final int R_X86_64_SIZE32 = 32;
    public static final int R_X86_64_SIZE64 = 33;
    public static final int R_X86_64_TLSDESC = 36;
    public static final int R_X86_64_IRELATIVE = 37;
    public static final int R_X86_64_RELATIVE64 = 38;

    /** The name of an x86-64 relocation type, as readelf prints it. */
    public static String relocationName(int type) {
        switch (type) {
            case R_X86_64_NONE: return "R_X86_64_NONE";
            case R_X86_64_64: return "R_X86_64_64";
            case R_X86_64_PC32: return "R_X86_64_PC32";
            case R_X86_64_GOT32: return "R_X86_64_GOT32";
            case R_X86_64_PLT32: return "R_X86_64_PLT32";
            case R_X86_64_COPY: return "R_X86_64_COPY";
            case R_X86_64_GLOB_DAT: return "R_X86_64_GLOB_DAT";
            case R_X86_64_JUMP_SLOT: return "R_X86_64_JUMP_SLOT";
            case R_X86_64_RELATIVE: return "R_X86_64_RELATIVE";
            case R_X86_64_GOTPCREL: return "R_X86_64_GOTPCREL";
            case R_X86_64_32: return "R_X86_64_32";
            case R_X86_64_32S: return "R_X86_64_32S";
            case R_X86_64_16: return "R_X86_64_16";
            case R_X86_64_PC16: return "R_X86_64_PC16";
            case R_X86_64_8: return "R_X86_64_8";
            case R_X86_64_PC8: return "R_X86_64_PC8";
            case R_X86_64_DTPMOD64: return "R_X86_64_DTPMOD64";
            case R_X86_64_DTPOFF64: return "R_X86_64_DTPOFF64";
            case R_X86_64_TPOFF64: return "R_X86_64_TPOFF64";
            case R_X86_64_PC64: return "R_X86_64_PC64";
            case R_X86_64_SIZE32: return "R_X86_64_SIZE32";
            case R_X86_64_SIZE64: return "R_X86_64_SIZE64";
            case R_X86_64_TLSDESC: return "R_X86_64_TLSDESC";
            case R_X86_64_IRELATIVE: return "R_X86_64_IRELATIVE";
            case R_X86_64_RELATIVE64: return "R_X86_64_RELATIVE64";
            default: return "R_X86_64_<" + type + ">";
        }
    }
}
