#!/usr/bin/env bash
# The long fuzzing campaign: runs each Jazzer @FuzzTest target for DURATION (default 1h) with
# every shared object of /usr/lib/x86_64-linux-gnu as a seed, a random libFuzzer seed, a 10 s
# hang limit and keep-going (every distinct finding is kept, not only the first). Corpus, findings
# (crash-*, timeout-*) and logs stay outside the repository, in $JDRYAD_FUZZ_DIR (default
# ~/.cache/jdryad/fuzz/<target>/), and the corpus grows from one campaign to the next.
#
#   tests/fuzz/campaign.sh [DURATION] [TARGET...]
#   tests/fuzz/campaign.sh 4h                        # every target for 4 hours each
#   tests/fuzz/campaign.sh 10m LinkFuzzTest          # one target
#
# DURATION is Jazzer's (e.g. 90s, 30m, 2h). Targets: ElfFuzzTest ElfStructuredFuzzTest
# LdSoCacheFuzzTest LibrarySearchFuzzTest LinkFuzzTest. A finding is reproduced by copying its
# crash file into linker/src/test/resources/org/jdryad/<pkg>/<Target>Inputs/<method>/ and running
# the target in regression mode (mvn test -Dtest=<Target> -Djdryad.fuzz.skip=false); commit it as
# a regression test built in Java, not as a binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${1:-1h}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(ElfFuzzTest ElfStructuredFuzzTest LdSoCacheFuzzTest LibrarySearchFuzzTest LinkFuzzTest)
fi
out="${JDRYAD_FUZZ_DIR:-$HOME/.cache/jdryad/fuzz}"
mkdir -p "$out"
mvn_() { mvn -B -q -o "$@" || mvn -B -q "$@"; }
mvn_ test-compile

printf '%-24s %12s %10s %9s %s\n' target executions seconds findings distinct >"$out/summary.new"
for t in "${targets[@]}"; do
    dir="$out/$t"
    mkdir -p "$dir"
    log="$dir/log-$(date +%Y%m%d-%H%M%S).txt"
    echo "campaign: $t for $duration (log: $log)" >&2
    set +e
    mvn -B -q -o surefire:test@fuzz -Dtest="$t" -Dsurefire.failIfNoSpecifiedTests=false \
        -Djdryad.fuzz.duration="$duration" -Djdryad.fuzz.runs=0 -Djdryad.fuzz.dir="$dir" \
        -Djdryad.fuzz.seed=0 -Djdryad.fuzz.timeout=10 -Djdryad.fuzz.keepGoing=100000 \
        -Djdryad.fuzz.fresh=false -Djdryad.fuzz.seeds=all -Djdryad.fuzz.heap=4g \
        -Djdryad.fuzz.forkTimeout=0 >"$log" 2>&1
    status=$?
    set -e
    done_line=$(grep -aEo '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 || true)
    runs=$(echo "$done_line" | awk '{print $2}')
    secs=$(echo "$done_line" | awk '{print $5}')
    findings=$(grep -ac '^== Java Exception\|^==[0-9]*== ERROR: libFuzzer: timeout' "$log" || true)
    distinct=$( (grep -aEo 'DEDUP_TOKEN: [0-9a-f]+' "$log" || true) | sort -u | wc -l)
    printf '%-24s %12s %10s %9s %s\n' "$t" "${runs:-?}" "${secs:-?}" "$findings" "$distinct" >>"$out/summary.new"
    [ "$status" = 0 ] || echo "campaign: $t ended with status $status (a timeout or crash ends the JVM): see $log" >&2
done
mv "$out/summary.new" "$out/summary.txt"
cat "$out/summary.txt"
echo "findings: ls $out/*/crash-* $out/*/timeout-* (none is good)" >&2
