# Shared by the benchmark scripts (sourced): the repository root, the launcher, the native helpers
# compiled into a scratch directory, medians.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
jdryad="$root/jdryad"
# Cold mode (a JVM per run) unless a row asks for the warm server (JDRYAD_SERVER=on).
export JDRYAD_SERVER=off
bench="$root/tests/bench"

# Median of the numbers on stdin (one a line; the lower middle of an even count); "-" when none.
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "-"; else print a[int((NR+1)/2)]}'; }

# benchtool (time, peak RSS, ptrace time line, TSC frequency) into $1.
build_benchtool() {
  gcc -O2 -Wall -o "$1/benchtool" "$bench/benchtool.c"
}

# The lazy-binding program of lazy/first_calls.c over N generated functions, into directory $1:
# $1/first_calls [DELAY_MS] and its $1/libcalls.so (lazily bound, -z lazy).
build_lazy() {
  local work=$1 n=$2 i
  {
    echo "#define NFUNCS $n"
    for ((i = 0; i < n; i++)); do echo "long f$i(long);"; done
    printf '#define CALL_ALL(s) do {'
    for ((i = 0; i < n; i++)); do printf ' s += f%d(s);' "$i"; done
    echo ' } while (0)'
  } >"$work/calls.h"
  for ((i = 0; i < n; i++)); do echo "long f$i(long x) { return x ^ $i; }"; done >"$work/lib.c"
  gcc -O1 -shared -fPIC -Wl,-z,lazy -o "$work/libcalls.so" "$work/lib.c"
  gcc -O1 -I"$work" -Wl,-z,lazy -o "$work/first_calls" "$bench/lazy/first_calls.c" \
      "$work/libcalls.so" -Wl,-rpath,"$work"
}
