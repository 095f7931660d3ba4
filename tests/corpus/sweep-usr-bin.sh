#!/usr/bin/env bash
# A wide differential sweep: `PROG --version` natively and under `jdryad run` for every
# dynamically linked ELF in /usr/bin (programs that would act rather than answer are left out),
# comparing output and exit status. Prints SAME/DIFF/SKIP per program and a summary line.
# Output that names a pid or a time differs between any two runs: read a DIFF before trusting it.
# Usage: tests/corpus/sweep-usr-bin.sh [DIR]   (default /usr/bin; takes ~15 minutes for ~750 programs)
set -u
dir=${1:-/usr/bin}
root=$(cd "$(dirname "$0")/../.." && pwd)
jdryad="$root/jdryad"
export JDRYAD_SERVER=off # cold mode, as the tests run
"$jdryad" --help >/dev/null || exit 1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
deny='^(reboot|shutdown|halt|poweroff|init|telinit|kill|killall|pkill|runlevel|systemctl|login|su|sudo|passwd|chsh|chfn|newgrp|sg|wall|write|mesg|agetty|sulogin|nologin|xargs|yes|top|watch|less|more|vi|vim|vim.basic|view|ex|nano|script|scriptlive|scriptreplay|screen|tmux|ssh-agent|gpg-agent|dirmngr|gpgconf|flock|timeout|nohup|setsid|unshare|nsenter|chroot|chrt|taskset|ionice|nice|stdbuf|env|strace|ltrace|gdb|gdbserver|valgrind.*|perf.*|docker.*|containerd.*|runc|ctr|dockerd)$'
same=0; diff=0; skip=0
for f in "$dir"/*; do
  b=$(basename "$f")
  [[ "$b" =~ $deny ]] && continue
  [ -f "$f" ] && [ -x "$f" ] || continue
  head -c 4 "$f" | grep -q ELF || continue
  readelf -lW "$f" 2>/dev/null | grep -q INTERP || continue
  (cd "$work" && timeout 5 "$f" --version </dev/null >"$work/n" 2>&1); n=$?
  if [ $n = 124 ]; then echo "SKIP $b (native run timed out)"; skip=$((skip + 1)); continue; fi
  (cd "$work" && timeout 30 "$jdryad" run "$f" --version </dev/null >"$work/j" 2>&1); j=$?
  if [ $n = $j ] && cmp -s "$work/n" "$work/j"; then same=$((same + 1)); echo "SAME $b"
  else diff=$((diff + 1)); echo "DIFF $b (status native $n, jdryad $j)"; fi
done
echo "$same same, $diff differ, $skip skipped"
