package org.jdryad.link;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jdryad.elf.DynamicSection;
import org.jdryad.elf.Symbol;
import org.jdryad.elf.SymbolTable;
import org.jdryad.link.SymbolLookup.Request;
import org.jdryad.link.SymbolLookup.TypeClass;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Symbol lookup over libLLVM-14's dynamic symbol table (tens of thousands of symbols, GNU hash):
 * every defined global name looked up once (hits), the same names with a suffix (misses, mostly
 * rejected by the Bloom filter), and libLLVM's own undefined references looked up in
 * llvm-as-14's whole global scope, as binding it now does. Each invocation makes {@value #N}
 * lookups of names spread evenly over the table (cycled where there are fewer); scores are per
 * lookup.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class SymbolLookupBench {
    static final Path LLVM = Path.of("/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1");
    static final int N = 4096;
    static final Path LLVM_AS = Path.of("/usr/bin/llvm-as-14");

    LoadedObject llvm;
    List<LoadedObject> llvmOnly;
    List<LoadedObject> llvmAsScope;
    LoadedObject llvmInScope;
    String[] defined;
    String[] missing;
    String[] undefined;
    SymbolLookup lookup;

    @Setup
    public void setup() {
        if (!Files.isRegularFile(LLVM) || !Files.isExecutable(LLVM_AS)) {
            throw new IllegalStateException("needs llvm-14 (" + LLVM + ", " + LLVM_AS + ")");
        }
        llvm = LinkTestSupport.object(LLVM, 0);
        llvm.setBase(0x7e00_0000_0000L);
        llvmOnly = List.of(llvm);
        List<String> def = new ArrayList<>();
        SymbolTable syms = llvm.elf().requireDynamic().symbols();
        for (int i = 1; i < syms.count(); i++) {
            Symbol s = syms.get(i);
            if (!s.isUndefined() && s.bind() != 0) { // STB_LOCAL is 0
                def.add(s.name());
            }
        }
        System.err.printf("libLLVM: %d defined globals%n", def.size());
        defined = spread(def);
        missing = java.util.Arrays.stream(defined).map(n -> n + "_absent").toArray(String[]::new);
        llvmAsScope = LinkTestSupport.graph(LLVM_AS);
        llvmInScope = llvmAsScope.stream().filter(o -> o.path().getFileName().toString().startsWith("libLLVM"))
                .findFirst().orElseThrow();
        long base = 0x7e00_0000_0000L;
        for (LoadedObject o : llvmAsScope) {
            o.setBase(base += 0x1_0000_0000L);
        }
        DynamicSection d = llvmInScope.elf().requireDynamic();
        List<String> und = new ArrayList<>();
        for (int i = 1; i < d.symbols().count(); i++) {
            Symbol s = d.symbols().get(i);
            if (s.isUndefined() && !s.name().isEmpty()) {
                und.add(s.name());
            }
        }
        undefined = spread(und);
        lookup = new SymbolLookup();
        System.err.printf("libLLVM: %d undefined references; llvm-as-14's scope: %d objects%n", und.size(),
                llvmAsScope.size());
    }

    /** N names taken at an even stride over {@code all} (cycled when there are fewer than N). */
    static String[] spread(List<String> all) {
        String[] out = new String[N];
        for (int i = 0; i < N; i++) {
            out[i] = all.get(all.size() >= N ? (int) ((long) i * all.size() / N) : i % all.size());
        }
        return out;
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public void hitInLibLlvm(Blackhole bh) {
        for (String n : defined) {
            bh.consume(lookup.lookup(Request.of(n, null, null, TypeClass.NORMAL), llvmOnly));
        }
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public void missInLibLlvm(Blackhole bh) {
        for (String n : missing) {
            bh.consume(lookup.lookup(Request.of(n, null, null, TypeClass.NORMAL), llvmOnly));
        }
    }

    @Benchmark
    @OperationsPerInvocation(N)
    public void libLlvmReferencesInLlvmAsScope(Blackhole bh) {
        for (String n : undefined) {
            bh.consume(lookup.lookup(Request.of(n, null, llvmInScope, TypeClass.NORMAL), llvmAsScope));
        }
    }
}
