#!/usr/bin/env bash
# N concurrent `jdryad run`s (default 100), each with its own argument and environment, of a
# program that prints both and calls into a library: every run must print its own line and exit
# with its own status (no failure, no cross-talk). Prints a summary; exits 1 if any run was wrong.
# Cold by default (one JVM each); --warm: all against one warm server, started first.
#   tests/load/concurrent-runs.sh [--warm] [N]
set -u
mode=cold
if [ "${1-}" = --warm ]; then mode=warm; shift; fi
n=${1:-100}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/jdryad-load.XXXXXXXX")
trap 'rm -rf "$work"' EXIT
gcc -shared -fPIC -o "$work/libneeded.so" -Wl,-soname,libneeded.so "$root/tests/fixtures/missing/needed.c" || exit 2
gcc -o "$work/tagged-main" "$root/tests/fixtures/robust/tagged_main.c" "$work/libneeded.so" \
    -Wl,--enable-new-dtags,-rpath,'$ORIGIN' || exit 2
"$root/jdryad" --help >/dev/null || exit 2 # build once, before the runs race
if [ "$mode" = warm ]; then
    export JDRYAD_SERVER=on
    "$root/jdryad" server start >/dev/null || exit 2
    server_before=$("$root/jdryad" server status)
    server_pid=$(sed -n 's/.*running, pid \([0-9]*\).*/\1/p' <<<"$server_before")
    # What a leak would grow: the server's descriptors, threads and resident memory.
    usage() { printf 'fds %s, threads %s, %s' "$(ls /proc/"$server_pid"/fd | wc -l)" \
        "$(awk '/^Threads:/ {print $2}' /proc/"$server_pid"/status)" "$(grep VmRSS /proc/"$server_pid"/status | tr -s ' \t' ' ')"; }
    usage_before=$(usage)
else
    export JDRYAD_SERVER=off
fi
start=$(date +%s.%N)
for i in $(seq 1 "$n"); do
    ( RUN_TAG="t$i" "$root/jdryad" run "$work/tagged-main" "$i" >"$work/out.$i" 2>"$work/err.$i"
      echo $? >"$work/status.$i" ) &
done
wait
end=$(date +%s.%N)
bad=0
for i in $(seq 1 "$n"); do
    want="arg $i tag t$i needed_fn 42"
    if [ "$(cat "$work/out.$i")" != "$want" ] || [ -s "$work/err.$i" ] || [ "$(cat "$work/status.$i")" != $((i % 100)) ]; then
        bad=$((bad + 1))
        echo "run $i: status $(cat "$work/status.$i"), stdout [$(cat "$work/out.$i")], stderr [$(head -c 300 "$work/err.$i")]"
    fi
done
printf '%d concurrent %s runs in %.1f s: %d wrong\n' "$n" "$mode" "$(echo "$end - $start" | bc)" "$bad"
if [ "$mode" = warm ]; then
    sleep 2 # the runs' threads and sockets wind down
    echo "server before: $usage_before; $server_before"
    echo "server after:  $(usage); $("$root/jdryad" server status)"
fi
[ "$bad" -eq 0 ]
