#!/usr/bin/env bash
# Start-up benchmark: each program run N times natively and N times under `jdryad run`, in the
# same run and interleaved (machines are noisy), reporting median wall-clock times and the ratio
# jdryad/native. Usage: tests/bench/startup.sh [N]   (default 5)
set -euo pipefail
n=${1:-5}
root=$(cd "$(dirname "$0")/../.." && pwd)
jdryad="$root/jdryad"
"$jdryad" --help >/dev/null   # build once, outside the measurements

programs=(
  "/usr/bin/true"
  "/usr/bin/ls -l /usr/share/common-licenses"
  "/usr/bin/python3.11 -c pass"
  "/usr/bin/perl -e 1"
  "/usr/bin/git --version"
  "/usr/bin/llvm-as-14 --version"
  "/usr/bin/cmake --version"
  "/usr/bin/node -e 0"
)

now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf '%-40s %12s %12s %8s\n' program "native ms" "jdryad ms" ratio
for p in "${programs[@]}"; do
  read -r -a cmd <<<"$p"
  [ -x "${cmd[0]}" ] || continue
  nat=(); jd=()
  for ((i = 0; i < n; i++)); do
    t0=$(now); "${cmd[@]}" >/dev/null 2>&1 </dev/null || true; t1=$(now)
    "$jdryad" run "${cmd[@]}" >/dev/null 2>&1 </dev/null || true; t2=$(now)
    nat+=($(( (t1 - t0) / 1000 ))); jd+=($(( (t2 - t1) / 1000 )))
  done
  mn=$(printf '%s\n' "${nat[@]}" | median); mj=$(printf '%s\n' "${jd[@]}" | median)
  awk -v p="$p" -v a="$mn" -v b="$mj" 'BEGIN { printf "%-40s %12.1f %12.1f %8.1f\n", substr(p, 1, 40), a/1000, b/1000, (a > 0 ? b/a : 0) }'
done
