package org.jdryad.elf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A file's identity on this machine: device and inode, as glibc compares loaded objects. */
public record FileIdentity(long device, long inode) {

    /** Reads the identity of an existing file (following symbolic links). */
    public static FileIdentity of(Path path) throws IOException {
        Object dev = Files.getAttribute(path, "unix:dev");
        Object ino = Files.getAttribute(path, "unix:ino");
        return new FileIdentity(((Number) dev).longValue(), ((Number) ino).longValue());
    }
}
