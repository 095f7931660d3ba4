#!/usr/bin/env python3
"""Differential sweep: every dynamically linked program in a directory, natively and under jdryad.

Why: the repository's fixtures and corpus cover chosen cases; a sweep over a whole /usr/bin finds
what nobody thought of (it found an STB_GNU_UNIQUE rule in apt's libraries, a dlopen search
order in the JVM's launcher, DT_SYMBOLIC scopes in ICU's). Nothing here runs in `mvn verify`.

    tests/sweep/sweep.py [--dir /usr/bin] [--every K] [--jdryad ./jdryad] CHECK...

CHECK is one of
    output            `PROG --version`: the same stdout, stderr and status
    debug=CATEGORIES  LD_DEBUG=CATEGORIES against `jdryad run --debug=CATEGORIES`: the same lines
                      once the pid is dropped (libs, versions, scopes and reloc are exact; files
                      has addresses, symbols and bindings have lookups jdryad does not repeat)
    bindings          LD_BIND_NOW=1 LD_DEBUG=bindings against `jdryad run --debug=bindings`: the
                      same (referrer, definer, symbol, version) set, host-to-host bindings and
                      ld.so's own allocator lookups left out, as BindingsDifferentialTest does

Programs that do not answer `--version` within 5 s natively are skipped, as are a few that
would wait for input or a terminal. Each check prints one line per program (ok or DIFF with the
first differences) and a summary. jdryad runs warm (JDRYAD_SERVER=on) unless --cold.
"""
import argparse
import glob
import os
import re
import subprocess
import sys
import tempfile

# Programs that would act, wait or take the terminal rather than answer --version.
SKIP = re.compile(r"^(gdb.*|.*-server|reboot|halt|poweroff|shutdown|init|telinit|runlevel|systemctl|login|su|sudo"
                  r"|passwd|chsh|chfn|newgrp|sg|wall|write|mesg|agetty|sulogin|nologin|kill|killall|pkill|vi|vim.*"
                  r"|nano|less|more|top|htop|watch|yes|xargs|tee|cat|sleep|timeout|flock|nohup|setsid|unshare"
                  r"|nsenter|chroot|chrt|taskset|ionice|nice|stdbuf|env|strace|ltrace|valgrind.*|perf.*|docker.*"
                  r"|containerd.*|runc|ctr|script|scriptlive|scriptreplay|screen|tmux|ssh-agent|dbus.*|systemd.*"
                  r"|journalctl|loginctl|busctl|chromium.*|Xvfb|X.*|.*sh|python.*|perl.*|node.*|java.*|jshell|psql"
                  r"|redis.*|mysql.*|memcached|nginx|sqlite3|gpg-agent|gpgconf|dirmngr|keyboxd|pager|sensible-.*"
                  r"|editor|ex|view|rview|rvim|run-parts)$")
BINDING = re.compile(r"\d+:\s+binding file (.*) \[0\] to (.*) \[0\]: \w+ symbol `(.*)'(?: \[(.*)\])?$")
PID = re.compile(r"^ *(\d+):", re.M)
HOST_SONAMES = re.compile(r'"([a-z0-9_.+-]+\.so[.0-9]*)"')
RTLD_MALLOC = {"malloc", "calloc", "realloc", "free"}


def host_sonames(root):
    """glibc's own objects as jdryad names them (search/HostObjects.java), plus ld.so and the vDSO."""
    src = open(os.path.join(root, "linker/src/main/java/org/jdryad/search/HostObjects.java")).read()
    return set(HOST_SONAMES.findall(src)) | {"ld-linux-x86-64.so.2", "linux-vdso.so.1"}


def is_dynamic(path):
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return head[:4] == b"\x7fELF" and b"/lib64/ld-linux-x86-64.so.2" in head


def run(cmd, env=None, timeout=30):
    try:
        r = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
        return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return None, "", ""


def native_debug(prog, variables):
    """The program's own LD_DEBUG lines (LD_DEBUG_OUTPUT: one file per process; env sets the
    variables for the program only, not for `timeout`)."""
    with tempfile.TemporaryDirectory() as d:
        run(["timeout", "10", "env"] + ["%s=%s" % kv for kv in variables.items()]
            + ["LD_DEBUG_OUTPUT=" + d + "/out", prog, "--version"], timeout=15)
        files = sorted(glob.glob(d + "/out.*"), key=os.path.getmtime)
        return open(files[0], errors="replace").read() if files else ""


def strip_pid(text):
    return [PID.sub("", l, count=1) for l in text.split("\n") if PID.match(l)]


def bindings(text, prog, hosts):
    out = set()
    for line in text.split("\n"):
        m = BINDING.search(line)
        if not m:
            continue
        frm, to, sym, ver = m.group(1), m.group(2), m.group(3), m.group(4) or ""
        if os.path.basename(frm) in hosts and os.path.basename(to) in hosts:
            continue
        out.add((frm, to, sym, ver))
    return out


def is_secure(prog):
    """Set-user-ID or set-group-ID for another owner or group: glibc ignores LD_DEBUG then."""
    st = os.stat(prog)
    return bool(st.st_mode & 0o4000 and st.st_uid != os.geteuid() or st.st_mode & 0o2000 and st.st_gid != os.getegid())


def check(kind, prog, jdryad, jenv, hosts):
    """None when jdryad and glibc agree, else what differs (a short text)."""
    if kind != "output" and is_secure(prog):
        return None  # natively LD_DEBUG says nothing; jdryad's --debug does (not comparable)
    if kind == "output":
        n = run(["timeout", "5", prog, "--version"], timeout=10)
        j = run([jdryad, "run", prog, "--version"], env=jenv)
        return None if n == j else "native %r, jdryad %r" % (n[0], j[0]) + (" (output differs)" if n[0] == j[0] else "")
    if kind.startswith("debug="):
        cats = kind[len("debug="):]
        n = strip_pid(native_debug(prog, {"LD_DEBUG": cats}))
        with tempfile.TemporaryDirectory() as d:
            # to a file as glibc's: a program that closes its stderr at exit (coreutils) loses no line
            run([jdryad, "run", "--debug=" + cats, "--debug-output", d + "/out", prog, "--version"], env=jenv)
            files = sorted(glob.glob(d + "/out.*"), key=os.path.getmtime)
            j = strip_pid(open(files[0], errors="replace").read() if files else "")
        if n == j:
            return None
        i = next((k for k in range(min(len(n), len(j))) if n[k] != j[k]), min(len(n), len(j)))
        return "line %d: native %r, jdryad %r" % (i + 1, n[i] if i < len(n) else None, j[i] if i < len(j) else None)
    if kind == "bindings":
        g = bindings(native_debug(prog, {"LD_BIND_NOW": "1", "LD_DEBUG": "bindings"}), prog, hosts)
        env = dict(jenv, LD_BIND_NOW="1")
        j = bindings(run([jdryad, "run", "--debug=bindings", prog, "--version"], env=env)[2], prog, hosts)
        g = {b for b in g if not (b[0] == prog and b[2] in RTLD_MALLOC and b not in j)}
        if g == j:
            return None
        return "only glibc %s; only jdryad %s" % (sorted(g - j)[:3], sorted(j - g)[:3])
    raise SystemExit("sweep: unknown check " + kind)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checks", nargs="+", metavar="CHECK")
    ap.add_argument("--dir", default="/usr/bin")
    ap.add_argument("--every", type=int, default=1, help="only every K-th program (a sample)")
    ap.add_argument("--jdryad", default=os.path.join(root, "jdryad"))
    ap.add_argument("--cold", action="store_true", help="JDRYAD_SERVER=off (a JVM per run)")
    a = ap.parse_args()
    hosts = host_sonames(root)
    jenv = dict(os.environ, JDRYAD_SERVER="off" if a.cold else "on")
    progs = [p for p in sorted(glob.glob(os.path.join(a.dir, "*")))
             if os.path.isfile(p) and os.access(p, os.X_OK) and not SKIP.match(os.path.basename(p)) and is_dynamic(p)]
    answering = [p for p in progs if run(["timeout", "5", p, "--version"], timeout=10)[0] not in (None, 124)]
    sample = answering[::max(1, a.every)]
    for kind in a.checks:
        bad = 0
        for p in sample:
            why = check(kind, p, a.jdryad, jenv, hosts)
            bad += why is not None
            print(("ok   %s %s" % (kind, p)) if why is None else ("DIFF %s %s: %s" % (kind, p, why)), flush=True)
        print("%s: %d programs, %d the same, %d differ" % (kind, len(sample), len(sample) - bad, bad), flush=True)


if __name__ == "__main__":
    sys.exit(main())
