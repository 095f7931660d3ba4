#!/usr/bin/env bash
# Lazy binding benchmark: a program makes the first calls of N distinct library functions
# (default 5000), then calls them all 100 more times through the bound slots. It runs R times
# natively and R times under `jdryad run`, interleaved; the table gives the medians of the
# program's own measurements (ns per first call, ns per bound call) and jdryad/native ratios.
# Usage: tests/bench/lazy.sh [R] [N]   (defaults 5, 5000). Sources are generated in a temp dir.
set -euo pipefail
r=${1:-5}
n=${2:-5000}
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$jdryad" --help >/dev/null   # build once, outside the measurements
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
build_lazy "$work" "$n"

nf=(); nb=(); jf=(); jb=()
for ((i = 0; i < r; i++)); do
  read -r _ a _ _ b _ < <("$work/first_calls")
  nf+=("$a"); nb+=("$b")
  read -r _ a _ _ b _ < <("$jdryad" run "$work/first_calls")
  jf+=("$a"); jb+=("$b")
done
mnf=$(printf '%s\n' "${nf[@]}" | median); mjf=$(printf '%s\n' "${jf[@]}" | median)
mnb=$(printf '%s\n' "${nb[@]}" | median); mjb=$(printf '%s\n' "${jb[@]}" | median)
printf '%-34s %12s %12s %8s\n' "$n functions, $r runs (medians)" "glibc" "jdryad" ratio
awk -v a="$mnf" -v b="$mjf" 'BEGIN { printf "%-34s %12.1f %12.1f %8.1f\n", "first call (ns/call)", a, b, b/a }'
awk -v a="$mnb" -v b="$mjb" 'BEGIN { printf "%-34s %12.2f %12.2f %8.2f\n", "bound call (ns/call)", a, b, b/a }'
