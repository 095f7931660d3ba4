package org.jdryad.run;

import java.nio.charset.StandardCharsets;
import java.util.Optional;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.ElfFile;
import org.jdryad.elf.SymbolVersions;
import org.jdryad.link.LoadedObject;

/**
 * The symbol each PLT relocation of an object names, and the version its reference asks for:
 * what the agent's binding hook (native/jdryad_binding.h) tells a debugger about a first call.
 * Both lazy paths take them from here, the fast path through {@link #image} (strings written
 * into the agent once per object), the slow path in its callback reply.
 */
final class PltNames {
    private PltNames() {
    }

    /**
     * {name, version or null} of PLT relocation {@code index}; {null, null} when it names no
     * symbol, or its entry is malformed (then the binding itself says so, in glibc's words).
     */
    static String[] of(LoadedObject obj, long index) {
        return of(obj.elf(), index);
    }

    private static String[] of(ElfFile elf, long index) {
        try {
            return lookUp(elf, index);
        } catch (RuntimeException e) {
            return new String[2];
        }
    }

    private static String[] lookUp(ElfFile elf, long index) {
        Optional<DynamicSection> dyn = elf.dynamic();
        if (dyn.isEmpty() || index < 0 || index >= dyn.get().pltRela().count()) {
            return new String[2];
        }
        DynamicSection d = dyn.get();
        int sym = d.pltRela().symbolIndex(index);
        if (sym == 0) {
            return new String[2];
        }
        String version = d.versions().versionOf(sym).map(SymbolVersions.Version::name).orElse(null);
        return new String[] {d.symbols().get(sym).name(), version};
    }

    /**
     * Every PLT relocation's name and version as NUL-terminated strings, laid out for the agent:
     * {@link Image#bytes} to write at some address, and each relocation's two string offsets.
     * Identical strings are written once. Kept with the parsed file ({@link ElfFile#derived}):
     * it depends on the file's bytes alone, and building it (a name and a version per PLT slot,
     * thousands in libLLVM) at every run is work in proportion to the slots. Neither array is
     * written to after it is built.
     */
    static Image image(LoadedObject obj) {
        return obj.elf().derived(IMAGE);
    }

    private static final ElfFile.DerivedKey<Image> IMAGE = new ElfFile.DerivedKey<>("PLT names", PltNames::build);

    private static Image build(ElfFile elf) {
        long count = elf.dynamic().map(d -> d.pltRela().count()).orElse(0L);
        int n = (int) Math.min(count, Integer.MAX_VALUE / 16);
        java.util.Map<String, Integer> offsets = new java.util.HashMap<>();
        java.io.ByteArrayOutputStream strings = new java.io.ByteArrayOutputStream();
        int[] at = new int[2 * n];
        for (int i = 0; i < n; i++) {
            String[] nv = of(elf, i);
            for (int k = 0; k < 2; k++) {
                at[2 * i + k] = nv[k] == null ? -1 : offsets.computeIfAbsent(nv[k], s -> {
                    int o = strings.size();
                    strings.writeBytes(s.getBytes(StandardCharsets.UTF_8));
                    strings.write(0);
                    return o;
                });
            }
        }
        return new Image(strings.toByteArray(), at);
    }

    /** The strings' bytes, and per relocation the offsets of its name and version in them (-1: none). */
    record Image(byte[] bytes, int[] offsets) {
        /** The agent address of relocation {@code i}'s name ({@code k} = 0) or version (1), written at {@code base}. */
        long address(long base, int i, int k) {
            int o = 2 * i + k < offsets.length ? offsets[2 * i + k] : -1;
            return o < 0 ? 0 : base + o;
        }
    }
}
