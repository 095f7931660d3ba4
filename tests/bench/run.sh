#!/usr/bin/env bash
# jdryad's benchmark harness: ONE table, each row jdryad against glibc measured in the same run,
# interleaved round by round (the order alternates), as medians and ratios (jdryad / glibc).
#
#   tests/bench/run.sh [ROUNDS]              the table (default 5 rounds; about 20 s a round idle)
#   tests/bench/run.sh --breakdown [ROUNDS]  where a cold `jdryad run /usr/bin/true` spends its time
#                                            (tests/bench/breakdown.sh)
#
# Needs gcc (tests/setup.sh) and builds jdryad through ./jdryad on first use; programs that are
# missing (python3.11, llvm-as-14, node, git) are skipped with a note. Nothing here runs in
# `mvn verify`. JMH microbenchmarks of the Java core: tests/bench/jmh.sh.
set -euo pipefail
if [ "${1:-}" = --breakdown ]; then
  shift
  exec bash "$(dirname "$0")/breakdown.sh" "$@"
fi
rounds=${1:-5}
case "$rounds" in '' | *[!0-9]* | 0) echo "usage: tests/bench/run.sh [ROUNDS] | --breakdown [ROUNDS]" >&2; exit 2;; esac
source "$(dirname "$0")/common.sh"
nfuncs=${JDRYAD_BENCH_FUNCS:-5000}
prepare_ms=${JDRYAD_BENCH_PREPARE_MS:-1500}   # how long first_calls waits before its calls

work=$(mktemp -d "${TMPDIR:-/tmp}/jdryad-bench.XXXXXX")
# The warm rows use a server of their own (a private XDG_RUNTIME_DIR), stopped at the end.
warm_env="JDRYAD_SERVER=on XDG_RUNTIME_DIR=$work/run"
mkdir -m 700 "$work/run"
trap 'env $warm_env "$jdryad" server stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
echo "building jdryad (./jdryad), benchtool and the lazy-binding program ..." >&2
"$jdryad" --help >/dev/null
build_benchtool "$work"
build_lazy "$work" "$nfuncs"
bt="$work/benchtool"
samples="$work/samples"
mkdir -p "$samples"
notes=()
note() { notes+=("$*"); }
add() { echo "$2" >>"$samples/$1"; }   # add KEY VALUE
med() { [ -s "$samples/$1" ] && median <"$samples/$1" || echo -; }

# ---- programs of the wall-time and RSS rows ------------------------------------------------------
py=""
for p in /usr/bin/python3.11 /usr/bin/python3; do [ -x "$p" ] && { py=$p; break; }; done
prog_names=(true ls python llvm node)
declare -A cmd jcmd env_native label
cmd[true]="/usr/bin/true";                 label[true]="/usr/bin/true"
cmd[ls]="/usr/bin/ls -l /usr";             label[ls]="ls -l /usr"
cmd[python]="$py -c pass";                 label[python]="${py##*/} -c pass"
cmd[llvm]="/usr/bin/llvm-as-14 --version"; label[llvm]="llvm-as-14 --version, bound now"
cmd[node]="/usr/bin/node -e 0";            label[node]="node -e 0"
for k in "${prog_names[@]}"; do jcmd[$k]="$jdryad run ${cmd[$k]}"; env_native[$k]=""; done
jcmd[llvm]="$jdryad run --bind-now ${cmd[llvm]}"; env_native[llvm]="LD_BIND_NOW=1"
# The static front (the launcher as a static program, for a PATH entry): a warm run is the
# client's session in its own process, with no bash and no second program.
front="${JDRYAD_BUILD_DIR:-$root/target}/native-out/jdryad"
declare -A fcmd
for k in "${prog_names[@]}"; do fcmd[$k]="$front${jcmd[$k]#"$jdryad"}"; done
declare -A have
for k in "${prog_names[@]}"; do
  read -r -a c <<<"${cmd[$k]}"
  if [ -n "${c[0]:-}" ] && [ -x "${c[0]}" ]; then
    if $bt time ${jcmd[$k]} | awk '{exit !($2 == 0)}'; then have[$k]=1
    else note "${label[$k]}: skipped, it fails under jdryad run"; fi
  else
    note "${label[$k]}: skipped, ${c[0]:-python3.11/python3} is not installed"
  fi
done

# one timed run: wall_ms KEY ENV CMD... (the ENV assignment applies to the measured program only)
timed() {
  local key=$1 envs=$2; shift 2
  local out
  out=$(env $envs "$bt" time "$@") || return 0
  read -r ns st <<<"$out"
  if [ "$st" = 0 ]; then add "$key" "$(awk -v n="$ns" 'BEGIN{printf "%.3f", n/1e6}')"; else add "$key.fail" 1; fi
}

# peak RSS (KiB) of the program process: the agent process under jdryad, the program natively
hwm_native() { env $2 "$bt" hwm $3 | awk -v p="$4" 'NR==1 || $3==p {v=$2} END {print v}'; }
hwm_jdryad() { "$bt" hwm $2 | awk '$3 ~ /jdryad-agent/ {v=$2} END {print v}'; }

# ---- llvm-as-14's link phase: jdryad --stats against glibc's exec to its first initialiser --------
# glibc's by the wall clock: benchtool stamps the first "calling init:" line of LD_DEBUG=files
# (glibc runs no initialiser before all is loaded and relocated). Its own LD_DEBUG=statistics
# figure is shown too: on this kind of machine it undercounts (4 ms where the wall clock says
# 40): README, Benchmarks.
tsc_mhz=$("$bt" tsc)
dmesg_mhz=$( (dmesg 2>/dev/null || true) | sed -n 's/.*tsc: \(Refined TSC clocksource calibration: \|Detected \)\([0-9.]*\) MHz.*/\2/p' | tail -1)
stamp_ms() {   # stamp_ms KEY CMD...: fork to the first "calling init:" line, in ms
  local key=$1; shift
  local ns st m
  read -r ns st m < <("$bt" stamp "calling init:" "$@") || return 0
  if [ "$st" = 0 ] && [ "$m" -ge 0 ]; then add "$key" "$(awk -v n="$m" 'BEGIN{printf "%.3f", n/1e6}')"; else add "$key.fail" 1; fi
}
link_rounds() {
  local stats
  stats=$(LD_DEBUG=statistics LD_BIND_NOW=1 /usr/bin/llvm-as-14 --version 2>&1 >/dev/null || true)
  awk -v mhz="$tsc_mhz" -v dir="$samples" '
    /total startup time in dynamic loader:/ {print $(NF-1)/mhz/1000 >> (dir "/link.glibc.stats")}' <<<"$stats"
  stamp_ms link.glibc.init env LD_DEBUG=files LD_BIND_NOW=1 /usr/bin/llvm-as-14 --version
  local mode envs
  for mode in cold warm; do
    envs=""; [ $mode = warm ] && { [ -n "$warm_ok" ] || continue; envs=$warm_env; }
    stats=$(env $envs "$jdryad" run --stats --bind-now /usr/bin/llvm-as-14 --version 2>&1 >/dev/null || true)
    awk -v dir="$samples" -v m=$mode '
      /time: total/ {for (i = 1; i <= NF; i++) if ($i == "link") print $(i+1) >> (dir "/link.jdryad." m)}
      /^    relocate  / {print $(NF-1) >> (dir "/link.jdryad.reloc." m)}
      /^    map  /      {print $(NF-1) >> (dir "/link.jdryad.load." m)}' <<<"$stats"
    stamp_ms "link.jdryad.init.$mode" env $envs "$jdryad" run --debug=files --bind-now /usr/bin/llvm-as-14 --version
  done
}

# ---- the git workload: each top-level git process under jdryad, then everything under --follow ----
git_ok=""
if command -v git >/dev/null; then
  export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.org \
         GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.org HOME="$work/home"
  mkdir -p "$HOME" "$work/template"
  ( cd "$work/template" && git init -q -b main . && for i in $(seq 1 40); do seq 1 $((i * 10)) >"f$i.txt"; done \
    && git add -A && git commit -q -m one && echo needle >>f1.txt && git commit -q -am two \
    && echo more >>f2.txt && git commit -q -am three ) && git_ok=1
fi
git_cmds=(
  "status --short" "log --oneline" "diff --stat HEAD~2" "show --stat HEAD" "branch topic"
  "checkout -q topic" "add -A" "commit -q -m four" "checkout -q main" "merge -q --no-edit topic"
  "tag v1" "rev-list --count HEAD" "ls-files" "grep -q needle" "cat-file -p HEAD"
  "-c alias.lsf=!ls lsf" "-c alias.g=!git g rev-parse HEAD"   # git spawns ls, and git itself
)
git_sequence() {   # git_sequence KEY PREFIX...: total wall ms of the commands on a fresh copy
  local key=$1; shift
  rm -rf "$work/repo"; cp -a "$work/template" "$work/repo"
  local total=0 ns st c fails=0
  for c in "${git_cmds[@]}"; do
    [ "$c" = "add -A" ] && echo change >>"$work/repo/f3.txt"
    read -r ns st < <("$bt" time "$@" /usr/bin/git -C "$work/repo" $c)
    [ "$st" = 0 ] || fails=$((fails + 1))
    total=$((total + ns))
  done
  if [ $fails = 0 ]; then add "$key" "$(awk -v n=$total 'BEGIN{printf "%.3f", n/1e6}')"; else add "$key.fail" 1; fi
}

# ---- the warm server: started before the rounds, its own warm-up (server/WarmUp) waited for so
# that it does not share the CPU with the rounds, and each program run a few times under it
# first (the JIT compiles the server's hot paths, the ELF cache fills), as a user's server would be
warm_ok=""
if env $warm_env "$jdryad" server start --quiet --idle 900; then
  warm_ok=1
  for ((i = 0; i < 600; i++)); do
    s=$(env $warm_env "$jdryad" server status 2>/dev/null) || break
    [[ $s =~ warm-up\ ([0-9]+)\ of\ ([0-9]+)\ runs ]] || break
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && break
    sleep 0.2
  done
  for k in "${prog_names[@]}"; do
    [ -n "${have[$k]:-}" ] || continue
    for i in 1 2 3 4 5; do env $warm_env ${jcmd[$k]} >/dev/null 2>&1 || true; done
    for i in 1 2 3 4 5; do env $warm_env ${fcmd[$k]} >/dev/null 2>&1 || true; done
  done
else
  note "wall, warm: skipped, the warm server did not start"
fi

# ---- the rounds ----------------------------------------------------------------------------------
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t_begin=$(date +%s)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds ..." >&2
  for k in "${prog_names[@]}"; do
    [ -n "${have[$k]:-}" ] || continue
    if ((r % 2)); then
      timed "wall.$k.glibc" "${env_native[$k]}" ${cmd[$k]}; timed "wall.$k.jdryad" "" ${jcmd[$k]}
    else
      timed "wall.$k.jdryad" "" ${jcmd[$k]}; timed "wall.$k.glibc" "${env_native[$k]}" ${cmd[$k]}
    fi
    [ -n "$warm_ok" ] && timed "wall.$k.warm" "$warm_env" ${jcmd[$k]}
    [ -n "$warm_ok" ] && [ -x "$front" ] && timed "wall.$k.front" "$warm_env" ${fcmd[$k]}
  done
  [ -n "${have[llvm]:-}" ] && link_rounds
  for mode in start prepared; do
    arg=""; [ $mode = prepared ] && arg=$prepare_ms
    read -r _ a _ _ b _ < <("$work/first_calls" $arg) && { add "lazy.$mode.glibc" "$a"; add "plt.$mode.glibc" "$b"; }
    read -r _ a _ _ b _ < <("$jdryad" run "$work/first_calls" $arg) && { add "lazy.$mode.jdryad" "$a"; add "plt.$mode.jdryad" "$b"; }
    if [ -n "$warm_ok" ]; then
      read -r _ a _ _ b _ < <(env $warm_env "$jdryad" run "$work/first_calls" $arg) && add "lazy.$mode.warm" "$a"
    fi
  done
  if ((r <= 3)); then   # peak RSS hardly varies: three rounds are enough
    for k in "${prog_names[@]}"; do
      [ -n "${have[$k]:-}" ] || continue
      read -r -a c <<<"${cmd[$k]}"
      v=$(hwm_native "$k" "${env_native[$k]}" "${cmd[$k]}" "$(readlink -f "${c[0]}")"); [ -n "$v" ] && add "rss.$k.glibc" "$v"
      v=$(hwm_jdryad "$k" "${jcmd[$k]}"); [ -n "$v" ] && add "rss.$k.jdryad" "$v"
    done
  fi
  if [ -n "$git_ok" ]; then
    if ((r % 2)); then
      git_sequence git.glibc; git_sequence git.jdryad "$jdryad" run; git_sequence git.follow "$jdryad" run --follow
    else
      git_sequence git.follow "$jdryad" run --follow; git_sequence git.jdryad "$jdryad" run; git_sequence git.glibc
    fi
    if [ -n "$warm_ok" ]; then
      git_sequence git.warm env $warm_env "$jdryad" run; git_sequence git.follow.warm env $warm_env "$jdryad" run --follow
    fi
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- the table -----------------------------------------------------------------------------------
row() {   # row LABEL UNIT GLIBC JDRYAD [FORMAT]
  awk -v l="$1" -v u="$2" -v a="$3" -v b="$4" -v f="${5:-%.1f}" 'BEGIN {
    fa = (a == "-") ? "-" : sprintf(f, a); fb = (b == "-") ? "-" : sprintf(f, b)
    ratio = (a == "-" || b == "-" || a + 0 == 0) ? "-" : sprintf(b / a >= 10 ? "%.0fx" : "%.2fx", b / a)
    printf "%-52s %-8s %12s %12s %9s\n", l, u, fa, fb, ratio }'
}
failed() { [ -s "$samples/$1.fail" ] && note "$2: $(wc -l <"$samples/$1.fail") of $rounds runs failed and are left out"; return 0; }
echo
echo "jdryad benchmark: $rounds rounds, $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores," \
     "load average $load_before before, $load_after after, $(( $(date +%s) - t_begin )) s"
printf '%-52s %-8s %12s %12s %9s\n' "measure (medians; ratio = jdryad / glibc)" unit glibc jdryad ratio
for k in "${prog_names[@]}"; do
  [ -n "${have[$k]:-}" ] || continue
  row "wall, cold: ${label[$k]}" ms "$(med wall.$k.glibc)" "$(med wall.$k.jdryad)"
  failed "wall.$k.jdryad" "wall, ${label[$k]} under jdryad"
done
for k in "${prog_names[@]}"; do
  [ -n "${have[$k]:-}" ] && [ -n "$warm_ok" ] || continue
  row "wall, warm: ${label[$k]}" ms "$(med wall.$k.glibc)" "$(med wall.$k.warm)"
  failed "wall.$k.warm" "wall, warm, ${label[$k]} under jdryad"
done
for k in "${prog_names[@]}"; do
  [ -n "${have[$k]:-}" ] && [ -n "$warm_ok" ] && [ -x "$front" ] || continue
  row "wall, warm, front: ${label[$k]}" ms "$(med wall.$k.glibc)" "$(med wall.$k.front)"
  failed "wall.$k.front" "wall, warm, front, ${label[$k]} under jdryad"
done
if [ -n "${have[llvm]:-}" ]; then
  row "link phase, llvm-as-14 bound now, cold" ms "$(med link.glibc.init)" "$(med link.jdryad.cold)" "%.2f"
  row "  relocation, cold" ms - "$(med link.jdryad.reloc.cold)" "%.2f"
  row "  loading (mapping) objects, cold" ms - "$(med link.jdryad.load.cold)" "%.2f"
  if [ -n "$warm_ok" ]; then
    row "link phase, llvm-as-14 bound now, warm" ms "$(med link.glibc.init)" "$(med link.jdryad.warm)" "%.2f"
    row "  relocation, warm" ms - "$(med link.jdryad.reloc.warm)" "%.2f"
    row "  loading (mapping) objects, warm" ms - "$(med link.jdryad.load.warm)" "%.2f"
  fi
  row "  glibc's own LD_DEBUG=statistics total" ms "$(med link.glibc.stats)" - "%.2f"
  row "exec to first initialiser, llvm-as-14, cold" ms "$(med link.glibc.init)" "$(med link.jdryad.init.cold)" "%.2f"
  failed link.jdryad.init.cold "exec to first initialiser, cold"
  if [ -n "$warm_ok" ]; then
    row "exec to first initialiser, llvm-as-14, warm" ms "$(med link.glibc.init)" "$(med link.jdryad.init.warm)" "%.2f"
    failed link.jdryad.init.warm "exec to first initialiser, warm"
  fi
fi
row "lazy first call, $nfuncs functions, at start-up" ns/call "$(med lazy.start.glibc)" "$(med lazy.start.jdryad)"
row "lazy first call, $nfuncs functions, after ${prepare_ms} ms" ns/call "$(med lazy.prepared.glibc)" "$(med lazy.prepared.jdryad)"
if [ -n "$warm_ok" ]; then
  row "lazy first call, $nfuncs functions, at start-up, warm" ns/call "$(med lazy.start.glibc)" "$(med lazy.start.warm)"
  row "lazy first call, $nfuncs functions, after ${prepare_ms} ms, warm" ns/call "$(med lazy.prepared.glibc)" "$(med lazy.prepared.warm)"
fi
row "call through a bound PLT slot" ns/call "$(med plt.start.glibc)" "$(med plt.start.jdryad)" "%.2f"
for k in "${prog_names[@]}"; do
  [ -n "${have[$k]:-}" ] || continue
  a=$(med rss.$k.glibc); b=$(med rss.$k.jdryad)
  row "peak RSS: ${label[$k]}" MiB "$( [ "$a" = - ] && echo - || awk -v v="$a" 'BEGIN{print v/1024}')" \
      "$( [ "$b" = - ] && echo - || awk -v v="$b" 'BEGIN{print v/1024}')" "%.1f"
done
if [ -n "$git_ok" ]; then
  row "git workload: ${#git_cmds[@]} commands, each under jdryad" ms "$(med git.glibc)" "$(med git.jdryad)" "%.0f"
  failed git.jdryad "git workload under jdryad"
  row "git workload: the same, jdryad run --follow (cold)" ms "$(med git.glibc)" "$(med git.follow)" "%.0f"
  failed git.follow "git workload under jdryad --follow"
  if [ -n "$warm_ok" ]; then
    row "git workload: each under jdryad, warm" ms "$(med git.glibc)" "$(med git.warm)" "%.0f"
    failed git.warm "git workload under jdryad, warm"
    row "git workload: jdryad run --follow, warm" ms "$(med git.glibc)" "$(med git.follow.warm)" "%.0f"
    failed git.follow.warm "git workload under jdryad --follow, warm"
  fi
  note "git workload: 'each under jdryad' runs each top-level git under jdryad and what git spawns (ls and git for aliases) natively; '--follow' runs those under jdryad too, one cold JVM per top-level command (warm: the server, which also links every followed process; each top-level --follow waits 50 ms for a late exec once its last process has gone)"
else
  note "git workload: skipped, git is not installed"
fi
note "link phase: jdryad's --stats 'link' (map, relocate, re-bind host objects; its library search is in 'start agent') against glibc's exec to its first initialiser by the wall clock (benchtool stamp: the first 'calling init:' line of LD_DEBUG=files; glibc runs no initialiser before all is loaded and relocated). glibc's own LD_DEBUG=statistics 'total startup time in dynamic loader' (TSC cycles at ${tsc_mhz} MHz, calibrated here${dmesg_mhz:+; dmesg says $dmesg_mhz MHz}) is shown for comparison: it undercounts on this kind of machine (README, Benchmarks)"
note "exec to first initialiser: the same stamp under jdryad (--debug=files): everything before the first initialiser (launcher, server or JVM, agent, link)"
note "lazy first call: tests/bench/lazy/first_calls.c; 'at start-up' calls right away (cold, mostly before the JVM has prepared the fast path's answers: a round trip each; warm, the server's JIT-compiled code prepares them in time for most), 'after ${prepare_ms} ms' sleeps first (the fast path's prepared tables); the bound-call row is the same program's second pass"
[ -n "$warm_ok" ] && note "wall, warm: JDRYAD_SERVER=on with a server started before the rounds (and each program run 5 times under it first): the launcher, the native client and the agent per run, no JVM; the glibc column is the cold rows' native run"
[ -n "$warm_ok" ] && [ -x "$front" ] && note "wall, warm, front: the same through the static front $front (the client's session in the front's process, no bash)"
note "peak RSS: VmHWM of the program's process at its exit (benchtool hwm, ptrace exit events): under jdryad the agent process the program runs in; the JVM's own RSS is not counted"
echo
for n in "${notes[@]}"; do echo "* $n"; done
