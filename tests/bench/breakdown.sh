#!/usr/bin/env bash
# Where a cold `jdryad run /usr/bin/true` spends its time. Usage: tests/bench/breakdown.sh [ROUNDS]
# (also tests/bench/run.sh --breakdown [ROUNDS]); medians of ROUNDS (default 5) interleaved rounds.
#
# Two kinds of numbers:
#  * whole runs, untraced: the program natively, `jdryad run`, a JVM hello world with the
#    launcher's JVM flags, the ./jdryad launcher alone (JDRYAD_SHOW_JVM: it prints the JVM command
#    it would exec, and exits),
#    the JVM and CLI alone (`jdryad --help`), and JNA's start-up in a JVM of its own;
#  * one time line per round: benchtool trace (ptrace exec/exit events: when the JVM, the agent
#    and ldconfig start and end) + the JVM's -Xlog:class+load uptimes (JAVA_TOOL_OPTIONS) +
#    jdryad's --stats phases. Tracing and logging slow the run somewhat: its total is shown too.
set -euo pipefail
rounds=${1:-5}
source "$(dirname "$0")/common.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/jdryad-breakdown.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$jdryad" --help >/dev/null
build_benchtool "$work"
bt="$work/benchtool"
jar="$root/target/jdryad-cli.jar"
[ -z "${JDRYAD_BUILD_DIR:-}" ] || jar="$JDRYAD_BUILD_DIR/jdryad-cli.jar"
# The launcher's JVM and flags (JDRYAD_SHOW_JVM), and its class cache: an AOT cache (JDK 25+) or
# a CDS archive (JDK 17); JVMs started here with another class path get the flags alone.
mapfile -t launcher_jvm < <(JDRYAD_SHOW_JVM=1 "$jdryad")
java_bin=${launcher_jvm[0]}
flags=(); cds=()
for f in "${launcher_jvm[@]:1}"; do
  case $f in -XX:AOTCache=* | -XX:SharedArchiveFile=*) cds+=("$f");; *) flags+=("$f");; esac
done
# An AOT cache loads and links its classes when the JVM starts: their load times then tell
# nothing of when the code ran, so the time line's class-load rows are left out.
aot=; [[ ${cds[0]:-} == -XX:AOTCache=* ]] && aot=1

# A JVM hello world, and JNA's start-up as ProcessVm triggers it (Native.load("c")).
cat >"$work/Hello.java" <<'EOF'
public class Hello { public static void main(String[] a) { System.out.println("hello"); } }
EOF
cat >"$work/JnaCost.java" <<'EOF'
public class JnaCost {
    public interface C extends com.sun.jna.Library { int getpid(); }
    public static void main(String[] a) throws Exception {
        long t0 = System.nanoTime();
        Class.forName("com.sun.jna.Native");              // extracts and loads libjnidispatch.so
        long t1 = System.nanoTime();
        C c = com.sun.jna.Native.load("c", C.class);      // NativeLibrary: runs `ldconfig -p`, dlopen
        c.getpid();
        long t2 = System.nanoTime();
        System.out.printf("%.3f %.3f%n", (t1 - t0) / 1e6, (t2 - t1) / 1e6);
    }
}
EOF
javac -d "$work" -cp "$jar" "$work/Hello.java" "$work/JnaCost.java"
mkdir -p "$work/jna"
( cd "$work/jna" && jar xf "$jar" com/sun/jna/linux-x86-64/libjnidispatch.so \
  && mv com/sun/jna/linux-x86-64/libjnidispatch.so . )   # the JDK's jar tool: unzip may be absent

samples="$work/samples"; mkdir -p "$samples"
add() { echo "$2" >>"$samples/$1"; }
med() { [ -s "$samples/$1" ] && median <"$samples/$1" || echo -; }
wall() { local key=$1; shift; local ns st; read -r ns st < <("$bt" time "$@"); add "$key" "$(awk -v n="$ns" 'BEGIN{printf "%.3f", n/1e6}')"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 1; r <= rounds; r++)); do
  echo "round $r/$rounds ..." >&2
  wall native /usr/bin/true
  wall jdryad "$jdryad" run /usr/bin/true
  wall hello "$java_bin" "${flags[@]}" -cp "$work" Hello
  wall launcher env JDRYAD_SHOW_JVM=1 "$jdryad" run /usr/bin/true
  wall cli "$jdryad" --help
  read -r a b < <("$java_bin" "${flags[@]}" -cp "$jar:$work" JnaCost); add jna.extract "$a"; add jna.ldconfig "$b"
  read -r a b < <("$java_bin" "${flags[@]}" -Djna.boot.library.path="$work/jna" -cp "$jar:$work" JnaCost); add jna.extract.bootpath "$a"

  # the time line of one traced run
  rm -f "$work/cl.log"
  JAVA_TOOL_OPTIONS="-Xlog:class+load=info:file=$work/cl.log:uptimenanos" \
    "$bt" trace -e "$jdryad" run --stats /usr/bin/true >"$work/trace" 2>"$work/stats" || true
  awk -v dir="$samples" -v cl="$work/cl.log" -v stats="$work/stats" -v aot="$aot" '
    function up(cls,   line, v) {   # uptime (ms) of the first load of class cls
      while ((getline line < cl) > 0) if (index(line, "] " cls " source:")) { v = substr(line, 2, index(line, "ns]") - 2) / 1e6; break }
      close(cl); return v }
    $3 == "exec" && $4 ~ /\/bin\/java$/ && !java { java = $1 }
    $3 == "exec" && $4 ~ /jdryad-agent/        { aexec = $1 }
    $3 == "exit" && $4 ~ /jdryad-agent/        { aexit = $1 }
    $3 == "exec" && $4 ~ /ldconfig/            { lstart = $1 }
    $3 == "exit" && $4 ~ /ldconfig/            { lend = $1 }
    $3 == "end"                                { end = $1 }
    END {
      main = up("org.jdryad.cli.Main"); pr = up("org.jdryad.run.ProgramRunner")
      while ((getline line < stats) > 0) if (line ~ /time: total/) {
        n = split(line, w, /[ (,]+/)
        for (i = 1; i <= n; i++) { if (w[i] == "total") tot = w[i+1]; if (w[i] == "agent") sa = w[i+1];
                                   if (w[i] == "link") lk = w[i+1]; if (w[i] == "initialisers") ini = w[i+1] } }
      print java > (dir "/t.launcher"); print aexec - java > (dir "/t.tojvmagent")
      if (!aot) { print main > (dir "/t.jvm"); print pr - main > (dir "/t.cli") }
      print aexit - aexec > (dir "/t.agent"); print end - aexit > (dir "/t.exit"); print end > (dir "/t.total")
      if (lend) print lend - lstart > (dir "/t.ldconfig")
      print sa > (dir "/s.startagent"); print lk > (dir "/s.link"); print ini > (dir "/s.init"); print tot > (dir "/s.total")
    }' "$work/trace"
  grep -c ' source: ' "$work/cl.log" >>"$samples/c.all" || true
  grep -c 'source: shared objects file' "$work/cl.log" >>"$samples/c.cds" || true
  grep -c 'source: file:.*\.jar' "$work/cl.log" >>"$samples/c.jar" || true
  grep 'source: file:.*\.jar' "$work/cl.log" | grep -c ' picocli\.' >>"$samples/c.picocli" || true
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

line() { printf '%-62s %10s\n' "$1" "$2"; }
f1() { awk -v v="$1" 'BEGIN{ if (v == "-") print "-"; else printf "%.1f", v }'; }
echo
echo "cold start of jdryad run /usr/bin/true: medians of $rounds rounds, $(nproc) cores, load average $load_before before, $load_after after"
line "whole runs, untraced" "ms"
line "  /usr/bin/true natively" "$(f1 "$(med native)")"
line "  jdryad run /usr/bin/true" "$(f1 "$(med jdryad)")"
line "  JVM hello world, the launcher's JVM flags" "$(f1 "$(med hello)")"
line "  ./jdryad launcher script alone (JDRYAD_SHOW_JVM: no java)" "$(f1 "$(med launcher)")"
line "  jdryad --help (launcher + JVM + class cache + picocli, no run)" "$(f1 "$(med cli)")"
line "  JNA: load com.sun.jna.Native (extracts libjnidispatch.so)" "$(f1 "$(med jna.extract)")"
line "    the same with -Djna.boot.library.path=<extracted once>" "$(f1 "$(med jna.extract.bootpath)")"
line "  JNA: Native.load(\"c\") (NativeLibrary runs ldconfig -p)" "$(f1 "$(med jna.ldconfig)")"
line "time line of one traced run (ptrace + -Xlog:class+load)" "ms"
line "  launcher script until it execs java" "$(f1 "$(med t.launcher)")"
line "  JVM start until the agent's exec (JVM, CLI, search, spawn)" "$(f1 "$(med t.tojvmagent)")"
line "    of which until org.jdryad.cli.Main is loaded" "$(f1 "$(med t.jvm)")"
line "    of which picocli: Main until ProgramRunner is loaded" "$(f1 "$(med t.cli)")"
line "  the agent's exec until it ends (connect, link, init, program)" "$(f1 "$(med t.agent)")"
line "    of which link (--stats)" "$(f1 "$(med s.link)")"
line "    of which initialisers (--stats)" "$(f1 "$(med s.init)")"
line "  after the program: history, JVM shutdown, until jdryad exits" "$(f1 "$(med t.exit)")"
line "  total of the traced run" "$(f1 "$(med t.total)")"
line "  'start agent' (--stats: search, agent binary, spawn, HELLO)" "$(f1 "$(med s.startagent)")"
line "  of which ldconfig -p (JNA's NativeLibrary, exec to exit)" "$(f1 "$(med t.ldconfig)")"
[ -z "$aot" ] || echo "  (class-load rows: '-' with an AOT cache, which loads its classes when the JVM starts)"
line "classes loaded by the JVM (traced run)" "count"
line "  all" "$(med c.all)"
line "  from the class cache (${cds[0]:-none}, and the JDK's)" "$(med c.cds)"
line "  parsed from the jar (not in the archive)" "$(med c.jar)"
line "    of which picocli (its Java 5 class files are rewritten at build for the AOT cache)" "$(med c.picocli)"
