/*
 * A build step (pom.xml, after the shade plugin): rewrites the class files of one package in
 * jdryad's jar from an old class-file version to Java 8's, with the stack-map frames that
 * version requires, computed by ASM. Run as a source file: java UpgradeClassFiles.java JAR PREFIX.
 *
 * Why: picocli's class files are Java 5's (version 49). JDK 25's AOT cache leaves out every such
 * class (it cannot link them ahead of time), so a cold `jdryad run` loaded and verified 170 of
 * them from the jar, with the old inferring verifier, each time: about 60 ms of a 0.4 s start.
 * Rewritten, they are in the cache like every other class. Nothing else changes: the bytecode
 * is the same instructions, the frames are only what the newer verifier checks.
 *
 * Why the result is safe to ship: a frame ASM got wrong would be a VerifyError at some later
 * first use. So every rewritten class is then loaded and initialised from the new jar in a
 * fresh class loader here, which verifies it now; any failure fails the build, and the jar is
 * replaced only when all of them passed.
 */

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.ClassWriter;
import org.objectweb.asm.Opcodes;

public final class UpgradeClassFiles {
    private UpgradeClassFiles() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            throw new IllegalArgumentException("usage: UpgradeClassFiles JAR PACKAGE-PREFIX (as picocli/)");
        }
        Path jar = Path.of(args[0]);
        String prefix = args[1];
        Path out = jar.resolveSibling(jar.getFileName() + ".upgraded");
        List<String> upgraded = new ArrayList<>();
        try (URLClassLoader types = new URLClassLoader(new URL[] {jar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader());
             ZipFile in = new ZipFile(jar.toFile());
             ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(out))) {
            for (Enumeration<? extends ZipEntry> e = in.entries(); e.hasMoreElements(); ) {
                ZipEntry entry = e.nextElement();
                byte[] bytes;
                try (InputStream s = in.getInputStream(entry)) {
                    bytes = s.readAllBytes();
                }
                String name = entry.getName();
                if (name.startsWith(prefix) && name.endsWith(".class") && classVersion(bytes, name) < Opcodes.V1_8) {
                    bytes = upgrade(bytes, types);
                    upgraded.add(name.substring(0, name.length() - ".class".length()).replace('/', '.'));
                }
                ZipEntry copy = new ZipEntry(name);
                copy.setTime(entry.getTime());
                zip.putNextEntry(copy);
                zip.write(bytes);
                zip.closeEntry();
            }
        }
        verify(out, upgraded);
        Files.move(out, jar, StandardCopyOption.REPLACE_EXISTING);
        System.out.println("UpgradeClassFiles: " + upgraded.size() + " class files under " + prefix
                + " now version 52 with stack-map frames, all verified");
    }

    /** The class file's major version, checked against its length. */
    private static int classVersion(byte[] b, String name) {
        if (b.length < 8 || (b[0] & 0xff) != 0xca || (b[1] & 0xff) != 0xfe || (b[2] & 0xff) != 0xba
                || (b[3] & 0xff) != 0xbe) {
            throw new IllegalArgumentException(name + ": not a class file");
        }
        return ((b[6] & 0xff) << 8) | (b[7] & 0xff);
    }

    /** The same class at version 52, frames computed (common superclasses looked up in {@code types}). */
    private static byte[] upgrade(byte[] bytes, ClassLoader types) {
        ClassReader reader = new ClassReader(bytes);
        ClassWriter writer = new ClassWriter(ClassWriter.COMPUTE_FRAMES) {
            @Override
            protected ClassLoader getClassLoader() {
                return types;
            }
        };
        reader.accept(new ClassVisitor(Opcodes.ASM9, writer) {
            @Override
            public void visit(int version, int access, String name, String signature, String superName,
                              String[] interfaces) {
                super.visit(Opcodes.V1_8, access, name, signature, superName, interfaces);
            }
        }, ClassReader.SKIP_FRAMES);
        return writer.toByteArray();
    }

    /** Loads and initialises every upgraded class from {@code jar} (so the JVM verifies it); throws on the first failure. */
    private static void verify(Path jar, List<String> classes) throws IOException {
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            for (String c : classes) {
                try {
                    Class.forName(c, true, loader);
                } catch (ClassNotFoundException | LinkageError e) {
                    Files.deleteIfExists(jar);
                    throw new IllegalStateException("UpgradeClassFiles: " + c + " does not verify after the rewrite: " + e, e);
                }
            }
        }
    }
}
