#!/usr/bin/env bash
# JMH microbenchmarks of the Java core (tests/bench/jmh/src): symbol lookup over libLLVM-14's
# dynamic symbol table, relocation planning of a system library over the in-memory FakeMemory.
# Usage: tests/bench/jmh.sh [JMH-OPTION...]   e.g. tests/bench/jmh.sh SymbolLookup -f 1 -wi 2 -i 3
# (default: every benchmark with the annotations' settings; `-h` lists JMH's options). Builds with
# Maven's `bench` profile in its own build directory (target/bench-jmh), so neither `mvn verify`
# nor ./jdryad's build is touched; the first run downloads JMH 1.37 unless it is in ~/.m2.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
args="${*:-org.jdryad}"
mvn_build() { mvn -q -B "$@" -Pbench -Djdryad.build.dir="$root/target/bench-jmh" -f "$root/pom.xml" \
    test-compile exec:exec@jmh -Djmh.args="$args"; }
if [ -f "$HOME/.m2/repository/org/openjdk/jmh/jmh-core/1.37/jmh-core-1.37.jar" ]; then mvn_build -o; else mvn_build; fi
