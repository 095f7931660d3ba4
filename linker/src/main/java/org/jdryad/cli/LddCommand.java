package org.jdryad.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jdryad ldd}: placeholder until the search package lands. */
@Command(name = "ldd", description = "Print the shared objects a program needs, as ldd does.")
final class LddCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        return 0;
    }
}
